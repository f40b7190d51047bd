// Command verify is `reftrack verify` as its own binary; see ops.Verify.
package main

import (
	"github.com/reftrack/reftrack/commission/ops"
	"github.com/reftrack/reftrack/internal/cli"
)

func main() { cli.Main("verify", ops.Verify) }
