package schemas

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/go-json-experiment/json/jsontext"
	jsonv1 "github.com/go-json-experiment/json/v1"
	"github.com/reftrack/reftrack/schemas/internal/jsonstr"
)

// Encode is encoding/json's Marshal, byte for byte for valid UTF-8
// (TestEncodeAsEncodingJSON holds it to that on every event type; invalid
// UTF-8 becomes a raw U+FFFD instead of "\ufffd", the same JSON string),
// on the v2 engine: about 30 % less
// CPU and 40 % fewer allocations for an attribution, whose per-touch weight
// maps and copied payload made encoding/json a fifth of attribute's time.
// Stages use it for what they produce; values with encoding/json.Number in
// them (validate's decoded events) keep encoding/json, which this one
// would write as strings.
func Encode(v any) ([]byte, error) {
	return jsonv1.Marshal(v)
}

// Canonical is raw as encoding/json writes what it decodes from it into
// an any: objects' members sorted by name (the last of duplicates kept),
// no insignificant space, numbers through float64, strings escaped as
// encoding/json escapes them (HTML characters, U+2028 and U+2029). dedupe
// fingerprints payloads in this form, so the bytes must never change:
// claims written with a fingerprint outlive a deploy.
// FuzzCanonicalAsEncodingJSON holds it to encoding/json's Unmarshal and
// Marshal, which it replaces: it walks the tokens once instead of building
// and re-walking a tree of maps (BenchmarkCanonical).
func Canonical(raw []byte) ([]byte, error) {
	c := canonicalizers.Get().(*canonicalizer)
	defer canonicalizers.Put(c)
	c.r.Reset(raw)
	c.dec.Reset(&c.r, jsontext.AllowInvalidUTF8(true), jsontext.AllowDuplicateNames(true))
	out, err := c.value(make([]byte, 0, len(raw)))
	if err != nil {
		return nil, err
	}
	if _, err := c.dec.ReadToken(); err != io.EOF {
		return nil, fmt.Errorf("canonical JSON: data after the value: %v", err)
	}
	return out, nil
}

// canonicalizer is Canonical's reusable state: decoders are large.
type canonicalizer struct {
	r   bytes.Reader
	dec jsontext.Decoder
}

var canonicalizers = sync.Pool{New: func() any { return new(canonicalizer) }}

// member is one object member: its name and where its canonical value is
// in the object's scratch buffer.
type member struct {
	name       string
	start, end int
}

// value appends the canonical form of the next value to dst.
func (c *canonicalizer) value(dst []byte) ([]byte, error) {
	tok, err := c.dec.ReadToken()
	if err != nil {
		return nil, err
	}
	switch tok.Kind() {
	case '"':
		return jsonstr.Append(dst, tok.String()), nil
	case '0':
		f, err := strconv.ParseFloat(tok.String(), 64)
		if err != nil {
			return nil, fmt.Errorf("canonical JSON: number %s: %w", tok.String(), err)
		}
		return appendJSONFloat(dst, f), nil
	case '[':
		dst = append(dst, '[')
		for n := 0; c.dec.PeekKind() != ']'; n++ {
			if n > 0 {
				dst = append(dst, ',')
			}
			if dst, err = c.value(dst); err != nil {
				return nil, err
			}
		}
		if _, err := c.dec.ReadToken(); err != nil {
			return nil, err
		}
		return append(dst, ']'), nil
	case '{':
		return c.object(dst)
	}
	return append(dst, tok.String()...), nil // null, true, false
}

// object appends the canonical form of an object whose '{' was read.
func (c *canonicalizer) object(dst []byte) ([]byte, error) {
	var members []member
	var scratch []byte
	for c.dec.PeekKind() != '}' {
		name, err := c.dec.ReadToken()
		if err != nil {
			return nil, err
		}
		m := member{name: name.String(), start: len(scratch)}
		if scratch, err = c.value(scratch); err != nil {
			return nil, err
		}
		m.end = len(scratch)
		members = append(members, m)
	}
	if _, err := c.dec.ReadToken(); err != nil {
		return nil, err
	}
	// Stable, so that of members with one name the last is last: a map
	// decoded from them holds its value.
	slices.SortStableFunc(members, func(a, b member) int { return strings.Compare(a.name, b.name) })
	dst = append(dst, '{')
	for i, m := range members {
		if i+1 < len(members) && members[i+1].name == m.name {
			continue
		}
		if len(dst) > 0 && dst[len(dst)-1] != '{' {
			dst = append(dst, ',')
		}
		dst = jsonstr.Append(dst, m.name)
		dst = append(dst, ':')
		dst = append(dst, scratch[m.start:m.end]...)
	}
	return append(dst, '}'), nil
}

// appendJSONFloat is encoding/json's encoding of a float64.
func appendJSONFloat(dst []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if n := len(dst); format == 'e' && n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
		dst[n-2] = dst[n-1] // e-09 becomes e-9, as encoding/json writes it
		dst = dst[:n-1]
	}
	return dst
}
