package chaos

import (
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/reftrack/reftrack/deploy/sample"
)

// Scenario is one fault, injected into a fresh stack while generated
// traffic flows through it.
type Scenario struct {
	Name  string
	About string // what it does, for RELIABILITY.md
	Stack StackOptions
	// Shape adjusts the data set and the judge before anything is sent:
	// poison records and what they must become (R9), records dropped on
	// purpose (the control).
	Shape func(ds *sample.Dataset, j *Judge)
	// Fault runs beside the load; loadDone closes once the last record is
	// sent. It returns an account of what it did. The judge starts when it
	// returns.
	Fault func(ctx context.Context, s *Stack, ds *sample.Dataset, loadDone <-chan struct{}) (string, error)
	// ExpectFail marks the negative control: the suite fails if it passes.
	ExpectFail bool
	// Stretch multiplies the pause between chunks: a fault that takes
	// long to set up (R5 waits out a session timeout) still meets traffic
	// when it strikes.
	Stretch int
}

// Load is how traffic is offered: Events generated records, sent in Chunks
// one Every apart.
type Load struct {
	Events int
	Chunks int
	Every  time.Duration
	Drain  time.Duration // how long the judge waits for agreement
}

// Result is one scenario's verdict.
type Result struct {
	Name       string
	Pass       bool // every check held
	ExpectFail bool
	Events     int
	Seconds    float64
	Faults     string
	Diff       []string
}

// OK is whether the result is what the suite wants: a pass, or a failure
// of the negative control.
func (r Result) OK() bool { return r.Pass != r.ExpectFail }

// Line is the one-line report: scenario, verdict, events, seconds, what
// was done and what differed.
func (r Result) Line() string {
	verdict := "PASS"
	if !r.Pass {
		verdict = "FAIL"
	}
	if r.ExpectFail {
		verdict += map[bool]string{true: " (control: expected FAIL — judge is blind!)", false: " (control: expected FAIL, ok)"}[r.Pass]
	}
	what := "nothing differed"
	if n := len(r.Diff); n > 0 {
		what = strings.Join(r.Diff[:min(n, 6)], "; ")
		if n > 7 {
			what += fmt.Sprintf("; … %d more; %s", n-7, r.Diff[n-1])
		} else if n == 7 {
			what += "; " + r.Diff[6]
		}
	}
	return fmt.Sprintf("%-14s %-5s events=%-6d %5.0fs  faults: %s | %s", r.Name, verdict, r.Events, r.Seconds, r.Faults, what)
}

// Run runs one scenario on a fresh stack and judges it.
func (e *Env) Run(ctx context.Context, sc Scenario, load Load) (res Result) {
	start := time.Now()
	res = Result{Name: sc.Name, ExpectFail: sc.ExpectFail}
	defer func() { res.Seconds = time.Since(start).Seconds() }()
	ds, err := e.generate(sc.Name, load.Events)
	if err != nil {
		res.Diff = []string{"generate: " + err.Error()}
		return res
	}
	judge := Judge{Want: &ds.Want, Drain: load.Drain}
	if sc.Shape != nil {
		sc.Shape(ds, &judge)
	}
	res.Events = len(ds.Records)
	e.progress("%s: starting a fresh stack", sc.Name)
	s, err := e.NewStack(ctx, sc.Name, sc.Stack)
	if err != nil {
		res.Diff = []string{"start stack: " + err.Error()}
		return res
	}
	loadDone := make(chan struct{})
	type outcome struct {
		account string
		err     error
	}
	faulted := make(chan outcome, 1)
	go func() {
		if sc.Fault == nil {
			faulted <- outcome{account: "none"}
			return
		}
		a, err := sc.Fault(ctx, s, ds, loadDone)
		faulted <- outcome{a, err}
	}()
	every := load.Every * time.Duration(max(sc.Stretch, 1))
	e.progress("%s: sending %d records over %s", sc.Name, len(ds.Records), time.Duration(load.Chunks)*every)
	sendErr := s.Pace(ctx, ds.Records, load.Chunks, every)
	close(loadDone)
	f := <-faulted
	res.Faults = f.account
	if sendErr != nil {
		res.Diff = append(res.Diff, "send: "+sendErr.Error())
	}
	if f.err != nil {
		res.Diff = append(res.Diff, "fault: "+f.err.Error())
	}
	e.progress("%s: load sent, faults done (%s); judging", sc.Name, f.account)
	res.Diff = append(res.Diff, judge.Check(ctx, s)...)
	res.Pass = len(res.Diff) == 0
	s.Close(!res.OK())
	if !res.OK() {
		// The line shows the first differences; the whole list goes
		// beside the logs.
		full := filepath.Join(s.Dir, "differences.txt")
		_ = os.WriteFile(full, []byte(strings.Join(res.Diff, "\n")+"\n"), 0o644)
		res.Diff = append(res.Diff, "all differences, logs and database kept: "+full+", "+s.DB)
	}
	return res
}

// generate makes a scenario's data set: its own seed, and invalid records
// only over Kafka. A post that broke mid-way is sent again (Stack.Send);
// a resent valid event is a duplicate dedupe drops, but a resent invalid
// one is a second dead letter the oracle does not count.
func (e *Env) generate(name string, events int) (*sample.Dataset, error) {
	h := fnv.New64a()
	h.Write([]byte(name))
	opts := sample.DefaultOptions()
	opts.Events, opts.Seed = events, h.Sum64()
	ds, err := sample.Generate(opts, e.Rules)
	if err != nil {
		return nil, err
	}
	for i := range ds.Records {
		if strings.HasPrefix(ds.Records[i].Lead, "BAD-") {
			ds.Records[i].HTTP = false
		}
	}
	return ds, nil
}
