module github.com/reftrack/reftrack/schemas

go 1.26.0

require (
	github.com/go-json-experiment/json v1.27.2
	github.com/nyaruka/phonenumbers v1.8.1
	github.com/santhosh-tekuri/jsonschema/v5 v5.3.1
	golang.org/x/text v0.44.0
)

require google.golang.org/protobuf v1.36.11 // indirect
