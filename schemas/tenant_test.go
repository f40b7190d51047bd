package schemas

import "testing"

func TestScopedKeysSeparateTenants(t *testing.T) {
	t.Parallel()
	if string(LeadKey("acme", "L-1")) == string(LeadKey("zeta", "L-1")) {
		t.Fatal("two partners' leads with one id share a key")
	}
	p, id, ok := SplitScoped(Scoped("acme", "L|1"))
	if !ok || p != "acme" || id != "L|1" {
		t.Fatalf("SplitScoped = %q %q %v", p, id, ok)
	}
}

func TestInboundTopicFor(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		partner string
		topic   string
		ok      bool
	}{
		{"acme-crm", "referrals.inbound.acme-crm", true},
		{"acme.eu_1", "referrals.inbound.acme.eu_1", true},
		{"acme:crm", "", false}, // ':' is a valid partner id but not a topic character
		{"", "", false},
		{"-x", "", false},
	} {
		got, err := InboundTopicFor(tc.partner)
		if (err == nil) != tc.ok || got != tc.topic {
			t.Errorf("InboundTopicFor(%q) = %q, %v", tc.partner, got, err)
			continue
		}
		if tc.ok {
			if p, ok := PartnerOfInboundTopic(got); !ok || p != tc.partner {
				t.Errorf("PartnerOfInboundTopic(%q) = %q, %v", got, p, ok)
			}
		}
	}
	if _, ok := PartnerOfInboundTopic(TopicInbound); ok {
		t.Error("the shared inbound topic names no partner")
	}
	if _, ok := PartnerOfInboundTopic("referrals.ingested"); ok {
		t.Error("another topic names no partner")
	}
}
