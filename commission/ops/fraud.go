package ops

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrack/reftrack/internal/cli"
	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

// Fraud runs one scheduled fraud rule over ClickHouse: `fraud velocity
// [flags]` (see Velocity). The rules that a single record decides (banned
// referrers, big policies) are hold rules of the rule set, run by the stage;
// these need every partition's history, which only ClickHouse sees.
func Fraud(ctx context.Context, args []string, getenv func(string) string) error {
	return cli.Dispatch(ctx, args, getenv, os.Stderr, fraudUsage, map[string]cli.RunFunc{
		"velocity": func(ctx context.Context, args []string, getenv func(string) string) error {
			return Velocity(ctx, args, getenv, os.Stdout)
		},
	})
}

const fraudUsage = `usage: fraud <rule> [flags]   (fraud <rule> -h: its flags)
rules:
  velocity   hold the accruals of referrers with more than --max conversions (or leads) in a window`

// Velocity reason and actor of the holds it requests.
const (
	VelocityReason = "fraud:velocity"
	velocityRule   = "velocity"
)

// velocityScan is what the flags ask for.
type velocityScan struct {
	pl      pipeline
	dsn     string
	window  time.Duration
	max     int
	count   string // what is counted: conversions or leads
	windows int    // how many windows, the one holding at and those before it
	at      string // RFC 3339; "" for now
	dryRun  bool
}

// Counted events of a velocity scan.
const (
	countConversions = "conversions"
	countLeads       = "leads"
)

func (v *velocityScan) register(fs *flag.FlagSet) {
	v.pl.register(fs)
	fs.StringVar(&v.dsn, "clickhouse", "clickhouse://127.0.0.1:9000/reftrack", "ClickHouse DSN of the sink's database")
	fs.DurationVar(&v.window, "window", 24*time.Hour, "length of a window; windows are aligned to UTC multiples of it (24h: days)")
	fs.IntVar(&v.max, "max", 0, "most conversions (or leads) a referrer may have in one window; more holds its accruals (required, ≥ 1)")
	fs.StringVar(&v.count, "count", countConversions, "what is counted per referrer: conversions (attributions with its touch) or leads (referral.created)")
	fs.IntVar(&v.windows, "windows", 2, "windows scanned: the one holding --at and those before it (late rows land in the previous one)")
	fs.StringVar(&v.at, "at", "", "time the scan is for, RFC 3339 (default: now); a re-run with the same --at requests the same holds")
	fs.BoolVar(&v.dryRun, "dry-run", false, "list the holds it would request, send nothing")
}

// check reports every problem with the flags at once.
func (v velocityScan) check() error {
	var errs []error
	if v.window < time.Minute || v.window%time.Minute != 0 {
		errs = append(errs, fmt.Errorf("--window %s: want whole minutes, at least 1m", v.window))
	}
	if v.max < 1 {
		errs = append(errs, fmt.Errorf("--max %d: want ≥ 1", v.max))
	}
	if v.count != countConversions && v.count != countLeads {
		errs = append(errs, fmt.Errorf("--count %q: want %s or %s", v.count, countConversions, countLeads))
	}
	if v.windows < 1 || v.windows > 31 {
		errs = append(errs, fmt.Errorf("--windows %d: want 1..31", v.windows))
	}
	if _, err := v.atTime(time.Now()); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(append(errs, v.pl.kafka.Validate())...)
}

func (v velocityScan) atTime(now time.Time) (time.Time, error) {
	if v.at == "" {
		return now.UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, v.at)
	if err != nil {
		return time.Time{}, fmt.Errorf("--at %q: want RFC 3339: %w", v.at, err)
	}
	return t.UTC(), nil
}

// VelocityFlags is the velocity command's flag set and the check of what
// it parsed, so deploy/k8s holds its CronJob to the command.
func VelocityFlags() (*flag.FlagSet, func() error) {
	var v velocityScan
	fs := flag.NewFlagSet("fraud velocity", flag.ContinueOnError)
	v.register(fs)
	return fs, func() error { return v.check() } // v as parsed, not a copy of it now
}

// Velocity holds the accruals of referrers with more than --max
// conversions (or leads) in a window: it counts, per partner and referrer,
// in ClickHouse (which sees every partition, as no stage's state does),
// then requests a hold (commission.decision_requested, decision "hold",
// reason fraud:velocity, actor rule:velocity@<params>) on each of the
// referrer's standing positive direct accruals not yet released, keyed by
// the accrual's lead like `decide`. A request's id derives from the
// accrual, the rule and the window, so a re-run (or the next run of a
// CronJob over the same window) sends the same ids and the stage posts each
// hold once. `decide --release` or `--decline` ends a hold.
//
//	fraud velocity --clickhouse DSN --brokers … --max N [--window 24h] [--count conversions|leads] [--windows 2] [--at T] [--dry-run]
func Velocity(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	var v velocityScan
	fs := flag.NewFlagSet("fraud velocity", flag.ContinueOnError)
	v.register(fs)
	if err := worker.ParseFlags(fs, args[1:], getenv); err != nil {
		return err
	}
	if err := v.check(); err != nil {
		return err
	}
	now := time.Now().UTC()
	at, _ := v.atTime(now) // checked above
	conn, err := cli.OpenClickHouse(ctx, v.dsn)
	if err != nil {
		return err
	}
	defer conn.Close()
	holds, err := v.scan(ctx, conn, at, now)
	if err != nil {
		return err
	}
	if !v.dryRun {
		if err := v.send(ctx, holds, now); err != nil {
			return err
		}
	}
	return printHolds(out, holds, v.dryRun)
}

// velocityHold is one hold the scan requests.
type velocityHold struct {
	RequestID     string `json:"request_id"`
	EntryID       string `json:"entry_id"`
	AttributionID string `json:"attribution_id"`
	PartnerID     string `json:"partner_id"`
	LeadID        string `json:"lead_id"`
	Payee         string `json:"payee"` // type:id
	Currency      string `json:"currency"`
	AmountMinor   int64  `json:"amount_minor"`
	Counted       uint64 `json:"counted"` // conversions (or leads) of the payee in the window
	Actor         string `json:"actor"`
}

// offender is a referrer over the limit in one window.
type offender struct {
	partner, typ, id string
	counted          uint64
}

// scan finds the holds to request at time at: for each window, the
// offenders, then their accruals a hold may still stop in the month of now
// (the month the requests post in). An accrual flagged in several windows
// is held once, by the earliest.
func (v velocityScan) scan(ctx context.Context, conn driver.Conn, at, now time.Time) ([]velocityHold, error) {
	var out []velocityHold
	seen := map[string]bool{}
	start := at.Truncate(v.window).Add(-time.Duration(v.windows-1) * v.window)
	for w := range v.windows {
		from := start.Add(time.Duration(w) * v.window)
		offenders, err := v.offenders(ctx, conn, from)
		if err != nil {
			return nil, err
		}
		params := v.params(from)
		for _, o := range offenders {
			hs, err := unreleasedAccruals(ctx, conn, o, now)
			if err != nil {
				return nil, err
			}
			for _, h := range hs {
				if seen[h.EntryID] {
					continue
				}
				seen[h.EntryID] = true
				h.Counted, h.Actor, h.RequestID = o.counted, "rule:"+velocityRule+"@"+params, velocityRequestID(h.EntryID, params)
				out = append(out, h)
			}
		}
	}
	return out, nil
}

// params name the rule's settings and window on every hold it requests:
// the hold says why, and its request id changes when they do.
func (v velocityScan) params(from time.Time) string {
	return fmt.Sprintf("window=%s,max=%d,count=%s,from=%s", v.window, v.max, v.count, from.Format(time.RFC3339))
}

// velocitySpace namespaces velocity request ids (UUIDv5).
var velocitySpace = uuid.MustParse("5b0c7a2e-3d4f-5e61-8a9b-0c1d2e3f4a5b")

// velocityRequestID: one request per accrual, rule and window, whoever
// runs the scan and however often.
func velocityRequestID(entryID, params string) string {
	return uuid.NewSHA1(velocitySpace, []byte(strings.Join([]string{velocityRule, params, entryID}, "|"))).String()
}

// Offenders per partner and referrer (referrer ids are the partner's).
// Conversions: attributions of their latest version (a touch dropped by a
// newer version stays in the table as an older row) with a counted touch
// of the referrer in the paid model, by conversion time. Leads: distinct
// leads of referral.created events naming the referrer, by receipt time.
const (
	offendersByConversions = `SELECT partner_id, referrer_type, referrer_id, uniqExact(attribution_id) AS counted
FROM attributions FINAL
WHERE paid = 1 AND excluded = 0 AND referrer_id != ''
  AND converted_at >= toDateTime(?) AND converted_at < toDateTime(?)
  AND (attribution_id, version) IN (SELECT attribution_id, max(version) FROM attributions GROUP BY attribution_id)
GROUP BY partner_id, referrer_type, referrer_id
HAVING counted > ?
ORDER BY partner_id, referrer_type, referrer_id`
	offendersByLeads = `SELECT partner_id, referrer_type, referrer_id, uniqExact(lead_id) AS counted
FROM referral_events FINAL
WHERE event_type = 'referral.created' AND referrer_id != ''
  AND received_at >= toDateTime(?) AND received_at < toDateTime(?)
GROUP BY partner_id, referrer_type, referrer_id
HAVING counted > ?
ORDER BY partner_id, referrer_type, referrer_id`
)

func (v velocityScan) offenders(ctx context.Context, conn driver.Conn, from time.Time) ([]offender, error) {
	q := offendersByConversions
	if v.count == countLeads {
		q = offendersByLeads
	}
	rows, err := conn.Query(ctx, q, from.Unix(), from.Add(v.window).Unix(), v.max)
	if err != nil {
		return nil, fmt.Errorf("count %s per referrer from %s: %w", v.count, from.Format(time.RFC3339), err)
	}
	defer rows.Close()
	var out []offender
	for rows.Next() {
		var o offender
		if err := rows.Scan(&o.partner, &o.typ, &o.id, &o.counted); err != nil {
			return nil, fmt.Errorf("read referrer counts: %w", err)
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// accrualsToHold are a payee's positive direct accruals a hold can still
// stop: not superseded (reversed), not decided (approved or declined), not
// held by a velocity hold already, and not released before month (pending,
// or released by hold_until in month or later) — the stage refuses a hold
// on one released earlier, since its statement may be paid. A hold on an
// accrual covers the overrides on it, so overrides are not listed.
const accrualsToHold = `SELECT entry_id, attribution_id, partner_id, lead_id, currency, amount_minor
FROM commission_entries FINAL
WHERE kind = 'accrual' AND override_level = 0 AND amount_minor > 0
  AND partner_id = ? AND payee_type = ? AND payee_id = ?
  AND entry_id NOT IN (SELECT corrects FROM commission_entries FINAL
      WHERE kind = 'reversal' OR decision IN ('approve', 'decline') OR (decision = 'hold' AND actor LIKE 'rule:velocity@%'))
  AND (hold_until = '' OR period >= toDate(?) OR substring(hold_until, 1, 7) >= ?)
ORDER BY entry_id`

func unreleasedAccruals(ctx context.Context, conn driver.Conn, o offender, now time.Time) ([]velocityHold, error) {
	month := now.UTC().Format("2006-01")
	rows, err := conn.Query(ctx, accrualsToHold, o.partner, o.typ, o.id, month+"-01", month)
	if err != nil {
		return nil, fmt.Errorf("find accruals of %s to hold: %w", schemas.Scoped(o.partner, o.typ+":"+o.id), err)
	}
	defer rows.Close()
	var out []velocityHold
	for rows.Next() {
		h := velocityHold{Payee: o.typ + ":" + o.id}
		if err := rows.Scan(&h.EntryID, &h.AttributionID, &h.PartnerID, &h.LeadID, &h.Currency, &h.AmountMinor); err != nil {
			return nil, fmt.Errorf("read accruals of %s: %w", h.Payee, err)
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// send produces every hold request, each keyed by its accrual's lead.
func (v velocityScan) send(ctx context.Context, holds []velocityHold, now time.Time) error {
	if len(holds) == 0 {
		return nil
	}
	recs := make([]*kgo.Record, 0, len(holds))
	for _, h := range holds {
		rec, err := holdRecord(v.pl.prefix, h, now)
		if err != nil {
			return err
		}
		recs = append(recs, rec)
	}
	cl, err := v.pl.client(ctx)
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("produce %d velocity hold requests: %w", len(recs), err)
	}
	return nil
}

// holdRecord is one hold request as the stage reads it: its event id is the
// request id, so the record is the same on every run but for its times.
func holdRecord(prefix string, h velocityHold, now time.Time) (*kgo.Record, error) {
	p, err := schemas.Encode(schemas.DecisionRequested{RequestID: h.RequestID, EntryID: h.EntryID, AttributionID: h.AttributionID,
		Decision: schemas.DecisionHold, Actor: h.Actor, Reason: VelocityReason})
	if err != nil {
		return nil, fmt.Errorf("encode hold request: %w", err)
	}
	at := now.UTC()
	v, err := schemas.Encode(schemas.Envelope{EventID: h.RequestID, EventType: schemas.TypeDecisionRequested, SchemaVersion: 1,
		OccurredAt: at, ReceivedAt: &at, PartnerID: h.PartnerID, LeadID: h.LeadID, Payload: p})
	if err != nil {
		return nil, fmt.Errorf("encode hold request: %w", err)
	}
	return &kgo.Record{Topic: prefix + schemas.TopicAttributions, Key: schemas.LeadKey(h.PartnerID, h.LeadID), Value: v}, nil
}

func printHolds(w io.Writer, holds []velocityHold, dryRun bool) error {
	verb := "requested"
	if dryRun {
		verb = "would request (dry run)"
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "%d velocity holds %s\n", len(holds), verb)
	if len(holds) > 0 {
		fmt.Fprintln(tw, "partner\tpayee\tcounted\tentry\tamount\trequest\tby")
	}
	for _, h := range holds {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d %s\t%s\t%s\n", h.PartnerID, h.Payee, h.Counted, h.EntryID, h.AmountMinor, h.Currency, h.RequestID, h.Actor)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("print velocity holds: %w", err)
	}
	return nil
}
