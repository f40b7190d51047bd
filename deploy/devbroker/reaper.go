package devbroker

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// defaultSessionTimeout is Kafka's (and franz-go's) session.timeout.ms, for a
// member whose JoinGroup the reaper never saw (e.g. it joined before a broker
// restart).
const defaultSessionTimeout = 45 * time.Second

// observedKeys are the classic-group requests that carry a member ID: each
// one is a sign of life of that member.
var observedKeys = []kmsg.Key{kmsg.JoinGroup, kmsg.SyncGroup, kmsg.Heartbeat, kmsg.OffsetCommit, kmsg.TxnOffsetCommit}

// reaper evicts classic-group members that kfake keeps forever: a member
// whose connection died while its JoinGroup was parked gets no session timer
// (kfake starts it only once the join answer is delivered), and the leader's
// SyncGroup cancels the pending-sync timer that would have removed it. A real
// broker expires such a member a session timeout after the join completes.
//
// The reaper restores that: it watches requests for signs of life per member
// and, while a group is Stable (where every live member heartbeats), evicts
// a member silent for its session timeout since the later of its last
// request and the moment the group became stable. It leaves Preparing and
// Completing rebalances alone: kfake's rebalance and pending-sync timers
// already remove members that do not join or sync. KIP-848 groups never send
// JoinGroup, so the reaper never watches them; kfake times their members out
// itself.
type reaper struct {
	groupInfo func(group string) *kfake.GroupInfo
	evict     func(ctx context.Context, group, memberID string) error
	log       *slog.Logger

	mu      sync.Mutex
	groups  map[string]*groupWatch
	evicted atomic.Int64
}

// groupWatch is what the reaper knows of one classic group.
type groupWatch struct {
	seen     map[string]memberSeen    // by member ID
	sessions map[string]time.Duration // by instance ID: a static member's first join has no member ID

	stableGen   int32
	stableSince time.Time // zero while the group is not Stable
}

type memberSeen struct {
	last    time.Time
	session time.Duration // 0: not known yet
}

func newReaper(groupInfo func(string) *kfake.GroupInfo, evict func(context.Context, string, string) error, log *slog.Logger) *reaper {
	return &reaper{groupInfo: groupInfo, evict: evict, log: log, groups: map[string]*groupWatch{}}
}

// install registers the reaper's observer on the cluster. The observer never
// handles a request, so kfake serves every request as before.
func (r *reaper) install(c *kfake.Cluster) {
	for _, key := range observedKeys {
		c.ControlKey(int16(key), func(req kmsg.Request) (kmsg.Response, error, bool) {
			r.observe(req, time.Now())
			return nil, nil, false
		})
	}
}

// observe records a sign of life. It runs on kfake's request loop, so it
// only takes the reaper's lock and never calls back into the cluster.
func (r *reaper) observe(req kmsg.Request, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch req := req.(type) {
	case *kmsg.JoinGroupRequest:
		w := r.watch(req.Group)
		session := time.Duration(req.SessionTimeoutMillis) * time.Millisecond
		if req.InstanceID != nil {
			w.sessions[*req.InstanceID] = session
		}
		w.saw(req.MemberID, now, session)
	case *kmsg.SyncGroupRequest:
		r.sawIfWatched(req.Group, req.MemberID, now)
	case *kmsg.HeartbeatRequest:
		r.sawIfWatched(req.Group, req.MemberID, now)
	case *kmsg.OffsetCommitRequest:
		r.sawIfWatched(req.Group, req.MemberID, now)
	case *kmsg.TxnOffsetCommitRequest:
		r.sawIfWatched(req.Group, req.MemberID, now)
	}
}

func (r *reaper) watch(group string) *groupWatch {
	w := r.groups[group]
	if w == nil {
		w = &groupWatch{seen: map[string]memberSeen{}, sessions: map[string]time.Duration{}}
		r.groups[group] = w
	}
	return w
}

// sawIfWatched records a member's request in a group that has sent a
// JoinGroup; commits of plain (group-less or KIP-848) consumers are not ours.
func (r *reaper) sawIfWatched(group, memberID string, now time.Time) {
	if w := r.groups[group]; w != nil {
		w.saw(memberID, now, 0)
	}
}

func (w *groupWatch) saw(memberID string, now time.Time, session time.Duration) {
	if memberID == "" {
		return
	}
	s := w.seen[memberID]
	s.last = now
	if session > 0 {
		s.session = session
	}
	w.seen[memberID] = s
}

// run sweeps every interval until ctx is done.
func (r *reaper) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.sweep(ctx, time.Now())
		}
	}
}

// sweep evicts the dead members of every watched group.
func (r *reaper) sweep(ctx context.Context, now time.Time) {
	for _, group := range r.watchedGroups() {
		info := r.groupInfo(group) // outside the lock: it waits on kfake's loop, which runs observe
		for _, id := range r.dead(group, info, now) {
			if err := r.evict(ctx, group, id); err != nil {
				r.log.Warn("evict dead group member", "group", group, "member", id, "err", err)
				continue
			}
			r.evicted.Add(1)
			r.log.Warn("evicted dead group member: silent past its session timeout in a stable group", "group", group, "member", id)
		}
	}
}

func (r *reaper) watchedGroups() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	groups := make([]string, 0, len(r.groups))
	for g := range r.groups {
		groups = append(groups, g)
	}
	return groups
}

// dead returns the members of group that a real broker would have expired,
// given the group's state now, and forgets them.
func (r *reaper) dead(group string, info *kfake.GroupInfo, now time.Time) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	w := r.groups[group]
	if w == nil {
		return nil
	}
	if info == nil {
		delete(r.groups, group)
		return nil
	}
	if info.State != "Stable" {
		w.stableSince = time.Time{}
		return nil
	}
	if w.stableSince.IsZero() || w.stableGen != info.Epoch {
		w.stableGen, w.stableSince = info.Epoch, now
	}
	var dead []string
	members := make(map[string]bool, len(info.Members))
	for _, m := range info.Members {
		members[m.MemberID] = true
		s := w.seen[m.MemberID]
		last := s.last
		if last.Before(w.stableSince) {
			last = w.stableSince
		}
		if now.Sub(last) > w.sessionOf(m, s) {
			dead = append(dead, m.MemberID)
		}
	}
	// Forget members gone from the group for longer than a session, and
	// the ones we are about to evict. A non-member seen recently may have
	// a join the broker has read but not processed yet: keep its session.
	for id, s := range w.seen {
		if !members[id] && now.Sub(s.last) > max(s.session, defaultSessionTimeout) {
			delete(w.seen, id)
		}
	}
	for _, id := range dead {
		delete(w.seen, id)
	}
	return dead
}

func (w *groupWatch) sessionOf(m kfake.GroupMember, s memberSeen) time.Duration {
	if s.session > 0 {
		return s.session
	}
	if m.InstanceID != nil {
		if d := w.sessions[*m.InstanceID]; d > 0 {
			return d
		}
	}
	return defaultSessionTimeout
}

// leaveGroup evicts a member the way an admin does: a LeaveGroup naming it,
// sent to the group's coordinator. kfake removes it and rebalances.
func leaveGroup(cl *kgo.Client) func(ctx context.Context, group, memberID string) error {
	return func(ctx context.Context, group, memberID string) error {
		req := kmsg.NewPtrLeaveGroupRequest()
		req.Group = group
		m := kmsg.NewLeaveGroupRequestMember()
		m.MemberID = memberID
		req.Members = append(req.Members, m)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return fmt.Errorf("send leave group for member %s of %s: %w", memberID, group, err)
		}
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			return fmt.Errorf("leave group for member %s of %s: %w", memberID, group, err)
		}
		for _, rm := range resp.Members {
			// Unknown: it left or was removed since our snapshot.
			if err := kerr.ErrorForCode(rm.ErrorCode); err != nil && err != kerr.UnknownMemberID {
				return fmt.Errorf("leave group for member %s of %s: %w", memberID, group, err)
			}
		}
		return nil
	}
}
