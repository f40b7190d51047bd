package datadriven

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"

	"github.com/reftrack/reftrack/attribute"
	"github.com/reftrack/reftrack/internal/cli"
	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

// usage is the command's help before its flags.
const usage = `datadriven computes Markov-chain removal-effect and Shapley-value attribution
per channel (or referrer type) from the conversion paths in ClickHouse,
prints a table and stores it in attribution_data_driven under a run id.

Publish step: --publish FILE also writes the trained model the attribute
stage pays by (attribute --paid-model markov|shapley --datadriven-model FILE):
the --publish-method's channel shares in basis points summing to exactly
10000 (largest remainder), with its version (--model-version, by default the
run id, so the shares' floats can be looked up in attribution_data_driven),
trained_at and dimension. The file is replaced atomically; the attribute
stage validates it at start and swaps in a new version of the same method
within its --datadriven-reload (a new method needs a restart with a
matching --paid-model). Publish a new --model-version for new credits: a
running version published again with other credits is refused.

Flags:
`

// Command is the datadriven command: it computes Markov-chain removal-effect and Shapley-value
// attribution per channel (or referrer type) from the conversion paths in
// ClickHouse, prints a table, stores the results in
// attribution_data_driven and, with --publish, writes a trained model file
// for the attribute stage (see usage).
func Command(ctx context.Context, args []string, getenv func(string) string) error {
	fs := flag.NewFlagSet("datadriven", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	dsn := fs.String("clickhouse", "clickhouse://127.0.0.1:9000/reftrack", "ClickHouse DSN of the sink's database")
	dim := fs.String("by", "channel", "path step: channel or referrer_type")
	var period cli.Period
	period.Register(fs, "1970-01-01", "2100-01-01")
	store := fs.Bool("store", true, "write the results to attribution_data_driven")
	publish := fs.String("publish", "", "also write the trained model file the attribute stage pays by (--datadriven-model) here")
	method := fs.String("publish-method", "markov", "the model --publish writes: markov or shapley")
	version := fs.String("model-version", "", "version of the published model (default: this run's id)")
	if err := worker.ParseFlags(fs, args[1:], getenv); err != nil {
		return err
	}
	var errs []error
	if *dim != "channel" && *dim != "referrer_type" {
		errs = append(errs, fmt.Errorf("--by %q: want channel or referrer_type", *dim))
	}
	if *method != "markov" && *method != "shapley" {
		errs = append(errs, fmt.Errorf("--publish-method %q: want markov or shapley", *method))
	}
	from, to, err := period.Parse()
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return err
	}
	conn, err := cli.OpenClickHouse(ctx, *dsn)
	if err != nil {
		return err
	}
	defer conn.Close()

	paths, err := readPaths(ctx, conn, *dim, from, to)
	if err != nil {
		return err
	}
	markov, err := Markov(paths)
	if err != nil {
		return fmt.Errorf("markov: %w", err)
	}
	shapley, err := Shapley(paths)
	if err != nil {
		return fmt.Errorf("shapley: %w", err)
	}
	converted := 0
	for _, p := range paths {
		if p.Converted {
			converted++
		}
	}
	fmt.Printf("%d paths, %d converted, by %s, %s\n\n", len(paths), converted, *dim, period.String())
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "channel\tremoval effect\tmarkov share\tmarkov conv.\tshapley share\tshapley conv.\t")
	for i, m := range markov {
		s := shapley[i]
		fmt.Fprintf(tw, "%s\t%.4f\t%.2f%%\t%.2f\t%.2f%%\t%.2f\t\n", m.Channel, m.RemovalEffect, 100*m.Share, m.Conversions, 100*s.Share, s.Conversions)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	run := trainingRun{id: uuid.NewString(), at: time.Now().UTC(), dim: *dim, from: from, to: to, paths: len(paths), converted: converted}
	if *store {
		if err := run.store(ctx, conn, markov, shapley); err != nil {
			return err
		}
	}
	if *publish == "" {
		return nil
	}
	credits := map[string][]Credit{"markov": markov, "shapley": shapley}[*method]
	return run.publish(*publish, *method, *version, credits)
}

// trainingRun is one computation of the data-driven credits.
type trainingRun struct {
	id               string
	at               time.Time
	dim              string
	from, to         time.Time
	paths, converted int
}

// publish writes method's credits of the run to path as a trained model,
// versioned version or else by the run id.
func (r trainingRun) publish(path, method, version string, credits []Credit) error {
	if version == "" {
		version = r.id
	}
	m, err := Publish(method, r.dim, version, r.at, credits)
	if err != nil {
		return err
	}
	if err := attribute.WriteTrainedModel(path, m); err != nil {
		return err
	}
	fmt.Printf("published %s model version %s to %s\n", method, version, path)
	return nil
}

// store writes the run's credits to attribution_data_driven.
func (r trainingRun) store(ctx context.Context, conn driver.Conn, markov, shapley []Credit) error {
	b, err := conn.PrepareBatch(ctx, "INSERT INTO attribution_data_driven (run_id, run_at, method, dimension, channel, removal_effect, share, conversions, paths, converted, window_start, window_end)")
	if err != nil {
		return fmt.Errorf("prepare insert: %w", err)
	}
	for method, credits := range map[string][]Credit{"markov": markov, "shapley": shapley} {
		for _, c := range credits {
			if err := b.Append(r.id, r.at, method, r.dim, c.Channel, c.RemovalEffect, c.Share, c.Conversions,
				uint64(r.paths), uint64(r.converted), r.from, r.to); err != nil {
				_ = b.Abort()
				return fmt.Errorf("append result: %w", err)
			}
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("store results: %w", err)
	}
	fmt.Printf("\nstored as run %s in attribution_data_driven\n", r.id)
	return nil
}

// readPaths builds each lead's path from its referral.created events in time
// order; a lead converted if it has a policy.issued in the window. A lead is
// a partner's lead id: two partners' leads of the same id are two paths.
func readPaths(ctx context.Context, conn driver.Conn, dim string, from, to time.Time) ([]Path, error) {
	converted := map[string]bool{} // by schemas.Scoped lead
	rows, err := conn.Query(ctx, `SELECT DISTINCT partner_id, lead_id FROM referral_events FINAL
		WHERE event_type = 'policy.issued' AND occurred_at >= ? AND occurred_at < ?`, from, to)
	if err != nil {
		return nil, fmt.Errorf("read conversions: %w", err)
	}
	for rows.Next() {
		var partner, lead string
		if err := rows.Scan(&partner, &lead); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read a conversion: %w", err)
		}
		converted[schemas.Scoped(partner, lead)] = true
	}
	rows.Close()
	// dim is one of two column names checked by the caller.
	rows, err = conn.Query(ctx, `SELECT partner_id, lead_id, `+dim+` FROM referral_events FINAL
		WHERE event_type = 'referral.created' AND occurred_at >= ? AND occurred_at < ?
		ORDER BY partner_id, lead_id, occurred_at_ms, event_id`, from, to)
	if err != nil {
		return nil, fmt.Errorf("read touchpoints: %w", err)
	}
	defer rows.Close()
	var paths []Path
	last := ""
	for rows.Next() {
		var partner, id, step string
		if err := rows.Scan(&partner, &id, &step); err != nil {
			return nil, fmt.Errorf("read a touchpoint: %w", err)
		}
		lead := schemas.Scoped(partner, id)
		if lead != last || len(paths) == 0 {
			paths = append(paths, Path{Converted: converted[lead]})
			last = lead
		}
		p := &paths[len(paths)-1]
		p.Channels = append(p.Channels, step)
	}
	return paths, rows.Err()
}
