// Command edgeprobe measures the ingest HTTP edge of a running dev stack
// (`make up`): slow bodies, idle connections, floods from one address and
// huge batches, the behaviour SECURITY.md records figures for. It is a
// measurement tool, not a load generator: it talks to loopback only, every
// loop is bounded in count and in time, and it stops by itself.
//
// Phases run in an order that keeps them apart: the ones that spend the
// client address's failure bucket (slow bodies, floods) run last, each
// flood after --refill so it starts from a full bucket.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/reftrack/reftrack/internal/cli"
)

func main() { cli.Main("edgeprobe", run) }

func run(ctx context.Context, args []string, getenv func(string) string) error {
	cfg, err := parseConfig(args[1:], os.Stderr)
	if err != nil {
		return err
	}
	p, err := newProber(cfg)
	if err != nil {
		return err
	}
	rows := p.all(ctx)
	printReport(os.Stdout, cfg, rows)
	return ctx.Err()
}

// printReport writes the heading and the table of figures.
func printReport(w io.Writer, cfg config, rows []row) {
	fmt.Fprintf(w, "edgeprobe %s against %s\n\n", time.Now().UTC().Format(time.RFC3339), cfg.URL)
	fmt.Fprint(w, formatTable(rows))
}
