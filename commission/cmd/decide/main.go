// Command decide approves or declines one accrual of the commission
// journal; see ops.Decide (also `reftrack decide`).
package main

import (
	"github.com/reftrack/reftrack/commission/ops"
	"github.com/reftrack/reftrack/internal/cli"
)

func main() { cli.Main("decide", ops.Decide) }
