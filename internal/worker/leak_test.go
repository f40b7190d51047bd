package worker

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a goroutine outlives its tests: every
// loop the runtime starts (Run, RunStore, Main's ops server and readiness
// watcher, the producers and clients it opens) must be gone once ctx is
// cancelled and the function returned, or a stage leaks on every restart of
// its loop.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
