// Command openapigen writes schemas/openapi.json from the hand-written
// schemas/openapi.template.json and the event JSON Schemas, so the served
// document is self-contained (no $ref leaves it) and cannot drift from the
// schemas the validate stage enforces. Run it with `go generate ./...` in
// schemas; TestCommittedDocumentIsGenerated fails when the committed file is
// stale.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/reftrack/reftrack/schemas"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "openapigen:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fl := flag.NewFlagSet("openapigen", flag.ContinueOnError)
	template := fl.String("template", "openapi.template.json", "hand-written OpenAPI template")
	out := fl.String("out", "openapi.json", "generated, self-contained OpenAPI document")
	if err := fl.Parse(args); err != nil {
		return err
	}
	tmpl, err := os.ReadFile(*template)
	if err != nil {
		return fmt.Errorf("read the template: %w", err)
	}
	doc, err := Generate(tmpl, schemas.JSONSchemas(), schemas.SchemaBaseURL)
	if err != nil {
		return fmt.Errorf("generate from %s: %w", *template, err)
	}
	if err := os.WriteFile(*out, doc, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", *out, err)
	}
	return nil
}
