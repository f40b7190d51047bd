package validate

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas/validation"
)

// Issue 15's yardstick: validate's cost per event against a plain
// encoding/json decode of the same bytes into map[string]any, measured in
// one `go test -bench` run so that the ratio, not the box, is compared
// (goal ≤ 1.5). BenchmarkRatio prints the four ratios; the pairs
// BenchmarkValidate<Type> / BenchmarkDecodeMap<Type> give the times.
// testdata/bench_events.jsonl is one event of each type as the bench sends
// them (deploy/sample, stamped by ingest): created, status_updated, issued,
// cancelled.

func benchEvent(tb testing.TB, i int) []byte {
	tb.Helper()
	b, err := os.ReadFile("testdata/bench_events.jsonl")
	if err != nil {
		tb.Fatal(err)
	}
	return bytes.Split(bytes.TrimSpace(b), []byte("\n"))[i]
}

func validateLoop(b *testing.B, raw []byte) {
	v, err := validation.New(validation.DefaultConfig)
	if err != nil {
		b.Fatal(err)
	}
	process, m := Process(v), worker.Message{Value: raw}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := process(context.Background(), m); err != nil {
			b.Fatal(err)
		}
	}
}

func decodeMapLoop(b *testing.B, raw []byte) {
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidateCreated(b *testing.B)   { validateLoop(b, benchEvent(b, 0)) }
func BenchmarkDecodeMapCreated(b *testing.B)  { decodeMapLoop(b, benchEvent(b, 0)) }
func BenchmarkValidateStatus(b *testing.B)    { validateLoop(b, benchEvent(b, 1)) }
func BenchmarkDecodeMapStatus(b *testing.B)   { decodeMapLoop(b, benchEvent(b, 1)) }
func BenchmarkValidateIssued(b *testing.B)    { validateLoop(b, benchEvent(b, 2)) }
func BenchmarkDecodeMapIssued(b *testing.B)   { decodeMapLoop(b, benchEvent(b, 2)) }
func BenchmarkValidateCancelled(b *testing.B) { validateLoop(b, benchEvent(b, 3)) }
func BenchmarkDecodeMapCancelled(b *testing.B) {
	decodeMapLoop(b, benchEvent(b, 3))
}

// BenchmarkRatio/<type> runs b.N validations, then b.N map decodes of
// the same bytes, and reports both times per event and their ratio
// ("x-decode", the goal: ≤ 1.5). ns/op is the pair's sum.
func BenchmarkRatio(b *testing.B) {
	v, err := validation.New(validation.DefaultConfig)
	if err != nil {
		b.Fatal(err)
	}
	process := Process(v)
	for i, name := range []string{"created", "status", "issued", "cancelled"} {
		m := worker.Message{Value: benchEvent(b, i)}
		b.Run(name, func(b *testing.B) {
			start := time.Now()
			for range b.N {
				if _, err := process(context.Background(), m); err != nil {
					b.Fatal(err)
				}
			}
			val := time.Since(start)
			start = time.Now()
			for range b.N {
				var doc map[string]any
				if err := json.Unmarshal(m.Value, &doc); err != nil {
					b.Fatal(err)
				}
			}
			dec := time.Since(start)
			b.ReportMetric(float64(val.Nanoseconds())/float64(b.N), "validate-ns/event")
			b.ReportMetric(float64(dec.Nanoseconds())/float64(b.N), "decode-ns/event")
			b.ReportMetric(float64(val)/float64(dec), "x-decode")
		})
	}
}
