package pii

import (
	"errors"
	"fmt"

	"github.com/reftrack/reftrack/schemas"
)

// ErrSealedInput refuses a contact value from a partner that already looks
// sealed: only ingest seals, so such a value is either a mistake or an
// attempt to plant another lead's ciphertext.
var ErrSealedInput = errors.New("pii: a contact value from outside already looks sealed")

// contactFields are the contact's sealed fields, by name.
func contactFields(c *schemas.Contact) []struct {
	name  string
	value *string
} {
	return []struct {
		name  string
		value *string
	}{{FieldName, &c.Name}, {FieldEmail, &c.Email}, {FieldPhone, &c.Phone}}
}

// SealContact seals every present field of a lead's (normalized, checked)
// contact in place, under that lead's key (SealStable: the same contact
// seals to the same strings); absent fields stay absent. A
// value that already looks sealed is refused with ErrSealedInput and
// nothing is changed.
func SealContact(k *DataKey, c *schemas.Contact) error {
	fields := contactFields(c)
	for _, f := range fields {
		if IsCiphertext(*f.value) {
			return fmt.Errorf("%s: %w", f.name, ErrSealedInput)
		}
	}
	sealed := make([]string, len(fields))
	for i, f := range fields {
		if *f.value == "" {
			continue
		}
		s, err := k.SealStable(f.name, *f.value) // a resend must stay byte-identical
		if err != nil {
			return err
		}
		sealed[i] = s
	}
	for i, f := range fields {
		*f.value = sealed[i]
	}
	return nil
}

// OpenContact opens a sealed contact: ErrErased once the lead was erased,
// ErrTampered or ErrMalformed for a field that is not this lead's.
func OpenContact(k *DataKey, c schemas.Contact) (schemas.Contact, error) {
	out := c
	for _, f := range contactFields(&out) {
		if *f.value == "" {
			continue
		}
		clear, err := k.Open(f.name, *f.value)
		if err != nil {
			return schemas.Contact{}, err
		}
		*f.value = clear
	}
	return out, nil
}

// ContactSealed says whether every present field of a contact is sealed:
// what validate checks once every ingest seals (PRIVACY.md, integration
// plan).
func ContactSealed(c schemas.Contact) bool {
	for _, f := range contactFields(&c) {
		if *f.value != "" && !IsCiphertext(*f.value) {
			return false
		}
	}
	return true
}
