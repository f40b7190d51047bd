package ops

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/reftrack/reftrack/commission/payout"
	"github.com/reftrack/reftrack/commission/statement"
	"github.com/reftrack/reftrack/internal/cli"
	"github.com/reftrack/reftrack/internal/worker"
)

// Statements is the statements command: it writes per-payee commission
// statements, one per accounting period (CSV and JSON per payee, currency
// and period, and summary.json) from ClickHouse, and checks that their
// totals reconcile with ClickHouse to the minor unit; it fails when they do
// not. With --webhook-url it delivers the statements of closed periods
// only: a closed period never changes, so a re-run delivers the same
// statements under the same delivery ids, which the payout system pays once.
func Statements(ctx context.Context, args []string, getenv func(string) string) error {
	return statements(ctx, args, getenv, os.Stdout)
}

// statementsFlags is what the flags ask for.
type statementsFlags struct {
	dsn, dir, hook, hookSecret, output string
	period                             cli.Period
}

// statementsReport is what a run did, printed as a table or as JSON.
type statementsReport struct {
	Period     string           `json:"period"`
	Dir        string           `json:"dir"`
	Statements int              `json:"statements"`
	Totals     map[string]int64 `json:"totals_minor"` // by currency
	// Carried is what the statements pay of entries posted in earlier
	// periods (released now); HeldBack what they leave of the range's
	// entries for a later statement (held, pending) or none (declined).
	Carried    map[string]int64 `json:"carried_in_minor"`
	HeldBack   map[string]int64 `json:"held_back_minor"`
	Reconciled bool             `json:"reconciled"`
	Mismatches []string         `json:"mismatches,omitempty"`
	Webhook    string           `json:"webhook_url,omitempty"`
	Delivered  int              `json:"delivered"`
	Before     int              `json:"delivered_before"`
	Held       []string         `json:"held_open,omitempty"` // statements of periods not closed
}

func statements(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	var f statementsFlags
	fs := flag.NewFlagSet("statements", flag.ContinueOnError)
	fs.StringVar(&f.dsn, "clickhouse", "clickhouse://127.0.0.1:9000/reftrack", "ClickHouse DSN of the sink's database")
	f.period.Register(fs, "", "")
	fs.StringVar(&f.dir, "out", "statements", "directory to write into")
	fs.StringVar(&f.hook, "webhook-url", "", "payout system to POST each statement to once they reconcile (empty: none)")
	fs.StringVar(&f.hookSecret, "webhook-secret", "", "HMAC secret shared with the payout system, at least 32 bytes (prefer REFTRACK_WEBHOOK_SECRET)")
	fs.StringVar(&f.output, "output", "table", "report format: table or json")
	if err := worker.ParseFlags(fs, args[1:], getenv); err != nil {
		return err
	}
	from, to, err := f.check()
	if err != nil {
		return err
	}
	conn, err := cli.OpenClickHouse(ctx, f.dsn)
	if err != nil {
		return err
	}
	defer conn.Close()
	r := statementsReport{Period: f.period.String(), Dir: f.dir, Webhook: f.hook}
	err = r.run(ctx, conn, f, from, to)
	if r.Totals == nil { // failed before there was anything to report
		return err
	}
	if werr := r.write(out, f.output); werr != nil {
		return errors.Join(err, werr)
	}
	return err
}

// check reports every problem with the flags at once.
func (f *statementsFlags) check() (time.Time, time.Time, error) {
	from, to, err := f.period.Parse()
	errs := []error{err}
	if f.hook != "" && len(f.hookSecret) < 32 {
		errs = append(errs, errors.New("--webhook-secret: at least 32 bytes are required with --webhook-url"))
	}
	if f.output != "table" && f.output != "json" {
		errs = append(errs, fmt.Errorf("--output %q: want table or json", f.output))
	}
	return from, to, errors.Join(errs...)
}

// run writes and reconciles the statements, then delivers the payable ones.
// The journal is read from its start: an entry of an earlier period is paid
// in this range once released in it (statement.Payout).
func (r *statementsReport) run(ctx context.Context, conn driver.Conn, f statementsFlags, from, to time.Time) error {
	lines, err := statement.Read(ctx, conn, time.Unix(0, 0), to)
	if err != nil {
		return err
	}
	pay, held := statement.Payout(lines, from, to)
	ss, err := statement.Build(pay, from, to)
	if err != nil {
		return err
	}
	if err := statement.WriteDir(f.dir, ss); err != nil {
		return err
	}
	ledger, err := statement.Ledger(ctx, conn, from, to)
	if err != nil {
		return err
	}
	r.Statements, r.Totals = len(ss), statement.Totals(ss)
	r.Carried, r.HeldBack = statement.Net(carriedIn(pay, from)), statement.Net(held)
	if r.Mismatches = statement.Reconcile(posted(r.Totals, r.Carried, r.HeldBack), ledger); len(r.Mismatches) > 0 {
		return fmt.Errorf("statements do not reconcile with ClickHouse: %v", r.Mismatches)
	}
	r.Reconciled = true
	if f.hook == "" {
		return nil
	}
	return r.deliver(ctx, conn, f, ss)
}

// carriedIn are the lines paid that were posted before from.
func carriedIn(pay []statement.Line, from time.Time) []statement.Line {
	lo := from.UTC().Format(time.DateOnly)
	var out []statement.Line
	for _, l := range pay {
		if l.Period < lo {
			out = append(out, l)
		}
	}
	return out
}

// posted is what the range's entries sum to by what the statements say:
// what they pay, less what they carry in, plus what they hold back.
func posted(paid, carried, held map[string]int64) map[string]int64 {
	out := maps.Clone(paid)
	for c, v := range carried {
		out[c] -= v
	}
	for c, v := range held {
		out[c] += v
	}
	return out
}

// deliver pays out reconciled statements of closed periods only, each
// once: a delivered one is recorded and skipped on a re-run, and a crash
// before the record re-sends the same delivery id and total.
func (r *statementsReport) deliver(ctx context.Context, conn driver.Conn, f statementsFlags, ss []statement.Statement) error {
	closed, err := statement.Closed(ctx, conn)
	if err != nil {
		return err
	}
	payable, open := statement.Payable(ss, closed)
	for _, s := range open {
		r.Held = append(r.Held, fmt.Sprintf("%s %s %s %s", s.PayeeType, s.PayeeID, s.Currency, s.Period))
	}
	delivered, err := payout.Delivered(ctx, conn)
	if err != nil {
		return err
	}
	send, skip, err := payout.Plan(payable, delivered)
	if err != nil {
		return err
	}
	r.Before = len(skip)
	c := &payout.Client{URL: f.hook, Secret: []byte(f.hookSecret), HTTP: &http.Client{Timeout: 30 * time.Second},
		Now: time.Now, Attempts: 5, Backoff: time.Second}
	for _, s := range send {
		if err := c.Deliver(ctx, s); err != nil {
			return fmt.Errorf("statement of %s %s in %s for %s: %w", s.PayeeType, s.PayeeID, s.Currency, s.Period, err)
		}
		if err := payout.Record(ctx, conn, s, time.Now()); err != nil {
			return err
		}
		r.Delivered++
	}
	return nil
}

func (r *statementsReport) write(out io.Writer, format string) error {
	if format == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	fmt.Fprintf(out, "%d statements for %s in %s\n", r.Statements, r.Period, r.Dir)
	for _, c := range slices.Sorted(maps.Keys(r.Totals)) {
		fmt.Fprintf(out, "  %s %14d minor units\n", c, r.Totals[c])
	}
	if !r.Reconciled {
		return nil
	}
	fmt.Fprintln(out, "reconciled with ClickHouse to the minor unit")
	if r.Webhook == "" {
		return nil
	}
	for _, h := range r.Held {
		fmt.Fprintf(out, "  not delivered: %s, its period is not closed for every partner in it\n", h)
	}
	_, err := fmt.Fprintf(out, "delivered %d statements to %s (%d delivered before, %d of open periods held)\n", r.Delivered, r.Webhook, r.Before, len(r.Held))
	return err
}
