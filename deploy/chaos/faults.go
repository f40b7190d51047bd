package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/google/uuid"

	"github.com/reftrack/reftrack/deploy/devstack"
	"github.com/reftrack/reftrack/deploy/sample"
)

// Scenarios is the suite, in the order it runs; the negative control last.
func Scenarios() []Scenario {
	return []Scenario{
		{Name: "R1-kill9", About: "SIGKILL a random worker (any of the six stages) every 3 s while the load is sent; each comes back at once, as a rescheduled pod would.", Fault: killLoop},
		{Name: "R2-txn-windows", About: "SIGKILL a worker inside each crash window of its transaction, timed exactly by control hooks of an in-process kfake broker: right after a transactional produce, after the offsets joined the transaction, when End (commit) reaches the broker but before it is applied (dropped with the connection), when End is applied but before the worker hears of it (so before its Redis apply), and the sink after its ClickHouse insert but before its offset commit.", Stack: StackOptions{InProcessBroker: true}, Fault: txnWindows},
		{Name: "R3-rebalance", About: "Rebalance storm: 12 extra replicas of random stages, each with its own --instance, started and stopped (SIGTERM) every 2 s during the load.", Fault: rebalanceStorm},
		{Name: "R4-broker", About: "The dev broker (bin/devbroker --data-dir) stopped mid-load and started again on its data dir: once with SIGTERM, once with SIGKILL.", Stack: StackOptions{BrokerDataDir: true}, Fault: brokerRestarts},
		{Name: "R5-zombie", About: "SIGSTOP dedupe and the sink past their session timeout (45 s), start replacements (dedupe with the same --instance, so the same transactional ID), then SIGCONT the zombies while traffic still flows (the load is stretched to 90 s): dedupe's must be fenced (PRODUCER_FENCED in its log, and it exits), the sink's must write nothing stale.", Fault: zombies, Stretch: 3},
		{Name: "R6-redis", About: "The scenario's own Redis killed and started empty mid-load; after the load, 1 500 resent copies of sent events (some with a new event id and the same idempotency key).", Fault: redisLoss},
		{Name: "R7-clickhouse", About: "The sink's ClickHouse made unreachable mid-load through a TCP proxy the scenario owns (listener closed, every connection cut) for 15 s, then for 5 s.", Fault: clickhouseOutage},
		{Name: "R9-poison", About: "Poison records on the inbound topic mid-load: a 5 MB JSON event (compressible, so it fits the broker) that must become one too_large dead letter, binary garbage, an empty value and truncated JSON; the partitions go on.", Shape: poison},
		{Name: "CONTROL", About: "Negative control: 1 % of the valid records are never sent while the oracle still expects them; the judge must report it.", Shape: dropSome, ExpectFail: true},
	}
}

// killLoop SIGKILLs a random worker every 3 s until the load is sent.
func killLoop(ctx context.Context, s *Stack, _ *sample.Dataset, loadDone <-chan struct{}) (string, error) {
	rng := rand.New(rand.NewPCG(1, 14))
	kills := map[string]int{}
	for {
		select {
		case <-loadDone:
			return fmt.Sprintf("%d kills %v", total(kills), kills), nil
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(3 * time.Second):
		}
		st := devstack.Stages[rng.IntN(len(devstack.Stages))]
		if err := s.Kill(st); err != nil {
			return "", fmt.Errorf("kill %s: %w", st, err)
		}
		kills[st]++
	}
}

// rebalanceStorm starts and stops replicas: each start and each stop is a
// rebalance of that stage's group with batches in flight.
func rebalanceStorm(ctx context.Context, s *Stack, _ *sample.Dataset, loadDone <-chan struct{}) (string, error) {
	rng := rand.New(rand.NewPCG(3, 14))
	var running []string
	started, stopped := 0, 0
	for done := false; !done; {
		select {
		case <-loadDone:
			done = true
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(2 * time.Second):
		}
		if !done && started < 12 && (len(running) == 0 || rng.IntN(3) > 0) {
			st := devstack.Stages[rng.IntN(len(devstack.Stages))]
			name, err := s.StartReplica(st, fmt.Sprintf("r%d", started+1))
			if err != nil {
				return "", err
			}
			running, started = append(running, name), started+1
			continue
		}
		if len(running) > 0 {
			i := rng.IntN(len(running))
			s.StopWorker(running[i], false)
			running, stopped = append(running[:i], running[i+1:]...), stopped+1
		}
	}
	for _, n := range running {
		s.StopWorker(n, false)
		stopped++
	}
	return fmt.Sprintf("%d replicas started, %d stopped", started, stopped), nil
}

// brokerRestarts stops the dev broker twice mid-load and starts it again on
// its data dir.
func brokerRestarts(ctx context.Context, s *Stack, _ *sample.Dataset, _ <-chan struct{}) (string, error) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		if err := sleep(ctx, 8*time.Second); err != nil {
			return "", err
		}
		s.Broker.Stop(sig)
		if err := sleep(ctx, 2*time.Second); err != nil {
			return "", err
		}
		if err := s.Broker.Start(ctx); err != nil {
			return "", fmt.Errorf("restart broker after %v: %w", sig, err)
		}
	}
	return "broker restarted after SIGTERM and after SIGKILL", nil
}

// zombies stops dedupe and the sink past their session timeout, lets
// replacements take over, and wakes the zombies.
func zombies(ctx context.Context, s *Stack, _ *sample.Dataset, _ <-chan struct{}) (string, error) {
	if err := sleep(ctx, 5*time.Second); err != nil {
		return "", err
	}
	stages := []string{"dedupe", "sink"}
	var repl []string
	for _, st := range stages {
		s.Unsupervise(st)
		if err := s.Signal(st, syscall.SIGSTOP); err != nil {
			return "", err
		}
		// The same --instance as the zombie: the same slot rescheduled,
		// so for dedupe the same transactional ID, which fences it.
		name, err := s.StartReplica(st, "0")
		if err != nil {
			return "", err
		}
		repl = append(repl, name)
	}
	// Past the 45 s session timeout (franz-go's default): the zombies are
	// out of their groups and the replacements own every partition.
	if err := sleep(ctx, 50*time.Second); err != nil {
		return "", err
	}
	for _, st := range stages {
		if err := s.Signal(st, syscall.SIGCONT); err != nil {
			return "", err
		}
	}
	// A fenced transactional worker gives up (Run returns); wait for that.
	pid := s.PID("dedupe")
	for i := 0; i < 80 && !exited(pid); i++ {
		if err := sleep(ctx, 500*time.Millisecond); err != nil {
			return "", err
		}
	}
	account := "dedupe and sink stopped 50 s, replaced, resumed"
	log, _ := os.ReadFile(s.LogPath("dedupe"))
	up := bytes.ToUpper(log)
	fenced := bytes.Contains(up, []byte("FENCED")) || bytes.Contains(up, []byte("INVALID_PRODUCER_EPOCH"))
	if !exited(pid) {
		account += "; dedupe zombie still running"
	}
	if !fenced {
		return account, fmt.Errorf("the dedupe zombie's log says nothing of being fenced")
	}
	account += "; dedupe zombie fenced"
	if exited(pid) {
		account += " and exited"
	}
	for _, st := range stages {
		s.StopWorker(st, false)
	}
	return account + "; replacements " + strings.Join(repl, ", "), nil
}

// redisLoss kills the scenario's Redis a third into the load and starts it
// empty; once the load is sent, it resends copies of sent events.
func redisLoss(ctx context.Context, s *Stack, ds *sample.Dataset, loadDone <-chan struct{}) (string, error) {
	if err := sleep(ctx, 10*time.Second); err != nil {
		return "", err
	}
	s.Redis.Stop()
	if err := sleep(ctx, time.Second); err != nil {
		return "", err
	}
	if err := s.Redis.Start(ctx); err != nil {
		return "", err
	}
	<-loadDone
	dups := resend(ds.Records, 1500)
	if err := s.Send(ctx, dups); err != nil {
		return "", err
	}
	return fmt.Sprintf("redis restarted empty; %d duplicates resent", len(dups)), nil
}

// resend copies up to n valid records of the first half of recs, in their
// order; half of those with an idempotency key get a new event id, as a
// partner's retry under a new id would.
func resend(recs []sample.Record, n int) []sample.Record {
	rng := rand.New(rand.NewPCG(6, 14))
	var out []sample.Record
	for _, r := range recs[:len(recs)/2] {
		if r.Kind != "valid" || r.HTTP || len(out) == n {
			continue
		}
		var m map[string]any
		if json.Unmarshal(r.Value, &m) != nil {
			continue
		}
		if _, ok := m["idempotency_key"]; ok && rng.IntN(2) == 0 {
			m["event_id"] = uuid.NewString()
			r.Value, _ = json.Marshal(m)
		}
		r.Kind = "duplicate"
		out = append(out, r)
	}
	return out
}

// clickhouseOutage cuts the workers' ClickHouse twice.
func clickhouseOutage(ctx context.Context, s *Stack, _ *sample.Dataset, _ <-chan struct{}) (string, error) {
	for _, d := range []time.Duration{15 * time.Second, 5 * time.Second} {
		if err := sleep(ctx, 8*time.Second); err != nil {
			return "", err
		}
		s.Proxy.Down()
		if err := sleep(ctx, d); err != nil {
			return "", err
		}
		if err := s.Proxy.Up(); err != nil {
			return "", err
		}
	}
	return "clickhouse unreachable 15 s, then 5 s", nil
}

// poison puts poison records in the middle of the data set, on the
// partitions of real leads, and books what they must become: dead letters
// of ingest, one of them too_large.
func poison(ds *sample.Dataset, j *Judge) {
	mid := len(ds.Records) / 2
	host := ds.Records[mid] // its lead's partition must go on past the poison
	huge := fmt.Appendf(nil, `{"event_id":%q,"event_type":"referral.created","schema_version":1,"occurred_at":"2026-10-01T00:00:00Z","partner_id":%q,"lead_id":"HUGE-1","payload":{"notes":"%s"}}`,
		uuid.NewString(), host.Partner, strings.Repeat("a", 5<<20))
	bad := [][]byte{huge, {0x00, 0x01, 0xff, 0xfe, 'g', 'a', 'r', 'b'}, {}, []byte(`{"event_type":"referral.created","partner_id":`)}
	var recs []sample.Record
	for _, v := range bad {
		recs = append(recs, sample.Record{Partner: host.Partner, Lead: host.Lead, Value: v, Kind: "invalid"})
	}
	ds.Records = append(ds.Records[:mid:mid], append(recs, ds.Records[mid:]...)...)
	ds.Want.Rejected += len(bad)
	ds.Want.RejectedByStage["ingest"] += len(bad)
	j.Reasons = map[string]int{"ingest/too_large": 1}
}

// dropSome never sends one valid record in a hundred.
func dropSome(ds *sample.Dataset, _ *Judge) {
	kept := ds.Records[:0]
	n := 0
	for _, r := range ds.Records {
		if r.Kind == "valid" {
			if n++; n%100 == 0 {
				continue
			}
		}
		kept = append(kept, r)
	}
	ds.Records = kept
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
