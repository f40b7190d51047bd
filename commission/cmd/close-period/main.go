// Command close-period is `reftrack close-period` as its own binary; see ops.ClosePeriod.
package main

import (
	"github.com/reftrack/reftrack/commission/ops"
	"github.com/reftrack/reftrack/internal/cli"
)

func main() { cli.Main("close-period", ops.ClosePeriod) }
