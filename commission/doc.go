// Package commission is the stage that turns attributions into money:
// attributions → commissions, as an append-only journal of
// commission.entry records (accruals, reversals, clawbacks, reinstatements,
// adjustments). Nothing is restated: a payee's balance is the sum of its
// entries, and every entry id derives from its cause (UUIDv5), so a replay
// or a redo after an abort posts the very same entries.
//
// Each payee's accrual is its premium share (split by the paid model's
// basis-point weights exactly: floors, then the residue one minor unit at a
// time by largest remainder, ties to the smaller payee key) under the first
// matching rule (rules are data, loaded from a JSON file), rounded half away
// from zero to the currency's minor unit; uplines get override accruals.
// Every entry records how its amount came about: model, weight, rule set
// and rule, base, rate, bands, min/cap, residue.
//
// What the journal must know of each policy (the accruals standing, what
// cancellations clawed back of each, the cancellation in force, the
// chargeback window of the rule set that paid) is state kept through
// worker.State: written in the batch's Kafka transaction to the stage's
// changelog and applied to Redis after the commit. So an aborted batch
// leaves no trace; a crash between commit and apply, or Redis restarted
// empty, is repaired from the changelog before the next batch reads; a new
// attribution version reverses what stands of the one before; a
// cancellation posts only the difference it makes (clawback or
// reinstatement), and a cancellation received before its attribution is
// applied when the attribution arrives. Lines (accruals) and settle are
// pure; ProcessState does the state.
//
// Lifecycle: accruals carry hold_until (the rules' free-look hold_days) and
// may be held by name by a hold rule (a decision entry "hold" posted with
// them, overrides included); decisions (approve, decline) on a direct
// accrual cover the overrides on it. No state is stored for it: Status and
// the ClickHouse view commission_entry_status derive it, and package
// statement pays an entry only in the statement of the period it is
// released in (see commission/README.md, Lifecycle).
//
// Licences and FX (issue #18): with a licence registry (Licences, reloaded
// like the rules), a payee not licensed for a policy's jurisdiction and
// product line on its effective date is paid the jurisdiction's referral
// fee instead of commission (licence_check says why; v1 policies, without
// jurisdiction, are not checked), and so is one licensed but not appointed
// by the policy's carrier (policy.issued v2 carrier) on that date
// (not_appointed:<carrier>). A payee whose id is the policy's
// policyholder_ref referred itself: hold rules read that as self_referral.
// An accrual of a payee paid in another
// currency records the rate snapshot (Rates: rate, source, as-of) and its
// amount in that currency, half even; its corrections record the change of
// the converted standing amount, so payout-currency balances are exact
// sums (PayoutOf). No rate: held fx:missing_rate, never guessed.
package commission
