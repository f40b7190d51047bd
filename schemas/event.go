package schemas

import (
	"encoding/json"
	"fmt"
	"time"
)

// Event types. The first four come from partners; the last two are produced
// inside the pipeline.
const (
	TypeReferralCreated       = "referral.created"
	TypeReferralStatusUpdated = "referral.status_updated"
	TypePolicyIssued          = "policy.issued"
	TypePolicyCancelled       = "policy.cancelled"
	// TypePolicyAgentChanged changes a policy's agent of record for the
	// terms effective on or after a date (see PolicyAgentChanged); like
	// every event of a lead it is keyed LeadKey(partner, lead).
	TypePolicyAgentChanged    = "policy.agent_changed"
	TypeAttributionCalculated = "attribution.calculated"
	TypeCommissionCalculated  = "commission.calculated"
	TypeAttributionCancelled  = "attribution.cancelled"
	// TypeCommissionEntry is one entry of the commission journal (see
	// JournalEntry): what the commission stage writes to commissions.
	TypeCommissionEntry = "commission.entry"
	// TypeAdjustmentRequested asks the commission stage for a manual
	// adjustment entry (see AdjustmentRequested); it travels on the
	// attributions topic, keyed LeadKey(partner, "adjustment:"+request id).
	TypeAdjustmentRequested = "commission.adjustment_requested"
	// TypePeriodClosed closes an accounting period of one partner (or of
	// every partner: PartnerID AllPartners) in the commission stage (see
	// PeriodClosed); it travels on the attributions topic, one record on
	// every partition, since each partition's state records its own closes.
	TypePeriodClosed = "commission.period_closed"
	// TypeDecisionRequested asks the commission stage to approve, decline
	// or hold one accrual (see DecisionRequested); it travels on the attributions
	// topic, keyed LeadKey(partner, lead of the accrual), since a decline
	// reverses what stands of the accrual and that state lives in the
	// lead's partition.
	TypeDecisionRequested = "commission.decision_requested"
)

// AllPartners is the PartnerID of a commission.period_closed that closes
// the period for every partner.
const AllPartners = "*"

// PartnerEventTypes are the types a partner may send; each has a JSON Schema.
var PartnerEventTypes = []string{
	TypeReferralCreated, TypeReferralStatusUpdated, TypePolicyIssued, TypePolicyCancelled,
	TypePolicyAgentChanged,
}

// Envelope is the wire form of every event. Payload stays raw so a stage that
// only routes an event never pays for decoding the part it does not read.
type Envelope struct {
	EventID        string           `json:"event_id"`
	EventType      string           `json:"event_type"`
	SchemaVersion  int              `json:"schema_version"`
	OccurredAt     time.Time        `json:"occurred_at"`
	ReceivedAt     *time.Time       `json:"received_at,omitempty"`
	PartnerID      string           `json:"partner_id"`
	LeadID         string           `json:"lead_id"`
	IdempotencyKey string           `json:"idempotency_key,omitempty"`
	Payload        json.RawMessage  `json:"payload"`
	Trace          map[string]int64 `json:"trace,omitempty"`
}

// Referrer types accepted in referral.created.
const (
	ReferrerAgent    = "agent"
	ReferrerBroker   = "broker"
	ReferrerPartner  = "partner"
	ReferrerCustomer = "customer"
	ReferrerCampaign = "campaign"
)

// Referrer is who gets credit for a touchpoint.
type Referrer struct {
	ID   string `json:"id"`
	Type string `json:"type"`
}

// Contact is the lead's personal data (PII).
type Contact struct {
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
	Phone string `json:"phone,omitempty"`
}

// ReferralCreated is the payload of referral.created: one touchpoint.
type ReferralCreated struct {
	Referrer        Referrer `json:"referrer"`
	Channel         string   `json:"channel"`
	Lead            Contact  `json:"lead"`
	ProductInterest string   `json:"product_interest,omitempty"`
	ReferralToken   string   `json:"referral_token,omitempty"`
}

// Lead lifecycle statuses.
const (
	StatusNew       = "new"
	StatusContacted = "contacted"
	StatusQuoted    = "quoted"
	StatusApplied   = "applied"
	StatusBound     = "bound"
	StatusLost      = "lost"
)

// ReferralStatusUpdated is the payload of referral.status_updated.
type ReferralStatusUpdated struct {
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
}

// Sale types of policy.issued.
const (
	SaleNewBusiness = "new_business"
	SaleRenewal     = "renewal"
	// SaleInstallment is as-earned commission on one premium installment
	// collected (v2): PolicyIssued.Installment says which and its premium.
	SaleInstallment = "installment"
)

// Installment is the premium installment a policy.issued of sale type
// installment pays commission on; its EffectiveDate and TermMonths are
// the period the installment pays for.
type Installment struct {
	Number  int    `json:"number"`  // 1 for the first
	Of      int    `json:"of"`      // how many the policy is paid in, ≥ Number
	Premium string `json:"premium"` // decimal string like AnnualPremium: the commission's base
}

// PolicyIssued is the payload of policy.issued: the conversion. One type
// serves every schema version: fields a version adds are omitempty, so a
// v1 event encodes as it always did.
type PolicyIssued struct {
	PolicyID      string `json:"policy_id"`
	ProductLine   string `json:"product_line"`
	AnnualPremium string `json:"annual_premium"` // decimal string, never a float
	Currency      string `json:"currency"`       // ISO 4217
	TermMonths    int    `json:"term_months"`
	EffectiveDate string `json:"effective_date"` // YYYY-MM-DD
	SaleType      string `json:"sale_type"`
	// Jurisdiction is the ISO 3166-2 subdivision the policy is written in
	// (e.g. US-CA); required from v2, empty in v1.
	Jurisdiction string `json:"jurisdiction,omitempty"`
	// AgentOfRecord is the referrer id of the policy's agent of record
	// (v2, optional): renewals, and issues no touch is credited for, are
	// attributed to it.
	AgentOfRecord string `json:"agent_of_record,omitempty"`
	// PolicyholderRef is the partner's opaque id of the insured person
	// (v2, optional), in the id space of its referrer ids: a payee of that
	// id referred itself. A person identifier: the sink keeps it out of
	// ClickHouse (PRIVACY.md).
	PolicyholderRef string `json:"policyholder_ref,omitempty"`
	// Carrier is the carrier writing the policy (v2, optional): a payee
	// the licence registry knows needs an appointment with it.
	Carrier string `json:"carrier,omitempty"`
	// Installment is set exactly when SaleType is SaleInstallment (v2).
	Installment *Installment `json:"installment,omitempty"`
}

// Period is the span p pays for: from its effective date to end, the day
// after its last day (the effective date plus term months). attribute
// cancels the conversions whose period ends after a cancellation, and
// commission claws back the days between the two, so both read it here.
func (p PolicyIssued) Period() (start, end time.Time, err error) {
	start, err = time.Parse(time.DateOnly, p.EffectiveDate)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("effective_date %q: %w", p.EffectiveDate, err)
	}
	return start, start.AddDate(0, p.TermMonths, 0), nil
}

// PolicyAgentChanged is the payload of policy.agent_changed: from
// EffectiveDate on, AgentOfRecord is the policy's agent of record.
type PolicyAgentChanged struct {
	PolicyID      string `json:"policy_id"`
	AgentOfRecord string `json:"agent_of_record"` // a referrer id
	EffectiveDate string `json:"effective_date"`  // YYYY-MM-DD
}

// PolicyCancelled is the payload of policy.cancelled.
type PolicyCancelled struct {
	PolicyID    string `json:"policy_id"`
	CancelledOn string `json:"cancelled_on"` // YYYY-MM-DD
	Reason      string `json:"reason,omitempty"`
}

// Touch is one referral.created of a lead as attribution sees it: who
// referred, through which channel, when. attribute keeps a lead's touches
// in its state in this form and weighs them.
type Touch struct {
	EventID      string    `json:"event_id"`
	ReferrerID   string    `json:"referrer_id"`
	ReferrerType string    `json:"referrer_type"`
	Channel      string    `json:"channel"`
	OccurredAt   time.Time `json:"occurred_at"`
	ReceivedAt   time.Time `json:"received_at"`
}

// Touchpoint is a Touch with the credit each model gives it, in basis
// points. Touch is embedded, so its fields encode inline, first, as they
// did when Touchpoint spelled them out.
type Touchpoint struct {
	Touch
	// Excluded touches (e.g. a customer's self-referral) are listed for the
	// audit trail with zero weight in every model.
	Excluded bool           `json:"excluded,omitempty"`
	Weights  map[string]int `json:"weights_bp"`
}

// AttributionCalculated is the payload of attribution.calculated: which
// touchpoints share the credit for one policy.issued. For every model the
// touchpoints' weights sum to exactly 10 000 basis points; with no touchpoint
// the list is empty and nobody is paid.
//
// A touchpoint that arrives after its conversion was attributed (within the
// grace period) yields a corrected attribution with the same event_id and a
// higher Version, which supersedes the earlier one; Version is the latest
// ingest time (Unix ms) among the conversion and the touches it counts, so a
// replay yields the same version (times 1024 plus the number of touches, so a
// growing touch set always raises it).
type AttributionCalculated struct {
	Version       int64        `json:"version"`
	PolicyEventID string       `json:"policy_event_id"`
	Policy        PolicyIssued `json:"policy"`
	PaidModel     string       `json:"paid_model"`
	// ModelVersion is the version of the trained data-driven model (markov
	// or shapley, see attribute/README.md) whose weights the touchpoints
	// carry under its method's name; empty when none does.
	ModelVersion string       `json:"model_version,omitempty"`
	Touchpoints  []Touchpoint `json:"touchpoints"`
}

// AttributionCancelled is the payload of attribution.cancelled: attribute
// forwards a policy.cancelled of a policy it attributed, so that commission
// can claw back what it paid for AttributionID.
type AttributionCancelled struct {
	AttributionID string       `json:"attribution_id"`
	PolicyEventID string       `json:"policy_event_id"`
	CancelEventID string       `json:"cancel_event_id"`
	Policy        PolicyIssued `json:"policy"`
	CancelledOn   string       `json:"cancelled_on"` // YYYY-MM-DD
}

// CommissionCalculated is the payload of commission.calculated: one payee's
// line for one policy. Amounts are integer minor units of Currency.
//
// Every referrer among the attribution's touchpoints gets a line, zero for
// those the paid model gives no credit, so that a corrected attribution
// (higher AttributionVersion, same line ids) overwrites every earlier line.
type CommissionCalculated struct {
	AttributionID      string `json:"attribution_id"`
	AttributionVersion int64  `json:"attribution_version"`
	PolicyID           string `json:"policy_id"`
	PayeeID            string `json:"payee_id"`
	PayeeType          string `json:"payee_type"`
	ProductLine        string `json:"product_line"`
	SaleType           string `json:"sale_type"`
	Currency           string `json:"currency"`
	PremiumMinor       int64  `json:"premium_minor"`
	PolicyCommission   int64  `json:"policy_commission_minor"` // sum of the policy's commission lines
	WeightBP           int    `json:"weight_bp"`
	AmountMinor        int64  `json:"amount_minor"`
	RuleSetVersion     string `json:"rule_set_version"`
	RuleID             string `json:"rule_id"`
	Model              string `json:"model"`
	// Kind is "commission", "override" (an upline's share of SourceLineID)
	// or "clawback" (negative, reversing part of SourceLineID).
	Kind         string `json:"kind"`
	SourceLineID string `json:"source_line_id,omitempty"`
}

// Journal entry kinds. Every change of money is a new entry of one kind;
// nothing is restated.
const (
	EntryAccrual       = "accrual"       // what an attribution version earns a payee
	EntryReversal      = "reversal"      // takes back what still stands of an accrual a newer version supersedes
	EntryClawback      = "clawback"      // negative: what a cancellation makes unearned of an accrual
	EntryReinstatement = "reinstatement" // positive: a clawback undone by a later cancellation date
	EntryAdjustment    = "adjustment"    // manual, with actor and reason
	// EntryDecision records an approval or decline of an accrual (amount 0,
	// Corrects the accrual, Decision, Actor, Reason); a decline is followed
	// by a reversal of what stands of the accrual.
	EntryDecision = "decision"
)

// Decisions on an accrual (JournalEntry.Decision): an admin approves or
// declines; a hold keeps it from every statement until one of those (a
// hold rule's, or one a scheduled fraud rule requests, e.g. velocity).
const (
	DecisionApprove = "approve"
	DecisionDecline = "decline"
	DecisionHold    = "hold"
)

// JournalEntry is the payload of commission.entry: one change of one
// payee's money, in integer minor units of Currency (signed). The balance
// of a payee is the sum of its entries; an entry is never superseded.
// EntryID derives from the entry's cause (UUIDv5), so a replay or a redo
// writes the same id and ClickHouse keeps it once.
//
// The fields after LeadID say why the amount is what it is, so that a
// payee can be shown the derivation.
type JournalEntry struct {
	EntryID     string `json:"entry_id"`
	Kind        string `json:"kind"`
	PayeeID     string `json:"payee_id"`
	PayeeType   string `json:"payee_type"`
	Currency    string `json:"currency"`
	AmountMinor int64  `json:"amount_minor"`
	// Period is the accounting period the entry is posted in (YYYY-MM): the
	// UTC month of its cause record's received_at, so a replay posts it in
	// the same period.
	Period string `json:"period"`
	// Corrects is the entry a reversal, clawback or reinstatement corrects
	// (an accrual).
	Corrects           string `json:"corrects,omitempty"`
	CauseID            string `json:"cause_id"` // the event that caused it: attribution, cancellation or adjustment request
	AttributionID      string `json:"attribution_id,omitempty"`
	AttributionVersion int64  `json:"attribution_version,omitempty"`
	PolicyID           string `json:"policy_id,omitempty"`
	PartnerID          string `json:"partner_id"`
	LeadID             string `json:"lead_id"`
	ProductLine        string `json:"product_line,omitempty"`
	SaleType           string `json:"sale_type,omitempty"`

	Model          string `json:"model,omitempty"`            // the paid attribution model
	ModelVersion   string `json:"model_version,omitempty"`    // of a trained data-driven paid model
	WeightBP       int    `json:"weight_bp,omitempty"`        // the payee's credit under it
	RuleSetVersion string `json:"rule_set_version,omitempty"` // of the rules that paid
	RuleID         string `json:"rule_id,omitempty"`
	PremiumMinor   int64  `json:"premium_minor,omitempty"` // the policy's
	// BaseMinor is what the rate applied to: the payee's premium share,
	// or for an override the accrual it is a share of.
	BaseMinor int64  `json:"base_minor,omitempty"`
	Rate      string `json:"rate,omitempty"` // percent as the rule states it; "flat" for a flat amount
	// Band lists the marginal bands used, "percent@minor units in band".
	Band       string `json:"band,omitempty"`
	MinApplied bool   `json:"min_applied,omitempty"`
	CapApplied bool   `json:"cap_applied,omitempty"`
	// ResidueMinor is the rounding residue the split gave this payee's
	// premium share (0 or a few minor units).
	ResidueMinor  int64  `json:"residue_minor,omitempty"`
	OverrideLevel int    `json:"override_level,omitempty"`  // 1 for the first upline, …; 0 for a direct accrual
	SourceEntryID string `json:"source_entry_id,omitempty"` // the direct accrual an override is a share of
	// CancelledOn is the cancellation date a clawback or reinstatement
	// brought the accrual to.
	CancelledOn string `json:"cancelled_on,omitempty"`
	// HoldUntil is the end of an accrual's holding period (free look),
	// YYYY-MM-DD: its policy's effective date plus the hold_days of the
	// rule set that paid it for its product line. Until then the accrual
	// is held; from then on approved unless a decision says otherwise (see
	// commission/README.md, Lifecycle). Empty before the lifecycle existed.
	HoldUntil string `json:"hold_until,omitempty"`
	// LicenceCheck says how the licence registry judged a direct or
	// override accrual of a policy with a jurisdiction:
	// "licensed:<jurisdiction>:<line>", or "unlicensed:<jurisdiction>:<line>"
	// when the payee held no licence for it on the policy's effective date
	// (it is then paid the jurisdiction's referral fee, not commission).
	// Empty when no check ran (no registry, or a policy without jurisdiction).
	LicenceCheck string `json:"licence_check,omitempty"`
	// PayoutCurrency is the payee's payout currency when it differs from
	// Currency, and PayoutAmountMinor the amount in it (minor units, half
	// even): for an accrual AmountMinor × FXRate; for a correction the
	// change it makes to its accrual's standing amount in the payout
	// currency, so an accrual and its corrections sum there to the
	// conversion of what stands. FXRate (a decimal string, never a float:
	// payout currency units per unit of Currency), FXSource and FXAsOf
	// (RFC 3339) are the rate snapshot the accrual was converted with; an
	// accrual without FXRate but with PayoutCurrency had no rate (held
	// fx:missing_rate).
	PayoutCurrency    string `json:"payout_currency,omitempty"`
	PayoutAmountMinor int64  `json:"payout_amount_minor,omitempty"`
	FXRate            string `json:"fx_rate,omitempty"`
	FXSource          string `json:"fx_source,omitempty"`
	FXAsOf            string `json:"fx_as_of,omitempty"`

	Actor  string `json:"actor,omitempty"`  // adjustments: who
	Reason string `json:"reason,omitempty"` // adjustments, decisions and decline reversals: why
	// Decision is a decision entry's DecisionApprove or DecisionDecline.
	Decision string `json:"decision,omitempty"`

	// Chain, ChainSeq, PrevHash and Hash make the journal tamper-evident:
	// entries are hash-chained per commission input partition (Chain), in
	// the order the stage emits them (ChainSeq, from 1, no gaps). Hash is
	// hex(SHA-256(PrevHash || canonical bytes)), the canonical bytes being
	// this struct encoded by Encode with PrevHash and Hash empty; PrevHash
	// is the Hash of the entry before it in the chain ("" for the first).
	// See commission/audit. Entries written before the chain have ChainSeq 0.
	Chain    int32  `json:"chain,omitempty"`
	ChainSeq int64  `json:"chain_seq,omitempty"`
	PrevHash string `json:"prev_hash,omitempty"`
	Hash     string `json:"hash,omitempty"`
}

// AdjustmentRequested is the payload of commission.adjustment_requested:
// a person asks for one payee's balance to change by AmountMinor (signed).
// RequestID names the request: the stage posts one adjustment entry per
// (partner, request id), however often the request is sent.
type AdjustmentRequested struct {
	RequestID   string `json:"request_id"`
	PayeeID     string `json:"payee_id"`
	PayeeType   string `json:"payee_type"`
	Currency    string `json:"currency"`
	AmountMinor int64  `json:"amount_minor"`
	PolicyID    string `json:"policy_id,omitempty"` // what it is about, if one policy
	Actor       string `json:"actor"`
	Reason      string `json:"reason"`
}

// DecisionRequested is the payload of commission.decision_requested: a
// person approves or declines the accrual EntryID of AttributionID, or a
// scheduled fraud rule holds it. The stage posts one decision per
// (partner, request id), however often the request is sent.
type DecisionRequested struct {
	RequestID     string `json:"request_id"`
	EntryID       string `json:"entry_id"`
	AttributionID string `json:"attribution_id"`
	Decision      string `json:"decision"` // DecisionApprove, DecisionDecline or DecisionHold
	Actor         string `json:"actor"`
	Reason        string `json:"reason"`
}

// PeriodClosed is the payload of commission.period_closed: from this
// record on, no entry of the envelope's partner (every partner for
// AllPartners) posts in Period (YYYY-MM); an entry whose own period is
// closed posts in the first open period after it. A closed period is never
// reopened.
type PeriodClosed struct {
	Period    string `json:"period"` // YYYY-MM
	RequestID string `json:"request_id"`
	Actor     string `json:"actor"`
	// Partitions is how many partitions of attributions the request was
	// written to (all of them): the period is closed everywhere once the
	// sink has seen the request on that many (commission_period_closes).
	Partitions int32 `json:"partitions"`
}

// Reason is one thing wrong with a rejected record. Pointer is a JSON pointer
// into the original record ("" for the whole record).
type Reason struct {
	Code    string `json:"code"`
	Pointer string `json:"pointer"`
	Message string `json:"message"`
}

// Rejection is the value of every record on the dead-letter topic. Original is
// the rejected record's value byte for byte, so a fixed record can be re-driven.
type Rejection struct {
	Stage           string   `json:"stage"`
	Reasons         []Reason `json:"reasons"`
	SourceTopic     string   `json:"source_topic"`
	SourcePartition int32    `json:"source_partition"`
	SourceOffset    int64    `json:"source_offset"`
	Key             []byte   `json:"key,omitempty"`
	Original        []byte   `json:"original"`
	// A record too large to forward (reason too_large) keeps only a prefix
	// of its original, since the dead letter must fit on the topic too;
	// these say what the whole was. Re-drive needs the partner to resend.
	OriginalSize      int64     `json:"original_size,omitempty"`
	OriginalSHA256    string    `json:"original_sha256,omitempty"`
	OriginalTruncated bool      `json:"original_truncated,omitempty"`
	FailedAt          time.Time `json:"failed_at"`
}
