package main

import (
	"github.com/reftrack/reftrack/internal/devports"

	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// config is every bound of a probe run. The limits in validate keep a
// typo from turning the probe into a real attack on the machine it runs on.
type config struct {
	URL     string
	Token   string // empty: signed with the dev-only secret
	Partner string
	PIDFile string // ingest's pid, for its RSS; empty: pgrep -x ingest
	Phases  []string

	SlowConns       int
	SlowLength      int
	SlowFor         time.Duration
	SlowCheckpoints []time.Duration
	IdleMax         time.Duration
	FloodN          int
	FloodConc       int
	FloodMax        time.Duration
	Refill          time.Duration
	HugeElements    int
	HugeParallel    int
	OverEvents      []int
	RequestTimeout  time.Duration
}

var allPhases = []string{"contrast", "huge", "idle", "slow", "flood"}

func parseConfig(args []string, stderr io.Writer) (config, error) {
	var c config
	var phases, checkpoints, over string
	fs := flag.NewFlagSet("edgeprobe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.URL, "url", "http://"+devports.Loopback(devports.API), "base URL of the ingest API (loopback only)")
	fs.StringVar(&c.Token, "token", "", "partner bearer token (default: one signed with the dev stack's dev-only secret)")
	fs.StringVar(&c.Partner, "partner", "edgeprobe", "partner_id of the signed token and of the normal batch")
	fs.StringVar(&c.PIDFile, "pid-file", ".dev/pids/ingest.pid", "ingest's pid file, for its RSS (empty or missing: pgrep -x ingest)")
	fs.StringVar(&phases, "phases", strings.Join(allPhases, ","), "phases to run, in this fixed order: "+strings.Join(allPhases, ","))
	fs.IntVar(&c.SlowConns, "slow-conns", 200, "slow-body connections (≤ 1000)")
	fs.IntVar(&c.SlowLength, "slow-length", 200000, "Content-Length each slow body announces")
	fs.DurationVar(&c.SlowFor, "slow-for", 35*time.Second, "how long the slow bodies trickle, one byte a second (≤ 2m)")
	fs.StringVar(&checkpoints, "slow-checkpoints", "5s,15s,16s,30s", "times after the start at which open slow connections are counted")
	fs.DurationVar(&c.IdleMax, "idle-max", 90*time.Second, "longest wait for the server to close an idle connection (≤ 5m)")
	fs.IntVar(&c.FloodN, "flood", 2000, "requests of each flood (≤ 20000)")
	fs.IntVar(&c.FloodConc, "flood-conc", 8, "concurrent connections of a flood (≤ 64)")
	fs.DurationVar(&c.FloodMax, "flood-max", 60*time.Second, "longest a flood may run (≤ 5m)")
	fs.DurationVar(&c.Refill, "refill", 12*time.Second, "pause before each flood, so the client address's failure bucket is full again (≤ 2m)")
	fs.IntVar(&c.HugeElements, "huge-elements", 349000, "elements of the huge batch `[{},{},…]` (349000: just under 1 MiB)")
	fs.IntVar(&c.HugeParallel, "huge-parallel", 4, "huge batches sent at once after the single one (≤ 8)")
	fs.StringVar(&over, "over-events", "1001,10001", "sizes of the batches over --max-events and over the burst")
	fs.DurationVar(&c.RequestTimeout, "request-timeout", 60*time.Second, "client timeout of one request")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	var errs []error
	var err error
	if c.Phases, err = parsePhases(phases); err != nil {
		errs = append(errs, err)
	}
	if c.SlowCheckpoints, err = parseDurations(checkpoints); err != nil {
		errs = append(errs, fmt.Errorf("--slow-checkpoints: %w", err))
	}
	if c.OverEvents, err = parseInts(over); err != nil {
		errs = append(errs, fmt.Errorf("--over-events: %w", err))
	}
	errs = append(errs, c.validate())
	return c, errors.Join(errs...)
}

// validate returns every problem at once; the bounds are what makes the
// probe safe to run on a shared box.
func (c *config) validate() error {
	var errs []error
	if err := loopbackOnly(c.URL); err != nil {
		errs = append(errs, fmt.Errorf("--url: %w", err))
	}
	bound := func(name string, v, lo, hi int) {
		if v < lo || v > hi {
			errs = append(errs, fmt.Errorf("%s %d: must be within %d..%d", name, v, lo, hi))
		}
	}
	bound("--slow-conns", c.SlowConns, 1, 1000)
	bound("--slow-length", c.SlowLength, 1, 64<<20)
	bound("--flood", c.FloodN, 1, 20000)
	bound("--flood-conc", c.FloodConc, 1, 64)
	bound("--huge-elements", c.HugeElements, 1, 10_000_000)
	bound("--huge-parallel", c.HugeParallel, 0, 8)
	for _, n := range c.OverEvents {
		bound("--over-events", n, 1, 1_000_000)
	}
	within := func(name string, d, hi time.Duration) {
		if d <= 0 || d > hi {
			errs = append(errs, fmt.Errorf("%s %s: must be within 0..%s", name, d, hi))
		}
	}
	within("--slow-for", c.SlowFor, 2*time.Minute)
	within("--idle-max", c.IdleMax, 5*time.Minute)
	within("--flood-max", c.FloodMax, 5*time.Minute)
	within("--refill", c.Refill, 2*time.Minute)
	within("--request-timeout", c.RequestTimeout, 5*time.Minute)
	return errors.Join(errs...)
}

func (c *config) runs(phase string) bool {
	for _, p := range c.Phases {
		if p == phase {
			return true
		}
	}
	return false
}

func parsePhases(s string) ([]string, error) {
	var out []string
	for _, p := range splitList(s) {
		known := false
		for _, a := range allPhases {
			known = known || a == p
		}
		if !known {
			return nil, fmt.Errorf("--phases: unknown phase %q (want some of %s)", p, strings.Join(allPhases, ","))
		}
		out = append(out, p)
	}
	return out, nil
}

func parseDurations(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, f := range splitList(s) {
		d, err := time.ParseDuration(f)
		if err != nil {
			return nil, fmt.Errorf("read %q as a duration: %w", f, err)
		}
		out = append(out, d)
	}
	return out, nil
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range splitList(s) {
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("read %q as a count: %w", f, err)
		}
		out = append(out, n)
	}
	return out, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
