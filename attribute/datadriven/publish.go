package datadriven

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/reftrack/reftrack/attribute"
)

// shareScale turns a float share into an integer raw weight for
// attribute.Apportion: twelve decimal digits are far below the noise of a
// trained share, and far above basis points.
const shareScale = 1e12

// Publish turns one method's credits (from Markov or Shapley, sorted by
// channel) into the trained model the attribute stage pays by: each
// channel's share in basis points, summing to exactly 10 000 by largest
// remainder (ties to the later channel in sort order), so the floats of
// training never reach money. A negative share (floating-point noise around
// zero) counts as zero.
func Publish(method, dimension, version string, trainedAt time.Time, credits []Credit) (attribute.TrainedModel, error) {
	raw := make([]uint64, len(credits))
	var sum uint64
	for i, c := range credits {
		if math.IsNaN(c.Share) || math.IsInf(c.Share, 0) {
			return attribute.TrainedModel{}, fmt.Errorf("publish %s: channel %q has share %v", method, c.Channel, c.Share)
		}
		raw[i] = uint64(math.Round(max(c.Share, 0) * shareScale))
		sum += raw[i]
	}
	if sum == 0 {
		return attribute.TrainedModel{}, errors.New("publish " + method + ": no channel has credit")
	}
	bp := attribute.Apportion(raw)
	m := attribute.TrainedModel{Format: attribute.TrainedFormat, Method: method, Version: version,
		TrainedAt: trainedAt.UTC(), Dimension: dimension, Credits: make([]attribute.ChannelCredit, len(credits))}
	for i, c := range credits {
		m.Credits[i] = attribute.ChannelCredit{Channel: c.Channel, CreditBP: bp[i]}
	}
	if err := m.Validate(); err != nil {
		return attribute.TrainedModel{}, fmt.Errorf("publish %s: %w", method, err)
	}
	return m, nil
}
