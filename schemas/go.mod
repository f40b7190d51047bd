module github.com/reftrack/reftrack/schemas

go 1.26.0
