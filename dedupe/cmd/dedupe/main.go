// Command dedupe runs the dedupe stage: referrals.valid → referrals.unique.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/reftrack/reftrack/dedupe"
	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := worker.Main(ctx, os.Args, os.Getenv, "dedupe", []string{schemas.TopicValid}, &dedupe.App{})
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "dedupe:", err)
		os.Exit(1)
	}
}
