package main

import (
	"fmt"
	"math"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape reads one worker's /metrics.
func scrape(url string) (map[string]*dto.MetricFamily, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(resp.Body)
}

// counterSum adds every series of a counter family.
func counterSum(fams map[string]*dto.MetricFamily, name string) float64 {
	var s float64
	if f := fams[name]; f != nil {
		for _, m := range f.Metric {
			if m.Counter != nil {
				s += m.Counter.GetValue()
			}
		}
	}
	return s
}

// hist is a cumulative histogram: upper bounds and counts.
type hist struct {
	bounds []float64
	counts []float64
}

func histogram(fams map[string]*dto.MetricFamily, name, label, value string) hist {
	var h hist
	f := fams[name]
	if f == nil {
		return h
	}
	for _, m := range f.Metric {
		match := false
		for _, l := range m.Label {
			match = match || (l.GetName() == label && l.GetValue() == value)
		}
		if !match || m.Histogram == nil {
			continue
		}
		for _, b := range m.Histogram.Bucket {
			h.bounds = append(h.bounds, b.GetUpperBound())
			h.counts = append(h.counts, float64(b.GetCumulativeCount()))
		}
		h.bounds = append(h.bounds, math.Inf(1))
		h.counts = append(h.counts, float64(m.Histogram.GetSampleCount()))
	}
	return h
}

// minus is the histogram of the observations made between b and h.
func (h hist) minus(b hist) hist {
	out := hist{bounds: h.bounds, counts: make([]float64, len(h.counts))}
	for i := range h.counts {
		out.counts[i] = h.counts[i]
		if i < len(b.counts) {
			out.counts[i] -= b.counts[i]
		}
	}
	return out
}

// quantile interpolates linearly inside the bucket holding q, as
// Prometheus's histogram_quantile does; its resolution is the bucket width.
func (h hist) quantile(q float64) float64 {
	if len(h.counts) == 0 || h.counts[len(h.counts)-1] == 0 {
		return math.NaN()
	}
	rank := q * h.counts[len(h.counts)-1]
	i := sort.Search(len(h.counts), func(i int) bool { return h.counts[i] >= rank })
	if i == len(h.bounds)-1 {
		return h.bounds[len(h.bounds)-2]
	}
	lo, prev := 0.0, 0.0
	if i > 0 {
		lo, prev = h.bounds[i-1], h.counts[i-1]
	}
	if h.counts[i] == prev {
		return h.bounds[i]
	}
	return lo + (h.bounds[i]-lo)*(rank-prev)/(h.counts[i]-prev)
}

// procStats reads peak RSS (bytes) and CPU seconds of a process from /proc.
func procStats(pid int) (peakRSS int64, cpu float64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			peakRSS = kb * 1024
		}
	}
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	// Fields after the parenthesised command name; utime and stime are the
	// 14th and 15th fields overall, in clock ticks (100 per second on Linux).
	rest := strings.Fields(string(st[strings.LastIndexByte(string(st), ')')+2:]))
	ut, _ := strconv.ParseFloat(rest[11], 64)
	stt, _ := strconv.ParseFloat(rest[12], 64)
	return peakRSS, (ut + stt) / 100, nil
}
