package grafana

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/twmb/franz-go/pkg/kgo"
	"sigs.k8s.io/yaml"

	"github.com/reftrack/reftrack/deploy/devstack"
	"github.com/reftrack/reftrack/deploy/sample"
	"github.com/reftrack/reftrack/internal/testenv"
	"github.com/reftrack/reftrack/schemas"
)

// external are metrics no worker exports by design: Prometheus' own `up`
// and kube-state-metrics' pod readiness (the workers export no readiness
// gauge; /readyz is what Kubernetes probes).
var external = []string{"up", "kube_pod_status_ready"}

// TestQueriedMetricsExist scrapes a live stack: a metric vector appears
// only once it has a child, so the traffic must make every series the
// queries need (dead letters, a refused and an accepted rule reload, a
// client rate-limited, rows landed in ClickHouse).
func TestQueriedMetricsExist(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the six workers: not in -short mode")
	}
	root := testenv.RepoRoot(t)
	want, err := queried(root)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	p := startStack(ctx, t, root)
	defer p.st.Stop()
	drive(ctx, t, p)
	st := p.st

	var missing []string
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(time.Second) {
		have, err := scrape(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		missing = missing[:0]
		for name, where := range want {
			if !have[name] && !slices.Contains(external, name) {
				missing = append(missing, fmt.Sprintf("%s (%s)", name, strings.Join(where, ", ")))
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
	}
	slices.Sort(missing)
	for _, m := range missing {
		t.Errorf("queried but exported by no worker: %s", m)
	}
}

// queried maps every metric name the dashboard and the alert rules use to
// where it is used. Names the rules record themselves are not included.
func queried(root string) (map[string][]string, error) {
	out := map[string][]string{}
	add := func(where, expr string) {
		for _, n := range metricNames(expr) {
			out[n] = append(out[n], where)
		}
	}
	b, err := os.ReadFile(filepath.Join(root, "deploy", "grafana", "reftrack.json"))
	if err != nil {
		return nil, err
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct {
				Expr       string
				Datasource struct{ Type string }
			}
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		return nil, fmt.Errorf("decode the dashboard: %w", err)
	}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			if tg.Datasource.Type == "prometheus" {
				add("dashboard: "+p.Title, tg.Expr)
			}
		}
	}
	rules, err := alertRules(filepath.Join(root, "deploy", "prometheus", "alerts.yml"))
	if err != nil {
		return nil, err
	}
	recorded := map[string]bool{}
	for _, r := range rules {
		recorded[r.Record] = true
	}
	for _, r := range rules {
		add("alerts.yml: "+r.Alert+r.Record, r.Expr)
	}
	for n := range recorded {
		delete(out, n)
	}
	return out, nil
}

type rule struct{ Alert, Record, Expr string }

func alertRules(path string) ([]rule, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Groups []struct {
			Rules []rule
		}
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("decode %s: %w", path, err)
	}
	var out []rule
	for _, g := range doc.Groups {
		out = append(out, g.Rules...)
	}
	return out, nil
}

var (
	// what is not a metric name: label matchers, range and subquery
	// selectors, grouping clauses, and quoted strings
	matchers = regexp.MustCompile(`\{[^}]*\}`)
	ranges   = regexp.MustCompile(`\[[^\]]*\]`)
	grouping = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	quoted   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	ident    = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	keywords = []string{"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right", "inf", "nan"}
)

// metricNames is every metric selected in a PromQL expression: identifiers
// that are neither keywords nor called as functions.
func metricNames(expr string) []string {
	s := quoted.ReplaceAllString(expr, " ")
	s = matchers.ReplaceAllString(s, " ")
	s = ranges.ReplaceAllString(s, " ")
	s = grouping.ReplaceAllString(s, " ")
	var out []string
	for _, loc := range ident.FindAllStringIndex(s, -1) {
		name := s[loc[0]:loc[1]]
		rest := strings.TrimLeft(s[loc[1]:], " \t\n")
		if strings.HasPrefix(rest, "(") || slices.Contains(keywords, strings.ToLower(name)) {
			continue
		}
		if loc[0] > 0 && (s[loc[0]-1] == '$' || s[loc[0]-1] == '.' || (s[loc[0]-1] >= '0' && s[loc[0]-1] <= '9')) {
			continue // a Grafana variable, a number's exponent or fraction
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

// stack is the running workers and what they were started with.
type stack struct {
	st        *devstack.Stack
	brokers   []string
	prefix    string
	rulesPath string
}

func startStack(ctx context.Context, t *testing.T, root string) *stack {
	t.Helper()
	bin := t.TempDir()
	if err := devstack.Build(ctx, root, bin); err != nil {
		t.Fatal(err)
	}
	prefix := "ops" + testenv.RandomID() + "."
	brokers := testenv.Kafka(t, 2, schemas.AllTopics(prefix)...)
	_, redisPrefix := testenv.Redis(t)
	rules, err := os.ReadFile(filepath.Join(root, "deploy", "dev", "rules.json"))
	if err != nil {
		t.Fatal(err)
	}
	rulesPath := filepath.Join(t.TempDir(), "rules.json")
	if err := os.WriteFile(rulesPath, rules, 0o644); err != nil {
		t.Fatal(err)
	}
	logDir := filepath.Join(t.TempDir(), "logs")
	st, err := devstack.Start(ctx, devstack.Config{
		BinDir: bin, LogDir: logDir, Brokers: strings.Join(brokers, ","), Redis: testenv.RedisAddr(),
		RedisPrefix: redisPrefix, ClickHouse: clickhouseDB(ctx, t), TopicPrefix: prefix, Rules: rulesPath,
		// A client failing twice gets 429 (scope="client"); rules re-read often.
		Extra: []string{"REFTRACK_CLIENT_RATE_LIMIT=0.001", "REFTRACK_CLIENT_RATE_BURST=1", "REFTRACK_RULES_RELOAD=200ms"},
	})
	if err != nil {
		t.Fatalf("start the workers (logs in %s): %v", logDir, err)
	}
	return &stack{st: st, brokers: brokers, prefix: prefix, rulesPath: rulesPath}
}

// drive sends generated events (some invalid, some duplicated) through
// Kafka and the API, a bad and a good rule set, and unauthenticated requests.
func drive(ctx context.Context, t *testing.T, p *stack) {
	t.Helper()
	st, rulesPath := p.st, p.rulesPath
	rules, err := sample.LoadRules(rulesPath)
	if err != nil {
		t.Fatal(err)
	}
	opts := sample.DefaultOptions()
	opts.Events = 400
	ds, err := sample.Generate(opts, rules)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(p.brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	authz, err := devstack.AdminToken()
	if err != nil {
		t.Fatal(err)
	}
	if err := sample.Send(ctx, ds, cl, p.prefix+schemas.TopicInbound, st.IngestURL, authz); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, st.IngestURL+"/v1/events", strings.NewReader("{}"))
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}
	good, err := os.ReadFile(rulesPath)
	if err != nil {
		t.Fatal(err)
	}
	replace(t, rulesPath, []byte(`{"version": "refused"}`))
	waitFor(ctx, t, st, "commission", `reftrack_commission_rule_reloads_total{outcome="refused"}`)
	var doc map[string]any
	if err := json.Unmarshal(good, &doc); err != nil {
		t.Fatal(err)
	}
	doc["version"] = fmt.Sprint(doc["version"], "-reloaded")
	b, _ := json.Marshal(doc)
	replace(t, rulesPath, b)
}

// replace swaps the file in one rename, as kubelet swaps a ConfigMap.
func replace(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path+".tmp", b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls a worker's /metrics until a line starts with series.
func waitFor(ctx context.Context, t *testing.T, st *devstack.Stack, stage, series string) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		lines, err := get(ctx, st.MetricsURL(stage))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range lines {
			if strings.HasPrefix(l, series) {
				return
			}
		}
	}
	t.Fatalf("%s never exported %s", stage, series)
}

// scrape returns every sample name every worker exports.
func scrape(ctx context.Context, st *devstack.Stack) (map[string]bool, error) {
	have := map[string]bool{}
	for _, s := range devstack.Stages {
		lines, err := get(ctx, st.MetricsURL(s))
		if err != nil {
			return nil, err
		}
		for _, l := range lines {
			if l == "" || strings.HasPrefix(l, "#") {
				continue
			}
			have[l[:strings.IndexAny(l+" ", "{ ")]] = true
		}
	}
	return have, nil
}

func get(ctx context.Context, url string) ([]string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	var lines []string
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines, sc.Err()
}

// clickhouseDB creates a database of the test's own on the dev stack's
// ClickHouse (started when down) and returns its DSN.
func clickhouseDB(ctx context.Context, t *testing.T) string {
	t.Helper()
	opts, err := clickhouse.ParseDSN(testenv.ClickHouseDSN())
	if err != nil {
		t.Fatal(err)
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	if conn.Ping(ctx) != nil {
		testenv.Stack(t, "up-clickhouse")
	}
	db := "ops_" + testenv.RandomID()
	if err := conn.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		t.Fatalf("create database %s: %v", db, err)
	}
	t.Cleanup(func() { _ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db) })
	return fmt.Sprintf("clickhouse://%s/%s", opts.Addr[0], db)
}
