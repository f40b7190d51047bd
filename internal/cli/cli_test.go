package cli_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"testing"

	"github.com/reftrack/reftrack/internal/cli"
	"github.com/reftrack/reftrack/internal/testenv"
)

// TestExitCode: -h (flag.ErrHelp, however wrapped) exits 0 like success;
// any other error exits 1 and is printed with the command's name.
func TestExitCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		err       error
		want      int
		wantPrint string
	}{
		{"success", nil, 0, ""},
		{"help", flag.ErrHelp, 0, ""},
		{"help wrapped", fmt.Errorf("parse flags: %w", flag.ErrHelp), 0, ""},
		{"failure", errors.New("boom"), 1, "cmd: boom\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stderr bytes.Buffer
			if got := cli.ExitCode("cmd", tt.err, &stderr); got != tt.want || stderr.String() != tt.wantPrint {
				t.Errorf("ExitCode(%v) = %d printing %q, want %d printing %q", tt.err, got, stderr.String(), tt.want, tt.wantPrint)
			}
		})
	}
}

// TestDispatch: the subcommand named runs with its own name first; -h
// (the command's or the subcommand's) succeeds; none or an unknown one
// fails with the usage, before any subcommand runs.
func TestDispatch(t *testing.T) {
	t.Parallel()
	const usage = "usage: tool a|b"
	tests := []struct {
		args    []string
		wantRan string // the args the subcommand got, joined
		wantErr string // "" for success
		wantOut string // on errOut
	}{
		{[]string{"tool", "a", "--x", "1"}, "a --x 1", "", ""},
		{[]string{"tool", "b"}, "b", "", ""},
		{[]string{"tool", "-h"}, "", "", usage + "\n"},
		{[]string{"tool", "help"}, "", "", usage + "\n"},
		{[]string{"tool", "a", "-h"}, "a -h", "", ""},
		{[]string{"tool"}, "", "no subcommand\n" + usage, ""},
		{[]string{"tool", "c"}, "", `unknown subcommand "c"` + "\n" + usage, ""},
		{[]string{"tool", "b", "--fail"}, "b --fail", "b failed", ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			var ran string
			sub := func(_ context.Context, args []string, _ func(string) string) error {
				ran = strings.Join(args, " ")
				fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
				fs.SetOutput(&bytes.Buffer{})
				fs.String("x", "", "")
				fail := fs.Bool("fail", false, "")
				if err := fs.Parse(args[1:]); err != nil {
					return err // -h: flag.ErrHelp, passed up untouched
				}
				if *fail {
					return errors.New(args[0] + " failed")
				}
				return nil
			}
			var errOut bytes.Buffer
			err := cli.Dispatch(context.Background(), tt.args, func(string) string { return "" }, &errOut, usage,
				map[string]cli.RunFunc{"a": sub, "b": sub})
			if (tt.wantErr == "") != (err == nil) || err != nil && err.Error() != tt.wantErr {
				t.Errorf("error %v, want %q", err, tt.wantErr)
			}
			if ran != tt.wantRan || errOut.String() != tt.wantOut {
				t.Errorf("ran %q printing %q, want %q printing %q", ran, errOut.String(), tt.wantRan, tt.wantOut)
			}
		})
	}
}

// helpDecided are the files allowed to tell flag.ErrHelp from a failure:
// this package, and the stage runtime's main (which turns help into "no
// configuration"). The ops CLI's dispatcher has its own usage but exits
// through ExitCode.
var helpDecided = map[string]bool{
	"internal/cli/cli.go":     true,
	"internal/worker/main.go": true,
}

// ownDispatch are the files allowed to dispatch on the help words: this
// package, and the ops CLI's top level (usage on stdout when asked, exit 2
// for a missing or unknown command, as rpk and kcat).
var ownDispatch = map[string]bool{
	"internal/cli/cli.go":         true,
	"deploy/cmd/reftrack/main.go": true,
}

// TestHelpDecidedOnce (issue #12): no command swallows flag.ErrHelp
// itself; each passes it up and Main, Dispatch or the reftrack dispatcher
// turn it into exit 0 (sixteen commands used to repeat that check). And no
// command dispatches its subcommands by hand: spelling the help words is
// the mark of that (dlq and pii each did).
func TestHelpDecidedOnce(t *testing.T) {
	t.Parallel()
	code := func(rel string) bool { return strings.HasSuffix(rel, ".go") && !strings.HasSuffix(rel, "_test.go") }
	testenv.WalkRepo(t, code, func(rel string, b []byte) {
		for i, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, "flag.ErrHelp") && !helpDecided[rel] {
				t.Errorf("%s:%d decides about flag.ErrHelp; return the parse error and let cli.Main or cli.Dispatch decide", rel, i+1)
			}
			if strings.Contains(line, `"-help"`) && !ownDispatch[rel] {
				t.Errorf("%s:%d dispatches subcommands by hand; use cli.Dispatch", rel, i+1)
			}
		}
	})
}
