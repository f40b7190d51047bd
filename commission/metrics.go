package commission

import "github.com/prometheus/client_golang/prometheus"

// Metrics of the commission stage.
type Metrics struct {
	clawbackUnknown prometheus.Counter
	reloads         *prometheus.CounterVec
	ruleSetInfo     *prometheus.GaugeVec
	dataReloads     *prometheus.CounterVec
}

// NewMetrics registers the commission metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		clawbackUnknown: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "reftrack", Subsystem: "commission", Name: "cancellations_without_paid_lines_total",
			Help: "Cancellations of attributions with nothing accrued (not yet attributed, unattributed, or older than --keep-paid); kept and applied if the attribution arrives.",
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "reftrack", Subsystem: "commission", Name: "rule_reloads_total",
			Help: "Rule-file reloads by outcome (ok, refused).",
		}, []string{"outcome"}),
		ruleSetInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "reftrack", Subsystem: "commission", Name: "rule_set_info",
			Help: "1 for the rule-set version in force.",
		}, []string{"version"}),
		dataReloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "reftrack", Subsystem: "commission", Name: "reference_reloads_total",
			Help: "Reloads of the licence registry and the FX rates file by file (licences, fx_rates) and outcome (ok, refused).",
		}, []string{"file", "outcome"}),
	}
	reg.MustRegister(m.clawbackUnknown, m.reloads, m.ruleSetInfo, m.dataReloads)
	return m
}
