// Package attribute is the stage that decides who gets credit for a sale:
// referrals.unique → attributions.
//
// Every referral.created is a touchpoint, kept in Redis per lead of a
// partner (a sorted set scored by occurred_at with member = event_id, plus a
// hash of details), so re-processing a batch rewrites the same members. On
// policy.issued the touchpoints of that partner's lead that occurred no
// later than the policy and within the lookback window are read back and
// weighed by each model; one attribution.calculated is emitted per
// conversion, with an id derived from the partner and the policy event's id
// so a replay produces the same record.
//
// All state is tenant-scoped: a lead id or event id means nothing without
// its partner, so another partner's touch of a lead with the same id never
// takes credit. Cross-partner credit, where wanted, may come only through a
// verified referral token, never through a shared lead id. Because the
// filter is by event time, not arrival, the result does not depend on how
// records are split into batches. Touchpoints arriving after their policy
// are not re-attributed yet (see the multi-touch issue).
package attribute
