package ingest

import (
	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

// Stage is ingest as its binary runs it: the partner HTTP API (a
// worker.Server producing with the runtime's producer) and the inbound
// topics → referrals.ingested. Its inputs follow its flags (Subscription);
// Inputs name the family for the topology.
func Stage() worker.Settings {
	return worker.Settings{
		Name:    "ingest",
		Inputs:  []string{schemas.TopicInbound},
		Outputs: []string{schemas.TopicIngested},
		App:     &App{},
	}
}

// The runtime type-asserts these; a signature that drifts would silently
// turn the HTTP API or the per-partner subscription off.
var (
	_ worker.Server     = (*App)(nil)
	_ worker.Subscriber = (*App)(nil)
)
