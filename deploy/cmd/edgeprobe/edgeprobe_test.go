package main

import (
	"bufio"
	"io"
	"strings"
	"testing"
	"time"
)

func TestLoopbackOnly(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url string
		ok  bool
	}{
		{"http://127.0.0.1:18080", true},
		{"http://127.1.2.3:18080/", true},
		{"https://localhost:8443", true},
		{"http://LOCALHOST", true},
		{"http://[::1]:18080", true},
		{"http://[::ffff:127.0.0.1]:18080", true},
		{"http://10.0.0.1:18080", false},
		{"http://0.0.0.0:18080", false},
		{"http://[::]:18080", false},
		{"http://128.0.0.1", false},
		{"http://example.com", false},
		{"http://localhost.example.com", false},
		{"http://127.0.0.1.nip.io", false},
		{"http://[fe80::1%25lo]:18080", false},
		{"ftp://127.0.0.1", false},
		{"127.0.0.1:18080", false},
		{"http://", false},
		{"://bad", false},
	}
	for _, tt := range tests {
		err := loopbackOnly(tt.url)
		if (err == nil) != tt.ok {
			t.Errorf("loopbackOnly(%q) = %v, want ok=%v", tt.url, err, tt.ok)
		}
	}
}

func TestConfigRefusesUnboundedRuns(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string // a fragment of the error; "" means valid
	}{
		{"defaults", nil, ""},
		{"remote host", []string{"--url", "http://192.168.1.5:18080"}, "--url"},
		{"too many slow connections", []string{"--slow-conns", "1001"}, "--slow-conns"},
		{"flood too long", []string{"--flood-max", "10m"}, "--flood-max"},
		{"zero trickle", []string{"--slow-for", "0s"}, "--slow-for"},
		{"huge flood", []string{"--flood", "20001"}, "--flood"},
		{"unknown phase", []string{"--phases", "contrast,ddos"}, "unknown phase"},
		{"bad checkpoint", []string{"--slow-checkpoints", "5s,soon"}, "--slow-checkpoints"},
	}
	for _, tt := range tests {
		_, err := parseConfig(tt.args, io.Discard)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: error %v, want one naming %q", tt.name, err, tt.want)
		}
	}
}

func TestFormatTable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		rows []row
		want string
	}{
		{"empty", nil, "| probe | sent | answer | figure |\n|---|---|---|---|\n"},
		{"rows, pipes escaped, newlines flattened", []row{
			{"slow body", "200 conns", "408×200", "open at 5s: 200"},
			{"a|b", "x\ny", "", "1 | 2"},
		}, "| probe | sent | answer | figure |\n|---|---|---|---|\n" +
			"| slow body | 200 conns | 408×200 | open at 5s: 200 |\n" +
			`| a\|b | x y |  | 1 \| 2 |` + "\n"},
	}
	for _, tt := range tests {
		if got := formatTable(tt.rows); got != tt.want {
			t.Errorf("%s:\ngot  %q\nwant %q", tt.name, got, tt.want)
		}
	}
}

func TestHistogram(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   map[string]int
		want string
	}{
		{nil, "none"},
		{map[string]int{"429": 1950, "401": 50}, "401×50 429×1950"},
		{map[string]int{"error": 1, "202": 3}, "202×3 error×1"},
	}
	for _, tt := range tests {
		if got := histogram(tt.in); got != tt.want {
			t.Errorf("histogram(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestOpenAt(t *testing.T) {
	t.Parallel()
	fates := []fate{
		{closed: true, after: 4 * time.Second},
		{closed: true, after: 15 * time.Second},
		{closed: true, after: 16 * time.Second},
		{closed: false},
	}
	tests := []struct {
		at   time.Duration
		want int
	}{
		{0, 4},
		{5 * time.Second, 3},
		{15 * time.Second, 2}, // closed at exactly 15 s is no longer open
		{30 * time.Second, 1}, // never closed: open to the end
	}
	for _, tt := range tests {
		if got := openAt(fates, tt.at); got != tt.want {
			t.Errorf("openAt(%s) = %d, want %d", tt.at, got, tt.want)
		}
	}
}

func TestParseStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		want     memory
		err      bool
	}{
		{"both", "Name:\tingest\nVmHWM:\t  229376 kB\nVmRSS:\t  126072 kB\nThreads:\t9\n", memory{RSS: 126072, HWM: 229376}, false},
		{"no rss", "Name:\tingest\n", memory{}, true},
		{"unit", "VmRSS:\t126 MB\n", memory{}, true},
		{"not a number", "VmRSS:\tlots kB\n", memory{}, true},
	}
	for _, tt := range tests {
		got, err := parseStatus(bufio.NewScanner(strings.NewReader(tt.in)))
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("%s: parseStatus = %+v, %v; want %+v, err=%v", tt.name, got, err, tt.want, tt.err)
		}
	}
}

func TestEmptyObjects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n    int
		want string
	}{
		{1, "[{}]"},
		{3, "[{},{},{}]"},
	}
	for _, tt := range tests {
		if got := string(emptyObjects(tt.n)); got != tt.want {
			t.Errorf("emptyObjects(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
	// The huge batch: 349 000 elements fit just under --max-body's 1 MiB.
	if n := len(emptyObjects(349000)); n > 1<<20 || n < 1<<20-2000 {
		t.Errorf("349 000 elements are %d bytes, want just under 1 MiB", n)
	}
}
