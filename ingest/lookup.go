package ingest

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/reftrack/reftrack/ingest/auth"
	"github.com/reftrack/reftrack/schemas"
)

// LeadEvent is one event of a lead as GET /v1/referrals/{id} shows it; the
// lead's contact (PII) is never returned.
type LeadEvent struct {
	EventID      string    `json:"event_id"`
	EventType    string    `json:"event_type"`
	PartnerID    string    `json:"partner_id"`
	OccurredAt   time.Time `json:"occurred_at"`
	ReferrerID   string    `json:"referrer_id,omitempty"`
	ReferrerType string    `json:"referrer_type,omitempty"`
	Channel      string    `json:"channel,omitempty"`
	Status       string    `json:"status,omitempty"`
	PolicyID     string    `json:"policy_id,omitempty"`
	ProductLine  string    `json:"product_line,omitempty"`
	Currency     string    `json:"currency,omitempty"`
	PremiumMinor int64     `json:"premium_minor,omitempty"`
}

// getReferral answers what reftrack holds for a lead id: a partner sees its
// own events of it, an agent the events of the leads it referred (a lead id
// names one lead per partner, so only at the partners it was referred
// through), an admin everything. What the caller may not see is a 404, so
// existence does not leak.
func (a *API) getReferral(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	if a.ClickHouse == nil {
		a.problem(w, http.StatusNotImplemented, "lookup_not_configured", "this ingest has no --clickhouse to read from", nil)
		return
	}
	lead := r.PathValue("id")
	q := `SELECT event_id, event_type, partner_id, occurred_at, referrer_id, referrer_type, channel, status,
		policy_id, product_line, currency, premium_minor FROM referral_events FINAL WHERE lead_id = ?`
	args := []any{lead}
	if p.Role == auth.RolePartner {
		q += " AND partner_id = ?"
		args = append(args, p.PartnerID)
	}
	rows, err := a.ClickHouse.Query(r.Context(), q+" ORDER BY occurred_at_ms, event_id", args...)
	if err != nil {
		a.Log.Warn("lead lookup failed", "err", err)
		a.problem(w, http.StatusServiceUnavailable, "unavailable", "lookup failed, retry", nil)
		return
	}
	defer rows.Close()
	var events []LeadEvent
	for rows.Next() {
		var e LeadEvent
		if err := rows.Scan(&e.EventID, &e.EventType, &e.PartnerID, &e.OccurredAt, &e.ReferrerID, &e.ReferrerType, &e.Channel,
			&e.Status, &e.PolicyID, &e.ProductLine, &e.Currency, &e.PremiumMinor); err != nil {
			a.problem(w, http.StatusInternalServerError, "internal", err.Error(), nil)
			return
		}
		events = append(events, e)
	}
	if p.Role == auth.RoleAgent {
		events = referredBy(p.AgentID, events)
	}
	if len(events) == 0 {
		a.problem(w, http.StatusNotFound, "not_found", "no referral "+lead+" visible to this caller", nil)
		return
	}
	b, _ := json.Marshal(map[string]any{"lead_id": lead, "events": events})
	w.Header().Set("Content-Type", "application/json")
	writeRaw(w, http.StatusOK, b)
}

// referredBy keeps the events of the leads agent referred: those of the
// partners through which it sent a referral of this lead id. The same lead id
// at another partner is another lead, which the agent never touched.
func referredBy(agent string, events []LeadEvent) []LeadEvent {
	partners := map[string]bool{}
	for _, e := range events {
		if e.EventType == schemas.TypeReferralCreated && e.ReferrerType == schemas.ReferrerAgent && e.ReferrerID == agent {
			partners[e.PartnerID] = true
		}
	}
	var kept []LeadEvent
	for _, e := range events {
		if partners[e.PartnerID] {
			kept = append(kept, e)
		}
	}
	return kept
}
