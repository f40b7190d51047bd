// Command sink lands referrals.unique, attributions, commissions and
// referrals.rejected in ClickHouse. `sink migrate` only applies migrations.
package main

import (
	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/sink"
)

func main() { worker.Exec(sink.Stage()) }
