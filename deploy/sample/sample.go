// Package sample generates realistic referral traffic for the demo, the
// end-to-end test and benchmarks, together with an oracle: what ClickHouse
// must hold once the pipeline has processed it, computed from the generated
// input alone (never from the pipeline's output or code).
//
// Partners may use the same lead ids and event ids (Options.SharedLeadFraction,
// Options.SharedEventIDFraction): the oracle keys every lead by (partner_id,
// lead_id) and every event by (partner_id, event_id), so a pipeline that mixes
// two partners' leads up pays the wrong referrers and disagrees with it.
//
// With the reference data commission runs with (Options.Reference,
// LoadReference: licences and FX rates), it also makes the cases of issue
// #18 — v2 policies renewed to their agent of record, referrers unlicensed
// in the policy's jurisdiction paid the referral fee, agents not appointed
// by the policy's carrier paid it too, a banned referrer's accruals and a
// customer's referral of its own policy held by name, a payee paid out in
// another currency — priced by
// the oracle's own reading of commission/README.md, never by package
// commission.
package sample

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/reftrack/reftrack/schemas"
)

// Options shape a data set.
type Options struct {
	Events        int     // records to send in all, duplicates and invalid ones included
	DuplicateRate float64 // share of records that are copies of earlier valid ones
	InvalidRate   float64 // share of records that must be rejected
	HTTPShare     float64 // share of leads sent over the HTTP API instead of Kafka
	Seed          uint64
	Start         time.Time // occurred_at of the first event
	LeadPrefix    string    // of lead ids; data sets sent to one pipeline need their own
	// Partners send the leads; empty means the four demo partners.
	Partners []string
	// SharedLeadFraction is the chance that a lead id one partner uses is
	// used again by another partner for a lead of its own (other referrers,
	// its own life, its events interleaved in time with the first one's).
	// Partners may share ids: the pipeline must keep the two leads, and
	// their money, apart.
	SharedLeadFraction float64
	// SharedEventIDFraction is the chance that an event of such a second
	// lead carries, as its own event_id (and idempotency key, if the first
	// had one), the id of the first lead's event of the same type and rank.
	SharedEventIDFraction float64
	// Reference is the licence registry and FX rates commission runs with
	// (LoadReference); nil runs the generator without the cases of issue
	// #18 below, whatever their fractions.
	Reference *Reference
	// V2Fraction is the chance that a converted lead's policy.issued is v2:
	// in USD, written in a jurisdiction of the registry, naming one of its
	// agents agent of record, and renewed (v2, sale_type renewal) 100 days
	// after the lead's last event, past every touch's lookback, so the
	// renewal is paid to the agent of record. Its referrers are in no
	// registry: the last touch is paid the jurisdiction's referral fee.
	V2Fraction float64
	// BannedFraction is the chance that a referred lead's last touch is a
	// payee the rules' holds ban (`payee in [...]`): its accruals are held
	// by name, a decision entry each, and still journaled.
	BannedFraction float64
	// SelfReferralFraction is the chance that a referred lead's last touch
	// is a customer who then insures itself: its policy is v2 and names
	// that customer policyholder (policyholder_ref), so a `self_referral`
	// hold of the rules holds the customer's accrual (when positive).
	SelfReferralFraction float64
	// InstallmentFraction is the chance that a v2 policy is paid monthly:
	// instead of its renewal, its first 2 to 4 installments of 12 (v2,
	// sale_type installment, a twelfth of the annual premium each, paid to
	// the agent of record) and, for those whose agent is paid in the
	// policy's currency and held by no rule, a cancellation ten days into
	// the last installment's month.
	InstallmentFraction float64
}

// DefaultOptions are the demo's: 10 000 records, ~5 % duplicates, ~2 % invalid,
// one lead id in twenty also used by a second partner; with a Reference, one
// policy in ten v2 and renewed, one referred lead in fifty a banned
// referrer's and one in fifty a customer's referral of itself.
func DefaultOptions() Options {
	return Options{Events: 10_000, DuplicateRate: 0.05, InvalidRate: 0.02, HTTPShare: 0.2, Seed: 1,
		Start: time.Date(2026, 10, 1, 8, 0, 0, 0, time.UTC), LeadPrefix: "L-",
		SharedLeadFraction: 0.05, SharedEventIDFraction: 0.3, V2Fraction: 0.1, BannedFraction: 0.02, SelfReferralFraction: 0.02, InstallmentFraction: 0.3}
}

// Record is one message to send.
type Record struct {
	Partner string
	Lead    string
	Value   []byte
	HTTP    bool   // send through the HTTP API, else to referrals.inbound
	Kind    string // "valid", "duplicate" or "invalid"
}

// Dataset is the generated traffic and what it must produce.
type Dataset struct {
	Records []Record
	Want    Expected
}

// Expected is the oracle.
type Expected struct {
	Records         int            `json:"records"`
	ReferralEvents  int            `json:"referral_events"` // unique valid events
	Duplicates      int            `json:"duplicates"`      // copies dedupe must drop
	Rejected        int            `json:"rejected_events"` // invalid records
	RejectedByStage map[string]int `json:"rejected_by_stage"`
	Policies        int            `json:"policies"`
	AttributionRows int            `json:"attribution_rows"` // touchpoints × Models, or 1 for an unattributed policy
	CommissionLines int            `json:"commission_lines"`
	// CommissionTotal is per currency, in minor units.
	CommissionTotal map[string]int64 `json:"commission_total_minor"`
	// CommissionByPayee is keyed "type:id currency", in minor units.
	CommissionByPayee map[string]int64 `json:"commission_by_payee_minor"`
	// CommissionByLeadPayee is keyed "partner|lead type:id currency" (see
	// LeadPayeeKey), in minor units, with an entry (maybe 0) for every payee
	// that has a line on that partner's lead and for no other: a payee paid
	// on another partner's lead with the same id shows as an extra key.
	CommissionByLeadPayee map[string]int64 `json:"commission_by_lead_payee_minor"`
	SharedLeads           int              `json:"shared_leads"`     // lead ids a second partner uses too
	SharedEventIDs        int              `json:"shared_event_ids"` // events whose id the other partner's lead used first
	// PayoutByPayee is keyed "type:id currency" like CommissionByPayee, in
	// each payee's payout currency (converted half to even per entry) for
	// a payee paid in another currency than the policy's: what its payout
	// statements sum to (commission.PayoutOf).
	PayoutByPayee map[string]int64 `json:"payout_by_payee_minor"`
	Renewals      int              `json:"renewals"`     // v2 renewals paid to the agent of record
	Unlicensed    int              `json:"unlicensed"`   // accruals priced as a referral fee
	Held          int              `json:"held_by_name"` // decision entries of named holds
	Converted     int              `json:"fx_converted"` // accruals paid in another currency
	// SelfReferrals are the named holds of a payee who is the policy's
	// policyholder (among Held); NotAppointed the accruals priced as a
	// referral fee because the licensed payee was not appointed by the
	// policy's carrier (not among Unlicensed).
	SelfReferrals int `json:"held_self_referral"`
	NotAppointed  int `json:"not_appointed"`
	// Installments are the installment sales issued (each paid to its
	// policy's agent of record); InstallmentsCancelled the policies paid
	// monthly cancelled during an installment's month, which claws back
	// the unearned days of that installment alone.
	Installments          int `json:"installments"`
	InstallmentsCancelled int `json:"installments_cancelled"`
}

// Models is how many attribution models the pipeline computes; the sink
// writes a row per touchpoint per model.
const Models = 5

var (
	demoPartners = []string{"acme-crm", "bestquote", "brokerhub", "widgetco"}
	channels     = []string{"crm", "comparison", "email", "web-widget", "phone", "partner-api"}
	products     = []string{"auto", "home", "life", "health", "commercial", "travel"}
	currencies   = []string{"USD", "USD", "USD", "EUR", "EUR", "GBP", "JPY"}
	firstNames   = []string{"Ana", "Björn", "Chen", "Dolores", "Émile", "Fatima", "Giorgos", "Hana"}
	lastNames    = []string{"Silva", "Ng", "O'Brien", "Müller", "Kowalski", "Okafor", "Rossi", "Tanaka"}
	referrerIDs  = map[string]int{"agent": 40, "broker": 10, "partner": 4, "customer": 200, "campaign": 6}
	refTypes     = []string{"agent", "agent", "agent", "broker", "broker", "partner", "customer", "campaign"}
)

type gen struct {
	opts     Options
	partners []string
	rng      *rand.Rand
	rules    *Rules
	ds       *Dataset
}

// genLead is one partner's lead as generated: its records to send and what
// a duplicate or a second partner's lead with the same id may copy.
type genLead struct {
	partner, id string
	http        bool
	records     []Record
	events      []event // the valid originals, in order
	payees      map[string]bool
	twin        *genLead // another partner's lead with the same id, sent interleaved
	second      bool     // l is such a twin: its records go out with its first's
	banned      bool     // its last touch is a banned referrer's
	self        string   // the customer id of its last touch, who insures itself; "" if none
}

// Generate builds a data set deterministically from opts.Seed. Rules are the
// commission rules the pipeline runs with; the oracle applies them itself.
func Generate(opts Options, rules *Rules) (*Dataset, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	g := &gen{opts: opts, partners: opts.Partners, rng: rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)), rules: rules,
		ds: &Dataset{Want: Expected{RejectedByStage: map[string]int{}, CommissionTotal: map[string]int64{},
			CommissionByPayee: map[string]int64{}, CommissionByLeadPayee: map[string]int64{}, PayoutByPayee: map[string]int64{}}}}
	if len(g.partners) == 0 {
		g.partners = demoPartners
	}
	dups := int(float64(opts.Events) * opts.DuplicateRate)
	invalid := max(int(float64(opts.Events)*opts.InvalidRate), 1)
	valid := opts.Events - dups - invalid

	var leads []*genLead
	made := 0
	clock := opts.Start
	for n := 0; made < valid; n++ {
		l := &genLead{id: fmt.Sprintf("%s%06d", opts.LeadPrefix, n), http: g.rng.Float64() < opts.HTTPShare}
		l.partner = g.partners[g.rng.IntN(len(g.partners))]
		start := clock
		made += g.lead(l, nil, &clock, valid-made)
		leads = append(leads, l)
		if made < valid && opts.SharedLeadFraction > 0 && g.rng.Float64() < opts.SharedLeadFraction {
			// The second partner's lead lives over the same hours as the
			// first one's, so that, were the two mixed up, its touches would
			// fall before the first one's sale and take its commission.
			t := &genLead{id: l.id, partner: g.otherPartner(l.partner), http: g.rng.Float64() < opts.HTTPShare}
			tclock := start
			made += g.lead(t, l, &tclock, valid-made)
			if tclock.After(clock) {
				clock = tclock
			}
			l.twin, t.second = t, true
			leads = append(leads, t)
			g.ds.Want.SharedLeads++
		}
	}
	for range dups {
		g.duplicate(leads[g.rng.IntN(len(leads))])
	}
	for _, l := range leads {
		switch {
		case l.second:
		case l.twin != nil:
			g.ds.Records = append(g.ds.Records, interleave(l.records, l.twin.records)...)
		default:
			g.ds.Records = append(g.ds.Records, l.records...)
		}
	}
	for i := range invalid {
		g.invalid(i)
	}
	g.ds.Want.Records = len(g.ds.Records)
	g.ds.Want.ReferralEvents += made
	g.ds.Want.Duplicates = dups
	return g.ds, nil
}

func (o Options) check() error {
	if o.Events < 10 {
		return fmt.Errorf("sample: at least 10 events, got %d", o.Events)
	}
	if o.DuplicateRate < 0 || o.InvalidRate < 0 || o.DuplicateRate+o.InvalidRate > 0.5 {
		return fmt.Errorf("sample: duplicate and invalid rates must be ≥ 0 and sum to ≤ 0.5")
	}
	if o.SharedLeadFraction < 0 || o.SharedLeadFraction > 1 || o.SharedEventIDFraction < 0 || o.SharedEventIDFraction > 1 {
		return fmt.Errorf("sample: shared lead and event id fractions must be in [0, 1]")
	}
	if o.V2Fraction < 0 || o.V2Fraction > 1 || o.BannedFraction < 0 || o.BannedFraction > 1 || o.SelfReferralFraction < 0 || o.SelfReferralFraction > 1 ||
		o.InstallmentFraction < 0 || o.InstallmentFraction > 1 {
		return fmt.Errorf("sample: v2, banned, self-referral and installment fractions must be in [0, 1]")
	}
	if o.Reference != nil && o.SelfReferralFraction > 0 && (len(o.Reference.Agents) == 0 || len(o.Reference.Jurisdictions) == 0) {
		return fmt.Errorf("sample: self-referrals are v2 policies, which take a licence registry with an agent and a jurisdiction")
	}
	if o.Reference != nil && o.V2Fraction > 0 && (len(o.Reference.Agents) == 0 || len(o.Reference.Jurisdictions) == 0) {
		return fmt.Errorf("sample: v2 policies take a licence registry with an agent and a jurisdiction")
	}
	if o.SharedLeadFraction > 0 && len(o.Partners) == 1 {
		return fmt.Errorf("sample: sharing lead ids takes at least two partners")
	}
	return nil
}

func (g *gen) otherPartner(p string) string {
	for {
		if q := g.partners[g.rng.IntN(len(g.partners))]; q != p {
			return q
		}
	}
}

// interleave alternates a and b, each kept in its own order.
func interleave(a, b []Record) []Record {
	out := make([]Record, 0, len(a)+len(b))
	for i := 0; i < max(len(a), len(b)); i++ {
		if i < len(a) {
			out = append(out, a[i])
		}
		if i < len(b) {
			out = append(out, b[i])
		}
	}
	return out
}

// duplicate resends one of l's valid events, as the same partner would.
func (g *gen) duplicate(l *genLead) {
	e := l.events[g.rng.IntN(len(l.events))]
	raw := e.raw
	if e.idemKey != "" && g.rng.IntN(2) == 0 {
		raw = g.withNewEventID(raw) // a retry under a new id, same idempotency key
	}
	l.records = append(l.records, Record{Partner: l.partner, Lead: l.id, Value: raw, HTTP: l.http, Kind: "duplicate"})
}

type event struct {
	raw     []byte
	typ     string
	id      string // "" when ingest derives it
	idemKey string
}

// lead generates l's life — touches, status steps, maybe a policy and a
// cancellation, never more than budget events — and returns how many valid
// events it made. When first is not nil, l is another partner's lead with
// first's id: its referrers are none of first's, and some of its events
// reuse the ids of first's events.
func (g *gen) lead(l, first *genLead, clock *time.Time, budget int) int {
	l.payees = map[string]bool{}
	rank := map[string]int{} // events of each type so far
	emit := func(typ string, payload any) bool {
		if len(l.events) >= budget {
			return false
		}
		*clock = clock.Add(time.Duration(1+g.rng.IntN(600)) * time.Second)
		version := 1
		if p, ok := payload.(v2Payload); ok {
			version, payload = 2, map[string]any(p)
		}
		env := map[string]any{
			"event_type": typ, "schema_version": version, "occurred_at": clock.Format(time.RFC3339),
			"partner_id": l.partner, "lead_id": l.id, "payload": payload,
		}
		e := event{typ: typ}
		if g.rng.IntN(10) != 0 || version == 2 { // one v1 event in ten lets ingest derive the id; v2 envelopes must carry it
			e.id = g.uuid()
		}
		if g.rng.IntN(7) == 0 {
			e.idemKey = "idem-" + g.uuid()
		}
		if b, ok := g.borrow(first, typ, rank[typ]); ok {
			e.id, e.idemKey = b.id, b.idemKey
			g.ds.Want.SharedEventIDs++
		}
		rank[typ]++
		if e.id != "" {
			env["event_id"] = e.id
		}
		if e.idemKey != "" {
			env["idempotency_key"] = e.idemKey
		}
		e.raw, _ = json.Marshal(env) // maps of strings and numbers always encode
		l.events = append(l.events, e)
		l.records = append(l.records, Record{Partner: l.partner, Lead: l.id, Value: e.raw, HTTP: l.http, Kind: "valid"})
		return true
	}

	direct := g.rng.IntN(50) == 0 // a sale nobody referred
	var last string               // payee "type:id" of the last touch
	if !direct {
		banned := g.bannedReferrer(first)
		self := ""
		if banned == "" {
			self = g.selfReferrer(first)
		}
		n := 1 + g.rng.IntN(3)
		for i := range n {
			typ, rid := g.referrer(first)
			if banned != "" && i == n-1 {
				typ, rid, _ = strings.Cut(banned, ":")
				l.banned = true
			}
			if self != "" && i == n-1 {
				typ, rid = "customer", self
				l.self = self
			}
			payload := map[string]any{
				"referrer": map[string]any{"id": rid, "type": typ},
				"channel":  channels[g.rng.IntN(len(channels))],
				"lead": map[string]any{
					"name":  firstNames[g.rng.IntN(len(firstNames))] + " " + lastNames[g.rng.IntN(len(lastNames))],
					"email": fmt.Sprintf("lead%d@example.com", g.rng.IntN(1_000_000)),
					"phone": fmt.Sprintf("+1 555 %03d %04d", g.rng.IntN(1000), g.rng.IntN(10000)),
				},
				"product_interest": products[g.rng.IntN(len(products))],
			}
			if !emit("referral.created", payload) {
				return len(l.events)
			}
			last = typ + ":" + rid
			l.payees[last] = true
		}
	}
	converted := direct || g.rng.IntN(100) < 35
	steps := []string{"new", "contacted", "quoted", "applied"}
	for _, s := range steps[:g.rng.IntN(len(steps)+1)] {
		if !emit("referral.status_updated", map[string]any{"status": s}) {
			return len(l.events)
		}
	}
	if !converted {
		emit("referral.status_updated", map[string]any{"status": "lost", "reason": "price"})
		return len(l.events)
	}
	if !emit("referral.status_updated", map[string]any{"status": "bound"}) {
		return len(l.events)
	}
	g.policy(l, last, clock, emit)
	return len(l.events)
}

// jurisdictions are those v2 policies are written in: where the registry
// licenses anybody, and where the rules name a referral fee, sorted.
func (g *gen) jurisdictions() []string {
	js := slices.Clone(g.opts.Reference.Jurisdictions)
	for j := range g.rules.fees {
		if !slices.Contains(js, j) {
			js = append(js, j)
		}
	}
	slices.Sort(js)
	return js
}

// bannedReferrer draws, for a first partner's referred lead, whether its
// last touch is a banned referrer's, and returns that payee ("" if not).
// Never for a second partner's lead: its referrers are none of its first's.
func (g *gen) bannedReferrer(first *genLead) string {
	if g.opts.Reference == nil || g.opts.BannedFraction == 0 || first != nil || len(g.rules.banned) == 0 {
		return ""
	}
	if g.rng.Float64() >= g.opts.BannedFraction {
		return ""
	}
	payees := make([]string, 0, len(g.rules.banned))
	for p := range g.rules.banned {
		payees = append(payees, p)
	}
	sort.Strings(payees)
	return payees[g.rng.IntN(len(payees))]
}

// selfReferrer draws, for a first partner's referred lead, whether its
// last touch is a customer who goes on to insure itself, and returns that
// customer's id ("" if not). Only when the rules hold self-referrals and
// v2 policies can be written.
func (g *gen) selfReferrer(first *genLead) string {
	if g.opts.Reference == nil || g.opts.SelfReferralFraction == 0 || first != nil || !g.rules.selfHold() {
		return ""
	}
	if g.rng.Float64() >= g.opts.SelfReferralFraction {
		return ""
	}
	return fmt.Sprintf("c-%03d", 1+g.rng.IntN(referrerIDs["customer"]))
}

// referrer draws a touch's referrer; for another partner's lead with the
// same id, never one of the first lead's, so that money that reaches the
// wrong lead reaches the wrong payee too.
func (g *gen) referrer(first *genLead) (typ, id string) {
	for {
		typ = refTypes[g.rng.IntN(len(refTypes))]
		id = fmt.Sprintf("%s-%03d", typ[:1], 1+g.rng.IntN(referrerIDs[typ]))
		if first == nil || !first.payees[typ+":"+id] {
			return typ, id
		}
	}
}

// borrow picks, for the rank-th event of type typ of a second partner's
// lead, the id of the first lead's event of the same type and rank — the
// touch whose member, the sale whose attribution, a mixed-up pipeline would
// confuse. Each of first's ids is borrowed at most once, so the second lead
// never repeats an id of its own.
func (g *gen) borrow(first *genLead, typ string, rank int) (event, bool) {
	if first == nil || g.opts.SharedEventIDFraction == 0 || g.rng.Float64() >= g.opts.SharedEventIDFraction {
		return event{}, false
	}
	for _, e := range first.events {
		if e.typ != typ {
			continue
		}
		if rank == 0 {
			return e, e.id != ""
		}
		rank--
	}
	return event{}, false
}

// v2Payload is the payload of a schema_version 2 event.
type v2Payload map[string]any

// policyTerms are what prices a conversion.
type policyTerms struct {
	product, sale, currency string
	premiumMinor            int64
	effective               string // YYYY-MM-DD
	jurisdiction            string // "" for a v1 policy
	agent                   string // agent of record, payee "agent:id"; "" if none
	carrier                 string // v2: the carrier writing it, one the registry knows
	holder                  string // v2: policyholder_ref, the partner's id of the insured
}

// policy issues l's policy — v1, maybe cancelled, or v2 and renewed — and
// books what the pipeline must pay for it. last is the payee of the lead's
// last touch, "" if none.
func (g *gen) policy(l *genLead, last string, clock *time.Time, emit func(string, any) bool) {
	product := products[g.rng.IntN(len(products))]
	currency := currencies[g.rng.IntN(len(currencies))]
	sale := "new_business"
	if g.rng.IntN(5) == 0 {
		sale = "renewal"
	}
	minor := int64(20_000 + g.rng.IntN(480_000)) // 200.00 .. 5000.00
	ref := g.opts.Reference
	v2 := ref != nil && !l.banned && (l.self != "" || g.opts.V2Fraction > 0 && g.rng.Float64() < g.opts.V2Fraction)
	if v2 {
		// In USD, a currency every dev referral fee names; a new sale, so
		// that its touches are paid and its renewal the agent of record.
		currency, sale = "USD", "new_business"
	}
	premium := fmt.Sprintf("%d.%02d", minor/100, minor%100)
	if currency == "JPY" {
		minor *= 100 // yen have no minor unit: 20 000 .. 500 000 yen
		premium = fmt.Sprintf("%d", minor)
	}
	// The oracle must use the very date the event carries: emitting moves
	// the clock, sometimes past midnight.
	effective := clock.Add(24 * time.Hour)
	policyID := "POL-" + l.id[len(g.opts.LeadPrefix):]
	t := policyTerms{product: product, sale: sale, currency: currency, premiumMinor: minor, effective: effective.Format("2006-01-02")}
	payload := map[string]any{
		"policy_id": policyID, "product_line": product, "annual_premium": premium, "currency": currency,
		"term_months": 12, "effective_date": t.effective, "sale_type": sale,
	}
	var body any = payload
	if v2 {
		js := g.jurisdictions()
		t.jurisdiction = js[g.rng.IntN(len(js))]
		t.agent = ref.Agents[g.rng.IntN(len(ref.Agents))]
		payload["jurisdiction"], payload["agent_of_record"] = t.jurisdiction, strings.TrimPrefix(t.agent, "agent:")
		// The insured is the referring customer itself, or a person no
		// referrer id can name.
		t.holder = "PH-" + l.id[len(g.opts.LeadPrefix):]
		if l.self != "" {
			t.holder = l.self
		}
		payload["policyholder_ref"] = t.holder
		if len(ref.Carriers) > 0 {
			t.carrier = ref.Carriers[g.rng.IntN(len(ref.Carriers))]
			payload["carrier"] = t.carrier
		}
		body = v2Payload(payload)
	}
	if !emit("policy.issued", body) {
		return
	}
	touches := 0
	for _, e := range l.events {
		if e.typ == "referral.created" {
			touches++
		}
	}
	paid := g.convert(l, last, t, touches)
	if v2 && g.opts.InstallmentFraction > 0 && g.rng.Float64() < g.opts.InstallmentFraction {
		issued := accrual{payee: t.agent, amount: paid}
		if touches > 0 {
			issued.payee = last
		}
		g.installments(l, payload, t, issued, clock, emit)
		return
	}
	if v2 {
		g.renew(l, payload, t, clock, emit)
		return
	}
	if g.rng.IntN(10) == 0 {
		cancelledOn := clock.Add(30 * 24 * time.Hour)
		if emit("policy.cancelled", map[string]any{"policy_id": policyID, "cancelled_on": cancelledOn.Format("2006-01-02")}) && touches > 0 {
			// The paid line is clawed back pro rata to the unearned days of
			// the 12-month term, well inside every chargeback window.
			g.ds.Want.CommissionLines++
			g.ds.Want.pay(l, last, currency, -g.rules.proRata(paid, effective, cancelledOn, 12), nil)
		}
	}
}

// convert books a conversion of l under terms t: its attribution rows and
// its accruals. Credit goes wholly to the last touch; to the agent of
// record when no touch counts (none, or a renewal past their lookback).
// It returns the credited payee's accrual.
func (g *gen) convert(l *genLead, last string, t policyTerms, touches int) int64 {
	w := &g.ds.Want
	w.Policies++
	credited := last
	switch {
	case touches > 0:
		w.AttributionRows += touches * Models
		// Every other referrer of the lead gets a zero line.
		for p := range l.payees {
			if p != last {
				w.CommissionLines++
				w.CommissionByLeadPayee[LeadPayeeKey(l.partner, l.id, p, t.currency)] += 0
				w.payoutLine(g.opts.Reference, p, t.currency, 0)
			}
		}
	case t.agent != "":
		// One touchpoint, the agent of record, weighed by its model only.
		w.AttributionRows++
		credited = t.agent
	default:
		w.AttributionRows++ // unattributed: one row, nothing paid
		return 0
	}
	amount := g.rules.commission(t.product, t.sale, t.premiumMinor)
	share := g.rules.directShare(g.opts.Reference, credited, t, amount)
	switch g.opts.Reference.check(credited, t) {
	case "unlicensed":
		w.Unlicensed++
	case "not_appointed":
		w.NotAppointed++
	}
	w.CommissionLines++
	w.pay(l, credited, t.currency, share, g.opts.Reference)
	if h := g.rules.firstHold(credited, t.holder, share); h != nil {
		w.CommissionLines++ // the hold's decision entry
		w.Held++
		if h.self {
			w.SelfReferrals++
		}
	} else if _, _, held := g.opts.Reference.payoutOf(credited, t.currency, share); held && share > 0 {
		w.CommissionLines++ // held fx:missing_rate
		w.Held++
	}
	return share
}

// renew issues the renewal of a v2 policy a year after its term began, 100
// days after l's last event: past the lookback of every touch, so the
// agent of record is credited. The clock of the leads that follow is not
// moved.
func (g *gen) renew(l *genLead, payload map[string]any, t policyTerms, clock *time.Time, emit func(string, any) bool) {
	eff, _ := time.Parse("2006-01-02", t.effective) // formatted above
	t.sale, t.effective = "renewal", eff.AddDate(1, 0, 0).Format("2006-01-02")
	renewal := v2Payload{}
	for k, v := range payload {
		renewal[k] = v
	}
	renewal["sale_type"], renewal["effective_date"] = t.sale, t.effective
	now := *clock
	*clock = now.Add(100 * 24 * time.Hour)
	ok := emit("policy.issued", renewal)
	*clock = now
	if ok {
		g.ds.Want.Renewals++
		g.convert(l, "", t, 0)
	}
}

// accrual is what convert booked for a conversion: its credited payee and
// the amount accrued to it.
type accrual struct {
	payee  string
	amount int64
}

// installments issues the first 2 to 4 of the 12 monthly installments of
// a v2 policy paid monthly, each for the month from the policy's
// effective date plus its number less one, 100 days after l's last event
// like a renewal (the agent of record is credited whatever the touches;
// past their lookback none adds a zero line). The policies whose accruals
// can be clawed back plainly (the agent's and the one of the policy's own
// issue, issued: each paid in the policy's currency and held by no rule; a
// referral fee is clawed back like commission) are then
// cancelled ten days into the last installment's month: attribute forwards
// the cancellation to every conversion in force, that installment and the
// year's issue, and commission claws back the unearned days of each; the
// installments before were earned when collected. The clock of the leads
// that follow is not moved.
func (g *gen) installments(l *genLead, payload map[string]any, t policyTerms, issued accrual, clock *time.Time, emit func(string, any) bool) {
	const of = 12
	eff, _ := time.Parse("2006-01-02", t.effective) // formatted above
	count := 2 + g.rng.IntN(3)
	cancel := g.plainClawback(t.agent, t) && (issued.amount == 0 || g.plainClawback(issued.payee, t))
	each := t.premiumMinor / of // USD: cents
	now := *clock
	*clock = now.Add(100 * 24 * time.Hour)
	defer func() { *clock = now }()
	var paid int64
	var start time.Time
	for n := 1; n <= count; n++ {
		it := t
		start = eff.AddDate(0, n-1, 0)
		it.sale, it.effective, it.premiumMinor = "installment", start.Format("2006-01-02"), each
		p := v2Payload{}
		for k, v := range payload {
			p[k] = v
		}
		p["sale_type"], p["effective_date"], p["term_months"] = it.sale, it.effective, 1
		p["installment"] = map[string]any{"number": n, "of": of, "premium": fmt.Sprintf("%d.%02d", each/100, each%100)}
		if !emit("policy.issued", p) {
			return
		}
		g.ds.Want.Installments++
		paid = g.convert(l, "", it, 0)
	}
	if !cancel {
		return
	}
	on := start.AddDate(0, 0, 10)
	if !emit("policy.cancelled", map[string]any{"policy_id": payload["policy_id"], "cancelled_on": on.Format("2006-01-02")}) {
		return
	}
	g.ds.Want.InstallmentsCancelled++
	if paid > 0 { // nothing stands of a zero accrual (a referral fee of nothing)
		g.ds.Want.CommissionLines++
		g.ds.Want.pay(l, t.agent, t.currency, -g.rules.proRata(paid, start, on, 1), g.opts.Reference)
	}
	if issued.amount > 0 { // the year is in force too
		g.ds.Want.CommissionLines++
		g.ds.Want.pay(l, issued.payee, t.currency, -g.rules.proRata(issued.amount, eff, on, 12), g.opts.Reference)
	}
}

// plainClawback says whether a clawback of an accrual to payee on policy
// t is one the oracle books plainly: the payee is paid in the policy's
// currency and no hold holds it.
func (g *gen) plainClawback(payee string, t policyTerms) bool {
	cur, _, held := g.opts.Reference.payoutOf(payee, t.currency, 1)
	return cur == t.currency && !held && g.rules.firstHold(payee, t.holder, 1) == nil
}

// pay books one line of amount to payee on l.
func (w *Expected) pay(l *genLead, payee, currency string, amount int64, ref *Reference) {
	w.CommissionTotal[currency] += amount
	w.CommissionByPayee[payee+" "+currency] += amount
	w.CommissionByLeadPayee[LeadPayeeKey(l.partner, l.id, payee, currency)] += amount
	w.payoutLine(ref, payee, currency, amount)
}

// payoutLine books an entry of amount in currency in the payee's payout.
// Only accruals are converted here: the generator never cancels a policy
// whose payee is paid in another currency (a correction's payout is the
// change of the conversion of what stands, not its own conversion).
func (w *Expected) payoutLine(ref *Reference, payee, currency string, amount int64) {
	cur, v, _ := ref.payoutOf(payee, currency, amount)
	if cur != currency {
		if amount < 0 {
			panic("sample: a correction paid in another currency is beyond the oracle")
		}
		w.Converted++
	}
	w.PayoutByPayee[payee+" "+cur] += v
}

// LeadPayeeKey is the key of Expected.CommissionByLeadPayee and
// Landed.CommissionByLeadPayee: a payee ("type:id") on one partner's lead.
func LeadPayeeKey(partner, lead, payee, currency string) string {
	return schemas.Scoped(partner, lead) + " " + payee + " " + currency
}

// invalid appends one record that some stage must reject, with its own lead
// so it cannot disturb a valid lead.
func (g *gen) invalid(i int) {
	lead, partner := fmt.Sprintf("BAD-%05d", i), g.partners[0]
	base := func(typ string, payload string) []byte {
		return fmt.Appendf(nil, `{"event_id":%q,"event_type":%q,"schema_version":1,"occurred_at":"2026-10-01T00:00:00Z","partner_id":%q,"lead_id":%q,"payload":%s}`,
			g.uuid(), typ, partner, lead, payload)
	}
	var raw []byte
	stage, http := "validate", g.rng.Float64() < g.opts.HTTPShare
	if i%7 == 6 {
		// A lead that goes back from bound: the bound is a valid event, the
		// step back is refused by the lifecycle check in dedupe.
		for _, st := range []string{"bound", "contacted"} {
			g.ds.Records = append(g.ds.Records, Record{Partner: partner, Lead: lead, HTTP: http, Kind: "invalid",
				Value: base("referral.status_updated", `{"status":"`+st+`"}`)})
		}
		g.ds.Records[len(g.ds.Records)-2].Kind = "valid"
		g.ds.Want.ReferralEvents++
		g.ds.Want.Rejected++
		g.ds.Want.RejectedByStage["dedupe"]++
		return
	}
	switch i % 7 {
	case 0: // truncated JSON: only Kafka can carry it to a dead letter
		raw, stage, http = base("referral.created", `{"referrer":`)[:60], "ingest", false
	case 1:
		raw, stage, http = []byte(`["not","an","object"]`), "ingest", false
	case 2:
		raw = base("referral.deleted", `{}`)
	case 3:
		raw = base("policy.issued", `{"policy_id":"X","product_line":"auto","annual_premium":1200.5,"currency":"USD","term_months":12,"effective_date":"2026-10-02","sale_type":"new_business"}`)
	case 4:
		raw = base("referral.created", `{"referrer":{"id":"a-001","type":"robot"},"channel":"crm"}`)
	case 5:
		raw = base("policy.issued", `{"policy_id":"X","product_line":"auto","annual_premium":"10.00","currency":"XXX","term_months":12,"effective_date":"2026-10-02","sale_type":"new_business"}`)
	}
	g.ds.Records = append(g.ds.Records, Record{Partner: partner, Lead: lead, Value: raw, HTTP: http, Kind: "invalid"})
	g.ds.Want.Rejected++
	g.ds.Want.RejectedByStage[stage]++
}

func (g *gen) uuid() string {
	var b [16]byte
	for i := range b {
		b[i] = byte(g.rng.Uint32())
	}
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	return uuid.UUID(b).String()
}

func (g *gen) withNewEventID(raw []byte) []byte {
	var m map[string]any
	_ = json.Unmarshal(raw, &m) // raw was produced by json.Marshal above
	m["event_id"] = g.uuid()
	b, _ := json.Marshal(m)
	return b
}
