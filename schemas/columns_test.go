package schemas_test

import (
	"testing"

	"github.com/reftrack/reftrack/schemas"
)

// TestCommissionEntryColumnsCopy: a caller's change to the list it got
// does not reach the next caller's. (deploy/contract holds that no one
// else spells the list; commission's audit test, that it is the migrated
// table's.)
func TestCommissionEntryColumnsCopy(t *testing.T) {
	t.Parallel()
	a := schemas.CommissionEntryColumns()
	a[0] = "changed"
	if b := schemas.CommissionEntryColumns(); b[0] != "entry_id" {
		t.Errorf("first column %q after a caller changed its copy, want entry_id", b[0])
	}
}
