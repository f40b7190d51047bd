package commission

import (
	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

// Stage is commission as its binary runs it (attributions → commissions,
// clawbacks included): the stage's topology in one place, held by the
// runtime (an output to any other topic stops the worker) and by
// deploy/contract's topology test.
func Stage() worker.Settings {
	return worker.Settings{
		Name:    "commission",
		Inputs:  []string{schemas.TopicAttributions},
		Outputs: []string{schemas.TopicCommissions},
		App:     &App{},
	}
}
