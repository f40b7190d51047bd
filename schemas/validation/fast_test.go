package validation

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v5"

	"github.com/reftrack/reftrack/schemas/jsoncheck"
)

// Events of the schemas added after the sample file was generated.
const (
	issuedV2 = `{"event_id":"0b6c8b8e-8f4e-4a53-9d53-1f7a2d4f7c15","event_type":"policy.issued","schema_version":2,
	"occurred_at":"2026-11-01T10:00:00Z","partner_id":"acme","lead_id":"lead-1",
	"payload":{"policy_id":"P-2","product_line":"Home Insurance","annual_premium":"980","currency":"eur","term_months":12,"effective_date":"2026-11-02","sale_type":"renewal","jurisdiction":"US-CA","agent_of_record":"a-7"}}`
	agentChanged = `{"event_id":"0b6c8b8e-8f4e-4a53-9d53-1f7a2d4f7c16","event_type":"policy.agent_changed","schema_version":1,
	"occurred_at":"2026-11-01T10:00:00Z","partner_id":"acme","lead_id":"lead-1",
	"payload":{"policy_id":"P-2","agent_of_record":"a-9","effective_date":"2027-01-01"}}`
)

// sampleEvents are testdata/sample_events.jsonl (deploy/sample's generator,
// stamped by ingest: the bench's traffic, invalid records included) and the
// hand-written events of validation_test.go.
func sampleEvents(tb testing.TB) [][]byte {
	tb.Helper()
	f, err := os.Open("testdata/sample_events.jsonl")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	out := [][]byte{[]byte(created), []byte(status), []byte(issued), []byte(cancelled), []byte(issuedV2), []byte(agentChanged), []byte(createdSealed)}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		out = append(out, bytes.Clone(sc.Bytes()))
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

var (
	sharedOnce sync.Once
	shared     *Validator
	sharedErr  error
)

// sharedValidator is compiled once per process: fuzz workers and parallel
// tests share it (it is safe for concurrent use).
func sharedValidator(tb testing.TB) *Validator {
	tb.Helper()
	sharedOnce.Do(func() { shared, sharedErr = New(DefaultConfig) })
	if sharedErr != nil {
		tb.Fatal(sharedErr)
	}
	return shared
}

// agree fails when the fast path passes an event the reference refuses,
// passes it with other bytes or ids, or declines a valid event it reads.
func agree(tb testing.TB, v *Validator, raw []byte) (fastOK bool) {
	tb.Helper()
	senv, sout, reasons := v.slowCheck(raw)
	fenv, fout, ok := v.fastCheck(raw)
	switch {
	case ok && len(reasons) > 0:
		tb.Fatalf("fast path passed an event v5 refuses (%+v):\n%s", reasons, raw)
	case ok && (!bytes.Equal(fout, sout) || !reflect.DeepEqual(fenv, senv)):
		tb.Fatalf("fast path passed %s\nas  %s %+v\nnot %s %+v", raw, fout, fenv, sout, senv)
	case !ok && len(reasons) == 0 && readable(raw):
		tb.Fatalf("fast path declined a valid event it can read:\n%s", raw)
	}
	return ok
}

// readable reports whether the tree reads raw; what it does not read (a
// number with a fraction, an escaped name, deep nesting) is the slow path's
// by design, not a disagreement.
func readable(raw []byte) bool {
	var t tree
	t.reset(raw)
	return t.parse()
}

// variants are raw spellings of one event the fast path must judge like
// the slow one: indented, with escapes, with HTML-sensitive characters.
func variants(raw []byte) [][]byte {
	var indented bytes.Buffer
	_ = json.Indent(&indented, raw, "", "\t")
	s := string(raw)
	return [][]byte{raw, indented.Bytes(),
		[]byte(strings.Replace(s, `"acme`, `"\u0061cme`, 1)),
		[]byte(strings.Replace(s, `@example.com`, `@exa\u006dple.com`, 1)),
		[]byte(strings.Replace(s, `"Ana"`, `"A<n>&a"`, 1)),
		[]byte(strings.Replace(s, `"crm"`, `"c\u2028rm\t"`, 1)),
		[]byte(strings.Replace(s, `"crm"`, `"c\"r\\m\/"`, 1)),
		[]byte(strings.Replace(s, `"agent"`, `" Insurance  AGENT "`, 1)),
		[]byte(strings.Replace(s, `"USD"`, `"usd"`, 1)),
		[]byte(strings.Replace(s, `"term_months":12`, `"term_months":12.0`, 1)),
		[]byte(strings.Replace(s, `"schema_version":1`, `"schema_version":1.0`, 1)),
	}
}

// TestFastAgrees holds the fast path to the reference on every sample
// event, raw variants of each and the schema-level mutations of
// inline_test.go (every field removed, retyped or replaced).
func TestFastAgrees(t *testing.T) {
	t.Parallel()
	v := sharedValidator(t)
	fast, n := 0, 0
	check := func(raw []byte) {
		n++
		if agree(t, v, raw) {
			fast++
		}
	}
	samples := sampleEvents(t)
	for _, raw := range samples {
		for _, r := range variants(raw) {
			check(r)
		}
	}
	for _, raw := range samples[:6] {
		for _, doc := range mutations(string(raw)) {
			b, err := json.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			check(b)
		}
	}
	for _, raw := range samples {
		if _, _, reasons := v.slowCheck(raw); len(reasons) == 0 {
			if _, _, ok := v.fastCheck(raw); !ok {
				t.Errorf("a valid sample event went the slow way: %s", raw)
			}
		}
	}
	t.Logf("%d inputs, %d passed by the fast path", n, fast)
	if n < 4000 || fast < 400 {
		t.Fatalf("too few inputs (%d) or fast passes (%d) to mean anything", n, fast)
	}
}

// TestFastPublishedSchemas: the checker compiled from the schemas as
// published (allOf + $ref, not folded) agrees with the folded one.
func TestFastPublishedSchemas(t *testing.T) {
	t.Parallel()
	folded, published := bothValidators(t)
	for _, raw := range sampleEvents(t) {
		for _, r := range variants(raw) {
			_, a, okA := folded.fastCheck(r)
			_, b, okB := published.fastCheck(r)
			if okA != okB || !bytes.Equal(a, b) {
				t.Fatalf("folded %v, published %v on %s", okA, okB, r)
			}
		}
	}
}

// TestCompileRefuses: a construct the checker does not implement stops
// New instead of being judged by guesswork; the ones it does compile.
func TestCompileRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		schema string
		ok     bool
	}{
		{`{"type":"object","properties":{"a":{"type":"string","minLength":1,"pattern":"^x"}},"required":["a"],"additionalProperties":false}`, true},
		{`{"oneOf":[{"const":1},{"enum":["a",null,true]}],"if":{"type":"string"},"then":{"maxLength":3},"else":{"minimum":0,"exclusiveMaximum":10}}`, true},
		{`{"type":"array","items":{"type":"integer"},"minItems":1}`, true},
		{`{"not":{"type":"null"},"anyOf":[{"type":"string"},{"type":"number"}]}`, true},
		{`{"patternProperties":{"^x":{}}}`, false},
		{`{"unevaluatedProperties":false}`, false},
		{`{"propertyNames":{"maxLength":3}}`, false},
		{`{"dependentRequired":{"a":["b"]}}`, false},
		{`{"uniqueItems":true}`, false},
		{`{"prefixItems":[{}]}`, false},
		{`{"contains":{}}`, false},
		{`{"multipleOf":2}`, false},
		{`{"const":{"a":1}}`, false},
		{`{"enum":[1.5]}`, false},
		{`{"format":"ipv4"}`, true},
		{`{"format":"no-such-format"}`, false},
		{`{"minimum":1e30}`, false},
		{`{"properties":{"a":{"$ref":"#/$defs/x"}},"$defs":{"x":{"type":"string"}}}`, true},
	}
	for _, tt := range tests {
		c := jsonschema.NewCompiler()
		c.Draft = jsonschema.Draft2020
		c.AssertFormat = true
		if err := c.AddResource("mem:s.json", strings.NewReader(tt.schema)); err != nil {
			t.Fatal(err)
		}
		s, err := c.Compile("mem:s.json")
		if err != nil {
			t.Fatalf("%s: %v", tt.schema, err)
		}
		_, err = newCompiler().compile(s)
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, errUnsupported)) {
			t.Errorf("%s: compile error %v, want ok=%v", tt.schema, err, tt.ok)
		}
	}
}

// leafPaths lists the JSON paths of every value in doc, sorted.
func leafPaths(doc any, prefix []string, out *[][]string) {
	*out = append(*out, slices.Clone(prefix))
	if m, ok := doc.(map[string]any); ok {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			leafPaths(m[k], append(prefix, k), out)
		}
	}
}

func setPath(doc any, path []string, v any, del bool) any {
	if len(path) == 0 {
		return v
	}
	m, ok := doc.(map[string]any)
	if !ok {
		return doc
	}
	if len(path) == 1 && del {
		delete(m, path[0])
		return m
	}
	m[path[0]] = setPath(m[path[0]], path[1:], v, del)
	return m
}

// FuzzFastAgrees compares the fast path with the reference on sample
// events with one value replaced by the fuzzer's (as a JSON value when it
// is one, else as a string) or deleted, and on the fuzzer's raw bytes.
// Every input is an event the schemas have something to say about, and
// one input costs two checks (tens of µs), not two schema compilations.
func FuzzFastAgrees(f *testing.F) {
	samples := sampleEvents(f)
	v := sharedValidator(f)
	f.Add(uint16(0), uint8(3), []byte(`"x"`), false, false)
	f.Add(uint16(2), uint8(9), []byte(`12`), false, false)
	f.Add(uint16(5), uint8(1), []byte(`{"a":1}`), true, false)
	f.Add(uint16(1), uint8(0), []byte(created), false, true)
	f.Add(uint16(0), uint8(0), []byte(createdSealed), false, true)
	f.Add(uint16(0), uint8(0), []byte(sealedEmail), false, false)
	f.Fuzz(func(t *testing.T, sample uint16, field uint8, value []byte, del, asRaw bool) {
		if asRaw {
			agree(t, v, value)
			return
		}
		if b, ok := mutateSample(samples, sample, field, value, del); ok {
			agree(t, v, b)
		}
	})
}

// mutateSample is a sample event with the value at one of its paths
// (chosen by field) replaced by value (as JSON when it is JSON, else as a
// string) or deleted.
func mutateSample(samples [][]byte, sample uint16, field uint8, value []byte, del bool) ([]byte, bool) {
	doc, err := jsoncheck.Decode(samples[int(sample)%len(samples)])
	if err != nil {
		return nil, false // an invalid sample: the raw branch covers those
	}
	var paths [][]string
	leafPaths(doc, nil, &paths)
	path := paths[int(field)%len(paths)]
	var val any = string(value)
	if parsed, err := jsoncheck.Decode(value); err == nil {
		val = parsed
	}
	b, err := json.Marshal(setPath(doc, path, val, del))
	return b, err == nil
}

func BenchmarkFastCheck(b *testing.B) {
	v := sharedValidator(b)
	raw := []byte(issued)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, ok := v.fastCheck(raw); !ok {
			b.Fatal("declined")
		}
	}
}

// TestFastEnvelopeOwnsItsStrings: the ids Check returns stay put when the
// caller reuses the record's buffer (the fast path views raw while it
// checks).
func TestFastEnvelopeOwnsItsStrings(t *testing.T) {
	t.Parallel()
	v := sharedValidator(t)
	raw := []byte(status)
	env, _, reasons := v.Check(raw)
	if len(reasons) > 0 {
		t.Fatal(reasons)
	}
	for i := range raw {
		raw[i] = 'x'
	}
	if env.PartnerID != "acme" || env.LeadID != "lead-1" || env.EventType != "referral.status_updated" {
		t.Errorf("envelope changed with the buffer: %+v", env)
	}
}
