package ops

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"text/tabwriter"

	"github.com/reftrack/reftrack/commission"
	"github.com/reftrack/reftrack/commission/whatif"
	"github.com/reftrack/reftrack/internal/cli"
	"github.com/reftrack/reftrack/internal/worker"
)

// Whatif is the whatif command: it applies a candidate rule set to a period
// of history in ClickHouse and prints, per payee and in total, what was paid
// and what the candidate would pay (commission and override lines; clawbacks
// left out), with the licence registry and FX rates given (as the stage
// runs with them: --licences, --fx-rates).
func Whatif(ctx context.Context, args []string, getenv func(string) string) error {
	fs := flag.NewFlagSet("whatif", flag.ContinueOnError)
	dsn := fs.String("clickhouse", "clickhouse://127.0.0.1:9000/reftrack", "ClickHouse DSN of the sink's database")
	rulesPath := fs.String("rules", "", "candidate rule-set file")
	var period cli.Period
	period.Register(fs, "1970-01-01", "2100-01-01")
	top := fs.Int("top", 25, "payees to list, largest changes first")
	licences := fs.String("licences", "", "licence registry the candidate is priced with (referral fees for payees unlicensed or not appointed); none: no check, no FX")
	rates := fs.String("fx-rates", "", "FX rates file payees paid in another currency are compared with (needs --licences)")
	if err := worker.ParseFlags(fs, args[1:], getenv); err != nil {
		return err
	}
	from, to, err := period.Parse()
	if err != nil {
		return err
	}
	rs, err := commission.LoadRules(*rulesPath)
	if err != nil {
		return err
	}
	ref, err := loadReference(*licences, *rates)
	if err != nil {
		return err
	}
	conn, err := cli.OpenClickHouse(ctx, *dsn)
	if err != nil {
		return err
	}
	defer conn.Close()
	rows, paid, err := whatif.Read(ctx, conn, from, to)
	if err != nil {
		return err
	}
	envs, atts, err := whatif.Attributions(rows)
	if err != nil {
		return err
	}
	next, errs := whatif.Recompute(rs, ref, envs, atts)
	for _, e := range errs {
		fmt.Fprintln(os.Stderr, "not payable under the candidate:", e)
	}
	diffs := whatif.Compare(paid, next)
	fmt.Printf("%d attributions, %s, candidate rules %s\n\n", len(atts), period.String(), rs.Version)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "payee\tpaid\tcandidate\tchange\t")
	totals := map[string][2]int64{}
	for i, d := range diffs {
		cur := d.Payee[len(d.Payee)-3:]
		t := totals[cur]
		totals[cur] = [2]int64{t[0] + d.Old, t[1] + d.New}
		if i < *top {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%+d\t\n", d.Payee, d.Old, d.New, d.New-d.Old)
		}
	}
	var curs []string
	for c := range totals {
		curs = append(curs, c)
	}
	sort.Strings(curs)
	for _, c := range curs {
		fmt.Fprintf(tw, "total %s\t%d\t%d\t%+d\t\n", c, totals[c][0], totals[c][1], totals[c][1]-totals[c][0])
	}
	return tw.Flush()
}

// loadReference reads the reference data what-if prices with, as the
// stage's --licences and --fx-rates: rates only with a registry, which
// says who is paid in which currency.
func loadReference(licences, rates string) (commission.Reference, error) {
	var ref commission.Reference
	if licences == "" {
		if rates != "" {
			return ref, errors.New("--fx-rates: needs --licences, which says who is paid in which currency")
		}
		return ref, nil
	}
	var err error
	if ref.Licences, err = commission.LoadLicences(licences); err != nil {
		return ref, err
	}
	if rates != "" {
		if ref.Rates, err = commission.LoadRates(rates); err != nil {
			return ref, err
		}
	}
	return ref, nil
}
