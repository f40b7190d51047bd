package attribute

import (
	"slices"
	"strings"
	"time"

	"github.com/reftrack/reftrack/schemas"
)

// AgentOfRecord is the paid model of a conversion credited wholly to its
// policy's agent of record (a renewal, or an issue no touch is credited
// for): one touchpoint, the agent, with weight TotalBP under this name.
const AgentOfRecord = "agent_of_record"

// policyState is what the stage keeps of one policy of a lead beyond its
// conversions: cancellations that arrived before the policy was issued,
// and who its agent of record is.
type policyState struct {
	// Parked are cancellations that arrived before any conversion of the
	// policy, in arrival order, at most one per cancelled_on date; they are
	// forwarded when the policy is issued.
	Parked []parkedCancellation `json:"parked,omitempty"`
	// Agents are the policy's agents of record by the date each became
	// it, ascending, at most one per date: named by a policy.issued (from
	// its effective date) or by a policy.agent_changed.
	Agents []agentSpell `json:"agents,omitempty"`
}

// agentSpell says that Agent is the agent of record of the terms effective
// on or after From (until the next spell's From).
type agentSpell struct {
	Agent   string `json:"agent"`
	From    string `json:"from"`     // YYYY-MM-DD
	EventID string `json:"event_id"` // the event that named it, for the audit trail
}

// parkedCancellation is what a forwarded cancellation needs of a
// policy.cancelled: the partner and lead are those of the state it is
// kept in.
type parkedCancellation struct {
	EventID     string     `json:"event_id"`
	OccurredAt  time.Time  `json:"occurred_at"`
	ReceivedAt  *time.Time `json:"received_at,omitempty"`
	CancelledOn string     `json:"cancelled_on"`
	Reason      string     `json:"reason,omitempty"`
}

// policy is the state of policyID, created on first use.
func (l *lead) policy(policyID string) *policyState {
	if l.policies == nil {
		l.policies = map[string]*policyState{}
	}
	p := l.policies[policyID]
	if p == nil {
		p = &policyState{}
		l.policies[policyID] = p
	}
	return p
}

// park keeps c until its policy is issued and says whether it did: a
// cancellation of a date already parked is a resend and is not kept again.
func (l *lead) park(c cancellation) bool {
	p := l.policy(c.p.PolicyID)
	if slices.ContainsFunc(p.Parked, func(x parkedCancellation) bool { return x.CancelledOn == c.p.CancelledOn }) {
		return false
	}
	p.Parked = append(p.Parked, parkedCancellation{EventID: c.env.EventID, OccurredAt: c.env.OccurredAt,
		ReceivedAt: c.env.ReceivedAt, CancelledOn: c.p.CancelledOn, Reason: c.p.Reason})
	l.policiesDirty = true
	return true
}

// unpark removes and returns the cancellations parked for policyID, as the
// policy.cancelled events they were parked from, in arrival order.
func (l *lead) unpark(partnerID, leadID, policyID string) []cancellation {
	p := l.policies[policyID]
	if p == nil || len(p.Parked) == 0 {
		return nil
	}
	out := make([]cancellation, 0, len(p.Parked))
	for _, x := range p.Parked {
		out = append(out, cancellation{
			env: schemas.Envelope{EventID: x.EventID, EventType: schemas.TypePolicyCancelled, SchemaVersion: 1,
				OccurredAt: x.OccurredAt, ReceivedAt: x.ReceivedAt, PartnerID: partnerID, LeadID: leadID},
			p: schemas.PolicyCancelled{PolicyID: policyID, CancelledOn: x.CancelledOn, Reason: x.Reason},
		})
	}
	p.Parked = nil
	if p.empty() {
		delete(l.policies, policyID)
	}
	l.policiesDirty = true
	return out
}

// empty says whether p holds nothing worth keeping.
func (p *policyState) empty() bool { return len(p.Parked) == 0 && len(p.Agents) == 0 }

// setAgent records that s.Agent is policyID's agent of record from s.From
// on; a later word on the same date replaces the earlier one.
func (l *lead) setAgent(policyID string, s agentSpell) {
	p := l.policy(policyID)
	i, found := slices.BinarySearchFunc(p.Agents, s.From, func(x agentSpell, from string) int { return strings.Compare(x.From, from) })
	switch {
	case found && p.Agents[i] == s:
		return
	case found:
		p.Agents[i] = s
	default:
		p.Agents = slices.Insert(p.Agents, i, s)
	}
	l.policiesDirty = true
}

// changeAgent applies a policy.agent_changed: the agent is of record for
// the terms effective on or after its date, not for those already
// attributed.
func (l *lead) changeAgent(c agentChange) {
	l.setAgent(c.p.PolicyID, agentSpell{Agent: c.p.AgentOfRecord, From: c.p.EffectiveDate, EventID: c.env.EventID})
}

// agentOf is policyID's agent of record for a term effective on date: the
// spell that began last on or before it, or nil when none had begun.
// Dates are YYYY-MM-DD, so they compare as strings.
func (l *lead) agentOf(policyID, date string) *agentSpell {
	p := l.policies[policyID]
	if p == nil {
		return nil
	}
	var at *agentSpell
	for i := range p.Agents {
		if p.Agents[i].From <= date {
			s := p.Agents[i]
			at = &s
		}
	}
	return at
}
