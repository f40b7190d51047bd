// Package statement turns the commission journal's entries into per-payee
// statements for a range of accounting periods, in CSV and JSON for payout
// systems, with totals that reconcile to the entries to the minor unit.
package statement

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/reftrack/reftrack/schemas/money"
)

// Line is one journal entry as ClickHouse holds it (LineID is its entry
// id, SourceLineID the direct accrual an override is a share of).
type Line struct {
	LineID         string    `json:"line_id"`
	PayeeType      string    `json:"payee_type"`
	PayeeID        string    `json:"payee_id"`
	Currency       string    `json:"currency"`
	AmountMinor    int64     `json:"amount_minor"`
	Amount         string    `json:"amount"` // decimal, for people and payout imports
	Kind           string    `json:"kind"`
	PolicyID       string    `json:"policy_id"`
	AttributionID  string    `json:"attribution_id"`
	RuleSetVersion string    `json:"rule_set_version"`
	RuleID         string    `json:"rule_id"`
	SourceLineID   string    `json:"source_line_id,omitempty"`
	Corrects       string    `json:"corrects,omitempty"`       // the accrual a reversal, clawback or reinstatement corrects
	OverrideLevel  int       `json:"override_level,omitempty"` // > 0: an upline's override accrual
	Period         string    `json:"period"`                   // accounting period, YYYY-MM-DD of its first day
	At             time.Time `json:"at"`
}

// Statement is one payee's entries in one currency for a range of periods;
// TotalMinor is their sum, then the same by what moved it.
type Statement struct {
	PayeeType      string    `json:"payee_type"`
	PayeeID        string    `json:"payee_id"`
	Currency       string    `json:"currency"`
	From           time.Time `json:"from"`
	To             time.Time `json:"to"`
	Lines          []Line    `json:"lines"`
	TotalMinor     int64     `json:"total_minor"`
	Total          string    `json:"total"`
	Commissions    int64     `json:"commission_minor"` // direct accruals
	Overrides      int64     `json:"override_minor"`   // upline accruals
	Reversals      int64     `json:"reversal_minor"`
	Clawbacks      int64     `json:"clawback_minor"`
	Reinstatements int64     `json:"reinstatement_minor"`
	Adjustments    int64     `json:"adjustment_minor"`
}

// Build groups entries into statements, sorted by payee and currency,
// entries by time then id. Zero entries (accruals of payees a model gave
// no credit) are left out: they pay nothing.
func Build(lines []Line, from, to time.Time) ([]Statement, error) {
	byKey := map[string]*Statement{}
	for _, l := range lines {
		if l.AmountMinor == 0 {
			continue
		}
		amt, err := money.FormatMinor(l.AmountMinor, l.Currency)
		if err != nil {
			return nil, fmt.Errorf("line %s: %w", l.LineID, err)
		}
		l.Amount = amt
		k := l.PayeeType + ":" + l.PayeeID + " " + l.Currency
		s := byKey[k]
		if s == nil {
			s = &Statement{PayeeType: l.PayeeType, PayeeID: l.PayeeID, Currency: l.Currency, From: from, To: to}
			byKey[k] = s
		}
		s.Lines = append(s.Lines, l)
		s.TotalMinor += l.AmountMinor
		*s.bucket(l) += l.AmountMinor
	}
	out := make([]Statement, 0, len(byKey))
	for _, s := range byKey {
		sort.Slice(s.Lines, func(i, j int) bool {
			if !s.Lines[i].At.Equal(s.Lines[j].At) {
				return s.Lines[i].At.Before(s.Lines[j].At)
			}
			return s.Lines[i].LineID < s.Lines[j].LineID
		})
		s.Total, _ = money.FormatMinor(s.TotalMinor, s.Currency) // currency checked above
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		return a.PayeeType+":"+a.PayeeID+" "+a.Currency < b.PayeeType+":"+b.PayeeID+" "+b.Currency
	})
	return out, nil
}

// bucket is the subtotal an entry counts in.
func (s *Statement) bucket(l Line) *int64 {
	switch l.Kind {
	case "accrual":
		if l.OverrideLevel > 0 {
			return &s.Overrides
		}
		return &s.Commissions
	case "reversal":
		return &s.Reversals
	case "clawback":
		return &s.Clawbacks
	case "reinstatement":
		return &s.Reinstatements
	default:
		return &s.Adjustments
	}
}

// Totals sums statements per currency.
func Totals(ss []Statement) map[string]int64 {
	t := map[string]int64{}
	for _, s := range ss {
		t[s.Currency] += s.TotalMinor
	}
	return t
}

var csvHeader = []string{"payee_type", "payee_id", "currency", "period", "at", "entry_id", "kind", "policy_id", "attribution_id",
	"rule_set_version", "rule_id", "source_entry_id", "corrects", "amount_minor", "amount"}

// WriteCSV writes one statement as CSV, lines then a total row.
func WriteCSV(w io.Writer, s Statement) error {
	cw := csv.NewWriter(w)
	_ = cw.Write(csvHeader)
	for _, l := range s.Lines {
		_ = cw.Write([]string{l.PayeeType, l.PayeeID, l.Currency, l.Period, l.At.UTC().Format(time.RFC3339), l.LineID, l.Kind, l.PolicyID,
			l.AttributionID, l.RuleSetVersion, l.RuleID, l.SourceLineID, l.Corrects, strconv.FormatInt(l.AmountMinor, 10), l.Amount})
	}
	_ = cw.Write([]string{s.PayeeType, s.PayeeID, s.Currency, "", "", "", "total", "", "", "", "", "", "", strconv.FormatInt(s.TotalMinor, 10), s.Total})
	cw.Flush()
	return cw.Error()
}

// WriteDir writes <type>_<id>_<currency>.csv and .json per statement plus
// summary.json into dir.
func WriteDir(dir string, ss []Statement) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	type summaryRow struct {
		PayeeType, PayeeID, Currency string
		TotalMinor                   int64
		Total                        string
		Lines                        int
	}
	var summary []summaryRow
	for _, s := range ss {
		base := filepath.Join(dir, safe(s.PayeeType+"_"+s.PayeeID+"_"+s.Currency))
		f, err := os.Create(base + ".csv")
		if err != nil {
			return err
		}
		err = WriteCSV(f, s)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("write %s.csv: %w", base, err)
		}
		b, _ := json.MarshalIndent(s, "", "  ")
		if err := os.WriteFile(base+".json", b, 0o644); err != nil {
			return err
		}
		summary = append(summary, summaryRow{s.PayeeType, s.PayeeID, s.Currency, s.TotalMinor, s.Total, len(s.Lines)})
	}
	b, _ := json.MarshalIndent(map[string]any{"statements": summary, "totals_minor": Totals(ss)}, "", "  ")
	return os.WriteFile(filepath.Join(dir, "summary.json"), b, 0o644)
}

// safe keeps file names to letters, digits, '-', '_' and '.'.
func safe(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, s)
}
