// Package devstack is the one launcher of the pipeline's processes: it
// builds the six worker binaries and runs them as separate processes
// against given Kafka, Redis and ClickHouse addresses (the same shape as
// production), starts the dev broker, and supervises the workers. The dev
// stack (deploy/dev.sh → cmd/devstack), the end-to-end test, the benchmark
// and the chaos suite all start workers through it, so a worker's flags
// and ports are set here and nowhere else.
package devstack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/reftrack/reftrack/ingest/auth"
	"github.com/reftrack/reftrack/internal/pii"
)

// Stages in pipeline order; each is a binary built from <stage>/cmd/<stage>.
var Stages = []string{"ingest", "validate", "dedupe", "attribute", "commission", "sink"}

// Build compiles every stage binary into binDir.
func Build(ctx context.Context, repoRoot, binDir string) error {
	for _, s := range Stages {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(binDir, s), "./cmd/"+s)
		cmd.Dir = filepath.Join(repoRoot, s)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("build %s: %w\n%s", s, err, out)
		}
	}
	return nil
}

// Development token settings: ingest accepts HS256 tokens signed with this
// secret. Never use them outside a dev stack or a test.
const (
	DevJWTIssuer = "reftrack-dev"
	DevJWTSecret = "reftrack-dev-only-secret-0123456789abcdef"
)

// AdminToken is an Authorization header for the dev stack's ingest.
func AdminToken() (string, error) {
	s, err := auth.Sign([]byte(DevJWTSecret), DevJWTIssuer, "reftrack-ingest", auth.Claims{Role: auth.RoleAdmin}, 24*time.Hour)
	return "Bearer " + s, err
}

// Config is where the workers connect.
type Config struct {
	BinDir      string
	LogDir      string
	Brokers     string
	Redis       string
	RedisPrefix string
	ClickHouse  string // DSN with the database
	TopicPrefix string
	Rules       string
	// Licences and FXRates, when set, are commission's licence registry
	// and FX rates (--licences, --fx-rates; issue #18).
	Licences string
	FXRates  string
	Extra    []string // more KEY=VALUE for every worker
	// PIIKeyring, when set, runs ingest with --pii-mode seal (PRIVACY.md):
	// the keyring file there is created (one KEK, mode 0600, as `reftrack
	// pii add-kek` makes it) unless it exists, and the key store is
	// database PIIRedisDB of the same Redis, under RedisPrefix. A database
	// of its own: losing the stages' keys must never touch the data keys.
	PIIKeyring string
	PIIRedisDB int
	// Port, when set, hands out the ports the workers listen on instead of
	// the kernel's ephemeral range (where a listener can collide with an
	// outbound socket's port): the chaos suite keeps its stacks below 32768.
	Port func() (int, error)
	// APIPort and OpsBase, when set, fix the ports as the dev stack's
	// ports.env does: ingest's API on APIPort, stage i (1-based, pipeline
	// order) with its ops server on OpsBase+i. Fixed ports survive a
	// restart, so a supervised worker comes back where it was.
	APIPort int
	OpsBase int
}

// referenceEnv is commission's reference data besides the rules.
func (c Config) referenceEnv() []string {
	var env []string
	if c.Licences != "" {
		env = append(env, "REFTRACK_LICENCES="+c.Licences)
	}
	if c.FXRates != "" {
		env = append(env, "REFTRACK_FX_RATES="+c.FXRates)
	}
	return env
}

// Stack is the running workers.
type Stack struct {
	cfg       Config
	procs     map[string]*exec.Cmd
	opsPorts  map[string]int
	ports     map[int]bool        // handed out by freePort
	replicas  map[string][]string // extra env of each replica, by name
	IngestURL string
}

// Start launches the workers and waits until each answers /readyz.
func Start(ctx context.Context, cfg Config) (*Stack, error) {
	s := &Stack{cfg: cfg, procs: map[string]*exec.Cmd{}, opsPorts: map[string]int{}, ports: map[int]bool{}, replicas: map[string][]string{}}
	if err := EnsureKeyring(cfg.PIIKeyring); err != nil {
		return nil, err
	}
	apiPort := cfg.APIPort
	if apiPort == 0 {
		var err error
		if apiPort, err = s.freePort(); err != nil {
			return nil, err
		}
	}
	s.IngestURL = "http://127.0.0.1:" + strconv.Itoa(apiPort)
	for _, st := range Stages {
		if err := s.start(st, apiPort); err != nil {
			s.Stop()
			return nil, err
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for _, st := range Stages {
		if err := waitReady(ctx, s.opsPorts[st], deadline); err != nil {
			s.Stop()
			return nil, fmt.Errorf("%s not ready (see %s): %w", st, filepath.Join(cfg.LogDir, st+".log"), err)
		}
	}
	return s, nil
}

// Restart stops one worker and starts it again, as a crash and reschedule would.
func (s *Stack) Restart(stage string, kill bool) error {
	if p := s.procs[stage]; p != nil {
		sig := syscall.SIGTERM
		if kill {
			sig = syscall.SIGKILL
		}
		_ = p.Process.Signal(sig)
		_ = p.Wait()
	}
	if extra, ok := s.replicas[stage]; ok {
		return s.startNamed(stage, stageOf(stage), 0, extra)
	}
	return s.start(stage, 0)
}

// StartReplica starts one more worker of stage with its own --instance (so
// its own transactional ID and, for ingest, its own API port), as scaling a
// deployment out would. It is named stage#instance for Restart, Signal,
// StopWorker, PID and MetricsURL.
func (s *Stack) StartReplica(stage, instance string) (string, error) {
	name := stage + "#" + instance
	if s.procs[name] != nil {
		return "", fmt.Errorf("start replica %s: already running", name)
	}
	extra := []string{"REFTRACK_INSTANCE=" + instance}
	if stage == "ingest" {
		api, err := s.freePort()
		if err != nil {
			return "", err
		}
		extra = append(extra, "REFTRACK_LISTEN=127.0.0.1:"+strconv.Itoa(api))
	}
	s.replicas[name] = extra
	return name, s.startNamed(name, stage, 0, extra)
}

// StopWorker stops one worker (SIGTERM, or SIGKILL when kill) and waits for
// it; unlike Restart, nothing takes its place.
func (s *Stack) StopWorker(name string, kill bool) {
	p := s.procs[name]
	if p == nil {
		return
	}
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	_ = p.Process.Signal(sig)
	_ = p.Wait()
	delete(s.procs, name)
	delete(s.replicas, name)
}

// Signal sends sig to one worker without waiting: SIGSTOP and SIGCONT make
// a zombie of it and wake it again.
func (s *Stack) Signal(name string, sig syscall.Signal) error {
	p := s.procs[name]
	if p == nil || p.Process == nil {
		return fmt.Errorf("signal %s: no such worker", name)
	}
	return p.Process.Signal(sig)
}

// Names lists the workers started and not stopped, replicas included.
func (s *Stack) Names() []string {
	out := make([]string, 0, len(s.procs))
	for n := range s.procs {
		out = append(out, n)
	}
	return out
}

// stageOf is the stage of a worker name (a stage or stage#instance).
func stageOf(name string) string {
	if i := strings.IndexByte(name, '#'); i >= 0 {
		return name[:i]
	}
	return name
}

func (s *Stack) start(st string, apiPort int) error {
	return s.startNamed(st, st, apiPort, nil)
}

func (s *Stack) startNamed(name, st string, apiPort int, extra []string) error {
	port, err := s.opsPort(name)
	if err != nil {
		return err
	}
	s.opsPorts[name] = port
	if err := os.MkdirAll(s.cfg.LogDir, 0o755); err != nil {
		return err
	}
	logf, err := os.OpenFile(s.logPath(name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(s.cfg.BinDir, st))
	cmd.Stdout, cmd.Stderr = logf, logf
	// The Go runtime settings a deployment gives each worker (README,
	// "memory"): a soft limit under the 200 MB each may use, and GC
	// pacing that spends the headroom below it on fewer collections. The
	// caller's environment overrides both.
	cmd.Env = append([]string{"GOMEMLIMIT=150MiB", "GOGC=200"}, os.Environ()...)
	cmd.Env = append(cmd.Env,
		"REFTRACK_BROKERS="+s.cfg.Brokers,
		"REFTRACK_TOPIC_PREFIX="+s.cfg.TopicPrefix,
		"REFTRACK_GROUP=reftrack-"+s.cfg.TopicPrefix+st,
		"REFTRACK_OPS_ADDR=127.0.0.1:"+strconv.Itoa(port),
		"REFTRACK_REDIS="+s.cfg.Redis,
		"REFTRACK_REDIS_KEY_PREFIX="+s.cfg.RedisPrefix,
		"REFTRACK_CLICKHOUSE="+s.cfg.ClickHouse,
		"REFTRACK_RULES="+s.cfg.Rules,
		"REFTRACK_SHUTDOWN_TIMEOUT=5s",
		"REFTRACK_JWT_ISSUER="+DevJWTIssuer,
		"REFTRACK_JWT_HS256_SECRET="+DevJWTSecret,
		"REFTRACK_RATE_LIMIT=0",
	)
	if st == "ingest" {
		cmd.Env = append(cmd.Env, s.cfg.piiEnv()...)
	}
	if st == "commission" {
		cmd.Env = append(cmd.Env, s.cfg.referenceEnv()...)
	}
	if apiPort != 0 && st == "ingest" {
		cmd.Env = append(cmd.Env, "REFTRACK_LISTEN=127.0.0.1:"+strconv.Itoa(apiPort))
	} else if st == "ingest" {
		cmd.Env = append(cmd.Env, "REFTRACK_LISTEN="+s.IngestURL[len("http://"):])
	}
	cmd.Env = append(cmd.Env, s.cfg.Extra...)
	cmd.Env = append(cmd.Env, extra...) // a replica's own instance and API port win
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", name, err)
	}
	logf.Close() // the child holds its own descriptor
	s.procs[name] = cmd
	return nil
}

// EnsureKeyring creates a dev keyring file (one random KEK, current,
// mode 0600) at path unless one is there; nothing for an empty path.
func EnsureKeyring(path string) error {
	if path == "" {
		return nil
	}
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	b, err := pii.NewKeyringFile("dev")
	if err != nil {
		return fmt.Errorf("dev keyring: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("dev keyring: %w", err)
	}
	return pii.WriteKeyringFile(path, b)
}

// piiEnv is ingest's sealing configuration; none without a keyring.
func (c Config) piiEnv() []string {
	if c.PIIKeyring == "" {
		return nil
	}
	return []string{
		"REFTRACK_PII_MODE=seal",
		"REFTRACK_PII_KEYRING=" + c.PIIKeyring,
		"REFTRACK_PII_REDIS=" + c.Redis,
		"REFTRACK_PII_REDIS_DB=" + strconv.Itoa(c.PIIRedisDB),
		"REFTRACK_PII_REDIS_KEY_PREFIX=" + c.RedisPrefix,
	}
}

// PID is the process id of a running stage.
func (s *Stack) PID(stage string) int {
	if p := s.procs[stage]; p != nil && p.Process != nil {
		return p.Process.Pid
	}
	return 0
}

// MetricsURL is a stage's /metrics.
func (s *Stack) MetricsURL(stage string) string {
	return "http://127.0.0.1:" + strconv.Itoa(s.opsPorts[stage]) + "/metrics"
}

// Stop sends SIGTERM to every worker and waits for them, killing any that
// takes longer than 15 s.
func (s *Stack) Stop() {
	for _, p := range s.procs {
		_ = p.Process.Signal(syscall.SIGTERM)
	}
	for st, p := range s.procs {
		done := make(chan struct{})
		go func() { _ = p.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = p.Process.Kill()
			<-done
		}
		delete(s.procs, st)
	}
}

func waitReady(ctx context.Context, port int, deadline time.Time) error {
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/readyz"
	var last error = errors.New("no answer")
	for time.Now().Before(deadline) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = errors.New(resp.Status)
		} else {
			last = err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return last
}

// logPath is the file worker name logs to.
func (s *Stack) logPath(name string) string {
	return filepath.Join(s.cfg.LogDir, strings.ReplaceAll(name, "#", "-")+".log")
}

// opsPort is where worker name serves /metrics and /readyz: OpsBase+i for
// stage i when the ports are fixed (replicas, named stage#instance, take
// free ones), else a free port.
func (s *Stack) opsPort(name string) (int, error) {
	if s.cfg.OpsBase != 0 {
		for i, st := range Stages {
			if st == name {
				return s.cfg.OpsBase + i + 1, nil
			}
		}
	}
	return s.freePort()
}

// freePort asks the kernel for a free port. The listener is closed before
// the worker binds, so the kernel may offer the same port again: ports this
// stack handed out are skipped, or two listeners of one worker (ingest's
// API and ops ports) could collide and it would exit at start.
func (s *Stack) freePort() (int, error) {
	if s.cfg.Port != nil {
		return s.cfg.Port()
	}
	for range 100 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("find a free port: %w", err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if !s.ports[port] {
			s.ports[port] = true
			return port, nil
		}
	}
	return 0, errors.New("find a free port: the kernel keeps offering used ones")
}
