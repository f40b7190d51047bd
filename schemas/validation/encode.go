package validation

import (
	"bytes"
	"slices"
	"unicode/utf8"
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
			dst = appendString(dst, t.name(m)) // names have no escapes (tree refuses them)
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
		return appendString(dst, t.text(i))
	}
	return append(dst, t.raw[n.start:n.end]...) // a number as sent, true, false, null
}

const hexDigits = "0123456789abcdef"

// appendString is encoding/json's string encoding with HTML escaping, for
// valid UTF-8 (the fast path only sees that).
func appendString[S []byte | string](dst []byte, s S) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(string(s[i:min(len(s), i+utf8.UTFMax)]))
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
			start = i + size
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
