package main

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/reftrack/reftrack/internal/kafkaconn"
)

// subcommands are the commands that dispatch to subcommands, each with its
// own flag set; a command missing here whose -h prints no flags fails
// TestKafkaCommandsTakeSecurityFlags, so none goes unchecked.
var subcommands = map[string][]string{
	"dlq":   {"list", "show", "redrive"},
	"fraud": {"velocity"},
	"pii":   {"rewrap", "keys", "add-kek", "activate"},
}

// kafkaCommands open a Kafka client today; the check below must find
// --brokers on each, or its reading of the flag sets has gone wrong.
var kafkaCommands = []string{"dlq list", "dlq show", "dlq redrive", "adjust", "decide", "close-period", "fraud velocity", "erase"}

var flagLine = regexp.MustCompile(`(?m)^  -([a-z0-9-]+)`)

// TestKafkaCommandsTakeSecurityFlags: every command whose flag set has
// --brokers also has the workers' TLS and SASL flags (kafkaconn), so an
// operator command reaches any cluster the workers reach.
func TestKafkaCommandsTakeSecurityFlags(t *testing.T) {
	t.Parallel()
	var paths [][]string
	for _, c := range commands {
		if subs, ok := subcommands[c.name]; ok {
			for _, s := range subs {
				paths = append(paths, []string{c.name, s})
			}
			continue
		}
		paths = append(paths, []string{c.name})
	}
	var withBrokers []string
	for _, p := range paths {
		name := strings.Join(p, " ")
		code, _, stderr := reftrack(t, append(p, "-h")...)
		var flags []string
		for _, m := range flagLine.FindAllStringSubmatch(stderr, -1) {
			flags = append(flags, m[1])
		}
		if code != 0 || len(flags) == 0 {
			t.Errorf("%s -h: exit %d, no flags listed (a command with subcommands belongs in subcommands):\n%s", name, code, stderr)
			continue
		}
		if !slices.Contains(flags, kafkaconn.FlagBrokers) {
			continue
		}
		withBrokers = append(withBrokers, name)
		for _, f := range kafkaconn.SecurityFlags {
			if !slices.Contains(flags, f) {
				t.Errorf("%s has --brokers but not --%s", name, f)
			}
		}
	}
	for _, c := range kafkaCommands {
		if !slices.Contains(withBrokers, c) {
			t.Errorf("%s: no --brokers found in its -h; commands with it: %v", c, withBrokers)
		}
	}
}
