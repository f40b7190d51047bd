// Command adjust is `reftrack adjust` as its own binary; see ops.Adjust.
package main

import (
	"github.com/reftrack/reftrack/commission/ops"
	"github.com/reftrack/reftrack/internal/cli"
)

func main() { cli.Main("adjust", ops.Adjust) }
