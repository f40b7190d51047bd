package pii

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrack/reftrack/internal/testenv"
	"github.com/reftrack/reftrack/schemas"
)

// auditFunc is an AuditLog made of a function.
type auditFunc func(Erasure) error

func (f auditFunc) RecordErasure(_ context.Context, e Erasure) error { return f(e) }

// TestErase: after an erasure every ciphertext of the subject opens to
// ErrErased, other subjects are untouched, and a later key for the same
// lead (new personal data) does not open the old ciphertexts.
func TestErase(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, store DataKeyStore) {
		ctx := context.Background()
		ring, _ := newRing(t, "dev", 1)
		c := &Cipher{Ring: ring, Store: store}
		keys, err := c.KeysFor(ctx, []Subject{alice, aliceElsewhere})
		if err != nil {
			t.Fatal(err)
		}
		email, _ := keys[0].Seal(FieldEmail, "zoe@example.com")
		name, _ := keys[0].Seal(FieldName, "Zoë")
		other, _ := keys[1].Seal(FieldEmail, "zoe@globex.example")
		var recorded []Erasure
		done, err := Erase(ctx, store, []AuditLog{auditFunc(func(e Erasure) error { recorded = append(recorded, e); return nil })},
			Erasure{ErasureID: "req-1", PartnerID: alice.Partner, LeadID: alice.Lead, Actor: "dpo@acme", Reason: "ticket 42"})
		if err != nil {
			t.Fatal(err)
		}
		if len(recorded) != 1 || !recorded[0].HadKey || recorded[0].DataKeyID != keys[0].ID() || done.DataKeyID != keys[0].ID() {
			t.Errorf("recorded %+v, returned %+v; want the destroyed key %s", recorded, done, keys[0].ID())
		}
		for field, sealed := range map[string]string{FieldEmail: email, FieldName: name} {
			if got, err := c.Decrypt(ctx, alice, field, sealed); !errors.Is(err, ErrErased) || got != "" || err.Error() == "" {
				t.Errorf("%s after erasure: %q, %v; want %v", field, got, err, ErrErased)
			}
		}
		if got, err := c.Decrypt(ctx, aliceElsewhere, FieldEmail, other); err != nil || got != "zoe@globex.example" {
			t.Errorf("the same lead id at another partner: %q, %v", got, err)
		}
		// New personal data for the lead gets a new key; the erased data
		// stays erased.
		fresh, err := c.Encrypt(ctx, alice, FieldEmail, "new@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if got, err := c.Decrypt(ctx, alice, FieldEmail, email); !errors.Is(err, ErrErased) {
			t.Errorf("old email under the lead's new key: %q, %v", got, err)
		}
		if got, err := c.Decrypt(ctx, alice, FieldEmail, fresh); err != nil || got != "new@example.com" {
			t.Errorf("new email: %q, %v", got, err)
		}
	})
}

// TestEraseRecordsBeforeDestroying: when the audit record cannot be
// written, nothing is destroyed.
func TestEraseRecordsBeforeDestroying(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ring, _ := newRing(t, "dev", 1)
	store := &MemoryStore{}
	c := &Cipher{Ring: ring, Store: store}
	sealed, _ := c.Encrypt(ctx, alice, FieldEmail, "zoe@example.com")
	broken := auditFunc(func(Erasure) error { return errors.New("clickhouse down") })
	e := Erasure{ErasureID: "req-1", PartnerID: alice.Partner, LeadID: alice.Lead, Actor: "dpo", Reason: "ticket"}
	if _, err := Erase(ctx, store, []AuditLog{broken}, e); err == nil || !strings.Contains(err.Error(), "nothing destroyed") {
		t.Fatalf("Erase with a failing audit: %v", err)
	}
	if got, err := c.Decrypt(ctx, alice, FieldEmail, sealed); err != nil || got != "zoe@example.com" {
		t.Errorf("after a failed erasure: %q, %v; want the key kept", got, err)
	}
	for _, bad := range []Erasure{{PartnerID: "acme", LeadID: "L-1", Actor: "a", Reason: "r"}, {ErasureID: "x", PartnerID: "acme", Actor: "a", Reason: "r"}} {
		if _, err := Erase(ctx, store, nil, bad); err == nil {
			t.Errorf("Erase(%+v) accepted", bad)
		}
	}
}

// TestEraseCommand: `reftrack erase` against the real Redis, ClickHouse
// and Kafka: the audit row and record exist, the subject's fields open to
// ErrErased, and a SCAN of Redis finds no key naming the subject.
func TestEraseCommand(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := redisStore(t)
	rdb, prefix := store.RDB, store.Prefix
	conn, dsn := testenv.ClickHouse(t, "pii_erase", true)
	brokers := testenv.Kafka(t, 1, "p."+TopicErasures)
	ring, _ := newRing(t, "dev", 1)
	c := &Cipher{Ring: ring, Store: store}
	keys, err := c.KeysFor(ctx, []Subject{alice, bob})
	if err != nil {
		t.Fatal(err)
	}
	sealed, _ := keys[0].Seal(FieldPhone, "+14155550123")
	kept, _ := keys[1].Seal(FieldPhone, "+14155550124")

	var out, errOut bytes.Buffer
	err = eraseCommand(ctx, []string{"erase", "--partner", alice.Partner, "--lead", alice.Lead, "--actor", "dpo@acme",
		"--reason", "ticket 42", "--request-id", "req-7", "--pii-redis", testenv.RedisAddr(), "--pii-redis-key-prefix", prefix,
		"--clickhouse", dsn, "--brokers", brokers[0], "--topic-prefix", "p."}, func(string) string { return "" }, &out, &errOut)
	if err != nil {
		t.Fatalf("erase: %v\n%s", err, errOut.String())
	}
	if want := "erasure req-7 of acme|L-1 recorded; data key " + keys[0].ID() + " destroyed"; !strings.Contains(out.String(), want) {
		t.Errorf("output %q, want %q", out.String(), want)
	}

	if got, err := c.Decrypt(ctx, alice, FieldPhone, sealed); !errors.Is(err, ErrErased) {
		t.Errorf("after erase: %q, %v", got, err)
	}
	if got, err := c.Decrypt(ctx, bob, FieldPhone, kept); err != nil || got != "+14155550124" {
		t.Errorf("another lead after erase: %q, %v", got, err)
	}
	var leftover []string
	iter := rdb.Scan(ctx, 0, prefix+"*", 100).Iterator()
	for iter.Next(ctx) {
		if strings.Contains(iter.Val(), alice.Key()) {
			leftover = append(leftover, iter.Val())
		}
	}
	if iter.Err() != nil || len(leftover) != 0 {
		t.Errorf("Redis still holds %v (%v)", leftover, iter.Err())
	}

	var row struct {
		Lead, KeyID, Actor string
		HadKey             uint8
	}
	if err := conn.QueryRow(ctx, `SELECT lead_id, data_key_id, actor, had_key FROM privacy_erasures WHERE erasure_id = 'req-7'`).
		Scan(&row.Lead, &row.KeyID, &row.Actor, &row.HadKey); err != nil {
		t.Fatal(err)
	}
	if row.Lead != alice.Lead || row.KeyID != keys[0].ID() || row.Actor != "dpo@acme" || row.HadKey != 1 {
		t.Errorf("privacy_erasures row %+v", row)
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics("p."+TopicErasures), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	recs := testenv.ReadExactly(t, cl, TopicErasures, 1)
	var e Erasure
	if err := json.Unmarshal(recs[0].Value, &e); err != nil || string(recs[0].Key) != string(schemas.LeadKey("acme", "L-1")) ||
		e.ErasureID != "req-7" || e.DataKeyID != keys[0].ID() || e.RequestedAt.Before(time.Now().Add(-time.Hour)) {
		t.Errorf("erasure record key %q value %s (%v)", recs[0].Key, recs[0].Value, err)
	}
	if strings.Contains(string(recs[0].Value), "+1415") {
		t.Errorf("the erasure record holds personal data: %s", recs[0].Value)
	}

	// Run again with the same id: a second audit row, saying no key was
	// left to destroy.
	out.Reset()
	err = eraseCommand(ctx, []string{"erase", "--partner", alice.Partner, "--lead", alice.Lead, "--actor", "dpo@acme",
		"--reason", "ticket 42", "--request-id", "req-7", "--pii-redis", testenv.RedisAddr(), "--pii-redis-key-prefix", prefix,
		"--clickhouse", dsn}, func(string) string { return "" }, &out, &errOut)
	if err != nil || !strings.Contains(out.String(), "no data key of it in the key store at "+testenv.RedisAddr()) {
		t.Errorf("second erase: %v, %q", err, out.String())
	}
	var n, destroyed uint64
	if err := conn.QueryRow(ctx, `SELECT count(), sum(had_key) FROM privacy_erasures WHERE erasure_id = 'req-7'`).Scan(&n, &destroyed); err != nil || n != 2 || destroyed != 1 {
		t.Errorf("privacy_erasures holds %d rows of req-7, %d destroying a key (%v); want 2 and 1", n, destroyed, err)
	}
}

// TestEraseUnreadableKey: a corrupt entry in the key store never blocks an
// erasure: it is recorded as unreadable and destroyed.
func TestEraseUnreadableKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := &MemoryStore{}
	if _, err := store.GetOrCreate(ctx, []string{alice.Key()}, []string{"garbage"}); err != nil {
		t.Fatal(err)
	}
	var recorded []Erasure
	done, err := Erase(ctx, store, []AuditLog{auditFunc(func(e Erasure) error { recorded = append(recorded, e); return nil })},
		Erasure{ErasureID: "req-1", PartnerID: alice.Partner, LeadID: alice.Lead, Actor: "dpo", Reason: "ticket"})
	if err != nil || !done.HadKey || done.DataKeyID != UnreadableKeyID || len(recorded) != 1 {
		t.Fatalf("Erase = %+v, %v; recorded %+v", done, err, recorded)
	}
	if got, _ := store.Get(ctx, []string{alice.Key()}); got[0] != "" {
		t.Errorf("the corrupt entry survived: %q", got[0])
	}
}
