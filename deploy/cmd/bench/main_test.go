package main

import (
	"math"
	"testing"
)

// The latency phase offers half the capacity the bulk phase measured,
// unless a rate is asked for: a fixed 10 000/s saturated the slower boxes
// (p99 7.6 s there) and says nothing that carries between boxes.
func TestOfferedRateIsHalfTheCapacity(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		asked    int
		capacity float64
		want     int
	}{
		{0, 10_748, 5374},
		{0, 20_683.9, 10_341},
		{0, 1, 1},
		{0, 0, 1},
		{7000, 20_000, 7000},
	} {
		if got := offeredRate(c.asked, c.capacity); got != c.want {
			t.Errorf("offeredRate(%d, %v) = %d, want %d", c.asked, c.capacity, got, c.want)
		}
	}
}

func TestCPUPerEvent(t *testing.T) {
	t.Parallel()
	workers := map[string]float64{"validate": 52, "sink": 19}
	services := map[string]float64{"clickhouse": 42, "redis": 22}
	got := cpuPerEvent(workers, services, 1_000_000)
	want := CPUPerEvent{Process: map[string]float64{"validate": 52, "sink": 19, "clickhouse": 42, "redis": 22},
		Workers: 71, Services: 64, Total: 135}
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
	if !near(got.Workers, want.Workers) || !near(got.Services, want.Services) || !near(got.Total, want.Total) {
		t.Errorf("cpuPerEvent = %+v, want %+v", got, want)
	}
	for k, v := range want.Process {
		if !near(got.Process[k], v) {
			t.Errorf("%s: %v µs/event, want %v", k, got.Process[k], v)
		}
	}
	if z := cpuPerEvent(workers, services, 0); z.Total != 0 {
		t.Errorf("no events: %+v", z)
	}
}

// The latency phase is read as differences of counters taken before and
// after it: CPU seconds per process and each worker's batches.
func TestLatencyPhaseDifferences(t *testing.T) {
	t.Parallel()
	cpu := minus(map[string]float64{"ingest": 12.5, "redis": 3}, map[string]float64{"ingest": 10, "redis": 1})
	if cpu["ingest"] != 2.5 || cpu["redis"] != 2 {
		t.Errorf("minus = %v", cpu)
	}
	got := batchesSince(map[string]Batches{"validate": {Batches: 150, Records: 9000, Seconds: 4}},
		map[string]Batches{"validate": {Batches: 50, Records: 1000, Seconds: 1}})["validate"]
	if got.Batches != 100 || got.PerBatch() != 80 || got.MeanMillis() != 30 {
		t.Errorf("batchesSince = %+v: %v records/batch, %v ms/batch; want 100 batches of 80 records, 30 ms each", got, got.PerBatch(), got.MeanMillis())
	}
	if (Batches{}).PerBatch() != 0 || (Batches{}).MeanMillis() != 0 {
		t.Error("no batches must read as 0, not NaN")
	}
}
