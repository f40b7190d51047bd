// Command attribute runs the attribute stage: referrals.unique → attributions.
package main

import (
	"github.com/reftrack/reftrack/attribute"
	"github.com/reftrack/reftrack/internal/worker"
)

func main() { worker.Exec(attribute.Stage()) }
