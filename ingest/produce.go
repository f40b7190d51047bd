package ingest

import (
	"encoding/json"
	"net/http"

	"github.com/twmb/franz-go/pkg/kgo"
)

// produce writes the stamped events to referrals.ingested, keyed by the
// tenant-scoped lead, and answers 202 with their ids.
func (a *API) produce(w http.ResponseWriter, q *writeReq) bool {
	recs := make([]*kgo.Record, len(q.events))
	ids := make([]string, len(q.events))
	for i, s := range q.events {
		recs[i] = &kgo.Record{Topic: a.Topic, Key: s.Key, Value: s.Value}
		ids[i] = s.EventID
	}
	if err := a.Producer.ProduceSync(q.r.Context(), recs...).FirstErr(); err != nil {
		// Some records may have landed; the partner retries the same bytes,
		// which get the same event ids, and dedupe drops the copies.
		a.Log.Warn("produce failed", "events", len(recs), "err", err)
		w.Header().Set("Retry-After", "1")
		a.problem(w, http.StatusServiceUnavailable, "unavailable", "events could not be stored, retry the same request", nil)
		return false
	}
	a.Metrics.accepted.Add(float64(len(recs)))
	a.Metrics.requests.WithLabelValues("202").Inc()
	b, _ := json.Marshal(Accepted{EventIDs: ids})
	w.Header().Set("Content-Type", "application/json")
	writeRaw(w, http.StatusAccepted, b)
	return true
}
