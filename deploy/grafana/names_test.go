package grafana

import (
	"slices"
	"testing"
)

func TestMetricNames(t *testing.T) {
	t.Parallel()
	cases := []struct {
		expr string
		want []string
	}{
		{`sum by (stage) (rate(reftrack_records_in_total[$__rate_interval]))`, []string{"reftrack_records_in_total"}},
		{`histogram_quantile(0.99, sum by (le) (rate(reftrack_sink_end_to_end_latency_seconds_bucket[5m]))) > 30`, []string{"reftrack_sink_end_to_end_latency_seconds_bucket"}},
		{`sum(rate(a_total{status=~"5.."}[5m])) / sum(rate(a_total[5m])) > 0.01`, []string{"a_total"}},
		{"x:lag:sum{stage!=\"sink\"} > 1e4\nand\nderiv(x:lag:sum[10m]) > 0", []string{"x:lag:sum"}},
		{`max by (version) (info) == 1 unless on (stage) group_left (v) other offset 5m`, []string{"info", "other"}},
		{`up{job=~"reftrack.*"} == bool 0`, []string{"up"}},
		{`rate(process_cpu_seconds_total{job=~"reftrack.*",le="by"}[$__rate_interval])`, []string{"process_cpu_seconds_total"}},
	}
	for _, c := range cases {
		if got := metricNames(c.expr); !slices.Equal(got, c.want) {
			t.Errorf("metricNames(%q) = %q, want %q", c.expr, got, c.want)
		}
	}
}
