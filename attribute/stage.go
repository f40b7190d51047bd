package attribute

import (
	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

// Stage is attribute as its binary runs it (referrals.unique →
// attributions): the stage's topology in one place, held by the runtime (an
// output to any other topic stops the worker) and by deploy/contract's
// topology test.
func Stage() worker.Settings {
	return worker.Settings{
		Name:    "attribute",
		Inputs:  []string{schemas.TopicUnique},
		Outputs: []string{schemas.TopicAttributions},
		App:     &App{},
	}
}
