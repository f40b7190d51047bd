// Package commission is the stage that turns attributions into money:
// attributions → commissions, one commission.calculated per payee.
//
// The policy's commission is premium × the rate of the first matching rule
// (rules are data, loaded from a JSON file), rounded half away from zero to
// the currency's minor unit. It is split by the paid model's basis-point
// weights; every line is floored and the residue is handed out one minor
// unit at a time by largest remainder, ties to the smaller payee key, so the
// lines always sum exactly to the policy commission. Every line carries the
// rule-set version and rule id that produced it, and a line id derived from
// the attribution and payee, so a replay rewrites the same line.
//
// What was paid for an attribution (its line ids, the chargeback window of
// the rule set that paid, what cancellations took back per line) is state
// kept through worker.State: written in the batch's Kafka transaction to the
// stage's changelog and applied to Redis after the commit. So an aborted
// batch leaves no trace and its redo writes the same lines; a crash between
// commit and apply, or Redis restarted empty, is repaired from the changelog
// before the next batch reads; and a cancellation claws back under the rules
// that paid, only what it newly makes unearned, however often it comes.
// Lines and Clawbacks are pure; ProcessState does the state.
package commission
