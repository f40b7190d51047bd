package main

import (
	"context"
	"fmt"
	"io"

	"github.com/redis/go-redis/v9"

	"github.com/reftrack/reftrack/deploy/devstack"
)

// redisPrefix is the bench workers' key prefix in the dev stack's Redis.
const redisPrefix = "bench:"

// clearRedis deletes what an earlier run left under prefix, in every
// database the workers use (0, and 1 for --seal's key store). Not FLUSHALL:
// the dev stack's Redis is shared with tests that may be running.
func clearRedis(ctx context.Context, addr, prefix string) error {
	for _, db := range []int{0, 1} {
		rdb := redis.NewClient(&redis.Options{Addr: addr, DB: db})
		err := deletePrefix(ctx, rdb, prefix)
		rdb.Close()
		if err != nil {
			return fmt.Errorf("clear %s* in redis database %d: %w", prefix, db, err)
		}
	}
	return nil
}

func deletePrefix(ctx context.Context, rdb *redis.Client, prefix string) error {
	it := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var keys []string
	for it.Next(ctx) {
		if keys = append(keys, it.Val()); len(keys) == 1000 {
			if err := rdb.Unlink(ctx, keys...).Err(); err != nil {
				return err
			}
			keys = keys[:0]
		}
	}
	if err := it.Err(); err != nil {
		return err
	}
	if len(keys) > 0 {
		return rdb.Unlink(ctx, keys...).Err()
	}
	return nil
}

// cpuNow reads the CPU seconds each worker of st (none when st is nil) and
// each service has spent so far.
func cpuNow(st *devstack.Stack, services map[string]int) (workers, svc map[string]float64) {
	workers, svc = map[string]float64{}, map[string]float64{}
	if st != nil {
		for _, s := range devstack.Stages {
			if _, cpu, err := procStats(st.PID(s)); err == nil {
				workers[s] = cpu
			}
		}
	}
	for name, pid := range services {
		if _, cpu, err := procStats(pid); err == nil {
			svc[name] = cpu
		}
	}
	return workers, svc
}

// minus is after − before for every key of after.
func minus(after, before map[string]float64) map[string]float64 {
	out := make(map[string]float64, len(after))
	for k, v := range after {
		out[k] = v - before[k]
	}
	return out
}

// Batches is what one worker committed: transactions (a write, for the
// sink) and the records in them.
type Batches struct {
	Batches float64 `json:"batches"`
	Records float64 `json:"records"`
	Seconds float64 `json:"seconds"` // in batches, from the poll's end to the commit
}

// PerBatch is the mean records per batch.
func (b Batches) PerBatch() float64 {
	if b.Batches == 0 {
		return 0
	}
	return b.Records / b.Batches
}

// MeanMillis is the mean time of a batch, ms.
func (b Batches) MeanMillis() float64 {
	if b.Batches == 0 {
		return 0
	}
	return b.Seconds / b.Batches * 1000
}

// batchesNow reads every worker's committed batches and their records.
func batchesNow(st *devstack.Stack) map[string]Batches {
	out := map[string]Batches{}
	for _, s := range devstack.Stages {
		fams, err := scrape(st.MetricsURL(s))
		if err != nil {
			continue
		}
		var b Batches
		if f := fams["reftrack_batches_total"]; f != nil {
			for _, m := range f.Metric {
				for _, l := range m.Label {
					if l.GetName() == "outcome" && l.GetValue() == "committed" && m.Counter != nil {
						b.Batches += m.Counter.GetValue()
					}
				}
			}
		}
		if f := fams["reftrack_batch_records"]; f != nil {
			for _, m := range f.Metric {
				if m.Histogram != nil {
					b.Records += m.Histogram.GetSampleSum()
				}
			}
		}
		if f := fams["reftrack_batch_duration_seconds"]; f != nil {
			for _, m := range f.Metric {
				if m.Histogram != nil {
					b.Seconds += m.Histogram.GetSampleSum()
				}
			}
		}
		out[s] = b
	}
	return out
}

// batchesSince is after − before per worker.
func batchesSince(after, before map[string]Batches) map[string]Batches {
	out := map[string]Batches{}
	for s, a := range after {
		out[s] = Batches{Batches: a.Batches - before[s].Batches, Records: a.Records - before[s].Records, Seconds: a.Seconds - before[s].Seconds}
	}
	return out
}

// reportLatencyPhase prints what the latency phase alone cost per event:
// there a poll holds a few records, so the per-transaction and per-INSERT
// costs that full batches spread thin show up.
func reportLatencyPhase(w io.Writer, r *Results) {
	c := r.LatencyCPUMicros
	if r.OfferedEvents == 0 || c.Process == nil {
		return
	}
	fmt.Fprintf(w, "%-44s %14.1f µs (workers %.1f + services %.1f)\n", "CPU per event, latency phase alone", c.Total, c.Workers, c.Services)
	for _, name := range append(append([]string{}, devstack.Stages...), "devbroker", "clickhouse", "redis") {
		v, ok := c.Process[name]
		if !ok {
			continue
		}
		if b, ok := r.LatencyBatches[name]; ok {
			fmt.Fprintf(w, "%-44s %14.1f µs/event %8.0f batches %8.1f records/batch %6.0f ms/batch\n", "  "+name, v, b.Batches, b.PerBatch(), b.MeanMillis())
			continue
		}
		fmt.Fprintf(w, "%-44s %14.1f µs/event\n", "  "+name, v)
	}
	if ch := r.LatencyClickHouse; ch != nil {
		fmt.Fprintf(w, "%-44s %8.4f INSERTs %8.2f rows %8.3f merges per event\n", "  ClickHouse, latency phase",
			ch.PerEvent["InsertQuery"], ch.PerEvent["InsertedRows"], ch.PerEvent["Merge"])
	}
}
