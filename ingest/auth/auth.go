// Package auth authenticates partner API calls with JWT bearer tokens
// (OAuth 2.0 client-credentials style) and says what each caller may do.
//
// Tokens are verified with keys from a JWKS (URL, cached and refreshed by
// keyfunc, or a local file) and, only when configured, an HS256 secret.
// Issuer, audience, expiry and not-before are checked; alg "none" and any
// algorithm not configured are refused. Roles: partner (writes and reads
// only its own partner_id), agent (reads only referrals where it is the
// referrer; writes nothing but referral tokens for itself), admin.
package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
)

// Roles.
const (
	RolePartner = "partner"
	RoleAgent   = "agent"
	RoleAdmin   = "admin"
)

// Claims are the token claims reftrack reads.
type Claims struct {
	jwt.RegisteredClaims
	Role      string `json:"role"`
	PartnerID string `json:"partner_id,omitempty"`
	AgentID   string `json:"agent_id,omitempty"`
}

// Principal is an authenticated caller.
type Principal struct {
	Subject   string
	Role      string
	PartnerID string
	AgentID   string
}

// Refusal codes, stable for clients.
const (
	CodeNoToken      = "missing_token"
	CodeInvalidToken = "invalid_token"
	CodeForbidden    = "forbidden"
)

// Error is an authentication or authorization refusal.
type Error struct {
	Status int
	Code   string
	Detail string
}

func (e *Error) Error() string { return e.Code + ": " + e.Detail }

// Verifier checks bearer tokens.
type Verifier struct {
	Issuer   string
	Audience string
	keys     jwt.Keyfunc
	methods  []string
	now      func() time.Time
}

// Config selects the key sources; at least one is required.
type Config struct {
	Issuer, Audience string
	JWKSURL          string
	JWKSFile         string
	HS256Secret      string
}

// New builds a verifier; with a JWKS URL it starts the background refresh,
// which ends with ctx.
func New(ctx context.Context, c Config) (*Verifier, error) {
	if c.Issuer == "" || c.Audience == "" {
		return nil, errors.New("auth: issuer and audience are required")
	}
	v := &Verifier{Issuer: c.Issuer, Audience: c.Audience, now: time.Now}
	var asym jwt.Keyfunc
	switch {
	case c.JWKSURL != "":
		k, err := keyfunc.NewDefaultCtx(ctx, []string{c.JWKSURL})
		if err != nil {
			return nil, fmt.Errorf("auth: JWKS %s: %w", c.JWKSURL, err)
		}
		asym = k.Keyfunc
	case c.JWKSFile != "":
		raw, err := os.ReadFile(c.JWKSFile)
		if err != nil {
			return nil, fmt.Errorf("auth: read JWKS file: %w", err)
		}
		k, err := keyfunc.NewJWKSetJSON(raw)
		if err != nil {
			return nil, fmt.Errorf("auth: JWKS file %s: %w", c.JWKSFile, err)
		}
		asym = k.Keyfunc
	}
	if asym != nil {
		v.methods = append(v.methods, "RS256", "ES256")
	}
	secret := []byte(c.HS256Secret)
	if len(secret) > 0 {
		if len(secret) < 32 {
			return nil, errors.New("auth: the HS256 secret must be at least 32 bytes")
		}
		v.methods = append(v.methods, "HS256")
	}
	if len(v.methods) == 0 {
		return nil, errors.New("auth: configure a JWKS URL, a JWKS file or an HS256 secret")
	}
	v.keys = func(t *jwt.Token) (any, error) {
		if t.Method.Alg() == "HS256" {
			return secret, nil
		}
		if asym == nil {
			return nil, errors.New("no asymmetric keys configured")
		}
		return asym(t)
	}
	return v, nil
}

// Verify authenticates an Authorization header value.
func (v *Verifier) Verify(header string) (Principal, error) {
	raw, ok := strings.CutPrefix(header, "Bearer ")
	if !ok || raw == "" {
		return Principal{}, &Error{http.StatusUnauthorized, CodeNoToken, "an Authorization: Bearer token is required"}
	}
	var c Claims
	_, err := jwt.ParseWithClaims(raw, &c, v.keys,
		jwt.WithValidMethods(v.methods), jwt.WithIssuer(v.Issuer), jwt.WithAudience(v.Audience),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(30*time.Second), jwt.WithTimeFunc(v.now))
	if err != nil {
		return Principal{}, &Error{http.StatusUnauthorized, CodeInvalidToken, err.Error()}
	}
	p := Principal{Subject: c.Subject, Role: c.Role, PartnerID: c.PartnerID, AgentID: c.AgentID}
	switch {
	case p.Role == RolePartner && p.PartnerID == "":
		return Principal{}, &Error{http.StatusUnauthorized, CodeInvalidToken, "a partner token needs a partner_id claim"}
	case p.Role == RoleAgent && p.AgentID == "":
		return Principal{}, &Error{http.StatusUnauthorized, CodeInvalidToken, "an agent token needs an agent_id claim"}
	case !slices.Contains([]string{RolePartner, RoleAgent, RoleAdmin}, p.Role):
		return Principal{}, &Error{http.StatusUnauthorized, CodeInvalidToken, fmt.Sprintf("unknown role %q", p.Role)}
	}
	return p, nil
}

// CanWriteFor says whether p may submit events of partnerID.
func (p Principal) CanWriteFor(partnerID string) error {
	switch {
	case p.Role == RoleAdmin:
		return nil
	case p.Role == RolePartner && p.PartnerID == partnerID:
		return nil
	case p.Role == RolePartner:
		return &Error{http.StatusForbidden, CodeForbidden, fmt.Sprintf("partner %s may not write for partner %q", p.PartnerID, partnerID)}
	}
	return &Error{http.StatusForbidden, CodeForbidden, "role " + p.Role + " may not submit events"}
}

// Sign issues a token; for development, tests and the demo, with an HS256
// secret the ingest also knows.
func Sign(secret []byte, issuer, audience string, c Claims, ttl time.Duration) (string, error) {
	now := time.Now()
	c.Issuer, c.Audience = issuer, jwt.ClaimStrings{audience}
	c.IssuedAt, c.NotBefore, c.ExpiresAt = jwt.NewNumericDate(now), jwt.NewNumericDate(now), jwt.NewNumericDate(now.Add(ttl))
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
}
