package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrack/reftrack/deploy/devstack"
	"github.com/reftrack/reftrack/deploy/sample"
	"github.com/reftrack/reftrack/internal/devports"
	"github.com/reftrack/reftrack/schemas"
)

// Env is what every scenario shares: the binaries built once from the
// working tree, the dev stack's ClickHouse (each scenario gets a database of
// its own), a port range and a scratch folder.
type Env struct {
	Root      string
	Bin       string
	Work      string
	Ports     *Ports
	CHAddr    string // dev-stack ClickHouse, native protocol
	RulesPath string
	Rules     *sample.Rules
	Progress  io.Writer
	admin     driver.Conn
}

// Prepare starts the dev stack's Redis and ClickHouse (deploy/stack.sh up),
// builds the six workers and the dev broker into work/bin, and connects to
// ClickHouse.
//
// With snapshot set (a git revision), the workers are built from that
// commit's tree (git archive, which leaves the repository as it is) instead
// of the working tree: a run then stands for that commit, whatever else is
// being edited.
func Prepare(ctx context.Context, root, snapshot, work string, ports *Ports, progress io.Writer) (*Env, error) {
	e := &Env{Root: root, Bin: filepath.Join(work, "bin"), Work: work, Ports: ports, Progress: progress,
		CHAddr: devports.Loopback(devports.ClickHouseTCP)}
	src := root
	if snapshot != "" {
		src = filepath.Join(work, "src")
		if err := extract(ctx, root, snapshot, src); err != nil {
			return nil, err
		}
	}
	e.RulesPath = filepath.Join(src, "deploy", "dev", "rules.json")
	up := exec.CommandContext(ctx, filepath.Join(root, "deploy", "stack.sh"), "up")
	// Daemons the script starts may inherit the output pipe; without a
	// WaitDelay, Wait would block until they exit.
	up.WaitDelay = 2 * time.Second
	if out, err := up.CombinedOutput(); err != nil && !errors.Is(err, exec.ErrWaitDelay) {
		return nil, fmt.Errorf("deploy/stack.sh up: %w\n%s", err, out)
	}
	e.progress("building the workers and the dev broker")
	if err := devstack.Build(ctx, src, e.Bin); err != nil {
		return nil, err
	}
	b := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(e.Bin, "devbroker"), "./cmd/devbroker")
	b.Dir = filepath.Join(src, "deploy")
	if out, err := b.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build devbroker: %w\n%s", err, out)
	}
	var err error
	if e.Rules, err = sample.LoadRules(e.RulesPath); err != nil {
		return nil, err
	}
	if e.admin, err = clickhouse.Open(&clickhouse.Options{Addr: []string{e.CHAddr}}); err != nil {
		return nil, fmt.Errorf("open clickhouse %s: %w", e.CHAddr, err)
	}
	return e, e.admin.Ping(ctx)
}

// extract writes the tree of revision rev into dir.
func extract(ctx context.Context, root, rev, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	archive := exec.CommandContext(ctx, "git", "-C", root, "archive", "--format=tar", rev)
	untar := exec.CommandContext(ctx, "tar", "-x", "-C", dir)
	pipe, err := archive.StdoutPipe()
	if err != nil {
		return err
	}
	untar.Stdin = pipe
	if err := archive.Start(); err != nil {
		return fmt.Errorf("git archive %s: %w", rev, err)
	}
	if out, err := untar.CombinedOutput(); err != nil {
		_ = archive.Wait()
		return fmt.Errorf("extract %s: %w\n%s", rev, err, out)
	}
	if err := archive.Wait(); err != nil {
		return fmt.Errorf("git archive %s: %w", rev, err)
	}
	return nil
}

// Close releases the ClickHouse connection.
func (e *Env) Close() {
	if e.admin != nil {
		_ = e.admin.Close()
	}
}

func (e *Env) progress(format string, args ...any) {
	if e.Progress != nil {
		fmt.Fprintf(e.Progress, "chaos: "+format+"\n", args...)
	}
}

// StackOptions choose a scenario's broker.
type StackOptions struct {
	InProcessBroker bool // kfake here, for control hooks (R2)
	BrokerDataDir   bool // the dev broker persists its log, to survive a restart (R4)
}

// Stack is one scenario's fresh pipeline. Every method that touches the
// workers is safe for concurrent use: faults, the supervisor and the
// judge run side by side.
type Stack struct {
	Name     string
	Prefix   string // of topics, and of consumer groups through devstack
	Dir      string // logs and data
	Broker   *Broker
	Redis    *Redis
	Proxy    *Proxy // the workers' ClickHouse goes through it
	DB       string
	Conn     driver.Conn // direct, never through Proxy
	Client   *kgo.Client // the partners' producer
	Restarts atomic.Int64

	env      *Env
	mu       sync.Mutex
	workers  *devstack.Stack
	ignore   map[string]bool // names the supervisor leaves alone
	stopSup  chan struct{}
	supDone  chan struct{}
	authz    string
	closeFns []func()
}

// NewStack starts a scenario's broker, Redis, ClickHouse database, proxy and
// workers, and a supervisor that restarts any worker that exits, as dev.sh
// and an orchestrator do.
func (e *Env) NewStack(ctx context.Context, name string, o StackOptions) (_ *Stack, err error) {
	s := &Stack{Name: name, env: e, Prefix: "chaos" + safe(name) + ".", DB: "chaos_" + safe(name) + "_" + time.Now().Format("150405"),
		Dir: filepath.Join(e.Work, name), ignore: map[string]bool{}}
	defer func() {
		if err != nil {
			s.Close(true)
		}
	}()
	if err := os.MkdirAll(filepath.Join(s.Dir, "logs"), 0o755); err != nil {
		return nil, err
	}
	if err := s.startBroker(ctx, o); err != nil {
		return nil, err
	}
	if err := s.startRedis(ctx); err != nil {
		return nil, err
	}
	if err := s.startClickHouse(ctx); err != nil {
		return nil, err
	}
	if s.authz, err = devstack.AdminToken(); err != nil {
		return nil, err
	}
	if s.Client, err = kgo.NewClient(kgo.SeedBrokers(s.Broker.Addr), kgo.ProducerBatchMaxBytes(16<<20)); err != nil {
		return nil, err
	}
	s.closeFns = append(s.closeFns, s.Client.Close)
	s.workers, err = devstack.Start(ctx, devstack.Config{
		BinDir: e.Bin, LogDir: filepath.Join(s.Dir, "logs"), Brokers: s.Broker.Addr, Redis: s.Redis.Addr,
		RedisPrefix: "chaos:", ClickHouse: "clickhouse://" + s.Proxy.Addr + "/" + s.DB, TopicPrefix: s.Prefix,
		Rules: e.RulesPath, Port: e.Ports.Next,
		Extra: []string{"REFTRACK_BATCH_MAX=500"},
	})
	if err != nil {
		return nil, err
	}
	s.stopSup, s.supDone = make(chan struct{}), make(chan struct{})
	go s.supervise()
	return s, nil
}

func (s *Stack) startBroker(ctx context.Context, o StackOptions) error {
	port, err := s.env.Ports.Next()
	if err != nil {
		return err
	}
	if o.InProcessBroker {
		s.Broker, err = StartBrokerInProcess(ctx, port, s.Prefix)
	} else {
		dataDir := ""
		if o.BrokerDataDir {
			dataDir = filepath.Join(s.Dir, "broker-data")
		}
		s.Broker, err = StartBrokerProcess(ctx, filepath.Join(s.env.Bin, "devbroker"), port, s.Prefix, dataDir, filepath.Join(s.Dir, "logs", "devbroker.log"))
	}
	if s.Broker != nil {
		b := s.Broker
		s.closeFns = append(s.closeFns, func() { b.Stop(syscall.SIGTERM) })
	}
	return err
}

func (s *Stack) startRedis(ctx context.Context) error {
	port, err := s.env.Ports.Next()
	if err != nil {
		return err
	}
	s.Redis, err = StartRedis(ctx, port, filepath.Join(s.Dir, "redis"))
	if s.Redis != nil {
		r := s.Redis
		s.closeFns = append(s.closeFns, r.Stop)
	}
	return err
}

func (s *Stack) startClickHouse(ctx context.Context) error {
	if err := s.env.admin.Exec(ctx, "CREATE DATABASE "+s.DB); err != nil {
		return fmt.Errorf("create database %s: %w", s.DB, err)
	}
	var err error
	if s.Conn, err = clickhouse.Open(&clickhouse.Options{Addr: []string{s.env.CHAddr}, Auth: clickhouse.Auth{Database: s.DB}}); err != nil {
		return err
	}
	s.closeFns = append(s.closeFns, func() { _ = s.Conn.Close() })
	port, err := s.env.Ports.Next()
	if err != nil {
		return err
	}
	if s.Proxy, err = StartProxy(port, s.env.CHAddr); err != nil {
		return err
	}
	s.closeFns = append(s.closeFns, s.Proxy.Down)
	return nil
}

// Close stops everything the stack started; the database is dropped unless
// keep (a failed scenario's rows are evidence).
func (s *Stack) Close(keep bool) {
	if s.stopSup != nil {
		close(s.stopSup)
		<-s.supDone
	}
	s.mu.Lock()
	if s.workers != nil {
		s.workers.Stop()
	}
	s.mu.Unlock()
	for i := len(s.closeFns) - 1; i >= 0; i-- {
		s.closeFns[i]()
	}
	if !keep {
		_ = s.env.admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+s.DB)
		_ = os.RemoveAll(filepath.Join(s.Dir, "broker-data"))
	}
}

// supervise restarts every worker that exited on its own or was killed
// from outside (a control hook), except those set aside with Unsupervise.
func (s *Stack) supervise() {
	defer close(s.supDone)
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-s.stopSup:
			return
		case <-t.C:
		}
		s.mu.Lock()
		for _, n := range s.workers.Names() {
			if !s.ignore[n] && exited(s.workers.PID(n)) {
				if err := s.workers.Restart(n, true); err == nil {
					s.Restarts.Add(1)
				}
			}
		}
		s.mu.Unlock()
	}
}

// exited tells a dead process (gone, or a zombie nobody reaped yet) from a
// live or stopped one.
func exited(pid int) bool { return devstack.Exited(pid) }

// Kill SIGKILLs a worker and starts it again at once, as a crash and a
// reschedule would.
func (s *Stack) Kill(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Restarts.Add(1)
	return s.workers.Restart(name, true)
}

// StartReplica starts one more worker of stage with its own --instance.
func (s *Stack) StartReplica(stage, instance string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.workers.StartReplica(stage, instance)
}

// StopWorker stops a worker for good (SIGTERM, or SIGKILL when kill).
func (s *Stack) StopWorker(name string, kill bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.workers.StopWorker(name, kill)
}

// Signal sends sig to a worker (SIGSTOP, SIGCONT).
func (s *Stack) Signal(name string, sig syscall.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.workers.Signal(name, sig)
}

// Unsupervise makes the supervisor leave name alone from now on: a zombie
// is not to be resurrected, it is to be fenced.
func (s *Stack) Unsupervise(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ignore[name] = true
}

// PID is a worker's process id, 0 when it is not running.
func (s *Stack) PID(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.workers.PID(name)
}

// Workers lists the running workers' names and /metrics URLs.
func (s *Stack) Workers() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]string{}
	for _, n := range s.workers.Names() {
		out[n] = s.workers.MetricsURL(n)
	}
	return out
}

// Group is a stage's consumer group, as devstack names it.
func (s *Stack) Group(stage string) string { return "reftrack-" + s.Prefix + stage }

// LogPath is where a worker writes its log.
func (s *Stack) LogPath(name string) string {
	return filepath.Join(s.Dir, "logs", strings.ReplaceAll(name, "#", "-")+".log")
}

// Send delivers records as partners would: Kafka records through the
// producer (which retries on its own, a broker restart included), HTTP
// records through ingest's API, retried until accepted. A retried post may
// have been accepted before its connection broke: the copy is a duplicate
// dedupe must drop, as it must for any partner's retry.
func (s *Stack) Send(ctx context.Context, recs []sample.Record) error {
	var viaKafka, viaHTTP []sample.Record
	for _, r := range recs {
		if r.HTTP {
			viaHTTP = append(viaHTTP, r)
		} else {
			viaKafka = append(viaKafka, r)
		}
	}
	topic := s.Prefix + schemas.TopicInbound
	if len(viaKafka) > 0 {
		if err := sample.Send(ctx, &sample.Dataset{Records: viaKafka}, s.Client, topic, "", ""); err != nil {
			return err
		}
	}
	if len(viaHTTP) == 0 {
		return nil
	}
	var last error
	for attempt := 0; ; attempt++ {
		s.mu.Lock()
		url := s.workers.IngestURL
		s.mu.Unlock()
		if last = sample.Send(ctx, &sample.Dataset{Records: viaHTTP}, s.Client, topic, url, s.authz); last == nil {
			return nil
		}
		if ctx.Err() != nil || refused.MatchString(last.Error()) {
			return fmt.Errorf("send %d records over HTTP: %w", len(viaHTTP), last)
		}
		if err := sleep(ctx, time.Duration(min(attempt+1, 10))*200*time.Millisecond); err != nil {
			return fmt.Errorf("send %d records over HTTP: %w", len(viaHTTP), last)
		}
	}
}

// refused matches what sample.Send reports of a 4xx answer other than 429:
// the request itself is wrong, and sending it again cannot help.
var refused = regexp.MustCompile(`post events: 4(0\d|1\d|2[0-8]|[3-9]\d) `)

// Pace sends recs in chunks, one every every, so that faults meet traffic
// in flight rather than a pipeline that is already drained.
func (s *Stack) Pace(ctx context.Context, recs []sample.Record, chunks int, every time.Duration) error {
	size := max((len(recs)+chunks-1)/chunks, 1)
	for i := 0; i < len(recs); i += size {
		if err := s.Send(ctx, recs[i:min(i+size, len(recs))]); err != nil {
			return err
		}
		if err := sleep(ctx, every); err != nil {
			return err
		}
	}
	return nil
}

func safe(name string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return -1
	}, name)
}
