// Package reftoken issues and verifies referral tokens: a partner hands a
// token to an agent (or customer, campaign…), the referral.created that
// carries it proves who referred. A token is
// base64url(payload) "." base64url(HMAC-SHA256(key, payload)), the payload
// naming the key id, so keys rotate by adding a new id and retiring the old
// one once its tokens have expired. Signatures are compared in constant time.
package reftoken

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Refusals, each with its own reason code.
var (
	ErrMalformed    = errors.New("token_malformed")
	ErrUnknownKey   = errors.New("token_unknown_key")
	ErrBadSignature = errors.New("token_bad_signature")
	ErrExpired      = errors.New("token_expired")
)

// Claims are what a token vouches for.
type Claims struct {
	KeyID        string `json:"kid"`
	ReferrerID   string `json:"rid"`
	ReferrerType string `json:"rtype"`
	PartnerID    string `json:"pid"`
	ExpiresAt    int64  `json:"exp"` // Unix seconds
}

// Keys are the HMAC keys by id; Current signs new tokens.
type Keys struct {
	Current string
	Secrets map[string][]byte
}

// ParseKeys reads "kid:base64secret,kid2:base64secret"; the first is current
// unless current names another. Secrets must be at least 32 bytes.
func ParseKeys(spec, current string) (*Keys, error) {
	k := &Keys{Current: current, Secrets: map[string][]byte{}}
	for _, part := range strings.Split(spec, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		kid, b64, ok := strings.Cut(part, ":")
		secret, err := base64.StdEncoding.DecodeString(b64)
		if !ok || kid == "" || err != nil || len(secret) < 32 {
			return nil, fmt.Errorf("referral token key %q: want kid:base64 with a secret of at least 32 bytes", kid)
		}
		k.Secrets[kid] = secret
		if k.Current == "" {
			k.Current = kid
		}
	}
	if len(k.Secrets) == 0 {
		return nil, errors.New("no referral token keys")
	}
	if _, ok := k.Secrets[k.Current]; !ok {
		return nil, fmt.Errorf("current referral token key %q is not among the keys", k.Current)
	}
	return k, nil
}

func sign(secret, payload []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write(payload)
	return m.Sum(nil)
}

// Issue signs claims with the current key.
func (k *Keys) Issue(c Claims) (string, error) {
	c.KeyID = k.Current
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	return enc.EncodeToString(payload) + "." + enc.EncodeToString(sign(k.Secrets[c.KeyID], payload)), nil
}

// Verify checks a token's form, key, signature and expiry at now.
func (k *Keys) Verify(token string, now time.Time) (Claims, error) {
	var c Claims
	// Strict: otherwise the spare low bits of the last character are
	// ignored and one token has several spellings that all verify (found by
	// FuzzVerify), which would defeat any list of spent or revoked tokens.
	enc := base64.RawURLEncoding.Strict()
	// The decoder also skips \r and \n anywhere: only the alphabet passes.
	if strings.IndexFunc(token, func(r rune) bool { return !isTokenChar(r) }) >= 0 {
		return Claims{}, ErrMalformed
	}
	p64, s64, ok := strings.Cut(token, ".")
	payload, err1 := enc.DecodeString(p64)
	sig, err2 := enc.DecodeString(s64)
	if !ok || err1 != nil || err2 != nil || json.Unmarshal(payload, &c) != nil || c.KeyID == "" {
		return Claims{}, ErrMalformed
	}
	secret, ok := k.Secrets[c.KeyID]
	if !ok {
		return Claims{}, ErrUnknownKey
	}
	if !hmac.Equal(sig, sign(secret, payload)) {
		return Claims{}, ErrBadSignature
	}
	if now.Unix() >= c.ExpiresAt {
		return Claims{}, ErrExpired
	}
	return c, nil
}

// isTokenChar reports whether r may appear in a token: base64url or the dot.
func isTokenChar(r rune) bool {
	return r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'
}
