package pii

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrack/reftrack/internal/cli"
	"github.com/reftrack/reftrack/internal/kafkaconn"
	"github.com/reftrack/reftrack/internal/rediscfg"
	"github.com/reftrack/reftrack/internal/worker"
)

// The ops CLI's privacy commands: `reftrack erase`, `reftrack pii
// rewrap|keys|add-kek|activate` and `reftrack retention`. Each is a cli.RunFunc
// whose args start with its own name.

// EraseCommand is `reftrack erase --partner P --lead L --actor A --reason R`.
func EraseCommand(ctx context.Context, args []string, getenv func(string) string) error {
	return eraseCommand(ctx, args, getenv, os.Stdout, os.Stderr)
}

func eraseCommand(ctx context.Context, args []string, getenv func(string) string, out, errOut io.Writer) error {
	fs := flag.NewFlagSet("erase", flag.ContinueOnError)
	fs.SetOutput(errOut)
	var e Erasure
	var rc rediscfg.Config
	RegisterStoreFlags(fs, &rc)
	fs.StringVar(&e.PartnerID, "partner", "", "partner of the lead to erase (required)")
	fs.StringVar(&e.LeadID, "lead", "", "lead to erase (required)")
	fs.StringVar(&e.Actor, "actor", "", "who asks for the erasure, for the audit record (required)")
	fs.StringVar(&e.Reason, "reason", "", "why, e.g. the ticket of the data subject's request (required)")
	fs.StringVar(&e.ErasureID, "request-id", "", "id of the erasure request; give the same id when running a failed erasure again (default: random)")
	dsn := fs.String("clickhouse", "clickhouse://127.0.0.1:9000/reftrack", "ClickHouse DSN of the sink's database, for the audit record (privacy_erasures)")
	var kafka kafkaconn.Config
	kafka.RegisterOptionalFlags(fs, "also produce the audit record to privacy.erasures")
	prefix := fs.String("topic-prefix", "", "topic prefix of the pipeline")
	if err := worker.ParseFlags(fs, args[1:], getenv); err != nil {
		return err
	}
	if err := errors.Join(storeValid(&rc), kafka.Validate(), required(map[string]string{"--partner": e.PartnerID, "--lead": e.LeadID, "--actor": e.Actor, "--reason": e.Reason})); err != nil {
		return err
	}
	if e.ErasureID == "" {
		e.ErasureID = randomID()
	}
	e.RequestedAt = time.Now().UTC()
	rdb, err := rc.Connect(ctx)
	if err != nil {
		return fmt.Errorf("key store: %w", err)
	}
	defer rdb.Close()
	conn, err := cli.OpenClickHouse(ctx, *dsn)
	if err != nil {
		return err
	}
	defer conn.Close()
	audits := []AuditLog{ClickHouseAudit{Conn: conn}}
	if kafka.Enabled() {
		// Pinged first: brokers that refuse the login fail the erasure
		// before anything is recorded, not in a produce that retries
		// until the context ends.
		cl, err := kafka.Connect(ctx, kgo.RequiredAcks(kgo.AllISRAcks()))
		if err != nil {
			return err
		}
		defer cl.Close()
		audits = append(audits, KafkaAudit{Client: cl, Prefix: *prefix})
	}
	done, err := Erase(ctx, &RedisStore{RDB: rdb, Prefix: rc.KeyPrefix}, audits, e)
	if err != nil {
		return err
	}
	what := fmt.Sprintf("no data key of it in the key store at %s (db %d, prefix %q): nothing of it was sealed there, or it was erased before",
		rc.Addr, rc.DB, rc.KeyPrefix)
	if done.HadKey {
		what = "data key " + done.DataKeyID + " destroyed"
	}
	fmt.Fprintf(out, "erasure %s of %s|%s recorded; %s\n", done.ErasureID, done.PartnerID, done.LeadID, what)
	return nil
}

// PIIUsage lists the pii subcommands.
const PIIUsage = `usage: reftrack pii <subcommand> [flags]
  rewrap    re-wrap every stored data key under the keyring's current KEK version
  keys      count the stored data keys per KEK version
  add-kek   add a KEK version to a local keyring file (created when missing)
  activate  make a KEK version the keyring file's current one`

// PIICommand is `reftrack pii rewrap|keys|add-kek|activate`.
func PIICommand(ctx context.Context, args []string, getenv func(string) string) error {
	return piiCommand(ctx, args, getenv, os.Stdout, os.Stderr)
}

func piiCommand(ctx context.Context, args []string, getenv func(string) string, out, errOut io.Writer) error {
	run := func(ctx context.Context, args []string, getenv func(string) string) error {
		return piiSubcommand(ctx, args, getenv, out, errOut)
	}
	return cli.Dispatch(ctx, args, getenv, errOut, PIIUsage,
		map[string]cli.RunFunc{"rewrap": run, "keys": run, "add-kek": run, "activate": run})
}

// piiSubcommand runs one pii subcommand; args start with its name.
func piiSubcommand(ctx context.Context, args []string, getenv func(string) string, out, errOut io.Writer) error {
	sub := args[0]
	var f piiFlags
	fs := flag.NewFlagSet("pii "+sub, flag.ContinueOnError)
	fs.SetOutput(errOut)
	f.register(fs, sub)
	if err := worker.ParseFlags(fs, args[1:], getenv); err != nil {
		return err
	}
	switch sub {
	case "add-kek":
		return editKeyringFile(f.keyring, true, out, func(b []byte) ([]byte, error) { return AddKEK(b, f.current) })
	case "activate":
		return editKeyringFile(f.keyring, false, out, func(b []byte) ([]byte, error) { return SetCurrentKEK(b, uint32(f.version)) })
	case "keys":
		return f.withStore(ctx, func(store DataKeyStore) error { return printKeyVersions(ctx, store, out) })
	default:
		return f.rewrap(ctx, out)
	}
}

// piiFlags are the flags of the pii subcommands; each registers its own.
type piiFlags struct {
	keyring string
	current bool
	version uint
	redis   rediscfg.Config
}

func (f *piiFlags) register(fs *flag.FlagSet, sub string) {
	if sub != "keys" {
		fs.StringVar(&f.keyring, "keyring", "", "local keyring file (JSON, mode 0600)")
	}
	switch sub {
	case "add-kek":
		fs.BoolVar(&f.current, "current", false, "make the new version current at once (safe only for a keyring no replica uses yet)")
	case "activate":
		fs.UintVar(&f.version, "version", 0, "the KEK version to make current")
	default:
		RegisterStoreFlags(fs, &f.redis)
	}
}

// withStore runs fn with the key store the flags name.
func (f *piiFlags) withStore(ctx context.Context, fn func(DataKeyStore) error) error {
	if err := storeValid(&f.redis); err != nil {
		return err
	}
	rdb, err := f.redis.Connect(ctx)
	if err != nil {
		return fmt.Errorf("key store: %w", err)
	}
	defer rdb.Close()
	return fn(&RedisStore{RDB: rdb, Prefix: f.redis.KeyPrefix})
}

func (f *piiFlags) rewrap(ctx context.Context, out io.Writer) error {
	if f.keyring == "" {
		return errors.New("--keyring: required")
	}
	ring, err := LoadKeyring(f.keyring)
	if err != nil {
		return err
	}
	return f.withStore(ctx, func(store DataKeyStore) error {
		rep, err := Rewrap(ctx, ring, store)
		fmt.Fprintf(out, "re-wrapped %d data keys under KEK %s/%d (%d scanned, %d already current, %d changed meanwhile and left)\n",
			rep.Rewrapped, ring.ID(), rep.Current, rep.Scanned, rep.UpToDate, rep.Raced)
		return err
	})
}

// storeValid checks the key store's flags, naming them as given.
func storeValid(c *rediscfg.Config) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("key store (--%sredis…): %w", StoreFlagPrefix, err)
	}
	return nil
}

// editKeyringFile applies edit to a local keyring file (with create, a
// new keyring when the file is missing) and prints what it holds now.
func editKeyringFile(path string, create bool, out io.Writer, edit func([]byte) ([]byte, error)) error {
	if path == "" {
		return errors.New("--keyring: required")
	}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist) && create:
		b, err = NewKeyringFile("local")
	case err == nil:
		if _, err = LoadKeyring(path); err == nil { // the mode check, before editing
			b, err = edit(b)
		}
	}
	if err != nil {
		return fmt.Errorf("keyring %s: %w", path, err)
	}
	if err := WriteKeyringFile(path, b); err != nil {
		return err
	}
	k, err := LoadKeyring(path)
	if err != nil {
		return err
	}
	cur, _ := k.Current(context.Background())
	fmt.Fprintf(out, "keyring %s (%s): versions %v, current %d\n", path, k.ID(), k.Versions(), cur)
	return nil
}

func printKeyVersions(ctx context.Context, store DataKeyStore, out io.Writer) error {
	counts, err := KeyVersions(ctx, store)
	if err != nil {
		return err
	}
	versions := make([]uint32, 0, len(counts))
	for v := range counts {
		versions = append(versions, v)
	}
	sort.Slice(versions, func(i, j int) bool { return versions[i] < versions[j] })
	fmt.Fprintln(out, "kek_version\tdata_keys")
	for _, v := range versions {
		fmt.Fprintf(out, "%d\t%d\n", v, counts[v])
	}
	return nil
}

// RetentionCommand is `reftrack retention --older-than 24m [--table T[=AGE]]… [--include-money] [--dry-run]`.
func RetentionCommand(ctx context.Context, args []string, getenv func(string) string) error {
	return retentionCommand(ctx, args, getenv, os.Stdout, os.Stderr, time.Now)
}

func retentionCommand(ctx context.Context, args []string, getenv func(string) string, out, errOut io.Writer, now func() time.Time) error {
	fs := flag.NewFlagSet("retention", flag.ContinueOnError)
	fs.SetOutput(errOut)
	dsn := fs.String("clickhouse", "clickhouse://127.0.0.1:9000/reftrack", "ClickHouse DSN of the sink's database")
	age := fs.String("older-than", "24m", "drop monthly partitions whose month ended more than this long before the current month (months: 24m, years: 2y)")
	tables := tableFlag{}
	fs.Var(tables, "table", "only this table, optionally with its own age (NAME or NAME=36m); repeat for more (default: every events and analytics table of the policy)")
	cfg := RetentionConfig{}
	fs.BoolVar(&cfg.IncludeMoney, "include-money", false, fmt.Sprintf("allow --table to name money tables (never younger than %d months)", MinMoneyAgeMonths))
	dry := fs.Bool("dry-run", false, "list what would be dropped, drop nothing")
	if err := worker.ParseFlags(fs, args[1:], getenv); err != nil {
		return err
	}
	months, err := ParseAge(*age)
	if err != nil {
		return fmt.Errorf("--older-than: %w", err)
	}
	cfg.OlderThanMonths, cfg.Tables, cfg.Now = months, tables, now()
	conn, err := cli.OpenClickHouse(ctx, *dsn)
	if err != nil {
		return err
	}
	defer conn.Close()
	plan, err := PlanRetention(ctx, conn, cfg)
	if err != nil {
		return err
	}
	for _, s := range plan.Skipped {
		fmt.Fprintln(out, "skip", s)
	}
	if *dry {
		for _, p := range plan.Drop {
			fmt.Fprintf(out, "would drop %s partition %s (%d rows)\n", p.Table, p.Partition, p.Rows)
		}
		return nil
	}
	return ApplyRetention(ctx, conn, plan, func(p DroppedPartition) {
		fmt.Fprintf(out, "dropped %s partition %s (%d rows)\n", p.Table, p.Partition, p.Rows)
	})
}

// tableFlag collects --table NAME[=AGE].
type tableFlag map[string]int

func (t tableFlag) String() string { return "" }

func (t tableFlag) Set(v string) error {
	name, age, hasAge := strings.Cut(v, "=")
	if !tableName.MatchString(name) {
		return fmt.Errorf("table %q: want a table name", name)
	}
	t[name] = 0
	if hasAge {
		m, err := ParseAge(age)
		if err != nil {
			return err
		}
		t[name] = m
	}
	return nil
}

func required(flags map[string]string) error {
	var errs []error
	names := make([]string, 0, len(flags))
	for n := range flags {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if flags[n] == "" {
			errs = append(errs, fmt.Errorf("%s: required", n))
		}
	}
	return errors.Join(errs...)
}

func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}
