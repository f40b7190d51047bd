package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

const (
	iss = "https://auth.example.test"
	aud = "reftrack-ingest"
)

var secret = []byte("0123456789abcdef0123456789abcdef-dev")

type keys struct {
	rsa, rsaOther *rsa.PrivateKey
	ec            *ecdsa.PrivateKey
	jwksFile      string
}

func setup(t *testing.T) keys {
	t.Helper()
	var k keys
	var err error
	if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	if k.rsaOther, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	if k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []jwkset.JWKMarshal `json:"keys"`
	}
	for kid, pub := range map[string]any{"rsa-1": &k.rsa.PublicKey, "ec-1": &k.ec.PublicKey} {
		j, err := jwkset.NewJWKFromKey(pub, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: kid}})
		if err != nil {
			t.Fatal(err)
		}
		set.Keys = append(set.Keys, j.Marshal())
	}
	b, _ := json.Marshal(set)
	k.jwksFile = filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(k.jwksFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return k
}

func claims(role, partner string, mods ...func(*Claims)) Claims {
	now := time.Now()
	c := Claims{Role: role, PartnerID: partner, RegisteredClaims: jwt.RegisteredClaims{
		Subject: "client-1", Issuer: iss, Audience: jwt.ClaimStrings{aud},
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
	}}
	if role == RoleAgent {
		c.AgentID = "a-007"
	}
	for _, m := range mods {
		m(&c)
	}
	return c
}

func sign(t *testing.T, m jwt.SigningMethod, kid string, key any, c Claims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, c)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return "Bearer " + s
}

// TestVerify proves every refusal the issue lists, and the accepted forms.
func TestVerify(t *testing.T) {
	t.Parallel()
	k := setup(t)
	jwksOnly, err := New(context.Background(), Config{Issuer: iss, Audience: aud, JWKSFile: k.jwksFile})
	if err != nil {
		t.Fatal(err)
	}
	withHS, err := New(context.Background(), Config{Issuer: iss, Audience: aud, JWKSFile: k.jwksFile, HS256Secret: string(secret)})
	if err != nil {
		t.Fatal(err)
	}
	noneTok, _ := jwt.NewWithClaims(jwt.SigningMethodNone, claims(RoleAdmin, "")).SignedString(jwt.UnsafeAllowNoneSignatureType)
	tests := []struct {
		name   string
		v      *Verifier
		header string
		code   string // "" = accepted
	}{
		{"rs256", jwksOnly, sign(t, jwt.SigningMethodRS256, "rsa-1", k.rsa, claims(RolePartner, "acme")), ""},
		{"es256", jwksOnly, sign(t, jwt.SigningMethodES256, "ec-1", k.ec, claims(RoleAdmin, "")), ""},
		{"hs256 when configured", withHS, sign(t, jwt.SigningMethodHS256, "", secret, claims(RoleAgent, "")), ""},
		{"no header", jwksOnly, "", CodeNoToken},
		{"not bearer", jwksOnly, "Basic dXNlcjpwYXNz", CodeNoToken},
		{"garbage", jwksOnly, "Bearer not.a.jwt", CodeInvalidToken},
		{"expired", jwksOnly, sign(t, jwt.SigningMethodRS256, "rsa-1", k.rsa, claims(RolePartner, "acme", func(c *Claims) {
			c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-time.Hour))
		})), CodeInvalidToken},
		{"no expiry", jwksOnly, sign(t, jwt.SigningMethodRS256, "rsa-1", k.rsa, claims(RolePartner, "acme", func(c *Claims) { c.ExpiresAt = nil })), CodeInvalidToken},
		{"not yet valid", jwksOnly, sign(t, jwt.SigningMethodRS256, "rsa-1", k.rsa, claims(RolePartner, "acme", func(c *Claims) {
			c.NotBefore = jwt.NewNumericDate(time.Now().Add(time.Hour))
		})), CodeInvalidToken},
		{"wrong audience", jwksOnly, sign(t, jwt.SigningMethodRS256, "rsa-1", k.rsa, claims(RolePartner, "acme", func(c *Claims) {
			c.Audience = jwt.ClaimStrings{"another-api"}
		})), CodeInvalidToken},
		{"wrong issuer", jwksOnly, sign(t, jwt.SigningMethodRS256, "rsa-1", k.rsa, claims(RolePartner, "acme", func(c *Claims) { c.Issuer = "https://evil.test" })), CodeInvalidToken},
		{"wrong signature", jwksOnly, sign(t, jwt.SigningMethodRS256, "rsa-1", k.rsaOther, claims(RoleAdmin, "")), CodeInvalidToken},
		{"unknown kid", jwksOnly, sign(t, jwt.SigningMethodRS256, "rsa-9", k.rsa, claims(RoleAdmin, "")), CodeInvalidToken},
		{"alg none", withHS, "Bearer " + noneTok, CodeInvalidToken},
		{"hs256 not configured", jwksOnly, sign(t, jwt.SigningMethodHS256, "", secret, claims(RoleAdmin, "")), CodeInvalidToken},
		{"tampered payload", jwksOnly, tamper(sign(t, jwt.SigningMethodRS256, "rsa-1", k.rsa, claims(RolePartner, "acme"))), CodeInvalidToken},
		{"partner without partner_id", jwksOnly, sign(t, jwt.SigningMethodRS256, "rsa-1", k.rsa, claims(RolePartner, "")), CodeInvalidToken},
		{"unknown role", jwksOnly, sign(t, jwt.SigningMethodRS256, "rsa-1", k.rsa, claims("superuser", "")), CodeInvalidToken},
	}
	for _, tt := range tests {
		p, err := tt.v.Verify(tt.header)
		var ae *Error
		switch {
		case tt.code == "" && err != nil:
			t.Errorf("%s: refused: %v", tt.name, err)
		case tt.code != "" && (!errors.As(err, &ae) || ae.Code != tt.code || ae.Status != 401):
			t.Errorf("%s: got %+v (%v), want 401 %s", tt.name, p, err, tt.code)
		}
	}
}

// tamper swaps the payload for one claiming the admin role, keeping the
// signature: a role escalation attempt.
func tamper(header string) string {
	parts := strings.Split(strings.TrimPrefix(header, "Bearer "), ".")
	c := claims(RoleAdmin, "")
	b, _ := json.Marshal(c)
	parts[1] = b64(b)
	return "Bearer " + strings.Join(parts, ".")
}

func TestCanWriteFor(t *testing.T) {
	t.Parallel()
	tests := []struct {
		p       Principal
		partner string
		ok      bool
	}{
		{Principal{Role: RoleAdmin}, "any", true},
		{Principal{Role: RolePartner, PartnerID: "acme"}, "acme", true},
		{Principal{Role: RolePartner, PartnerID: "acme"}, "beta", false}, // cross-partner write
		{Principal{Role: RoleAgent, AgentID: "a-1"}, "acme", false},      // agents read, never submit
	}
	for _, tt := range tests {
		err := tt.p.CanWriteFor(tt.partner)
		var ae *Error
		if (err == nil) != tt.ok || (!tt.ok && (!errors.As(err, &ae) || ae.Status != 403)) {
			t.Errorf("%+v writing for %s: %v", tt.p, tt.partner, err)
		}
	}
}

func TestNewRefusesWeakConfig(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]Config{
		"no keys":      {Issuer: iss, Audience: aud},
		"short secret": {Issuer: iss, Audience: aud, HS256Secret: "short"},
		"no audience":  {Issuer: iss, HS256Secret: string(secret)},
	} {
		if _, err := New(context.Background(), c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestJWKSURL fetches keys from an issuer's JWKS endpoint, as in production.
func TestJWKSURL(t *testing.T) {
	t.Parallel()
	k := setup(t)
	body, err := os.ReadFile(k.jwksFile)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v, err := New(ctx, Config{Issuer: iss, Audience: aud, JWKSURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(sign(t, jwt.SigningMethodES256, "ec-1", k.ec, claims(RoleAdmin, ""))); err != nil {
		t.Errorf("token signed with a key of the JWKS: %v", err)
	}
	if _, err := v.Verify(sign(t, jwt.SigningMethodRS256, "rsa-1", k.rsaOther, claims(RoleAdmin, ""))); err == nil {
		t.Error("token signed with a key outside the JWKS accepted")
	}
}
