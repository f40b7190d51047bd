package devbroker

import (
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestReaperDead pins which members the reaper calls dead: only in a Stable
// group, only past the member's own session timeout, counted from the later
// of its last request and the group going stable.
func TestReaperDead(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1_700_000_000, 0)
	sec := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }
	join := func(member string, sessionMs int32, instance *string) kmsg.Request {
		r := kmsg.NewPtrJoinGroupRequest()
		r.Group, r.MemberID, r.SessionTimeoutMillis, r.InstanceID = "g", member, sessionMs, instance
		return r
	}
	heartbeat := func(member string) kmsg.Request {
		r := kmsg.NewPtrHeartbeatRequest()
		r.Group, r.MemberID = "g", member
		return r
	}
	stable := func(gen int32, members ...kfake.GroupMember) *kfake.GroupInfo {
		return &kfake.GroupInfo{Group: "g", State: "Stable", Epoch: gen, Members: members}
	}
	m := func(id string) kfake.GroupMember { return kfake.GroupMember{MemberID: id} }
	inst := "worker-0"
	type sight struct {
		at  time.Time
		req kmsg.Request
	}
	type sweep struct {
		at   time.Time
		info *kfake.GroupInfo
		want []string
	}
	for _, tc := range []struct {
		name   string
		sights []sight
		sweeps []sweep
	}{
		{
			name:   "member silent past its session in a stable group is dead",
			sights: []sight{{sec(0), join("a", 10_000, nil)}, {sec(0), join("b", 10_000, nil)}, {sec(9), heartbeat("a")}},
			sweeps: []sweep{{sec(1), stable(1, m("a"), m("b")), nil}, {sec(12), stable(1, m("a"), m("b")), []string{"b"}}},
		},
		{
			name:   "silence counts from the group going stable, not from the join",
			sights: []sight{{sec(0), join("a", 10_000, nil)}},
			sweeps: []sweep{
				{sec(5), &kfake.GroupInfo{Group: "g", State: "CompletingRebalance", Epoch: 1, Members: []kfake.GroupMember{m("a")}}, nil},
				{sec(20), stable(1, m("a")), nil},
				{sec(29), stable(1, m("a")), nil},
				{sec(31), stable(1, m("a")), []string{"a"}},
			},
		},
		{
			name:   "a new generation restarts the clock",
			sights: []sight{{sec(0), join("a", 10_000, nil)}},
			sweeps: []sweep{{sec(1), stable(1, m("a")), nil}, {sec(10), stable(2, m("a")), nil}, {sec(19), stable(2, m("a")), nil}},
		},
		{
			name:   "rebalancing groups are left to kfake's timers",
			sights: []sight{{sec(0), join("a", 1_000, nil)}},
			sweeps: []sweep{{sec(60), &kfake.GroupInfo{Group: "g", State: "PreparingRebalance", Members: []kfake.GroupMember{m("a")}}, nil}},
		},
		{
			name:   "a member whose join the reaper never saw gets Kafka's default session",
			sights: []sight{{sec(0), join("a", 1_000, nil)}},
			sweeps: []sweep{{sec(0), stable(1, m("a"), m("ghost")), nil}, {sec(44), stable(1, m("a"), m("ghost")), []string{"a"}}, {sec(46), stable(1, m("ghost")), []string{"ghost"}}},
		},
		{
			name:   "a static member's session comes from its instance's join",
			sights: []sight{{sec(0), join("", 5_000, &inst)}},
			sweeps: []sweep{{sec(0), stable(1, kfake.GroupMember{MemberID: "worker-0-x", InstanceID: &inst}), nil}, {sec(6), stable(1, kfake.GroupMember{MemberID: "worker-0-x", InstanceID: &inst}), []string{"worker-0-x"}}},
		},
		{
			name:   "groups that never sent a JoinGroup (KIP-848, plain commits) are not watched",
			sights: []sight{{sec(0), heartbeat("a")}},
			sweeps: []sweep{{sec(100), stable(1, m("a")), nil}},
		},
		{
			name: "a join read before the broker processed it keeps its session",
			sights: []sight{
				{sec(0), join("a", 10_000, nil)},
				{sec(2), join("late", 2_000, nil)}, // observed while the group is still stable without it
			},
			sweeps: []sweep{{sec(1), stable(1, m("a")), nil}, {sec(3), stable(1, m("a")), nil}, {sec(4), stable(2, m("a"), m("late")), nil}, {sec(7), stable(2, m("a"), m("late")), []string{"late"}}},
		},
		{
			name: "a join read before the sweep first saw the group stable keeps its session",
			sights: []sight{
				{sec(0), join("a", 10_000, nil)},
				{sec(1), join("late", 2_000, nil)},
			},
			sweeps: []sweep{{sec(2), stable(1, m("a")), nil}, {sec(4), stable(2, m("a"), m("late")), nil}, {sec(7), stable(2, m("a"), m("late")), []string{"late"}}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newReaper(nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
			events := tc.sights
			for _, sw := range tc.sweeps {
				for len(events) > 0 && !events[0].at.After(sw.at) {
					r.observe(events[0].req, events[0].at)
					events = events[1:]
				}
				got := r.dead("g", sw.info, sw.at)
				slices.Sort(got)
				if !slices.Equal(got, sw.want) {
					t.Errorf("at +%v: dead %v, want %v", sw.at.Sub(t0), got, sw.want)
				}
			}
		})
	}
}
