package jsonstr

import (
	"encoding/json"
	"testing"
)

// FuzzAppendAsEncodingJSON holds Append to encoding/json's bytes for every
// string (invalid UTF-8 included: encoding/json writes \ufffd, the same
// JSON string as the raw U+FFFD written here, so both are compared decoded
// when the input is not valid UTF-8).
func FuzzAppendAsEncodingJSON(f *testing.F) {
	for _, s := range []string{"", "plain", `q"b\`, "<a&b>", "\x00\x1f\t\n\r\b\f", "é€😀", "\u2028\u2029", "bad\xffutf8", "\xe2\x82"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		got := Append(nil, s)
		if string(Append(nil, []byte(s))) != string(got) {
			t.Fatalf("string and []byte differ for %q", s)
		}
		if string(got) == string(want) {
			return
		}
		var a, b string
		if json.Unmarshal(got, &a) != nil || json.Unmarshal(want, &b) != nil || a != b {
			t.Fatalf("Append(%q) = %s, encoding/json %s", s, got, want)
		}
	})
}
