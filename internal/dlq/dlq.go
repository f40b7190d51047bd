// Package dlq reads the dead-letter topic (referrals.rejected), lists and
// inspects its records, and re-drives chosen ones — after a schema or rule
// fix — to the topic they were rejected from, with their original bytes.
//
// Each record is re-driven once: after producing it, its DLQ position is
// marked in Redis, and later runs skip marked records. A crash between the
// produce and the mark re-drives that record again on the next run; the
// copy carries the same event_id (or the same bytes, from which ingest
// derives the same id), so dedupe drops it.
package dlq

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrack/reftrack/internal/kafkaconn"
	"github.com/reftrack/reftrack/schemas"
)

// Record is one dead letter with its own position.
type Record struct {
	Partition int32
	Offset    int64
	schemas.Rejection
}

// Pos names a dead letter: "partition/offset".
func (r Record) Pos() string {
	return strconv.Itoa(int(r.Partition)) + "/" + strconv.FormatInt(r.Offset, 10)
}

// Filter chooses dead letters; empty fields match everything.
type Filter struct {
	Stage  string
	Code   string // matches any of the record's reasons
	Source string // source topic
}

// Match reports whether r passes the filter.
func (f Filter) Match(r Record) bool {
	if f.Stage != "" && r.Stage != f.Stage || f.Source != "" && r.SourceTopic != f.Source {
		return false
	}
	return f.Code == "" || slices.ContainsFunc(r.Reasons, func(x schemas.Reason) bool { return x.Code == f.Code })
}

// Read returns every dead letter in topic up to the end it has now.
func Read(ctx context.Context, kafka kafkaconn.Config, topic string) ([]Record, error) {
	adm, err := kafka.Connect(ctx)
	if err != nil {
		return nil, err
	}
	ends, err := kadm.NewClient(adm).ListEndOffsets(ctx, topic)
	adm.Close()
	if err != nil {
		return nil, fmt.Errorf("list end offsets of %s: %w", topic, err)
	}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition] = o.Offset
		}
	})
	if len(want) == 0 {
		return nil, nil
	}
	cl, err := kafka.NewClient(kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	var out []Record
	for len(want) > 0 {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		fs := cl.PollFetches(pctx)
		cancel()
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if fs.NumRecords() == 0 {
			// Aborted transactions leave offsets no committed record fills.
			break
		}
		fs.EachRecord(func(r *kgo.Record) {
			if end, ok := want[r.Partition]; ok && r.Offset >= end-1 {
				delete(want, r.Partition)
			}
			rec := Record{Partition: r.Partition, Offset: r.Offset}
			if err := json.Unmarshal(r.Value, &rec.Rejection); err != nil {
				rec.Stage, rec.Reasons = "?", []schemas.Reason{{Code: "undecodable_dead_letter", Message: err.Error()}}
				rec.Original = r.Value
			}
			out = append(out, rec)
		})
	}
	return out, nil
}

// Redrive produces the original bytes of every matching record not yet
// re-driven to its source topic and marks it; it returns the records sent.
// With dry, it only returns what it would send.
func Redrive(ctx context.Context, cl *kgo.Client, rdb redis.UniversalClient, prefix string, recs []Record, f Filter, dry bool) ([]Record, error) {
	var sent []Record
	for _, r := range recs {
		if !f.Match(r) || r.SourceTopic == "" || len(r.Original) == 0 {
			continue
		}
		key := prefix + "dlq:redriven:" + r.Pos()
		done, err := rdb.Exists(ctx, key).Result()
		if err != nil {
			return sent, fmt.Errorf("check %s: %w", key, err)
		}
		if done > 0 {
			continue
		}
		if dry {
			sent = append(sent, r)
			continue
		}
		rec := &kgo.Record{Topic: r.SourceTopic, Key: r.Key, Value: r.Original, Headers: []kgo.RecordHeader{
			{Key: "redriven_from", Value: []byte(r.Pos())}, {Key: "redriven_at", Value: []byte(time.Now().UTC().Format(time.RFC3339))},
		}}
		if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
			return sent, fmt.Errorf("re-drive %s to %s: %w", r.Pos(), r.SourceTopic, err)
		}
		if err := rdb.Set(ctx, key, time.Now().UTC().Format(time.RFC3339), 0).Err(); err != nil {
			return sent, fmt.Errorf("mark %s re-driven: %w", r.Pos(), err)
		}
		sent = append(sent, r)
	}
	return sent, nil
}
