package schemas

import (
	"fmt"
	"regexp"
	"strings"
)

// Every piece of state that names a lead or an event is scoped by the
// partner that sent it: two partners may use the same lead ids and event
// ids, and one partner's events must never move another's leads or money.
// The helpers below are the one spelling of that scope, used by every stage
// for Kafka record keys and Redis keys alike.

// tenantSep separates the partner from the rest of a scoped key. The
// envelope schema forbids it in partner_id, so a scoped key splits back
// unambiguously whatever the lead or event id holds.
const tenantSep = "|"

// LeadKey is the Kafka record key of every event of a lead: the
// tenant-scoped lead, so that all of one partner's events of one lead share
// a partition and keep their order, and two partners' leads with the same
// id do not.
func LeadKey(partnerID, leadID string) []byte {
	return []byte(Scoped(partnerID, leadID))
}

// Scoped joins a partner and an id of that partner's (lead, event,
// idempotency key, policy) into one key.
func Scoped(partnerID, id string) string {
	return partnerID + tenantSep + id
}

// SplitScoped is the inverse of Scoped.
func SplitScoped(key string) (partnerID, id string, ok bool) {
	return strings.Cut(key, tenantSep)
}

// partnerTopicID is what a partner id must look like to name its own inbound
// topic: Kafka topic names allow only [A-Za-z0-9._-].
var partnerTopicID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// InboundTopicFor is the inbound topic of one partner (unprefixed): only
// that partner's Kafka principal may write it (an ACL), so the topic, not
// the record, says who sent a record.
func InboundTopicFor(partnerID string) (string, error) {
	if !partnerTopicID.MatchString(partnerID) {
		return "", fmt.Errorf("partner id %q cannot name a Kafka topic (want [A-Za-z0-9._-], 1..64, not starting with . _ or -)", partnerID)
	}
	return TopicInbound + "." + partnerID, nil
}

// PartnerOfInboundTopic returns the partner whose inbound topic topic
// (unprefixed) is; ok is false for the shared TopicInbound and any other
// topic.
func PartnerOfInboundTopic(topic string) (partnerID string, ok bool) {
	p, found := strings.CutPrefix(topic, TopicInbound+".")
	if !found || !partnerTopicID.MatchString(p) {
		return "", false
	}
	return p, true
}
