package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/reftrack/reftrack/deploy/devstack"
)

// up starts Redis and ClickHouse, then the supervisor, and returns once
// every worker is ready.
func up(ctx context.Context, d *dev) error {
	if pid := d.supervisor(); pid != 0 {
		say("already running (supervisor pid %d)", pid)
		return nil
	}
	if err := d.needBinaries(); err != nil {
		return err
	}
	if err := d.stackSh(ctx, "up"); err != nil {
		return err
	}
	if err := d.startSupervisor(ctx); err != nil {
		return err
	}
	say("up: broker %s, API %s/v1/events, metrics on ports %d-%d, logs in %s",
		d.brokers(), d.ingestURL(), d.opsBase+1, d.opsBase+len(devstack.Stages), d.logDir())
	return nil
}

// startSupervisor runs `devstack serve` in a session of its own (so that
// it outlives this command and a terminal's ^C), and waits for it to say
// "ready" or why not on a pipe.
func (d *dev) startSupervisor(ctx context.Context) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the devstack binary: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(d.pidFile()), 0o755); err != nil {
		return fmt.Errorf("start the supervisor: %w", err)
	}
	if err := os.MkdirAll(d.logDir(), 0o755); err != nil {
		return fmt.Errorf("start the supervisor: %w", err)
	}
	logPath := filepath.Join(d.logDir(), "devstack.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("start the supervisor: %w", err)
	}
	defer logf.Close() // the child holds its own descriptor
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("start the supervisor: %w", err)
	}
	defer r.Close()
	cmd := exec.Command(exe, "serve", "--root", d.root, "--dev-dir", d.dir, "--ready-fd", "3")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.ExtraFiles = []*os.File{w} // fd 3
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	w.Close() // else the read below never sees EOF
	if err != nil {
		return fmt.Errorf("start the supervisor: %w", err)
	}
	if err := os.WriteFile(d.pidFile(), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		return fmt.Errorf("record the supervisor's pid: %w", err)
	}
	stopOnCancel := context.AfterFunc(ctx, func() { _ = cmd.Process.Signal(syscall.SIGTERM) })
	defer stopOnCancel()
	msg, _ := io.ReadAll(r) // until serve reports or exits
	if string(msg) == "ready\n" {
		return cmd.Process.Release()
	}
	_ = cmd.Wait()
	os.Remove(d.pidFile())
	tail, _ := os.ReadFile(logPath)
	return fmt.Errorf("dev stack did not come up: %s\n%s (tail):\n%s", strings.TrimSpace(string(msg)), logPath, lastLines(tail, 30))
}

// serve is the supervisor: the broker, then the six workers, each restarted
// when it exits, until SIGTERM stops the workers and then the broker.
func serve(ctx context.Context, d *dev) error {
	report := d.readyReporter()
	broker, err := devstack.StartBroker(ctx, d.brokerConfig())
	if err != nil {
		report(err)
		return err
	}
	defer broker.Stop(syscall.SIGTERM)
	st, err := devstack.Start(ctx, d.workers())
	if err != nil {
		report(err)
		return err
	}
	report(nil)
	say("every worker ready; supervising")
	st.Supervise(ctx, func(s string) { say("%s", s) })
	say("stopping the workers, then the broker")
	st.Stop()
	return nil
}

// readyReporter tells up, through --ready-fd, that the stack is ready
// (nil) or why it is not; only the first report counts.
func (d *dev) readyReporter() func(error) {
	if d.readyFD == 0 {
		return func(error) {}
	}
	// The broker and the workers must not inherit the pipe: up reads until
	// it closes.
	syscall.CloseOnExec(d.readyFD)
	f := os.NewFile(uintptr(d.readyFD), "ready")
	return func(err error) {
		if f == nil {
			return
		}
		msg := "ready\n"
		if err != nil {
			msg = err.Error()
		}
		_, _ = io.WriteString(f, msg) // up reads until EOF; a lost report reads as "no answer"
		f.Close()
		f = nil
	}
}

// down stops the supervisor (which stops the workers and the broker), then
// Redis and ClickHouse.
func down(ctx context.Context, d *dev) error {
	d.stopSupervisor()
	d.stopLegacy()
	return d.stackSh(ctx, "down")
}

// supervisor is the running supervisor's pid, 0 when none runs.
func (d *dev) supervisor() int {
	b, err := os.ReadFile(d.pidFile())
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || devstack.Exited(pid) {
		return 0
	}
	return pid
}

// stopSupervisor asks the supervisor to stop and waits a minute for it
// (each worker gets 5 s to finish its transaction), then kills its whole
// session: it, the broker and the workers.
func (d *dev) stopSupervisor() {
	pid := d.supervisor()
	defer os.Remove(d.pidFile())
	if pid == 0 {
		return
	}
	stopPID(pid, time.Minute)
	_ = syscall.Kill(-pid, syscall.SIGKILL) // anything left of its session
}

// stopLegacy stops what an older dev.sh started, one pid file per process,
// so that `make down` after an upgrade leaves nothing running.
func (d *dev) stopLegacy() {
	files, _ := filepath.Glob(filepath.Join(d.dir, "pids", "*.pid"))
	for _, f := range files {
		if f == d.pidFile() {
			continue
		}
		if b, err := os.ReadFile(f); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && !devstack.Exited(pid) {
				stopPID(pid, 15*time.Second)
			}
		}
		os.Remove(f)
	}
}

// stopPID sends SIGTERM and waits up to grace, then SIGKILL.
func stopPID(pid int, grace time.Duration) {
	_ = syscall.Kill(pid, syscall.SIGTERM)
	for deadline := time.Now().Add(grace); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if devstack.Exited(pid) {
			return
		}
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

// status prints what runs.
func status(ctx context.Context, d *dev) error {
	if pid := d.supervisor(); pid != 0 {
		fmt.Printf("supervisor running (pid %d)\n", pid)
	} else {
		fmt.Println("supervisor stopped")
	}
	if c, err := net.DialTimeout("tcp", d.brokers(), time.Second); err == nil {
		c.Close()
		fmt.Printf("devbroker listening on %s\n", d.brokers())
	} else {
		fmt.Println("devbroker stopped")
	}
	for i, st := range devstack.Stages {
		addr := "127.0.0.1:" + strconv.Itoa(d.opsBase+i+1)
		if err := ready(ctx, "http://"+addr+"/readyz"); err != nil {
			fmt.Printf("%s not ready on %s: %v\n", st, addr, err)
		} else {
			fmt.Printf("%s ready on %s\n", st, addr)
		}
	}
	return d.stackSh(ctx, "status")
}

func ready(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return errors.New("no answer")
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.New(resp.Status)
	}
	return nil
}

// demo starts from empty (whatever runs stopped, the dev data wiped, so
// the counts printed are exactly this run's), pushes the sample through,
// prints what landed, and stops everything whatever happened.
func demo(ctx context.Context, d *dev) error {
	if err := d.needBinaries("demo", "datadriven"); err != nil {
		return err
	}
	if err := down(ctx, d); err != nil {
		return err
	}
	defer func() {
		if err := down(context.Background(), d); err != nil { // ctx may be cancelled by ^C by now
			say("down: %v", err)
		}
	}()
	if err := d.wipe(ctx); err != nil {
		return err
	}
	if err := up(ctx, d); err != nil {
		return err
	}
	if err := d.tool(ctx, d.bin("demo"), "--events", strconv.Itoa(d.events), "--brokers", d.brokers(),
		"--ingest-url", d.ingestURL(), "--clickhouse", d.clickhouse(), "--rules", d.reference("rules.json"),
		"--licences", d.reference("licences.json"), "--fx-rates", d.reference("rates.json")); err != nil {
		return err
	}
	fmt.Println()
	fmt.Println("data-driven attribution of this run (attribute/cmd/datadriven):")
	return d.tool(ctx, d.bin("datadriven"), "--clickhouse", d.clickhouse())
}

// wipe empties the broker's log, Redis and the reftrack database.
func (d *dev) wipe(ctx context.Context) error {
	if err := os.RemoveAll(filepath.Join(d.dir, "kafka")); err != nil {
		return fmt.Errorf("wipe the broker's log: %w", err)
	}
	if err := d.stackSh(ctx, "up"); err != nil {
		return err
	}
	if err := d.tool(ctx, "redis-cli", "-p", strconv.Itoa(d.redis), "flushall"); err != nil {
		return err
	}
	return d.tool(ctx, "clickhouse-client", "--port", strconv.Itoa(d.chTCP), "-q", "DROP DATABASE IF EXISTS reftrack")
}

// lastLines is the end of a log, n lines at most.
func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
