package workertest

import (
	"context"
	"errors"
	"strconv"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/reftrack/reftrack/internal/testenv"
	"github.com/reftrack/reftrack/internal/worker"
)

// countProc counts the records of each key in its state and outputs the
// running count: any state lost, or kept from an aborted batch, shows.
type countProc struct {
	rdb    redis.UniversalClient
	prefix string
}

func (countProc) ProcessBatch(context.Context, []worker.Message) ([]worker.Result, error) {
	return nil, errors.New("stateful: the runtime calls ProcessState")
}

func (c countProc) StateBackend() (redis.UniversalClient, string) { return c.rdb, c.prefix }

func (countProc) ProcessState(ctx context.Context, st *worker.StateTxn, batch []worker.Message) ([]worker.Result, error) {
	res := make([]worker.Result, len(batch))
	for i, m := range batch {
		k := worker.StateKey{Partition: m.Partition, Key: string(m.Key)}
		v, _, err := st.Get(ctx, k)
		if err != nil {
			return nil, err
		}
		n, _ := strconv.Atoi(string(v))
		n++
		st.Put(k, []byte(strconv.Itoa(n)), 0)
		res[i].Out = []worker.Output{{Value: []byte(string(m.Key) + "=" + strconv.Itoa(n))}}
	}
	return res, nil
}

func TestHarnessCountsAcrossRedisLossAndAborts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb, prefix := testenv.Redis(t)
	h := NewState(t, "counter", rdb, prefix)
	p := countProc{rdb: rdb, prefix: prefix}
	msg := func(part int32, key string) worker.Message { return worker.Message{Partition: part, Key: []byte(key)} }

	for _, step := range []struct {
		name        string
		batch       []worker.Message
		abort, lose bool
		restart     bool
		want        []string
	}{
		{"first", []worker.Message{msg(0, "a"), msg(1, "b"), msg(0, "a")}, false, false, false, []string{"a=1", "b=1", "a=2"}},
		{"aborted", []worker.Message{msg(0, "a")}, true, false, false, []string{"a=3"}},
		{"redo", []worker.Message{msg(0, "a")}, false, false, false, []string{"a=3"}},
		{"after redis loss", []worker.Message{msg(1, "b"), msg(0, "a")}, false, true, false, []string{"b=2", "a=4"}},
		{"after loss and restart", []worker.Message{msg(0, "a"), msg(3, "c")}, false, true, true, []string{"a=5", "c=1"}},
	} {
		if step.lose {
			h.LoseRedis(ctx)
		}
		if step.restart {
			h.Restart()
		}
		run := h.Batch
		if step.abort {
			run = h.Aborted
		}
		res, err := run(ctx, p, step.batch)
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		for i, r := range res {
			if got := string(r.Out[0].Value); got != step.want[i] {
				t.Errorf("%s: record %d says %s, want %s", step.name, i, got, step.want[i])
			}
		}
	}
}
