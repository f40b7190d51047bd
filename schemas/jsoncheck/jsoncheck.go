// Package jsoncheck rejects JSON that encoding/json would accept but
// silently reinterpret: duplicate object keys (the last one wins, so two
// parties can read one event differently) and nesting deep enough to be an
// attack rather than an event.
package jsoncheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
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

type frame struct {
	object bool
	keys   map[string]bool
	path   string // pointer of this container
	key    string // last key read, for objects
	index  int    // next index, for arrays
}

// Check scans raw once. Malformed JSON is not its business: it returns nil
// and leaves the decoder that follows to report it.
func Check(raw []byte) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var stack []*frame
	expectKey := false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) || err != nil {
			return nil
		}
		top := (*frame)(nil)
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && expectKey {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				expectKey = len(stack) > 0 && stack[len(stack)-1].object
				continue
			}
			k, _ := tok.(string)
			if top.keys[k] {
				return &Error{CodeDuplicateKey, top.path + "/" + escape(k), fmt.Sprintf("key %q appears twice", k)}
			}
			top.keys[k] = true
			top.key = k
			expectKey = false
			continue
		}
		// tok is a value: of top's current key or index, or the root.
		path := ""
		if top != nil {
			if top.object {
				path = top.path + "/" + escape(top.key)
			} else {
				path = top.path + "/" + strconv.Itoa(top.index)
				top.index++
			}
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			if len(stack) >= MaxDepth {
				return &Error{CodeTooDeep, path, fmt.Sprintf("nesting deeper than %d", MaxDepth)}
			}
			f := &frame{object: tok == json.Delim('{'), path: path}
			if f.object {
				f.keys = map[string]bool{}
			}
			stack = append(stack, f)
			expectKey = f.object
			continue
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		expectKey = len(stack) > 0 && stack[len(stack)-1].object
	}
}

func escape(k string) string {
	return strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
}
