package ingest

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"time"

	"github.com/reftrack/reftrack/ingest/auth"
	"github.com/reftrack/reftrack/ingest/reftoken"
	"github.com/reftrack/reftrack/schemas"
)

// TokenRequest asks for a referral token.
type TokenRequest struct {
	Referrer  schemas.Referrer `json:"referrer"`
	PartnerID string           `json:"partner_id"`
	TTLHours  int              `json:"ttl_hours"`
}

// TokenResponse carries a new referral token.
type TokenResponse struct {
	Token     string    `json:"token"`
	KeyID     string    `json:"kid"`
	ExpiresAt time.Time `json:"expires_at"`
}

// The envelope schema's patterns: a token names only ids an event could.
var (
	referrerIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)
	partnerIDPattern  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$`)
	referrerTypes     = []string{schemas.ReferrerAgent, schemas.ReferrerBroker, schemas.ReferrerPartner, schemas.ReferrerCustomer, schemas.ReferrerCampaign}
)

// postToken issues a referral token: an agent for itself, a partner for its
// own referrers, an admin for anyone.
func (a *API) postToken(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	if !isJSON(r) {
		a.failed(r)
		a.problem(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "Content-Type must be application/json", nil)
		return
	}
	if a.Tokens == nil {
		a.problem(w, http.StatusNotImplemented, "tokens_not_configured", "this reftrack has no referral token keys", nil)
		return
	}
	req, ok := a.readTokenRequest(w, r, p)
	if !ok {
		return
	}
	if reasons := checkTokenRequest(req); len(reasons) > 0 {
		a.problem(w, http.StatusUnprocessableEntity, reasons[0].Code, "the token request is incomplete or invalid", reasons)
		return
	}
	if err := mayIssue(p, req); err != nil {
		a.refuse(w, err)
		return
	}
	a.issueToken(w, r, req)
}

// readTokenRequest decodes the body strictly and fills the defaults.
func (a *API) readTokenRequest(w http.ResponseWriter, r *http.Request, p auth.Principal) (TokenRequest, bool) {
	var req TokenRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		a.failed(r)
		a.Log.Debug("unreadable token request", "err", err)
		a.problem(w, http.StatusBadRequest, CodeMalformedJSON, "the body is not a token request: a JSON object of referrer, partner_id and ttl_hours, at most 4 KiB", nil)
		return req, false
	}
	if p.Role == auth.RolePartner && req.PartnerID == "" {
		req.PartnerID = p.PartnerID
	}
	if req.TTLHours == 0 {
		req.TTLHours = 30 * 24
	}
	return req, true
}

// checkTokenRequest returns every problem of a token request.
func checkTokenRequest(req TokenRequest) []schemas.Reason {
	var reasons []schemas.Reason
	switch {
	case req.Referrer.ID == "" || req.Referrer.Type == "":
		reasons = append(reasons, schemas.Reason{Code: "missing_referrer", Pointer: "/referrer", Message: "referrer id and type are required"})
	case !slices.Contains(referrerTypes, req.Referrer.Type):
		reasons = append(reasons, schemas.Reason{Code: "invalid_referrer", Pointer: "/referrer/type", Message: "referrer type must be one of agent, broker, partner, customer, campaign"})
	case !referrerIDPattern.MatchString(req.Referrer.ID):
		reasons = append(reasons, schemas.Reason{Code: "invalid_referrer", Pointer: "/referrer/id", Message: "referrer id must match " + referrerIDPattern.String()})
	}
	switch {
	case req.PartnerID == "":
		reasons = append(reasons, schemas.Reason{Code: "missing_partner", Pointer: "/partner_id", Message: "partner_id is required"})
	case !partnerIDPattern.MatchString(req.PartnerID):
		reasons = append(reasons, schemas.Reason{Code: "invalid_partner", Pointer: "/partner_id", Message: "partner_id must match " + partnerIDPattern.String()})
	}
	if req.TTLHours < 1 || req.TTLHours > 365*24 {
		reasons = append(reasons, schemas.Reason{Code: "invalid_ttl", Pointer: "/ttl_hours", Message: "ttl_hours must be within 1..8760"})
	}
	return reasons
}

// mayIssue says whether p may get a token for req's referrer and partner.
func mayIssue(p auth.Principal, req TokenRequest) error {
	switch {
	case p.Role == auth.RoleAgent && (req.Referrer.Type != schemas.ReferrerAgent || req.Referrer.ID != p.AgentID):
		return &auth.Error{Status: http.StatusForbidden, Code: auth.CodeForbidden, Detail: "an agent may only get tokens for itself"}
	case p.Role == auth.RolePartner && req.PartnerID != p.PartnerID:
		return &auth.Error{Status: http.StatusForbidden, Code: auth.CodeForbidden, Detail: "a partner may only get tokens for its own partner_id"}
	}
	return nil
}

func (a *API) issueToken(w http.ResponseWriter, r *http.Request, req TokenRequest) {
	exp := a.Now().Add(time.Duration(req.TTLHours) * time.Hour).UTC().Truncate(time.Second)
	tok, err := a.Tokens.Issue(reftoken.Claims{ReferrerID: req.Referrer.ID, ReferrerType: req.Referrer.Type, PartnerID: req.PartnerID, ExpiresAt: exp.Unix()})
	if err != nil {
		a.internal(w, r, err)
		return
	}
	b, _ := json.Marshal(TokenResponse{Token: tok, KeyID: a.Tokens.Current, ExpiresAt: exp})
	w.Header().Set("Content-Type", "application/json")
	writeRaw(w, http.StatusCreated, b)
}
