// Package devports is the one definition of the dev stack's ports (the dev
// broker, the ingest API, the workers' ops ports, Redis, ClickHouse): the
// file ports.env, which the shell scripts source and this package embeds,
// so that a port changed there changes for every script, test and tool.
package devports

import (
	_ "embed"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// The ports' names, as ports.env and the environment spell them.
const (
	Broker         = "BROKER_PORT"
	API            = "API_PORT"
	OpsBase        = "OPS_BASE" // stage i (1-based, in pipeline order) listens on OpsBase+i
	Redis          = "REDIS_PORT"
	ClickHouseTCP  = "CLICKHOUSE_TCP_PORT"
	ClickHouseHTTP = "CLICKHOUSE_HTTP_PORT"
)

//go:embed ports.env
var file string

// defaults is ports.env parsed; a malformed file is a build-time mistake,
// so it panics at init and every test of every user says so at once.
var defaults = mustParse(file)

// Parse reads KEY=PORT lines; blank lines and # comments are skipped.
func Parse(text string) (map[string]int, error) {
	out := map[string]int{}
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		port, err := strconv.Atoi(v)
		if !ok || err != nil || port < 1 || port > 65535 {
			return nil, fmt.Errorf("ports.env line %d %q: want KEY=PORT", i+1, line)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("ports.env line %d: %s defined twice", i+1, k)
		}
		out[k] = port
	}
	return out, nil
}

func mustParse(text string) map[string]int {
	m, err := Parse(text)
	if err != nil {
		panic(err)
	}
	return m
}

// Default is ports.env's port for name; it panics on a name the file lacks.
func Default(name string) int {
	p, ok := defaults[name]
	if !ok {
		panic("devports: ports.env defines no " + name)
	}
	return p
}

// Port is the port for name as the scripts see it: the environment
// variable name when set, else ports.env's.
func Port(name string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return strconv.Itoa(Default(name))
}

// Loopback is 127.0.0.1:Port(name), where the dev stack listens.
func Loopback(name string) string { return "127.0.0.1:" + Port(name) }

// All is every port ports.env defines, by name.
func All() map[string]int {
	out := make(map[string]int, len(defaults))
	for k, v := range defaults {
		out[k] = v
	}
	return out
}
