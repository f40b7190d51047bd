package pii

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkSealContact: what sealing one referral.created's contact (three
// fields) costs ingest once the lead's key is in hand.
func BenchmarkSealContact(b *testing.B) {
	ring, _ := newRing(b, "dev", 1)
	keys, err := (&Cipher{Ring: ring, Store: &MemoryStore{}}).KeysFor(context.Background(), []Subject{alice})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, f := range [][2]string{{FieldName, "Zoë Ångström"}, {FieldEmail, "zoe@example.com"}, {FieldPhone, "+14155550123"}} {
			if _, err := keys[0].Seal(f[0], f[1]); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkKeysFor: looking up and unwrapping the keys of a batch of 500
// leads that already have one (the store in memory: this is the CPU
// part; a Redis store adds one round trip per batch).
func BenchmarkKeysFor(b *testing.B) {
	ring, _ := newRing(b, "dev", 1)
	c := &Cipher{Ring: ring, Store: &MemoryStore{}}
	subjects := make([]Subject, 500)
	for i := range subjects {
		subjects[i] = Subject{Partner: "acme", Lead: fmt.Sprintf("L-%d", i)}
	}
	if _, err := c.KeysFor(context.Background(), subjects); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.KeysFor(context.Background(), subjects); err != nil {
			b.Fatal(err)
		}
	}
}
