package commission

import (
	"os"
	"strings"
	"testing"
)

// TestNoOtherStageModule (issue #13 item 7, the structure rule: stages
// depend on schemas and internal only): commission's go.mod requires no
// other stage module, not even for tests. audit_test.go imported sink to
// write rows; it now writes them with the migrations alone.
func TestNoOtherStageModule(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	for _, stage := range []string{"ingest", "validate", "dedupe", "attribute", "sink"} {
		if strings.Contains(string(b), "github.com/reftrack/reftrack/"+stage+" ") {
			t.Errorf("go.mod requires the %s stage module", stage)
		}
	}
}
