// Package grafana holds reftrack's Grafana dashboard (reftrack.json). It has
// no code: its test starts the six workers as processes against kfake,
// Redis and ClickHouse, drives traffic through them, scrapes every worker's
// /metrics and fails on any metric the dashboard or the alert rules
// (deploy/prometheus/alerts.yml) query that no worker exports.
package grafana
