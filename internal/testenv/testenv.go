// Package testenv gives integration tests the real services they need:
// an in-process kfake Kafka broker, and the Redis and ClickHouse of the dev
// stack (started through deploy/stack.sh when not already running). Tests
// never mock these.
package testenv

import (
	"github.com/reftrack/reftrack/internal/devports"

	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// RepoRoot is the folder holding go.work.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("testenv: no go.work above the test's folder")
		}
		dir = parent
	}
}

var stackMu sync.Mutex

// Stack runs deploy/stack.sh with one subcommand (e.g. "up-redis"). Calls are
// serialized inside a test binary; the script itself is idempotent.
func Stack(t testing.TB, sub string) {
	t.Helper()
	stackMu.Lock()
	defer stackMu.Unlock()
	cmd := exec.Command("bash", filepath.Join(RepoRoot(t), "deploy", "stack.sh"), sub)
	// Daemons started by the script may inherit a descriptor of the output
	// pipe; without a WaitDelay, CombinedOutput waits for them to exit.
	cmd.WaitDelay = 2 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil && !errors.Is(err, exec.ErrWaitDelay) {
		t.Fatalf("deploy/stack.sh %s: %v\n%s", sub, err, out)
	}
}

// RedisAddr is the dev-stack Redis, or REFTRACK_TEST_REDIS.
func RedisAddr() string {
	if a := os.Getenv("REFTRACK_TEST_REDIS"); a != "" {
		return a
	}
	return devports.Loopback(devports.Redis)
}

// Redis returns a client of the real Redis, starting the dev stack's server
// when none answers, and a key prefix unique to this test so tests can run
// in parallel on one server without flushing it.
func Redis(t testing.TB) (*redis.Client, string) {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: RedisAddr()})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if rdb.Ping(ctx).Err() != nil {
		Stack(t, "up-redis")
		if err := rdb.Ping(context.Background()).Err(); err != nil {
			t.Fatalf("redis at %s after starting it: %v", RedisAddr(), err)
		}
	}
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb, "test:" + RandomID() + ":"
}

// ClickHouseDSN is the dev-stack ClickHouse (database left empty), or
// REFTRACK_TEST_CLICKHOUSE.
func ClickHouseDSN() string {
	if d := os.Getenv("REFTRACK_TEST_CLICKHOUSE"); d != "" {
		return d
	}
	return "clickhouse://" + devports.Loopback(devports.ClickHouseTCP) + "/default"
}

// Kafka starts an in-process kfake cluster with the given topics (each with
// partitions partitions) and returns its seed addresses.
func Kafka(t testing.TB, partitions int32, topics ...string) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, topics...))
	if err != nil {
		t.Fatalf("start kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

// RandomID is a short random hex string for test-unique names.
func RandomID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ReadExactly polls cl until it has read want records (or 30 s passed),
// then keeps reading briefly so that records beyond want, duplicates
// included, would be seen too, and fails the test unless it read exactly
// want.
func ReadExactly(t testing.TB, cl *kgo.Client, what string, want int) []*kgo.Record {
	t.Helper()
	var got []*kgo.Record
	deadline := time.Now().Add(30 * time.Second)
	for len(got) < want && time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		got = append(got, cl.PollFetches(ctx).Records()...)
		cancel()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	got = append(got, cl.PollFetches(ctx).Records()...)
	cancel()
	if len(got) != want {
		t.Fatalf("%s: got %d records, want %d", what, len(got), want)
	}
	return got
}
