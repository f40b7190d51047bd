package validate

import (
	"encoding/json"
	"testing"
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

func TestPhoneRegionFlag(t *testing.T) {
	t.Parallel()
	for region, ok := range map[string]bool{"US": true, "GB": true, "XX": false, "": false, "usa": false} {
		if err := (&App{PhoneRegion: region}).Validate(); (err == nil) != ok {
			t.Errorf("--phone-region %q: %v", region, err)
		}
	}
}
