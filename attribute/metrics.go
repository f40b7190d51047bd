package attribute

import "github.com/prometheus/client_golang/prometheus"

// Metrics of the attribute stage. They count attempts: a batch redone after
// an aborted transaction counts again.
type Metrics struct {
	unattributed prometheus.Counter
	pruned       prometheus.Counter
	reattributed prometheus.Counter
	// conversions credited to the policy's agent of record
	agentOfRecord prometheus.Counter
	// cancellations of policies not issued (yet), parked until they are
	parked prometheus.Counter
	// resends (by event type) of a conversion or cancellation already seen
	resent *prometheus.CounterVec
	// data-driven paid conversions whose channels the trained model does not know
	dataDrivenFallbacks prometheus.Counter
	// the trained model in force (value 1), and its reloads by result
	trainedInfo    *prometheus.GaugeVec
	trainedReloads *prometheus.CounterVec
}

// NewMetrics registers the attribute metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		unattributed: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "reftrack", Subsystem: "attribute", Name: "unattributed_total",
			Help: "Conversions with no creditable touchpoint: nobody is paid for them.",
		}),
		pruned: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "reftrack", Subsystem: "attribute", Name: "touchpoints_pruned_total",
			Help: "Oldest touchpoints dropped because a lead exceeded --max-touches.",
		}),
		reattributed: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "reftrack", Subsystem: "attribute", Name: "reattributions_total",
			Help: "Corrected attributions emitted because a touchpoint arrived after its conversion.",
		}),
		agentOfRecord: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "reftrack", Subsystem: "attribute", Name: "agent_of_record_total",
			Help: "Attributions emitted crediting the policy's agent of record (a renewal, or a sale no touch is credited for).",
		}),
		parked: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "reftrack", Subsystem: "attribute", Name: "parked_cancellations_total",
			Help: "policy.cancelled events parked because their policy has no remembered conversion yet; forwarded when it is issued.",
		}),
		resent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "reftrack", Subsystem: "attribute", Name: "resends_total",
			Help: "policy.issued of a conversion already kept, or policy.cancelled already forwarded, under another event id: the same ids, re-emitted only when the attribution changed.",
		}, []string{"event_type"}),
		dataDrivenFallbacks: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "reftrack", Subsystem: "attribute", Name: "datadriven_fallbacks_total",
			Help: "Attributions to be paid by the trained data-driven model whose touches' channels it credits none of: paid by --datadriven-fallback.",
		}),
	}
	m.trainedInfo = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "reftrack", Subsystem: "attribute", Name: "datadriven_model_info",
		Help: "1 for the trained data-driven model in force, by method and version.",
	}, []string{"method", "version"})
	m.trainedReloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "reftrack", Subsystem: "attribute", Name: "datadriven_reloads_total",
		Help: "Changed trained model files read by the reloader, by result: ok (swapped in) or refused (the running model stays).",
	}, []string{"result"})
	reg.MustRegister(m.unattributed, m.pruned, m.reattributed, m.parked, m.agentOfRecord, m.resent, m.dataDrivenFallbacks,
		m.trainedInfo, m.trainedReloads)
	return m
}
