package devstack

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// BrokerConfig is how to run the dev broker (deploy/cmd/devbroker).
type BrokerConfig struct {
	Bin         string // the devbroker binary
	LogPath     string
	Port        int
	TopicPrefix string
	DataDir     string // the log persisted there across restarts (empty: memory only)
	PprofAddr   string // its /debug/pprof/ (empty: none)
}

// args are the broker's flags.
func (c BrokerConfig) args() []string {
	a := []string{"--port", strconv.Itoa(c.Port), "--topic-prefix", c.TopicPrefix}
	if c.DataDir != "" {
		a = append(a, "--data-dir", c.DataDir)
	}
	if c.PprofAddr != "" {
		a = append(a, "--pprof-addr", c.PprofAddr)
	}
	return a
}

// Broker is a running dev broker process.
type Broker struct {
	Addr string
	cfg  BrokerConfig
	cmd  *exec.Cmd
}

// StartBroker starts the dev broker and waits until it answers.
func StartBroker(ctx context.Context, cfg BrokerConfig) (*Broker, error) {
	b := &Broker{Addr: "127.0.0.1:" + strconv.Itoa(cfg.Port), cfg: cfg}
	return b, b.Start(ctx)
}

// Start starts the broker process (again, after Stop: same port, same data
// dir) and waits until it answers.
func (b *Broker) Start(ctx context.Context) error {
	if err := os.MkdirAll(filepath.Dir(b.cfg.LogPath), 0o755); err != nil {
		return fmt.Errorf("start devbroker: %w", err)
	}
	logf, err := os.OpenFile(b.cfg.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("start devbroker: %w", err)
	}
	defer logf.Close() // the child holds its own descriptor
	b.cmd = exec.Command(b.cfg.Bin, b.cfg.args()...)
	b.cmd.Stdout, b.cmd.Stderr = logf, logf
	if err := b.cmd.Start(); err != nil {
		return fmt.Errorf("start devbroker: %w", err)
	}
	if err := waitBroker(ctx, b.Addr); err != nil {
		b.Stop(syscall.SIGKILL)
		return fmt.Errorf("devbroker on %s not answering (see %s): %w", b.Addr, b.cfg.LogPath, err)
	}
	return nil
}

// PID is the broker's process id, 0 when stopped.
func (b *Broker) PID() int {
	if b.cmd == nil || b.cmd.Process == nil {
		return 0
	}
	return b.cmd.Process.Pid
}

// Stop ends the broker with sig (SIGTERM: a clean shutdown, SIGKILL: a
// crash) and waits for it, killing it after 15 s.
func (b *Broker) Stop(sig syscall.Signal) {
	if b.cmd == nil {
		return
	}
	_ = b.cmd.Process.Signal(sig)
	done := make(chan struct{})
	go func() { _ = b.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = b.cmd.Process.Kill()
		<-done
	}
	b.cmd = nil
}

// waitBroker pings address for up to 30 s.
func waitBroker(ctx context.Context, address string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(address))
	if err != nil {
		return fmt.Errorf("kafka client for %s: %w", address, err)
	}
	defer cl.Close()
	var last error
	for range 150 {
		if last = cl.Ping(ctx); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return last
}
