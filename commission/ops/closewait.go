package ops

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrack/reftrack/internal/kafkaconn"
)

// closeWait confirms that a period close is complete: every entry the
// commission stage posted before the close is in ClickHouse. The close
// records take effect at one offset per attributions partition; the
// entries posted before them travel through the stage to commissions and
// through the sink to commission_entries. So: first the stage's group must
// have committed past each close record (it commits its outputs and its
// offsets in one transaction, so from then on every entry posted before the
// close is committed on commissions); then the sink must have written
// commissions up to the partitions' ends as they were then.
type closeWait struct {
	adm         *kadm.Client
	conn        driver.Conn
	kafka       kafkaconn.Config
	group       string // the commission stage's consumer group
	commissions string // topic, prefix applied
	poll        time.Duration
}

// await runs check every w.poll until it reports nothing behind, or fails
// when timeout passes, naming what is still behind: a close that cannot be
// confirmed must not pass for done.
func (w closeWait) await(ctx context.Context, timeout time.Duration, what string, check func(context.Context) ([]string, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		behind, err := check(ctx)
		if err == nil && len(behind) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return fmt.Errorf("%s: not confirmed after %s: %w", what, timeout, err)
			}
			return fmt.Errorf("%s: not confirmed after %s, behind: %s", what, timeout, strings.Join(behind, ", "))
		case <-time.After(w.poll):
		}
	}
}

// stagePast lists the attributions partitions where the stage's group has
// not committed past the close record at its offset.
func (w closeWait) stagePast(closes map[string]map[int32]int64) func(context.Context) ([]string, error) {
	return func(ctx context.Context) ([]string, error) {
		committed, err := w.adm.FetchOffsets(ctx, w.group)
		if errors.Is(err, kerr.GroupIDNotFound) {
			committed, err = kadm.OffsetResponses{}, nil // the stage committed nothing yet
		}
		if err != nil {
			return nil, fmt.Errorf("fetch offsets of group %s: %w", w.group, err)
		}
		var behind []string
		for topic, parts := range closes {
			for p, at := range parts {
				o, ok := committed.Lookup(topic, p)
				if !ok || o.Err != nil || o.At <= at {
					behind = append(behind, fmt.Sprintf("%s/%d (stage group %s at %d, close at %d)", topic, p, w.group, o.At, at))
				}
			}
		}
		slices.Sort(behind)
		return behind, nil
	}
}

// journalEnds are the commissions partitions' last stable offsets: what the
// stage committed, its open transaction (if any) excluded.
func (w closeWait) journalEnds(ctx context.Context) (map[int32]int64, error) {
	listed, err := w.adm.ListCommittedOffsets(ctx, w.commissions)
	if err != nil {
		return nil, fmt.Errorf("list end offsets of %s: %w", w.commissions, err)
	}
	if err := listed.Error(); err != nil {
		return nil, fmt.Errorf("list end offsets of %s: %w", w.commissions, err)
	}
	ends := map[int32]int64{}
	listed.Each(func(o kadm.ListedOffset) { ends[o.Partition] = o.Offset })
	return ends, nil
}

// sinkAt lists the commissions partitions the sink has not written up to
// ends: sink_offsets says where the sink goes on from (the offset after the
// last record it wrote); anything between it and the end that is not a
// transaction marker (or aborted) is still to be written.
func (w closeWait) sinkAt(ends map[int32]int64) func(context.Context) ([]string, error) {
	return func(ctx context.Context) ([]string, error) {
		next, err := w.sinkOffsets(ctx)
		if err != nil {
			return nil, err
		}
		var behind []string
		for p, end := range ends {
			if next[p] >= end {
				continue
			}
			done, err := w.onlyMarkers(ctx, p, next[p], end)
			if err != nil {
				return nil, err
			}
			if !done {
				behind = append(behind, fmt.Sprintf("%s/%d (sink at %d, journal ends at %d)", w.commissions, p, next[p], end))
			}
		}
		slices.Sort(behind)
		return behind, nil
	}
}

// sinkOffsets reads where the sink goes on from per commissions partition.
func (w closeWait) sinkOffsets(ctx context.Context) (map[int32]int64, error) {
	rows, err := w.conn.Query(ctx, "SELECT partition, max(next_offset) FROM sink_offsets WHERE topic = ? GROUP BY partition", w.commissions)
	if err != nil {
		return nil, fmt.Errorf("read sink_offsets of %s: %w", w.commissions, err)
	}
	defer rows.Close()
	out := map[int32]int64{}
	for rows.Next() {
		var p int32
		var next int64
		if err := rows.Scan(&p, &next); err != nil {
			return nil, fmt.Errorf("read sink_offsets of %s: %w", w.commissions, err)
		}
		out[p] = next
	}
	return out, rows.Err()
}

// onlyMarkers says whether partition p of commissions holds nothing but
// transaction markers (and aborted records) in [from, end): the offsets a
// read_committed sink never sees, so it never writes them either.
func (w closeWait) onlyMarkers(ctx context.Context, p int32, from, end int64) (bool, error) {
	cl, err := w.kafka.NewClient(kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{w.commissions: {p: kgo.NewOffset().At(from)}}))
	if err != nil {
		return false, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, w.poll+time.Second)
	defer cancel()
	for {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return false, nil // not seen to the end yet: behind, as far as anyone can tell
		}
		for _, fe := range fs.Errors() {
			if !errors.Is(fe.Err, context.DeadlineExceeded) {
				return false, fmt.Errorf("read %s/%d from %d: %w", w.commissions, p, from, fe.Err)
			}
		}
		for _, r := range fs.Records() {
			if r.Offset >= end {
				return true, nil
			}
			if !r.Attrs.IsControl() {
				return false, nil
			}
			if r.Offset == end-1 {
				return true, nil
			}
		}
	}
}

// recordDone writes the close as complete: statements delivers the period
// from now on.
func recordDone(ctx context.Context, conn driver.Conn, r periodClose, period time.Time, at time.Time) error {
	batch, err := conn.PrepareBatch(ctx, `INSERT INTO commission_period_closes_done (partner_id, period, request_id, actor, done_at)`)
	if err == nil {
		err = batch.Append(r.partnerID(), period, r.id, r.actor, at.UTC())
	}
	if err == nil {
		err = batch.Send()
	}
	if err != nil {
		return fmt.Errorf("record period close %s as done: %w", r.id, err)
	}
	return nil
}
