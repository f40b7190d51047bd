package dlq

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrack/reftrack/internal/cli"
	"github.com/reftrack/reftrack/internal/kafkaconn"
	"github.com/reftrack/reftrack/internal/rediscfg"
	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

// Usage names the subcommands; printed for -h and for a missing one.
const Usage = `usage: dlq list|show|redrive [flags]

  list     dead letters, filtered by --stage, --code, --source
  show     one dead letter with its original bytes (--pos PARTITION/OFFSET)
  redrive  send the chosen dead letters back to their source topic, once each

"dlq <subcommand> -h" lists its flags.`

// Command is the dlq command: args[1] is list, show or redrive.
//
//	dlq list    [--stage S] [--code C] [--source T] [--output table|json]
//	dlq show    --pos PARTITION/OFFSET
//	dlq redrive [--stage S] [--code C] [--source T] [--dry-run]
//
// redrive sends each chosen record's original bytes back to the topic it was
// rejected from, once; run it after the schema or rule fix is deployed.
func Command(ctx context.Context, args []string, getenv func(string) string) error {
	return command(ctx, args, getenv, os.Stdout, os.Stderr)
}

// commandFlags is what the flags ask for.
type commandFlags struct {
	kafka               kafkaconn.Config
	prefix, pos, output string
	filter              Filter
	dry                 bool
	redis               rediscfg.Config
}

func command(ctx context.Context, args []string, getenv func(string) string, out, errOut io.Writer) error {
	run := func(ctx context.Context, args []string, getenv func(string) string) error {
		return subcommand(ctx, args, getenv, out, errOut)
	}
	return cli.Dispatch(ctx, args, getenv, errOut, Usage, map[string]cli.RunFunc{"list": run, "show": run, "redrive": run})
}

// subcommand runs list, show or redrive; args start with its name.
func subcommand(ctx context.Context, args []string, getenv func(string) string, out, errOut io.Writer) error {
	sub := args[0]
	var f commandFlags
	fs := flag.NewFlagSet("dlq "+sub, flag.ContinueOnError)
	fs.SetOutput(errOut)
	f.register(fs, sub)
	if err := worker.ParseFlags(fs, args[1:], getenv); err != nil {
		return err
	}
	if sub == "list" && f.output != "table" && f.output != "json" {
		return fmt.Errorf("--output %q: want table or json", f.output)
	}
	recs, err := Read(ctx, f.kafka, f.prefix+schemas.TopicRejected)
	if err != nil {
		return err
	}
	switch sub {
	case "list":
		return list(out, recs, f.filter, f.output)
	case "show":
		return show(out, recs, f.pos)
	default:
		return f.redrive(ctx, out, recs)
	}
}

// register adds the flags sub uses, so that "dlq sub -h" lists only those.
func (f *commandFlags) register(fs *flag.FlagSet, sub string) {
	f.kafka.RegisterFlags(fs)
	fs.StringVar(&f.prefix, "topic-prefix", "", "topic prefix of the pipeline")
	if sub == "show" {
		fs.StringVar(&f.pos, "pos", "", "the dead letter's partition/offset")
		return
	}
	fs.StringVar(&f.filter.Stage, "stage", "", "only dead letters of this stage")
	fs.StringVar(&f.filter.Code, "code", "", "only dead letters with this reason code")
	fs.StringVar(&f.filter.Source, "source", "", "only dead letters from this source topic")
	if sub == "list" {
		fs.StringVar(&f.output, "output", "table", "table or json")
		return
	}
	fs.BoolVar(&f.dry, "dry-run", false, "list what would be sent, send nothing")
	f.redis.RegisterFlags(fs)
}

// listed is one dead letter as list prints it: where it is and why, not
// its bytes (show has those).
type listed struct {
	Pos             string           `json:"pos"`
	Stage           string           `json:"stage"`
	SourceTopic     string           `json:"source_topic"`
	SourcePartition int32            `json:"source_partition"`
	SourceOffset    int64            `json:"source_offset"`
	FailedAt        time.Time        `json:"failed_at"`
	Reasons         []schemas.Reason `json:"reasons"`
}

func list(out io.Writer, recs []Record, f Filter, format string) error {
	rows := []listed{} // [] rather than null when none match
	for _, r := range recs {
		if f.Match(r) {
			rows = append(rows, listed{Pos: r.Pos(), Stage: r.Stage, SourceTopic: r.SourceTopic, SourcePartition: r.SourcePartition,
				SourceOffset: r.SourceOffset, FailedAt: r.FailedAt, Reasons: r.Reasons})
		}
	}
	if format == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "pos\tstage\tsource\tfailed_at\treasons")
	for _, r := range rows {
		var codes []string
		for _, x := range r.Reasons {
			codes = append(codes, x.Code+" "+x.Pointer)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s/%d@%d\t%s\t%s\n", r.Pos, r.Stage, r.SourceTopic, r.SourcePartition, r.SourceOffset,
			r.FailedAt.Format(time.RFC3339), strings.Join(codes, "; "))
	}
	return tw.Flush()
}

func show(out io.Writer, recs []Record, pos string) error {
	for _, r := range recs {
		if r.Pos() == pos {
			b, err := json.MarshalIndent(map[string]any{"pos": r.Pos(), "rejection": r.Rejection, "original_text": string(r.Original)}, "", "  ")
			if err != nil {
				return fmt.Errorf("encode dead letter %s: %w", pos, err)
			}
			_, err = fmt.Fprintln(out, string(b))
			return err
		}
	}
	return fmt.Errorf("no dead letter at %q", pos)
}

func (f *commandFlags) redrive(ctx context.Context, out io.Writer, recs []Record) error {
	if err := f.redis.Validate(); err != nil {
		return err
	}
	rdb, err := f.redis.Connect(ctx)
	if err != nil {
		return err
	}
	defer rdb.Close()
	cl, err := f.kafka.NewClient(kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		return err
	}
	defer cl.Close()
	sent, err := Redrive(ctx, cl, rdb, f.redis.KeyPrefix, recs, f.filter, f.dry)
	verb := "re-drove"
	if f.dry {
		verb = "would re-drive"
	}
	fmt.Fprintf(out, "%s %d dead letters\n", verb, len(sent))
	return err
}
