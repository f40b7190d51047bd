package jsoncheck

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestMembers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want string // names=values joined by ";", or the error kind
	}{
		{`{"a":1,"b":{ "c" : [1, 2] },"s":"x y"}`, `a=1;b={ "c" : [1, 2] };s="x y"`},
		{" { \"a\" :\n 1 , \"b\":[ ]} ", `a=1;b=[ ]`},
		{` {} `, ``},
		{"{\"a\":\"\xff\"}", "a=\"\xff\""},
		{`{"\u0061b":true}`, `ab=true`},
		{`[1]`, "not object"},
		{`null`, "not object"},
		{`"s"`, "not object"},
		{`{"a":1,"a":2}`, "dup"},
		{`{"a":{"b":1,"b":2}}`, "dup"},
		{strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40), "deep"},
		{`{"a":1} {}`, "syntax"},
		{`{"a":`, "syntax"},
		{``, "syntax"},
		{`}`, "syntax"},
		{`[1,}`, "syntax"},
	}
	for _, tt := range tests {
		ms, err := Members([]byte(tt.in))
		var got string
		var e *Error
		var noe *NotObjectError
		var se *SyntaxError
		switch {
		case errors.As(err, &noe):
			got = "not object"
		case errors.As(err, &e) && e.Code == CodeDuplicateKey:
			got = "dup"
		case errors.As(err, &e) && e.Code == CodeTooDeep:
			got = "deep"
		case errors.As(err, &se):
			got = "syntax"
		case err != nil:
			got = err.Error()
		default:
			var parts []string
			for _, m := range ms {
				parts = append(parts, m.Name+"="+string(m.Value))
			}
			got = strings.Join(parts, ";")
		}
		if got != tt.want {
			t.Errorf("Members(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzMembers holds Members to Decode: they accept the same objects, and
// the members decode to the object's fields.
func FuzzMembers(f *testing.F) {
	for _, s := range []string{`{"a":1,"b":[true,null]}`, `{"a":1,"a":2}`, `[]`, `{"a":{"b":{}}}`, `{} x`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		ms, err := Members(raw)
		v, derr := Decode(raw)
		obj, isObj := v.(map[string]any)
		if (err == nil) != (derr == nil && isObj) {
			t.Fatalf("Members(%q) error %v; Decode %v, %T", raw, err, derr, v)
		}
		if err != nil {
			return
		}
		if len(ms) != len(obj) {
			t.Fatalf("Members(%q) has %d members, object %d", raw, len(ms), len(obj))
		}
		for _, m := range ms {
			mv, err := Decode(m.Value)
			if err != nil {
				t.Fatalf("member %q value %q: %v", m.Name, m.Value, err)
			}
			if a, b := mustJSON(mv), mustJSON(obj[m.Name]); a != b {
				t.Fatalf("member %q = %s, object has %s", m.Name, a, b)
			}
		}
	})
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestWithout(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{`{"a":1,"lead":{"n":"x"},"b":[1, 2]}`, `{"a":1,"b":[1, 2]}`},
		{`{"lead":1}`, `{}`},
		{`{"lead":1,"z":true}`, `{"z":true}`},
		{`{}`, `{}`},
		{`{"a\"b":"\u00e9"}`, `{"a\"b":"\u00e9"}`},
	}
	for _, tt := range tests {
		got, err := Without([]byte(tt.in), "lead")
		if err != nil || string(got) != tt.want {
			t.Errorf("Without(%s) = %s, %v; want %s", tt.in, got, err, tt.want)
		}
	}
	if _, err := Without([]byte(`[1]`), "lead"); err == nil {
		t.Error("Without accepted an array")
	}
}
