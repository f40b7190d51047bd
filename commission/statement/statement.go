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

	"github.com/reftrack/reftrack/schemas"
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
	PartnerID      string    `json:"partner_id"`               // whose period close it waits for
	At             time.Time `json:"at"`
	HoldUntil      string    `json:"hold_until,omitempty"` // an accrual's end of hold (see Payout)
	Decision       string    `json:"decision,omitempty"`   // a decision entry's approve, decline or hold
	// Release is the period (YYYY-MM) whose statement pays the entry, set
	// by Payout: its own period, or a later one for an entry held back.
	Release string `json:"release,omitempty"`
	// An entry with an FX snapshot (issue #18) is read in its payout
	// currency: Currency and AmountMinor are the payout's, EntryCurrency
	// and EntryAmountMinor what the journal posted, FXRate the rate.
	EntryCurrency     string `json:"entry_currency,omitempty"`
	EntryAmountMinor  int64  `json:"entry_amount_minor,omitempty"`
	FXRate            string `json:"fx_rate,omitempty"`
	PayoutCurrency    string `json:"-"` // as read; payout moves it to Currency
	PayoutAmountMinor int64  `json:"-"`
}

// Statement is one payee's entries in one currency posted in one
// accounting period; TotalMinor is their sum, then the same by what moved
// it. Period and Number name it for the payout system (see
// payout.DeliveryID): a period's statement is number 1, and since a closed
// period never changes (entries for it post in the next open period), a
// re-run of a closed period yields the same statement, total included.
// Number exists for a supplementary statement of a period, which the
// journal cannot produce today.
type Statement struct {
	// PartnerID is the partner (tenant) whose payee it is: payee ids are
	// the partner's, and a period closes per partner, so two partners'
	// payees of one id get a statement each.
	PartnerID      string    `json:"partner_id,omitempty"`
	PayeeType      string    `json:"payee_type"`
	PayeeID        string    `json:"payee_id"`
	Currency       string    `json:"currency"`
	Period         string    `json:"period"` // YYYY-MM
	Number         int       `json:"statement_number"`
	From           time.Time `json:"from"` // the period's first day
	To             time.Time `json:"to"`   // the next period's first day
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

// Build groups entries into statements per partner, payee, currency and
// accounting period (the one an entry is released in, when Payout set it),
// sorted by payee, currency, period and partner, entries by time then id;
// from and to bound statements of entries without a period. Zero entries (accruals of payees a model gave
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
		period := monthOf(l.Period)
		if l.Release != "" {
			period = l.Release
		}
		k := l.PayeeType + ":" + l.PayeeID + " " + l.Currency + " " + period + " " + l.PartnerID
		s := byKey[k]
		if s == nil {
			s = &Statement{PartnerID: l.PartnerID, PayeeType: l.PayeeType, PayeeID: l.PayeeID, Currency: l.Currency, Period: period, Number: 1, From: from, To: to}
			if start, err := time.Parse("2006-01", period); err == nil {
				s.From, s.To = start, start.AddDate(0, 1, 0)
			}
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
		return a.PayeeType+":"+a.PayeeID+" "+a.Currency+" "+a.Period+" "+a.PartnerID < b.PayeeType+":"+b.PayeeID+" "+b.Currency+" "+b.Period+" "+b.PartnerID
	})
	return out, nil
}

// monthOf is the YYYY-MM of a period as ClickHouse returns it (its first
// day, YYYY-MM-DD); "" stays "".
func monthOf(period string) string {
	if len(period) < 7 {
		return period
	}
	return period[:7]
}

// Payable splits statements into those of periods closed for their
// partner, or for all partners (closed as Closed reads it), and the rest.
// Only a closed period's statement is final: its delivery id (payee,
// currency, period, number) is paid once, so delivering an open period
// would pay its later entries never.
func Payable(ss []Statement, closed map[string]map[string]bool) (payable, open []Statement) {
	for _, s := range ss {
		if s.closedFor(closed) {
			payable = append(payable, s)
		} else {
			open = append(open, s)
		}
	}
	return payable, open
}

func (s Statement) closedFor(closed map[string]map[string]bool) bool {
	if s.Period == "" {
		return false
	}
	return closed[s.PartnerID][s.Period] || closed[schemas.AllPartners][s.Period]
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
		PartnerID, PayeeType, PayeeID, Currency, Period string
		Number                                          int
		TotalMinor                                      int64
		Total                                           string
		Lines                                           int
	}
	var summary []summaryRow
	for _, s := range ss {
		name := s.PayeeType + "_" + s.PayeeID + "_" + s.Currency
		if s.PartnerID != "" {
			name = s.PartnerID + "_" + name
		}
		if s.Period != "" {
			name += "_" + s.Period
		}
		base := filepath.Join(dir, safe(name))
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
		summary = append(summary, summaryRow{s.PartnerID, s.PayeeType, s.PayeeID, s.Currency, s.Period, s.Number, s.TotalMinor, s.Total, len(s.Lines)})
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
