package chaos

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/reftrack/reftrack/deploy/devstack"
	"github.com/reftrack/reftrack/deploy/sample"
)

// Judge is what a drained stack must satisfy beyond the oracle's numbers.
type Judge struct {
	Want *sample.Expected
	// Reasons are exact counts of rejected_events by "stage/first reason
	// code" that a scenario adds (R9: ingest/too_large).
	Reasons map[string]int
	// Drain bounds how long the pipeline may take to agree after the load.
	Drain time.Duration
}

// Check waits for the stack to drain and agree with the oracle, then holds
// it to every invariant; it returns what differed, empty when nothing did.
func (j Judge) Check(ctx context.Context, s *Stack) []string {
	diff := j.settle(ctx, s)
	diff = append(diff, uniqueAfterFinal(ctx, s)...)
	diff = append(diff, j.rawCounts(ctx, s)...)
	diff = append(diff, j.reasons(ctx, s)...)
	diff = append(diff, openTransactions(ctx, s)...)
	diff = append(diff, lag(ctx, s)...)
	// Per-payee money differences follow from the others and are many:
	// last, so that the one-line report names the cause.
	sort.SliceStable(diff, func(i, k int) bool { return !perPayee(diff[i]) && perPayee(diff[k]) })
	return diff
}

func perPayee(d string) bool {
	return strings.HasPrefix(d, "commission of ") || strings.HasPrefix(d, "commission on ")
}

// settle polls ClickHouse until it agrees with the oracle; it gives up
// early once the groups are drained and ClickHouse has not changed for a
// while (nothing more is coming: the difference is the verdict), or at
// the Drain deadline.
func (j Judge) settle(ctx context.Context, s *Stack) []string {
	var diff []string
	var prev string
	still := 0
	for deadline := time.Now().Add(j.Drain); time.Now().Before(deadline); {
		l, err := sample.ReadLanded(ctx, s.Conn)
		if err != nil {
			diff = []string{"read ClickHouse: " + err.Error()}
		} else if diff = j.Want.Diff(l); len(diff) == 0 {
			return nil
		}
		now := fmt.Sprint(l)
		if now == prev && groupsDrained(ctx, s) {
			still++
		} else {
			still = 0
		}
		if still >= 8 {
			break
		}
		prev = now
		if sleep(ctx, 2*time.Second) != nil {
			break
		}
	}
	return append([]string{"oracle: " + fmt.Sprint(len(diff)) + " differences"}, diff...)
}

// uniqueAfterFinal: FINAL collapses rows with one sorting key, but an id
// written under two keys (another lead, another type, another attribution
// id for one policy) survives it, and money with it.
func uniqueAfterFinal(ctx context.Context, s *Stack) []string {
	checks := []struct{ name, q string }{
		{"referral_events: event ids twice", "SELECT count() - uniqExact(partner_id, event_id) FROM referral_events FINAL"},
		{"attributions: rows twice", "SELECT count() - uniqExact(attribution_id, model, touch_event_id) FROM attributions FINAL"},
		{"attributions: policies attributed under two ids", "SELECT count() FROM (SELECT partner_id, policy_id FROM attributions FINAL GROUP BY partner_id, policy_id HAVING uniqExact(attribution_id) > 1)"},
		{"commission_lines: line ids twice", "SELECT count() - uniqExact(line_id) FROM commission_lines FINAL"},
		{"commission_entries: entry ids twice", "SELECT count() - uniqExact(entry_id) FROM commission_entries FINAL"},
		{"rejected_events: sources twice", "SELECT count() - uniqExact(stage, source_topic, source_partition, source_offset) FROM rejected_events FINAL"},
	}
	journal := hasTable(ctx, s, "commission_entries")
	var d []string
	for _, c := range checks {
		if strings.Contains(c.q, "commission_entries") && !journal {
			continue // a commit from before the journal
		}
		var n int64
		if err := s.Conn.QueryRow(ctx, "SELECT toInt64(("+c.q+"))").Scan(&n); err != nil {
			d = append(d, c.name+": "+err.Error())
		} else if n != 0 {
			d = append(d, fmt.Sprintf("%s: %d", c.name, n))
		}
	}
	return d
}

// rawCounts reads without FINAL: the sink writes each offset range once
// (it resumes from what ClickHouse recorded), and no stage forwards a
// record twice (transactions), so even before merges the counts are exact.
func (j Judge) rawCounts(ctx context.Context, s *Stack) []string {
	checks := []struct {
		table string
		want  int
	}{
		{"referral_events", j.Want.ReferralEvents},
		{"rejected_events", j.Want.Rejected},
		{"attributions", j.Want.AttributionRows},
		{commissionTable(ctx, s), j.Want.CommissionLines},
	}
	var d []string
	for _, c := range checks {
		var n uint64
		if err := s.Conn.QueryRow(ctx, "SELECT count() FROM "+c.table).Scan(&n); err != nil {
			d = append(d, "raw "+c.table+": "+err.Error())
		} else if int(n) != c.want {
			d = append(d, fmt.Sprintf("raw %s (no FINAL): want %d, got %d", c.table, c.want, n))
		}
	}
	return d
}

// commissionTable is where the oracle's commission count lives: the
// journal (commission_entries) once it exists, commission_lines before.
func commissionTable(ctx context.Context, s *Stack) string {
	if hasTable(ctx, s, "commission_entries") {
		return "commission_entries"
	}
	return "commission_lines"
}

func hasTable(ctx context.Context, s *Stack, name string) bool {
	var n uint8
	return s.Conn.QueryRow(ctx, "EXISTS TABLE "+name).Scan(&n) == nil && n == 1
}

func (j Judge) reasons(ctx context.Context, s *Stack) []string {
	if len(j.Reasons) == 0 {
		return nil
	}
	l, err := sample.ReadLanded(ctx, s.Conn)
	if err != nil {
		return []string{"read rejections: " + err.Error()}
	}
	var d []string
	for k, want := range j.Reasons {
		if got := l.RejectedByReason[k]; got != want {
			d = append(d, fmt.Sprintf("rejected %s: want %d, got %d", k, want, got))
		}
	}
	return d
}

// openTransactions lists transactions still open on the broker once the
// load is over: a crashed worker's open transaction would block every
// read_committed reader of its partitions. A restarted worker aborts its
// predecessor's at once; the broker's timeout (30 s) covers the rest.
func openTransactions(ctx context.Context, s *Stack) []string {
	adm := kadm.NewClient(s.Client)
	var open []string
	for deadline := time.Now().Add(45 * time.Second); ; {
		open = open[:0]
		listed, err := adm.ListTransactions(ctx, nil, nil)
		if err != nil {
			return []string{"list transactions: " + err.Error()}
		}
		for _, t := range listed.Sorted() {
			switch t.State {
			case "Ongoing", "PrepareCommit", "PrepareAbort", "PrepareEpochFence":
				open = append(open, t.TxnID+" "+t.State)
			}
		}
		if len(open) == 0 || time.Now().After(deadline) || sleep(ctx, time.Second) != nil {
			break
		}
	}
	if len(open) == 0 {
		return nil
	}
	return []string{"open transactions: " + strings.Join(open, ", ")}
}

// lag requires every stage's group to have committed up to the end of its
// inputs (from the broker) and every worker's own lag gauge to read 0 (what
// an autoscaler sees).
func lag(ctx context.Context, s *Stack) []string {
	var d []string
	for deadline := time.Now().Add(30 * time.Second); ; {
		d = append(groupLag(ctx, s), metricLag(s)...)
		if len(d) == 0 || time.Now().After(deadline) || sleep(ctx, time.Second) != nil {
			return d
		}
	}
}

func groupsDrained(ctx context.Context, s *Stack) bool { return len(groupLag(ctx, s)) == 0 }

func groupLag(ctx context.Context, s *Stack) []string {
	adm := kadm.NewClient(s.Client)
	groups := make([]string, len(devstack.Stages))
	for i, st := range devstack.Stages {
		groups[i] = s.Group(st)
	}
	lags, err := adm.Lag(ctx, groups...)
	if err != nil {
		return []string{"group lag: " + err.Error()}
	}
	var d []string
	for _, g := range groups {
		gl, ok := lags[g]
		switch {
		case !ok:
			d = append(d, "group "+g+": not described")
		case gl.Error() != nil:
			d = append(d, fmt.Sprintf("group %s: %v", g, gl.Error()))
		default:
			if t := gl.Lag.Total(); t != 0 {
				d = append(d, fmt.Sprintf("group lag %s: %d", strings.TrimPrefix(g, "reftrack-"+s.Prefix), t))
			}
		}
	}
	return d
}

func metricLag(s *Stack) []string {
	var d []string
	ws := s.Workers()
	names := make([]string, 0, len(ws))
	for n := range ws {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fams, err := scrape(ws[n])
		if err != nil {
			d = append(d, fmt.Sprintf("metrics of %s: %v", n, err))
			continue
		}
		if v := gaugeSum(fams, "reftrack_consumer_lag_records"); v != 0 {
			d = append(d, fmt.Sprintf("reftrack_consumer_lag_records of %s: %.0f", n, v))
		}
	}
	return d
}

func scrape(url string) (map[string]*dto.MetricFamily, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(resp.Body)
}

func gaugeSum(fams map[string]*dto.MetricFamily, name string) float64 {
	var v float64
	if f := fams[name]; f != nil {
		for _, m := range f.Metric {
			v += m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	return v
}
