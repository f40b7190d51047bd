package worker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrack/reftrack/schemas"
)

// keeper rejects every record and withholds what its dead letters keep;
// its first answer is a failure, as a key store that is down would give.
type keeper struct{ calls atomic.Int64 }

func (k *keeper) ProcessBatch(_ context.Context, batch []Message) ([]Result, error) {
	out := make([]Result, len(batch))
	for i := range batch {
		out[i].Err = Reject("bad", "", "refused")
	}
	return out, nil
}

func (k *keeper) DeadLetterOriginals(_ context.Context, msgs []Message) ([]Original, error) {
	if k.calls.Add(1) == 1 {
		return nil, errors.New("key store down")
	}
	out := make([]Original, len(msgs))
	for i := range msgs {
		out[i] = Original{Withheld: true}
	}
	return out, nil
}

// A processor that is an OriginalKeeper decides what its dead letters keep;
// when it cannot answer, the batch is retried: a dead letter never falls
// back to the record as it came.
func TestOriginalKeeperWithholds(t *testing.T) {
	t.Parallel()
	const prefix = "keep."
	brokers, cfg, prod := kafkaFixture(t, prefix, 50)
	secret := []byte(`{"email":"someone@example.com"}`)
	if err := prod.ProduceSync(context.Background(), &kgo.Record{Topic: prefix + schemas.TopicValid, Key: []byte("someone@example.com"), Value: secret}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	k := &keeper{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, cfg, Stage{Name: "keep", Inputs: []string{schemas.TopicValid}, Processor: k},
			slog.New(slog.NewTextHandler(io.Discard, nil)), NewRegistry(), &Readiness{})
	}()
	dead := consume(t, brokers, prefix+schemas.TopicRejected, 1)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(dead[0].Value)+string(dead[0].Key), "someone") {
		t.Errorf("the dead letter holds the record: key %q value %s", dead[0].Key, dead[0].Value)
	}
	var rej schemas.Rejection
	if err := json.Unmarshal(dead[0].Value, &rej); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(secret)
	if len(rej.Original) != 0 || rej.OriginalSize != int64(len(secret)) || rej.OriginalSHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("original %q size %d sha256 %s: want only the size and digest", rej.Original, rej.OriginalSize, rej.OriginalSHA256)
	}
	if k.calls.Load() < 2 {
		t.Errorf("keeper asked %d times: the failed answer must be retried", k.calls.Load())
	}
}
