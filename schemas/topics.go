package schemas

// Topic names without prefix. Every record is keyed by the tenant-scoped lead
// (LeadKey: partner_id|lead_id) so that all events of one partner's lead
// share a partition and keep their order.
const (
	// TopicInbound is where partners publish raw events to Kafka directly.
	TopicInbound = "referrals.inbound"
	// TopicIngested holds every event ingest accepted as JSON, from HTTP and Kafka.
	TopicIngested = "referrals.ingested"
	// TopicValid holds schema-valid events.
	TopicValid = "referrals.valid"
	// TopicRejected is the dead-letter topic of every stage; see Rejection.
	TopicRejected = "referrals.rejected"
	// TopicUnique holds valid events with duplicates removed.
	TopicUnique = "referrals.unique"
	// TopicAttributions holds one attribution.calculated per conversion.
	TopicAttributions = "attributions"
	// TopicCommissions is the commission journal: one commission.entry per
	// change of money (accrual, reversal, clawback, reinstatement,
	// adjustment), never restated; commission.calculated lines written
	// before the journal may still sit on it.
	TopicCommissions = "commissions"
)

// StatefulStages are the stages whose state decides money and so is kept
// in a changelog topic (see ChangelogTopic) as well as in Redis.
var StatefulStages = []string{"dedupe", "attribute", "commission"}

// ChangelogTopic is the unprefixed changelog topic of a stage's state: the
// truth Redis is restored from. Create it compacted, with as many
// partitions as the stage's input topic (state is co-partitioned with it).
func ChangelogTopic(stage string) string { return "reftrack." + stage + ".changelog" }

// AllTopics lists every topic reftrack reads or writes, with prefix applied,
// so dev brokers and ops scripts can create them up front.
func AllTopics(prefix string) []string {
	names := []string{TopicInbound, TopicIngested, TopicValid, TopicRejected,
		TopicUnique, TopicAttributions, TopicCommissions}
	for _, s := range StatefulStages {
		names = append(names, ChangelogTopic(s))
	}
	for i, n := range names {
		names[i] = prefix + n
	}
	return names
}
