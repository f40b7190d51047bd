// Command validate runs the validate stage: referrals.ingested → referrals.valid | referrals.rejected.
package main

import (
	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/validate"
)

func main() { worker.Exec(validate.Stage()) }
