// Command datadriven is `reftrack datadriven` as its own binary; see
// datadriven.Command.
package main

import (
	"github.com/reftrack/reftrack/attribute/datadriven"
	"github.com/reftrack/reftrack/internal/cli"
)

func main() { cli.Main("datadriven", datadriven.Command) }
