package attribute

import (
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

var trainedAt = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

// trained is a markov model of the given channel=bp credits.
func trained(credits ...string) TrainedModel {
	m := TrainedModel{Format: TrainedFormat, Method: Markov, Version: "v1", TrainedAt: trainedAt, Dimension: "channel"}
	for _, c := range credits {
		ch, bp, _ := strings.Cut(c, "=")
		var n int
		fmt.Sscan(bp, &n)
		m.Credits = append(m.Credits, ChannelCredit{Channel: ch, CreditBP: n})
	}
	return m
}

// channelTouches builds ordered touches of the given channels, an hour apart.
func channelTouches(channels ...string) []Touch {
	ts := make([]Touch, len(channels))
	for i, c := range channels {
		ts[i] = Touch{EventID: fmt.Sprintf("e%02d", i), Channel: c, ReferrerID: "r" + c, OccurredAt: conv.Add(time.Duration(i-len(channels)) * time.Hour)}
	}
	Order(ts)
	return ts
}

// Hand-computed: a touch's exact weight is 10000 × credit / (touches of
// its channel × credit of the channels present).
func TestTrainedWeighHandComputed(t *testing.T) {
	t.Parallel()
	model := trained("crm=6000", "web=3000", "email=1000")
	tests := []struct {
		name     string
		channels []string
		want     []int
		ok       bool
	}{
		// present 9000: crm 6000/2 each = 3333.33, web 3000 = 3333.33; the
		// three remainders tie at 1/3, the leftover point goes to the latest.
		{"split channel", []string{"crm", "web", "crm"}, []int{3333, 3333, 3334}, true},
		// present 7000: crm 8571 + 3/7, email 1428 + 4/7; sms unknown gets 0;
		// the leftover point goes to the larger remainder, email.
		{"unknown channel gets nothing", []string{"crm", "email", "sms"}, []int{8571, 1429, 0}, true},
		{"one channel", []string{"web", "web"}, []int{5000, 5000}, true},
		{"all channels", []string{"email", "web", "crm"}, []int{1000, 3000, 6000}, true},
		// 6000/3 each of 7000 = 2857.14; email 1428.57: the largest
		// remainder (email's .57) gets the point.
		{"three of one", []string{"crm", "crm", "crm", "email"}, []int{2857, 2857, 2857, 1429}, true},
		{"none known", []string{"sms", "tv"}, nil, false},
		{"no touches", nil, nil, false},
	}
	for _, tt := range tests {
		got, ok := model.Weigh(channelTouches(tt.channels...))
		if ok != tt.ok || fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s: Weigh = %v, %v; want %v, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
	byType := trained("agent=7500", "broker=2500")
	byType.Dimension = "referrer_type"
	ts := []Touch{{EventID: "a", ReferrerType: "agent", Channel: "crm"}, {EventID: "b", ReferrerType: "broker", Channel: "crm"}}
	if got, ok := byType.Weigh(ts); !ok || fmt.Sprint(got) != "[7500 2500]" {
		t.Errorf("by referrer type: Weigh = %v, %v; want [7500 2500]", got, ok)
	}
	zero := trained("crm=0", "web=10000")
	if got, ok := zero.Weigh(channelTouches("crm")); ok {
		t.Errorf("a channel of zero credit alone: Weigh = %v, true; want a fallback", got)
	}
}

// Properties over random models and touch sets: weights are non-negative,
// sum to exactly 10000, give nothing to channels without credit, and are
// a function of the touch set (any arrival order, ordered, gives every
// event the same weight); a channel's touches differ by at most one point.
func TestTrainedWeighProperties(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(18, 2026))
	channels := []string{"crm", "web", "email", "sms", "tv"}
	for iter := 0; iter < 2000; iter++ {
		model := TrainedModel{Format: TrainedFormat, Method: Shapley, Version: "p", TrainedAt: trainedAt, Dimension: "channel"}
		left := TotalBP
		for i, c := range channels[:4] { // tv is never in the model
			bp := rng.IntN(left + 1)
			if i == 3 {
				bp = left
			}
			left -= bp
			model.Credits = append(model.Credits, ChannelCredit{Channel: c, CreditBP: bp})
		}
		if err := model.Validate(); err != nil {
			t.Fatal(err)
		}
		credit := map[string]int{}
		for _, c := range model.Credits {
			credit[c.Channel] = c.CreditBP
		}
		n := 1 + rng.IntN(40)
		ts := make([]Touch, n)
		for i := range ts {
			// Few distinct times, so equal times are common and event ids decide.
			ts[i] = Touch{EventID: fmt.Sprintf("e%03d", rng.IntN(1000)*1000+i), Channel: channels[rng.IntN(len(channels))],
				OccurredAt: conv.Add(-time.Duration(rng.IntN(3)) * time.Hour)}
		}
		Order(ts)
		w, ok := model.Weigh(ts)
		anyCredit := slices.ContainsFunc(ts, func(t Touch) bool { return credit[t.Channel] > 0 })
		if ok != anyCredit {
			t.Fatalf("Weigh ok = %v with channels credited %v", ok, anyCredit)
		}
		if !ok {
			continue
		}
		sum := 0
		byEvent := map[string]int{}
		lo, hi := map[string]int{}, map[string]int{}
		for i, x := range w {
			ch := ts[i].Channel
			if x < 0 || (credit[ch] == 0 && x != 0) {
				t.Fatalf("touch %d (%s, credit %d) weight %d", i, ch, credit[ch], x)
			}
			sum += x
			byEvent[ts[i].EventID] = x
			if l, seen := lo[ch]; !seen || x < l {
				lo[ch] = x
			}
			hi[ch] = max(hi[ch], x)
		}
		if sum != TotalBP {
			t.Fatalf("weights %v sum to %d", w, sum)
		}
		for ch := range lo {
			if hi[ch]-lo[ch] > 1 {
				t.Fatalf("channel %s touches differ by %d points: %v", ch, hi[ch]-lo[ch], w)
			}
		}
		shuffled := slices.Clone(ts)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		Order(shuffled)
		w2, _ := model.Weigh(shuffled)
		for i, x := range w2 {
			if byEvent[shuffled[i].EventID] != x {
				t.Fatalf("event %s weighs %d after a shuffle, %d before", shuffled[i].EventID, x, byEvent[shuffled[i].EventID])
			}
		}
	}
}

func TestTrainedModelValidate(t *testing.T) {
	t.Parallel()
	good := trained("crm=6000", "web=4000")
	tests := []struct {
		name   string
		change func(*TrainedModel)
		want   string
	}{
		{"good", func(*TrainedModel) {}, ""},
		{"sum", func(m *TrainedModel) { m.Credits[0].CreditBP = 5999 }, "sum to 9999"},
		{"negative", func(m *TrainedModel) { m.Credits = []ChannelCredit{{"crm", -1}, {"web", 10001}} }, "not within"},
		{"twice", func(m *TrainedModel) { m.Credits[1].Channel = "crm" }, "listed twice"},
		{"method", func(m *TrainedModel) { m.Method = Linear }, "method"},
		{"version", func(m *TrainedModel) { m.Version = " " }, "version"},
		{"trained_at", func(m *TrainedModel) { m.TrainedAt = time.Time{} }, "trained_at"},
		{"dimension", func(m *TrainedModel) { m.Dimension = "partner" }, "dimension"},
		{"format", func(m *TrainedModel) { m.Format = "v0" }, "format"},
	}
	for _, tt := range tests {
		m := good
		m.Credits = slices.Clone(good.Credits)
		tt.change(&m)
		err := m.Validate()
		if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: Validate() = %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestTrainedModelFileRoundTrip(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "model.json")
	want := trained("crm=6000", "web=4000")
	if err := WriteTrainedModel(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := LoadTrainedModel(path)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("loaded %+v, want %+v", got, want)
	}
	bad := trained("crm=1")
	if err := WriteTrainedModel(path, bad); err == nil {
		t.Error("WriteTrainedModel published an invalid model")
	}
	if _, err := ParseTrainedModel([]byte(`{"format":"reftrack.datadriven/v1","extra":1}`)); err == nil || !strings.Contains(err.Error(), "unknown field") {
		t.Errorf("an unknown field: %v, want refused", err)
	}
}

// writeModel publishes m in a temporary directory and returns its path.
func writeModel(t *testing.T, m TrainedModel) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "model.json")
	if err := WriteTrainedModel(path, m); err != nil {
		t.Fatal(err)
	}
	return path
}

// The configuration loads the model at start and refuses a data-driven
// paid model without one, or with one of another method.
func TestConfigDataDriven(t *testing.T) {
	t.Parallel()
	markov := writeModel(t, trained("crm=10000"))
	shapley := trained("crm=10000")
	shapley.Method = Shapley
	shapleyPath := writeModel(t, shapley)
	broken := filepath.Join(t.TempDir(), "broken.json")
	if err := os.WriteFile(broken, []byte(`{}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string // in the error; "" for none
	}{
		{"markov paid", []string{"--paid-model", "markov", "--datadriven-model", markov}, ""},
		{"per line", []string{"--paid-model-by-line", "life=markov,home=markov", "--datadriven-model", markov}, ""},
		{"loaded, unused", []string{"--datadriven-model", markov}, ""},
		{"no file", []string{"--paid-model", "markov"}, "needs --datadriven-model"},
		{"per line, no file", []string{"--paid-model-by-line", "life=shapley"}, "needs --datadriven-model"},
		{"other method", []string{"--paid-model", "markov", "--datadriven-model", shapleyPath}, "holds a shapley model"},
		{"broken file", []string{"--paid-model", "markov", "--datadriven-model", broken}, "format"},
		{"bad fallback", []string{"--datadriven-fallback", "markov"}, "--datadriven-fallback"},
	}
	for _, tt := range tests {
		var a App
		fs := flag.NewFlagSet("attribute", flag.ContinueOnError)
		a.RegisterFlags(fs)
		if err := fs.Parse(tt.args); err != nil {
			t.Fatal(err)
		}
		c, err := a.config()
		if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: config() error %v, want %q", tt.name, err, tt.want)
			continue
		}
		if err == nil && (c.DataDriven == nil || c.DataDriven.Version != "v1" || c.DataDrivenFallback != LastTouch) {
			t.Errorf("%s: config() = model %+v, fallback %q", tt.name, c.DataDriven, c.DataDrivenFallback)
		}
	}
}

// An attribution paid by the trained model carries its weights under the
// model's name and its version; one whose channels the model does not
// know is paid by the fallback, with no version.
func TestAttributionDataDriven(t *testing.T) {
	t.Parallel()
	model := trained("crm=6000", "web=3000", "email=1000")
	a := &Attributor{Metrics: NewMetrics(prometheus.NewRegistry()), Config: Config{
		Lookback: 90 * day, Grace: 7 * day, MaxTouches: 100, Params: DefaultParams(), PaidModel: LastTouch,
		PaidModelByLine: map[string]string{"life": Markov}, ExcludeReferrers: []string{schemas.ReferrerCustomer},
		DataDriven: &model, DataDrivenFallback: Linear,
	}}
	touches := channelTouches("crm", "web", "crm", "email")
	touches = append(touches, Touch{EventID: "self", Channel: "crm", ReferrerType: schemas.ReferrerCustomer, OccurredAt: conv.Add(-time.Minute)})
	Order(touches)
	for i := range touches {
		touches[i].ReceivedAt = touches[i].OccurredAt
	}
	c := conversion{EventID: "pi", OccurredAt: conv, ReceivedAt: conv, PartnerID: "acme", LeadID: "L",
		Policy: schemas.PolicyIssued{PolicyID: "P", ProductLine: "life", SaleType: schemas.SaleNewBusiness}}
	tests := []struct {
		name        string
		line        string
		touches     []Touch
		wantPaid    string
		wantVersion string
		want        map[string]int // event id → weight under the paid model
	}{
		// present 10000: crm 3000 each, web 3000, email 1000; the customer's
		// excluded crm touch gets 0.
		{"paid by markov", "life", touches, Markov, "v1", map[string]int{"e00": 3000, "e01": 3000, "e02": 3000, "e03": 1000, "self": 0}},
		{"other line", "auto", touches, LastTouch, "", map[string]int{"e00": 0, "e01": 0, "e02": 0, "e03": 10000, "self": 0}},
		{"unknown channels fall back", "life", channelTouches("sms", "tv"), Linear, "", map[string]int{"e00": 5000, "e01": 5000}},
	}
	for _, tt := range tests {
		for i := range tt.touches {
			tt.touches[i].ReceivedAt = tt.touches[i].OccurredAt
		}
		c := c
		c.Policy.ProductLine = tt.line
		att, _ := a.weigh(c, tt.touches)
		got := map[string]int{}
		for _, tp := range att.Touchpoints {
			got[tp.EventID] = tp.Weights[att.PaidModel]
			if _, has := tp.Weights[Markov]; has != (tt.wantVersion != "") {
				t.Errorf("%s: touch %s has markov weights %v", tt.name, tp.EventID, tp.Weights)
			}
		}
		if att.PaidModel != tt.wantPaid || att.ModelVersion != tt.wantVersion || !maps.Equal(got, tt.want) {
			t.Errorf("%s: paid %s version %q weights %v; want %s %q %v", tt.name, att.PaidModel, att.ModelVersion, got,
				tt.wantPaid, tt.wantVersion, tt.want)
		}
	}
}

// FuzzParseTrainedModel: whatever a model file holds, parsing either
// refuses it or yields a model that validates and weighs touches exactly.
func FuzzParseTrainedModel(f *testing.F) {
	f.Add([]byte(`{"format":"reftrack.datadriven/v1","method":"markov","version":"v1","trained_at":"2026-11-30T09:00:00Z","dimension":"channel","credits":[{"channel":"crm","credit_bp":10000}]}`))
	f.Add([]byte(`{"credits":[{"channel":"crm","credit_bp":-5}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseTrainedModel(b)
		if err != nil {
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("parsed a model that does not validate: %v", err)
		}
		var chans []string
		for _, c := range m.Credits {
			chans = append(chans, c.Channel, c.Channel)
		}
		if w, ok := m.Weigh(channelTouches(chans...)); ok {
			sum := 0
			for _, x := range w {
				sum += x
			}
			if sum != TotalBP {
				t.Fatalf("weights %v sum to %d", w, sum)
			}
		}
	})
}

// Hot reload swaps in a new version, which the next attribution records;
// it refuses a broken file, another method and a reused version with other
// credits, keeping the running model.
func TestReloadTrained(t *testing.T) {
	t.Parallel()
	start := trained("crm=6000", "web=4000")
	a := &Attributor{Metrics: NewMetrics(prometheus.NewRegistry()), Config: Config{
		Lookback: 90 * day, Grace: 7 * day, MaxTouches: 100, Params: DefaultParams(), PaidModel: Markov,
		DataDriven: &start, DataDrivenFallback: LastTouch,
	}}
	encode := func(m TrainedModel) []byte {
		path := writeModel(t, m)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	v2 := trained("crm=2500", "web=7500")
	v2.Version = "v2"
	otherMethod := v2
	otherMethod.Method, otherMethod.Version = Shapley, "v3"
	reused := trained("crm=1", "web=9999") // version v1, other credits
	tests := []struct {
		name        string
		file        []byte
		wantChanged bool
		wantErr     string
		wantVersion string
		wantCRM     int // the crm touch's weight of a crm+web conversion
	}{
		{"same file", encode(start), false, "", "v1", 6000},
		{"broken", []byte(`{"format":`), false, "decode", "v1", 6000},
		{"reused version", encode(reused), false, "publish a new version", "v1", 6000},
		{"new version", encode(v2), true, "", "v2", 2500},
		{"other method", encode(otherMethod), false, "method shapley", "v2", 2500},
		{"new version again", encode(v2), false, "", "v2", 2500},
	}
	c := conversion{EventID: "pi", OccurredAt: conv, ReceivedAt: conv, PartnerID: "acme", LeadID: "L",
		Policy: schemas.PolicyIssued{PolicyID: "P", ProductLine: "auto", SaleType: schemas.SaleNewBusiness}}
	for _, tt := range tests {
		changed, err := a.reloadTrained(tt.file)
		if changed != tt.wantChanged || (tt.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%s: reloadTrained = %v, %v; want %v, %q", tt.name, changed, err, tt.wantChanged, tt.wantErr)
		}
		att, _ := a.weigh(c, channelTouches("crm", "web"))
		if att.ModelVersion != tt.wantVersion || att.PaidModel != Markov || att.Touchpoints[0].Weights[Markov] != tt.wantCRM {
			t.Errorf("%s: attribution paid %s version %q, crm weight %d; want markov %q %d", tt.name, att.PaidModel,
				att.ModelVersion, att.Touchpoints[0].Weights[Markov], tt.wantVersion, tt.wantCRM)
		}
	}
}

// Through the stage: a conversion of a line paid by the trained model is
// emitted with its weights and version, identically on a redo after an
// aborted transaction; a late touch after a reload re-attributes it with the
// new version, and after a reload to a model that knows none of its
// channels, with the fallback model and no version.
func TestProcessStateDataDriven(t *testing.T) {
	t.Parallel()
	a := newAttributor(t)
	start := trained("crm=10000")
	a.Config.DataDriven, a.Config.DataDrivenFallback = &start, LastTouch
	a.Config.PaidModelByLine = map[string]string{"life": Markov}
	h := time.Hour
	run(t, a, touch(0, "t1", "L1", "A-1", "agent", t0, t0), touch(1, "t2", "L1", "A-2", "agent", t0.Add(h), t0.Add(h)))
	batch := []worker.Message{policy(2, "p1", "L1", "life", t0.Add(2*h))}
	first := aborted(t, a, batch...)
	again := run(t, a, batch...)
	if fmt.Sprint(first) != fmt.Sprint(again) {
		t.Errorf("replay differs:\n%v\n%v", first, again)
	}
	if len(first[0].Out) != 1 {
		t.Fatalf("policy: %+v", first)
	}
	_, att := attribution(t, first[0].Out[0])
	if got := referrers(att, Markov); att.PaidModel != Markov || att.ModelVersion != "v1" || got != "A-1:5000 A-2:5000 " {
		t.Errorf("life policy paid %s version %q weights %s; want markov v1 A-1:5000 A-2:5000", att.PaidModel, att.ModelVersion, got)
	}

	v2 := trained("crm=10000")
	v2.Version = "v2"
	a.UseTrained(&v2)
	res := run(t, a, touch(4, "t0", "L1", "A-0", "agent", t0.Add(-h), t0.Add(3*h)))
	if len(res[0].Out) != 1 {
		t.Fatalf("late touch: %+v", res)
	}
	_, att = attribution(t, res[0].Out[0])
	if got := referrers(att, Markov); att.ModelVersion != "v2" || got != "A-0:3333 A-1:3333 A-2:3334 " {
		t.Errorf("after the reload: version %q weights %s; want v2 A-0:3333 A-1:3333 A-2:3334", att.ModelVersion, got)
	}

	unknown := trained("web=10000")
	unknown.Version = "v3"
	a.UseTrained(&unknown)
	res = run(t, a, touch(5, "t-1", "L1", "A-9", "agent", t0.Add(-2*h), t0.Add(4*h)))
	if len(res[0].Out) != 1 {
		t.Fatalf("second late touch: %+v", res)
	}
	_, att = attribution(t, res[0].Out[0])
	if att.PaidModel != LastTouch || att.ModelVersion != "" || referrers(att, LastTouch) != "A-9:0 A-0:0 A-1:0 A-2:10000 " {
		t.Errorf("unknown channels: paid %s version %q weights %s; want the fallback, no version", att.PaidModel, att.ModelVersion, referrers(att, LastTouch))
	}
	if n := testutil.ToFloat64(a.Metrics.dataDrivenFallbacks); n != 1 {
		t.Errorf("datadriven_fallbacks_total = %v, want 1", n)
	}
	if n := testutil.ToFloat64(a.Metrics.trainedInfo.WithLabelValues(Markov, "v3")); n != 1 {
		t.Errorf("datadriven_model_info{v3} = %v, want 1", n)
	}
}
