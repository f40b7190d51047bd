// Package attribute is the stage that decides who gets credit for a sale:
// referrals.unique → attributions.
//
// Every referral.created is a touchpoint of its lead; every policy.issued a
// conversion. Both are kept per tenant-scoped lead in the runtime's
// worker.State (see state.go for the layout), never in Redis directly: a
// batch's changes are produced to the stage's changelog topic inside the
// batch's Kafka transaction and reach Redis only after it commits, so an
// aborted batch leaves nothing behind and its redo reads what the first
// attempt read, and Redis restarted empty is restored from the changelog
// before the next batch reads. Processing is a deterministic function of
// (state, batch): records are applied one after the other, so the output
// does not depend on where batches are cut either.
//
// On policy.issued the touchpoints of the lead that occurred no later than
// the policy and within the lookback window are weighed by each model, and
// one attribution.calculated is emitted under an id derived from the
// conversion itself: partner, policy id, sale type and effective date (a
// renewal is another conversion of the same policy id). A resend of the
// same conversion under another event id is recognised by that id and
// emits nothing unless the attribution changed; a touch that arrives late
// for a conversion re-emits it under the same id with a higher version.
// Versions only grow. A policy.cancelled is forwarded as
// attribution.cancelled under an id derived from the conversion it cancels
// and the cancellation date, once per date; one that arrives before its
// policy.issued is parked in the lead's state and forwarded, right after
// the attribution, when the policy is issued.
//
// A renewal, or a policy.issued no touch is credited for, is attributed
// wholly to the policy's agent of record (model agent_of_record) when one
// is known: named by the policy.issued (v2) or remembered in the lead's
// policy state from an earlier issue or a policy.agent_changed.
//
// A trained data-driven model (markov or shapley, published by the
// datadriven command) may be the paid model: its channel credits become
// exact per-touch basis points (payout.go) and the attribution records the
// model's version; a conversion none of whose channels it credits is paid by
// the configured fallback model. The model file is validated at start and
// polled for new versions; a batch redone after a reload is weighed by the
// model then in force, as with any reconfiguration.
//
// All state is tenant-scoped: a lead id or event id means nothing without
// its partner, so another partner's touch of a lead with the same id never
// takes credit. Cross-partner credit, where wanted, may come only through a
// verified referral token, never through a shared lead id.
package attribute
