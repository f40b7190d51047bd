package ingest

import (
	"errors"
	"strings"
	"testing"

	"github.com/reftrack/reftrack/internal/worker"
)

func TestCountEvents(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body string
		limit, n   int
		isArray    bool
		code       string // reject code, "" for none
	}{
		{"object", `{"a":[1,2,{"b":3}]}`, 10, 1, false, ""},
		{"array", ` [{}, {"a":[{}]}, 7] `, 10, 3, true, ""},
		{"stops past the limit", "[" + strings.Repeat("{},", 100) + "{}]", 3, 4, true, ""},
		{"stops before broken tail", "[{},{},{},{}," + `"`, 3, 4, true, ""},
		{"duplicate names are StampFor's", `{"a":1,"a":2}`, 10, 1, false, ""},
		{"empty", ``, 10, 0, false, CodeMalformedJSON},
		{"empty array", `[]`, 10, 0, true, CodeMalformedJSON},
		{"truncated", `[{"lead_id":`, 10, 0, true, CodeMalformedJSON},
		{"two values", `{} {}`, 10, 0, false, CodeMalformedJSON},
		{"after the array", `[{}] x`, 10, 0, true, CodeMalformedJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n, isArray, err := CountEvents([]byte(tt.body), tt.limit)
			var rej *worker.RejectError
			if tt.code != "" {
				if !errors.As(err, &rej) || rej.Reasons[0].Code != tt.code || strings.Contains(rej.Reasons[0].Message, "jsontext") {
					t.Fatalf("error %v, want reject %s in reftrack's words", err, tt.code)
				}
				return
			}
			if err != nil || n != tt.n || isArray != tt.isArray {
				t.Errorf("got %d %v %v, want %d %v", n, isArray, err, tt.n, tt.isArray)
			}
		})
	}
}

// FuzzCountEvents: counting agrees with SplitBody on every body both read,
// and refuses only with a permanent reject.
func FuzzCountEvents(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `[{"a":1},{"b":2}]`, `[]`, ` [1,`, "\x00[", `[[[[`, `[{"a":1,"a":2}]`, "[\"\xff\"]", `[1e999]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		n, isArray, err := CountEvents(body, 1<<20)
		if err != nil {
			if !worker.IsPermanent(err) {
				t.Fatalf("non-permanent error %v", err)
			}
			return
		}
		events, splitArray, err := SplitBody(body)
		if err != nil {
			t.Fatalf("counted %d, SplitBody refused: %v", n, err)
		}
		if len(events) != n || splitArray != isArray {
			t.Fatalf("counted %d (array %v), split %d (array %v)", n, isArray, len(events), splitArray)
		}
	})
}
