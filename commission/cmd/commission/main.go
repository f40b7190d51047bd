// Command commission runs the commission stage: attributions → commissions (and clawbacks).
package main

import (
	"github.com/reftrack/reftrack/commission"
	"github.com/reftrack/reftrack/internal/worker"
)

func main() { worker.Exec(commission.Stage()) }
