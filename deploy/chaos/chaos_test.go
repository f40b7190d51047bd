package chaos

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/reftrack/reftrack/deploy/sample"
)

func TestPortsSkipsBusyPortsAndNeverRepeats(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	bp := busy.Addr().(*net.TCPAddr).Port
	p := &Ports{Lo: bp, Hi: bp + 3}
	seen := map[int]bool{}
	for {
		port, err := p.Next()
		if err != nil {
			break
		}
		if port == bp || seen[port] || port < p.Lo || port >= p.Hi {
			t.Fatalf("Next gave %d (busy %d, seen %v, range %d..%d)", port, bp, seen, p.Lo, p.Hi)
		}
		seen[port] = true
	}
	if len(seen) > 2 {
		t.Fatalf("handed out %d ports of a range of 3 with one busy", len(seen))
	}
}

func TestProxyDownCutsConnectionsAndUpRestoresThem(t *testing.T) {
	t.Parallel()
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(c, c); c.Close() }()
		}
	}()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	p, err := StartProxy(port, echo.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Down()
	c := roundTrip(t, p.Addr)
	p.Down()
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("a connection through the proxy survived Down")
	}
	if c, err := net.DialTimeout("tcp", p.Addr, time.Second); err == nil {
		// The port is of the ephemeral range, free while the proxy is
		// down: in CI another test's socket took it once, and a dial can
		// even connect to itself (TCP simultaneous open). It is the proxy
		// only if the echo server behind it answers.
		self := c.LocalAddr().String() == c.RemoteAddr().String()
		echoed := false
		if !self {
			_ = c.SetDeadline(time.Now().Add(300 * time.Millisecond))
			b := make([]byte, 1)
			if _, err := c.Write([]byte{'x'}); err == nil {
				n, _ := c.Read(b)
				echoed = n == 1 && b[0] == 'x'
			}
		}
		c.Close()
		if echoed {
			t.Fatal("the proxy accepted a connection while down")
		}
	}
	if err := p.Up(); err != nil {
		t.Fatal(err)
	}
	roundTrip(t, p.Addr).Close()
}

func roundTrip(t *testing.T, address string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", address, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("ping\n")); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || line != "ping\n" {
		t.Fatalf("through the proxy: %q, %v", line, err)
	}
	return c
}

func TestResultOK(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		pass, control, ok bool
	}{
		{pass: true, ok: true},
		{pass: false, ok: false},
		{pass: false, control: true, ok: true},
		{pass: true, control: true, ok: false}, // a judge that cannot see a loss
	} {
		r := Result{Name: "x", Pass: tc.pass, ExpectFail: tc.control}
		if r.OK() != tc.ok {
			t.Errorf("pass=%v control=%v: OK()=%v, want %v (%s)", tc.pass, tc.control, r.OK(), tc.ok, r.Line())
		}
	}
}

func dataset(t *testing.T) *sample.Dataset {
	t.Helper()
	rules, err := sample.LoadRules("../dev/rules.json")
	if err != nil {
		t.Fatal(err)
	}
	opts := sample.DefaultOptions()
	opts.Events = 2000
	ds, err := sample.Generate(opts, rules)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func TestDropSomeSendsLessThanTheOracleExpects(t *testing.T) {
	t.Parallel()
	ds := dataset(t)
	valid := func() int {
		n := 0
		for _, r := range ds.Records {
			if r.Kind == "valid" {
				n++
			}
		}
		return n
	}
	before, want := valid(), ds.Want
	dropSome(ds, &Judge{})
	if after := valid(); after != before-before/100 || ds.Want.ReferralEvents != want.ReferralEvents {
		t.Fatalf("valid records %d → %d (oracle %d → %d): the control must drop 1 %% and leave the oracle alone",
			before, after, want.ReferralEvents, ds.Want.ReferralEvents)
	}
}

func TestPoisonBooksOneDeadLetterOfIngestEach(t *testing.T) {
	t.Parallel()
	ds := dataset(t)
	n, rej := len(ds.Records), ds.Want.RejectedByStage["ingest"]
	j := &Judge{}
	poison(ds, j)
	if len(ds.Records) != n+4 || ds.Want.RejectedByStage["ingest"] != rej+4 || j.Reasons["ingest/too_large"] != 1 {
		t.Fatalf("records %d → %d, ingest rejections %d → %d, reasons %v", n, len(ds.Records), rej, ds.Want.RejectedByStage["ingest"], j.Reasons)
	}
	huge := ds.Records[n/2]
	if len(huge.Value) < 5<<20 || !json.Valid(huge.Value) || huge.HTTP {
		t.Fatalf("the oversize record is %d bytes, valid JSON %v, over HTTP %v", len(huge.Value), json.Valid(huge.Value), huge.HTTP)
	}
}

func TestResendCopiesOnlySentValidKafkaRecords(t *testing.T) {
	t.Parallel()
	ds := dataset(t)
	dups := resend(ds.Records, 300)
	if len(dups) != 300 {
		t.Fatalf("%d copies, want 300", len(dups))
	}
	sent := map[string]bool{}
	for _, r := range ds.Records[:len(ds.Records)/2] {
		sent[string(r.Value)] = true
	}
	renamed := 0
	for _, d := range dups {
		if d.HTTP || d.Kind != "duplicate" {
			t.Fatalf("copy %+v", d)
		}
		if !sent[string(d.Value)] {
			if !strings.Contains(string(d.Value), `"idempotency_key"`) {
				t.Fatalf("a copy that is neither sent nor a retry under its idempotency key: %s", d.Value)
			}
			renamed++
		}
	}
	if renamed == 0 {
		t.Fatal("no copy carries a new event id under its idempotency key")
	}
}

func TestStageOfTxn(t *testing.T) {
	t.Parallel()
	for id, want := range map[string]string{
		"reftrack-dedupe-0": "dedupe", "reftrack-commission-r3": "commission", "reftrack-ingest-0": "ingest",
		"other-dedupe-0": "", "reftrack-dedupe": "",
	} {
		if got := stageOfTxn(&id); got != want {
			t.Errorf("stageOfTxn(%q) = %q, want %q", id, got, want)
		}
	}
	if stageOfTxn(nil) != "" {
		t.Error("a produce outside a transaction has no stage")
	}
}

func TestExitedSeesAnUnreapedChild(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Skip("no sleep binary:", err)
	}
	pid := cmd.Process.Pid
	if exited(pid) {
		t.Fatal("a running process reads as exited")
	}
	_ = cmd.Process.Kill()
	for i := 0; i < 100 && !exited(pid); i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if !exited(pid) {
		t.Fatal("a killed, unreaped child does not read as exited")
	}
	_ = cmd.Wait()
}
