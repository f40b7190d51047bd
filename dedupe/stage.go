package dedupe

import (
	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

// Stage is dedupe as its binary runs it (referrals.valid →
// referrals.unique): the stage's topology in one place, held by the runtime
// (an output to any other topic stops the worker) and by deploy/contract's
// topology test.
func Stage() worker.Settings {
	return worker.Settings{
		Name:    "dedupe",
		Inputs:  []string{schemas.TopicValid},
		Outputs: []string{schemas.TopicUnique},
		App:     &App{},
	}
}
