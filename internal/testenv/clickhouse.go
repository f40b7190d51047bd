package testenv

import (
	"context"
	"fmt"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/reftrack/reftrack/schemas"
)

// ClickHouse returns a connection to a fresh database of the real
// ClickHouse (the dev stack's, started when none answers) and that
// database's DSN; with migrate, schemas' migrations are applied first. The
// database is dropped when the test ends, unless it failed (to look at).
func ClickHouse(t testing.TB, name string, migrate bool) (driver.Conn, string) {
	t.Helper()
	ctx := context.Background()
	opts, err := clickhouse.ParseDSN(ClickHouseDSN())
	if err != nil {
		t.Fatal(err)
	}
	admin, err := clickhouse.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	if admin.Ping(ctx) != nil {
		Stack(t, "up-clickhouse")
		if err := admin.Ping(ctx); err != nil {
			t.Fatalf("clickhouse after starting it: %v", err)
		}
	}
	db := name + "_" + RandomID()
	if err := admin.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			_ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db)
		}
		_ = admin.Close()
	})
	opts.Auth.Database = db
	conn, err := clickhouse.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	if migrate {
		ms, err := schemas.Migrations()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			for _, stmt := range m.Statements {
				if err := conn.Exec(ctx, stmt); err != nil {
					t.Fatalf("migration %s: %v", m.Name, err)
				}
			}
		}
	}
	return conn, fmt.Sprintf("clickhouse://%s/%s", opts.Addr[0], db)
}
