package attribute

import "github.com/prometheus/client_golang/prometheus"

// Metrics of the attribute stage.
type Metrics struct {
	unattributed   prometheus.Counter
	missingDetails prometheus.Counter
}

// NewMetrics registers the attribute metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		unattributed: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "reftrack", Subsystem: "attribute", Name: "unattributed_total",
			Help: "Conversions with no touchpoint in the lookback window: nobody is paid for them.",
		}),
		missingDetails: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "reftrack", Subsystem: "attribute", Name: "touchpoint_details_missing_total",
			Help: "Touchpoints indexed for a lead whose details had already expired; they are skipped.",
		}),
	}
	reg.MustRegister(m.unattributed, m.missingDetails)
	return m
}
