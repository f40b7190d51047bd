package pii

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Class is what a ClickHouse table holds, which decides whether the
// retention command may drop its old partitions.
type Class string

// Classes of the retention policy.
const (
	// ClassEvents: pipeline records that name leads and referrers (the
	// lead's contact never reaches them): dropped after the age.
	ClassEvents Class = "events"
	// ClassAnalytics: derived results, rebuilt by re-running their command.
	ClassAnalytics Class = "analytics"
	// ClassMoney: the commission journal, what it was derived from, and
	// what was paid. Kept for the legal retention of accounting records;
	// dropped only when named with --table and --include-money, and never
	// younger than MinMoneyAgeMonths.
	ClassMoney Class = "money"
	// ClassAudit: proof of erasures. Never dropped.
	ClassAudit Class = "audit"
	// ClassState: the pipeline's bookkeeping (where the sink resumes,
	// which migrations ran); no personal data. Never dropped.
	ClassState Class = "state"
)

// RetentionPolicy classes every table the migrations create. A table not
// listed is dropped from only when named with --table.
var RetentionPolicy = map[string]Class{
	"referral_events":               ClassEvents,
	"rejected_events":               ClassEvents,
	"attribution_data_driven":       ClassAnalytics,
	"attributions":                  ClassMoney,
	"commission_lines":              ClassMoney,
	"commission_entries":            ClassMoney,
	"commission_period_closes":      ClassMoney,
	"payout_deliveries":             ClassMoney,
	"payout_delivery_entries":       ClassMoney,
	"commission_period_closes_done": ClassMoney,
	"privacy_erasures":              ClassAudit,
	"sink_offsets":                  ClassState,
	"schema_migrations":             ClassState,
}

// MinMoneyAgeMonths is the youngest age money partitions may be dropped
// at, even with --include-money: seven years, the longest common
// retention of accounting records.
const MinMoneyAgeMonths = 84

// RetentionConfig is one run of the retention command.
type RetentionConfig struct {
	// OlderThanMonths is the default age: a monthly partition is dropped
	// when its month ended more than this many months before the current
	// month began.
	OlderThanMonths int
	// Tables, when not empty, are the only tables considered, each with its
	// own age in months (0: OlderThanMonths).
	Tables map[string]int
	// IncludeMoney lets Tables name money tables.
	IncludeMoney bool
	Now          time.Time
}

// DroppedPartition is one partition the run drops (or would drop).
type DroppedPartition struct {
	Table, Partition string // Partition is the partition id, YYYYMM
	Rows             uint64
}

// RetentionPlan is what a run decides, before anything is dropped.
type RetentionPlan struct {
	Drop    []DroppedPartition
	Skipped []string // tables left alone, with why
}

var tableName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)

// ParseAge reads an age such as 24m (months) or 2y (years).
func ParseAge(s string) (int, error) {
	if len(s) >= 2 {
		n, err := strconv.Atoi(s[:len(s)-1])
		if err == nil && n > 0 {
			switch s[len(s)-1] {
			case 'm':
				return n, nil
			case 'y':
				return 12 * n, nil
			}
		}
	}
	return 0, fmt.Errorf("age %q: want a positive number of months or years, such as 24m or 2y", s)
}

// PlanRetention lists the monthly partitions of the connection's database
// that cfg drops. It changes nothing.
func PlanRetention(ctx context.Context, conn driver.Conn, cfg RetentionConfig) (RetentionPlan, error) {
	monthly, err := monthlyTables(ctx, conn)
	if err != nil {
		return RetentionPlan{}, err
	}
	ages, skipped, err := cfg.tableAges(monthly)
	if err != nil {
		return RetentionPlan{}, err
	}
	plan := RetentionPlan{Skipped: skipped}
	tables := make([]string, 0, len(ages))
	for t := range ages {
		tables = append(tables, t)
	}
	sort.Strings(tables)
	for _, t := range tables {
		parts, err := partitions(ctx, conn, t)
		if err != nil {
			return RetentionPlan{}, err
		}
		cutoff := monthIndex(cfg.Now) - ages[t]
		for _, p := range parts {
			if m, ok := partitionMonth(p.Partition); ok && m < cutoff {
				plan.Drop = append(plan.Drop, p)
			}
		}
	}
	return plan, nil
}

// ApplyRetention drops the plan's partitions, one ALTER each, calling
// done after each, and stops at the first failure (a run again picks up
// what is left).
func ApplyRetention(ctx context.Context, conn driver.Conn, plan RetentionPlan, done func(DroppedPartition)) error {
	for _, p := range plan.Drop {
		if !tableName.MatchString(p.Table) || !isYYYYMM(p.Partition) {
			return fmt.Errorf("refuse to drop %s partition %q: unexpected name", p.Table, p.Partition)
		}
		if err := conn.Exec(ctx, fmt.Sprintf("ALTER TABLE `%s` DROP PARTITION ID '%s'", p.Table, p.Partition)); err != nil {
			return fmt.Errorf("drop partition %s of %s: %w", p.Partition, p.Table, err)
		}
		if done != nil {
			done(p)
		}
	}
	return nil
}

// tableAges decides which tables the run covers and at what age.
func (cfg RetentionConfig) tableAges(monthly map[string]bool) (map[string]int, []string, error) {
	if cfg.OlderThanMonths <= 0 {
		return nil, nil, errors.New("retention: the age must be at least one month")
	}
	ages := map[string]int{}
	var skipped []string
	if len(cfg.Tables) == 0 {
		names := make([]string, 0, len(monthly))
		for t := range monthly {
			names = append(names, t)
		}
		sort.Strings(names)
		for _, t := range names {
			switch c, ok := RetentionPolicy[t]; {
			case !ok:
				skipped = append(skipped, t+": not in the retention policy; name it with --table")
			case c == ClassMoney || c == ClassAudit || c == ClassState:
				skipped = append(skipped, fmt.Sprintf("%s: %s table, kept", t, c))
			default:
				ages[t] = cfg.OlderThanMonths
			}
		}
		return ages, skipped, nil
	}
	var errs []error
	for t, age := range cfg.Tables {
		if age == 0 {
			age = cfg.OlderThanMonths
		}
		c := RetentionPolicy[t]
		switch {
		case !monthly[t]:
			errs = append(errs, fmt.Errorf("--table %s: no table of that name partitioned by month (toYYYYMM) in this database", t))
		case c == ClassAudit || c == ClassState:
			errs = append(errs, fmt.Errorf("--table %s: a %s table, never dropped", t, c))
		case c == ClassMoney && !cfg.IncludeMoney:
			errs = append(errs, fmt.Errorf("--table %s: a money table; add --include-money to drop from it", t))
		case c == ClassMoney && age < MinMoneyAgeMonths:
			errs = append(errs, fmt.Errorf("--table %s: money is kept at least %d months, not %d", t, MinMoneyAgeMonths, age))
		default:
			ages[t] = age
		}
	}
	return ages, skipped, errors.Join(errs...)
}

// monthlyTables lists the current database's tables partitioned by month.
func monthlyTables(ctx context.Context, conn driver.Conn) (map[string]bool, error) {
	rows, err := conn.Query(ctx, `SELECT name FROM system.tables
		WHERE database = currentDatabase() AND startsWith(partition_key, 'toYYYYMM(')`)
	if err != nil {
		return nil, fmt.Errorf("list monthly partitioned tables: %w", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("list monthly partitioned tables: %w", err)
		}
		out[name] = true
	}
	return out, rows.Err()
}

// partitions lists a table's active partitions with their row counts.
func partitions(ctx context.Context, conn driver.Conn, table string) ([]DroppedPartition, error) {
	rows, err := conn.Query(ctx, `SELECT partition_id, sum(rows) FROM system.parts
		WHERE database = currentDatabase() AND table = ? AND active
		GROUP BY partition_id ORDER BY partition_id`, table)
	if err != nil {
		return nil, fmt.Errorf("list partitions of %s: %w", table, err)
	}
	defer rows.Close()
	var out []DroppedPartition
	for rows.Next() {
		p := DroppedPartition{Table: table}
		if err := rows.Scan(&p.Partition, &p.Rows); err != nil {
			return nil, fmt.Errorf("list partitions of %s: %w", table, err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// monthIndex counts months since year 0, so ages are subtractions.
func monthIndex(t time.Time) int { return t.UTC().Year()*12 + int(t.UTC().Month()) - 1 }

func isYYYYMM(id string) bool {
	_, ok := partitionMonth(id)
	return ok
}

// partitionMonth reads a toYYYYMM partition id.
func partitionMonth(id string) (int, bool) {
	if len(id) != 6 || strings.Trim(id, "0123456789") != "" {
		return 0, false
	}
	y, _ := strconv.Atoi(id[:4])
	m, _ := strconv.Atoi(id[4:])
	if m < 1 || m > 12 {
		return 0, false
	}
	return y*12 + m - 1, true
}
