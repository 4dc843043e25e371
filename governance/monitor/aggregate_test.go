package monitor

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

// obsAt is an observation of churn@v1.0.0 whose window ends at day d of March
// 2026, 09:00.
func obsAt(day int, metrics map[string]float64) Stored {
	end := time.Date(2026, 3, day, 9, 0, 0, 0, time.UTC).Format(time.RFC3339)
	start := time.Date(2026, 3, day, 0, 0, 0, 0, time.UTC).Format(time.RFC3339)
	o := &Observation{Trove: FormatVersion, Model: "churn", Version: "v1.0.0", Stage: "production",
		Window: Window{Start: start, End: end}, RecordedAt: end, Metrics: metrics}
	return *stored(o)
}

func close12(a, b float64) bool { return math.Abs(a-b) < 1e-12 }

// Hand-computed: accuracy over 1000, 3000 and (no count) samples.
func TestAggregate(t *testing.T) {
	obs := []Stored{
		obsAt(1, map[string]float64{"accuracy": 0.9, "errors": 0.01, "samples": 1000}),
		obsAt(2, map[string]float64{"accuracy": 0.8, "errors": 0.03, "samples": 3000}),
		obsAt(3, map[string]float64{"errors": 0.05, "latency": 40}),
	}
	agg, unpooled := Aggregate(obs, "")
	// accuracy: only the first two have it, both with samples: (0.9*1000 +
	// 0.8*3000) / 4000 = 3300/4000 = 0.825.
	if !close12(agg.Metrics["accuracy"], 0.825) {
		t.Errorf("accuracy %v, want 0.825", agg.Metrics["accuracy"])
	}
	// errors: the third has no sample count, so the plain mean: 0.03.
	if !close12(agg.Metrics["errors"], 0.03) {
		t.Errorf("errors %v, want 0.03", agg.Metrics["errors"])
	}
	if agg.Metrics["samples"] != 4000 || agg.Metrics["latency"] != 40 {
		t.Errorf("samples %v latency %v", agg.Metrics["samples"], agg.Metrics["latency"])
	}
	if agg.Window.Start != "2026-03-01T00:00:00Z" || agg.Window.End != "2026-03-03T09:00:00Z" || len(unpooled) != 0 {
		t.Errorf("window %+v, unpooled %v", agg.Window, unpooled)
	}
	// Another samples metric.
	agg, _ = Aggregate([]Stored{
		obsAt(1, map[string]float64{"accuracy": 1, "n": 1}),
		obsAt(2, map[string]float64{"accuracy": 0, "n": 3}),
	}, "n")
	if !close12(agg.Metrics["accuracy"], 0.25) || agg.Metrics["n"] != 4 {
		t.Errorf("samples_metric n: %v", agg.Metrics)
	}
}

func TestAggregateFeatures(t *testing.T) {
	a := obsAt(1, map[string]float64{"x": 1})
	b := obsAt(2, map[string]float64{"x": 1})
	a.Features = map[string]Feature{
		"amount": {Edges: []float64{10, 100}, Counts: []int64{1, 2, 3}},
		"hour":   {Values: []float64{1, 2}},
		"mixed":  {Values: []float64{1}},
		"edges":  {Edges: []float64{1}, Counts: []int64{1, 1}},
	}
	b.Features = map[string]Feature{
		"amount": {Edges: []float64{10, 100}, Counts: []int64{4, 0, 1}},
		"hour":   {Values: []float64{3}},
		"mixed":  {Edges: []float64{1}, Counts: []int64{1, 1}},
		"edges":  {Edges: []float64{2}, Counts: []int64{1, 1}},
	}
	agg, unpooled := Aggregate([]Stored{a, b}, "")
	if got := agg.Features["amount"]; !slices.Equal(got.Counts, []int64{5, 2, 4}) {
		t.Errorf("amount %+v", got)
	}
	if got := agg.Features["hour"]; !slices.Equal(got.Values, []float64{1, 2, 3}) {
		t.Errorf("hour %+v", got)
	}
	if !slices.Equal(unpooled, []string{"edges", "mixed"}) {
		t.Errorf("unpooled %v", unpooled)
	}
	if err := agg.Validate(); err != nil {
		t.Errorf("the aggregate is not a valid observation: %v", err)
	}
}

const windowYAML = `version: 1
monitors:
  - {id: week, metric: accuracy, max_drop: 0.05, window: 7d, min_samples: 5000}
  - {id: last2, type: threshold, metric: accuracy, op: ">=", value: 0.85, observations: 2}
  - {id: latest, type: threshold, metric: accuracy, op: ">=", value: 0.85}
  - {id: day, type: threshold, metric: accuracy, op: ">=", value: 0.85, window: 24h}
`

func TestEvaluateWindow(t *testing.T) {
	p := mustPolicy(t, windowYAML)
	history := []Stored{
		obsAt(1, map[string]float64{"accuracy": 0.5, "samples": 100000}), // too old for the week
		obsAt(3, map[string]float64{"accuracy": 0.9, "samples": 3000}),
		obsAt(5, map[string]float64{"accuracy": 0.84, "samples": 1000}),
		obsAt(8, map[string]float64{"accuracy": 0.86, "samples": 1000}),
	}
	last := history[len(history)-1]
	in := Input{Subject: Subject{Model: "churn", Version: "v1.0.0", Stage: "production", Training: map[string]float64{"accuracy": 0.91}},
		Observation: &last, History: history, Now: time.Date(2026, 3, 9, 8, 0, 0, 0, time.UTC)}
	rep := Evaluate(p, in)
	got := map[string]Result{}
	for _, r := range rep.Results {
		got[r.Monitor] = r
	}
	// week: days 3, 5, 8 (day 1 ended more than 7 days before now):
	// (0.9*3000 + 0.84*1000 + 0.86*1000) / 5000 = 0.88, a drop of 0.03.
	w := got["week"]
	if w.Status != StatusPass || w.Value == nil || !close12(*w.Value, 0.03) || len(w.Observations) != 3 || w.Observations[0] != history[1].ID.String() {
		t.Errorf("week: %+v", w)
	}
	if !strings.Contains(w.Observed, "accuracy = 0.88, trained 0.91, drop 0.03 (sample-weighted mean of 3 observations, 2026-03-03T00:00:00Z..2026-03-08T09:00:00Z)") {
		t.Errorf("week observed %q", w.Observed)
	}
	if !strings.Contains(w.Expected, "over the observations of the last 7d, on at least 5000 samples") {
		t.Errorf("week expected %q", w.Expected)
	}
	// last2: (0.84 + 0.86) / 2 = 0.85, weighted equally by 1000 samples each.
	if r := got["last2"]; r.Status != StatusPass || !close12(*r.Value, 0.85) || len(r.Observations) != 2 {
		t.Errorf("last2: %+v", r)
	}
	// latest: 0.86 alone, no aggregation recorded.
	if r := got["latest"]; r.Status != StatusPass || *r.Value != 0.86 || r.Observations != nil {
		t.Errorf("latest: %+v", r)
	}
	// day: only day 8 ended within 24h.
	if r := got["day"]; r.Status != StatusPass || len(r.Observations) != 1 {
		t.Errorf("day: %+v", r)
	}

	// A bad day inside the window breaches the two-observation monitor but
	// not the latest-only one; the event names every observation judged.
	history[2] = obsAt(5, map[string]float64{"accuracy": 0.5, "samples": 1000})
	history[3] = obsAt(8, map[string]float64{"accuracy": 0.9, "samples": 1000})
	last = history[3]
	rep = Evaluate(p, in)
	st := statuses(rep)
	if st["last2"] != StatusBreach || st["latest"] != StatusPass || st["week"] != StatusBreach {
		t.Fatalf("statuses %v", st)
	}
	ev, err := NewEvent(rep)
	if err != nil {
		t.Fatal(err)
	}
	// The latest, then those the breached monitors aggregated (last2, then
	// week), each once.
	want := []string{history[3].ID.String(), history[2].ID.String(), history[1].ID.String()}
	if !slices.Equal(ev.Data.Observations, want) {
		t.Errorf("event observations %v, want %v", ev.Data.Observations, want)
	}
	if b, err := ev.Encode(); err != nil {
		t.Fatal(err)
	} else if _, err := DecodeEvent(b); err != nil {
		t.Fatal(err)
	}

	// Too few samples in the window: no_data, not a verdict.
	in.History = history[3:]
	if r := resultOf(Evaluate(p, in), "week"); r.Status != StatusNoData || !strings.Contains(r.Reason, "too few samples: 1000 < 5000") {
		t.Errorf("few samples: %+v", r)
	}
	// Nothing in the window: no_data.
	in.Now = time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	if r := resultOf(Evaluate(p, in), "day"); r.Status != StatusNoData || !strings.Contains(r.Reason, "no observation of churn@v1.0.0 ended in the last 1d") {
		t.Errorf("empty window: %+v", r)
	}
}

func resultOf(rep Report, id string) Result {
	for _, r := range rep.Results {
		if r.Monitor == id {
			return r
		}
	}
	return Result{}
}
