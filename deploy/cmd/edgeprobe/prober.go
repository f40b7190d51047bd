package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/reftrack/reftrack/deploy/devstack"
	"github.com/reftrack/reftrack/ingest/auth"
)

// prober holds what every phase shares.
type prober struct {
	cfg    config
	base   *url.URL
	token  string
	client *http.Client
}

func newProber(cfg config) (*prober, error) {
	base, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("read --url: %w", err)
	}
	tok := cfg.Token
	if tok == "" {
		// The dev stack's ingest takes HS256 tokens with this dev-only
		// secret, as deploy/cmd/devtoken signs them.
		tok, err = auth.Sign([]byte(devstack.DevJWTSecret), devstack.DevJWTIssuer, "reftrack-ingest",
			auth.Claims{Role: auth.RolePartner, PartnerID: cfg.Partner}, time.Hour)
		if err != nil {
			return nil, fmt.Errorf("sign a dev partner token: %w", err)
		}
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}
	return &prober{cfg: cfg, base: base, token: tok, client: &http.Client{Transport: tr, Timeout: cfg.RequestTimeout}}, nil
}

// all runs the chosen phases in their fixed order; a cancelled context
// ends the run with what was measured so far.
func (p *prober) all(ctx context.Context) []row {
	phases := []struct {
		name string
		run  func(context.Context) []row
	}{
		{"contrast", p.contrast},
		{"huge", p.huge},
		{"idle", p.idle},
		{"slow", p.slow},
		{"flood", p.floods},
	}
	var rows []row
	for _, ph := range phases {
		if ctx.Err() != nil || !p.cfg.runs(ph.name) {
			continue
		}
		rows = append(rows, ph.run(ctx)...)
	}
	return rows
}

// answer is what one request got.
type answer struct {
	status  int
	code    string // the problem type's last segment, if any
	elapsed time.Duration
	size    int
	err     error
}

func (a answer) String() string {
	if a.err != nil {
		return "error: " + a.err.Error()
	}
	if a.code != "" {
		return fmt.Sprintf("%d %s", a.status, a.code)
	}
	return strconv.Itoa(a.status)
}

// post sends one JSON body with a bearer token and reads the whole answer.
func (p *prober) post(ctx context.Context, path, token string, body []byte) answer {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.base.JoinPath(path).String(), bytes.NewReader(body))
	if err != nil {
		return answer{err: fmt.Errorf("build the request: %w", err)}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	start := time.Now()
	resp, err := p.client.Do(req)
	if err != nil {
		return answer{err: err, elapsed: time.Since(start)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, elapsed: time.Since(start), size: len(b), err: err}
	a.code = problemCode(resp.Header.Get("Content-Type"), b)
	return a
}

// problemCode is the last segment of a problem document's type.
func problemCode(contentType string, body []byte) string {
	if !strings.HasPrefix(contentType, "application/problem+json") {
		return ""
	}
	var pr struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(body, &pr) != nil {
		return ""
	}
	return pr.Type[strings.LastIndex(pr.Type, "/")+1:]
}

// dial opens a raw connection to the API, TLS when the URL says https.
func (p *prober) dial(ctx context.Context) (net.Conn, error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	if p.base.Scheme == "https" {
		td := tls.Dialer{NetDialer: &d, Config: &tls.Config{ServerName: p.base.Hostname()}}
		return td.DialContext(ctx, "tcp", dialAddr(p.base))
	}
	return d.DialContext(ctx, "tcp", dialAddr(p.base))
}

// emptyObjects is `[{},{},…]` with n elements.
func emptyObjects(n int) []byte {
	b := make([]byte, 0, 3*n+1)
	b = append(b, '[')
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{', '}')
	}
	return append(b, ']')
}
