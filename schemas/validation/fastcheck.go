package validation

import (
	"bytes"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/reftrack/reftrack/schemas"
)

var trees = sync.Pool{New: func() any { return &tree{nodes: make([]node, 0, 64)} }}

// maxPooledNodes bounds what the pool keeps per tree (an event is ~30
// nodes; 4096 of them are 200 kB).
const maxPooledNodes = 4096

// fastCheck is Check for an event the fast path can pass: it returns ok
// only when the slow path would accept the event with the same envelope and
// the same bytes out. Everything else (an invalid event, or one the tree
// does not read) returns ok false and is judged by slowCheck.
func (v *Validator) fastCheck(raw []byte) (schemas.Envelope, []byte, bool) {
	if !utf8.Valid(raw) {
		return schemas.Envelope{}, nil, false
	}
	t := trees.Get().(*tree)
	defer func() {
		t.reset(nil) // a pooled tree must not keep the event alive
		if cap(t.nodes) <= maxPooledNodes {
			trees.Put(t) // a huge event's node list is left to the collector
		}
	}()
	t.reset(raw)
	if !t.parse() || t.nodes[0].kind != kindObject {
		return schemas.Envelope{}, nil, false
	}
	eventType, version := t.member(0, "event_type"), t.member(0, "schema_version")
	if eventType == 0 || version == 0 || t.nodes[eventType].kind != kindString || t.nodes[version].kind != kindNumber {
		return schemas.Envelope{}, nil, false
	}
	key := schemaKey{t.source(eventType), int(t.nodes[version].num)}
	c := v.fast[key]
	if c == nil || int64(key.version) != t.nodes[version].num || !v.normalizeTree(t) || !c.valid(t, 0) ||
		!timesParse(t) || !moneyFits(t, key.eventType) {
		return schemas.Envelope{}, nil, false
	}
	out, ok := t.output()
	if !ok {
		return schemas.Envelope{}, nil, false
	}
	return t.envelope(key), out, true
}

// envelope reads the identifying fields. text may view raw, which the
// caller owns, so they are copied: into one string, sliced five ways.
func (t *tree) envelope(key schemaKey) schemas.Envelope {
	names := [...]string{"event_id", "event_type", "partner_id", "lead_id", "idempotency_key"}
	var ends [len(names)]int
	var buf [256]byte
	all := buf[:0]
	for i, k := range names {
		if m := t.member(0, k); m != 0 && t.nodes[m].kind == kindString {
			all = append(all, t.text(m)...)
		}
		ends[i] = len(all)
	}
	s := string(all)
	field := func(i int) string {
		if i == 0 {
			return s[:ends[0]]
		}
		return s[ends[i-1]:ends[i]]
	}
	return schemas.Envelope{EventID: field(0), EventType: field(1), SchemaVersion: key.version,
		PartnerID: field(2), LeadID: field(3), IdempotencyKey: field(4)}
}

// normalizeTree applies the normalizer's fields to the tree as
// replacements; a value that cannot be normalized (a bad phone) is the
// slow path's to name.
func (v *Validator) normalizeTree(t *tree) bool {
	payload := t.member(0, "payload")
	if payload == 0 || t.nodes[payload].kind != kindObject {
		return true
	}
	for _, f := range fields {
		m := payload
		for _, k := range f.path {
			if m = t.member(m, k); m == 0 {
				break
			}
		}
		if m == 0 {
			continue
		}
		i := t.member(m, f.name)
		if i == 0 || t.nodes[i].kind != kindString {
			continue
		}
		s := t.source(i)
		c, r := f.canon(v.normalize, s)
		if r != nil {
			return false
		}
		if c != s {
			t.repl = append(t.repl, replacement{i, c})
		}
	}
	return true
}

// timesParse is the slow path's check that Go's time can hold the times.
func timesParse(t *tree) bool {
	for _, k := range []string{"occurred_at", "received_at"} {
		if m := t.member(0, k); m != 0 && t.nodes[m].kind == kindString {
			if _, err := time.Parse(time.RFC3339Nano, t.text(m)); err != nil {
				return false
			}
		}
	}
	return true
}

// moneyFits is checkMoney on the tree.
func moneyFits(t *tree, eventType string) bool {
	if eventType != schemas.TypePolicyIssued {
		return true
	}
	payload := t.member(0, "payload")
	get := func(k string) string {
		if m := t.member(payload, k); payload != 0 && m != 0 && t.nodes[m].kind == kindString {
			return t.text(m)
		}
		return ""
	}
	return len(moneyReasons(get("annual_premium"), get("currency"))) == 0 && t.member(payload, "installment") == 0 // installments: slow path
}

// output is what the slow path writes for an accepted event: the bytes as
// sent minus white space when nothing was normalized, else the event as
// encoding/json writes a map (see encode.go).
func (t *tree) output() ([]byte, bool) {
	if len(t.repl) > 0 {
		return t.encode(make([]byte, 0, len(t.raw)+16)), true
	}
	out := bytes.Clone(t.raw)
	if !t.ws {
		return out, true
	}
	v := jsontext.Value(out)
	if err := v.Compact(); err != nil {
		return nil, false
	}
	return v, true
}
