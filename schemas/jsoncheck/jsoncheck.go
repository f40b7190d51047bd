// Package jsoncheck rejects JSON that encoding/json would accept but
// silently reinterpret: duplicate object keys (the last one wins, so two
// parties can read one event differently) and nesting deep enough to be an
// attack rather than an event. Decode (one value) and Members (one object's
// top-level members) refuse both while reading, in one jsontext pass; the
// depth is checked first with a plain byte scan, so the tokenizer never
// walks a hostile nesting.
package jsoncheck

import "fmt"

// MaxDepth is the deepest nesting accepted; reftrack's events need 4.
const MaxDepth = 32

// Reason codes.
const (
	CodeDuplicateKey = "duplicate_key"
	CodeTooDeep      = "too_deep"
)

// Error names what is wrong and where (a JSON pointer).
type Error struct {
	Code, Pointer, Message string
}

func (e *Error) Error() string { return fmt.Sprintf("%s at %q: %s", e.Code, e.Pointer, e.Message) }

// maxDepth returns how deep raw nests, stopping at MaxDepth+1, and where.
func maxDepth(raw []byte) (int, int) {
	depth, deepest := 0, 0
	inString, escaped := false, false
	for i, c := range raw {
		switch {
		case inString && escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			depth++
			if depth > deepest {
				deepest = depth
				if deepest > MaxDepth {
					return deepest, i
				}
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest, len(raw)
}
