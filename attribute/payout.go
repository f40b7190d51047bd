package attribute

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

// Data-driven paid models: a trained model's channel credits, published by
// the datadriven command, turned into per-touch weights (see TrainedModel).
const (
	Markov  = "markov"
	Shapley = "shapley"
)

// DataDrivenNames lists the data-driven models a trained model file may
// hold and --paid-model may name.
var DataDrivenNames = []string{Markov, Shapley}

// TrainedFormat names the trained model file's layout; a file of another
// format is refused rather than guessed at.
const TrainedFormat = "reftrack.datadriven/v1"

// TrainedModel is a published data-driven model: each channel's (or
// referrer type's) share of the credit in basis points, summing to exactly
// TotalBP. It is what the datadriven command's publish step writes and what
// --datadriven-model loads; Version goes on every attribution paid by it.
type TrainedModel struct {
	Format    string          `json:"format"`
	Method    string          `json:"method"`     // markov or shapley
	Version   string          `json:"version"`    // names this training run
	TrainedAt time.Time       `json:"trained_at"` // when the credits were computed
	Dimension string          `json:"dimension"`  // channel or referrer_type: which touch field a credit is for
	Credits   []ChannelCredit `json:"credits"`    // sorted by channel, each channel once
}

// ChannelCredit is one channel's share of a trained model, in basis points.
type ChannelCredit struct {
	Channel  string `json:"channel"`
	CreditBP int    `json:"credit_bp"`
}

// Validate checks that m can pay: a known method and dimension, a version,
// and credits of distinct channels that are non-negative and sum to
// exactly TotalBP.
func (m TrainedModel) Validate() error {
	var errs []error
	if m.Format != TrainedFormat {
		errs = append(errs, fmt.Errorf("format %q: want %q", m.Format, TrainedFormat))
	}
	if !slices.Contains(DataDrivenNames, m.Method) {
		errs = append(errs, fmt.Errorf("method %q: want one of %s", m.Method, strings.Join(DataDrivenNames, ", ")))
	}
	if strings.TrimSpace(m.Version) == "" {
		errs = append(errs, errors.New("version: must not be empty"))
	}
	if m.TrainedAt.IsZero() {
		errs = append(errs, errors.New("trained_at: must be set"))
	}
	if m.Dimension != "channel" && m.Dimension != "referrer_type" {
		errs = append(errs, fmt.Errorf("dimension %q: want channel or referrer_type", m.Dimension))
	}
	seen := map[string]bool{}
	sum := 0
	for _, c := range m.Credits {
		if seen[c.Channel] {
			errs = append(errs, fmt.Errorf("credits: channel %q listed twice", c.Channel))
		}
		seen[c.Channel] = true
		if c.CreditBP < 0 || c.CreditBP > TotalBP {
			errs = append(errs, fmt.Errorf("credits: channel %q: credit_bp %d not within 0..%d", c.Channel, c.CreditBP, TotalBP))
		}
		sum += c.CreditBP
	}
	if sum != TotalBP {
		errs = append(errs, fmt.Errorf("credits: sum to %d basis points, want %d", sum, TotalBP))
	}
	return errors.Join(errs...)
}

// ParseTrainedModel decodes and validates a trained model file. Unknown
// fields are refused: a file from a newer publisher must not be half read.
func ParseTrainedModel(b []byte) (TrainedModel, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var m TrainedModel
	if err := dec.Decode(&m); err != nil {
		return TrainedModel{}, fmt.Errorf("decode trained model: %w", err)
	}
	if dec.More() {
		return TrainedModel{}, errors.New("decode trained model: data after the model")
	}
	if err := m.Validate(); err != nil {
		return TrainedModel{}, fmt.Errorf("trained model: %w", err)
	}
	return m, nil
}

// LoadTrainedModel reads and validates the trained model file at path.
func LoadTrainedModel(path string) (TrainedModel, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return TrainedModel{}, fmt.Errorf("read trained model: %w", err)
	}
	m, err := ParseTrainedModel(b)
	if err != nil {
		return TrainedModel{}, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// WriteTrainedModel validates m and writes it to path through a temporary
// file renamed into place, so a reader never sees half a model.
func WriteTrainedModel(path string, m TrainedModel) error {
	if err := m.Validate(); err != nil {
		return fmt.Errorf("publish trained model: %w", err)
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode trained model: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".trained-model-*")
	if err != nil {
		return fmt.Errorf("publish trained model: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	// CreateTemp makes it 0600; the stage may run as another user.
	if err := tmp.Chmod(0o644); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("publish trained model: %w", err)
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write trained model: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write trained model: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("publish trained model: %w", err)
	}
	return nil
}

// key is the touch field m's credits are for.
func (m TrainedModel) key(t Touch) string {
	if m.Dimension == "referrer_type" {
		return t.ReferrerType
	}
	return t.Channel
}

// Weigh turns m's credits into basis-point weights of ordered touches
// (sorted with Order), summing to exactly TotalBP. Each touch's exact share
// is its channel's credit, divided evenly among that channel's touches and
// normalised over the channels present; a channel the model does not know
// gets nothing. Rounding is by largest remainder, compared exactly as
// fractions, ties going to the later touch (nearer the conversion), so the
// result depends only on the ordered input. ok is false when no touch's
// channel has credit: the caller falls back to a rule-based model.
func (m TrainedModel) Weigh(ordered []Touch) (weights []int, ok bool) {
	credit := make(map[string]uint64, len(m.Credits))
	for _, c := range m.Credits {
		credit[c.Channel] = uint64(c.CreditBP)
	}
	count := map[string]uint64{}
	for _, t := range ordered {
		count[m.key(t)]++
	}
	var present uint64 // Σ credit over the distinct channels present
	for k := range count {
		present += credit[k]
	}
	if present == 0 {
		return nil, false
	}
	// Touch i's exact weight is TotalBP·credit / (count·present) =
	// quot + rem/den. num ≤ 10⁸ and den ≤ 10³ touches × 10⁴, so the cross
	// products comparing remainders stay below 10¹⁴, well inside uint64.
	n := len(ordered)
	weights = make([]int, n)
	rem, den := make([]uint64, n), make([]uint64, n)
	given := 0
	for i, t := range ordered {
		k := m.key(t)
		num := TotalBP * credit[k]
		den[i] = count[k] * present
		weights[i], rem[i] = int(num/den[i]), num%den[i]
		given += weights[i]
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool {
		x, y := idx[a], idx[b]
		if l, r := rem[x]*den[y], rem[y]*den[x]; l != r {
			return l > r
		}
		return x > y
	})
	// The leftover is below the number of touches with a remainder, so
	// touches of channels without credit (remainder 0) never get a point.
	for k := 0; given < TotalBP; k++ {
		weights[idx[k]]++
		given++
	}
	return weights, true
}
