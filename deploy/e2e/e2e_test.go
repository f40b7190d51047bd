// Package e2e drives generated traffic through all six workers, each a
// separate process, over a kfake broker and the real Redis and ClickHouse,
// and checks ClickHouse against the generator's oracle.
package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrack/reftrack/commission"
	"github.com/reftrack/reftrack/commission/payout"
	"github.com/reftrack/reftrack/commission/statement"
	"github.com/reftrack/reftrack/commission/whatif"
	"github.com/reftrack/reftrack/deploy/devstack"
	"github.com/reftrack/reftrack/deploy/sample"
	"github.com/reftrack/reftrack/internal/pii"
	"github.com/reftrack/reftrack/internal/testenv"
	"github.com/reftrack/reftrack/schemas"
)

func clickhouseDB(t *testing.T) (driver.Conn, string) {
	t.Helper()
	return testenv.ClickHouse(t, "e2e", false)
}

// TestPipeline sends 20 000+ records and requires every count and every
// cent in ClickHouse to match the oracle. Midway, three workers (dedupe, attribute, sink) are killed
// with SIGKILL and restarted: transactions, replay-safe dedupe claims and
// the sink's offset recovery must still give exact numbers.
func TestPipeline(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test in -short mode")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	p := startPipeline(ctx, t)
	defer p.st.Stop()
	st, brokers, prefix, conn, rulesPath, logDir, devRules := p.st, p.brokers, p.prefix, p.conn, p.rulesPath, p.logDir, p.devRules

	rules, err := sample.LoadRules(rulesPath)
	if err != nil {
		t.Fatal(err)
	}
	opts := sample.DefaultOptions()
	opts.Events = 20_000
	opts.Seed = 20261125
	// Issue #18's cases too: v2 policies and their renewals, unlicensed and
	// banned referrers, a payee paid in EUR.
	if opts.Reference, err = sample.LoadReference(p.licences, p.rates); err != nil {
		t.Fatal(err)
	}
	ds, err := sample.Generate(opts, rules)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("sending %d records: %d unique, %d duplicates, %d invalid, %d policies",
		len(ds.Records), ds.Want.ReferralEvents, ds.Want.Duplicates, ds.Want.Rejected, ds.Want.Policies)

	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	authz, err := devstack.AdminToken()
	if err != nil {
		t.Fatal(err)
	}
	half := len(ds.Records) / 2
	first, second := *ds, *ds
	first.Records, second.Records = ds.Records[:half], ds.Records[half:]
	if err := sample.Send(ctx, &first, cl, prefix+schemas.TopicInbound, st.IngestURL, authz); err != nil {
		t.Fatal(err)
	}
	// Hot reload mid-stream: same rates under a new version; lines before
	// and after must carry their version and none may be lost.
	var doc map[string]any
	if err := json.Unmarshal(devRules, &doc); err != nil {
		t.Fatal(err)
	}
	firstVersion := doc["version"].(string)
	doc["version"] = firstVersion + "-reloaded"
	b, _ := json.Marshal(doc)
	if err := os.WriteFile(rulesPath+".tmp", b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(rulesPath+".tmp", rulesPath); err != nil {
		t.Fatal(err)
	}
	for _, stage := range []string{"dedupe", "attribute", "sink"} {
		if err := st.Restart(stage, true); err != nil {
			t.Fatal(err)
		}
	}
	// Redis loses everything while the first half is still in flight
	// (issue #14 finding 1): claims, statuses, touches, conversions and
	// what was paid must come back from the changelogs, and the second
	// half's duplicates of first-half events must still be dropped.
	p.loseRedis(ctx, t)
	if err := sample.Send(ctx, &second, cl, prefix+schemas.TopicInbound, st.IngestURL, authz); err != nil {
		t.Fatal(err)
	}

	_, diff := settle(ctx, conn, &ds.Want, 4*time.Minute)
	if len(diff) > 0 {
		dumpLogs(t, logDir)
		t.Fatalf("ClickHouse disagrees with the oracle:\n%s", strings.Join(diff[:min(len(diff), 30)], "\n"))
	}
	// Statements for all time reconcile with ClickHouse and with the oracle.
	from, to := time.Unix(0, 0).UTC(), time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	lines, err := statement.Read(ctx, conn, from, to)
	if err != nil {
		t.Fatal(err)
	}
	ss, err := statement.Build(lines, from, to)
	if err != nil {
		t.Fatal(err)
	}
	ledger, err := statement.Ledger(ctx, conn, from, to)
	if err != nil {
		t.Fatal(err)
	}
	totals := statement.Totals(ss)
	if d := statement.Reconcile(totals, ledger); len(d) > 0 {
		t.Errorf("statements vs ClickHouse: %v", d)
	}
	// Statements are in each payee's payout currency: agent:A-1's USD is
	// paid in EUR.
	if d := statement.Reconcile(totals, ds.Want.PayoutTotal()); len(d) > 0 {
		t.Errorf("statements vs oracle: %v", d)
	}
	// The payout webhook delivers them signed; what a payout system that
	// checks the signatures receives adds up to the same totals.
	hookSecret := []byte("e2e payout webhook secret, 32+ bytes")
	var mu sync.Mutex
	received := map[string]int64{}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var s statement.Statement
		if payout.Verify(hookSecret, r.Header.Get(payout.SignatureHeader), body, time.Now(), time.Minute) != nil || json.Unmarshal(body, &s) != nil {
			http.Error(w, "refused", http.StatusUnauthorized)
			return
		}
		mu.Lock()
		received[s.Currency] += s.TotalMinor
		mu.Unlock()
	}))
	defer hook.Close()
	pc := &payout.Client{URL: hook.URL, Secret: hookSecret, HTTP: hook.Client(), Now: time.Now, Attempts: 1}
	for _, s := range ss {
		if err := pc.Deliver(ctx, s); err != nil {
			t.Fatalf("deliver statement: %v", err)
		}
	}
	if d := statement.Reconcile(received, ledger); len(d) > 0 || len(ss) == 0 {
		t.Errorf("payout webhook received %v for %d statements; vs ClickHouse: %v", received, len(ss), d)
	}
	// What-if with the rules in force must change nobody's pay: the
	// attributions in ClickHouse rebuild exactly what was paid.
	rows, paid, err := whatif.Read(ctx, conn, from, to)
	if err != nil {
		t.Fatal(err)
	}
	envs, atts, err := whatif.Attributions(rows)
	if err != nil {
		t.Fatal(err)
	}
	running, err := commission.LoadRules(rulesPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(atts) != ds.Want.Policies {
		t.Fatalf("what-if rebuilt %d attributions of %d", len(atts), ds.Want.Policies)
	}
	// With the registry and rates the stage ran with, referral fees,
	// appointments and FX are rebuilt too (issue #18).
	lic, err := commission.LoadLicences(p.licences)
	if err != nil {
		t.Fatal(err)
	}
	rates, err := commission.LoadRates(p.rates)
	if err != nil {
		t.Fatal(err)
	}
	again, errs := whatif.Recompute(running, commission.Reference{Licences: lic, Rates: rates}, envs, atts)
	if len(errs) > 0 {
		t.Fatalf("what-if: %v", errs)
	}
	for _, d := range whatif.Compare(paid, again) {
		if d.Old != d.New {
			t.Errorf("what-if with the running rules changes %s: %d → %d", d.Payee, d.Old, d.New)
		}
	}
	var versions uint64
	if err := conn.QueryRow(ctx, "SELECT uniqExact(rule_set_version) FROM commission_entries FINAL WHERE rule_set_version IN (?, ?)",
		firstVersion, firstVersion+"-reloaded").Scan(&versions); err != nil {
		t.Fatal(err)
	}
	if versions != 2 {
		t.Errorf("lines carry %d of the two rule-set versions; the reload did not land mid-stream", versions)
	}
	// Without FINAL too: the sink's offset recovery means no row was written
	// twice, even across the killed sink.
	var raw uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM commission_entries").Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if int(raw) != ds.Want.CommissionLines {
		t.Errorf("commission_entries without FINAL: %d rows, want %d", raw, ds.Want.CommissionLines)
	}
}

// pipeline is the six workers as processes over a fresh kfake cluster, a
// Redis key prefix and a ClickHouse database of their own.
type pipeline struct {
	st        *devstack.Stack
	brokers   []string
	prefix    string // of the topics
	conn      driver.Conn
	rulesPath string // a copy of the dev rules the commission worker runs on
	licences  string // the dev licence registry and FX rates it runs with
	rates     string
	devRules  []byte
	logDir    string
	redis     *redis.Client
	redisKeys string // the workers' Redis key prefix
	dsn       string // of the ClickHouse database
	// ingest seals every contact (--pii-mode seal): data keys in database
	// piiRedisDB of the same Redis, under redisKeys, wrapped by keyring.
	keyring string
}

// piiRedisDB is the key store's database: not the stages' (0), so that
// loseRedis, like a flushed stages' cache, never touches a data key.
const piiRedisDB = 1

// loseRedis deletes every key the workers keep, while they run: what a
// Redis restarted without persistence (or failed over to an empty replica)
// looks like to them. Money state must come back from the changelogs.
func (p *pipeline) loseRedis(ctx context.Context, t *testing.T) int {
	t.Helper()
	var keys []string
	iter := p.redis.Scan(ctx, 0, p.redisKeys+"*", 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	for len(keys) > 0 {
		n := min(len(keys), 1000)
		if err := p.redis.Del(ctx, keys[:n]...).Err(); err != nil {
			t.Fatal(err)
		}
		keys = keys[n:]
	}
	return len(keys)
}

func startPipeline(ctx context.Context, t *testing.T) *pipeline {
	t.Helper()
	root := testenv.RepoRoot(t)
	bin := t.TempDir()
	if err := devstack.Build(ctx, root, bin); err != nil {
		t.Fatal(err)
	}
	p := &pipeline{prefix: "e2e" + testenv.RandomID() + "."}
	p.brokers = testenv.Kafka(t, 4, append(schemas.AllTopics(p.prefix), p.prefix+pii.TopicErasures)...)
	rdb, redisPrefix := testenv.Redis(t)
	p.redis, p.redisKeys = rdb, redisPrefix
	var dsn string
	p.conn, dsn = clickhouseDB(t)
	p.dsn, p.keyring = dsn, filepath.Join(t.TempDir(), "keyring.json")
	var err error
	if p.devRules, err = os.ReadFile(filepath.Join(root, "deploy", "dev", "rules.json")); err != nil {
		t.Fatal(err)
	}
	p.rulesPath = filepath.Join(t.TempDir(), "rules.json")
	if err := os.WriteFile(p.rulesPath, p.devRules, 0o644); err != nil {
		t.Fatal(err)
	}
	p.licences = filepath.Join(root, "deploy", "dev", "licences.json")
	p.rates = filepath.Join(root, "deploy", "dev", "rates.json")
	p.logDir = filepath.Join(t.TempDir(), "logs")
	p.st, err = devstack.Start(ctx, devstack.Config{
		BinDir: bin, LogDir: p.logDir, Brokers: strings.Join(p.brokers, ","), Redis: testenv.RedisAddr(),
		RedisPrefix: redisPrefix, ClickHouse: dsn, TopicPrefix: p.prefix, Rules: p.rulesPath,
		Licences: p.licences, FXRates: p.rates,
		Extra:      []string{"REFTRACK_BATCH_MAX=500"},
		PIIKeyring: p.keyring, PIIRedisDB: piiRedisDB,
	})
	if err != nil {
		dumpLogs(t, p.logDir)
		t.Fatal(err)
	}
	return p
}

// settle polls ClickHouse until it agrees with the oracle or the deadline
// passes, and returns the last reading and its differences.
func settle(ctx context.Context, conn driver.Conn, want *sample.Expected, wait time.Duration) (*sample.Landed, []string) {
	var landed *sample.Landed
	var diff []string
	for deadline := time.Now().Add(wait); time.Now().Before(deadline); time.Sleep(time.Second) {
		l, err := sample.ReadLanded(ctx, conn)
		if err != nil {
			diff = []string{err.Error()}
			continue
		}
		landed = l
		if diff = want.Diff(l); len(diff) == 0 {
			break
		}
	}
	return landed, diff
}

func dumpLogs(t *testing.T, dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		t.Logf("--- %s (last 20 lines)\n%s", e.Name(), strings.Join(lines[max(0, len(lines)-20):], "\n"))
	}
}
