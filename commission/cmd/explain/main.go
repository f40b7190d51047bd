// Command explain is `reftrack explain` as its own binary; see ops.Explain.
package main

import (
	"github.com/reftrack/reftrack/commission/ops"
	"github.com/reftrack/reftrack/internal/cli"
)

func main() { cli.Main("explain", ops.Explain) }
