// Command devstack runs the dev stack: the dev broker, Redis, ClickHouse and
// the six workers as separate processes on the ports of
// internal/devports/ports.env (each overridden by its environment
// variable), with data and logs under --dev-dir. It is the one launcher:
// deploy/dev.sh and `make run|up|down|status` call it, and it starts the
// broker and the workers through package deploy/devstack, as the
// end-to-end test, bench and chaos do; Redis and ClickHouse through
// deploy/stack.sh.
//
//	devstack up       start everything; the workers are supervised (restarted when one exits)
//	devstack down     stop everything
//	devstack status   what runs
//	devstack run      wipe the dev data, up, push --events generated events through,
//	                  print what landed against the oracle, down
//
// up leaves a supervisor process (`devstack serve`) running in a session of
// its own; down stops it, and it stops the workers and the broker.
package main

import (
	"context"
	"os"

	"github.com/reftrack/reftrack/internal/cli"
)

const usage = `usage: devstack up|down|status|run [flags]

  up      start the broker, Redis, ClickHouse and the six workers (supervised)
  down    stop everything
  status  what runs
  run     wipe the dev data, up, push --events generated events through, print what landed, down

"devstack <subcommand> -h" lists its flags.`

func main() { cli.Main("devstack", run) }

func run(ctx context.Context, args []string, getenv func(string) string) error {
	return cli.Dispatch(ctx, args, getenv, os.Stderr, usage, map[string]cli.RunFunc{
		"up":     withDev(up),
		"down":   withDev(down),
		"status": withDev(status),
		"run":    withDev(demo),
		"serve":  withDev(serve), // the supervisor up starts; not for people
	})
}
