package attribute

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

// State layout (worker.State, co-partitioned with referrals.unique): per
// tenant-scoped lead, three values under the partition of its records.
const (
	touchesKey     = "touches:"     // + schemas.Scoped(partner, lead): []Touch, oldest first
	conversionsKey = "conversions:" // + schemas.Scoped(partner, lead): []conversion, oldest first
	policiesKey    = "policies:"    // + schemas.Scoped(partner, lead): policy id → policyState
)

// stateKeys are the keys of a lead's state.
func stateKeys(partition int32, scopedLead string) []worker.StateKey {
	return []worker.StateKey{
		{Partition: partition, Key: touchesKey + scopedLead},
		{Partition: partition, Key: conversionsKey + scopedLead},
		{Partition: partition, Key: policiesKey + scopedLead},
	}
}

// lead is one lead's state as a batch sees it, decoded once per batch.
type lead struct {
	keys                                    []worker.StateKey
	touches                                 []Touch       // Order'd, at most MaxTouches
	convs                                   []*conversion // by occurred_at, then attribution id
	policies                                map[string]*policyState
	touchesDirty, convsDirty, policiesDirty bool
}

// addTouch keeps t (again, if the lead has a touch of its event id: a
// replay changes nothing) and prunes the oldest touches beyond max,
// returning how many it pruned.
func (l *lead) addTouch(t Touch, max int) int {
	l.touchesDirty = true
	if i := slices.IndexFunc(l.touches, func(x Touch) bool { return x.EventID == t.EventID }); i >= 0 {
		l.touches[i] = t
	} else {
		l.touches = append(l.touches, t)
	}
	Order(l.touches)
	n := len(l.touches) - max
	if n <= 0 {
		return 0
	}
	l.touches = slices.Delete(l.touches, 0, n)
	return n
}

// conversion is the lead's conversion of attribution id id, or nil.
func (l *lead) conversion(id string) *conversion {
	for _, c := range l.convs {
		if c.attributionID() == id {
			return c
		}
	}
	return nil
}

// addConversion keeps a new conversion, in order.
func (l *lead) addConversion(c conversion) *conversion {
	l.convsDirty = true
	p := &c
	l.convs = append(l.convs, p)
	slices.SortFunc(l.convs, func(x, y *conversion) int {
		if o := x.OccurredAt.Compare(y.OccurredAt); o != 0 {
			return o
		}
		return strings.Compare(x.attributionID(), y.attributionID())
	})
	return p
}

// leads is a batch's working set of lead states, written back once at the
// end of the batch in the order the leads were first met, so the changelog
// is a function of the batch.
type leads struct {
	st    *worker.StateTxn
	byKey map[worker.StateKey]*lead
	order []*lead
}

func newLeads(st *worker.StateTxn) *leads {
	return &leads{st: st, byKey: map[worker.StateKey]*lead{}}
}

// get returns the state of scopedLead in partition, read on first use.
func (ls *leads) get(ctx context.Context, partition int32, scopedLead string) (*lead, error) {
	keys := stateKeys(partition, scopedLead)
	if l := ls.byKey[keys[0]]; l != nil {
		return l, nil
	}
	l := &lead{keys: keys}
	if err := ls.read(ctx, keys[0], &l.touches); err != nil {
		return nil, err
	}
	if err := ls.read(ctx, keys[1], &l.convs); err != nil {
		return nil, err
	}
	if err := ls.read(ctx, keys[2], &l.policies); err != nil {
		return nil, err
	}
	ls.byKey[keys[0]] = l
	ls.order = append(ls.order, l)
	return l, nil
}

// read decodes the value of k into v, leaving v alone when there is none.
func (ls *leads) read(ctx context.Context, k worker.StateKey, v any) error {
	b, ok, err := ls.st.Get(ctx, k)
	if err != nil {
		return fmt.Errorf("read %s of partition %d: %w", k.Key, k.Partition, err)
	}
	if !ok {
		return nil
	}
	if err := schemas.Decode(b, v); err != nil {
		return fmt.Errorf("decode %s of partition %d: %w", k.Key, k.Partition, err)
	}
	return nil
}

// save writes back what the batch changed. Touches live for the lookback
// after the lead's last one; conversions and policy state (parked
// cancellations, agents of record) for the grace period (late touches) or
// --keep-conversions (cancellations, renewals), whichever is longer.
func (ls *leads) save(cfg Config) error {
	keep := max(cfg.Grace+time.Hour, cfg.KeepConversions)
	for _, l := range ls.order {
		if l.touchesDirty {
			if err := ls.put(l.keys[0], l.touches, cfg.Lookback); err != nil {
				return err
			}
		}
		if l.convsDirty {
			if err := ls.put(l.keys[1], l.convs, keep); err != nil {
				return err
			}
		}
		switch {
		case l.policiesDirty && len(l.policies) == 0:
			ls.st.Delete(l.keys[2])
		case l.policiesDirty:
			if err := ls.put(l.keys[2], l.policies, keep); err != nil {
				return err
			}
		}
	}
	return nil
}

func (ls *leads) put(k worker.StateKey, v any, ttl time.Duration) error {
	b, err := schemas.Encode(v)
	if err != nil {
		return fmt.Errorf("encode %s of partition %d: %w", k.Key, k.Partition, err)
	}
	ls.st.Put(k, b, ttl)
	return nil
}
