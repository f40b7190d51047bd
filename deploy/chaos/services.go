package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrack/reftrack/deploy/devstack"
	"github.com/reftrack/reftrack/schemas"
)

// Broker is a scenario's Kafka: the dev broker as a process of its own
// (bin/devbroker, started by package devstack as for `make run`), which can
// be stopped and started again on its data dir, or kfake in this process
// when a scenario needs its control hooks to time a fault against the
// protocol (R2).
type Broker struct {
	Addr    string
	proc    *devstack.Broker
	Cluster *kfake.Cluster // in-process only
}

// StartBrokerProcess runs bin/devbroker on port with the scenario's topics;
// dataDir "" keeps the log in memory.
func StartBrokerProcess(ctx context.Context, bin string, port int, prefix, dataDir, logPath string) (*Broker, error) {
	p, err := devstack.StartBroker(ctx, devstack.BrokerConfig{Bin: bin, Port: port, TopicPrefix: prefix, DataDir: dataDir, LogPath: logPath})
	return &Broker{Addr: p.Addr, proc: p}, err
}

// StartBrokerInProcess runs kfake here, with the topics the dev broker
// would create.
func StartBrokerInProcess(ctx context.Context, port int, prefix string) (*Broker, error) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port),
		kfake.SeedTopics(4, schemas.AllTopics(prefix)...), kfake.DefaultNumPartitions(4), kfake.AllowAutoTopicCreation())
	if err != nil {
		return nil, fmt.Errorf("start in-process kfake on %d: %w", port, err)
	}
	b := &Broker{Addr: c.ListenAddrs()[0], Cluster: c}
	return b, waitBroker(ctx, b.Addr)
}

// Start starts the broker process (again, after Stop: same port, same data
// dir) and waits until it answers.
func (b *Broker) Start(ctx context.Context) error {
	if b.Cluster != nil {
		return errors.New("an in-process broker cannot be restarted")
	}
	return b.proc.Start(ctx)
}

// Stop ends the broker process with sig (SIGTERM: a clean shutdown,
// SIGKILL: a crash) and waits for it.
func (b *Broker) Stop(sig syscall.Signal) {
	if b.Cluster != nil {
		b.Cluster.Close()
		return
	}
	b.proc.Stop(sig)
}

func waitBroker(ctx context.Context, address string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(address))
	if err != nil {
		return err
	}
	defer cl.Close()
	var last error
	for range 150 {
		if last = cl.Ping(ctx); last == nil {
			return nil
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
	return fmt.Errorf("broker %s does not answer: %w", address, last)
}

// Redis is a redis-server of the scenario's own, without persistence, so
// restarting it empties it: what a Redis that loses its memory looks like.
type Redis struct {
	Addr    string
	port    int
	dir     string
	logPath string
	cmd     *exec.Cmd
}

// StartRedis runs redis-server on port with its files under dir.
func StartRedis(ctx context.Context, port int, dir string) (*Redis, error) {
	r := &Redis{Addr: addr(port), port: port, dir: dir, logPath: filepath.Join(dir, "redis.log")}
	return r, r.Start(ctx)
}

// Start starts the server and waits for PONG.
func (r *Redis) Start(ctx context.Context) error {
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		return fmt.Errorf("create redis dir: %w", err)
	}
	r.cmd = exec.Command("redis-server", "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", r.dir, "--logfile", r.logPath)
	if err := r.cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	cl := redis.NewClient(&redis.Options{Addr: r.Addr})
	defer cl.Close()
	for range 100 {
		if cl.Ping(ctx).Err() == nil {
			return nil
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
	return fmt.Errorf("redis on %s does not answer (see %s)", r.Addr, r.logPath)
}

// Stop kills the server; with no persistence, everything it held is gone.
func (r *Redis) Stop() {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.cmd = nil
}

// Proxy forwards a loopback port to a target. Down closes the listener and
// every connection through it, so that for the clients behind it the
// target went away (a restart, a network cut); Up listens again on the same
// port.
type Proxy struct {
	Addr   string
	target string
	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]bool
}

// StartProxy listens on port and forwards to target.
func StartProxy(port int, target string) (*Proxy, error) {
	p := &Proxy{Addr: addr(port), target: target, conns: map[net.Conn]bool{}}
	return p, p.Up()
}

// Up starts accepting again.
func (p *Proxy) Up() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", p.Addr)
	if err != nil {
		return fmt.Errorf("proxy listen on %s: %w", p.Addr, err)
	}
	p.ln = ln
	go p.accept(ln)
	return nil
}

// Down refuses new connections and cuts the open ones.
func (p *Proxy) Down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

func (p *Proxy) accept(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go p.pipe(c)
	}
}

func (p *Proxy) pipe(c net.Conn) {
	up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		c.Close()
		return
	}
	if !p.track(c, up) {
		c.Close()
		up.Close()
		return
	}
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) { _, _ = io.Copy(dst, src); done <- struct{}{} }
	go cp(up, c)
	go cp(c, up)
	<-done
	c.Close()
	up.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, up)
	p.mu.Unlock()
}

// track registers a connection pair unless the proxy went down meanwhile.
func (p *Proxy) track(c, up net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		return false
	}
	p.conns[c], p.conns[up] = true, true
	return true
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
