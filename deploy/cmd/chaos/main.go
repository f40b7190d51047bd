// Command chaos runs the fault suite (`make chaos`, issue #14): every
// scenario of package chaos on a fresh stack of its own, one line each, and
// exits non-zero when a scenario fails or the negative control passes.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/reftrack/reftrack/deploy/chaos"
	"github.com/reftrack/reftrack/internal/cli"
	"github.com/reftrack/reftrack/internal/worker"
)

func main() { cli.Main("chaos", run) }

func run(ctx context.Context, args []string, getenv func(string) string) error {
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	root := fs.String("root", ".", "repository root")
	snapshot := fs.String("snapshot", "", "git revision to build the workers from (e.g. HEAD), leaving the working tree's edits out; empty: the working tree")
	only := fs.String("only", "", "comma-separated scenario names to run (empty: all)")
	events := fs.Int("events", 8000, "generated records per scenario")
	chunks := fs.Int("chunks", 20, "chunks the load is sent in")
	every := fs.Duration("every", 1500*time.Millisecond, "pause between chunks")
	drain := fs.Duration("drain", 4*time.Minute, "how long a scenario may take to drain and agree after its faults")
	portLo := fs.Int("port-lo", 24000, "first port of the stacks' listeners (keep below 32768, the ephemeral range)")
	portHi := fs.Int("port-hi", 29000, "end of that range (exclusive)")
	if err := worker.ParseFlags(fs, args[1:], getenv); err != nil {
		return err
	}
	if *events < 1000 || *events > 50_000 || *portHi > 32768 || *portLo >= *portHi {
		return errors.New("--events must be 1000..50000 and --port-lo < --port-hi ≤ 32768")
	}
	absRoot, err := filepath.Abs(*root)
	if err != nil {
		return err
	}
	if *snapshot != "" {
		// One commit for the build and the report, even if HEAD moves.
		out, err := exec.Command("git", "-C", absRoot, "rev-parse", "--short", *snapshot).Output()
		if err != nil {
			return fmt.Errorf("resolve --snapshot %s: %w", *snapshot, err)
		}
		*snapshot = strings.TrimSpace(string(out))
	}
	work := filepath.Join(absRoot, ".dev", "chaos", time.Now().Format("20060102-150405"))
	env, err := chaos.Prepare(ctx, absRoot, *snapshot, work, &chaos.Ports{Lo: *portLo, Hi: *portHi}, os.Stderr)
	if err != nil {
		return err
	}
	defer env.Close()
	load := chaos.Load{Events: *events, Chunks: *chunks, Every: *every, Drain: *drain}
	fmt.Printf("reftrack chaos suite, workers built from %s, %s, %d records per scenario\n", built(absRoot, *snapshot), time.Now().UTC().Format(time.RFC3339), *events)
	start := time.Now()
	var bad []string
	for _, sc := range chaos.Scenarios() {
		if *only != "" && !contains(*only, sc.Name) {
			continue
		}
		r := env.Run(ctx, sc, load)
		fmt.Println(r.Line())
		if !r.OK() {
			bad = append(bad, r.Name)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	fmt.Printf("suite: %s in %.0fs (work dir %s)\n", verdict(bad), time.Since(start).Seconds(), work)
	if len(bad) > 0 {
		return fmt.Errorf("not as expected: %s", strings.Join(bad, ", "))
	}
	return nil
}

func verdict(bad []string) string {
	if len(bad) == 0 {
		return "PASS"
	}
	return "FAIL (" + strings.Join(bad, ", ") + ")"
}

func contains(list, name string) bool {
	for _, x := range strings.Split(list, ",") {
		if strings.EqualFold(strings.TrimSpace(x), name) {
			return true
		}
	}
	return false
}

// built says what the workers were built from: a commit, or the working
// tree on top of one.
func built(root, snapshot string) string {
	rev := snapshot
	if rev == "" {
		rev = "HEAD"
	}
	out, err := exec.Command("git", "-C", root, "rev-parse", "--short", rev).Output()
	if err != nil {
		return "unknown"
	}
	c := "commit " + strings.TrimSpace(string(out))
	if snapshot != "" {
		return c
	}
	if st, err := exec.Command("git", "-C", root, "status", "--porcelain").Output(); err == nil && len(st) > 0 {
		c = "the working tree (uncommitted changes) on " + c
	}
	return c
}
