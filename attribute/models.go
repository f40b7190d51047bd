package attribute

import (
	"sort"
	"time"

	"github.com/reftrack/reftrack/schemas"
)

// TotalBP is the whole credit of a conversion in basis points.
const TotalBP = 10_000

// Touch is a touchpoint as the models see it.
type Touch struct {
	EventID      string    `json:"event_id"`
	ReferrerID   string    `json:"referrer_id"`
	ReferrerType string    `json:"referrer_type"`
	Channel      string    `json:"channel"`
	OccurredAt   time.Time `json:"occurred_at"`
}

// Order sorts touches by time, then event id, so every model sees one
// deterministic sequence whatever order Redis or Kafka returned them in.
func Order(ts []Touch) {
	sort.Slice(ts, func(i, j int) bool {
		if !ts[i].OccurredAt.Equal(ts[j].OccurredAt) {
			return ts[i].OccurredAt.Before(ts[j].OccurredAt)
		}
		return ts[i].EventID < ts[j].EventID
	})
}

// Model returns basis-point weights for ordered touches, summing to TotalBP
// (or empty for no touches).
type Model func(ordered []Touch) []int

// Models are the models computed for every conversion, by name.
var Models = map[string]Model{
	schemas.ModelLastTouch: LastTouch,
}

// LastTouch gives all credit to the latest touch.
func LastTouch(ordered []Touch) []int {
	if len(ordered) == 0 {
		return nil
	}
	w := make([]int, len(ordered))
	w[len(w)-1] = TotalBP
	return w
}
