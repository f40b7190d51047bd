package schemas

// openapi.json is generated: edit openapi.template.json or the JSON Schemas
// and run `go generate` here.
//go:generate go run ./internal/openapigen -template openapi.template.json -out openapi.json
