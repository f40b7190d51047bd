package commission

import (
	"bytes"
	"testing"
	"time"

	"github.com/reftrack/reftrack/schemas"
)

// outputFixture is a cause and the entries of one policy's accrual: lines
// with every kind of field an entry carries, hash chain included, and
// strings that JSON escapes.
func outputFixture() (schemas.Envelope, []schemas.JournalEntry) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 890, time.UTC)
	cause := schemas.Envelope{EventID: "cause-1", EventType: schemas.TypeAttributionCalculated, SchemaVersion: 1,
		OccurredAt: at, ReceivedAt: &at, PartnerID: "acme", LeadID: "L<1>&\u2028", IdempotencyKey: "k",
		Trace: map[string]int64{"ingest": 1}}
	var entries []schemas.JournalEntry
	for i, kind := range []string{schemas.EntryAccrual, schemas.EntryReversal, schemas.EntryAdjustment} {
		entries = append(entries, schemas.JournalEntry{EntryID: "e" + kind, Kind: kind, PayeeID: "agent-7", PayeeType: "agent",
			Currency: "EUR", AmountMinor: int64(1234 - 3000*i), Period: "2026-03", CauseID: "cause-1", PartnerID: "acme",
			LeadID: "L<1>&\u2028", PolicyID: "P-1", Rate: "12.5", Band: "10@100000", Reason: "\"quoted\" <b>",
			Chain: 3, ChainSeq: int64(7 + i), PrevHash: "ab12", Hash: "cd34"})
	}
	return cause, entries
}

// The commissions topic carries exactly what encoding the envelopes of
// Lines gives: outputs encodes in one pass what used to be a payload
// encoded, scanned back as a raw message and copied.
func TestOutputsAreTheEnvelopesEncoded(t *testing.T) {
	t.Parallel()
	cause, entries := outputFixture()
	outs, err := outputs(cause, entries)
	if err != nil {
		t.Fatal(err)
	}
	envs, err := envelopes(cause, entries)
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != len(envs) {
		t.Fatalf("%d outputs for %d entries", len(outs), len(envs))
	}
	for i, e := range envs {
		want, err := schemas.Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(outs[i].Value, want) {
			t.Errorf("entry %d:\n got %s\nwant %s", i, outs[i].Value, want)
		}
		if string(outs[i].Key) != string(schemas.LeadKey(cause.PartnerID, cause.LeadID)) || outs[i].Topic != schemas.TopicCommissions {
			t.Errorf("entry %d to %s keyed %q", i, outs[i].Topic, outs[i].Key)
		}
	}
}

func BenchmarkOutputs(b *testing.B) {
	cause, entries := outputFixture()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := outputs(cause, entries); err != nil {
			b.Fatal(err)
		}
	}
}

// Each line is encoded once: the round trip through a raw payload (encode,
// scan back, copy) cost 19 allocations for three entries whose plain
// encoding costs 3; one pass costs 8. Allocations, not time, and measured against that plain
// encoding in the same run, so any box (and -race) holds it alike.
func TestOutputsEncodeEachEntryOnce(t *testing.T) {
	cause, entries := outputFixture()
	plain := testing.AllocsPerRun(50, func() {
		for i := range entries {
			if _, err := schemas.Encode(&entries[i]); err != nil {
				t.Fatal(err)
			}
		}
	})
	allocs := testing.AllocsPerRun(50, func() {
		if _, err := outputs(cause, entries); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("outputs: %v allocations; the entries encoded alone: %v", allocs, plain)
	// The slice and the key, and a few per envelope (its own header
	// fields; -race adds some): well short of encoding each entry twice.
	if most := plain + 2 + 3*float64(len(entries)); allocs > most {
		t.Errorf("%v allocations for %d entries, want at most %v (their plain encoding's %v, the slice, the key, three per envelope): is a line encoded more than once?", allocs, len(entries), most, plain)
	}
}
