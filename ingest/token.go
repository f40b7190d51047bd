package ingest

import (
	"errors"
	"time"

	"github.com/reftrack/reftrack/ingest/reftoken"
	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

// CodeTokenClaimsMismatch rejects a valid token presented for another
// referrer or partner than it was issued for.
const CodeTokenClaimsMismatch = "token_claims_mismatch"

// CheckReferralToken verifies the referral_token of a referral.created, if
// it carries one: signature (constant time), key, expiry, and that it was
// issued for this event's referrer and partner. keys nil means tokens are
// not configured, and a token present is refused as unverifiable.
func CheckReferralToken(keys *reftoken.Keys, s Stamped, now time.Time) error {
	if s.EventType != schemas.TypeReferralCreated {
		return nil // the cheap common case: only referrals carry tokens
	}
	var env struct {
		EventType string `json:"event_type"`
		PartnerID string `json:"partner_id"`
		Payload   struct {
			Referrer struct {
				ID   string `json:"id"`
				Type string `json:"type"`
			} `json:"referrer"`
			Token string `json:"referral_token"`
		} `json:"payload"`
	}
	// encoding/json v2 (schemas.Decode), not v1: this runs on every
	// partner referral and v1's decode was a fifth of ingest's CPU. v2
	// matches names exactly, as validate does, so a "Referral_Token" is not
	// checked here, and validate refuses it as an unknown property.
	if schemas.Decode(s.Value, &env) != nil || env.EventType != schemas.TypeReferralCreated || env.Payload.Token == "" {
		return nil // not a token-carrying referral; validate judges the rest
	}
	const ptr = "/payload/referral_token"
	if keys == nil {
		return worker.Reject(reftoken.ErrUnknownKey.Error(), ptr, "this reftrack has no referral token keys")
	}
	c, err := keys.Verify(env.Payload.Token, now)
	if err != nil {
		code := reftoken.ErrMalformed.Error()
		for _, e := range []error{reftoken.ErrUnknownKey, reftoken.ErrBadSignature, reftoken.ErrExpired} {
			if errors.Is(err, e) {
				code = e.Error()
			}
		}
		return worker.Reject(code, ptr, "referral token refused: %v", err)
	}
	if c.ReferrerID != env.Payload.Referrer.ID || c.ReferrerType != env.Payload.Referrer.Type || c.PartnerID != env.PartnerID {
		return worker.Reject(CodeTokenClaimsMismatch, ptr, "the token was issued for %s:%s of partner %s", c.ReferrerType, c.ReferrerID, c.PartnerID)
	}
	return nil
}
