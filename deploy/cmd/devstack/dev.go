package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	"github.com/reftrack/reftrack/deploy/devstack"
	"github.com/reftrack/reftrack/internal/devports"
	"github.com/reftrack/reftrack/internal/worker"
)

// dev is one dev stack: where it lives and the ports it listens on.
type dev struct {
	root, dir string
	events    int
	readyFD   int // serve: the descriptor up waits on (0: none)
	getenv    func(string) string

	broker, api, opsBase, redis, chTCP int
}

// withDev parses the flags every subcommand shares (and run's --events)
// and the ports, then runs fn.
func withDev(fn func(context.Context, *dev) error) func(context.Context, []string, func(string) string) error {
	return func(ctx context.Context, args []string, getenv func(string) string) error {
		d := &dev{getenv: getenv}
		fs := flag.NewFlagSet("devstack "+args[0], flag.ContinueOnError)
		fs.StringVar(&d.root, "root", ".", "repository root (bin/ holds the binaries, see make build)")
		fs.StringVar(&d.dir, "dev-dir", "", "data, logs and pid files of the dev stack (default: <root>/.dev)")
		switch args[0] {
		case "run":
			fs.IntVar(&d.events, "events", 10000, "generated events to push through")
		case "serve":
			fs.IntVar(&d.readyFD, "ready-fd", 0, "descriptor to report readiness on (set by up)")
		}
		if err := worker.ParseFlags(fs, args[1:], getenv); err != nil {
			return err
		}
		if err := d.resolve(); err != nil {
			return err
		}
		return fn(ctx, d)
	}
}

// resolve makes the paths absolute and reads the ports (ports.env, each
// overridden by its environment variable).
func (d *dev) resolve() error {
	var err error
	if d.root, err = filepath.Abs(d.root); err != nil {
		return fmt.Errorf("--root: %w", err)
	}
	if d.dir == "" {
		d.dir = filepath.Join(d.root, ".dev")
	}
	if d.dir, err = filepath.Abs(d.dir); err != nil {
		return fmt.Errorf("--dev-dir: %w", err)
	}
	for _, p := range []struct {
		name string
		to   *int
	}{
		{devports.Broker, &d.broker}, {devports.API, &d.api}, {devports.OpsBase, &d.opsBase},
		{devports.Redis, &d.redis}, {devports.ClickHouseTCP, &d.chTCP},
	} {
		if *p.to, err = strconv.Atoi(devports.Port(p.name)); err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
	}
	return nil
}

func (d *dev) bin(name string) string { return filepath.Join(d.root, "bin", name) }
func (d *dev) logDir() string         { return filepath.Join(d.dir, "logs") }
func (d *dev) pidFile() string        { return filepath.Join(d.dir, "pids", "devstack.pid") }
func (d *dev) reference(f string) string {
	return filepath.Join(d.root, "deploy", "dev", f)
}
func (d *dev) brokers() string { return "127.0.0.1:" + strconv.Itoa(d.broker) }
func (d *dev) clickhouse() string {
	return "clickhouse://127.0.0.1:" + strconv.Itoa(d.chTCP) + "/reftrack"
}
func (d *dev) ingestURL() string { return "http://127.0.0.1:" + strconv.Itoa(d.api) }

// brokerConfig is the dev broker, its log persisted under the dev dir.
func (d *dev) brokerConfig() devstack.BrokerConfig {
	return devstack.BrokerConfig{Bin: d.bin("devbroker"), LogPath: filepath.Join(d.logDir(), "devbroker.log"),
		Port: d.broker, DataDir: filepath.Join(d.dir, "kafka")}
}

// workers is the six workers' configuration: the dev reference data, the
// fixed ports, text logs, and sealed contacts (PRIVACY.md) with a keyring
// of the dev dir's own and the data keys in Redis database 1, apart from
// the stages' state; REFTRACK_PII_MODE=off runs without.
func (d *dev) workers() devstack.Config {
	c := devstack.Config{
		BinDir: filepath.Join(d.root, "bin"), LogDir: d.logDir(),
		Brokers: d.brokers(), Redis: "127.0.0.1:" + strconv.Itoa(d.redis), ClickHouse: d.clickhouse(),
		Rules: d.reference("rules.json"), Licences: d.reference("licences.json"), FXRates: d.reference("rates.json"),
		APIPort: d.api, OpsBase: d.opsBase,
		Extra: []string{"REFTRACK_LOG_FORMAT=" + or(d.getenv("REFTRACK_LOG_FORMAT"), "text")},
	}
	if d.getenv("REFTRACK_PII_MODE") != "off" {
		c.PIIKeyring, c.PIIRedisDB = filepath.Join(d.dir, "keyring.json"), 1
	}
	return c
}

// needBinaries fails early, naming what make build has not built.
func (d *dev) needBinaries(extra ...string) error {
	for _, b := range append(append([]string{"devbroker"}, devstack.Stages...), extra...) {
		if _, err := os.Stat(d.bin(b)); err != nil {
			return fmt.Errorf("missing %s: run make build", d.bin(b))
		}
	}
	return nil
}

// stackSh runs deploy/stack.sh (Redis and ClickHouse) on this dev dir.
func (d *dev) stackSh(ctx context.Context, sub string) error {
	return d.tool(ctx, "bash", filepath.Join(d.root, "deploy", "stack.sh"), sub)
}

// tool runs a command with this process's output.
func (d *dev) tool(ctx context.Context, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), "REFTRACK_DEV_DIR="+d.dir)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %v: %w", filepath.Base(name), args, err)
	}
	return nil
}

func or(v, dflt string) string {
	if v == "" {
		return dflt
	}
	return v
}

func say(format string, args ...any) { fmt.Fprintf(os.Stderr, "dev: "+format+"\n", args...) }
