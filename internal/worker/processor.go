package worker

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Message is one consumed record, without any Kafka client attached.
type Message struct {
	Topic     string // as consumed, with the configured prefix
	BareTopic string // Topic without the prefix, as package schemas names it (set by Run)
	Partition int32
	Offset    int64
	Key       []byte
	Value     []byte
	Timestamp time.Time
}

// messageOf is the Message of a consumed record.
func messageOf(r *kgo.Record) Message {
	return Message{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp}
}

// Output is a record to produce. Topic is the unprefixed name from package
// schemas; the runtime applies the configured prefix.
type Output struct {
	Topic string
	Key   []byte
	Value []byte
}

// Result is the outcome of one Message: outputs, or an error. A permanent
// error (see IsPermanent) dead-letters the message; any other aborts the batch.
type Result struct {
	Out []Output
	Err error
}

// Processor handles a batch. It returns one Result per message, in order, or
// an error that aborts the whole batch for a retry (e.g. Redis unreachable).
// Processors that batch I/O (Redis pipelines) implement this directly; others
// use Func.
type Processor interface {
	ProcessBatch(ctx context.Context, batch []Message) ([]Result, error)
}

// Func adapts a pure per-record function into a Processor. A panic is
// recovered into a permanent error, so a poison record is dead-lettered
// rather than crashing the worker in a restart loop.
type Func func(ctx context.Context, m Message) ([]Output, error)

// ProcessBatch implements Processor.
func (f Func) ProcessBatch(ctx context.Context, batch []Message) ([]Result, error) {
	results := make([]Result, len(batch))
	for i, m := range batch {
		results[i] = f.one(ctx, m)
	}
	return results, nil
}

func (f Func) one(ctx context.Context, m Message) (r Result) {
	defer func() {
		if p := recover(); p != nil {
			r = Result{Err: Permanent(fmt.Errorf("panic processing record: %v\n%s", p, debug.Stack()))}
		}
	}()
	out, err := f(ctx, m)
	return Result{Out: out, Err: err}
}
