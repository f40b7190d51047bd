package contract

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/reftrack/reftrack/internal/testenv"
)

// Issue #12, "every stage unpacks the same boxes": dedupe, attribute,
// commission and sink each decoded the envelope, switched on its
// event_type and decoded the payload. schemas.DecodeEvent now does that
// once, typed; a stage dispatches on the payload's Go type. These tests
// read the stages' source (no test files) so the boxes stay unpacked in
// one place.

// TestStagesDecodeEventsOnce: no stage package decodes into an Envelope,
// decodes an envelope's payload itself, or dispatches on EventType
// strings.
func TestStagesDecodeEventsOnce(t *testing.T) {
	t.Parallel()
	root := testenv.RepoRoot(t)
	for _, stage := range []string{"dedupe", "attribute", "commission", "sink"} {
		fset := token.NewFileSet()
		for _, f := range parseGoFiles(t, fset, filepath.Join(root, stage), false) {
			for _, problem := range unpacking(fset, f) {
				t.Errorf("%s: use schemas.DecodeEvent and switch on the payload's type", problem)
			}
		}
	}
}

// TestPipelineEventsOneJSONLibrary: what the pipeline writes, it reads
// with schemas.Decode (the library BenchmarkJSON chose), never with
// encoding/json; encoding/json stays for input from outside (partner
// bodies, rule, licence and FX files), which ingest and the reference
// loaders decode strictly.
func TestPipelineEventsOneJSONLibrary(t *testing.T) {
	t.Parallel()
	root := testenv.RepoRoot(t)
	events := eventTypeNames(t, filepath.Join(root, "schemas", "event.go"))
	for _, stage := range []string{"validate", "dedupe", "attribute", "commission", "sink"} {
		fset := token.NewFileSet()
		for _, f := range parseGoFiles(t, fset, filepath.Join(root, stage), true) {
			for _, problem := range encodingJSONEventDecodes(fset, f, events) {
				t.Errorf("%s: decode the pipeline's events with schemas.Decode or schemas.DecodeEvent", problem)
			}
		}
	}
}

// TestNoStageRedeclaresAnEventType: a stage that needs a shape schemas
// has uses the schemas type (attribute's Touch was Touchpoint's first six
// fields spelled again: two types for one thing, free to drift apart on
// the wire). A struct whose JSON names are all among one schemas/event.go
// type's (four or more) is such a copy.
func TestNoStageRedeclaresAnEventType(t *testing.T) {
	t.Parallel()
	root := testenv.RepoRoot(t)
	fset := token.NewFileSet()
	events := jsonNamesByType(parseGoFiles(t, fset, filepath.Join(root, "schemas"), false))
	if len(events["Touchpoint"]) < 6 || len(events["Envelope"]) < 8 {
		t.Fatalf("schemas types read as %v: the scan would see nothing", events)
	}
	// ingest is left out: its API client is generated from the OpenAPI
	// document, whose shapes mirror these types by design.
	for _, stage := range []string{"validate", "dedupe", "attribute", "commission", "sink"} {
		files := parseGoFiles(t, fset, filepath.Join(root, stage), true)
		for name, names := range jsonNamesByType(files) {
			if len(names) < 4 {
				continue
			}
			for event, all := range events {
				if subset(names, all) && !allowedCopy[stage+"."+name] {
					t.Errorf("%s.%s has only fields of schemas.%s: use that type (or embed it)", stage, name, event)
				}
			}
		}
	}
}

// allowedCopy are the stage types that mirror a schemas type on purpose.
var allowedCopy = map[string]bool{
	// The envelope of a commission.entry with its payload typed, so each
	// line encodes in one pass (TestOutputsAreTheEnvelopesEncoded holds it
	// to schemas.Envelope's bytes).
	"commission.entryEvent": true,
}

// jsonNamesByType maps each struct type the files declare to the JSON
// names of its fields, those of embedded structs declared in the same
// files included.
func jsonNamesByType(files []*ast.File) map[string]map[string]bool {
	structs := map[string]*ast.StructType{}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			if ts, ok := n.(*ast.TypeSpec); ok {
				if st, ok := ts.Type.(*ast.StructType); ok {
					structs[ts.Name.Name] = st
				}
			}
			return true
		})
	}
	var namesOf func(st *ast.StructType, depth int) map[string]bool
	namesOf = func(st *ast.StructType, depth int) map[string]bool {
		names := map[string]bool{}
		for _, field := range st.Fields.List {
			if len(field.Names) == 0 && depth < 3 {
				if inner := structs[exprString(field.Type)]; inner != nil {
					for n := range namesOf(inner, depth+1) {
						names[n] = true
					}
				}
				continue
			}
			if field.Tag == nil {
				continue
			}
			tag, _ := strconv.Unquote(field.Tag.Value)
			name, _, _ := strings.Cut(reflectTag(tag, "json"), ",")
			if name != "" && name != "-" {
				names[name] = true
			}
		}
		return names
	}
	out := map[string]map[string]bool{}
	for name, st := range structs {
		out[name] = namesOf(st, 0)
	}
	return out
}

// reflectTag is reflect.StructTag.Get, without importing reflect for one
// call.
func reflectTag(tag, key string) string {
	for _, part := range strings.Fields(tag) {
		if k, v, ok := strings.Cut(part, ":"); ok && k == key {
			s, _ := strconv.Unquote(v)
			return s
		}
	}
	return ""
}

func subset(a, b map[string]bool) bool {
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

// parseGoFiles parses the non-test Go files of dir (and, with deep, of
// the folders under it, testdata aside).
func parseGoFiles(t *testing.T, fset *token.FileSet, dir string, deep bool) []*ast.File {
	t.Helper()
	var files []*ast.File
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != dir && (!deep || d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		files = append(files, f)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no Go files under %s", dir)
	}
	return files
}

// unpacking lists where f unpacks an event by hand.
func unpacking(fset *token.FileSet, f *ast.File) []string {
	envelopes := namesOfType(f, func(typ string) bool { return typ == "schemas.Envelope" || typ == "*schemas.Envelope" })
	var out []string
	report := func(n ast.Node, what string) {
		out = append(out, fset.Position(n.Pos()).String()+": "+what)
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			if !isDecodeCall(n) || len(n.Args) < 2 {
				return true
			}
			if isSelectorNamed(n.Args[0], "Payload") {
				report(n, "decodes an envelope's payload itself")
			}
			if envelopes[targetName(n.Args[1])] || isNewEnvelope(n.Args[1]) {
				report(n, "decodes into a schemas.Envelope")
			}
		case *ast.SwitchStmt:
			if n.Tag != nil && isSelectorNamed(n.Tag, "EventType") {
				report(n, "switches on EventType")
			}
		case *ast.BinaryExpr:
			if (n.Op == token.EQL || n.Op == token.NEQ) && (isEventTypeCompare(n.X, n.Y) || isEventTypeCompare(n.Y, n.X)) {
				report(n, "compares EventType with a schemas.Type constant")
			}
		}
		return true
	})
	return out
}

// encodingJSONEventDecodes lists where f decodes an envelope's payload, or
// into a type of schemas/event.go, with encoding/json.
func encodingJSONEventDecodes(fset *token.FileSet, f *ast.File, events map[string]bool) []string {
	jsonName := importName(f, "encoding/json")
	if jsonName == "" {
		return nil
	}
	eventTyped := namesOfType(f, func(typ string) bool {
		for name := range events {
			if strings.Contains(typ, "schemas."+name) {
				return true
			}
		}
		return false
	})
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		var src, dst ast.Expr
		switch {
		case isIdent(sel.X, jsonName) && sel.Sel.Name == "Unmarshal" && len(call.Args) == 2:
			src, dst = call.Args[0], call.Args[1]
		case sel.Sel.Name == "Decode" && len(call.Args) == 1 && isJSONNewDecoder(sel.X, jsonName):
			dst = call.Args[0]
		default:
			return true
		}
		if (src != nil && isSelectorNamed(src, "Payload")) || eventTyped[targetName(dst)] {
			out = append(out, fset.Position(call.Pos()).String()+": encoding/json decodes a pipeline event")
		}
		return true
	})
	return out
}

// namesOfType collects the variables, fields and parameters of f whose
// declared type (as written) satisfies is.
func namesOfType(f *ast.File, is func(typ string) bool) map[string]bool {
	names := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.ValueSpec:
			if n.Type != nil && is(exprString(n.Type)) {
				for _, id := range n.Names {
					names[id.Name] = true
				}
			}
		case *ast.Field:
			if is(exprString(n.Type)) {
				for _, id := range n.Names {
					names[id.Name] = true
				}
			}
		}
		return true
	})
	return names
}

// eventTypeNames are the types schemas/event.go declares.
func eventTypeNames(t *testing.T, path string) map[string]bool {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := parser.ParseFile(token.NewFileSet(), path, src, 0)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		if ts, ok := n.(*ast.TypeSpec); ok {
			names[ts.Name.Name] = true
		}
		return true
	})
	for _, must := range []string{"Envelope", "AttributionCalculated", "JournalEntry", "Contact"} {
		if !names[must] {
			t.Fatalf("schemas/event.go declares no %s: the scan would see nothing", must)
		}
	}
	return names
}

func isDecodeCall(c *ast.CallExpr) bool {
	sel, ok := c.Fun.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	pkg, ok := sel.X.(*ast.Ident)
	return ok && (sel.Sel.Name == "Decode" || sel.Sel.Name == "Unmarshal") &&
		(pkg.Name == "schemas" || pkg.Name == "json" || pkg.Name == "jsonv2" || pkg.Name == "jsonv1")
}

// targetName is the name a decode target &x or &y.x stores into.
func targetName(e ast.Expr) string {
	if u, ok := e.(*ast.UnaryExpr); ok && u.Op == token.AND {
		e = u.X
	}
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return e.Sel.Name
	}
	return ""
}

func isNewEnvelope(e ast.Expr) bool {
	s := exprString(e)
	return s == "new(schemas.Envelope)" || strings.HasPrefix(s, "&schemas.Envelope{")
}

func isEventTypeCompare(a, b ast.Expr) bool {
	sel, ok := b.(*ast.SelectorExpr)
	return isSelectorNamed(a, "EventType") && ok && isIdent(sel.X, "schemas") && strings.HasPrefix(sel.Sel.Name, "Type")
}

func isSelectorNamed(e ast.Expr, name string) bool {
	sel, ok := e.(*ast.SelectorExpr)
	return ok && sel.Sel.Name == name
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}

// isJSONNewDecoder says whether e is json.NewDecoder(…).
func isJSONNewDecoder(e ast.Expr, jsonName string) bool {
	c, ok := e.(*ast.CallExpr)
	if !ok {
		return false
	}
	sel, ok := c.Fun.(*ast.SelectorExpr)
	return ok && isIdent(sel.X, jsonName) && sel.Sel.Name == "NewDecoder"
}

// importName is the name f imports path under, "" when it does not.
func importName(f *ast.File, path string) string {
	for _, imp := range f.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); p == path {
			if imp.Name != nil {
				return imp.Name.Name
			}
			return filepath.Base(path)
		}
	}
	return ""
}

func exprString(e ast.Expr) string {
	var b bytes.Buffer
	_ = printer.Fprint(&b, token.NewFileSet(), e)
	return b.String()
}
