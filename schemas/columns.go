package schemas

// commissionEntryColumns: see CommissionEntryColumns.
var commissionEntryColumns = []string{
	"entry_id", "kind", "payee_id", "payee_type", "currency", "amount_minor",
	"period", "posted_at", "corrects", "cause_id", "attribution_id", "attribution_version", "policy_id", "partner_id", "lead_id",
	"product_line", "sale_type", "model", "weight_bp", "rule_set_version", "rule_id", "premium_minor", "base_minor", "rate", "band",
	"min_applied", "cap_applied", "residue_minor", "override_level", "source_entry_id", "cancelled_on", "actor", "reason",
	"chain", "chain_seq", "prev_hash", "hash", "hold_until", "decision",
	"licence_check", "payout_currency", "payout_amount_minor", "fx_rate", "fx_source", "fx_as_of", "model_version",
	"kafka_topic", "kafka_partition", "kafka_offset",
}

// CommissionEntryColumns are the columns of ClickHouse's commission_entries
// (migrations 0005 on) that a journal entry fills, in the order the sink
// writes its values: every field of the entry's hashed form, so that verify
// can recompute each hash from its row, then the record's Kafka position.
// The one list: the sink inserts with it, and tests that write entries
// without the sink (a stage imports no other stage) use it too, so a
// migration's new column is added here once. A copy: callers may keep it.
func CommissionEntryColumns() []string {
	return append([]string(nil), commissionEntryColumns...)
}
