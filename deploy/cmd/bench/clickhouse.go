package main

import (
	"context"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// ClickHouseCost is what ClickHouse did for the run's events, per event:
// the INSERTs, rows and bytes the sink sent, the merges they caused, and
// what each table holds in the end. Its CPU goes mostly to parts (one per
// INSERT per month partition) and merges, so these say where it went.
type ClickHouseCost struct {
	PerEvent map[string]float64 `json:"per_event"` // system.events deltas: InsertQuery, InsertedRows, …
	Tables   map[string]Table   `json:"tables"`
}

// Table is one table's active parts at the end, summed.
type Table struct {
	Rows         uint64  `json:"rows"`
	BytesOnDisk  uint64  `json:"bytes_on_disk"`
	Uncompressed uint64  `json:"uncompressed_bytes"`
	Parts        uint64  `json:"active_parts"`
	RowsPerEvent float64 `json:"rows_per_event"`
	BytesPerRow  float64 `json:"bytes_on_disk_per_row"`
}

// chEvents are the server-wide counters bench reads before and after; the
// bench database is all the server writes meanwhile.
var chEvents = []string{"InsertQuery", "InsertedRows", "InsertedBytes", "Merge", "MergedRows", "MergedUncompressedBytes"}

func readEvents(ctx context.Context, conn driver.Conn) (map[string]float64, error) {
	rows, err := conn.Query(ctx, "SELECT event, value FROM system.events")
	if err != nil {
		return nil, fmt.Errorf("read system.events: %w", err)
	}
	defer rows.Close()
	out := map[string]float64{}
	for rows.Next() {
		var name string
		var v uint64
		if err := rows.Scan(&name, &v); err != nil {
			return nil, fmt.Errorf("read system.events: %w", err)
		}
		out[name] = float64(v)
	}
	return out, rows.Err()
}

// clickhouseCost divides the counters' growth since before, and what the
// tables of db hold, by events.
func clickhouseCost(ctx context.Context, conn driver.Conn, db string, before map[string]float64, events int) (*ClickHouseCost, error) {
	after, err := readEvents(ctx, conn)
	if err != nil {
		return nil, err
	}
	c := &ClickHouseCost{PerEvent: map[string]float64{}, Tables: map[string]Table{}}
	for _, e := range chEvents {
		c.PerEvent[e] = (after[e] - before[e]) / float64(events)
	}
	rows, err := conn.Query(ctx, `SELECT table, sum(rows), sum(bytes_on_disk), sum(data_uncompressed_bytes), count()
		FROM system.parts WHERE active AND database = ? GROUP BY table`, db)
	if err != nil {
		return nil, fmt.Errorf("read system.parts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var t Table
		if err := rows.Scan(&name, &t.Rows, &t.BytesOnDisk, &t.Uncompressed, &t.Parts); err != nil {
			return nil, fmt.Errorf("read system.parts: %w", err)
		}
		t.RowsPerEvent = float64(t.Rows) / float64(events)
		if t.Rows > 0 {
			t.BytesPerRow = float64(t.BytesOnDisk) / float64(t.Rows)
		}
		c.Tables[name] = t
	}
	return c, rows.Err()
}
