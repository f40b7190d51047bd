// Command dlq is `reftrack dlq` as its own binary; see dlq.Command.
package main

import (
	"github.com/reftrack/reftrack/internal/cli"
	"github.com/reftrack/reftrack/internal/dlq"
)

func main() { cli.Main("dlq", dlq.Command) }
