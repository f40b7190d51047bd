// Package sample generates realistic referral traffic for the demo, the
// end-to-end test and benchmarks, together with an oracle: what ClickHouse
// must hold once the pipeline has processed it, computed from the generated
// input alone (never from the pipeline's output or code).
package sample

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"
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
}

// DefaultOptions are the demo's: 10 000 records, ~5 % duplicates, ~2 % invalid.
func DefaultOptions() Options {
	return Options{Events: 10_000, DuplicateRate: 0.05, InvalidRate: 0.02, HTTPShare: 0.2, Seed: 1,
		Start: time.Date(2026, 10, 1, 8, 0, 0, 0, time.UTC), LeadPrefix: "L-"}
}

// Record is one message to send.
type Record struct {
	Lead  string
	Value []byte
	HTTP  bool   // send through the HTTP API, else to referrals.inbound
	Kind  string // "valid", "duplicate" or "invalid"
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

	lastAmount int64
}

// Models is how many attribution models the pipeline computes; the sink
// writes a row per touchpoint per model.
const Models = 5

var (
	partners    = []string{"acme-crm", "bestquote", "brokerhub", "widgetco"}
	channels    = []string{"crm", "comparison", "email", "web-widget", "phone", "partner-api"}
	products    = []string{"auto", "home", "life", "health", "commercial", "travel"}
	currencies  = []string{"USD", "USD", "USD", "EUR", "EUR", "GBP", "JPY"}
	firstNames  = []string{"Ana", "Björn", "Chen", "Dolores", "Émile", "Fatima", "Giorgos", "Hana"}
	lastNames   = []string{"Silva", "Ng", "O'Brien", "Müller", "Kowalski", "Okafor", "Rossi", "Tanaka"}
	referrerIDs = map[string]int{"agent": 40, "broker": 10, "partner": 4, "customer": 200, "campaign": 6}
	refTypes    = []string{"agent", "agent", "agent", "broker", "broker", "partner", "customer", "campaign"}
)

type gen struct {
	opts  Options
	rng   *rand.Rand
	rules *Rules
	ds    *Dataset
}

// Generate builds a data set deterministically from opts.Seed. Rules are the
// commission rules the pipeline runs with; the oracle applies them itself.
func Generate(opts Options, rules *Rules) (*Dataset, error) {
	if opts.Events < 10 {
		return nil, fmt.Errorf("sample: at least 10 events, got %d", opts.Events)
	}
	if opts.DuplicateRate < 0 || opts.InvalidRate < 0 || opts.DuplicateRate+opts.InvalidRate > 0.5 {
		return nil, fmt.Errorf("sample: duplicate and invalid rates must be ≥ 0 and sum to ≤ 0.5")
	}
	g := &gen{opts: opts, rng: rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)), rules: rules,
		ds: &Dataset{Want: Expected{RejectedByStage: map[string]int{}, CommissionTotal: map[string]int64{}, CommissionByPayee: map[string]int64{}}}}
	dups := int(float64(opts.Events) * opts.DuplicateRate)
	invalid := max(int(float64(opts.Events)*opts.InvalidRate), 1)
	valid := opts.Events - dups - invalid

	type lead struct {
		id      string
		http    bool
		records []Record
		valid   [][]byte // originals that may be copied
		idem    []bool
	}
	var leads []*lead
	made := 0
	clock := opts.Start
	for n := 0; made < valid; n++ {
		l := &lead{id: fmt.Sprintf("%s%06d", opts.LeadPrefix, n), http: g.rng.Float64() < opts.HTTPShare}
		events := g.lead(l.id, &clock, valid-made)
		for _, e := range events {
			l.records = append(l.records, Record{Lead: l.id, Value: e.raw, HTTP: l.http, Kind: "valid"})
			l.valid = append(l.valid, e.raw)
			l.idem = append(l.idem, e.idem)
		}
		made += len(events)
		leads = append(leads, l)
	}
	for range dups {
		l := leads[g.rng.IntN(len(leads))]
		i := g.rng.IntN(len(l.valid))
		raw := l.valid[i]
		if l.idem[i] && g.rng.IntN(2) == 0 {
			raw = g.withNewEventID(raw) // a retry under a new id, same idempotency key
		}
		l.records = append(l.records, Record{Lead: l.id, Value: raw, HTTP: l.http, Kind: "duplicate"})
	}
	for _, l := range leads {
		g.ds.Records = append(g.ds.Records, l.records...)
	}
	for i := range invalid {
		g.invalid(i)
	}
	g.ds.Want.Records = len(g.ds.Records)
	g.ds.Want.ReferralEvents += made
	g.ds.Want.Duplicates = dups
	return g.ds, nil
}

type event struct {
	raw  []byte
	idem bool
}

// lead generates one lead's life: touches, status steps, maybe a policy and
// a cancellation, never more than budget events.
func (g *gen) lead(id string, clock *time.Time, budget int) []event {
	partner := partners[g.rng.IntN(len(partners))]
	var out []event
	emit := func(typ string, payload any) bool {
		if len(out) >= budget {
			return false
		}
		*clock = clock.Add(time.Duration(1+g.rng.IntN(600)) * time.Second)
		env := map[string]any{
			"event_type": typ, "schema_version": 1, "occurred_at": clock.Format(time.RFC3339),
			"partner_id": partner, "lead_id": id, "payload": payload,
		}
		if g.rng.IntN(10) != 0 { // one in ten lets ingest derive the id
			env["event_id"] = g.uuid()
		}
		idem := g.rng.IntN(7) == 0
		if idem {
			env["idempotency_key"] = "idem-" + g.uuid()
		}
		b, _ := json.Marshal(env) // maps of strings and numbers always encode
		out = append(out, event{raw: b, idem: idem})
		return true
	}

	direct := g.rng.IntN(50) == 0 // a sale nobody referred
	var last struct{ id, typ string }
	touches := 0
	payees := map[string]bool{}
	if !direct {
		for range 1 + g.rng.IntN(3) {
			typ := refTypes[g.rng.IntN(len(refTypes))]
			rid := fmt.Sprintf("%s-%03d", typ[:1], 1+g.rng.IntN(referrerIDs[typ]))
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
				return out
			}
			last.id, last.typ = rid, typ
			payees[typ+":"+rid] = true
			touches++
		}
	}
	converted := direct || g.rng.IntN(100) < 35
	steps := []string{"new", "contacted", "quoted", "applied"}
	for _, s := range steps[:g.rng.IntN(len(steps)+1)] {
		if !emit("referral.status_updated", map[string]any{"status": s}) {
			return out
		}
	}
	if !converted {
		emit("referral.status_updated", map[string]any{"status": "lost", "reason": "price"})
		return out
	}
	if !emit("referral.status_updated", map[string]any{"status": "bound"}) {
		return out
	}
	product := products[g.rng.IntN(len(products))]
	currency := currencies[g.rng.IntN(len(currencies))]
	sale := "new_business"
	if g.rng.IntN(5) == 0 {
		sale = "renewal"
	}
	minor := int64(20_000 + g.rng.IntN(480_000)) // 200.00 .. 5000.00
	premium := fmt.Sprintf("%d.%02d", minor/100, minor%100)
	if currency == "JPY" {
		minor *= 100 // yen have no minor unit: 20 000 .. 500 000 yen
		premium = fmt.Sprintf("%d", minor)
	}
	// The oracle must use the very date the event carries: emitting moves
	// the clock, sometimes past midnight.
	effective := clock.Add(24 * time.Hour)
	policyID := "POL-" + id[2:]
	if !emit("policy.issued", map[string]any{
		"policy_id": policyID, "product_line": product, "annual_premium": premium, "currency": currency,
		"term_months": 12, "effective_date": effective.Format("2006-01-02"), "sale_type": sale,
	}) {
		return out
	}
	w := &g.ds.Want
	w.Policies++
	if touches == 0 {
		w.AttributionRows++
	} else {
		w.AttributionRows += touches * Models
		amount := g.rules.commission(product, sale, minor)
		w.lastAmount = amount
		// Paid by last touch: the last referrer gets it all, every other
		// referrer of the lead a zero line.
		w.CommissionLines += len(payees)
		w.CommissionTotal[currency] += amount
		w.CommissionByPayee[last.typ+":"+last.id+" "+currency] += amount
	}
	if g.rng.IntN(10) == 0 {
		cancelledOn := clock.Add(30 * 24 * time.Hour)
		if emit("policy.cancelled", map[string]any{"policy_id": policyID, "cancelled_on": cancelledOn.Format("2006-01-02")}) && touches > 0 {
			// The paid line is clawed back pro rata to the unearned days of
			// the 12-month term, well inside every chargeback window.
			claw := -g.rules.proRata(g.ds.Want.lastAmount, effective, cancelledOn, 12)
			w.CommissionLines++
			w.CommissionTotal[currency] += claw
			w.CommissionByPayee[last.typ+":"+last.id+" "+currency] += claw
		}
	}
	return out
}

// invalid appends one record that some stage must reject, with its own lead
// so it cannot disturb a valid lead.
func (g *gen) invalid(i int) {
	lead := fmt.Sprintf("BAD-%05d", i)
	base := func(typ string, payload string) []byte {
		return fmt.Appendf(nil, `{"event_id":%q,"event_type":%q,"schema_version":1,"occurred_at":"2026-10-01T00:00:00Z","partner_id":"acme-crm","lead_id":%q,"payload":%s}`,
			g.uuid(), typ, lead, payload)
	}
	var raw []byte
	stage, http := "validate", g.rng.Float64() < g.opts.HTTPShare
	if i%7 == 6 {
		// A lead that goes back from bound: the bound is a valid event, the
		// step back is refused by the lifecycle check in dedupe.
		for _, st := range []string{"bound", "contacted"} {
			g.ds.Records = append(g.ds.Records, Record{Lead: lead, HTTP: http, Kind: "invalid",
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
	g.ds.Records = append(g.ds.Records, Record{Lead: lead, Value: raw, HTTP: http, Kind: "invalid"})
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
