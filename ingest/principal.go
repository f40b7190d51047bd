package ingest

import (
	"net/http"

	"github.com/reftrack/reftrack/ingest/auth"
)

// principal authenticates the request, answering itself when it fails: 429
// for a client address that has failed too often (before a signature is
// checked), else 401, charged to the address. Without a verifier
// (--insecure-no-auth) every caller is an admin.
func (a *API) principal(w http.ResponseWriter, r *http.Request) (auth.Principal, bool) {
	if !a.clientGate(w, r) {
		return auth.Principal{}, false
	}
	if a.Auth == nil {
		return auth.Principal{Role: auth.RoleAdmin, Subject: "anonymous"}, true
	}
	p, err := a.Auth.Verify(r.Header.Get("Authorization"))
	if err != nil {
		a.failed(r)
		a.refuse(w, err)
		return p, false
	}
	return p, true
}

// authenticate is principal as a step of the write path.
func (a *API) authenticate(w http.ResponseWriter, q *writeReq) bool {
	p, ok := a.principal(w, q.r)
	q.who = p
	return ok
}

// mayWrite refuses roles that submit no events (agents read only).
func (a *API) mayWrite(w http.ResponseWriter, q *writeReq) bool {
	if q.who.Role == auth.RoleAgent {
		a.refuse(w, q.who.CanWriteFor(""))
		return false
	}
	return true
}

// authorizeEvents refuses a batch holding another partner's event: a
// partner writes only its own partner_id.
func (a *API) authorizeEvents(w http.ResponseWriter, q *writeReq) bool {
	for _, s := range q.events {
		if err := q.who.CanWriteFor(s.PartnerID); err != nil {
			a.refuse(w, err)
			return false
		}
	}
	return true
}
