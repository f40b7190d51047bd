package dedupe

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

// CodeIllegalTransition rejects a status change the lead lifecycle forbids.
const CodeIllegalTransition = "illegal_transition"

var rank = map[string]int{
	schemas.StatusNew: 0, schemas.StatusContacted: 1, schemas.StatusQuoted: 2,
	schemas.StatusApplied: 3, schemas.StatusBound: 4,
}

// Transition says whether a lead may go from one status to another:
// forward along new → contacted → quoted → applied → bound (steps may be
// skipped), to lost from any open status, and to the same status again.
// Bound and lost are final. from == "" is a lead with no status yet.
func Transition(from, to string) bool {
	switch {
	case from == "" || from == to:
		return true
	case from == schemas.StatusBound || from == schemas.StatusLost:
		return false
	case to == schemas.StatusLost:
		return true
	}
	return rank[to] > rank[from]
}

// statusChange is a referral.status_updated that passed dedupe.
type statusChange struct {
	i      int
	lead   string // tenant-scoped: a lead id means nothing without its partner
	offset int64
	status string
}

// checkLifecycle rejects illegal status changes among the batch's unique
// records. Each lead of each partner keeps a log of (offset, status) in
// Redis (a sorted set scored by the offset in referrals.valid, where the
// records of one partner's lead share a partition); the status before a
// record is the log's last entry with a smaller offset. So a batch redone after an aborted transaction sees the
// same history as the first time, whatever that attempt already wrote.
func (d *Deduper) checkLifecycle(ctx context.Context, batch []worker.Message, envs []schemas.Envelope, results []worker.Result) error {
	var changes []statusChange
	first := map[string]int64{}
	for i, r := range results {
		if r.Err != nil || len(r.Out) == 0 {
			continue
		}
		env := &envs[i]
		if env.EventType != schemas.TypeReferralStatusUpdated {
			continue
		}
		var p schemas.ReferralStatusUpdated
		if schemas.Decode(env.Payload, &p) != nil {
			continue
		}
		lead := schemas.Scoped(env.PartnerID, env.LeadID)
		changes = append(changes, statusChange{i: i, lead: lead, offset: batch[i].Offset, status: p.Status})
		if o, ok := first[lead]; !ok || batch[i].Offset < o {
			first[lead] = batch[i].Offset
		}
	}
	if len(changes) == 0 {
		return nil
	}
	read := d.Redis.Pipeline()
	before := map[string]*redis.StringSliceCmd{}
	for lead, off := range first {
		before[lead] = read.ZRevRangeByScore(ctx, d.key(lead), &redis.ZRangeBy{Max: "(" + strconv.FormatInt(off, 10), Min: "-inf", Count: 1})
	}
	if _, err := read.Exec(ctx); err != nil && err != redis.Nil {
		return fmt.Errorf("read lead statuses: %w", err)
	}
	current := map[string]string{}
	for lead, cmd := range before {
		if v := cmd.Val(); len(v) == 1 {
			_, current[lead], _ = strings.Cut(v[0], ":")
		}
	}
	write := d.Redis.Pipeline()
	for _, c := range changes {
		from := current[c.lead]
		if !Transition(from, c.status) {
			results[c.i] = worker.Result{Err: worker.Reject(CodeIllegalTransition, "/payload/status", "a lead cannot go from %s to %s", from, c.status)}
			continue
		}
		current[c.lead] = c.status
		write.ZAdd(ctx, d.key(c.lead), redis.Z{Score: float64(c.offset), Member: strconv.FormatInt(c.offset, 10) + ":" + c.status})
		write.Expire(ctx, d.key(c.lead), d.TTL)
	}
	if len(write.Cmds()) > 0 {
		if _, err := write.Exec(ctx); err != nil {
			return fmt.Errorf("record lead statuses: %w", err)
		}
	}
	return nil
}

// key is the Redis key of the status log of a tenant-scoped lead
// (schemas.Scoped).
func (d *Deduper) key(scopedLead string) string { return d.Prefix + "status:" + scopedLead }
