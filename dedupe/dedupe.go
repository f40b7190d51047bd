package dedupe

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

// Reason codes of dedupe's dead letters.
const (
	// CodeUndecodable rejects a record that is not an event envelope;
	// validate should never let one through, so seeing it means a producer
	// bypassed it.
	CodeUndecodable = "undecodable_envelope"
	// CodeEventIDReused and CodeIdempotencyKeyReused reject an event whose
	// id (or idempotency key) an earlier event of the partner holds with
	// other content: not a copy to drop but a partner's bug that would lose
	// this event in silence.
	CodeEventIDReused        = "event_id_reused"
	CodeIdempotencyKeyReused = "idempotency_key_reused"
)

// Key returns the dedupe key of an event. Both spellings are tenant-scoped:
// two partners may use the same idempotency keys and the same event ids,
// and one's claim must not swallow the other's event.
func Key(env *schemas.Envelope) string {
	if env.IdempotencyKey != "" {
		return "idem:" + schemas.Scoped(env.PartnerID, env.IdempotencyKey)
	}
	return "eid:" + schemas.Scoped(env.PartnerID, env.EventID)
}

// Owner names the record that claims a key.
func Owner(m worker.Message) string {
	return m.Topic + "/" + strconv.Itoa(int(m.Partition)) + "/" + strconv.FormatInt(m.Offset, 10)
}

// Deduper is the stage's Processor. It is a worker.Stateful: its claims and
// lead statuses live in the stage's worker.State, so they survive losing
// Redis and never run ahead of the transaction that decided them.
type Deduper struct {
	Redis   redis.UniversalClient
	Prefix  string
	TTL     time.Duration // of claims and lead statuses
	Metrics *Metrics
}

// The runtime finds ProcessState by this interface; losing it would send
// batches to ProcessBatch, which refuses them.
var _ worker.Stateful = (*Deduper)(nil)

// StateBackend implements worker.Stateful.
func (d *Deduper) StateBackend() (redis.UniversalClient, string) { return d.Redis, d.Prefix }

// ProcessBatch exists because worker.Stateful embeds worker.Processor; the
// runtime calls ProcessState, since deciding without the batch's state
// would lose it.
func (d *Deduper) ProcessBatch(context.Context, []worker.Message) ([]worker.Result, error) {
	return nil, errors.New("dedupe is stateful: the runtime calls ProcessState")
}

// input is one decodable record of a batch, with the state it touches.
type input struct {
	lead   []byte          // schemas.LeadKey: the record key downstream
	claim  worker.StateKey // its dedupe claim
	byID   bool            // the claim is by event id, not idempotency key
	print  string          // content fingerprint, see fingerprint
	status string          // the status it sets; "" unless a status change
	log    worker.StateKey // its lead's status, when status is set
}

// ProcessState implements worker.Stateful: one Prefetch of every key the
// batch touches, then each record in order, so a record sees the claims and
// statuses of the records before it in the batch.
func (d *Deduper) ProcessState(ctx context.Context, st *worker.StateTxn, batch []worker.Message) ([]worker.Result, error) {
	results := make([]worker.Result, len(batch))
	inputs := make([]*input, len(batch))
	keys := make([]worker.StateKey, 0, len(batch))
	for i, m := range batch {
		in, err := decode(m)
		if err != nil {
			results[i].Err = err
			continue
		}
		inputs[i] = in
		keys = append(keys, in.claim)
		if in.status != "" {
			keys = append(keys, in.log)
		}
	}
	if err := st.Prefetch(ctx, keys...); err != nil {
		return nil, fmt.Errorf("read dedupe state of %d records: %w", len(batch), err)
	}
	for i, in := range inputs {
		if in == nil {
			continue
		}
		res, err := d.decide(ctx, st, batch[i], in)
		if err != nil {
			return nil, err
		}
		results[i] = res
	}
	return results, nil
}

// decode reads what dedupe needs of a record: its envelope, and its status
// when it is a status change. An event of a type dedupe does not know, or
// whose payload does not decode, passes on its envelope alone: validate
// checked it, and dedupe only drops copies.
func decode(m worker.Message) (*input, error) {
	ev, err := schemas.DecodeEvent(m.Value)
	if errors.Is(err, schemas.ErrEnvelope) || ev.EventID == "" {
		var notEnvelope error
		if errors.Is(err, schemas.ErrEnvelope) {
			notEnvelope = err
		}
		return nil, worker.Reject(CodeUndecodable, "", "not an event envelope: %v", notEnvelope)
	}
	in := &input{
		lead:  schemas.LeadKey(ev.PartnerID, ev.LeadID),
		claim: worker.StateKey{Partition: m.Partition, Key: "claim:" + Key(&ev.Envelope)},
		byID:  ev.IdempotencyKey == "",
		print: fingerprint(&ev.Envelope),
	}
	if p, ok := ev.Body.(*schemas.ReferralStatusUpdated); ok && err == nil && p.Status != "" {
		in.status = p.Status
		in.log = worker.StateKey{Partition: m.Partition, Key: "status:" + schemas.Scoped(ev.PartnerID, ev.LeadID)}
	}
	return in, nil
}

// decide drops a duplicate, rejects an illegal status change, and passes
// the rest keyed by their tenant-scoped lead. A status change claims its key
// before its transition is checked, so a copy of a rejected change is a
// duplicate, as it always was.
func (d *Deduper) decide(ctx context.Context, st *worker.StateTxn, m worker.Message, in *input) (worker.Result, error) {
	unique, first, err := d.claim(ctx, st, in.claim, Owner(m), in.print)
	if err != nil {
		return worker.Result{}, err
	}
	if first != "" {
		d.Metrics.collisions.Inc()
		code, what := CodeIdempotencyKeyReused, "idempotency_key"
		if in.byID {
			code, what = CodeEventIDReused, "event_id"
		}
		return worker.Result{Err: worker.Reject(code, "/"+what, "this %s was first used by %s for other content (event type, lead or payload); send this event with its own %s", what, first, what)}, nil
	}
	if !unique {
		d.Metrics.duplicates.Inc()
		return worker.Result{}, nil
	}
	d.Metrics.unique.Inc()
	if in.status != "" {
		from, ok, err := d.advance(ctx, st, in.log, in.status)
		if err != nil {
			return worker.Result{}, err
		}
		if !ok {
			return worker.Result{Err: worker.Reject(CodeIllegalTransition, "/payload/status", "a lead cannot go from %s to %s", from, in.status)}, nil
		}
	}
	return worker.Result{Out: []worker.Output{{Topic: schemas.TopicUnique, Key: in.lead, Value: m.Value}}}, nil
}

// claim takes k for owner when nobody holds it. A claim already held by
// owner counts as won: the record was processed before (its offsets rewound
// after the claim committed) and must not now be dropped as a copy of
// itself, which is the trap a plain SET NX falls into. A claim held by
// another record with another content fingerprint is a collision: first
// names that record. Claims written without a fingerprint compare as
// copies.
func (d *Deduper) claim(ctx context.Context, st *worker.StateTxn, k worker.StateKey, owner, print string) (won bool, first string, err error) {
	held, ok, err := st.Get(ctx, k)
	if err != nil {
		return false, "", fmt.Errorf("read dedupe claim %s: %w", k.Key, err)
	}
	if ok {
		heldOwner, heldPrint, _ := strings.Cut(string(held), "#")
		switch {
		case heldOwner == owner:
			return true, "", nil
		case heldPrint != "" && heldPrint != print:
			return false, heldOwner, nil
		}
		return false, "", nil
	}
	st.Put(k, []byte(owner+"#"+print), d.TTL)
	return true, "", nil
}

// fingerprint identifies what an event says, not when it was sent: its
// type, lead and payload (members in any order), so that a resend with
// another received_at, occurred_at or (under one idempotency key) event id
// matches, and a reused id with other content does not.
func fingerprint(env *schemas.Envelope) string {
	h := sha256.New()
	h.Write([]byte(env.EventType + "\x00" + env.LeadID + "\x00"))
	if b, err := schemas.Canonical(env.Payload); err == nil {
		h.Write(b)
	} else {
		h.Write(env.Payload)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}
