package monitor

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func sample() *Observation {
	return &Observation{
		Trove: FormatVersion, Model: "churn", Version: "v1.0.0", Stage: "production",
		Window:     Window{Start: "2026-03-02T00:00:00Z", End: "2026-03-02T09:00:00Z"},
		RecordedAt: "2026-03-02T10:00:00Z", Source: "prometheus/churn",
		Metrics:  map[string]float64{"accuracy": 0.9, `latency{quantile="0.95"}`: 0.04, "samples": 12000},
		Features: map[string]Feature{"age": {Values: []float64{31, 45}}, "income": {Edges: []float64{1000}, Counts: []int64{3, 4}}},
	}
}

// The canonical encoding, pinned: sorted keys, two-space indent, newline.
const sampleJSON = `{
  "features": {
    "age": {
      "values": [
        31,
        45
      ]
    },
    "income": {
      "counts": [
        3,
        4
      ],
      "edges": [
        1000
      ]
    }
  },
  "metrics": {
    "accuracy": 0.9,
    "latency{quantile=\"0.95\"}": 0.04,
    "samples": 12000
  },
  "model": "churn",
  "recorded_at": "2026-03-02T10:00:00Z",
  "source": "prometheus/churn",
  "stage": "production",
  "trove": 1,
  "version": "v1.0.0",
  "window": {
    "end": "2026-03-02T09:00:00Z",
    "start": "2026-03-02T00:00:00Z"
  }
}
`

func TestEncodeDecode(t *testing.T) {
	b, err := sample().Encode()
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != sampleJSON {
		t.Fatalf("encoding:\n%s\nwant:\n%s", b, sampleJSON)
	}
	o, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if o.Metrics["samples"] != 12000 || o.Features["income"].Counts[1] != 4 {
		t.Fatalf("decoded %+v", o)
	}
}

func TestDecodeRejects(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"not canonical", strings.Replace(sampleJSON, "  ", "    ", 1), "canonical"},
		{"unknown key", strings.Replace(sampleJSON, `"model"`, `"extra": 1, "model"`, 1), "unknown field"},
		{"trailing", sampleJSON + "{}", "after the JSON"},
		{"version", strings.Replace(sampleJSON, `"trove": 1`, `"trove": 2`, 1), "format version 2"},
		{"inverted", strings.Replace(sampleJSON, `"start": "2026-03-02T00:00:00Z"`, `"start": "2026-03-03T00:00:00Z"`, 1), "starts"},
		{"bad time", strings.Replace(sampleJSON, `"recorded_at": "2026-03-02T10:00:00Z"`, `"recorded_at": "yesterday"`, 1), "recorded_at"},
		{"bad model", strings.Replace(sampleJSON, `"model": "churn"`, `"model": "../x"`, 1), "model name"},
		{"empty metrics", `{"metrics": {}, "model": "churn", "recorded_at": "2026-03-02T10:00:00Z", "trove": 1, "version": "v1.0.0", "window": {"end": "2026-03-02T09:00:00Z", "start": "2026-03-02T00:00:00Z"}}`, "no metrics"},
		{"histogram", strings.Replace(sampleJSON, "        4\n", "        -4\n", 1), "negative"},
	} {
		_, err := Decode([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}

func TestParseMetrics(t *testing.T) {
	got, err := ParseMetrics([]byte(`{"accuracy": 0.9, "latency": {"p95": 41}}`))
	if err != nil || got["accuracy"] != 0.9 || got["latency.p95"] != 41 {
		t.Fatalf("JSON: %v, %v", got, err)
	}
	prom := `# TYPE requests counter
requests{code="200",method="get"} 1027
# TYPE latency summary
latency{quantile="0.95"} 0.04
latency_sum 12.5
latency_count 300
accuracy 0.9
`
	got, err = ParseMetrics([]byte(prom))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{`requests{code="200",method="get"}`: 1027, `latency{quantile="0.95"}`: 0.04, "latency_sum": 12.5, "latency_count": 300, "accuracy": 0.9}
	if len(got) != len(want) {
		t.Fatalf("Prometheus: %v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"accuracy NaN\n", "NaN"},
		{"accuracy +Inf\n", "Inf"},
		{`{"accuracy": "high"}`, "invalid"},
		{"accuracy 0.9 0.8 0.7 x\n", "Prometheus"},
		{"{", "invalid"},
		{"", "no metrics"},
		{"# just a comment\n", "no metrics"},
	} {
		if _, err := ParseMetrics([]byte(tc.in)); err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseMetrics(%q): %v, want ErrInvalid containing %q", tc.in, err, tc.want)
		}
	}
}

func TestCheckWindow(t *testing.T) {
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	ok := Window{Start: "2026-03-02T00:00:00Z", End: "2026-03-02T10:00:00Z"}
	if err := CheckWindow(ok, now); err != nil {
		t.Fatal(err)
	}
	for _, w := range []Window{
		{Start: "2026-03-02T00:00:00Z", End: "2026-03-02T10:00:01Z"}, // future
		{Start: "2026-03-02T09:00:00Z", End: "2026-03-02T08:00:00Z"}, // inverted
	} {
		if err := CheckWindow(w, now); !errors.Is(err, ErrWindow) {
			t.Errorf("%v: %v, want ErrWindow", w, err)
		}
	}
}

func TestParseFeatures(t *testing.T) {
	if _, err := ParseFeatures([]byte(`{"age": {"values": [1, 2]}, "inc": {"edges": [0], "counts": [1, 2]}}`)); err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{
		`{"age": {}}`,
		`{"age": {"values": [1], "edges": [0], "counts": [1, 1]}}`,
		`{"age": {"edges": [1, 0], "counts": [1, 1, 1]}}`,
		`{"age": {"edges": [0], "counts": [1]}}`,
		`{"age": {"edges": [0], "counts": [0, 0]}}`,
		`{"age": {"values": [1], "mean": 3}}`,
		`{}`,
	} {
		if _, err := ParseFeatures([]byte(in)); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseFeatures(%s): %v, want ErrInvalid", in, err)
		}
	}
}

// FuzzDecode: the decoder never panics, and what it accepts re-encodes to the
// same bytes (one valid encoding).
func FuzzDecode(f *testing.F) {
	f.Add([]byte(sampleJSON))
	f.Add([]byte(`{"metrics":{"a":1}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := Decode(b)
		if err != nil {
			return
		}
		again, err := o.Encode()
		if err != nil || string(again) != string(b) {
			t.Fatalf("accepted %q but re-encodes to %q, %v", b, again, err)
		}
	})
}

// FuzzParseMetrics: whatever the input, the result holds only finite numbers
// under valid names.
func FuzzParseMetrics(f *testing.F) {
	f.Add([]byte("accuracy 0.9\n"))
	f.Add([]byte(`{"a": {"b": 1}}`))
	f.Add([]byte("# TYPE x summary\nx{quantile=\"0.5\"} 1\nx_sum 1\nx_count 1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseMetrics(b)
		if err != nil {
			return
		}
		o := sample()
		o.Metrics = m
		if _, err := o.Encode(); err != nil {
			t.Fatalf("ParseMetrics(%q) gave metrics an observation refuses: %v", b, err)
		}
	})
}
