// Command dedupe runs the dedupe stage: referrals.valid → referrals.unique.
package main

import (
	"github.com/reftrack/reftrack/dedupe"
	"github.com/reftrack/reftrack/internal/worker"
)

func main() { worker.Exec(dedupe.Stage()) }
