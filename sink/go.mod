module github.com/reftrack/reftrack/sink

go 1.26.0

require (
	github.com/reftrack/reftrack/internal v0.0.0
	github.com/reftrack/reftrack/schemas v0.0.0
)

replace (
	github.com/reftrack/reftrack/internal => ../internal
	github.com/reftrack/reftrack/schemas => ../schemas
)
