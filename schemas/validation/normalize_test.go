package validation

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"

	"golang.org/x/text/unicode/norm"
)

func TestNormalize(t *testing.T) {
	t.Parallel()
	n := Normalizer{PhoneRegion: "US"}
	tests := []struct {
		name, in, want string
		reason         string
	}{
		{"email", `{"lead":{"email":"  Ana.Silva@Example.COM "}}`, `{"lead":{"email":"ana.silva@example.com"}}`, ""},
		{"phone international", `{"lead":{"phone":"+44 20 7946 0958"}}`, `{"lead":{"phone":"+442079460958"}}`, ""},
		{"phone national", `{"lead":{"phone":"(202) 555-0143"}}`, `{"lead":{"phone":"+12025550143"}}`, ""},
		{"phone garbage", `{"lead":{"phone":"call me"}}`, `{"lead":{"phone":"call me"}}`, CodeInvalidPhone},
		{"phone too short", `{"lead":{"phone":"+1 12"}}`, `{"lead":{"phone":"+1 12"}}`, CodeInvalidPhone},
		// "é" as e + combining acute becomes the single precomposed rune.
		{"name", `{"lead":{"name":"  Ren\u0065\u0301e \t  Dupont\n"}}`, `{"lead":{"name":"Renée Dupont"}}`, ""},
		{"product alias", `{"product_line":"Auto Insurance","product_interest":"car"}`, `{"product_interest":"auto","product_line":"auto"}`, ""},
		{"product unknown stays", `{"product_line":"Spaceship"}`, `{"product_line":"Spaceship"}`, ""},
		{"referrer alias", `{"referrer":{"id":" a-7 ","type":"Insurance  Agent"}}`, `{"referrer":{"id":"a-7","type":"agent"}}`, ""},
		{"currency", `{"currency":" usd"}`, `{"currency":"USD"}`, ""},
		{"already canonical", `{"lead":{"email":"a@b.co","phone":"+12025550143","name":"Ana"},"currency":"USD","product_line":"auto"}`,
			`{"currency":"USD","lead":{"email":"a@b.co","name":"Ana","phone":"+12025550143"},"product_line":"auto"}`, ""},
		{"sealed contact untouched", `{"lead":{"email":"` + sealedEmail + `","name":"` + sealedName + `","phone":"` + sealedPhone + `"}}`,
			`{"lead":{"email":"` + sealedEmail + `","name":"` + sealedName + `","phone":"` + sealedPhone + `"}}`, ""},
		{"sealed-looking referrer still normalized", `{"referrer":{"id":" enc:v1:X "}}`, `{"referrer":{"id":"enc:v1:X"}}`, ""},
		{"wrong types left for the schema", `{"lead":{"email":7},"referrer":"x"}`, `{"lead":{"email":7},"referrer":"x"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var payload map[string]any
			if err := json.Unmarshal([]byte(tt.in), &payload); err != nil {
				t.Fatal(err)
			}
			before, _ := json.Marshal(payload)
			doc := map[string]any{"payload": payload}
			changed, reasons := n.Normalize(doc)
			got, _ := json.Marshal(doc["payload"])
			if string(got) != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
			if changed != (string(got) != string(before)) {
				t.Errorf("changed = %v for %s → %s", changed, before, got)
			}
			if (tt.reason == "") != (len(reasons) == 0) || (tt.reason != "" && reasons[0].Code != tt.reason) {
				t.Errorf("reasons %+v, want %q", reasons, tt.reason)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	for region, ok := range map[string]bool{"US": true, "GB": true, "XX": false, "": false, "usa": false} {
		if err := (Config{PhoneRegion: region}).Validate(); (err == nil) != ok {
			t.Errorf("--phone-region %q: %v", region, err)
		}
		if _, err := New(Config{PhoneRegion: region}); (err == nil) != ok {
			t.Errorf("New with region %q: %v", region, err)
		}
	}
}

// nanpAgrees fails when nanpE164 reads s and phonenumbers reads it
// differently, in any region.
func nanpAgrees(t testing.TB, s string) bool {
	got, ok := nanpE164(s)
	if !ok {
		return false
	}
	for _, region := range []string{"US", "GB", "CA", "DE"} {
		want, err := Normalizer{PhoneRegion: region}.parsePhone(s)
		if err != nil || got != want {
			t.Fatalf("nanpE164(%q) = %q; phonenumbers in %s: %q, %v", s, got, region, want, err)
		}
	}
	return true
}

// TestNANPAgrees holds the +1 shortcut to phonenumbers on the generator's
// spellings, every leading digit and area code, and forms it must decline.
func TestNANPAgrees(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	seps := []string{"", " ", "-", "."}
	read := 0
	for i := range 3000 {
		d := fmt.Sprintf("%03d%03d%04d", 200+i%800, rng.IntN(1000), rng.IntN(10000))
		s1, s2 := seps[rng.IntN(4)], seps[rng.IntN(4)]
		for _, s := range []string{"+1" + d, "+1 " + d[:3] + s1 + d[3:6] + s2 + d[6:], "+1" + s1 + d[:3] + s2 + d[3:]} {
			if nanpAgrees(t, s) {
				read++
			}
		}
	}
	if read < 8000 {
		t.Fatalf("the shortcut read only %d of 9000 numbers", read)
	}
	for _, s := range []string{"+1 055 123 4567", "+1 155 123 4567", "+1 555 123 456", "+1 555 123 45678",
		"+1  555 123 4567", "+1 555 123 4567 ", "+ 1 555 123 4567", "+1 (555) 123 4567", "1 555 123 4567",
		"+44 20 7946 0958", "+1-555--1234567", "+1 555 123 4567 x12"} {
		if _, ok := nanpE164(s); ok {
			t.Errorf("nanpE164 read %q; it must leave it to phonenumbers", s)
		}
	}
}

func FuzzNANPAgrees(f *testing.F) {
	for _, s := range []string{"+1 555 123 4567", "+15551234567", "+1-555-123-4567", "+1.555.123.4567", "+1 055 123 4567"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { nanpAgrees(t, s) })
}

// FuzzName holds name's shortcut to collapse(NFC(s)).
func FuzzName(f *testing.F) {
	for _, s := range []string{"Ana Ng", " Ana", "Ana  Ng", "Ana\tNg", "Ren\u0065\u0301e", "An\x00a", "\u00a0Ana", "", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := name(s), collapse(norm.NFC.String(s)); got != want {
			t.Fatalf("name(%q) = %q, want %q", s, got, want)
		}
	})
}
