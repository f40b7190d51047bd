package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrack/reftrack/deploy/devstack"
	"github.com/reftrack/reftrack/internal/pii"
	"github.com/reftrack/reftrack/internal/testenv"
	"github.com/reftrack/reftrack/schemas"
)

// proofLead is one lead of the erasure proof and the contact its partner
// sent, with what each value becomes once normalized.
type proofLead struct {
	id, via string // via "http" or "kafka"
	valid   bool   // false: validate dead-letters the event (contact sealed)
	erase   bool
	name    string
	email   string
	phone   string
	clear   []string // every spelling that must not be found, as sent and normalized
}

func proofLeads(run string) []proofLead {
	var out []proofLead
	for i, l := range []struct {
		via          string
		valid, erase bool
	}{{"http", true, true}, {"kafka", true, true}, {"kafka", false, true}, {"http", false, true}, {"kafka", true, false}} {
		tag := fmt.Sprintf("%s%d", run, i)
		p := proofLead{id: "ERASE-" + tag, via: l.via, valid: l.valid, erase: l.erase,
			name:  "  Erasmus   Proofington" + tag + " ",
			email: " Erasmus.Proof" + tag + "@Example.ORG ",
			phone: fmt.Sprintf("+1 415 555 %04d", 100+i),
		}
		p.clear = []string{"Proofington" + tag, "Erasmus.Proof" + tag, "erasmus.proof" + tag,
			fmt.Sprintf("415 555 %04d", 100+i), fmt.Sprintf("+1415555%04d", 100+i)}
		out = append(out, p)
	}
	return out
}

// event is the lead's referral.created; an invalid one names a referrer
// type validate refuses, after ingest sealed its contact.
func (l proofLead) event(partner string) []byte {
	typ := "agent"
	if !l.valid {
		typ = "robot"
	}
	b, _ := json.Marshal(map[string]any{
		"event_type": schemas.TypeReferralCreated, "schema_version": 1, "occurred_at": "2026-11-01T10:00:00Z",
		"partner_id": partner, "lead_id": l.id,
		"payload": map[string]any{"referrer": map[string]any{"id": "agent-erasure", "type": typ}, "channel": "crm",
			"lead": map[string]any{"name": l.name, "email": l.email, "phone": l.phone}},
	})
	return b
}

// ciphertextRE finds sealed fields in any text (JSON escapes none of its
// characters).
var ciphertextRE = regexp.MustCompile(`enc:v1:A256GCM:[0-9a-f]{16}:[A-Za-z0-9_-]+`)

// TestErasureProof is issue #17's erasure proof, with ingest sealing: after
// `reftrack erase` of a lead, no topic the pipeline writes (ingested,
// valid, unique, rejected, changelogs, attributions, commissions,
// privacy.erasures), no ClickHouse table of events (referral_events,
// rejected_events), no Redis key and no worker log holds the lead's contact
// in the clear, and no ciphertext anywhere opens: its data key is gone. A
// lead not erased still opens, so the scan is shown to find what it looks
// for. The partners' inbound topics hold the contact as partners wrote it,
// by design (PRIVACY.md: they expire, erasure cannot reach them), and are
// the one place not scanned.
func TestErasureProof(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test in -short mode")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	p := startPipeline(ctx, t)
	defer p.st.Stop()
	const partner = "acme-crm"
	leads := proofLeads(testenv.RandomID()[:6])
	sendProofLeads(ctx, t, p, partner, leads)
	waitLanded(ctx, t, p, leads)

	cipher := p.cipher(t)
	before := p.scan(ctx, t, cipher, partner, leads)
	if len(before.clear) > 0 {
		t.Fatalf("clear contacts before any erasure (sealing is off?):\n%s", strings.Join(before.clear, "\n"))
	}
	for _, l := range leads {
		// ingested, valid, unique for a valid event; ingested and
		// validate's dead letter for an invalid one: three fields each.
		least := 9
		if !l.valid {
			least = 6
		}
		if n := before.opened[l.id]; n < least {
			t.Fatalf("lead %s: %d sealed fields open before the erasure, want at least %d: the scan misses records", l.id, n, least)
		}
	}

	for _, l := range leads {
		if !l.erase {
			continue
		}
		args := []string{"erase", "--partner", partner, "--lead", l.id, "--actor", "e2e@example.com", "--reason", "erasure proof",
			"--pii-redis", testenv.RedisAddr(), "--pii-redis-db", fmt.Sprint(piiRedisDB), "--pii-redis-key-prefix", p.redisKeys,
			"--clickhouse", p.dsn, "--brokers", strings.Join(p.brokers, ","), "--topic-prefix", p.prefix}
		if err := pii.EraseCommand(ctx, args, func(string) string { return "" }); err != nil {
			t.Fatalf("erase %s: %v", l.id, err)
		}
	}

	after := p.scan(ctx, t, cipher, partner, leads)
	if len(after.clear) > 0 {
		t.Errorf("clear contacts after the erasure:\n%s", strings.Join(after.clear, "\n"))
	}
	for _, l := range leads {
		switch n := after.opened[l.id]; {
		case l.erase && n > 0:
			t.Errorf("erased lead %s: %d ciphertexts still open", l.id, n)
		case !l.erase && n != before.opened[l.id]:
			t.Errorf("lead %s, not erased: %d ciphertexts open, %d before", l.id, n, before.opened[l.id])
		}
		key := p.redisKeys + "pii:dek:" + schemas.Scoped(partner, l.id)
		if n, err := p.piiRedis(t).Exists(ctx, key).Result(); err != nil || (n > 0) == l.erase {
			t.Errorf("lead %s (erase %v): key store holds %s: %d, %v", l.id, l.erase, key, n, err)
		}
	}
	if after.ciphertexts < before.ciphertexts {
		t.Errorf("%d ciphertexts found after the erasure, %d before: the scan lost records", after.ciphertexts, before.ciphertexts)
	}
	var audits uint64
	if err := p.conn.QueryRow(ctx, "SELECT count() FROM privacy_erasures WHERE partner_id = ? AND had_key = 1", partner).Scan(&audits); err != nil || int(audits) != len(leads)-1 {
		t.Errorf("privacy_erasures: %d rows with had_key, %v; want %d", audits, err, len(leads)-1)
	}
}

// sendProofLeads sends each lead's event over its path.
func sendProofLeads(ctx context.Context, t *testing.T, p *pipeline, partner string, leads []proofLead) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(p.brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	authz, err := devstack.AdminToken()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range leads {
		if l.via == "kafka" {
			rec := &kgo.Record{Topic: p.prefix + schemas.TopicInbound, Key: schemas.LeadKey(partner, l.id), Value: l.event(partner)}
			if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
				t.Fatal(err)
			}
			continue
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, p.st.IngestURL+"/v1/events", bytes.NewReader(l.event(partner)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", authz)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			dumpLogs(t, p.logDir)
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("POST lead %s: %s", l.id, resp.Status)
		}
	}
}

// waitLanded waits until the sink has written every lead's event: a row
// of referral_events for a valid one, of rejected_events for the other.
func waitLanded(ctx context.Context, t *testing.T, p *pipeline, leads []proofLead) {
	t.Helper()
	want := map[bool]uint64{}
	var ids []string
	for _, l := range leads {
		want[l.valid]++
		ids = append(ids, "'"+l.id+"'") // ids of [A-Z0-9-]
	}
	for {
		var events, rejected uint64
		err := errors.Join(
			p.conn.QueryRow(ctx, "SELECT count() FROM referral_events WHERE lead_id IN ("+strings.Join(ids, ",")+")").Scan(&events),
			p.conn.QueryRow(ctx, "SELECT count() FROM rejected_events WHERE stage = 'validate' AND position(original, 'ERASE-') > 0").Scan(&rejected))
		if err == nil && events == want[true] && rejected == want[false] {
			return
		}
		select {
		case <-ctx.Done():
			dumpLogs(t, p.logDir)
			t.Fatalf("events did not land: %d referral_events of %d, %d dead letters of %d (%v)", events, want[true], rejected, want[false], err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (p *pipeline) cipher(t *testing.T) *pii.Cipher {
	t.Helper()
	ring, err := pii.LoadKeyring(p.keyring)
	if err != nil {
		t.Fatal(err)
	}
	return &pii.Cipher{Ring: ring, Store: &pii.RedisStore{RDB: p.piiRedis(t), Prefix: p.redisKeys}}
}

// piiRedis is a client of the key store's database.
func (p *pipeline) piiRedis(t *testing.T) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(), DB: piiRedisDB})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// scanned is what a scan found: clear contact values (where), ciphertexts
// in all, and how many open per lead.
type scanned struct {
	clear       []string
	ciphertexts int
	opened      map[string]int
}

// scan reads every place the pipeline writes and looks for the leads'
// contacts: clear values anywhere, and ciphertexts that open.
func (p *pipeline) scan(ctx context.Context, t *testing.T, c *pii.Cipher, partner string, leads []proofLead) scanned {
	t.Helper()
	s := scanned{opened: map[string]int{}}
	look := func(where string, text []byte) {
		for _, l := range leads {
			for _, v := range l.clear {
				if bytes.Contains(text, []byte(v)) {
					s.clear = append(s.clear, fmt.Sprintf("%s: %q of lead %s", where, v, l.id))
				}
			}
		}
		for _, ct := range ciphertextRE.FindAll(text, -1) {
			s.ciphertexts++
			if lead, ok := opens(ctx, c, partner, leads, string(ct)); ok {
				s.opened[lead]++
			}
		}
	}
	for where, text := range p.topicTexts(ctx, t) {
		look(where, text)
	}
	for where, text := range p.tableTexts(ctx, t) {
		look(where, text)
	}
	for where, text := range p.redisTexts(ctx, t) {
		look(where, text)
	}
	logs, _ := os.ReadDir(p.logDir)
	for _, e := range logs {
		b, err := os.ReadFile(filepath.Join(p.logDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		look("log "+e.Name(), b)
	}
	return s
}

// opens says whether ct opens as any contact field of any of the leads,
// and whose.
func opens(ctx context.Context, c *pii.Cipher, partner string, leads []proofLead, ct string) (string, bool) {
	for _, l := range leads {
		for _, f := range []string{pii.FieldName, pii.FieldEmail, pii.FieldPhone} {
			if _, err := c.Decrypt(ctx, pii.Subject{Partner: partner, Lead: l.id}, f, ct); err == nil {
				return l.id, true
			}
		}
	}
	return "", false
}

// topicTexts is every record of every topic but the partners' inbound
// ones, keyed by topic/partition/offset: key, value and headers, and the
// original bytes a dead letter carries (base64 in its JSON).
func (p *pipeline) topicTexts(ctx context.Context, t *testing.T) map[string][]byte {
	t.Helper()
	var topics []string
	for _, topic := range schemas.AllTopics(p.prefix) {
		if bare := strings.TrimPrefix(topic, p.prefix); bare == schemas.TopicInbound || strings.HasPrefix(bare, schemas.TopicInbound+".") {
			continue
		}
		topics = append(topics, topic)
	}
	topics = append(topics, p.prefix+pii.TopicErasures)
	cl, err := kgo.NewClient(kgo.SeedBrokers(p.brokers...), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	out := map[string][]byte{}
	// Everything was produced before the sink wrote ClickHouse: read until
	// the broker has nothing more to give. Idle polls count only once the
	// first records came: on a loaded box a new client's first fetch can
	// take longer than a poll.
	for idle := 0; idle < 3 && ctx.Err() == nil; {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fs := cl.PollFetches(pctx)
		cancel()
		n := 0
		fs.EachRecord(func(r *kgo.Record) {
			n++
			text := append(append([]byte{}, r.Key...), r.Value...)
			for _, h := range r.Headers {
				text = append(append(text, h.Key...), h.Value...)
			}
			var dl schemas.Rejection
			if json.Unmarshal(r.Value, &dl) == nil {
				text = append(append(text, dl.Original...), dl.Key...)
			}
			out[fmt.Sprintf("topic %s/%d@%d", r.Topic, r.Partition, r.Offset)] = text
		})
		if n == 0 && len(out) > 0 {
			idle++
		}
	}
	if len(out) == 0 {
		t.Fatal("no record read from the pipeline's topics")
	}
	return out
}

// tableTexts is every string of every row of the event tables.
func (p *pipeline) tableTexts(ctx context.Context, t *testing.T) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, table := range []string{"referral_events", "rejected_events"} {
		rows, err := p.conn.Query(ctx, "SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = ?", table)
		if err != nil {
			t.Fatal(err)
		}
		var exprs []string
		for rows.Next() {
			var name, typ string
			if err := rows.Scan(&name, &typ); err != nil {
				t.Fatal(err)
			}
			switch {
			case typ == "String":
				exprs = append(exprs, "`"+name+"`")
			case typ == "Array(String)":
				exprs = append(exprs, "arrayStringConcat(`"+name+"`, '\\n')")
			}
		}
		rows.Close()
		rows, err = p.conn.Query(ctx, "SELECT concat("+strings.Join(append(exprs, "''"), ", '\\n', ")+") FROM "+table)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; rows.Next(); i++ {
			var text string
			if err := rows.Scan(&text); err != nil {
				t.Fatal(err)
			}
			out[fmt.Sprintf("clickhouse %s row %d", table, i)] = []byte(text)
		}
		rows.Close()
	}
	return out
}

// redisTexts is every key and value under the workers' prefix, in the
// stages' database and the key store's.
func (p *pipeline) redisTexts(ctx context.Context, t *testing.T) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, rdb := range []*redis.Client{p.redis, p.piiRedis(t)} {
		iter := rdb.Scan(ctx, 0, p.redisKeys+"*", 1000).Iterator()
		for iter.Next(ctx) {
			key := iter.Val()
			typ, err := rdb.Type(ctx, key).Result()
			if err != nil {
				t.Fatal(err)
			}
			var vals []string
			switch typ {
			case "string":
				v, _ := rdb.Get(ctx, key).Result()
				vals = []string{v}
			case "hash":
				m, _ := rdb.HGetAll(ctx, key).Result()
				for k, v := range m {
					vals = append(vals, k, v)
				}
			case "set":
				vals, _ = rdb.SMembers(ctx, key).Result()
			case "zset":
				vals, _ = rdb.ZRange(ctx, key, 0, -1).Result()
			case "list":
				vals, _ = rdb.LRange(ctx, key, 0, -1).Result()
			}
			out[fmt.Sprintf("redis db %d %s", rdb.Options().DB, key)] = []byte(key + "\n" + strings.Join(vals, "\n"))
		}
		if err := iter.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}
