package schemas

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

//go:embed jsonschema/*.json
var jsonSchemas embed.FS

//go:embed migrations/*.sql
var migrations embed.FS

// SchemaBaseURL is the $id prefix of every embedded JSON Schema.
const SchemaBaseURL = "https://reftrack.dev/schemas/"

// JSONSchemas returns the embedded JSON Schema files, named
// "<event_type>.v<version>.json" plus the shared envelopes
// "envelope.v<version>.json" that the event schemas of that version extend.
func JSONSchemas() fs.FS {
	sub, err := fs.Sub(jsonSchemas, "jsonschema")
	if err != nil {
		panic(err) // the embed pattern guarantees the folder exists
	}
	return sub
}

// SchemaFile names the JSON Schema of an event type at a version.
func SchemaFile(eventType string, version int) string {
	return fmt.Sprintf("%s.v%d.json", eventType, version)
}

// Migration is one versioned ClickHouse DDL file.
type Migration struct {
	Version    int
	Name       string
	Statements []string
}

// Migrations returns the ClickHouse migrations in version order. Files are
// named NNNN_name.sql; statements are separated by a line ending in ';'.
func Migrations() ([]Migration, error) {
	entries, err := fs.ReadDir(migrations, "migrations")
	if err != nil {
		return nil, fmt.Errorf("read embedded migrations: %w", err)
	}
	var out []Migration
	for _, e := range entries {
		var v int
		if _, err := fmt.Sscanf(e.Name(), "%04d_", &v); err != nil {
			return nil, fmt.Errorf("migration %q: name must start with a 4-digit version: %w", e.Name(), err)
		}
		b, err := migrations.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, fmt.Errorf("read migration %q: %w", e.Name(), err)
		}
		m := Migration{Version: v, Name: strings.TrimSuffix(e.Name(), ".sql")}
		for _, stmt := range strings.Split(string(b), ";\n") {
			if s := stripComments(stmt); s != "" {
				m.Statements = append(m.Statements, s)
			}
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i := 1; i < len(out); i++ {
		if out[i].Version == out[i-1].Version {
			return nil, fmt.Errorf("two migrations share version %d", out[i].Version)
		}
	}
	return out, nil
}

func stripComments(stmt string) string {
	var b strings.Builder
	for _, line := range strings.Split(stmt, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "--") {
			continue
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return strings.TrimSuffix(strings.TrimSpace(b.String()), ";")
}

//go:embed openapi.json
var openAPI []byte

// OpenAPI is the partner API's OpenAPI 3.1 document, self-contained: it is
// generated (openapi_gen.go) from openapi.template.json with the JSON
// Schemas bundled into its components.
func OpenAPI() []byte { return openAPI }
