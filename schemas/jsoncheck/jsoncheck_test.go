package jsoncheck

import (
	"errors"
	"strings"
	"testing"
)

// TestRefusals: what Decode refuses as an *Error, and what it must not.
func TestRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, code, ptr string
	}{
		{`{"a":1,"b":{"c":[1,{"d":2}]}}`, "", ""},
		{`{"a":1,"a":2}`, CodeDuplicateKey, "/a"},
		{`{"p":{"x":1,"y":2,"x":3}}`, CodeDuplicateKey, "/p/x"},
		{`{"l":[{"k":1},{"k":1,"k":2}]}`, CodeDuplicateKey, "/l/1/k"},
		{`{"a/b":1,"a/b":1}`, CodeDuplicateKey, "/a~1b"},
		{`[{"a":1},{"a":1}]`, "", ""}, // same key in sibling objects is fine
		{strings.Repeat("[", 40) + strings.Repeat("]", 40), CodeTooDeep, ""},
		{strings.Repeat(`{"a":`, 33) + "1" + strings.Repeat("}", 33), CodeTooDeep, ""},
		{`{"s":"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"{"}`, "", ""}, // brackets inside strings do not nest
		{strings.Repeat(`{"a":`, 32) + "1" + strings.Repeat("}", 32), "", ""},
		{`{"a":`, "", ""},          // malformed: a syntax error, not one of these
		{`{"a":1}{"a":1}`, "", ""}, // two values: a syntax error too
	}
	for _, tt := range tests {
		_, err := Decode([]byte(tt.in))
		var e *Error
		if tt.code == "" {
			if errors.As(err, &e) {
				t.Errorf("Decode(%.40s) = %v", tt.in, err)
			}
			continue
		}
		if !errors.As(err, &e) || e.Code != tt.code || e.Pointer != tt.ptr {
			t.Errorf("Decode(%.40s) = %v, want %s at %s", tt.in, err, tt.code, tt.ptr)
		}
	}
}
