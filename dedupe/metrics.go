package dedupe

import "github.com/prometheus/client_golang/prometheus"

// Metrics counts claims. They count attempts, so a batch that is aborted and
// redone counts twice; the runtime's records_out_total counts committed ones.
type Metrics struct {
	unique     prometheus.Counter
	duplicates prometheus.Counter
	collisions prometheus.Counter
}

// NewMetrics registers the dedupe metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		unique: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "reftrack", Subsystem: "dedupe", Name: "unique_total",
			Help: "Events whose dedupe key was new or already owned by the same record.",
		}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "reftrack", Subsystem: "dedupe", Name: "duplicates_total",
			Help: "Events dropped because another record already claimed their dedupe key.",
		}),
		collisions: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "reftrack", Subsystem: "dedupe", Name: "id_collisions_total",
			Help: "Events whose event id (or idempotency key) an earlier event of the partner holds with other content: dead-lettered as event_id_reused / idempotency_key_reused.",
		}),
	}
	reg.MustRegister(m.unique, m.duplicates, m.collisions)
	return m
}
