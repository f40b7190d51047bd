package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// contrast: a normal batch (202) beside batches over --max-events and
// over the burst (413 too_many_events, never 429).
func (p *prober) contrast(ctx context.Context) []row {
	lead := fmt.Sprintf("EDGE-%d", time.Now().UnixNano())
	ev := fmt.Sprintf(`[{"event_type":"referral.created","schema_version":1,"occurred_at":%q,"partner_id":%q,"lead_id":%q,`+
		`"payload":{"referrer":{"id":"a-edge","type":"agent"},"channel":"crm"}}]`,
		time.Now().UTC().Format(time.RFC3339), p.cfg.Partner, lead)
	a := p.post(ctx, "/v1/events", p.token, []byte(ev))
	rows := []row{{"normal batch", "1 referral.created, POST /v1/events", a.String(), "answer in " + roundDur(a.elapsed)}}
	for _, n := range p.cfg.OverEvents {
		body := emptyObjects(n)
		a := p.post(ctx, "/v1/events", p.token, body)
		rows = append(rows, row{fmt.Sprintf("batch of %d", n), fmt.Sprintf("`[{},…]`, %d B, POST /v1/events", len(body)),
			a.String(), "answer in " + roundDur(a.elapsed)})
	}
	return rows
}

// huge: the 1 MB batch of empty objects, once on each write endpoint and
// then several at once, with ingest's resident memory around them.
func (p *prober) huge(ctx context.Context) []row {
	body := emptyObjects(p.cfg.HugeElements)
	sent := fmt.Sprintf("`[{},…]` × %d (%d B)", p.cfg.HugeElements, len(body))
	mem := p.memoryProbe()
	var rows []row
	for _, path := range []string{"/v1/events", "/v1/referrals"} {
		before := mem()
		a := p.post(ctx, path, p.token, body)
		rows = append(rows, row{"huge batch " + path, sent, a.String(),
			fmt.Sprintf("answer in %s, %d B back; ingest %s", roundDur(a.elapsed), a.size, memDelta(before, mem()))})
	}
	if n := p.cfg.HugeParallel; n > 0 {
		before := mem()
		answers := make([]answer, n)
		var wg sync.WaitGroup
		for i := range answers {
			wg.Go(func() { answers[i] = p.post(ctx, "/v1/events", p.token, body) })
		}
		wg.Wait()
		counts := map[string]int{}
		var slowest time.Duration
		for _, a := range answers {
			counts[a.String()]++
			slowest = max(slowest, a.elapsed)
		}
		rows = append(rows, row{fmt.Sprintf("%d huge batches at once", n), sent + " each, POST /v1/events", histogram(counts),
			fmt.Sprintf("slowest answer %s; ingest %s", roundDur(slowest), memDelta(before, mem()))})
	}
	return rows
}

// memoryProbe returns a reader of ingest's memory; it reports nothing when
// the process cannot be found (the figures then say so).
func (p *prober) memoryProbe() func() *memory {
	pid, err := ingestPID(p.cfg.PIDFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "edgeprobe: no RSS figures:", err)
		return func() *memory { return nil }
	}
	return func() *memory {
		m, err := readMemory(pid)
		if err != nil {
			fmt.Fprintln(os.Stderr, "edgeprobe:", err)
			return nil
		}
		return &m
	}
}

func memDelta(before, after *memory) string {
	if before == nil || after == nil {
		return "RSS unknown"
	}
	return fmt.Sprintf("RSS %s → %s (peak since start %s)", mib(before.RSS), mib(after.RSS), mib(after.HWM))
}

// idle: how long the server keeps a keep-alive connection after an answer,
// and a connection that never sends a byte.
func (p *prober) idle(ctx context.Context) []row {
	return []row{
		p.idleAfterRequest(ctx),
		p.silentConn(ctx),
	}
}

func (p *prober) idleAfterRequest(ctx context.Context) row {
	r := row{Probe: "idle keep-alive", Sent: "GET /openapi.json, then nothing"}
	c, err := p.dial(ctx)
	if err != nil {
		r.Answer = "dial: " + err.Error()
		return r
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /openapi.json HTTP/1.1\r\nHost: %s\r\n\r\n", p.base.Host)
	br := bufio.NewReader(c)
	_ = c.SetReadDeadline(time.Now().Add(p.cfg.IdleMax))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		r.Answer = "read the answer: " + err.Error()
		return r
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	r.Answer = strconv.Itoa(resp.StatusCode) + ", then the server closes"
	r.Figure = "closed after " + waitClose(br, time.Now(), p.cfg.IdleMax) + " idle"
	return r
}

func (p *prober) silentConn(ctx context.Context) row {
	r := row{Probe: "silent connection", Sent: "connect, send nothing"}
	c, err := p.dial(ctx)
	if err != nil {
		r.Answer = "dial: " + err.Error()
		return r
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(p.cfg.IdleMax))
	r.Answer = "the server closes"
	r.Figure = "closed after " + waitClose(bufio.NewReader(c), time.Now(), p.cfg.IdleMax)
	return r
}

// waitClose reads until the server closes the connection (or the read
// deadline passes) and says how long after since that was.
func waitClose(br *bufio.Reader, since time.Time, limit time.Duration) string {
	var buf [512]byte
	for {
		if _, err := br.Read(buf[:]); err != nil {
			if isTimeout(err) {
				return "more than " + limit.String() + " (still open)"
			}
			return roundDur(time.Since(since))
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// fate is what became of one slow-body connection.
type fate struct {
	closed bool          // the server closed it within the run
	after  time.Duration // when, from the connection's start
	answer string        // the status the server sent first, if any
}

// openAt counts the connections still open at d after their start.
func openAt(fates []fate, d time.Duration) int {
	n := 0
	for _, f := range fates {
		if !f.closed || f.after > d {
			n++
		}
	}
	return n
}

// slow: connections that announce a body and send it one byte a second,
// first with a partner token (the body is read, so the body deadline
// answers 408), then without one (401 or 429 at once, then the server
// drains the body up to the same deadline). The server's read timeout
// should cut every one of them off.
func (p *prober) slow(ctx context.Context) []row {
	kinds := []struct{ name, token string }{
		{"slow body, partner token", p.token},
		{"slow body, no token", ""},
	}
	var rows []row
	for i, k := range kinds {
		if i > 0 && !sleep(ctx, p.cfg.Refill) {
			break
		}
		rows = append(rows, p.slowKind(ctx, k.name, k.token)...)
	}
	return rows
}

func (p *prober) slowKind(ctx context.Context, name, token string) []row {
	fates := make([]fate, p.cfg.SlowConns)
	var wg sync.WaitGroup
	for i := range fates {
		wg.Go(func() { fates[i] = p.trickle(ctx, token) })
	}
	wg.Wait()
	sent := fmt.Sprintf("%d connections, Content-Length %d, 1 byte/s for up to %s",
		p.cfg.SlowConns, p.cfg.SlowLength, p.cfg.SlowFor)
	answers := map[string]int{}
	var closes []time.Duration
	for _, f := range fates {
		answers[f.answer]++
		if f.closed {
			closes = append(closes, f.after)
		}
	}
	open := make([]string, len(p.cfg.SlowCheckpoints))
	for i, cp := range p.cfg.SlowCheckpoints {
		open[i] = fmt.Sprintf("%s: %d", cp, openAt(fates, cp))
	}
	return []row{{name, sent, histogram(answers),
		closeSpread(closes, len(fates)) + "; still open at " + strings.Join(open, ", ")}}
}

// closeSpread says when the server closed the connections.
func closeSpread(closes []time.Duration, total int) string {
	if len(closes) == 0 {
		return fmt.Sprintf("0 of %d closed by the server", total)
	}
	slices.Sort(closes)
	ms := func(d time.Duration) string { return d.Round(time.Millisecond).String() }
	return fmt.Sprintf("%d of %d closed by the server, after %s (first) / %s (median) / %s (last)", len(closes), total,
		ms(closes[0]), ms(closes[len(closes)/2]), ms(closes[len(closes)-1]))
}

// trickle runs one slow-body connection until the server closes it or
// --slow-for passes.
func (p *prober) trickle(ctx context.Context, token string) fate {
	start := time.Now()
	c, err := p.dial(ctx)
	if err != nil {
		return fate{answer: "dial error"}
	}
	defer c.Close()
	_ = c.SetDeadline(start.Add(p.cfg.SlowFor))
	authz := ""
	if token != "" {
		authz = "Authorization: Bearer " + token + "\r\n"
	}
	fmt.Fprintf(c, "POST /v1/events HTTP/1.1\r\nHost: %s\r\n%sContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
		p.base.Host, authz, p.cfg.SlowLength)
	done := make(chan fate, 1)
	go func() { done <- readFate(bufio.NewReader(c), start) }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for sent := 0; ; {
		select {
		case f := <-done:
			return f
		case <-ctx.Done():
			_ = c.Close()
			return <-done
		case <-tick.C:
			if sent < p.cfg.SlowLength {
				if _, err := c.Write([]byte{' '}); err == nil {
					sent++
				}
			}
		}
	}
}

// readFate reads the server's answer, if any, and then until it closes.
func readFate(br *bufio.Reader, start time.Time) fate {
	f := fate{answer: "no answer"}
	resp, err := http.ReadResponse(br, nil)
	if err == nil {
		f.answer = strconv.Itoa(resp.StatusCode)
		resp.Body.Close()
	}
	var buf [512]byte
	for err == nil {
		_, err = br.Read(buf[:])
	}
	if !isTimeout(err) && !errors.Is(err, net.ErrClosed) {
		f.closed, f.after = true, time.Since(start)
	}
	return f
}

// floods: many requests from one address that all fail, with a bad token
// and with a broken body; each starts after --refill so the address's
// failure bucket is full.
func (p *prober) floods(ctx context.Context) []row {
	kinds := []struct {
		name, sent, token string
		body              []byte
	}{
		{"flood, bad token", "Bearer not-a-token, body {}", "not-a-token", []byte("{}")},
		{"flood, malformed body", "partner token, body `{`", p.token, []byte("{")},
	}
	var rows []row
	for _, k := range kinds {
		if !sleep(ctx, p.cfg.Refill) {
			break
		}
		rows = append(rows, p.flood(ctx, k.name, k.sent, k.token, k.body))
	}
	return rows
}

func (p *prober) flood(ctx context.Context, name, sent, token string, body []byte) row {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.FloodMax)
	defer cancel()
	var next atomic.Int64
	var first429 atomic.Int64
	first429.Store(-1)
	counts := make([]map[string]int, p.cfg.FloodConc)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range counts {
		counts[w] = map[string]int{}
		wg.Go(func() {
			for ctx.Err() == nil {
				i := next.Add(1)
				if i > int64(p.cfg.FloodN) {
					return
				}
				a := p.post(ctx, "/v1/events", token, body)
				key := strconv.Itoa(a.status)
				if a.err != nil {
					key = "error"
				}
				counts[w][key]++
				if a.status == http.StatusTooManyRequests {
					first429.CompareAndSwap(-1, i)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	total := map[string]int{}
	n := 0
	for _, c := range counts {
		for k, v := range c {
			total[k] += v
			n += v
		}
	}
	return row{name, fmt.Sprintf("%d requests, %d connections, %s", p.cfg.FloodN, p.cfg.FloodConc, sent), histogram(total),
		fmt.Sprintf("%d answered in %s (%.0f req/s); first 429 at request #%d", n, roundDur(elapsed), float64(n)/elapsed.Seconds(), first429.Load())}
}

// sleep waits d unless ctx ends first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
