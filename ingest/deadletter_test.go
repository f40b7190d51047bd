package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrack/reftrack/internal/pii"
	"github.com/reftrack/reftrack/internal/testenv"
	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

// TestSealedDeadLetters: in seal mode, the records ingest itself
// dead-letters on the Kafka path reach referrals.rejected with no clear
// contact in their value, key or headers: the contact sealed under the
// lead's key when the record names its lead, the original withheld (size
// and digest only) when it names none or is not JSON.
func TestSealedDeadLetters(t *testing.T) {
	t.Parallel()
	acme, _ := schemas.InboundTopicFor("acme")
	brokers := testenv.Kafka(t, 1, append(schemas.AllTopics(""), acme)...)
	sealer := newSealer(t, &pii.MemoryStore{})
	tests := []struct {
		name, value string
		lead        string // "": the original is withheld
	}{
		{"invalid phone", referral("L-1", `{"email":"zoe.quinn@example.com","phone":"12"}`), "L-1"},
		{"invalid email", referral("L-2", `{"name":"Zoë Quinn","email":"zoe.quinn@@example.com"}`), "L-2"},
		{"another partner", strings.Replace(referral("L-3", clearContact), `"acme"`, `"zeta"`, 1), "L-3"},
		{"not a string", referral("L-4", `{"name":"Zoë Quinn","email":["zoe.quinn@example.com"]}`), ""},
		{"no lead", referral("", clearContact), ""},
		{"not JSON", `{"lead_id":"L-6","payload":{"lead":{"email":"zoe.quinn@example.com"}}`, ""},
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	byOffset := map[int64]int{}
	for i, tt := range tests {
		// The partner keys its records by the lead's email.
		r := &kgo.Record{Topic: acme, Key: []byte("zoe.quinn@example.com"), Value: []byte(tt.value)}
		if err := prod.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
		byOffset[r.Offset] = i
	}

	cfg := worker.Config{Brokers: strings.Join(brokers, ","), Group: "reftrack-ingest", Instance: "0", BatchMax: 100,
		ShutdownTimeout: 5 * time.Second, LogFormat: "text", LogLevel: "info"}
	in := &Inbound{Now: func() time.Time { return now }, Sealer: sealer}
	stage := worker.Stage{Name: "ingest", Inputs: []string{acme}, Processor: in}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- worker.Run(ctx, cfg, stage, slog.New(slog.NewTextHandler(io.Discard, nil)), worker.NewRegistry(), &worker.Readiness{})
	}()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(schemas.TopicRejected), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	dead := testenv.ReadExactly(t, cl, schemas.TopicRejected, len(tests))
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	for _, r := range dead {
		var rej schemas.Rejection
		if err := json.Unmarshal(r.Value, &rej); err != nil {
			t.Fatal(err)
		}
		tt := tests[byOffset[rej.SourceOffset]]
		var text []byte
		text = append(append(append(text, r.Value...), r.Key...), rej.Original...)
		for _, h := range r.Headers {
			text = append(text, h.Value...)
		}
		if l := leaks(text); len(l) > 0 {
			t.Errorf("%s: the dead letter holds %q: %s", tt.name, l, text)
		}
		if tt.lead == "" {
			if len(rej.Original) != 0 || rej.OriginalSize != int64(len(tt.value)) || rej.OriginalSHA256 == "" {
				t.Errorf("%s: original %q, size %d, sha256 %q: want it withheld", tt.name, rej.Original, rej.OriginalSize, rej.OriginalSHA256)
			}
			continue
		}
		key, err := sealer.Cipher.KeyOf(context.Background(), pii.Subject{Partner: "acme", Lead: tt.lead})
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		opened, err := pii.OpenContact(key, contactOf(t, rej.Original))
		if err != nil || !strings.Contains(strings.ToLower(opened.Email), "zoe.quinn@") {
			t.Errorf("%s: the sealed contact opens to %+v, %v", tt.name, opened, err)
		}
		if string(r.Key) != string(schemas.LeadKey("acme", tt.lead)) {
			t.Errorf("%s: dead letter keyed %q, want the lead's key", tt.name, r.Key)
		}
	}
}

// countingStore counts the key store's round trips.
type countingStore struct {
	pii.MemoryStore
	calls atomic.Int64
}

func (c *countingStore) Get(ctx context.Context, subjects []string) ([]string, error) {
	c.calls.Add(1)
	return c.MemoryStore.Get(ctx, subjects)
}

func (c *countingStore) GetOrCreate(ctx context.Context, subjects, candidates []string) ([]string, error) {
	c.calls.Add(1)
	return c.MemoryStore.GetOrCreate(ctx, subjects, candidates)
}

// TestInboundSealsPerBatch: the Kafka path fetches the data keys of a
// whole batch in one KeysFor (two key store round trips whatever the batch
// size), dead letters included, and still refuses per record.
func TestInboundSealsPerBatch(t *testing.T) {
	t.Parallel()
	acme, _ := schemas.InboundTopicFor("acme")
	store := &countingStore{}
	in := &Inbound{Now: func() time.Time { return now }, Sealer: newSealer(t, store)}
	var batch []worker.Message
	for _, lead := range []string{"L-1", "L-2", "L-3", "L-4", "L-5", "L-1"} {
		batch = append(batch, worker.Message{Topic: acme, BareTopic: acme, Value: []byte(referral(lead, clearContact))})
	}
	batch = append(batch, worker.Message{Topic: acme, BareTopic: acme, Value: []byte(referral("L-6", `{"phone":"12"}`))})
	results, err := in.ProcessBatch(context.Background(), batch)
	if err != nil || len(results) != len(batch) {
		t.Fatalf("ProcessBatch = %d results, %v", len(results), err)
	}
	if n := store.calls.Load(); n > 2 {
		t.Errorf("%d key store round trips for a batch of %d, want at most 2", n, len(batch))
	}
	for i, r := range results[:len(batch)-1] {
		if r.Err != nil || len(r.Out) != 1 || len(leaks(r.Out[0].Value)) > 0 {
			t.Errorf("record %d: %+v, %v: want it sealed", i, r.Out, r.Err)
		}
	}
	var rej *worker.RejectError
	if last := results[len(batch)-1]; !errors.As(last.Err, &rej) || rej.Reasons[0].Code != "invalid_phone" {
		t.Errorf("invalid phone: %v, want a dead letter", last.Err)
	}
	if a, b := results[0].Out, results[5].Out; len(a) != 1 || len(b) != 1 || string(a[0].Value) != string(b[0].Value) {
		t.Error("the same record twice in a batch must seal to the same bytes")
	}
}

// FuzzDeadLetterOriginals: whatever a partner sends, what ingest keeps of
// it in a dead letter is withheld, or holds no clear contact field.
func FuzzDeadLetterOriginals(f *testing.F) {
	sealer := newSealer(f, &pii.MemoryStore{})
	for _, s := range []string{referral("L-1", clearContact), referral("", clearContact), referral("L-2", `{"email":7}`),
		referral("L-3", `"x"`), referral("L-4", `null`), referral("L-5", `{}`), `{"lead_id":"L","payload":{"lead":{"name":"enc:x"}}}`, `[]`, `{`} {
		f.Add(s, true)
		f.Add(s, false)
	}
	acme, _ := schemas.InboundTopicFor("acme")
	in := &Inbound{Now: func() time.Time { return now }, Sealer: sealer}
	f.Fuzz(func(t *testing.T, value string, own bool) {
		topic := schemas.TopicInbound
		if own {
			topic = acme
		}
		kept, err := in.DeadLetterOriginals(context.Background(), []worker.Message{{Topic: topic, BareTopic: topic, Value: []byte(value)}})
		if err != nil || len(kept) != 1 {
			t.Fatalf("DeadLetterOriginals = %v, %v", kept, err)
		}
		if kept[0].Withheld {
			return
		}
		l, err := locate(kept[0].Value)
		if err != nil {
			t.Fatalf("kept %q, which is not a record with a contact object: %v", kept[0].Value, err)
		}
		if l == nil {
			return
		}
		for _, f := range contactPtrs(&l.contact) {
			i := memberAt(l.lead, f.name)
			if i < 0 {
				continue
			}
			if v := stringValue(l.lead[i].Value); v != "" && (!pii.IsCiphertext(v) || string(kept[0].Value) == value) {
				t.Fatalf("kept %s: %s is not sealed", kept[0].Value, f.name)
			}
		}
	})
}
