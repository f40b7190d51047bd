package testenv

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/*.golden from the code")

// Golden compares got with testdata/name of the calling package, which
// `go test -update` rewrites from the code. go-json-experiment words its
// errors "cannot" or "unable to" at random per process (so that nobody
// depends on the wording), so both read as "cannot" here.
func Golden(t testing.TB, name, got string) {
	t.Helper()
	got = strings.ReplaceAll(got, "unable to", "cannot")
	path := filepath.Join("testdata", name)
	if *updateGolden {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("%s changed:\n got %s\nwant %s", name, got, want)
	}
}

// BadRecords are records a stage cannot take as they are. Each stage holds
// its verdict on them (dead letter and reason, or what passes) to a golden
// file written before decoding moved to schemas.DecodeEvent, so a change of
// the shared decoder that changes any stage's verdict shows.
var BadRecords = []string{
	`not json`,
	`{"event_id":"e1"`,
	`{"event_type":"referral.created","partner_id":"acme","lead_id":"L","payload":{"referrer":{"id":"a","type":"agent"},"channel":"crm"}}`,
	`{"event_id":"e1","event_type":"referral.deleted","partner_id":"acme","lead_id":"L","payload":{}}`,
	`{"event_id":"e1","event_type":"referral.status_updated","partner_id":"acme","lead_id":"L","payload":{"status":7}}`,
	`{"event_id":"e1","event_type":"referral.created","partner_id":"acme","lead_id":"L","payload":[1]}`,
	`{"event_id":"e1","event_type":"policy.issued","partner_id":"acme","lead_id":"L","payload":{"policy_id":"P","term_months":"twelve"}}`,
	`{"event_id":"e1","event_type":"policy.cancelled","partner_id":"acme","lead_id":"L"}`,
	`{"event_id":"e1","event_type":"attribution.calculated","partner_id":"acme","lead_id":"L","payload":{"touchpoints":"x"}}`,
	`{"event_id":"e1","event_type":"attribution.cancelled","partner_id":"acme","lead_id":"L","payload":{"cancelled_on":1}}`,
	`{"event_id":"e1","event_type":"commission.period_closed","partner_id":"*","lead_id":"L","payload":{"period":"2026-10","partitions":1.5}}`,
	`{"event_id":"e1","event_type":"commission.entry","partner_id":"acme","lead_id":"L","payload":{"amount_minor":"1"}}`,
	`{"event_id":"e1","payload":{"policy_id":7},"event_type":"policy.issued","partner_id":"acme","lead_id":"L"}`,
	`{"event_id":"e1","event_type":"referral.status_updated","event_type":"policy.issued","partner_id":"acme","lead_id":"L","payload":{}}`,
}
