package dedupe

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

// CodeUndecodable rejects a record that is not an event envelope; validate
// should never let one through, so seeing it means a producer bypassed it.
const CodeUndecodable = "undecodable_envelope"

// claimScript claims KEYS[1] for owner ARGV[1] with a TTL of ARGV[2] ms.
// It returns 1 when the key is new or already owned by ARGV[1], else 0.
var claimScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if v == ARGV[1] then return 1 end
return 0
`)

// Key returns the dedupe key of an event, without the Redis prefix. Both
// spellings are tenant-scoped: two partners may use the same idempotency
// keys and the same event ids, and one's claim must not swallow the other's
// event.
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

// Deduper is the stage's Processor.
type Deduper struct {
	Redis   redis.UniversalClient
	Prefix  string
	TTL     time.Duration
	Metrics *Metrics
}

// ProcessBatch implements worker.Processor: one pipelined round trip of
// claims per batch.
func (d *Deduper) ProcessBatch(ctx context.Context, batch []worker.Message) ([]worker.Result, error) {
	results := make([]worker.Result, len(batch))
	type claim struct {
		i   int
		key []byte // the tenant-scoped lead: the record key downstream
		cmd *redis.Cmd
	}
	claims := make([]claim, 0, len(batch))
	keys := make([]string, 0, len(batch))
	owners := make([]string, 0, len(batch))
	envs := make([]schemas.Envelope, len(batch)) // decoded once, for the lifecycle check too
	for i, m := range batch {
		env := &envs[i]
		if err := schemas.Decode(m.Value, env); err != nil || env.EventID == "" {
			results[i].Err = worker.Reject(CodeUndecodable, "", "not an event envelope: %v", err)
			continue
		}
		claims = append(claims, claim{i: i, key: schemas.LeadKey(env.PartnerID, env.LeadID)})
		keys = append(keys, d.Prefix+"dedupe:"+Key(env))
		owners = append(owners, Owner(m))
	}
	if len(claims) == 0 {
		return results, nil
	}
	ttl := strconv.FormatInt(d.TTL.Milliseconds(), 10)
	if err := d.run(ctx, keys, owners, ttl, func(j int, cmd *redis.Cmd) { claims[j].cmd = cmd }); err != nil {
		return nil, err
	}
	for _, c := range claims {
		won, err := c.cmd.Int()
		if err != nil {
			return nil, fmt.Errorf("read dedupe claim: %w", err)
		}
		if won == 1 {
			m := batch[c.i]
			results[c.i].Out = []worker.Output{{Topic: schemas.TopicUnique, Key: c.key, Value: m.Value}}
			d.Metrics.unique.Inc()
			continue
		}
		d.Metrics.duplicates.Inc()
	}
	if err := d.checkLifecycle(ctx, batch, envs, results); err != nil {
		return nil, err
	}
	return results, nil
}

// run pipelines the claims; if the server lost the script (restart,
// SCRIPT FLUSH) it loads it and runs the pipeline once more, which is safe
// because a claim is idempotent for its owner.
func (d *Deduper) run(ctx context.Context, keys, owners []string, ttl string, bind func(int, *redis.Cmd)) error {
	for attempt := 0; ; attempt++ {
		cmds, err := d.pipeline(ctx, keys, owners, ttl)
		if err != nil && attempt == 0 && strings.Contains(err.Error(), "NOSCRIPT") {
			if lerr := claimScript.Load(ctx, d.Redis).Err(); lerr != nil {
				return fmt.Errorf("load dedupe script: %w", lerr)
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("claim %d dedupe keys: %w", len(keys), err)
		}
		for j, c := range cmds {
			bind(j, c)
		}
		return nil
	}
}

func (d *Deduper) pipeline(ctx context.Context, keys, owners []string, ttl string) ([]*redis.Cmd, error) {
	p := d.Redis.Pipeline()
	cmds := make([]*redis.Cmd, len(keys))
	for j := range keys {
		cmds[j] = claimScript.EvalSha(ctx, p, []string{keys[j]}, owners[j], ttl)
	}
	_, err := p.Exec(ctx)
	return cmds, err
}
