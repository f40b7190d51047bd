package jsoncheck

import (
	"bytes"
	"errors"
	"io"
	"slices"

	"github.com/go-json-experiment/json/jsontext"
)

// Member is one name/value pair of an object; Value is its JSON text as it
// appears in the input (white space included), sharing the input's memory.
type Member struct {
	Name  string
	Value jsontext.Value
}

// NotObjectError is a well-formed JSON value that is not an object.
type NotObjectError struct{ Kind string }

func (e *NotObjectError) Error() string { return "a JSON object was expected, got " + e.Kind }

// Members splits one JSON object into its members, in order, with the same
// guarantees as Decode (no duplicate names at any depth, bounded nesting,
// nothing after the object) but without building the values: for a stage
// that only reads or adds a few top-level fields. Invalid UTF-8 is passed
// through as it came, for validate to refuse with its reason.
func Members(raw []byte) ([]Member, error) {
	return read(raw, (*decoder).members)
}

func (dc *decoder) members() ([]Member, error) {
	d := dc.d
	switch k := d.PeekKind(); k {
	case '{':
	case '[', '"', '0', 't', 'f', 'n':
		if _, err := d.ReadValue(); err != nil {
			return nil, err
		}
		return nil, &NotObjectError{Kind: kindName(k)}
	default:
		_, err := d.ReadToken() // reports what is there instead
		return nil, err
	}
	if _, err := d.ReadToken(); err != nil {
		return nil, err
	}
	var out []Member
	for d.PeekKind() != '}' {
		tok, err := d.ReadToken()
		if err != nil {
			return nil, err
		}
		name := tok.String()
		v, err := d.ReadValue()
		if err != nil {
			return nil, err
		}
		// The decoder reuses its buffer, so the value is taken from the
		// input instead: no copy and no compaction (which were a fifth of
		// ingest's stamping). The capacity is cut so an append to one
		// member cannot overwrite the next.
		end := int(d.InputOffset())
		if in := dc.in[end-len(v) : end : end]; bytes.Equal(in, v) {
			v = in
		} else {
			v = v.Clone() // not expected: jsontext hands out input bytes as they are
		}
		out = append(out, Member{Name: name, Value: v})
	}
	_, err := d.ReadToken()
	return out, err
}

func kindName(k jsontext.Kind) string {
	switch k {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case '0':
		return "a number"
	case 't', 'f':
		return "a boolean"
	}
	return "null"
}

// classify turns a decoder error into this package's error types.
func classify(err error) error {
	var noe *NotObjectError
	if errors.As(err, &noe) {
		return err
	}
	var se *jsontext.SyntacticError
	if errors.As(err, &se) && errors.Is(se.Err, jsontext.ErrDuplicateName) {
		return &Error{CodeDuplicateKey, string(se.JSONPointer), "an object has this key twice"}
	}
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return &SyntaxError{err}
}

// Without returns the object raw with the named members left out, the
// others as they were and in their order.
func Without(raw []byte, names ...string) ([]byte, error) {
	members, err := Members(raw)
	if err != nil {
		return nil, err
	}
	return Object(slices.DeleteFunc(members, func(m Member) bool { return slices.Contains(names, m.Name) }))
}

// Object writes members as one JSON object, values as they are. Only a
// name that is not valid UTF-8 fails.
func Object(members []Member) ([]byte, error) {
	n := 2
	for _, m := range members {
		n += len(m.Name) + len(m.Value) + 4
	}
	out := make([]byte, 0, n)
	out = append(out, '{')
	for i, m := range members {
		if i > 0 {
			out = append(out, ',')
		}
		var err error
		if out, err = jsontext.AppendQuote(out, m.Name); err != nil {
			return nil, err
		}
		out = append(append(out, ':'), m.Value...)
	}
	return append(out, '}'), nil
}
