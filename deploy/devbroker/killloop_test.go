package devbroker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	killTopic      = "kill-loop"
	killGroup      = "kill-loop-group"
	killPartitions = 4
	killRounds     = 6
	// Generous: a healthy broker converges in a few seconds (one session
	// timeout plus a rebalance); a wedged one never does.
	roundDeadline = 60 * time.Second
)

// TestKillLoopDoesNotWedgeGroup is issue #14 finding 5: a worker killed while
// it rejoins (its connection gone while its JoinGroup is parked) must not
// stay in the group holding partitions. kfake answers the parked JoinGroup
// into a dead connection, which skips the member's session timer, and the
// leader's SyncGroup then cancels the pending-sync timer that would have
// evicted it. Whether the answer fails is a coin flip inside kfake (a select
// between a free response buffer and the closed connection), so the test
// kills one member per round, several rounds in a row, as the chaos kill
// loop did: each round the survivor and the next member must end up owning
// every partition, and at the end they must consume what is produced.
func TestKillLoopDoesNotWedgeGroup(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		balancer kgo.GroupBalancer
	}{
		{"cooperative-sticky, the workers' default", kgo.CooperativeStickyBalancer()},
		{"range, eager", kgo.RangeBalancer()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runKillLoop(t, tc.balancer)
		})
	}
}

func runKillLoop(t *testing.T, balancer kgo.GroupBalancer) {
	b := startTestBroker(t)
	c := b.Cluster()
	seen := &offsetTracker{max: map[int32]int64{}}
	var mu sync.Mutex
	started := map[string]*member{} // by client ID + "-", the prefix of its member IDs
	newMember := func(name string) *member {
		m := &member{name: name, cut: &cuttableDialer{}}
		mu.Lock()
		started[name+"-"] = m
		mu.Unlock()
		startMember(t, c, m, balancer, seen)
		return m
	}
	arm := armKillOnJoin(c, func(prefix string) *member {
		mu.Lock()
		defer mu.Unlock()
		return started[prefix]
	})

	survivor := newMember("survivor")
	defer survivor.cl.Close()
	waitMembers(t, c, survivor)

	for round := 1; round <= killRounds; round++ {
		// A member that owns partitions dies without leaving, and its
		// replacement is killed in turn while it joins: the replacement
		// is handed the dead member's partitions by a join answer it
		// never receives.
		owner := newMember(fmt.Sprintf("owner-%d", round))
		waitMembers(t, c, survivor, owner)
		victim := fmt.Sprintf("victim-%d", round)
		arm(victim + "-")
		owner.sever()
		replacement := newMember(victim)
		waitMembers(t, c, survivor)
		t.Logf("round %d settled: %s", round, describe(c.GroupInfo(killGroup)))
		go owner.cl.Close() // nothing to leave with: their dialers are cut
		go replacement.cl.Close()
	}

	ends := produce(t, c, 200)
	ctx, cancel := context.WithTimeout(context.Background(), roundDeadline)
	defer cancel()
	if err := seen.waitFor(ctx, ends); err != nil {
		t.Fatalf("live members did not consume what was produced: %v; group: %s", err, describe(c.GroupInfo(killGroup)))
	}
	t.Logf("the reaper evicted %d dead members in %d rounds", b.Evicted(), killRounds)
}

// armKillOnJoin returns a function that arms a one-shot kill: the next
// JoinGroup whose member ID starts with prefix (kfake derives member IDs
// from the client ID) severs that client's connections from inside the
// broker's request handling, so the request is read and then parked with
// its connection gone.
func armKillOnJoin(c *kfake.Cluster, members func(memberIDPrefix string) *member) func(memberIDPrefix string) {
	var armed atomic.Pointer[string]
	c.ControlKey(int16(kmsg.JoinGroup), func(req kmsg.Request) (kmsg.Response, error, bool) {
		id := req.(*kmsg.JoinGroupRequest).MemberID
		prefix := armed.Load()
		if id == "" || prefix == nil || !strings.HasPrefix(id, *prefix) || !armed.CompareAndSwap(prefix, nil) {
			return nil, nil, false
		}
		members(*prefix).sever()
		// Hold the join until the broker's reader has seen the close;
		// otherwise a join that completes the rebalance can be
		// answered before the broker knows the peer is gone.
		c.SleepControl(func() { time.Sleep(200 * time.Millisecond) })
		return nil, nil, false // the broker parks the join as usual
	})
	return func(prefix string) { armed.Store(&prefix) }
}

type member struct {
	name string
	cl   *kgo.Client
	cut  *cuttableDialer
}

func (m *member) sever() { m.cut.cut() }

// startMember starts a group consumer with short timeouts (so a healthy
// broker converges quickly) that records what it consumes in seen.
func startMember(t *testing.T, c *kfake.Cluster, m *member, balancer kgo.GroupBalancer, seen *offsetTracker) {
	t.Helper()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(c.ListenAddrs()...),
		kgo.ClientID(m.name),
		kgo.Dialer(m.cut.dial),
		kgo.ConsumerGroup(killGroup),
		kgo.ConsumeTopics(killTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.Balancers(balancer),
		kgo.SessionTimeout(2*time.Second),
		kgo.RebalanceTimeout(3*time.Second),
		kgo.HeartbeatInterval(200*time.Millisecond),
		kgo.RetryTimeout(2*time.Second),
	)
	if err != nil {
		t.Fatal(err)
	}
	m.cl = cl
	go func() {
		for {
			fs := cl.PollFetches(context.Background())
			if fs.IsClientClosed() {
				return
			}
			fs.EachRecord(func(r *kgo.Record) { seen.record(r.Partition, r.Offset) })
		}
	}()
}

// cuttableDialer dials normally until cut, then closes every connection it
// made and refuses new ones: the network view of a SIGKILLed process.
type cuttableDialer struct {
	mu    sync.Mutex
	dead  bool
	conns []net.Conn
}

func (d *cuttableDialer) dial(ctx context.Context, network, host string) (net.Conn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dead {
		return nil, errors.New("member killed")
	}
	var nd net.Dialer
	conn, err := nd.DialContext(ctx, network, host)
	if err == nil {
		d.conns = append(d.conns, conn)
	}
	return conn, err
}

func (d *cuttableDialer) cut() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dead = true
	for _, c := range d.conns {
		_ = c.Close()
	}
}

// waitMembers waits until the group is stable with exactly the given live
// members and every partition assigned.
func waitMembers(t *testing.T, c *kfake.Cluster, live ...*member) {
	t.Helper()
	want := make([]string, len(live))
	for i, m := range live {
		want[i] = m.name
	}
	slices.Sort(want)
	ctx, cancel := context.WithTimeout(context.Background(), roundDeadline)
	defer cancel()
	g, err := c.WaitGroupInfo(ctx, killGroup, func(g *kfake.GroupInfo) bool {
		return g != nil && g.State == "Stable" && slices.Equal(clientIDs(g), want) && g.NumAssigned() == killPartitions
	})
	if err != nil {
		t.Fatalf("group never settled on live members %v owning all %d partitions: %v; group: %s", want, killPartitions, err, describe(g))
	}
}

func clientIDs(g *kfake.GroupInfo) []string {
	ids := make([]string, 0, len(g.Members))
	for _, m := range g.Members {
		ids = append(ids, m.ClientID)
	}
	slices.Sort(ids)
	return ids
}

func describe(g *kfake.GroupInfo) string {
	if g == nil {
		return "<none>"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "state %s generation %d", g.State, g.Epoch)
	for _, m := range g.Members {
		fmt.Fprintf(&b, "; %s owns %v", m.ClientID, m.Assignment)
	}
	return b.String()
}

// produce writes n records round robin over the partitions and returns the
// last offset written to each.
func produce(t *testing.T, c *kfake.Cluster, n int) map[int32]int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: killTopic, Value: fmt.Appendf(nil, "r%d", i)}
	}
	res := cl.ProduceSync(context.Background(), recs...)
	if err := res.FirstErr(); err != nil {
		t.Fatal(err)
	}
	ends := map[int32]int64{}
	for _, r := range res {
		ends[r.Record.Partition] = max(ends[r.Record.Partition], r.Record.Offset)
	}
	return ends
}

// offsetTracker is the highest offset any member consumed, per partition.
type offsetTracker struct {
	mu  sync.Mutex
	max map[int32]int64
}

func (o *offsetTracker) record(p int32, off int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if cur, ok := o.max[p]; !ok || off > cur {
		o.max[p] = off
	}
}

func (o *offsetTracker) reached(ends map[int32]int64) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	for p, end := range ends {
		if cur, ok := o.max[p]; !ok || cur < end {
			return false
		}
	}
	return true
}

func (o *offsetTracker) waitFor(ctx context.Context, ends map[int32]int64) error {
	for !o.reached(ends) {
		select {
		case <-ctx.Done():
			o.mu.Lock()
			defer o.mu.Unlock()
			return fmt.Errorf("consumed up to %v, produced up to %v: %w", o.max, ends, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

// startTestBroker is the dev broker under test, with kfake's session
// timeout floor lowered so the members can use short timeouts.
func startTestBroker(t *testing.T) *Broker {
	t.Helper()
	b, err := Start(slog.New(slog.NewTextHandler(io.Discard, nil)),
		kfake.NumBrokers(1),
		kfake.SeedTopics(killPartitions, killTopic),
		kfake.GroupMinSessionTimeout(time.Second),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}
