// Command bench measures the pipeline against its limits on one machine:
// the dev broker, Redis, ClickHouse and the six workers as separate
// processes. It pre-loads N generated events, measures a plain consumer and a
// plain ClickHouse insert as the limits, then the pipeline end to end (the
// box's capacity) and per stage, its ingest→ClickHouse latency at an
// open-loop rate of half that capacity, each worker's peak RSS, and the CPU
// each process (workers, broker, Redis, ClickHouse) spent per event. Boxes
// differ about 2× in speed; CPU per event is the figure that carries from
// one to another. Results go to stdout, to bench/results/<time>.json and as
// a line in BENCHMARKS.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrack/reftrack/deploy/devstack"
	"github.com/reftrack/reftrack/deploy/sample"
	"github.com/reftrack/reftrack/internal/cli"
	"github.com/reftrack/reftrack/internal/devports"
	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
	"github.com/reftrack/reftrack/sink"
)

func main() { cli.Main("bench", run) }

// Results is what one run measured.
type Results struct {
	Time    time.Time `json:"time"`
	Commit  string    `json:"commit"`
	Machine string    `json:"machine"`
	Events  int       `json:"events"`
	// Sealed: ingest ran with --pii-mode seal (--seal), every lead's
	// contact sealed under its data key (PRIVACY.md).
	Sealed bool `json:"sealed,omitempty"`

	LimitConsumeRate float64 `json:"limit_consume_records_per_s"`
	LimitInsertRate  float64 `json:"limit_clickhouse_rows_per_s"`
	PreloadRate      float64 `json:"preload_produce_records_per_s"`
	// PipelineRate is the capacity: events/s through the whole pipeline
	// with all of them waiting at the start.
	PipelineRate    float64            `json:"pipeline_events_per_s"`
	PipelineSeconds float64            `json:"pipeline_seconds"`
	RatioVsConsume  float64            `json:"pipeline_over_consume_limit"`
	RatioVsInsert   float64            `json:"pipeline_over_insert_limit"`
	StageRates      map[string]float64 `json:"stage_records_per_s"`
	OfferedRate     int                `json:"latency_offered_events_per_s"`
	OfferedSeconds  int                `json:"latency_offered_seconds"`
	OfferedEvents   int                `json:"latency_offered_events,omitempty"`
	LatencyP50      float64            `json:"latency_p50_s"`
	LatencyP95      float64            `json:"latency_p95_s"`
	LatencyP99      float64            `json:"latency_p99_s"`
	PeakRSSMB       map[string]float64 `json:"peak_rss_mb"`
	CPUSeconds      map[string]float64 `json:"cpu_seconds"`
	// ServiceCPUSeconds is what the broker, ClickHouse and Redis spent
	// while the workers ran (both phases): the other half of the budget
	// on a box that holds everything.
	ServiceCPUSeconds map[string]float64 `json:"service_cpu_seconds,omitempty"`
	// CPUMicros is CPU per event, µs, of each process over both phases
	// (every event offered: the bulk's and the latency phase's).
	CPUMicros CPUPerEvent `json:"cpu_us_per_event"`
	// LatencyCPUMicros is the same over the latency phase alone: a few
	// records per poll, so what is paid per transaction, round trip and
	// INSERT shows here and hides in the bulk phase's full batches.
	LatencyCPUMicros CPUPerEvent `json:"latency_cpu_us_per_event"`
	// LatencyClickHouse is what ClickHouse did per event in the latency
	// phase alone (system.events; its table figures are the whole run's).
	LatencyClickHouse *ClickHouseCost `json:"latency_clickhouse,omitempty"`
	// LatencyBatches is what each worker committed in the latency phase:
	// its transactions (the sink's writes) and their records. A stage
	// pays per transaction, so records per batch says what it paid for.
	LatencyBatches map[string]Batches `json:"latency_batches,omitempty"`
	// ClickHouse is what the sink made ClickHouse do, per event.
	ClickHouse   *ClickHouseCost `json:"clickhouse,omitempty"`
	OracleAgreed bool            `json:"oracle_agreed"`
}

// CPUPerEvent is CPU time per event in µs: per process, and summed over
// the workers, the services and everything.
type CPUPerEvent struct {
	Process  map[string]float64 `json:"process"`
	Workers  float64            `json:"workers"`
	Services float64            `json:"services"`
	Total    float64            `json:"total"`
}

// cpuPerEvent divides the CPU seconds of workers and services by events.
func cpuPerEvent(workers, services map[string]float64, events int) CPUPerEvent {
	c := CPUPerEvent{Process: map[string]float64{}}
	if events <= 0 {
		return c
	}
	per := func(sec float64) float64 { return sec * 1e6 / float64(events) }
	for name, sec := range workers {
		c.Process[name] = per(sec)
		c.Workers += per(sec)
	}
	for name, sec := range services {
		c.Process[name] = per(sec)
		c.Services += per(sec)
	}
	c.Total = c.Workers + c.Services
	return c
}

// keyringFor is the keyring devstack seals with (created there), or none.
func keyringFor(seal bool, dir string) string {
	if !seal {
		return ""
	}
	return filepath.Join(dir, "keyring.json")
}

// offeredRate is the latency phase's rate: the one asked for, or half the
// capacity measured (a fixed rate saturates a slow box and idles a fast
// one, so its latency says nothing that carries between boxes).
func offeredRate(asked int, capacity float64) int {
	if asked > 0 {
		return asked
	}
	return max(int(capacity/2), 1)
}

func run(ctx context.Context, args []string, getenv func(string) string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	n := fs.Int("events", 1_000_000, "events to pre-load")
	rate := fs.Int("rate", 0, "offered events/s in the latency phase (0: half the capacity the bulk phase measured)")
	dur := fs.Duration("duration", 60*time.Second, "length of the latency phase")
	root := fs.String("root", ".", "repository root (bin/ must hold the binaries)")
	wait := fs.Duration("wait", 20*time.Minute, "how long the pipeline may take")
	profDir := fs.String("profile", "", "directory for CPU profiles of the six workers and the broker, taken during the bulk phase (DIR/bulk) and the latency phase (DIR/latency) (empty: none)")
	profFor := fs.Duration("profile-seconds", 20*time.Second, "length of those profiles (in the latency phase at most --duration)")
	binDir := fs.String("bin", "", "directory of the binaries (default: ROOT/bin), so a run can use binaries built apart from a shared tree's")
	settleWait := fs.Duration("settle", time.Minute, "how long ClickHouse may take to agree with the oracle once the sink has written enough")
	seal := fs.Bool("seal", false, "run ingest with --pii-mode seal (a fresh keyring, the key store in Redis database 1), to compare CPU per event with sealing on and off")
	if err := worker.ParseFlags(fs, args[1:], getenv); err != nil {
		return err
	}
	if *n < 1000 || *rate < 0 || *dur < time.Second {
		return errors.New("--events ≥ 1000, --rate ≥ 0 and --duration ≥ 1s")
	}
	res := &Results{Time: time.Now().UTC(), Events: *n, Machine: machine(), Commit: commit(*root),
		OfferedSeconds: int(dur.Seconds()), Sealed: *seal}
	bin := *binDir
	if bin == "" {
		bin = filepath.Join(*root, "bin")
	}
	tmp, err := os.MkdirTemp("", "reftrack-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	progress("starting Redis and ClickHouse")
	up := exec.CommandContext(ctx, filepath.Join(*root, "deploy", "stack.sh"), "up")
	// The daemons the script starts may inherit a descriptor of the output
	// pipe; without a WaitDelay, Wait blocks until they exit.
	up.WaitDelay = 2 * time.Second
	if out, err := up.CombinedOutput(); err != nil && !errors.Is(err, exec.ErrWaitDelay) {
		return fmt.Errorf("stack.sh up: %w\n%s", err, out)
	}
	if err := clearRedis(ctx, devports.Loopback(devports.Redis), redisPrefix); err != nil {
		return err
	}
	chAddr := devports.Loopback(devports.ClickHouseTCP)
	db := "reftrack_bench"
	admin, err := clickhouse.Open(&clickhouse.Options{Addr: []string{chAddr}})
	if err != nil {
		return err
	}
	defer admin.Close()
	if err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+db); err != nil {
		return fmt.Errorf("reset bench database: %w", err)
	}

	port, err := freePort()
	if err != nil {
		return err
	}
	brokerCfg := devstack.BrokerConfig{Bin: filepath.Join(bin, "devbroker"), LogPath: filepath.Join(tmp, "devbroker.log"), Port: port}
	brokerOps := ""
	if *profDir != "" {
		pp, err := freePort()
		if err != nil {
			return err
		}
		brokerOps = fmt.Sprintf("http://127.0.0.1:%d", pp)
		brokerCfg.PprofAddr = brokerOps[len("http://"):]
	}
	broker, err := devstack.StartBroker(ctx, brokerCfg)
	defer broker.Stop(syscall.SIGTERM)
	if err != nil {
		return err
	}
	brokers := broker.Addr

	rules, err := sample.LoadRules(filepath.Join(*root, "deploy", "dev", "rules.json"))
	if err != nil {
		return err
	}
	opts := sample.DefaultOptions()
	opts.Events, opts.HTTPShare, opts.Seed = *n, 0, 6
	progress(fmt.Sprintf("generating %d events", *n))
	ds, err := sample.Generate(opts, rules)
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ProducerLinger(5*time.Millisecond),
		kgo.MaxBufferedRecords(1_000_000), kgo.ProducerBatchMaxBytes(1<<20))
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := waitBroker(ctx, cl); err != nil {
		return err
	}
	progress("pre-loading referrals.inbound")
	start := time.Now()
	if err := sample.Send(ctx, ds, cl, schemas.TopicInbound, "", ""); err != nil {
		return err
	}
	res.PreloadRate = float64(len(ds.Records)) / time.Since(start).Seconds()

	progress("limit: plain consumer")
	if res.LimitConsumeRate, err = consumeLimit(ctx, brokers, len(ds.Records)); err != nil {
		return err
	}
	progress("limit: plain ClickHouse batch insert")
	if res.LimitInsertRate, err = insertLimit(ctx, admin, ds, *n); err != nil {
		return err
	}

	progress("starting the six workers")
	// Worker logs outlive the run (under the git-ignored .dev/) so a worker
	// that failed can be read about afterwards.
	logDir := filepath.Join(*root, ".dev", "logs", "bench")
	_ = os.RemoveAll(logDir)
	st, err := devstack.Start(ctx, devstack.Config{
		BinDir: bin, LogDir: logDir, Brokers: brokers, Redis: devports.Loopback(devports.Redis),
		RedisPrefix: redisPrefix, ClickHouse: "clickhouse://" + chAddr + "/" + db, Rules: filepath.Join(*root, "deploy", "dev", "rules.json"),
		Extra:      []string{"REFTRACK_LOG_LEVEL=warn", fmt.Sprintf("REFTRACK_PPROF=%t", *profDir != "")},
		PIIKeyring: keyringFor(*seal, tmp), PIIRedisDB: 1,
	})
	if err != nil {
		return err
	}
	defer st.Stop()
	ops := map[string]string{"devbroker": brokerOps}
	for _, s := range devstack.Stages {
		ops[s] = strings.TrimSuffix(st.MetricsURL(s), "/metrics")
	}
	profile := func(phase string, d time.Duration) chan error {
		done := make(chan error, 1)
		if *profDir == "" {
			done <- nil
			return done
		}
		go func() { done <- profileAll(ctx, filepath.Join(*profDir, phase), ops, d) }()
		return done
	}
	profiled := profile("bulk", *profFor)
	opt, _ := clickhouse.ParseDSN("clickhouse://" + chAddr + "/" + db)
	conn, err := clickhouse.Open(opt)
	if err != nil {
		return err
	}
	defer conn.Close()

	services := map[string]int{"devbroker": broker.PID(),
		"clickhouse": pidFile(filepath.Join(*root, ".dev", "clickhouse", "clickhouse.pid")),
		"redis":      pidFile(filepath.Join(*root, ".dev", "redis", "redis.pid"))}
	chBefore, err := readEvents(ctx, conn)
	if err != nil {
		return err
	}
	_, serviceCPU := cpuNow(nil, services)

	// Progress is read from the workers' counters, which cost nothing;
	// counting ClickHouse tables with FINAL while it ingests would steal the
	// CPU being measured. The oracle check runs once, at the end.
	start = time.Now()
	tracker := newStageTracker(st)
	deadline := start.Add(*wait)
	sinkWant := float64(ds.Want.ReferralEvents + ds.Want.Policies + ds.Want.CommissionLines + ds.Want.Rejected)
	for tracker.poll(); tracker.value["sink"] < sinkWant && time.Now().Before(deadline); tracker.poll() {
		progress(fmt.Sprintf("pipeline: sink wrote %.0f/%.0f records, %.0fs", tracker.value["sink"], sinkWant, time.Since(start).Seconds()))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	// The counter can run ahead of what is visible: a batch written again
	// after a rebalance counts twice but collapses in ClickHouse. The
	// pipeline is done when ClickHouse holds what the oracle says, so poll
	// it now, briefly, until it does (or stops changing).
	var diff []string
	for settle := time.Now().Add(*settleWait); ; time.Sleep(250 * time.Millisecond) {
		landed, err := sample.ReadLanded(ctx, conn)
		if err != nil {
			return err
		}
		if diff = ds.Want.Diff(landed); len(diff) == 0 || time.Now().After(settle) {
			break
		}
		progress("pipeline: waiting for ClickHouse to agree with the oracle: " + diff[0])
	}
	res.PipelineSeconds = time.Since(start).Seconds()
	if len(diff) == 0 {
		res.OracleAgreed = true
	} else {
		fmt.Fprintf(os.Stderr, "\nClickHouse disagrees with the oracle: %s\n", strings.Join(diff[:min(5, len(diff))], "; "))
	}
	res.PipelineRate = float64(len(ds.Records)) / res.PipelineSeconds
	res.RatioVsConsume = res.PipelineRate / res.LimitConsumeRate
	res.RatioVsInsert = res.PipelineRate / res.LimitInsertRate
	tracker.poll()
	res.StageRates = tracker.rates()

	// The latency phase must not run under the profiler's cost, nor the
	// profile mix the two phases.
	progress("waiting for the profiles")
	if err := <-profiled; err != nil {
		return err
	}
	res.OfferedRate = offeredRate(*rate, res.PipelineRate)
	bulkWorkers, bulkServices := cpuNow(st, services)
	chBulk, err := readEvents(ctx, conn)
	if err != nil {
		return err
	}
	progress(fmt.Sprintf("latency: offering %d events/s for %s", res.OfferedRate, *dur))
	profiled = profile("latency", min(*profFor, *dur))
	batchesBefore := batchesNow(st)
	if err := latency(ctx, st, cl, conn, res, rules, res.OfferedRate, *dur); err != nil {
		return err
	}
	res.LatencyBatches = batchesSince(batchesNow(st), batchesBefore)
	if err := <-profiled; err != nil {
		return err
	}
	res.PeakRSSMB = map[string]float64{}
	for _, s := range devstack.Stages {
		if rss, _, err := procStats(st.PID(s)); err == nil {
			res.PeakRSSMB[s] = float64(rss) / (1 << 20)
		}
	}
	endWorkers, endServices := cpuNow(st, services)
	res.CPUSeconds, res.ServiceCPUSeconds = endWorkers, minus(endServices, serviceCPU)
	res.CPUMicros = cpuPerEvent(res.CPUSeconds, res.ServiceCPUSeconds, len(ds.Records)+res.OfferedEvents)
	res.LatencyCPUMicros = cpuPerEvent(minus(endWorkers, bulkWorkers), minus(endServices, bulkServices), res.OfferedEvents)
	if res.ClickHouse, err = clickhouseCost(ctx, conn, db, chBefore, len(ds.Records)+res.OfferedEvents); err != nil {
		return err
	}
	if res.LatencyClickHouse, err = clickhouseCost(ctx, conn, db, chBulk, res.OfferedEvents); err != nil {
		return err
	}
	fmt.Fprint(os.Stderr, "\r\033[K")
	report(os.Stdout, res)
	if *profDir != "" {
		// The profiler's own cost skews the run; it explains a result
		// rather than being one.
		fmt.Printf("\nprofiles in %s (go tool pprof -top %s); a profiled run is not recorded in BENCHMARKS.md\n", *profDir, filepath.Join(*profDir, "latency", "validate.pprof"))
		return saveJSON(*root, res)
	}
	return save(*root, res)
}

// latency offers rate events/s open-loop (on a fixed schedule, never
// waiting for the pipeline) and reads the sink's ingest→ClickHouse latency
// histogram before and after.
func latency(ctx context.Context, st *devstack.Stack, cl *kgo.Client, conn driver.Conn, res *Results, rules *sample.Rules, rate int, dur time.Duration) error {
	opts := sample.DefaultOptions()
	opts.Events, opts.HTTPShare, opts.Seed, opts.InvalidRate = rate*int(dur.Seconds()), 0, 7, 0.001
	opts.Start = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	// Leads of their own: the bulk phase's leads have moved on in their
	// lifecycle, and replaying them would be refused as illegal transitions.
	opts.LeadPrefix = "T-"
	ds, err := sample.Generate(opts, rules)
	if err != nil {
		return err
	}
	res.OfferedEvents = len(ds.Records)
	before, err := scrape(st.MetricsURL("sink"))
	if err != nil {
		return err
	}
	landedBefore, err := sample.ReadLanded(ctx, conn)
	if err != nil {
		return err
	}
	const tick = 10 * time.Millisecond
	perTick := max(rate*int(tick)/int(time.Second), 1)
	next := time.Now()
	for i := 0; i < len(ds.Records); i += perTick {
		for _, r := range ds.Records[i:min(i+perTick, len(ds.Records))] {
			cl.Produce(ctx, &kgo.Record{Topic: schemas.TopicInbound, Key: schemas.LeadKey(r.Partner, r.Lead), Value: r.Value}, nil)
		}
		next = next.Add(tick)
		time.Sleep(time.Until(next))
	}
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	want := landedBefore.ReferralEvents + ds.Want.ReferralEvents
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		l, err := sample.ReadLanded(ctx, conn)
		if err == nil && l.ReferralEvents >= want {
			break
		}
	}
	after, err := scrape(st.MetricsURL("sink"))
	if err != nil {
		return err
	}
	const name, label = "reftrack_sink_end_to_end_latency_seconds", "topic"
	h := histogram(after, name, label, schemas.TopicUnique).minus(histogram(before, name, label, schemas.TopicUnique))
	res.LatencyP50, res.LatencyP95, res.LatencyP99 = h.quantile(0.5), h.quantile(0.95), h.quantile(0.99)
	return nil
}

// stageTracker follows each worker's committed input counter to find when
// it started and finished, for a per-stage rate.
type stageTracker struct {
	st          *devstack.Stack
	first, last map[string]time.Time
	value       map[string]float64
}

func newStageTracker(st *devstack.Stack) *stageTracker {
	return &stageTracker{st: st, first: map[string]time.Time{}, last: map[string]time.Time{}, value: map[string]float64{}}
}

func (t *stageTracker) poll() {
	now := time.Now()
	for _, s := range devstack.Stages {
		fams, err := scrape(t.st.MetricsURL(s))
		if err != nil {
			continue
		}
		v := counterSum(fams, "reftrack_records_in_total")
		if v > 0 && t.first[s].IsZero() {
			t.first[s] = now
		}
		if v != t.value[s] {
			t.value[s], t.last[s] = v, now
		}
	}
}

func (t *stageTracker) rates() map[string]float64 {
	out := map[string]float64{}
	for s, v := range t.value {
		// The first poll that saw records stands for their start: rates are
		// a lower bound by up to one poll interval.
		if d := t.last[s].Sub(t.first[s]).Seconds() + 0.5; v > 0 {
			out[s] = v / d
		}
	}
	return out
}

func consumeLimit(ctx context.Context, brokers string, n int) (float64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ConsumeTopics(schemas.TopicInbound),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxBytes(64<<20))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	start := time.Now()
	got := 0
	for got < n {
		f := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		got += f.NumRecords()
	}
	return float64(got) / time.Since(start).Seconds(), nil
}

// insertLimit inserts n referral_events rows made from the sample, 50 000 a
// batch, into a scratch table of the same shape.
func insertLimit(ctx context.Context, admin driver.Conn, ds *sample.Dataset, n int) (float64, error) {
	if err := admin.Exec(ctx, "CREATE DATABASE IF NOT EXISTS reftrack_bench_limit"); err != nil {
		return 0, err
	}
	defer admin.Exec(context.Background(), "DROP DATABASE IF EXISTS reftrack_bench_limit")
	opt := &clickhouse.Options{Addr: []string{devports.Loopback(devports.ClickHouseTCP)}, Auth: clickhouse.Auth{Database: "reftrack_bench_limit"}}
	if err := sink.Migrate(ctx, opt, discard()); err != nil {
		return 0, err
	}
	conn, err := clickhouse.Open(opt)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	var rows []sink.Row
	now := time.Now().UTC().Format(time.RFC3339Nano)
	for i, r := range ds.Records {
		if r.Kind != "valid" || !strings.Contains(string(r.Value), `"event_id"`) {
			continue
		}
		v := strings.Replace(string(r.Value), `{`, `{"received_at":"`+now+`",`, 1)
		rr, _ := sink.Decode(schemas.TopicUnique, worker.Message{Topic: schemas.TopicUnique, Offset: int64(i), Value: []byte(v)})
		if len(rr) == 1 && rr[0].Table.Name == "referral_events" {
			rows = append(rows, rr[0])
		}
		if len(rows) == 50_000 {
			break
		}
	}
	if len(rows) == 0 {
		return 0, errors.New("no rows to insert")
	}
	cols := strings.Join(rows[0].Table.Columns, ", ")
	start := time.Now()
	for done := 0; done < n; {
		b, err := conn.PrepareBatch(ctx, "INSERT INTO referral_events ("+cols+")")
		if err != nil {
			return 0, err
		}
		for i := 0; i < 50_000 && done < n; i, done = i+1, done+1 {
			if err := b.Append(rows[done%len(rows)].Values...); err != nil {
				return 0, err
			}
		}
		if err := b.Send(); err != nil {
			return 0, err
		}
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

func waitBroker(ctx context.Context, cl *kgo.Client) error {
	for i := 0; i < 100; i++ {
		if cl.Ping(ctx) == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.New("dev broker does not answer")
}

func progress(s string) { fmt.Fprintf(os.Stderr, "\r\033[Kbench: %s", s) }

func report(w *os.File, r *Results) {
	fmt.Fprintf(w, "reftrack bench, %s, commit %s, %s\n\n", r.Time.Format(time.RFC3339), r.Commit, r.Machine)
	if r.Sealed {
		fmt.Fprintf(w, "ingest sealed every contact (--seal)\n\n")
	}
	fmt.Fprintf(w, "%-44s %14s\n", "measure", "value")
	row := func(k string, v float64, unit string) { fmt.Fprintf(w, "%-44s %14.0f %s\n", k, v, unit) }
	row("events pre-loaded", float64(r.Events), "")
	row("limit: plain consumer", r.LimitConsumeRate, "records/s")
	row("limit: plain ClickHouse insert", r.LimitInsertRate, "rows/s")
	row("capacity: pipeline end to end", r.PipelineRate, "events/s")
	fmt.Fprintf(w, "%-44s %14.3f\n%-44s %14.3f\n", "pipeline / consumer limit", r.RatioVsConsume, "pipeline / insert limit", r.RatioVsInsert)
	for _, s := range devstack.Stages {
		row("stage "+s, r.StageRates[s], "records/s")
	}
	fmt.Fprintf(w, "%-44s %11.3f s / %.3f s / %.3f s\n", fmt.Sprintf("latency p50/p95/p99 at %d/s (½ capacity)", r.OfferedRate), r.LatencyP50, r.LatencyP95, r.LatencyP99)
	for _, s := range devstack.Stages {
		fmt.Fprintf(w, "%-44s %11.0f MB  %8.1f s CPU %8.1f µs/event\n", "worker "+s+" peak RSS", r.PeakRSSMB[s], r.CPUSeconds[s], r.CPUMicros.Process[s])
	}
	for _, name := range []string{"devbroker", "clickhouse", "redis"} {
		if cpu, ok := r.ServiceCPUSeconds[name]; ok {
			fmt.Fprintf(w, "%-44s %11s     %8.1f s CPU %8.1f µs/event\n", "service "+name, "", cpu, r.CPUMicros.Process[name])
		}
	}
	fmt.Fprintf(w, "%-44s %14.1f µs (workers %.1f + services %.1f)\n", "CPU per event, whole box", r.CPUMicros.Total, r.CPUMicros.Workers, r.CPUMicros.Services)
	reportLatencyPhase(w, r)
	if c := r.ClickHouse; c != nil {
		fmt.Fprintf(w, "%-44s %8.3f INSERTs %8.2f rows %8.0f bytes %8.3f merges %8.2f rows merged\n", "ClickHouse per event",
			c.PerEvent["InsertQuery"], c.PerEvent["InsertedRows"], c.PerEvent["InsertedBytes"], c.PerEvent["Merge"], c.PerEvent["MergedRows"])
		names := make([]string, 0, len(c.Tables))
		for n := range c.Tables {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			t := c.Tables[n]
			fmt.Fprintf(w, "%-44s %8.3f rows/event %6.0f B/row on disk %5d parts\n", "  table "+n, t.RowsPerEvent, t.BytesPerRow, t.Parts)
		}
	}
	fmt.Fprintf(w, "%-44s %14v\n", "ClickHouse matched the oracle", r.OracleAgreed)
}

// saveJSON writes the run's details to bench/results.
func saveJSON(root string, r *Results) error {
	dir := filepath.Join(root, "bench", "results")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(r, "", "  ")
	path := filepath.Join(dir, r.Time.Format("20060102T150405Z")+".json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return err
	}
	fmt.Printf("\nsaved %s\n", path)
	return nil
}

func save(root string, r *Results) error {
	if err := saveJSON(root, r); err != nil {
		return err
	}
	md := filepath.Join(root, "BENCHMARKS.md")
	if _, err := os.Stat(md); err != nil {
		head := "# Benchmarks\n\nOne line per `make bench` run (`bench/results/*.json` has the details). Rates in events/s.\n\n" + tableHead
		if err := os.WriteFile(md, []byte(head), 0o644); err != nil {
			return err
		}
	}
	maxRSS := 0.0
	for _, v := range r.PeakRSSMB {
		maxRSS = math.Max(maxRSS, v)
	}
	f, err := os.OpenFile(md, os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	events := strconv.Itoa(r.Events)
	if r.Sealed {
		events += " sealed" // the table's columns stay as they are
	}
	_, err = fmt.Fprintf(f, "| %s | %s | %s | %s | %.0f | %.0f | %.0f | %.1f | %.1f | %.1f | %.3f/%.3f/%.3f at %d | %.0f | %v |\n",
		r.Time.Format("2006-01-02 15:04"), r.Commit, r.Machine, events, r.LimitConsumeRate, r.LimitInsertRate,
		r.PipelineRate, r.CPUMicros.Workers, r.CPUMicros.Services, r.CPUMicros.Total,
		r.LatencyP50, r.LatencyP95, r.LatencyP99, r.OfferedRate, maxRSS, r.OracleAgreed)
	fmt.Println("saved a line in BENCHMARKS.md")
	return err
}

// tableHead is the head of the table of runs that save appends to; the
// table ends BENCHMARKS.md.
const tableHead = "| time | commit | machine | events | consumer limit | insert limit | capacity | µs CPU/event workers | services | total | p50/p95/p99 s at ½ capacity | max RSS MB | oracle |\n" +
	"|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"

func machine() string {
	model := runtime.GOARCH
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				model = strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
				break
			}
		}
	}
	return fmt.Sprintf("%d cores, %s", runtime.NumCPU(), model)
}

func commit(root string) string {
	// -dirty marks a run of uncommitted code, which no commit reproduces.
	out, err := exec.Command("git", "-C", root, "describe", "--always", "--dirty", "--exclude", "*").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}
