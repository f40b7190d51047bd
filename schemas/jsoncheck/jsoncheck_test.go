package jsoncheck

import (
	"errors"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
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
		{strings.Repeat("[", 40) + strings.Repeat("]", 40), CodeTooDeep, strings.Repeat("/0", 32)},
		{strings.Repeat(`{"a":`, 33) + "1" + strings.Repeat("}", 33), CodeTooDeep, strings.Repeat("/a", 32)},
		{`{"a":`, "", ""}, // malformed: the decoder reports it
		{`{"a":1}{"a":1}`, "", ""},
	}
	for _, tt := range tests {
		err := Check([]byte(tt.in))
		var e *Error
		if tt.code == "" {
			if err != nil {
				t.Errorf("Check(%.40s) = %v", tt.in, err)
			}
			continue
		}
		if !errors.As(err, &e) || e.Code != tt.code || e.Pointer != tt.ptr {
			t.Errorf("Check(%.40s) = %v, want %s at %s", tt.in, err, tt.code, tt.ptr)
		}
	}
}

func FuzzCheck(f *testing.F) {
	for _, s := range []string{`{"a":1,"a":2}`, `[[[]]]`, `{"a":[{"b":{}}]}`, "\x00", `{"\u0000":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		_ = Check(raw) // must not panic on anything
	})
}
