package commission

import "github.com/reftrack/reftrack/schemas"

// selfReferral says whether payeeID is the insured of policy p: the
// partner's id of its policyholder (policy.issued v2 policyholder_ref) is
// the payee's referrer id. Both are the same partner's ids: an attribution
// credits only its own partner's referrers, so no partner is needed here.
// A policy naming no policyholder is never a self-referral, since nothing
// can be known.
//
// The type is not compared: a partner that keeps customers and agents in
// one id space catches an agent insuring itself too, and rules that want
// customers only say `self_referral && payee_type == "customer"`.
func selfReferral(p schemas.PolicyIssued, payeeID string) bool {
	return p.PolicyholderRef != "" && p.PolicyholderRef == payeeID
}
