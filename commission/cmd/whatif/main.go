// Command whatif is `reftrack whatif` as its own binary; see ops.Whatif.
package main

import (
	"github.com/reftrack/reftrack/commission/ops"
	"github.com/reftrack/reftrack/internal/cli"
)

func main() { cli.Main("whatif", ops.Whatif) }
