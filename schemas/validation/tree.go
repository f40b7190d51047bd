package validation

import (
	"bytes"
	"unicode/utf8"
	"unsafe"
)

// tree is one event read by the fast path: a flat list of nodes pointing
// into the raw bytes, so judging an event allocates next to nothing. It
// reads exactly RFC 8259 JSON; whatever it is not sure of (a number that is
// not a plain integer, an escaped surrogate, an escaped member name, deep
// nesting, a large object) makes parse report false, and the event goes the
// slow way, whose verdict is the reference anyway.
type tree struct {
	raw   []byte
	nodes []node
	ws    bool // white space outside strings: the output must be compacted
	// repl holds normalized strings by node index (see fastNormalize).
	repl []replacement
}

type replacement struct {
	node int32
	s    string
}

type kind uint8

const (
	kindNull kind = iota
	kindBool
	kindNumber
	kindString
	kindArray
	kindObject
)

type node struct {
	kind       kind
	esc        bool  // a string with escapes (its value is not its raw bytes)
	truth      bool  // the value of a bool
	start, end int32 // the value's bytes in raw, quotes included
	nameStart  int32 // an object member's name in raw, without quotes
	nameEnd    int32
	next       int32 // next sibling, 0 for none (the root is never one)
	child      int32 // first child, 0 for none
	count      int32 // children
	num        int64 // a number's value (numbers are plain integers here)
}

const (
	maxTreeDepth   = 16 // reftrack's events nest 4 deep; deeper goes the slow way
	maxObjectNames = 64 // duplicate names are looked for pairwise
	maxIntDigits   = 18 // fits int64 without overflow checks
)

func (t *tree) reset(raw []byte) {
	clear(t.repl) // replacements may view the previous event's bytes
	t.raw, t.nodes, t.ws, t.repl = raw, t.nodes[:0], false, t.repl[:0]
}

// parse reads raw as exactly one JSON value.
func (t *tree) parse() bool {
	i, ok := t.value(0, 0)
	if !ok {
		return false
	}
	i = t.skipSpace(i)
	return i == len(t.raw)
}

func (t *tree) skipSpace(i int) int {
	for i < len(t.raw) {
		switch t.raw[i] {
		case ' ', '\t', '\n', '\r':
			t.ws = true
			i++
		default:
			return i
		}
	}
	return i
}

// value reads the value at raw[i:] into a new node and returns the index
// after it.
func (t *tree) value(i, depth int) (int, bool) {
	i = t.skipSpace(i)
	if i >= len(t.raw) || depth > maxTreeDepth {
		return 0, false
	}
	idx := len(t.nodes)
	t.nodes = append(t.nodes, node{start: int32(i)})
	var ok bool
	switch c := t.raw[i]; {
	case c == '{':
		i, ok = t.object(idx, i+1, depth)
	case c == '[':
		i, ok = t.array(idx, i+1, depth)
	case c == '"':
		var esc bool
		i, esc, ok = t.str(i)
		t.nodes[idx].kind, t.nodes[idx].esc = kindString, esc
	case c == 't':
		i, ok = t.literal(i, "true")
		t.nodes[idx].kind, t.nodes[idx].truth = kindBool, true
	case c == 'f':
		i, ok = t.literal(i, "false")
		t.nodes[idx].kind = kindBool
	case c == 'n':
		i, ok = t.literal(i, "null")
	case c == '-' || c >= '0' && c <= '9':
		var n int64
		i, n, ok = t.integer(i)
		t.nodes[idx].kind, t.nodes[idx].num = kindNumber, n
	}
	t.nodes[idx].end = int32(i)
	return i, ok
}

func (t *tree) literal(i int, lit string) (int, bool) {
	if !bytes.HasPrefix(t.raw[i:], []byte(lit)) {
		return 0, false
	}
	return i + len(lit), true
}

// integer reads a plain integer (no fraction, no exponent, at most 18
// digits); any other number is for the slow path.
func (t *tree) integer(i int) (int, int64, bool) {
	neg := t.raw[i] == '-'
	if neg {
		i++
	}
	start := i
	var n int64
	for i < len(t.raw) && t.raw[i] >= '0' && t.raw[i] <= '9' {
		n = n*10 + int64(t.raw[i]-'0')
		i++
	}
	digits := i - start
	if digits == 0 || digits > maxIntDigits || (digits > 1 && t.raw[start] == '0') {
		return 0, 0, false
	}
	if i < len(t.raw) {
		switch t.raw[i] {
		case '.', 'e', 'E':
			return 0, 0, false
		}
	}
	if neg {
		n = -n
	}
	return i, n, true
}

// str checks the string starting at raw[i] (a quote) and returns the index
// after its closing quote and whether it holds escapes.
func (t *tree) str(i int) (int, bool, bool) {
	esc := false
	for i++; i < len(t.raw); i++ {
		switch c := t.raw[i]; {
		case c == '"':
			return i + 1, esc, true
		case c < 0x20:
			return 0, false, false
		case c == '\\':
			esc = true
			if i+1 >= len(t.raw) {
				return 0, false, false
			}
			i++
			switch t.raw[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				r, ok := hex4(t.raw[i+1:])
				if !ok || utf16IsSurrogate(r) {
					return 0, false, false
				}
				i += 4
			default:
				return 0, false, false
			}
		}
	}
	return 0, false, false
}

func utf16IsSurrogate(r rune) bool { return r >= 0xd800 && r < 0xe000 }

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

func (t *tree) object(idx, i, depth int) (int, bool) {
	t.nodes[idx].kind = kindObject
	i = t.skipSpace(i)
	if i < len(t.raw) && t.raw[i] == '}' {
		return i + 1, true
	}
	prev := 0
	for n := 0; ; n++ {
		i = t.skipSpace(i)
		if i >= len(t.raw) || t.raw[i] != '"' || n == maxObjectNames {
			return 0, false
		}
		nameStart := i + 1
		end, esc, ok := t.str(i)
		if !ok || esc { // an escaped name could repeat another one unseen
			return 0, false
		}
		i = t.skipSpace(end)
		if i >= len(t.raw) || t.raw[i] != ':' {
			return 0, false
		}
		child := len(t.nodes)
		if i, ok = t.value(i+1, depth+1); !ok {
			return 0, false
		}
		t.nodes[child].nameStart, t.nodes[child].nameEnd = int32(nameStart), int32(end-1)
		if t.hasName(idx, t.raw[nameStart:end-1]) {
			return 0, false // duplicate_key is the slow path's to name
		}
		t.link(idx, prev, child)
		prev = child
		var done bool
		if i, done, ok = t.separator(i, '}'); !ok || done {
			return i, ok
		}
	}
}

func (t *tree) array(idx, i, depth int) (int, bool) {
	t.nodes[idx].kind = kindArray
	i = t.skipSpace(i)
	if i < len(t.raw) && t.raw[i] == ']' {
		return i + 1, true
	}
	prev := 0
	for {
		child := len(t.nodes)
		var ok bool
		if i, ok = t.value(i, depth+1); !ok {
			return 0, false
		}
		t.link(idx, prev, child)
		prev = child
		var done bool
		if i, done, ok = t.separator(i, ']'); !ok || done {
			return i, ok
		}
	}
}

// separator reads what follows a member or an element: a comma, with more
// to come, or the closing byte of its object or array (done).
func (t *tree) separator(i int, closing byte) (next int, done, ok bool) {
	i = t.skipSpace(i)
	if i >= len(t.raw) {
		return 0, false, false
	}
	switch t.raw[i] {
	case ',':
		return i + 1, false, true
	case closing:
		return i + 1, true, true
	}
	return 0, false, false
}

func (t *tree) link(parent, prev, child int) {
	if prev == 0 {
		t.nodes[parent].child = int32(child)
	} else {
		t.nodes[prev].next = int32(child)
	}
	t.nodes[parent].count++
}

// hasName reports whether the object at idx already has a member name.
func (t *tree) hasName(idx int, name []byte) bool {
	for c := t.nodes[idx].child; c != 0; c = t.nodes[c].next {
		if bytes.Equal(t.name(c), name) {
			return true
		}
	}
	return false
}

func (t *tree) name(i int32) []byte { return t.raw[t.nodes[i].nameStart:t.nodes[i].nameEnd] }

// member returns the child of object idx named name, or 0.
func (t *tree) member(idx int32, name string) int32 {
	if t.nodes[idx].kind != kindObject {
		return 0
	}
	for c := t.nodes[idx].child; c != 0; c = t.nodes[c].next {
		if string(t.name(c)) == name {
			return c
		}
	}
	return 0
}

// text returns a string node's value: its normalized replacement, a view
// of raw when it has no escapes, or a fresh unescaped copy. A view must not
// outlive the check of raw.
func (t *tree) text(i int32) string {
	for _, r := range t.repl {
		if r.node == i {
			return r.s
		}
	}
	return t.source(i)
}

// source is text without the replacements.
func (t *tree) source(i int32) string {
	n := &t.nodes[i]
	b := t.raw[n.start+1 : n.end-1]
	if !n.esc {
		if len(b) == 0 {
			return ""
		}
		return unsafe.String(&b[0], len(b))
	}
	return string(unescape(nil, b))
}

// unescape appends the value of a checked string body (no surrogate
// escapes: str refuses them) to dst.
func unescape(dst, b []byte) []byte {
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '\\' {
			dst = append(dst, c)
			continue
		}
		i++
		switch b[i] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, _ := hex4(b[i+1:])
			dst = utf8.AppendRune(dst, r)
			i += 4
		default: // '"', '\\', '/'
			dst = append(dst, b[i])
		}
	}
	return dst
}
