package ingest

import (
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/reftrack/reftrack/ingest/auth"
)

// Two token buckets guard the API. A partner's bucket holds events: it is
// looked at before a request's body is read and charged with the request's
// event count once counted, before anything is decoded. A client address's
// bucket holds failures (401, 400, 408, 413, 415): an address that has
// spent it gets 429 before its next request is even authenticated, so a
// flood of bad tokens or broken bodies costs no signature checks or
// decoding. The address is r.RemoteAddr: a proxy in front must not be
// shared by partners that should not share a budget.

// buckets are token buckets by key, created full on first use.
type buckets struct {
	mu    sync.Mutex
	rate  rate.Limit
	burst int
	m     map[string]*rate.Limiter
}

// maxBuckets bounds the map: past it, buckets that are full again (they
// hold no state a fresh one would not) are dropped.
const maxBuckets = 1 << 16

func newBuckets(r float64, burst int) *buckets {
	if r <= 0 {
		return nil // unlimited
	}
	return &buckets{rate: rate.Limit(r), burst: burst, m: map[string]*rate.Limiter{}}
}

func (b *buckets) get(key string, now time.Time) *rate.Limiter {
	b.mu.Lock()
	defer b.mu.Unlock()
	l := b.m[key]
	if l == nil {
		if len(b.m) >= maxBuckets {
			b.prune(now)
		}
		l = rate.NewLimiter(b.rate, b.burst)
		b.m[key] = l
	}
	return l
}

func (b *buckets) prune(now time.Time) {
	for k, l := range b.m {
		if l.TokensAt(now) >= float64(b.burst) {
			delete(b.m, k)
		}
	}
}

// empty says how long until key's bucket holds one token again; 0 if it
// holds one now.
func (b *buckets) empty(key string, now time.Time) time.Duration {
	if b == nil {
		return 0
	}
	tokens := b.get(key, now).TokensAt(now)
	if tokens >= 1 {
		return 0
	}
	return time.Duration((1 - tokens) / float64(b.rate) * float64(time.Second))
}

// take charges n tokens if the bucket holds them, else says how long until
// it would.
func (b *buckets) take(key string, n int, now time.Time) (time.Duration, bool) {
	if b == nil {
		return 0, true
	}
	res := b.get(key, now).ReserveN(now, n)
	if !res.OK() { // n > burst: counting refuses that first; stay safe anyway
		return time.Duration(float64(n) / float64(b.rate) * float64(time.Second)), false
	}
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return d, false
	}
	return 0, true
}

func (a *API) limiters() (partners, clients *buckets) {
	a.once.Do(func() {
		a.partners = newBuckets(a.Rate, a.Burst)
		a.clients = newBuckets(a.ClientRate, a.ClientBurst)
	})
	return a.partners, a.clients
}

// partnerKey is whose event bucket a principal spends.
func partnerKey(p auth.Principal) string {
	if p.PartnerID != "" {
		return p.PartnerID
	}
	return p.Role + ":" + p.Subject
}

// clientKey is the client address of r, without its port.
func clientKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// clientGate answers 429 to an address that has spent its failures.
func (a *API) clientGate(w http.ResponseWriter, r *http.Request) bool {
	_, clients := a.limiters()
	if wait := clients.empty(clientKey(r), a.Now()); wait > 0 {
		a.limited(w, "client", wait, "too many failed requests from this address; retry after the given seconds")
		return false
	}
	return true
}

// failed charges a failed request to its client address.
func (a *API) failed(r *http.Request) {
	_, clients := a.limiters()
	if clients != nil {
		clients.get(clientKey(r), a.Now()).AllowN(a.Now(), 1)
	}
}

// partnerGate answers 429 while the partner's bucket is empty, before the
// body is read: a partner over its rate costs no reading or decoding.
func (a *API) partnerGate(w http.ResponseWriter, q *writeReq) bool {
	partners, _ := a.limiters()
	if wait := partners.empty(partnerKey(q.who), a.Now()); wait > 0 {
		a.limited(w, "partner", wait, "too many events for this partner; retry after the given seconds")
		return false
	}
	return true
}

// chargeEvents takes the request's counted events from the partner's bucket.
func (a *API) chargeEvents(w http.ResponseWriter, q *writeReq) bool {
	partners, _ := a.limiters()
	if wait, ok := partners.take(partnerKey(q.who), q.n, a.Now()); !ok {
		a.limited(w, "partner", wait, "too many events for this partner; retry after the given seconds")
		return false
	}
	return true
}

// maxEvents is the most events one request may carry: --max-events, and
// never more than the burst, which a bigger batch could never fit in (it
// would get 429 forever).
func (a *API) maxEvents() int {
	limit := a.MaxEvents
	if a.Rate > 0 && (limit <= 0 || a.Burst < limit) {
		limit = a.Burst
	}
	if limit <= 0 {
		return math.MaxInt
	}
	return limit
}

func (a *API) limited(w http.ResponseWriter, scope string, wait time.Duration, detail string) {
	a.Metrics.limited.WithLabelValues(scope).Inc()
	w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
	a.problem(w, http.StatusTooManyRequests, CodeRateLimited, detail, nil)
}

// tooMany is the 413 of a request with more events than maxEvents.
func (a *API) tooMany(w http.ResponseWriter, limit int) {
	a.problem(w, http.StatusRequestEntityTooLarge, CodeTooManyEvents, fmt.Sprintf("a request may carry at most %d events; split the batch", limit), nil)
}
