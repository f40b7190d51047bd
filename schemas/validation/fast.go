package validation

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

// jsonschema/v5 was 70 % of validate's CPU, most of it allocation (scope
// slices, evaluated-property maps, big.Rat for every number). checker is
// the same schema compiled once more, from v5's own compiled form (so $ref
// resolution, the folding of inline.go and the format functions are v5's),
// into a plain tree that judges a parsed event without allocating.
//
// It understands only the keywords it implements exactly; compile refuses
// any other, so a schema that grows a new construct stops the process at
// start instead of being judged by guesswork. TestFastAgrees and
// FuzzFastAgrees hold its verdicts to v5's.
type checker struct {
	always   int8 // 0: judge; 1: every value passes; -1: none does
	types    uint8
	constant []jval // zero or one
	enum     []jval
	format   func(any) bool
	// object
	required           []string
	props              map[string]*checker
	additional         *checker // nil: any additional property passes
	minProps, maxProps int
	// array
	items              *checker
	minItems, maxItems int
	// string
	minLen, maxLen int
	pattern        *regexp.Regexp
	// integer (numbers are plain integers by the time they get here)
	min, max []int64 // zero or one each; exclusive bounds are folded in
	// applicators
	allOf, anyOf, oneOf []*checker
	not                 *checker
	ifc, then, els      *checker
}

const (
	typeNull uint8 = 1 << iota
	typeBool
	typeNumber
	typeInteger
	typeString
	typeArray
	typeObject
)

var typeBits = map[string]uint8{"null": typeNull, "boolean": typeBool, "number": typeNumber,
	"integer": typeInteger, "string": typeString, "array": typeArray, "object": typeObject}

// jval is a const or enum value: a string, a plain integer, a bool or null.
type jval struct {
	kind  kind
	s     string
	n     int64
	truth bool
}

type compiler struct {
	done map[*jsonschema.Schema]*checker
}

func newCompiler() *compiler { return &compiler{done: map[*jsonschema.Schema]*checker{}} }

// errUnsupported names a schema construct the fast checker does not judge.
var errUnsupported = errors.New("not supported by the fast checker")

func (cc *compiler) compile(s *jsonschema.Schema) (*checker, error) {
	if s == nil {
		return nil, nil
	}
	if c, ok := cc.done[s]; ok {
		return c, nil // shared or recursive: one checker per schema
	}
	c := &checker{minProps: -1, maxProps: -1, minItems: -1, maxItems: -1, minLen: -1, maxLen: -1}
	cc.done[s] = c
	if err := refuse(s); err != nil {
		return nil, fmt.Errorf("%s: %w", s.Location, err)
	}
	if s.Always != nil {
		c.always = -1
		if *s.Always {
			c.always = 1
		}
		return c, nil
	}
	for _, t := range s.Types {
		c.types |= typeBits[t]
	}
	if s.Format != "" {
		f, ok := jsonschema.Formats[s.Format]
		if !ok {
			return nil, fmt.Errorf("%s: format %q: %w", s.Location, s.Format, errUnsupported)
		}
		c.format = f
	}
	var err error
	if c.constant, err = jvals(s.Constant, s.Location); err != nil {
		return nil, err
	}
	if c.enum, err = jvals(s.Enum, s.Location); err != nil {
		return nil, err
	}
	c.required, c.minProps, c.maxProps = s.Required, s.MinProperties, s.MaxProperties
	c.minItems, c.maxItems, c.minLen, c.maxLen, c.pattern = s.MinItems, s.MaxItems, s.MinLength, s.MaxLength, s.Pattern
	if err := c.bounds(s); err != nil {
		return nil, err
	}
	if err := cc.applicators(c, s); err != nil {
		return nil, err
	}
	return c, nil
}

// refuse returns an error for the first keyword, in a fixed order, that
// compile does not implement.
func refuse(s *jsonschema.Schema) error {
	_, itemsSchema := s.Items.(*jsonschema.Schema)
	for _, kw := range []struct {
		name string
		on   bool
	}{
		{"$recursiveRef", s.RecursiveRef != nil},
		{"$dynamicRef", s.DynamicRef != nil},
		{"propertyNames", s.PropertyNames != nil},
		{"patternProperties", len(s.PatternProperties) > 0 || s.RegexProperties},
		{"dependencies", len(s.Dependencies) > 0},
		{"dependentRequired", len(s.DependentRequired) > 0},
		{"dependentSchemas", len(s.DependentSchemas) > 0},
		{"unevaluatedProperties", s.UnevaluatedProperties != nil},
		{"unevaluatedItems", s.UnevaluatedItems != nil},
		{"uniqueItems", s.UniqueItems},
		{"prefixItems", len(s.PrefixItems) > 0},
		{"items (array form)", s.Items != nil && !itemsSchema},
		{"additionalItems", s.AdditionalItems != nil},
		{"contains", s.Contains != nil},
		{"multipleOf", s.MultipleOf != nil},
		{"contentEncoding/contentMediaType/contentSchema", s.ContentEncoding != "" || s.ContentMediaType != "" || s.ContentSchema != nil},
		{"an extension keyword", len(s.Extensions) > 0},
	} {
		if kw.on {
			return fmt.Errorf("%s: %w", kw.name, errUnsupported)
		}
	}
	return nil
}

func jvals(vs []any, loc string) ([]jval, error) {
	var out []jval
	for _, v := range vs {
		switch v := v.(type) {
		case nil:
			out = append(out, jval{kind: kindNull})
		case bool:
			out = append(out, jval{kind: kindBool, truth: v})
		case string:
			out = append(out, jval{kind: kindString, s: v})
		case json.Number:
			n, ok := plainInt(v)
			if !ok {
				return nil, fmt.Errorf("%s: const/enum number %s: %w", loc, v, errUnsupported)
			}
			out = append(out, jval{kind: kindNumber, n: n})
		default:
			return nil, fmt.Errorf("%s: const/enum value of type %T: %w", loc, v, errUnsupported)
		}
	}
	return out, nil
}

// plainInt reads a number the way the tree does, so a const matches exactly
// the values the tree can hold.
func plainInt(v json.Number) (int64, bool) {
	var t tree
	t.reset([]byte(v))
	if !t.parse() || t.nodes[0].kind != kindNumber {
		return 0, false
	}
	return t.nodes[0].num, true
}

// bounds folds minimum, exclusiveMinimum, maximum and exclusiveMaximum
// into inclusive integer bounds, exact because every number the checker
// sees is an integer.
func (c *checker) bounds(s *jsonschema.Schema) error {
	lo := []*big.Rat{s.Minimum, s.ExclusiveMinimum}
	hi := []*big.Rat{s.Maximum, s.ExclusiveMaximum}
	for i, r := range lo {
		if r == nil {
			continue
		}
		n, err := boundInt(r, i == 1, true, s.Location)
		if err != nil {
			return err
		}
		if len(c.min) == 0 || n > c.min[0] {
			c.min = []int64{n}
		}
	}
	for i, r := range hi {
		if r == nil {
			continue
		}
		n, err := boundInt(r, i == 1, false, s.Location)
		if err != nil {
			return err
		}
		if len(c.max) == 0 || n < c.max[0] {
			c.max = []int64{n}
		}
	}
	return nil
}

// boundInt turns a bound into the inclusive integer bound it implies.
func boundInt(r *big.Rat, exclusive, lower bool, loc string) (int64, error) {
	limit := big.NewInt(1 << 62)
	q := new(big.Int)
	if lower { // smallest integer ≥ r (or > r)
		q.Div(r.Num(), r.Denom()) // Euclidean: floor for a positive denominator
		if exclusive || !r.IsInt() {
			q.Add(q, big.NewInt(1))
		}
	} else { // largest integer ≤ r (or < r)
		q.Div(r.Num(), r.Denom())
		if exclusive && r.IsInt() {
			q.Sub(q, big.NewInt(1))
		}
	}
	if q.CmpAbs(limit) > 0 {
		return 0, fmt.Errorf("%s: bound %s: %w", loc, r.RatString(), errUnsupported)
	}
	return q.Int64(), nil
}

func (cc *compiler) applicators(c *checker, s *jsonschema.Schema) error {
	var err error
	all := s.AllOf
	if s.Ref != nil { // draft 2020-12: $ref beside other keywords is one more allOf
		all = append([]*jsonschema.Schema{s.Ref}, all...)
	}
	if c.allOf, err = cc.list(all); err != nil {
		return err
	}
	if c.anyOf, err = cc.list(s.AnyOf); err != nil {
		return err
	}
	if c.oneOf, err = cc.list(s.OneOf); err != nil {
		return err
	}
	for _, p := range []struct {
		dst **checker
		src *jsonschema.Schema
	}{{&c.not, s.Not}, {&c.ifc, s.If}, {&c.then, s.Then}, {&c.els, s.Else}, {&c.items, s.Items2020}} {
		if *p.dst, err = cc.compile(p.src); err != nil {
			return err
		}
	}
	if it, ok := s.Items.(*jsonschema.Schema); ok && c.items == nil {
		if c.items, err = cc.compile(it); err != nil {
			return err
		}
	}
	if len(s.Properties) > 0 {
		c.props = map[string]*checker{}
		for name, sub := range s.Properties {
			if c.props[name], err = cc.compile(sub); err != nil {
				return err
			}
		}
	}
	switch a := s.AdditionalProperties.(type) {
	case nil:
	case bool:
		if !a {
			c.additional = &checker{always: -1}
		}
	case *jsonschema.Schema:
		if c.additional, err = cc.compile(a); err != nil {
			return err
		}
	}
	return nil
}

func (cc *compiler) list(ss []*jsonschema.Schema) ([]*checker, error) {
	var out []*checker
	for _, s := range ss {
		c, err := cc.compile(s)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// valid reports whether node i of t satisfies c.
func (c *checker) valid(t *tree, i int32) bool {
	switch c.always {
	case 1:
		return true
	case -1:
		return false
	}
	n := &t.nodes[i]
	if c.types != 0 && !c.typeOK(n.kind) {
		return false
	}
	if len(c.constant) > 0 && !c.constant[0].equals(t, i) {
		return false
	}
	if len(c.enum) > 0 && !c.inEnum(t, i) {
		return false
	}
	var ok bool
	switch n.kind {
	case kindObject:
		ok = c.object(t, i)
	case kindArray:
		ok = c.array(t, i)
	case kindString:
		ok = c.string(t.text(i))
	case kindNumber:
		ok = (len(c.min) == 0 || n.num >= c.min[0]) && (len(c.max) == 0 || n.num <= c.max[0])
	default:
		ok = true
	}
	return ok && c.applied(t, i)
}

func (c *checker) typeOK(k kind) bool {
	switch k {
	case kindNull:
		return c.types&typeNull != 0
	case kindBool:
		return c.types&typeBool != 0
	case kindNumber: // a plain integer is an integer and a number
		return c.types&(typeNumber|typeInteger) != 0
	case kindString:
		return c.types&typeString != 0
	case kindArray:
		return c.types&typeArray != 0
	}
	return c.types&typeObject != 0
}

func (v jval) equals(t *tree, i int32) bool {
	n := &t.nodes[i]
	if n.kind != v.kind {
		return false
	}
	switch v.kind {
	case kindString:
		return t.text(i) == v.s
	case kindNumber:
		return n.num == v.n
	case kindBool:
		return n.truth == v.truth
	}
	return true // null
}

func (c *checker) inEnum(t *tree, i int32) bool {
	for _, v := range c.enum {
		if v.equals(t, i) {
			return true
		}
	}
	return false
}

func (c *checker) string(s string) bool {
	if c.minLen >= 0 || c.maxLen >= 0 {
		n := utf8.RuneCountInString(s)
		if (c.minLen >= 0 && n < c.minLen) || (c.maxLen >= 0 && n > c.maxLen) {
			return false
		}
	}
	if c.pattern != nil && !c.pattern.MatchString(s) {
		return false
	}
	return c.format == nil || c.format(s)
}

func (c *checker) object(t *tree, i int32) bool {
	n := &t.nodes[i]
	if (c.minProps >= 0 && int(n.count) < c.minProps) || (c.maxProps >= 0 && int(n.count) > c.maxProps) {
		return false
	}
	for _, name := range c.required {
		if t.member(i, name) == 0 {
			return false
		}
	}
	for m := n.child; m != 0; m = t.nodes[m].next {
		sub, known := c.props[string(t.name(m))]
		if !known {
			sub = c.additional
		}
		if sub != nil && !sub.valid(t, m) {
			return false
		}
	}
	return true
}

func (c *checker) array(t *tree, i int32) bool {
	n := &t.nodes[i]
	if (c.minItems >= 0 && int(n.count) < c.minItems) || (c.maxItems >= 0 && int(n.count) > c.maxItems) {
		return false
	}
	if c.items == nil {
		return true
	}
	for m := n.child; m != 0; m = t.nodes[m].next {
		if !c.items.valid(t, m) {
			return false
		}
	}
	return true
}

// applied checks allOf ($ref included), anyOf, oneOf, not and if/then/else.
func (c *checker) applied(t *tree, i int32) bool {
	for _, s := range c.allOf {
		if !s.valid(t, i) {
			return false
		}
	}
	if len(c.anyOf) > 0 {
		any := false
		for _, s := range c.anyOf {
			if any = s.valid(t, i); any {
				break
			}
		}
		if !any {
			return false
		}
	}
	if len(c.oneOf) > 0 {
		matched := 0
		for _, s := range c.oneOf {
			if s.valid(t, i) {
				matched++
			}
		}
		if matched != 1 {
			return false
		}
	}
	if c.not != nil && c.not.valid(t, i) {
		return false
	}
	if c.ifc != nil {
		if c.ifc.valid(t, i) {
			return c.then == nil || c.then.valid(t, i)
		}
		return c.els == nil || c.els.valid(t, i)
	}
	return true
}
