package sample

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrack/reftrack/internal/testenv"
	"github.com/reftrack/reftrack/schemas"
)

// TestSendKeysByTenantLead (issue #11): every Kafka record is keyed by
// schemas.LeadKey of its partner and lead, and every HTTP request carries
// the events of one partner's lead only, even where two partners share the
// lead id.
func TestSendKeysByTenantLead(t *testing.T) {
	t.Parallel()
	opts := DefaultOptions()
	opts.Events, opts.HTTPShare = 600, 0.5
	opts.Partners = []string{"p-one", "p-two"}
	opts.SharedLeadFraction, opts.SharedEventIDFraction = 1, 0.5
	ds, err := Generate(opts, devRules(t))
	if err != nil {
		t.Fatal(err)
	}
	const topic = "referrals.inbound"
	brokers := testenv.Kafka(t, 4, topic)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var mu sync.Mutex
	var posted [][]json.RawMessage
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var batch []json.RawMessage
		if err := json.NewDecoder(r.Body).Decode(&batch); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		posted = append(posted, batch)
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	defer api.Close()
	ctx := context.Background()
	if err := Send(ctx, ds, cl, topic, api.URL, "Bearer x"); err != nil {
		t.Fatal(err)
	}

	var wantKeys, gotKeys []string
	httpRecords := 0
	for _, r := range ds.Records {
		if r.HTTP {
			httpRecords++
			continue
		}
		wantKeys = append(wantKeys, string(schemas.LeadKey(r.Partner, r.Lead)))
	}
	for len(gotKeys) < len(wantKeys) {
		fs := cl.PollFetches(ctx)
		if err := fs.Err(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			gotKeys = append(gotKeys, string(r.Key))
			checkKey(t, r.Key, r.Value)
		})
	}
	slices.Sort(wantKeys)
	slices.Sort(gotKeys)
	if !slices.Equal(wantKeys, gotKeys) {
		t.Errorf("Kafka keys differ from the records' tenant-scoped leads")
	}

	n := 0
	for _, batch := range posted {
		n += len(batch)
		leads := map[string]bool{}
		for _, v := range batch {
			var s sent
			if json.Unmarshal(v, &s) == nil {
				leads[schemas.Scoped(s.Partner, s.Lead)] = true
			}
		}
		if len(leads) != 1 {
			t.Errorf("one request carries the events of %d partners' leads: %v", len(leads), leads)
		}
	}
	if n != httpRecords {
		t.Errorf("posted %d events, want %d", n, httpRecords)
	}
}

// checkKey requires a record whose value names its partner and lead to be
// keyed by them; values that are not such an object (the invalid ones) are
// keyed by whatever their Record says, checked above.
func checkKey(t *testing.T, key, value []byte) {
	t.Helper()
	var s sent
	if json.Unmarshal(value, &s) != nil || s.Lead == "" {
		return
	}
	if want := schemas.LeadKey(s.Partner, s.Lead); !bytes.Equal(key, want) {
		t.Errorf("record of %s/%s keyed %q, want %q", s.Partner, s.Lead, key, want)
	}
}
