package main

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// row is one measured line of the report.
type row struct {
	Probe  string // what was measured
	Sent   string // what the probe sent
	Answer string // what the server answered
	Figure string // the measured figure
}

// formatTable renders rows as a Markdown table, so the output pastes
// straight into SECURITY.md. A pipe inside a cell is escaped, a newline
// flattened: either would break the table.
func formatTable(rows []row) string {
	var b strings.Builder
	b.WriteString("| probe | sent | answer | figure |\n|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", cell(r.Probe), cell(r.Sent), cell(r.Answer), cell(r.Figure))
	}
	return b.String()
}

func cell(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	return strings.ReplaceAll(s, "|", `\|`)
}

// histogram renders answer counts in ascending key order ("401×50 429×1950").
func histogram(counts map[string]int) string {
	if len(counts) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s×%d", k, counts[k])
	}
	return strings.Join(parts, " ")
}

// roundDur renders d to a precision a human reads at a glance.
func roundDur(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	default:
		return d.Round(100 * time.Microsecond).String()
	}
}

// mib renders a byte count in MiB.
func mib(kib int64) string { return fmt.Sprintf("%.1f MiB", float64(kib)/1024) }
