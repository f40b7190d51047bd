// Command reftrack is the operators' one CLI, in the manner of rpk and
// kcat: `reftrack <command> [flags]`, `reftrack -h` lists the commands,
// `reftrack <command> -h` shows a command's flags. Exit codes: 0 done (or
// help), 1 the command failed, 2 no or an unknown command. Each command is
// the same code as its own binary (bin/dlq, bin/statements, …), kept for
// scripts that call those.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"

	"github.com/reftrack/reftrack/attribute/datadriven"
	"github.com/reftrack/reftrack/commission/ops"
	"github.com/reftrack/reftrack/internal/cli"
	"github.com/reftrack/reftrack/internal/dlq"
	"github.com/reftrack/reftrack/internal/pii"
	"github.com/reftrack/reftrack/sink"
)

// command is one subcommand: run gets the arguments from its own name on.
type command struct {
	name, summary string
	run           cli.RunFunc
}

// commands in the order -h lists them: the pipeline's order, then the
// database.
var commands = []command{
	{"dlq", "list|show|redrive dead letters (each re-driven once)", dlq.Command},
	{"datadriven", "Markov and Shapley attribution per channel from ClickHouse", datadriven.Command},
	{"statements", "per-payee commission statements, reconciled with ClickHouse, paid out once", ops.Statements},
	{"whatif", "a candidate rule set against a period of history", ops.Whatif},
	{"adjust", "request a manual adjustment of one payee's balance", ops.Adjust},
	{"close-period", "close an accounting period of one or every partner", ops.ClosePeriod},
	{"verify", "check the hash chains of the commission journal", ops.Verify},
	{"explain", "the derivation of one commission journal entry", ops.Explain},
	{"decide", "approve or decline one accrual of the commission journal", ops.Decide},
	{"fraud", "velocity: hold the accruals of referrers over a count per window (from ClickHouse)", ops.Fraud},
	{"erase", "crypto-shred one lead's personal data (its data key destroyed, audited)", pii.EraseCommand},
	{"pii", "rewrap|keys|add-kek|activate: the keys of the leads' personal data", pii.PIICommand},
	{"migrate", "apply pending ClickHouse migrations and exit", sink.MigrateCommand},
	{"retention", "drop monthly ClickHouse partitions older than an age (money kept)", pii.RetentionCommand},
}

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := dispatch(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// dispatch runs the command args[1] names and returns the exit code.
func dispatch(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) < 2 {
		usage(stderr)
		return exitUsage
	}
	name := args[1]
	switch name {
	case "-h", "-help", "--help", "help":
		usage(stdout) // asked for: not an error, so stdout
		return exitOK
	}
	c, ok := lookup(name)
	if !ok {
		fmt.Fprintf(stderr, "reftrack: unknown command %q\n\n", name)
		usage(stderr)
		return exitUsage
	}
	return cli.ExitCode("reftrack "+name, c.run(ctx, args[1:], getenv), stderr)
}

func lookup(name string) (command, bool) {
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

func usage(w io.Writer) {
	fmt.Fprint(w, "reftrack operates the referral pipeline.\n\nUsage:\n  reftrack <command> [flags]\n  reftrack <command> -h   the command's flags\n\nCommands:\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range commands {
		fmt.Fprintf(tw, "  %s\t%s\n", c.name, c.summary)
	}
	_ = tw.Flush() // a failed write to the terminal has nowhere to be reported
}
