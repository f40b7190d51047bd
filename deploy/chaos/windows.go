package chaos

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/reftrack/reftrack/deploy/devstack"
	"github.com/reftrack/reftrack/deploy/sample"
)

// A crash window of a transaction, seen from the broker: the request whose
// arrival the kill is timed against, and whether that request still gets
// applied.
type window string

const (
	afterProduce  window = "after-produce"   // records in an open transaction; End never comes
	afterOffsets  window = "after-offsets"   // the input offsets joined the transaction; End never comes
	endLost       window = "end-lost"        // End(commit) sent, the broker never applies it
	endApplied    window = "end-applied"     // End(commit) applied, the worker dies before hearing it (before its Redis apply)
	beforeSinkAck window = "sink-pre-commit" // the sink inserted into ClickHouse, its offset commit is lost
)

// armed holds, per stage, the one window whose moment a kill waits for;
// the broker's control hooks run on the broker's goroutine and consult it.
type armed struct {
	mu    sync.Mutex
	cur   map[string]window
	fired map[string]chan struct{}
	s     *Stack
}

// fire kills stage's worker if w is armed for it. The kill happens inside
// the hook, before the broker handles the request, so the worker runs no
// further code whatever the broker answers.
func (a *armed) fire(w window, stage string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if stage == "" || a.cur[stage] != w {
		return false
	}
	if pid := a.s.PID(stage); pid != 0 {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	delete(a.cur, stage)
	close(a.fired[stage])
	return true
}

func (a *armed) set(stage string, w window) <-chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.cur[stage], a.fired[stage] = w, make(chan struct{})
	return a.fired[stage]
}

func (a *armed) clear(stage string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.cur, stage)
}

// stageOfTxn reads the stage out of a transactional ID,
// reftrack-<stage>-<instance>.
func stageOfTxn(id *string) string {
	if id == nil {
		return ""
	}
	for _, st := range devstack.Stages {
		if strings.HasPrefix(*id, "reftrack-"+st+"-") {
			return st
		}
	}
	return ""
}

var errKilled = errors.New("chaos: the worker was killed before this request was applied")

// hook installs the control functions; each observes every request of its
// key and, when its window is armed for the sender's stage, kills it.
func (a *armed) hook(s *Stack) {
	c := s.Broker.Cluster
	c.ControlKey(int16(kmsg.Produce), func(r kmsg.Request) (kmsg.Response, error, bool) {
		a.fire(afterProduce, stageOfTxn(r.(*kmsg.ProduceRequest).TransactionID))
		return nil, nil, false
	})
	c.ControlKey(int16(kmsg.TxnOffsetCommit), func(r kmsg.Request) (kmsg.Response, error, bool) {
		id := r.(*kmsg.TxnOffsetCommitRequest).TransactionalID
		a.fire(afterOffsets, stageOfTxn(&id))
		return nil, nil, false
	})
	c.ControlKey(int16(kmsg.EndTxn), func(r kmsg.Request) (kmsg.Response, error, bool) {
		req := r.(*kmsg.EndTxnRequest)
		if !req.Commit {
			return nil, nil, false
		}
		st := stageOfTxn(&req.TransactionalID)
		if a.fire(endLost, st) {
			c.KeepControl()
			return nil, errKilled, true // the connection closes; End is never applied
		}
		a.fire(endApplied, st)
		return nil, nil, false
	})
	c.ControlKey(int16(kmsg.OffsetCommit), func(r kmsg.Request) (kmsg.Response, error, bool) {
		if r.(*kmsg.OffsetCommitRequest).Group == s.Group("sink") && a.fire(beforeSinkAck, "sink") {
			c.KeepControl()
			return nil, errKilled, true
		}
		return nil, nil, false
	})
}

// windowPlan is, per stage, the windows its worker is killed in, in turn.
var windowPlan = map[string][]window{
	"ingest":     {endLost, endApplied},
	"validate":   {afterOffsets, endApplied},
	"dedupe":     {afterProduce, endApplied, endLost},
	"attribute":  {endApplied, afterOffsets},
	"commission": {endLost, afterProduce, endApplied},
	"sink":       {beforeSinkAck, beforeSinkAck},
}

// txnWindows arms, in every stage at once, one window after another and
// waits for traffic to reach each; the supervisor restarts the dead
// worker. Windows still armed a minute after the load are given up.
func txnWindows(ctx context.Context, s *Stack, _ *sample.Dataset, loadDone <-chan struct{}) (string, error) {
	a := &armed{s: s, cur: map[string]window{}, fired: map[string]chan struct{}{}}
	a.hook(s)
	giveUp := make(chan struct{})
	go func() {
		select {
		case <-loadDone:
			_ = sleep(ctx, time.Minute)
		case <-ctx.Done():
		}
		close(giveUp)
	}()
	var mu sync.Mutex
	var hit, missed []string
	var wg sync.WaitGroup
	for _, st := range devstack.Stages {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, w := range windowPlan[st] {
				fired := a.set(st, w)
				name := string(w) + "/" + st
				select {
				case <-fired:
					mu.Lock()
					hit = append(hit, name)
					mu.Unlock()
				case <-giveUp:
					a.clear(st)
					mu.Lock()
					missed = append(missed, name)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	sort.Strings(hit)
	sort.Strings(missed)
	account := fmt.Sprintf("%d kills in windows: %s", len(hit), strings.Join(hit, " "))
	if len(missed) > 0 {
		account += fmt.Sprintf("; %d not reached: %s", len(missed), strings.Join(missed, " "))
	}
	if len(hit) == 0 {
		return account, errors.New("no crash window was reached")
	}
	return account, ctx.Err()
}
