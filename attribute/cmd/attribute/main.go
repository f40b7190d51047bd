// Command attribute runs the attribute stage: referrals.unique → attributions.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/reftrack/reftrack/attribute"
	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := worker.Main(ctx, os.Args, os.Getenv, "attribute", []string{schemas.TopicUnique}, &attribute.App{})
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "attribute:", err)
		os.Exit(1)
	}
}
