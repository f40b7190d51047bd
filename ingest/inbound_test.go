package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/reftrack/reftrack/internal/testenv"
	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

const scramSHA256 = "SCRAM-SHA-256"

// partnerACLs are what an operator grants partner p's principal: write its
// own inbound topic, nothing else.
func partnerACLs(p string) []kfake.ACL {
	topic, _ := schemas.InboundTopicFor(p)
	return []kfake.ACL{{Resource: kmsg.ACLResourceTypeTopic, Name: topic, Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: kmsg.ACLOperationWrite, Allow: true}}
}

// ingestACLs are what ingest's principal needs (the README's table): read
// every partner's inbound topic and the shared one, write its outputs, its
// consumer group and its transactional ids.
func ingestACLs() []kfake.ACL {
	allow := func(res kmsg.ACLResourceType, name string, pat kmsg.ACLResourcePatternType, op kmsg.ACLOperation) kfake.ACL {
		return kfake.ACL{Resource: res, Name: name, Pattern: pat, Operation: op, Allow: true}
	}
	const (
		topic, group, txn = kmsg.ACLResourceTypeTopic, kmsg.ACLResourceTypeGroup, kmsg.ACLResourceTypeTransactionalId
		literal, prefixed = kmsg.ACLResourcePatternTypeLiteral, kmsg.ACLResourcePatternTypePrefixed
		read, write       = kmsg.ACLOperationRead, kmsg.ACLOperationWrite
	)
	return []kfake.ACL{
		allow(topic, schemas.TopicInbound+".", prefixed, read),
		allow(topic, schemas.TopicInbound, literal, read),
		allow(topic, schemas.TopicIngested, literal, write),
		allow(topic, schemas.TopicRejected, literal, write),
		allow(group, "reftrack-ingest", literal, read),
		allow(txn, "reftrack-ingest-", prefixed, write),
	}
}

// saslClient is a client of the cluster authenticated as user.
func saslClient(t *testing.T, brokers []string, user string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	auth := scram.Auth{User: user, Pass: user + "-secret"}.AsSha256Mechanism()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...), kgo.SASL(auth)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// TestInboundPartnerTopics holds finding 7 of issue 11 against a broker that
// authenticates (SASL) and authorizes (ACLs) like a production cluster: a
// partner can write only its own inbound topic, ingest reads it, and the
// topic, not the record, says which partner sent it.
func TestInboundPartnerTopics(t *testing.T) {
	t.Parallel()
	acmeTopic, _ := schemas.InboundTopicFor("acme")
	zetaTopic, _ := schemas.InboundTopicFor("zeta")
	c, err := kfake.NewCluster(kfake.NumBrokers(1),
		kfake.SeedTopics(2, append(schemas.AllTopics(""), acmeTopic, zetaTopic)...),
		kfake.EnableSASL(), kfake.EnableACLs(),
		kfake.Superuser(scramSHA256, "admin", "admin-secret"),
		kfake.User(scramSHA256, "acme", "acme-secret", partnerACLs("acme")...),
		kfake.User(scramSHA256, "zeta", "zeta-secret", partnerACLs("zeta")...),
		kfake.User(scramSHA256, "ingest", "ingest-secret", ingestACLs()...),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	brokers := c.ListenAddrs()
	ctx := context.Background()

	// The partner's principal: its own topic only.
	acme := saslClient(t, brokers, "acme", kgo.RecordRetries(1))
	for _, topic := range []string{zetaTopic, schemas.TopicInbound} {
		err := acme.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(`{"lead_id":"L-x"}`)}).FirstErr()
		if !errors.Is(err, kerr.TopicAuthorizationFailed) {
			t.Errorf("acme producing to %s: %v, want TOPIC_AUTHORIZATION_FAILED", topic, err)
		}
	}
	if err := acme.ProduceSync(ctx,
		&kgo.Record{Topic: acmeTopic, Value: []byte(`{"event_type":"referral.created","lead_id":"L-own"}`)},
		&kgo.Record{Topic: acmeTopic, Value: []byte(`{"event_type":"referral.created","lead_id":"L-claim","partner_id":"zeta"}`)},
	).FirstErr(); err != nil {
		t.Fatalf("acme producing to its own topic: %v", err)
	}
	// A trusted internal producer on the shared topic names the partner.
	admin := saslClient(t, brokers, "admin")
	if err := admin.ProduceSync(ctx, &kgo.Record{Topic: schemas.TopicInbound,
		Value: []byte(`{"event_type":"referral.created","lead_id":"L-shared","partner_id":"zeta"}`)}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	app := &App{InboundShared: true}
	topics, patterns := app.Subscription()
	cfg := worker.Config{Brokers: strings.Join(brokers, ","), Group: "reftrack-ingest", Instance: "0", BatchMax: 100,
		ShutdownTimeout: 5 * time.Second, LogFormat: "text", LogLevel: "info",
		Security: worker.KafkaSecurity{SASLMechanism: "scram-sha-256", SASLUser: "ingest", SASLPassword: "ingest-secret"}}
	in := &Inbound{Now: func() time.Time { return now }}
	stage := worker.Stage{Name: "ingest", Inputs: topics, InputPatterns: patterns, Processor: worker.Func(in.Process)}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- worker.Run(runCtx, cfg, stage, slog.New(slog.NewTextHandler(io.Discard, nil)), worker.NewRegistry(), &worker.Readiness{})
	}()
	ingested := readTopic(t, brokers, schemas.TopicIngested, 2)
	rejected := readTopic(t, brokers, schemas.TopicRejected, 1)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("ingest worker: %v", err)
	}

	var got []string
	for _, r := range ingested {
		var ev struct {
			LeadID    string `json:"lead_id"`
			PartnerID string `json:"partner_id"`
		}
		if err := json.Unmarshal(r.Value, &ev); err != nil {
			t.Fatal(err)
		}
		got = append(got, ev.LeadID+"@"+ev.PartnerID)
	}
	slices.Sort(got)
	if want := []string{"L-own@acme", "L-shared@zeta"}; !slices.Equal(got, want) {
		t.Errorf("ingested %q, want %q", got, want)
	}
	var rej schemas.Rejection
	if err := json.Unmarshal(rejected[0].Value, &rej); err != nil {
		t.Fatal(err)
	}
	if rej.Reasons[0].Code != CodePartnerMismatch || rej.SourceTopic != acmeTopic || !strings.Contains(string(rej.Original), "L-claim") {
		t.Errorf("dead letter %+v, want %s of L-claim from %s", rej, CodePartnerMismatch, acmeTopic)
	}
}

// readTopic reads want committed records of topic from the start, as the
// superuser, then keeps reading briefly so that extra records would be seen
// too.
func readTopic(t *testing.T, brokers []string, topic string, want int) []*kgo.Record {
	t.Helper()
	cl := saslClient(t, brokers, "admin", kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	return testenv.ReadExactly(t, cl, topic, want)
}

// TestInboundProcess: on a partner's topic the partner comes from the topic;
// on the shared topic, from the record.
func TestInboundProcess(t *testing.T) {
	t.Parallel()
	acme, _ := schemas.InboundTopicFor("acme")
	tests := []struct {
		name, topic, value string
		code               string // expected reject code, "" for success
		partner            string // partner_id of the output
	}{
		{"own topic fills the partner", acme, `{"lead_id":"L-1"}`, "", "acme"},
		{"own topic, own partner", acme, `{"lead_id":"L-1","partner_id":"acme"}`, "", "acme"},
		{"own topic, another partner", acme, `{"lead_id":"L-1","partner_id":"zeta"}`, CodePartnerMismatch, ""},
		{"own topic, partner in another case", acme, `{"lead_id":"L-1","partner_id":"ACME"}`, CodePartnerMismatch, ""},
		{"own topic, empty partner", acme, `{"lead_id":"L-1","partner_id":""}`, CodePartnerMismatch, ""},
		{"own topic, non-string partner", acme, `{"lead_id":"L-1","partner_id":7}`, CodePartnerMismatch, ""},
		{"own topic, malformed event", acme, `{"lead_id":`, CodeMalformedJSON, ""},
		{"shared topic trusts the record", schemas.TopicInbound, `{"lead_id":"L-1","partner_id":"zeta"}`, "", "zeta"},
		{"shared topic fills nothing", schemas.TopicInbound, `{"lead_id":"L-1"}`, "", ""},
	}
	in := &Inbound{Now: func() time.Time { return now }}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, err := in.Process(context.Background(), worker.Message{Topic: "any." + tt.topic, BareTopic: tt.topic, Value: []byte(tt.value)})
			if tt.code != "" {
				var rej *worker.RejectError
				if !errors.As(err, &rej) || rej.Reasons[0].Code != tt.code {
					t.Fatalf("Process = %v, want reject %s", err, tt.code)
				}
				if strings.Contains(err.Error(), "zeta") {
					t.Errorf("reason %q echoes the claimed partner", err)
				}
				return
			}
			if err != nil || len(out) != 1 || out[0].Topic != schemas.TopicIngested {
				t.Fatalf("Process = %+v, %v", out, err)
			}
			if got := partnerOf(t, out[0].Value); got != tt.partner {
				t.Errorf("partner_id %q, want %q", got, tt.partner)
			}
		})
	}
}

// partnerOf is the partner_id string of an event, "" if it has none.
func partnerOf(t testing.TB, value []byte) string {
	t.Helper()
	var ev struct {
		PartnerID string `json:"partner_id"`
	}
	if err := json.Unmarshal(value, &ev); err != nil {
		t.Fatalf("output %s: %v", value, err)
	}
	return ev.PartnerID
}

// FuzzInboundProcess: whatever a partner writes to its own topic, what ingest
// passes on names that partner and no other.
func FuzzInboundProcess(f *testing.F) {
	for _, s := range []string{`{"lead_id":"L-1"}`, `{"partner_id":"zeta"}`, `{"partner_id":"acme","partner_id":"zeta"}`,
		`{"partner_id":"ac\u006de"}`, `{"partner_id":null}`, `[]`, `{"a":{"partner_id":"zeta"}}`} {
		f.Add(s)
	}
	acme, _ := schemas.InboundTopicFor("acme")
	in := &Inbound{Now: func() time.Time { return now }}
	f.Fuzz(func(t *testing.T, value string) {
		out, err := in.Process(context.Background(), worker.Message{BareTopic: acme, Value: []byte(value)})
		if err != nil {
			if !worker.IsPermanent(err) {
				t.Fatalf("a bad record must be a dead letter, got %v", err)
			}
			return
		}
		for _, o := range out {
			if got := partnerOf(t, o.Value); got != "acme" {
				t.Fatalf("%s on acme's topic came out as partner %q", value, got)
			}
		}
	})
}

// TestPartnerInboundPattern: ingest subscribes to exactly the topics
// schemas.PartnerOfInboundTopic names a partner for.
func TestPartnerInboundPattern(t *testing.T) {
	t.Parallel()
	re := regexp.MustCompile("^(?:" + partnerInboundPattern + ")$")
	for _, topic := range []string{"referrals.inbound.acme", "referrals.inbound.a", "referrals.inbound.Acme-2_x.y",
		"referrals.inbound." + strings.Repeat("a", 64), "referrals.inbound." + strings.Repeat("a", 65),
		"referrals.inbound", "referrals.inbound.", "referrals.inbound.-x", "referrals.inbound._x", "referrals.inbound..x",
		"referrals.inboundXacme", "referrals.inbound.a|b", "referrals.ingested", "x.referrals.inbound.acme"} {
		_, isPartner := schemas.PartnerOfInboundTopic(topic)
		if re.MatchString(topic) != isPartner {
			t.Errorf("%q: pattern matches %v, PartnerOfInboundTopic %v", topic, re.MatchString(topic), isPartner)
		}
	}
}

func TestInboundSubscription(t *testing.T) {
	t.Parallel()
	for _, shared := range []bool{true, false} {
		topics, patterns := (&App{InboundShared: shared}).Subscription()
		if got := slices.Contains(topics, schemas.TopicInbound); got != shared || len(patterns) != 1 {
			t.Errorf("--inbound-shared=%v: topics %q patterns %q", shared, topics, patterns)
		}
	}
}
