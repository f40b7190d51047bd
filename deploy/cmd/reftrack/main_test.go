package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrack/reftrack/internal/testenv"
	"github.com/reftrack/reftrack/schemas"
)

// The tests run reftrack as a process (this test binary re-executed with
// argsEnv set), so that exit codes and what the commands' flag sets print
// to the real stderr are what is checked.
const argsEnv = "REFTRACK_TEST_ARGS"

func TestMain(m *testing.M) {
	if a := os.Getenv(argsEnv); a != "" {
		var args []string
		if err := json.Unmarshal([]byte(a), &args); err != nil {
			panic(err)
		}
		os.Args = append([]string{"reftrack"}, args...)
		main()
	}
	os.Exit(m.Run())
}

// reftrack runs the CLI with args and returns its exit code and output.
func reftrack(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	a, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), argsEnv+"="+string(a))
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatalf("run reftrack %v: %v", args, err)
	}
	return code, out.String(), errOut.String()
}

// wantCommands are the subcommands issue #12 asks for; dropping one from
// the dispatcher fails TestUsage.
var wantCommands = []string{"dlq", "statements", "whatif", "adjust", "close-period", "verify", "explain", "decide", "datadriven", "migrate", "erase", "pii", "retention"}

// TestUsage (issue #12): -h lists every subcommand on stdout and succeeds;
// no or an unknown subcommand prints the usage on stderr and exits 2.
func TestUsage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args     []string
		wantCode int
		stdout   bool // the listing is on stdout (else on stderr)
	}{
		{[]string{"-h"}, 0, true},
		{[]string{"--help"}, 0, true},
		{nil, 2, false},
		{[]string{"bogus"}, 2, false},
		{[]string{"sink"}, 2, false},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := reftrack(t, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.wantCode, stderr)
			}
			listing := stderr
			if tt.stdout {
				listing = stdout
			}
			for _, c := range wantCommands {
				if !strings.Contains(listing, "\n  "+c+" ") {
					t.Errorf("usage lacks %q:\n%s", c, listing)
				}
			}
		})
	}
}

// TestSubcommandHelp (issue #12): `reftrack <sub> -h` shows the
// subcommand's own flags and exits 0, for every subcommand.
func TestSubcommandHelp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args     []string
		wantFlag string
	}{
		{[]string{"dlq", "-h"}, "redrive"},
		{[]string{"dlq", "list", "-h"}, "-output"},
		{[]string{"dlq", "show", "-h"}, "-pos"},
		{[]string{"dlq", "redrive", "-h"}, "-dry-run"},
		{[]string{"statements", "-h"}, "-output"},
		{[]string{"whatif", "-h"}, "-rules"},
		{[]string{"adjust", "-h"}, "-payee"},
		{[]string{"close-period", "-h"}, "-period"},
		{[]string{"verify", "-h"}, "-clickhouse"},
		{[]string{"explain", "-h"}, "-output"},
		{[]string{"decide", "-h"}, "-decline"},
		{[]string{"fraud", "-h"}, "velocity"},
		{[]string{"fraud", "velocity", "-h"}, "-dry-run"},
		{[]string{"datadriven", "-h"}, "-by"},
		{[]string{"migrate", "-h"}, "-clickhouse"},
		{[]string{"erase", "-h"}, "-lead"},
		{[]string{"pii", "-h"}, "rewrap"},
		{[]string{"pii", "rewrap", "-h"}, "-keyring"},
		{[]string{"pii", "add-kek", "-h"}, "-current"},
		{[]string{"retention", "-h"}, "-include-money"},
	}
	covered := map[string]bool{}
	for _, tt := range tests {
		covered[tt.args[0]] = true
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			code, _, stderr := reftrack(t, tt.args...)
			if code != 0 || !strings.Contains(stderr, tt.wantFlag) {
				t.Errorf("exit %d, want 0 and %q in:\n%s", code, tt.wantFlag, stderr)
			}
		})
	}
	for _, c := range commands {
		if !covered[c.name] {
			t.Errorf("subcommand %s has no -h case", c.name)
		}
	}
}

// TestFailureExits1: a command that fails exits 1 and says which command.
func TestFailureExits1(t *testing.T) {
	t.Parallel()
	code, _, stderr := reftrack(t, "statements", "--from", "2026-13-01", "--to", "2026-12-01")
	if code != 1 || !strings.Contains(stderr, "reftrack statements: ") || !strings.Contains(stderr, "--from") {
		t.Errorf("exit %d, stderr %q; want 1 and the command's error", code, stderr)
	}
}

// TestAdjustEndToEnd: `reftrack adjust` produces the adjustment request to
// the attributions topic, keyed by the partner's adjustment lead.
func TestAdjustEndToEnd(t *testing.T) {
	t.Parallel()
	topic := "p." + schemas.TopicAttributions
	brokers := testenv.Kafka(t, 1, topic)
	code, stdout, stderr := reftrack(t, "adjust", "--brokers", brokers[0], "--topic-prefix", "p.", "--partner", "acme",
		"--payee", "agent:A-1", "--currency", "USD", "--amount", "-12.50", "--reason", "duplicate payment", "--actor", "ops@acme",
		"--request-id", "req-9")
	if code != 0 || !strings.Contains(stdout, "adjustment request req-9 sent") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for len(recs) == 0 {
		fs := cl.PollFetches(context.Background())
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, fs.Records()...)
	}
	var env schemas.Envelope
	if err := schemas.Decode(recs[0].Value, &env); err != nil {
		t.Fatal(err)
	}
	if string(recs[0].Key) != "acme|adjustment:req-9" || env.EventType != schemas.TypeAdjustmentRequested || env.EventID != "req-9" {
		t.Errorf("record key %q, envelope %+v", recs[0].Key, env)
	}
}
