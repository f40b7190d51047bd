package sink

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/reftrack/reftrack/schemas"
)

// Dead letters are kept whole on the dead-letter topic, where re-drive
// needs their bytes; ClickHouse, which analysts query and which keeps rows
// for as long as its partitions live, gets a copy with the lead's personal
// data taken out. The rule is conservative: any member named like a
// contact field, at any depth, is replaced, because a rejected record is by
// definition one whose shape cannot be trusted.

// Redacted replaces a withheld value.
const Redacted = "[redacted]"

// piiMembers are the member names whose values are withheld: the lead and
// its contact fields (schemas.Contact), and a policy's policyholder_ref (a
// person's id), wherever they appear.
var piiMembers = map[string]bool{"lead": true, "name": true, "email": true, "phone": true, "policyholder_ref": true}

// redactDeadLetter returns the ClickHouse copy of a dead letter's original
// bytes and reason messages: personal data replaced by Redacted, in the
// document and wherever a message repeats it. A record that is not a JSON
// object cannot be searched for personal data, so only its size and digest
// are kept.
func redactDeadLetter(original []byte, reasons []schemas.Reason) (string, []string) {
	var doc any
	dec := json.NewDecoder(bytes.NewReader(original))
	dec.UseNumber()
	if dec.Decode(&doc) != nil || dec.Decode(new(any)) != io.EOF || !isJSONObject(doc) {
		sum := sha256.Sum256(original)
		withheld := fmt.Sprintf("[withheld: %d bytes that are not one JSON object, sha256 %s; the original is on the dead-letter topic]",
			len(original), hex.EncodeToString(sum[:]))
		return withheld, redactMessages(reasons, withholdQuoted)
	}
	var removed []string
	redacted := redactValue(doc, &removed)
	out, err := json.Marshal(redacted)
	if err != nil {
		// Only values encoding/json decoded itself: cannot fail. Keep
		// nothing rather than the original if it ever does.
		out = []byte(`"` + Redacted + `"`)
	}
	return string(out), redactMessages(reasons, func(m string) string { return scrub(m, removed) })
}

// redactMessages words each reason for ClickHouse: one about a PII member
// says where, not what (validators repeat the value they refuse, often in
// the spelling normalization gave it); any other goes through clean.
func redactMessages(reasons []schemas.Reason, clean func(string) string) []string {
	msgs := make([]string, len(reasons))
	for i, r := range reasons {
		if underPII(r.Pointer) {
			msgs[i] = r.Code + ": the value at " + r.Pointer + " is personal data and is not repeated here (the dead-letter topic has it)"
			continue
		}
		msgs[i] = clean(r.Message)
	}
	return msgs
}

func isJSONObject(v any) bool { _, ok := v.(map[string]any); return ok }

// redactValue replaces the values of PII members, collecting every string
// it removed so that messages echoing them can be scrubbed too.
func redactValue(v any, removed *[]string) any {
	switch t := v.(type) {
	case map[string]any:
		for k, val := range t {
			if piiMembers[strings.ToLower(k)] {
				collectStrings(val, removed)
				t[k] = Redacted
				continue
			}
			t[k] = redactValue(val, removed)
		}
		return t
	case []any:
		for i, val := range t {
			t[i] = redactValue(val, removed)
		}
		return t
	}
	return v
}

func collectStrings(v any, into *[]string) {
	switch t := v.(type) {
	case string:
		*into = append(*into, t)
	case json.Number:
		*into = append(*into, t.String())
	case map[string]any:
		for _, val := range t {
			collectStrings(val, into)
		}
	case []any:
		for _, val := range t {
			collectStrings(val, into)
		}
	}
}

// scrub replaces every removed value a message repeats, as sent and in the
// forms validate's normalization may have given it (trimmed, lower-cased).
func scrub(msg string, removed []string) string {
	var forms []string
	for _, s := range removed {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		forms = append(forms, s, strings.ToLower(s))
	}
	// Longest first, so a value containing another is replaced whole.
	sort.Slice(forms, func(i, j int) bool { return len(forms[i]) > len(forms[j]) })
	for _, f := range forms {
		msg = replaceFold(msg, f)
	}
	return msg
}

// replaceFold replaces occurrences of old in s, ignoring case.
func replaceFold(s, old string) string {
	lower, lold := strings.ToLower(s), strings.ToLower(old)
	if len(lower) != len(s) || !strings.Contains(lower, lold) {
		if !strings.Contains(s, old) {
			return s
		}
		return strings.ReplaceAll(s, old, Redacted)
	}
	var b strings.Builder
	for {
		i := strings.Index(lower, lold)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteString(Redacted)
		s, lower = s[i+len(old):], lower[i+len(lold):]
	}
}

// underPII says whether a reason's pointer is at or below a PII member.
func underPII(pointer string) bool {
	for _, seg := range strings.Split(pointer, "/") {
		if piiMembers[strings.ToLower(seg)] {
			return true
		}
	}
	return false
}

// withholdQuoted replaces every quoted stretch of a message ('…' or "…"),
// where validators and decoders put the value they refuse: used when the
// record could not be read, so what it held is unknown.
func withholdQuoted(msg string) string {
	var b strings.Builder
	for len(msg) > 0 {
		i := strings.IndexAny(msg, `'"`)
		if i < 0 {
			break
		}
		q := msg[i]
		j := strings.IndexByte(msg[i+1:], q)
		if j < 0 {
			break
		}
		b.WriteString(msg[:i+1])
		b.WriteString(Redacted)
		b.WriteByte(q)
		msg = msg[i+1+j+1:]
	}
	b.WriteString(msg)
	return b.String()
}
