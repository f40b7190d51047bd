package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestVerifyEdge holds finding 8's token points: crit refused, lifetime
// bounded, scheme case-insensitive, and refusals worded by reftrack, not by
// the JWT library.
func TestVerifyEdge(t *testing.T) {
	t.Parallel()
	v, err := New(context.Background(), Config{Issuer: iss, Audience: aud, HS256Secret: string(secret), MaxLifetime: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	raw := func(c Claims, header map[string]any) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
		for k, val := range header {
			tok.Header[k] = val
		}
		s, err := tok.SignedString(secret)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	ok := raw(claims(RoleAdmin, ""), nil)
	lifetime := func(d time.Duration, withIAT bool) func(*Claims) {
		return func(c *Claims) {
			c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(d))
			if !withIAT {
				c.IssuedAt = nil
			}
		}
	}
	tests := []struct {
		name, header string
		ok           bool
	}{
		{"Bearer", "Bearer " + ok, true},
		{"bearer", "bearer " + ok, true},
		{"BEARER", "BEARER " + ok, true},
		{"no token after the scheme", "bearer ", false},
		{"crit header", "Bearer " + raw(claims(RoleAdmin, ""), map[string]any{"crit": []string{"exp"}}), false},
		{"lifetime 23h", "Bearer " + raw(claims(RoleAdmin, "", lifetime(23*time.Hour, true)), nil), true},
		{"lifetime 48h", "Bearer " + raw(claims(RoleAdmin, "", lifetime(48*time.Hour, true)), nil), false},
		{"48h left, no iat", "Bearer " + raw(claims(RoleAdmin, "", lifetime(48*time.Hour, false)), nil), false},
		{"1h left, no iat", "Bearer " + raw(claims(RoleAdmin, "", lifetime(time.Hour, false)), nil), true},
		{"garbage", "Bearer x.y.z", false},
		{"expired", "Bearer " + raw(claims(RoleAdmin, "", lifetime(-time.Hour, true)), nil), false},
	}
	for _, tt := range tests {
		_, err := v.Verify(tt.header)
		if tt.ok {
			if err != nil {
				t.Errorf("%s: refused: %v", tt.name, err)
			}
			continue
		}
		var ae *Error
		if !errors.As(err, &ae) || ae.Status != 401 {
			t.Errorf("%s: %v, want 401", tt.name, err)
			continue
		}
		for _, leak := range []string{"token is malformed", "could not", "invalid character", "token has invalid claims", "jwt"} {
			if strings.Contains(ae.Detail, leak) {
				t.Errorf("%s: detail %q shows library text %q", tt.name, ae.Detail, leak)
			}
		}
	}
}
