package validation

import (
	"bytes"
	"slices"

	"github.com/reftrack/reftrack/schemas/internal/jsonstr"
)

// encode writes the tree, with its replacements, as encoding/json writes
// the map jsoncheck.Decode returns for it: members sorted by name, strings
// escaped for HTML, numbers as sent. A normalized event leaves validate in
// these bytes either way; TestFastAgrees compares them.
func (t *tree) encode(dst []byte) []byte { return t.encodeNode(dst, 0) }

func (t *tree) encodeNode(dst []byte, i int32) []byte {
	n := &t.nodes[i]
	switch n.kind {
	case kindObject:
		var stack [16]int32
		members := stack[:0]
		for m := n.child; m != 0; m = t.nodes[m].next {
			members = append(members, m)
		}
		slices.SortFunc(members, func(a, b int32) int { return bytes.Compare(t.name(a), t.name(b)) })
		dst = append(dst, '{')
		for k, m := range members {
			if k > 0 {
				dst = append(dst, ',')
			}
			dst = jsonstr.Append(dst, t.name(m)) // names have no escapes (tree refuses them)
			dst = append(dst, ':')
			dst = t.encodeNode(dst, m)
		}
		return append(dst, '}')
	case kindArray:
		dst = append(dst, '[')
		for m := n.child; m != 0; m = t.nodes[m].next {
			if m != n.child {
				dst = append(dst, ',')
			}
			dst = t.encodeNode(dst, m)
		}
		return append(dst, ']')
	case kindString:
		return jsonstr.Append(dst, t.text(i))
	}
	return append(dst, t.raw[n.start:n.end]...) // a number as sent, true, false, null
}
