package sink

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"golang.org/x/sync/errgroup"

	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

// Store writes records to ClickHouse; it implements worker.Store.
type Store struct {
	Conn        driver.Conn
	TopicPrefix string
	Metrics     *Metrics
	Now         func() time.Time

	// uncertain is set when a Write failed: an INSERT may have landed on
	// the server while its answer was lost (a cut connection), so the next
	// Write reads back what is there before inserting (see dropLanded).
	uncertain bool
}

// PingName and Ping make the store's readiness checkable (worker.Pinger).
func (s *Store) PingName() string { return "clickhouse" }

// Ping asks ClickHouse whether it answers.
func (s *Store) Ping(ctx context.Context) error { return s.Conn.Ping(ctx) }

// Write inserts a poll's records with one INSERT per table touched (each
// topic's own, plus rejected_events for undecodable records), whatever the
// number of partitions they came from.
func (s *Store) Write(ctx context.Context, parts []worker.Part) error {
	for _, p := range parts {
		if _, ok := tableOf[strings.TrimPrefix(p.Topic, s.TopicPrefix)]; !ok {
			return fmt.Errorf("no table for topic %q (prefix %q)", p.Topic, s.TopicPrefix)
		}
	}
	byTable := map[string][]Row{}
	var order []string
	type received struct {
		topic string
		at    time.Time
	}
	var landed []received
	for _, p := range parts {
		bare := strings.TrimPrefix(p.Topic, s.TopicPrefix)
		for _, m := range p.Msgs {
			rows, at := Decode(bare, m)
			for _, r := range rows {
				if _, ok := byTable[r.Table.Name]; !ok {
					order = append(order, r.Table.Name)
				}
				byTable[r.Table.Name] = append(byTable[r.Table.Name], r)
				if r.Table.Name == rejectedEvents.Name && bare != schemas.TopicRejected {
					s.Metrics.undecodable.WithLabelValues(bare).Inc()
				}
			}
			if at != nil {
				landed = append(landed, received{bare, *at})
			}
		}
	}
	if s.uncertain {
		if err := s.dropLanded(ctx, byTable); err != nil {
			return err
		}
	}
	s.uncertain = true // until this Write has succeeded whole
	if err := s.insertAll(ctx, order, byTable); err != nil {
		return err
	}
	if err := s.writeOffsets(ctx, parts); err != nil {
		return err
	}
	s.uncertain = false
	// Latency ends when the rows are in ClickHouse, not when writing starts.
	now := s.Now()
	for _, l := range landed {
		s.Metrics.latency.WithLabelValues(l.topic).Observe(now.Sub(l.at).Seconds())
	}
	return nil
}

// insertAll runs one INSERT per table, all at once: a write then waits for
// its slowest INSERT rather than for the sum of four or five (each a round
// trip and a part the server writes), which under load was most of the
// sink's write time and so latency for every record of the batch. One
// failing leaves the others to land or not: the store is uncertain then,
// and the retry reads back what landed (dropLanded).
func (s *Store) insertAll(ctx context.Context, order []string, byTable map[string][]Row) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, name := range order {
		if rows := byTable[name]; len(rows) > 0 {
			g.Go(func() error { return s.insert(gctx, rows) })
		}
	}
	return g.Wait()
}

func (s *Store) insert(ctx context.Context, rows []Row) error {
	t := rows[0].Table
	start := s.Now()
	batch, err := s.Conn.PrepareBatch(ctx, "INSERT INTO "+t.Name+" ("+strings.Join(t.Columns, ", ")+")")
	if err != nil {
		return fmt.Errorf("prepare insert into %s: %w", t.Name, err)
	}
	for _, r := range rows {
		if err := batch.Append(r.Values...); err != nil {
			_ = batch.Abort()
			return fmt.Errorf("append row to %s: %w", t.Name, err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("insert %d rows into %s: %w", len(rows), t.Name, err)
	}
	s.Metrics.rows.WithLabelValues(t.Name).Add(float64(len(rows)))
	s.Metrics.insertTime.WithLabelValues(t.Name).Observe(s.Now().Sub(start).Seconds())
	return nil
}

// writeOffsets records where each part ends, after its rows are written:
// a crash in between leaves sink_offsets behind the rows, never ahead, and
// what is replayed collapses in the ReplacingMergeTree tables.
func (s *Store) writeOffsets(ctx context.Context, parts []worker.Part) error {
	now := s.Now()
	rows := make([]Row, len(parts))
	for i, p := range parts {
		rows[i] = Row{sinkOffsets, []any{p.Topic, p.Partition, p.Msgs[len(p.Msgs)-1].Offset + 1, now}}
	}
	return s.insert(ctx, rows)
}

// NextOffset reads back where the sink left off for a partition: from
// sink_offsets, or, for a partition written before that table existed,
// from the rows themselves (a scan of the topic's table and of
// rejected_events, where its undecodable records live).
func (s *Store) NextOffset(ctx context.Context, topic string, partition int32) (int64, error) {
	bare := strings.TrimPrefix(topic, s.TopicPrefix)
	t, ok := tableOf[bare]
	if !ok {
		return -1, fmt.Errorf("no table for topic %q", topic)
	}
	var recorded int64
	var n uint64
	q := "SELECT max(next_offset), count() FROM sink_offsets WHERE topic = ? AND partition = ?"
	if err := s.Conn.QueryRow(ctx, q, topic, partition).Scan(&recorded, &n); err != nil {
		return -1, fmt.Errorf("read sink_offsets of %s/%d: %w", topic, partition, err)
	}
	if n > 0 {
		return recorded, nil
	}
	next := int64(-1)
	names := []string{t.Name, rejectedEvents.Name}
	for _, more := range alsoWritten[bare] {
		names = append(names, more.Name)
	}
	for _, name := range names {
		var maxOff int64
		var n uint64
		q := "SELECT max(kafka_offset), count() FROM " + name + " WHERE kafka_topic = ? AND kafka_partition = ?"
		if err := s.Conn.QueryRow(ctx, q, topic, partition).Scan(&maxOff, &n); err != nil {
			return -1, fmt.Errorf("read high-water mark of %s in %s: %w", topic, name, err)
		}
		if n > 0 && maxOff+1 > next {
			next = maxOff + 1
		}
	}
	return next, nil
}

// NextOffsets is where each of the parts' partitions ends in sink_offsets,
// in one query: worker.RunStore drops what is already there before every
// write, so a sink that lost its partitions while stalled writes nothing
// the new owner wrote (worker.Fencer).
func (s *Store) NextOffsets(ctx context.Context, parts []worker.Part) (map[string]map[int32]int64, error) {
	topics, partitions := map[string]bool{}, map[int32]bool{}
	var ts []string
	var ps []int32
	for _, p := range parts {
		if !topics[p.Topic] {
			topics[p.Topic] = true
			ts = append(ts, p.Topic)
		}
		if !partitions[p.Partition] {
			partitions[p.Partition] = true
			ps = append(ps, p.Partition)
		}
	}
	rows, err := s.Conn.Query(ctx, "SELECT topic, partition, max(next_offset) FROM sink_offsets WHERE has(?, topic) AND has(?, partition) GROUP BY topic, partition", ts, ps)
	if err != nil {
		return nil, fmt.Errorf("read sink_offsets: %w", err)
	}
	defer rows.Close()
	out := map[string]map[int32]int64{}
	for rows.Next() {
		var topic string
		var partition int32
		var next int64
		if err := rows.Scan(&topic, &partition, &next); err != nil {
			return nil, fmt.Errorf("read sink_offsets: %w", err)
		}
		if out[topic] == nil {
			out[topic] = map[int32]int64{}
		}
		out[topic][partition] = next
	}
	return out, rows.Err()
}

// dropLanded removes from byTable the rows ClickHouse already holds: after
// a failed Write the runtime retries the same parts, and an INSERT whose
// answer was lost may have landed (found by make chaos, R7: 508 rows
// written twice, invisible under FINAL but doubling any raw count). Each
// table is asked, for the retried partitions, the highest offset it holds
// at or above the retry's first; rows up to it are dropped. The scan is
// not indexed by offset, but it runs only after a failure.
func (s *Store) dropLanded(ctx context.Context, byTable map[string][]Row) error {
	for name, rows := range byTable {
		if len(rows) == 0 {
			continue
		}
		t := rows[0].Table
		ti, pi, oi := slices.Index(t.Columns, "kafka_topic"), slices.Index(t.Columns, "kafka_partition"), slices.Index(t.Columns, "kafka_offset")
		if ti < 0 || pi < 0 || oi < 0 {
			continue
		}
		var topics []string
		from := int64(math.MaxInt64)
		for _, r := range rows {
			if tp := r.Values[ti].(string); !slices.Contains(topics, tp) {
				topics = append(topics, tp)
			}
			from = min(from, r.Values[oi].(int64))
		}
		q := "SELECT kafka_topic, kafka_partition, max(kafka_offset) FROM " + name +
			" WHERE has(?, kafka_topic) AND kafka_offset >= ? GROUP BY kafka_topic, kafka_partition"
		res, err := s.Conn.Query(ctx, q, topics, from)
		if err != nil {
			return fmt.Errorf("read back what %s holds after a failed write: %w", name, err)
		}
		held := map[string]int64{}
		for res.Next() {
			var topic string
			var partition int32
			var upto int64
			if err := res.Scan(&topic, &partition, &upto); err != nil {
				res.Close()
				return fmt.Errorf("read back what %s holds after a failed write: %w", name, err)
			}
			held[topic+"/"+strconv.Itoa(int(partition))] = upto
		}
		res.Close()
		if err := res.Err(); err != nil {
			return fmt.Errorf("read back what %s holds after a failed write: %w", name, err)
		}
		kept := rows[:0]
		for _, r := range rows {
			upto, ok := held[r.Values[ti].(string)+"/"+strconv.Itoa(int(r.Values[pi].(int32)))]
			if ok && r.Values[oi].(int64) <= upto {
				s.Metrics.rereadSkipped.WithLabelValues(name).Inc()
				continue
			}
			kept = append(kept, r)
		}
		byTable[name] = kept
	}
	return nil
}
