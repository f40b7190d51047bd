package worker

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrack/reftrack/schemas"
)

// A record whose forwarded form is larger than a record may be must become a
// dead letter, not a produce that fails and is retried forever while
// everything behind it on the partition waits (issue #14 finding 2: a 5 MB
// JSON event compressing to 20 KB passed the broker, then stalled ingest).
func TestOversizeRecordBecomesBoundedDeadLetter(t *testing.T) {
	t.Parallel()
	const prefix = "big."
	brokers, cfg, _ := kafkaFixture(t, prefix, 50)
	cfg.MaxRecordBytes = 1 << 20
	// The partner's producer compresses: 3 MB of JSON is a few KB on the wire.
	prod, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ProducerBatchMaxBytes(16<<20),
		kgo.ProducerBatchCompression(kgo.Lz4Compression()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	huge := append(append([]byte(`{"note":"`), bytes.Repeat([]byte("a"), 3<<20)...), `"}`...)
	in := prefix + schemas.TopicValid
	recs := []*kgo.Record{
		{Topic: in, Partition: 0, Value: []byte("before")},
		{Topic: in, Partition: 0, Value: huge},
		{Topic: in, Partition: 0, Value: []byte("after")},
	}
	if err := prod.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	echo := Func(func(_ context.Context, m Message) ([]Output, error) {
		return []Output{{Topic: schemas.TopicUnique, Key: m.Key, Value: m.Value}}, nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, cfg, Stage{Name: "big", Inputs: []string{schemas.TopicValid}, Processor: echo},
			slog.New(slog.NewTextHandler(io.Discard, nil)), NewRegistry(), &Readiness{})
	}()
	out := consume(t, brokers, prefix+schemas.TopicUnique, 2)
	dead := consume(t, brokers, prefix+schemas.TopicRejected, 1)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if string(out[0].Value) != "before" || string(out[1].Value) != "after" {
		t.Errorf("outputs %q, %q: the partition must go on past the oversize record", out[0].Value, out[1].Value)
	}
	if n := len(dead[0].Value); n > cfg.MaxRecordBytes {
		t.Fatalf("the dead letter itself is %d bytes, over the %d limit", n, cfg.MaxRecordBytes)
	}
	var rej schemas.Rejection
	if err := json.Unmarshal(dead[0].Value, &rej); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(huge)
	switch {
	case len(rej.Reasons) == 0 || rej.Reasons[0].Code != CodeTooLarge:
		t.Errorf("reasons %+v, want %s", rej.Reasons, CodeTooLarge)
	case rej.OriginalSize != int64(len(huge)) || rej.OriginalSHA256 != hex.EncodeToString(sum[:]) || !rej.OriginalTruncated:
		t.Errorf("size %d sha256 %s truncated %v: want the whole original's size and digest", rej.OriginalSize, rej.OriginalSHA256, rej.OriginalTruncated)
	case !bytes.HasPrefix(huge, rej.Original) || len(rej.Original) == 0 || len(rej.Original) > MaxDeadLetterOriginal:
		t.Errorf("original of %d bytes: want a prefix of at most %d", len(rej.Original), MaxDeadLetterOriginal)
	}
}
