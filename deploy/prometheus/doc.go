// Package prometheus holds reftrack's alert rules (alerts.yml) and their
// promtool unit tests (alerts_test.yml). It has no code: its Go test runs
// test.sh, so `make test` checks the rules, and shows that the unit tests
// catch broken rules.
package prometheus
