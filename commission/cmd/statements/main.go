// Command statements is `reftrack statements` as its own binary; see ops.Statements.
package main

import (
	"github.com/reftrack/reftrack/commission/ops"
	"github.com/reftrack/reftrack/internal/cli"
)

func main() { cli.Main("statements", ops.Statements) }
