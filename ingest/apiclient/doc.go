// Package apiclient is a Go client of the partner HTTP API, generated from
// the served OpenAPI document (schemas/openapi.json) by oapi-codegen, the
// version pinned by the tool directive in ingest/go.mod. It exists so that
// the document is proven usable by a generator and so that ingest's tests
// drive the real handler through it (ingest/apiclient_test.go): a server
// that drifts from the document fails them. Partners can use it as well.
//
// Do not edit client.gen.go; change schemas/openapi.template.json, run
// `go generate` in schemas, then here. TestGeneratedClientIsCurrent fails
// while either is stale.
package apiclient

//go:generate go tool oapi-codegen -config oapi-codegen.yaml -o client.gen.go ../../schemas/openapi.json
