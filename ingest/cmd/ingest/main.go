// Command ingest runs the ingest stage: the partner HTTP API and
// referrals.inbound.<partner> (and, with --inbound-shared, referrals.inbound)
// → referrals.ingested.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/reftrack/reftrack/ingest"
	"github.com/reftrack/reftrack/internal/worker"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// No inputs here: ingest.App chooses them from its flags (Subscription).
	err := worker.Main(ctx, os.Args, os.Getenv, "ingest", nil, &ingest.App{})
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "ingest:", err)
		os.Exit(1)
	}
}
