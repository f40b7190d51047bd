// Command dlq lists, inspects and re-drives dead letters:
//
//	dlq list    [--stage S] [--code C] [--source T]
//	dlq show    --pos PARTITION/OFFSET
//	dlq redrive [--stage S] [--code C] [--source T] [--dry-run]
//
// redrive sends each chosen record's original bytes back to the topic it was
// rejected from, once; run it after the schema or rule fix is deployed.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrack/reftrack/internal/cli"
	"github.com/reftrack/reftrack/internal/rediscfg"
	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
	"github.com/reftrack/reftrack/validate/dlq"
)

func main() { cli.Main("dlq", run) }

func run(ctx context.Context, args []string, getenv func(string) string) error {
	if len(args) < 2 || strings.HasPrefix(args[1], "-") {
		return errors.New("usage: dlq list|show|redrive [flags]")
	}
	cmd := args[1]
	fs := flag.NewFlagSet("dlq "+cmd, flag.ContinueOnError)
	brokers := fs.String("brokers", "127.0.0.1:9092", "Kafka seed brokers")
	prefix := fs.String("topic-prefix", "", "topic prefix of the pipeline")
	var f dlq.Filter
	fs.StringVar(&f.Stage, "stage", "", "only dead letters of this stage")
	fs.StringVar(&f.Code, "code", "", "only dead letters with this reason code")
	fs.StringVar(&f.Source, "source", "", "only dead letters from this source topic")
	pos := fs.String("pos", "", "show: the dead letter's partition/offset")
	dry := fs.Bool("dry-run", false, "redrive: list what would be sent, send nothing")
	var rc rediscfg.Config
	rc.RegisterFlags(fs)
	if err := worker.ParseFlags(fs, args[2:], getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	seeds := strings.Split(*brokers, ",")
	recs, err := dlq.Read(ctx, seeds, *prefix+schemas.TopicRejected)
	if err != nil {
		return err
	}
	switch cmd {
	case "list":
		tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "pos\tstage\tsource\tfailed_at\treasons")
		for _, r := range recs {
			if !f.Match(r) {
				continue
			}
			var codes []string
			for _, x := range r.Reasons {
				codes = append(codes, x.Code+" "+x.Pointer)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Pos(), r.Stage, fmt.Sprintf("%s/%d@%d", r.SourceTopic, r.SourcePartition, r.SourceOffset),
				r.FailedAt.Format(time.RFC3339), strings.Join(codes, "; "))
		}
		return tw.Flush()
	case "show":
		for _, r := range recs {
			if r.Pos() == *pos {
				out := map[string]any{"pos": r.Pos(), "rejection": r.Rejection, "original_text": string(r.Original)}
				b, _ := json.MarshalIndent(out, "", "  ")
				fmt.Println(string(b))
				return nil
			}
		}
		return fmt.Errorf("no dead letter at %q", *pos)
	case "redrive":
		if err := rc.Validate(); err != nil {
			return err
		}
		rdb, err := rc.Connect(ctx)
		if err != nil {
			return err
		}
		defer rdb.Close()
		cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.RequiredAcks(kgo.AllISRAcks()))
		if err != nil {
			return err
		}
		defer cl.Close()
		sent, err := dlq.Redrive(ctx, cl, rdb, rc.KeyPrefix, recs, f, *dry)
		verb := "re-drove"
		if *dry {
			verb = "would re-drive"
		}
		fmt.Printf("%s %d dead letters\n", verb, len(sent))
		return err
	}
	return fmt.Errorf("unknown command %q: want list, show or redrive", cmd)
}
