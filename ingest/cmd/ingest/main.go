// Command ingest runs the ingest stage: the partner HTTP API and
// referrals.inbound.<partner> (and, with --inbound-shared, referrals.inbound)
// → referrals.ingested.
package main

import (
	"github.com/reftrack/reftrack/ingest"
	"github.com/reftrack/reftrack/internal/worker"
)

func main() { worker.Exec(ingest.Stage()) }
