package auth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

func jwks(kid string, k *rsa.PublicKey) string {
	b64 := base64.RawURLEncoding.EncodeToString
	return fmt.Sprintf(`{"keys":[{"kty":"RSA","kid":%q,"alg":"RS256","use":"sig","n":%q,"e":%q}]}`,
		kid, b64(k.N.Bytes()), b64(big.NewInt(int64(k.E)).Bytes()))
}

// A token whose jku or x5u header points at the attacker's own keys must be
// refused, and the verifier must never fetch that URL: keys come only from
// the configured set (SECURITY.md row 25).
func TestTokenKeyURLsInHeadersAreIgnored(t *testing.T) {
	t.Parallel()
	legit, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	attacker, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	var fetched atomic.Int32
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fetched.Add(1)
		_, _ = w.Write([]byte(jwks("legit", &attacker.PublicKey)))
	}))
	defer evil.Close()
	file := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(file, []byte(jwks("legit", &legit.PublicKey)), 0o600); err != nil {
		t.Fatal(err)
	}
	v, err := New(context.Background(), Config{Issuer: iss, Audience: aud, JWKSFile: file})
	if err != nil {
		t.Fatal(err)
	}
	sign := func(key *rsa.PrivateKey, header map[string]any) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims(RoleAdmin, ""))
		tok.Header["kid"] = "legit"
		for k, val := range header {
			tok.Header[k] = val
		}
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + s
	}
	if _, err := v.Verify(sign(legit, nil)); err != nil {
		t.Fatalf("the legitimate key is refused: %v", err)
	}
	for _, h := range []map[string]any{
		{"jku": evil.URL},
		{"x5u": evil.URL},
		{"jku": evil.URL, "kid": "attacker"},
	} {
		if _, err := v.Verify(sign(attacker, h)); err == nil {
			t.Errorf("token signed by the attacker with %v accepted", h)
		}
	}
	if n := fetched.Load(); n != 0 {
		t.Errorf("the verifier fetched the token's key URL %d times", n)
	}
}
