package commission

import (
	"context"
	"log/slog"
	"os"
	"time"
)

// Watch re-reads the rule file every interval and swaps in a new rule set
// when the file changed and compiles; a file that does not compile is
// refused with its errors logged, and the running rule set stays.
func (c *Calculator) Watch(ctx context.Context, path string, interval time.Duration, log *slog.Logger) {
	refusedHash := ""
	pollFile(ctx, path, interval, log, "rules", func(b []byte) {
		rs, err := ParseRules(b)
		cur := c.Rules.Load()
		switch {
		case err == nil && rs.Hash == cur.Hash:
		case err != nil:
			if rs != nil && rs.Hash == refusedHash {
				return
			}
			if rs != nil {
				refusedHash = rs.Hash
			}
			c.Metrics.reloads.WithLabelValues("refused").Inc()
			log.Error("new rules refused, keeping the running rule set", "path", path, "running", cur.Version, "err", err)
		default:
			c.Use(rs)
			c.Metrics.reloads.WithLabelValues("ok").Inc()
			log.Info("rules reloaded", "version", rs.Version, "previous", cur.Version, "rules", len(rs.Rules))
		}
	})
}

// pollFile hands the bytes of the file at path to handle every interval
// until ctx ends; an unreadable file is logged and skipped, so what runs
// stays. Polling rather than inotify, because Kubernetes ConfigMaps change
// by symlink swap, which inotify watches lose.
func pollFile(ctx context.Context, path string, interval time.Duration, log *slog.Logger, name string, handle func([]byte)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		b, err := os.ReadFile(path)
		if err != nil {
			log.Warn("file unreadable, keeping the running one", "file", name, "path", path, "err", err)
			continue
		}
		handle(b)
	}
}

// Use makes rs the rule set in force.
func (c *Calculator) Use(rs *RuleSet) {
	if old := c.Rules.Swap(rs); old != nil {
		c.Metrics.ruleSetInfo.DeleteLabelValues(old.Version)
	}
	c.Metrics.ruleSetInfo.WithLabelValues(rs.Version).Set(1)
}
