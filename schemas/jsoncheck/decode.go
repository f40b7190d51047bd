package jsoncheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/go-json-experiment/json/jsontext"
)

// SyntaxError is malformed JSON: what Decode found instead of a value.
type SyntaxError struct{ Err error }

func (e *SyntaxError) Error() string { return e.Err.Error() }
func (e *SyntaxError) Unwrap() error { return e.Err }

type decoder struct {
	in []byte // what r reads
	r  bytes.Reader
	d  *jsontext.Decoder
}

var decoders = sync.Pool{New: func() any {
	dc := &decoder{}
	dc.d = jsontext.NewDecoder(&dc.r, jsontext.AllowInvalidUTF8(true))
	return dc
}}

// Decode is Check and decoding in one pass: it returns the value as
// encoding/json with UseNumber would (map[string]any, []any, string,
// json.Number, bool, nil), or *Error for a duplicate name or deep nesting,
// or *SyntaxError for anything that is not exactly one JSON value. Like
// encoding/json it turns invalid UTF-8 and lone surrogates into U+FFFD;
// callers that must refuse them check utf8.Valid first.
func Decode(raw []byte) (any, error) {
	return read(raw, (*decoder).value)
}

// read runs one top-level read over raw with a pooled decoder, then makes
// sure nothing follows the value, and classifies any error.
func read[T any](raw []byte, f func(*decoder) (T, error)) (T, error) {
	var zero T
	if depth, at := maxDepth(raw); depth > MaxDepth {
		return zero, &Error{CodeTooDeep, "", fmt.Sprintf("nesting deeper than %d (at byte %d)", MaxDepth, at)}
	}
	dc := decoders.Get().(*decoder)
	defer decoders.Put(dc)
	dc.in = raw
	defer func() { dc.in = nil }() // a pooled decoder must not keep the input alive
	dc.r.Reset(raw)
	dc.d.Reset(&dc.r, jsontext.AllowInvalidUTF8(true))
	v, err := f(dc)
	if err == nil {
		if _, err = dc.d.ReadToken(); errors.Is(err, io.EOF) {
			return v, nil
		}
		if err == nil {
			err = errors.New("unexpected data after the JSON value")
		}
	}
	return zero, classify(err)
}

func (dc *decoder) value() (any, error) {
	d := dc.d
	switch d.PeekKind() {
	case '{':
		if _, err := d.ReadToken(); err != nil {
			return nil, err
		}
		m := map[string]any{}
		for d.PeekKind() != '}' {
			tok, err := d.ReadToken()
			if err != nil {
				return nil, err
			}
			name := tok.String() // the token dies with the next read
			v, err := dc.value()
			if err != nil {
				return nil, err
			}
			m[name] = v
		}
		_, err := d.ReadToken()
		return m, err
	case '[':
		if _, err := d.ReadToken(); err != nil {
			return nil, err
		}
		a := []any{}
		for d.PeekKind() != ']' {
			v, err := dc.value()
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		_, err := d.ReadToken()
		return a, err
	case '0':
		v, err := d.ReadValue()
		return json.Number(v), err
	default:
		t, err := d.ReadToken()
		if err != nil {
			return nil, err
		}
		switch t.Kind() {
		case '"':
			return t.String(), nil
		case 't', 'f':
			return t.Bool(), nil
		case 'n':
			return nil, nil
		}
		return nil, fmt.Errorf("unexpected %v", t.Kind())
	}
}
