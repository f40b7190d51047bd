package validate

import (
	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

// Stage is validate as its binary runs it (referrals.ingested →
// referrals.valid, dead letters to referrals.rejected): the stage's topology
// in one place, held by the runtime (an output to any other topic stops the
// worker) and by deploy/contract's topology test.
func Stage() worker.Settings {
	return worker.Settings{
		Name:    "validate",
		Inputs:  []string{schemas.TopicIngested},
		Outputs: []string{schemas.TopicValid},
		App:     &App{},
	}
}
