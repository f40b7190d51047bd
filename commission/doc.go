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
package commission
