package sink

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/reftrack/reftrack/schemas"
)

// Migrate creates the database of opts if needed and applies every embedded
// migration not yet recorded in schema_migrations, in version order. It is
// safe to run from several sinks at once: each statement is IF NOT EXISTS.
func Migrate(ctx context.Context, opts *clickhouse.Options, log *slog.Logger) error {
	db := opts.Auth.Database
	if db == "" {
		db = "default"
	}
	admin := *opts
	admin.Auth.Database = "default"
	conn, err := clickhouse.Open(&admin)
	if err != nil {
		return fmt.Errorf("connect to clickhouse: %w", err)
	}
	defer conn.Close()
	if err := conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+quoteIdent(db)); err != nil {
		return fmt.Errorf("create database %s: %w", db, err)
	}
	dbConn, err := clickhouse.Open(opts)
	if err != nil {
		return fmt.Errorf("connect to clickhouse database %s: %w", db, err)
	}
	defer dbConn.Close()
	return apply(ctx, dbConn, log)
}

func apply(ctx context.Context, conn driver.Conn, log *slog.Logger) error {
	if err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version UInt32, name String, applied_at DateTime DEFAULT now()
	) ENGINE = MergeTree ORDER BY version`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	done := map[uint32]bool{}
	rows, err := conn.Query(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return fmt.Errorf("read schema_migrations: %w", err)
	}
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		done[v] = true
	}
	rows.Close()
	migrations, err := schemas.Migrations()
	if err != nil {
		return err
	}
	for _, m := range migrations {
		if done[uint32(m.Version)] {
			continue
		}
		for _, stmt := range m.Statements {
			if err := conn.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("migration %s: %w", m.Name, err)
			}
		}
		if err := record(ctx, conn, m); err != nil {
			return fmt.Errorf("record migration %s: %w", m.Name, err)
		}
		log.Info("migration applied", "version", m.Version, "name", m.Name)
	}
	return nil
}

func quoteIdent(s string) string {
	out := []byte{'`'}
	for i := 0; i < len(s); i++ {
		if s[i] == '`' || s[i] == '\\' {
			out = append(out, '\\')
		}
		out = append(out, s[i])
	}
	return string(append(out, '`'))
}

// record inserts through a batch: ClickHouse 18.16 does not answer an
// INSERT … VALUES sent as a plain query by the native protocol.
func record(ctx context.Context, conn driver.Conn, m schemas.Migration) error {
	b, err := conn.PrepareBatch(ctx, "INSERT INTO schema_migrations (version, name)")
	if err != nil {
		return err
	}
	if err := b.Append(uint32(m.Version), m.Name); err != nil {
		_ = b.Abort()
		return err
	}
	return b.Send()
}
