// Package jsoncheck rejects JSON that encoding/json would accept but
// silently reinterpret: duplicate object keys (the last one wins, so two
// parties can read one event differently) and nesting deep enough to be an
// attack rather than an event.
package jsoncheck

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/go-json-experiment/json/jsontext"
)

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

// Check scans raw once. Malformed JSON is not its business: it returns nil
// and leaves the decoder that follows to report it. The depth is checked
// first with a plain byte scan, so the duplicate-name check (jsontext, the
// encoding/json v2 tokenizer, which refuses duplicate names by default)
// never walks a hostile nesting.
func Check(raw []byte) error {
	if depth, at := maxDepth(raw); depth > MaxDepth {
		return &Error{CodeTooDeep, "", fmt.Sprintf("nesting deeper than %d (at byte %d)", MaxDepth, at)}
	}
	err := jsontext.NewDecoder(bytes.NewReader(raw), jsontext.AllowInvalidUTF8(true)).SkipValue()
	var se *jsontext.SyntacticError
	if errors.As(err, &se) && errors.Is(se.Err, jsontext.ErrDuplicateName) {
		return &Error{CodeDuplicateKey, string(se.JSONPointer), "an object has this key twice"}
	}
	return nil
}

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
