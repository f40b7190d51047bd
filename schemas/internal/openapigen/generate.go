package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
)

const (
	// envelopeFile is the schema every event schema extends (allOf).
	envelopeFile = "envelope.v1.json"
	localPrefix  = "#/components/schemas/"
	// optionalKey lists the envelope fields the server fills in for an
	// endpoint, so that a request schema does not demand them.
	optionalKey = "x-reftrack-optional"
)

// generator turns the hand-written template into a self-contained OpenAPI
// document. A component of the template whose "$ref" names an event JSON
// Schema (by $id, optionally with a JSON pointer fragment) is replaced by
// that schema, translated to what OpenAPI tools read:
//   - an event schema (allOf the envelope) becomes one flat object: the
//     envelope's properties narrowed by the event's, so generators need not
//     merge allOf with overriding siblings;
//   - const becomes a one-value enum, $schema and $id go;
//   - a sub-schema that another component names becomes a local $ref, so a
//     generated client has one type for it (ReferralStatus, Referrer…).
//
// Outside components, a $ref to a named sub-schema becomes a local $ref and
// any other fragment is copied in place. Nothing may point outside the
// document afterwards: the generator fails instead.
type generator struct {
	base  string
	files fs.FS
	docs  map[string]any    // parsed schema files, by file name
	names map[string]string // "file#pointer" -> component name
}

// Generate builds the OpenAPI document from its template and the JSON
// Schema files whose $id starts with base.
func Generate(template []byte, files fs.FS, base string) ([]byte, error) {
	doc, err := parse(template)
	if err != nil {
		return nil, fmt.Errorf("parse the template: %w", err)
	}
	root, ok := doc.(*object)
	if !ok {
		return nil, errors.New("the template is not a JSON object")
	}
	comps, err := componentSchemas(root)
	if err != nil {
		return nil, err
	}
	g := &generator{base: base, files: files, docs: map[string]any{}, names: map[string]string{}}
	if err := g.nameFragments(comps); err != nil {
		return nil, err
	}
	for _, name := range comps.keys {
		def, _ := comps.vals[name].(*object)
		if def == nil || !g.isExternal(def) {
			continue
		}
		s, err := g.component(def)
		if err != nil {
			return nil, fmt.Errorf("component %s: %w", name, err)
		}
		comps.set(name, s)
	}
	out, err := g.inline(root)
	if err != nil {
		return nil, err
	}
	if err := checkRefs(out); err != nil {
		return nil, err
	}
	return encode(out)
}

func componentSchemas(root *object) (*object, error) {
	c, _ := root.get("components")
	comps, _ := c.(*object)
	if comps == nil {
		return nil, errors.New("the template has no components")
	}
	s, _ := comps.get("schemas")
	schemas, _ := s.(*object)
	if schemas == nil {
		return nil, errors.New("the template has no components.schemas")
	}
	return schemas, nil
}

// nameFragments records which schema file locations a component stands
// for, so that copies elsewhere become references to it.
func (g *generator) nameFragments(comps *object) error {
	for _, name := range comps.keys {
		def, _ := comps.vals[name].(*object)
		if def == nil || !g.isExternal(def) {
			continue
		}
		if _, derived := def.get(optionalKey); derived {
			continue // a request variant, not the schema itself
		}
		file, ptr := g.split(refOf(def))
		key := file + "#" + ptr
		if prev, dup := g.names[key]; dup {
			return fmt.Errorf("components %s and %s both stand for %s", prev, name, key)
		}
		g.names[key] = name
	}
	return nil
}

// component expands one template component that names a schema file.
func (g *generator) component(def *object) (*object, error) {
	file, ptr := g.split(refOf(def))
	optional, err := stringList(def, optionalKey)
	if err != nil {
		return nil, err
	}
	node, err := g.lookup(file, ptr)
	if err != nil {
		return nil, err
	}
	var out *object
	if ptr == "" && isEvent(node) {
		out, err = g.flatten(file, optional)
	} else if len(optional) > 0 {
		return nil, fmt.Errorf("%s applies to whole event schemas only", optionalKey)
	} else {
		var s any
		s, err = g.schema(file, ptr, node, true)
		out, _ = s.(*object)
		if err == nil && out == nil {
			err = fmt.Errorf("%s#%s is not a schema object", file, ptr)
		}
	}
	if err != nil {
		return nil, err
	}
	merge(out, def)
	return out, nil
}

// merge copies the template's own keywords (description, title…) over the
// generated schema; a description is put before what was generated.
func merge(out, def *object) {
	for _, k := range def.keys {
		if k == "$ref" || k == optionalKey {
			continue
		}
		v := def.vals[k]
		if prev, ok := out.get(k); ok && k == "description" {
			v = fmt.Sprintf("%v\n\n%v", v, prev)
		}
		out.set(k, v)
	}
}

func isEvent(node any) bool {
	o, _ := node.(*object)
	if o == nil {
		return false
	}
	_, ok := o.get("allOf")
	return ok
}

// flatten merges an event schema with the envelope it extends. It refuses
// keywords it does not know how to merge rather than drop a constraint.
func (g *generator) flatten(file string, optional []string) (*object, error) {
	ev, err := g.objectAt(file, "")
	if err != nil {
		return nil, err
	}
	env, err := g.objectAt(envelopeFile, "")
	if err != nil {
		return nil, err
	}
	if err := onlyKeys(ev, "$schema", "$id", "title", "allOf", "properties"); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if err := onlyKeys(env, "$schema", "$id", "title", "type", "required", "properties", "additionalProperties"); err != nil {
		return nil, fmt.Errorf("%s: %w", envelopeFile, err)
	}
	allOf, _ := ev.get("allOf")
	if arr, _ := allOf.([]any); len(arr) != 1 || refOf(arr[0]) != envelopeFile {
		return nil, fmt.Errorf("%s: allOf must be exactly [{$ref: %s}]", file, envelopeFile)
	}
	envProps, _ := env.vals["properties"].(*object)
	evProps, _ := ev.vals["properties"].(*object)
	if envProps == nil || evProps == nil {
		return nil, fmt.Errorf("%s or %s has no properties", file, envelopeFile)
	}
	props := newObject()
	for _, k := range envProps.keys {
		from, node := envelopeFile, envProps.vals[k]
		if v, ok := evProps.get(k); ok {
			// The event's property narrows the envelope's (a const
			// event_type, a typed payload): both apply, and the narrower
			// one implies the wider.
			from, node = file, v
		}
		s, err := g.schema(from, "/properties/"+escape(k), node, false)
		if err != nil {
			return nil, err
		}
		props.set(k, s)
	}
	for _, k := range evProps.keys {
		if _, ok := envProps.get(k); !ok {
			return nil, fmt.Errorf("%s: property %s is not in the envelope, which allows no others", file, k)
		}
	}
	required, err := without(env.vals["required"], optional)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	out := newObject()
	out.set("title", ev.vals["title"])
	out.set("description", fmt.Sprintf("Bundled from the JSON Schemas %s and %s (schemas/jsonschema): the envelope's properties, narrowed by the event's.", g.base+file, g.base+envelopeFile))
	out.set("type", "object")
	out.set("required", required)
	out.set("properties", props)
	out.set("additionalProperties", env.vals["additionalProperties"])
	return out, nil
}

// without returns the required list minus the fields the server fills in;
// naming a field that is not required is a template mistake.
func without(required any, optional []string) ([]any, error) {
	list, _ := required.([]any)
	out := []any{}
	for _, r := range list {
		if !slices.Contains(optional, r.(string)) {
			out = append(out, r)
		}
	}
	for _, o := range optional {
		if !slices.Contains(list, any(o)) {
			return nil, fmt.Errorf("%s names %s, which the envelope does not require", optionalKey, o)
		}
	}
	return out, nil
}

// Keywords whose value is a schema, a list of schemas, or a map of schemas;
// everything else (enum, required, pattern…) is copied as it is.
var (
	schemaKeywords = []string{"items", "additionalProperties", "not", "if", "then", "else", "contains",
		"propertyNames", "unevaluatedProperties", "unevaluatedItems"}
	schemaListKeywords = []string{"allOf", "anyOf", "oneOf", "prefixItems"}
	schemaMapKeywords  = []string{"properties", "patternProperties", "$defs", "dependentSchemas"}
)

// schema translates the schema at file#ptr. root is false for a schema
// nested in another, which becomes a $ref when a component names it.
func (g *generator) schema(file, ptr string, node any, root bool) (any, error) {
	o, ok := node.(*object)
	if !ok {
		return node, nil // true / false schemas
	}
	if name, named := g.names[file+"#"+ptr]; named && !root {
		ref := newObject()
		ref.set("$ref", localPrefix+name)
		return ref, nil
	}
	out := newObject()
	for _, k := range o.keys {
		v, at := o.vals[k], ptr+"/"+escape(k)
		var err error
		switch {
		case k == "$schema" || k == "$id":
			continue
		case k == "$ref":
			return nil, fmt.Errorf("%s#%s: $ref %v inside a schema is not supported; name its target in components", file, ptr, v)
		case k == "const":
			out.set("enum", []any{v}) // OpenAPI 3.0 tools know enum, not const
			continue
		case slices.Contains(schemaKeywords, k):
			v, err = g.schema(file, at, v, false)
		case slices.Contains(schemaListKeywords, k):
			v, err = g.schemaList(file, at, v)
		case slices.Contains(schemaMapKeywords, k):
			v, err = g.schemaMap(file, at, v)
		}
		if err != nil {
			return nil, err
		}
		out.set(k, v)
	}
	return typeEnum(out), nil
}

// typeEnum states the type an enum implies: JSON Schema needs no "type"
// next to an enum of strings, but generators make an enum without one an
// untyped value (interface{}) instead of a string type.
func typeEnum(o *object) *object {
	e, ok := o.get("enum")
	values, _ := e.([]any)
	if _, typed := o.get("type"); !ok || typed || len(values) == 0 {
		return o
	}
	t := jsonType(values[0])
	for _, v := range values[1:] {
		if jsonType(v) != t {
			return o // a mixed enum has no one type
		}
	}
	out := newObject()
	for _, k := range o.keys {
		if k == "enum" {
			out.set("type", t)
		}
		out.set(k, o.vals[k])
	}
	return out
}

func jsonType(v any) string {
	switch v := v.(type) {
	case string:
		return "string"
	case bool:
		return "boolean"
	case json.Number:
		if _, err := v.Int64(); err == nil {
			return "integer"
		}
		return "number"
	case nil:
		return "null"
	case []any:
		return "array"
	}
	return "object"
}

func (g *generator) schemaList(file, ptr string, v any) (any, error) {
	arr, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s#%s is not an array", file, ptr)
	}
	out := make([]any, len(arr))
	for i, x := range arr {
		s, err := g.schema(file, ptr+"/"+strconv.Itoa(i), x, false)
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}

func (g *generator) schemaMap(file, ptr string, v any) (any, error) {
	m, ok := v.(*object)
	if !ok {
		return nil, fmt.Errorf("%s#%s is not an object", file, ptr)
	}
	out := newObject()
	for _, k := range m.keys {
		s, err := g.schema(file, ptr+"/"+escape(k), m.vals[k], false)
		if err != nil {
			return nil, err
		}
		out.set(k, s)
	}
	return out, nil
}

// inline replaces, outside the expanded components, every $ref to a
// schema file: by a local $ref when a component names the target, else by
// a copy of it.
func (g *generator) inline(v any) (any, error) {
	switch v := v.(type) {
	case *object:
		if g.isExternal(v) {
			return g.inlineRef(v)
		}
		for _, k := range v.keys {
			x, err := g.inline(v.vals[k])
			if err != nil {
				return nil, err
			}
			v.vals[k] = x
		}
	case []any:
		for i, x := range v {
			y, err := g.inline(x)
			if err != nil {
				return nil, err
			}
			v[i] = y
		}
	}
	return v, nil
}

func (g *generator) inlineRef(v *object) (any, error) {
	file, ptr := g.split(refOf(v))
	if name, ok := g.names[file+"#"+ptr]; ok {
		v.set("$ref", localPrefix+name)
		return v, nil
	}
	node, err := g.lookup(file, ptr)
	if err != nil {
		return nil, err
	}
	if ptr == "" && isEvent(node) {
		return nil, fmt.Errorf("$ref %s: name a whole event schema in components.schemas", refOf(v))
	}
	s, err := g.schema(file, ptr, node, true)
	if err != nil {
		return nil, err
	}
	out, ok := s.(*object)
	if !ok {
		return nil, fmt.Errorf("$ref %s is not a schema object", refOf(v))
	}
	merge(out, v)
	return out, nil
}

func (g *generator) isExternal(o *object) bool {
	return strings.HasPrefix(refOf(o), g.base)
}

func (g *generator) split(ref string) (file, ptr string) {
	file, ptr, _ = strings.Cut(strings.TrimPrefix(ref, g.base), "#")
	return file, ptr
}

func (g *generator) objectAt(file, ptr string) (*object, error) {
	node, err := g.lookup(file, ptr)
	if err != nil {
		return nil, err
	}
	o, ok := node.(*object)
	if !ok {
		return nil, fmt.Errorf("%s#%s is not an object", file, ptr)
	}
	return o, nil
}

// lookup resolves a JSON pointer in a schema file.
func (g *generator) lookup(file, ptr string) (any, error) {
	doc, ok := g.docs[file]
	if !ok {
		b, err := fs.ReadFile(g.files, file)
		if err != nil {
			return nil, fmt.Errorf("read schema %s: %w", file, err)
		}
		if doc, err = parse(b); err != nil {
			return nil, fmt.Errorf("parse schema %s: %w", file, err)
		}
		g.docs[file] = doc
	}
	node, err := resolve(doc, ptr)
	if err != nil {
		return nil, fmt.Errorf("%s#%s: %w", file, ptr, err)
	}
	return node, nil
}

// resolve follows an RFC 6901 JSON pointer through objects and arrays.
func resolve(doc any, ptr string) (any, error) {
	if ptr == "" {
		return doc, nil
	}
	if !strings.HasPrefix(ptr, "/") {
		return nil, fmt.Errorf("pointer %q does not start with /", ptr)
	}
	node := doc
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		switch n := node.(type) {
		case *object:
			v, ok := n.get(tok)
			if !ok {
				return nil, fmt.Errorf("no member %q", tok)
			}
			node = v
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(n) {
				return nil, fmt.Errorf("no element %q", tok)
			}
			node = n[i]
		default:
			return nil, fmt.Errorf("%q below a scalar", tok)
		}
	}
	return node, nil
}

// checkRefs makes sure the document is self-contained: every $ref is local
// and names something that exists.
func checkRefs(doc any) error {
	var errs []error
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case *object:
			if ref := refOf(v); ref != "" {
				if !strings.HasPrefix(ref, "#/") {
					errs = append(errs, fmt.Errorf("$ref %s leaves the document", ref))
				} else if _, err := resolve(doc, ref[1:]); err != nil {
					errs = append(errs, fmt.Errorf("$ref %s: %w", ref, err))
				}
			}
			for _, k := range v.keys {
				walk(v.vals[k])
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
	return errors.Join(errs...)
}

func refOf(v any) string {
	o, _ := v.(*object)
	if o == nil {
		return ""
	}
	s, _ := o.vals["$ref"].(string)
	return s
}

func stringList(o *object, key string) ([]string, error) {
	v, ok := o.get(key)
	if !ok {
		return nil, nil
	}
	arr, _ := v.([]any)
	out := make([]string, 0, len(arr))
	for _, x := range arr {
		s, ok := x.(string)
		if !ok {
			return nil, fmt.Errorf("%s must be a list of strings", key)
		}
		out = append(out, s)
	}
	return out, nil
}

func onlyKeys(o *object, allowed ...string) error {
	for _, k := range o.keys {
		if !slices.Contains(allowed, k) {
			return fmt.Errorf("keyword %s is not supported when flattening", k)
		}
	}
	return nil
}

func escape(tok string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(tok)
}
