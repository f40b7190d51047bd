// Package auth authenticates partner API calls with JWT bearer tokens
// (OAuth 2.0 client-credentials style) and says what each caller may do.
//
// Tokens are verified with keys from a JWKS (URL, cached and refreshed by
// keyfunc, or a local file) and, only when configured, an HS256 secret.
// Issuer, audience, expiry and not-before are checked; alg "none" and any
// algorithm not configured are refused, and so are a crit header and a
// lifetime (exp - iat) above Config.MaxLifetime. Refusals carry stable
// wording for the caller; the library's error stays in Error.Err, for logs. Roles: partner (writes and reads
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
	Detail string // stable wording, safe to show the caller
	Err    error  // the cause, for logs only: it may name library internals
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Code + ": " + e.Detail + ": " + e.Err.Error()
	}
	return e.Code + ": " + e.Detail
}

func (e *Error) Unwrap() error { return e.Err }

// Verifier checks bearer tokens.
type Verifier struct {
	Issuer      string
	Audience    string
	MaxLifetime time.Duration
	keys        jwt.Keyfunc
	methods     []string
	now         func() time.Time
}

// Config selects the key sources; at least one is required.
type Config struct {
	Issuer, Audience string
	JWKSURL          string
	JWKSFile         string
	HS256Secret      string
	// MaxLifetime refuses tokens valid for longer (0: no bound).
	MaxLifetime time.Duration
}

// New builds a verifier; with a JWKS URL it starts the background refresh,
// which ends with ctx.
func New(ctx context.Context, c Config) (*Verifier, error) {
	if c.Issuer == "" || c.Audience == "" {
		return nil, errors.New("auth: issuer and audience are required")
	}
	v := &Verifier{Issuer: c.Issuer, Audience: c.Audience, MaxLifetime: c.MaxLifetime, now: time.Now}
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
	raw, ok := bearer(header)
	if !ok {
		return Principal{}, &Error{Status: http.StatusUnauthorized, Code: CodeNoToken, Detail: "an Authorization: Bearer token is required"}
	}
	var c Claims
	tok, err := jwt.ParseWithClaims(raw, &c, v.keys,
		jwt.WithValidMethods(v.methods), jwt.WithIssuer(v.Issuer), jwt.WithAudience(v.Audience),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(30*time.Second), jwt.WithTimeFunc(v.now))
	if err != nil {
		return Principal{}, invalid(refusal(err), err)
	}
	if err := v.checkToken(tok, &c); err != nil {
		return Principal{}, err
	}
	return principalOf(&c)
}

// bearer takes the token out of an Authorization value; RFC 9110 makes the
// scheme name case-insensitive.
func bearer(header string) (string, bool) {
	scheme, raw, ok := strings.Cut(header, " ")
	raw = strings.TrimSpace(raw)
	return raw, ok && strings.EqualFold(scheme, "Bearer") && raw != ""
}

// checkToken refuses what the JWT library accepts but reftrack must not: a
// crit header (RFC 7515 §4.1.11: an extension reftrack does not implement
// must be refused) and a lifetime beyond MaxLifetime, which bounds how long
// a leaked token stays useful.
func (v *Verifier) checkToken(tok *jwt.Token, c *Claims) error {
	if _, ok := tok.Header["crit"]; ok {
		return invalid("the token names critical header extensions reftrack does not implement", nil)
	}
	if v.MaxLifetime <= 0 {
		return nil
	}
	from := v.now()
	if c.IssuedAt != nil {
		from = c.IssuedAt.Time
	}
	if c.ExpiresAt.Sub(from) > v.MaxLifetime {
		return invalid(fmt.Sprintf("the token is valid for longer than %s", v.MaxLifetime), nil)
	}
	return nil
}

// principalOf checks the role claims and returns who the caller is.
func principalOf(c *Claims) (Principal, error) {
	p := Principal{Subject: c.Subject, Role: c.Role, PartnerID: c.PartnerID, AgentID: c.AgentID}
	switch {
	case p.Role == RolePartner && p.PartnerID == "":
		return Principal{}, invalid("a partner token needs a partner_id claim", nil)
	case p.Role == RoleAgent && p.AgentID == "":
		return Principal{}, invalid("an agent token needs an agent_id claim", nil)
	case !slices.Contains([]string{RolePartner, RoleAgent, RoleAdmin}, p.Role):
		return Principal{}, invalid(fmt.Sprintf("unknown role %q", p.Role), nil)
	}
	return p, nil
}

func invalid(detail string, cause error) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: CodeInvalidToken, Detail: detail, Err: cause}
}

// refusals word the JWT library's errors for callers: stable sentences that
// do not change with the library or reveal its parsing.
var refusals = []struct {
	err    error
	detail string
}{
	{jwt.ErrTokenMalformed, "the bearer token cannot be read as a signed JWT"},
	{jwt.ErrTokenUnverifiable, "the token's algorithm or key is not accepted"},
	{jwt.ErrTokenSignatureInvalid, "the token's signature does not verify"},
	{jwt.ErrTokenExpired, "the token has expired"},
	{jwt.ErrTokenNotValidYet, "the token is not valid yet"},
	{jwt.ErrTokenUsedBeforeIssued, "the token was issued in the future"},
	{jwt.ErrTokenInvalidIssuer, "the token's issuer is not accepted"},
	{jwt.ErrTokenInvalidAudience, "the token is not meant for this API"},
	{jwt.ErrTokenRequiredClaimMissing, "the token lacks a required claim (exp)"},
}

func refusal(err error) string {
	for _, r := range refusals {
		if errors.Is(err, r.err) {
			return r.detail
		}
	}
	return "the token is not valid"
}

// CanWriteFor says whether p may submit events of partnerID.
func (p Principal) CanWriteFor(partnerID string) error {
	switch {
	case p.Role == RoleAdmin:
		return nil
	case p.Role == RolePartner && p.PartnerID == partnerID:
		return nil
	case p.Role == RolePartner:
		return &Error{Status: http.StatusForbidden, Code: CodeForbidden, Detail: fmt.Sprintf("partner %s may not write for partner %q", p.PartnerID, partnerID)}
	}
	return &Error{Status: http.StatusForbidden, Code: CodeForbidden, Detail: "role " + p.Role + " may not submit events"}
}

// Sign issues a token; for development, tests and the demo, with an HS256
// secret the ingest also knows.
func Sign(secret []byte, issuer, audience string, c Claims, ttl time.Duration) (string, error) {
	now := time.Now()
	c.Issuer, c.Audience = issuer, jwt.ClaimStrings{audience}
	c.IssuedAt, c.NotBefore, c.ExpiresAt = jwt.NewNumericDate(now), jwt.NewNumericDate(now), jwt.NewNumericDate(now.Add(ttl))
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
}
