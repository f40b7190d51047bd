package contract

import (
	"regexp"
	"strings"
	"testing"

	"github.com/reftrack/reftrack/internal/testenv"
	"github.com/reftrack/reftrack/schemas"
)

// TestOneCommissionEntryColumnList (issue #12): the sink and
// commission/audit_test.go each spelled commission_entries' columns, and a
// column a migration added had to be added to both by hand. No Go file
// outside schemas spells the list now (a few of its columns, as a test
// inserting some, is not the list).
func TestOneCommissionEntryColumnList(t *testing.T) {
	t.Parallel()
	list := strings.Join(schemas.CommissionEntryColumns()[:12], ", ")
	quotes := regexp.MustCompile("[\"`]")
	space := regexp.MustCompile(`\s+`)
	code := func(rel string) bool { return strings.HasSuffix(rel, ".go") && !strings.HasPrefix(rel, "schemas/") }
	testenv.WalkRepo(t, code, func(rel string, b []byte) {
		if strings.Contains(space.ReplaceAllString(quotes.ReplaceAllString(string(b), ""), " "), list) {
			t.Errorf("%s spells commission_entries' columns; use schemas.CommissionEntryColumns", rel)
		}
	})
}
