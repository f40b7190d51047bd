// Command commission runs the commission stage: attributions → commissions (and clawbacks).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/reftrack/reftrack/commission"
	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := worker.Main(ctx, os.Args, os.Getenv, "commission", []string{schemas.TopicAttributions}, &commission.App{})
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "commission:", err)
		os.Exit(1)
	}
}
