package monitor

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/trove-dev/trove/governance/policy"
)

const monitorsYAML = `version: 1
stages: [staging, production]
monitors:
  - {id: acc-drop, metric: accuracy, max_drop: 0.05}
  - {id: acc-ratio, type: drift, metric: accuracy, max_drop_ratio: 0.1, min_samples: 1000}
  - {id: latency, type: drift, metric: latency, max_drop: 5, higher_is_better: false}
  - {id: errors, type: threshold, metric: error_rate, op: "<=", value: 0.02}
  - {id: age-psi, type: data_drift, feature: age, method: psi, max: 0.2}
  - {id: age-ks, type: data_drift, feature: age, method: ks, max: 0.3, stages: [staging]}
  - {id: custom, type: cel, expr: "metrics.accuracy >= training.accuracy - 0.1 && metrics.p99 < 1.0"}
`

func mustPolicy(t *testing.T, y string) *policy.Policy {
	t.Helper()
	p, err := policy.Parse("policy.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func stored(o *Observation) *Stored {
	id, err := o.ID()
	if err != nil {
		panic(err)
	}
	return &Stored{ID: id, Observation: o}
}

func statuses(rep Report) map[string]Status {
	out := map[string]Status{}
	for _, r := range rep.Results {
		out[r.Monitor] = r.Status
	}
	return out
}

func TestEvaluate(t *testing.T) {
	p := mustPolicy(t, monitorsYAML)
	subj := Subject{Model: "churn", Version: "v1.0.0", Stage: "production", Training: map[string]float64{"accuracy": 0.91, "latency": 30}}
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	o := sample()
	// 0.91 - 0.86 is 0.05000000000000004: within max_drop by Epsilon.
	o.Metrics = map[string]float64{"accuracy": 0.86, "samples": 5000, "error_rate": 0.01, "latency": 34, "p99": 0.5}
	o.Features = map[string]Feature{"age": {Values: []float64{1, 2, 3, 4}}}
	ref := sample()
	ref.Reference, ref.Metrics = true, map[string]float64{}
	ref.Features = map[string]Feature{"age": {Values: []float64{1, 2, 3, 4}}}
	rep := Evaluate(p, Input{Subject: subj, Observation: stored(o), Reference: stored(ref), Now: now})
	want := map[string]Status{"acc-drop": StatusPass, "acc-ratio": StatusPass, "latency": StatusPass, "errors": StatusPass,
		"age-psi": StatusPass, "age-ks": StatusNotApplicable, "custom": StatusPass}
	if got := statuses(rep); !equalMaps(got, want) {
		t.Fatalf("healthy: %v, want %v", got, want)
	}
	if rep.Status != StatusPass || rep.Retrain || rep.EvaluatedAt != "2026-03-02T10:00:00Z" || rep.Reference == "" {
		t.Fatalf("healthy report %+v", rep)
	}
	if !sort.SliceIsSorted(rep.Results, func(i, j int) bool { return rep.Results[i].Monitor < rep.Results[j].Monitor }) {
		t.Fatal("results not sorted by monitor id")
	}

	// Degraded: accuracy -0.11 (12%), latency +6 (lower is better), errors up,
	// inputs shifted.
	o.Metrics = map[string]float64{"accuracy": 0.80, "samples": 5000, "error_rate": 0.03, "latency": 36, "p99": 0.5}
	o.Features = map[string]Feature{"age": {Values: []float64{7, 8, 9, 10}}}
	rep = Evaluate(p, Input{Subject: subj, Observation: stored(o), Reference: stored(ref), Now: now})
	want = map[string]Status{"acc-drop": StatusBreach, "acc-ratio": StatusBreach, "latency": StatusBreach, "errors": StatusBreach,
		"age-psi": StatusBreach, "age-ks": StatusNotApplicable, "custom": StatusBreach}
	if got := statuses(rep); !equalMaps(got, want) {
		t.Fatalf("degraded: %v, want %v", got, want)
	}
	if rep.Status != StatusBreach || !rep.Retrain || len(rep.Breached()) != 6 {
		t.Fatalf("degraded report %+v", rep)
	}
	for _, r := range rep.Results {
		if r.Monitor == "acc-drop" && (r.Value == nil || !near(*r.Value, 0.11)) {
			t.Errorf("acc-drop value %v, want the drop 0.11", r.Value)
		}
	}
}

func equalMaps(a, b map[string]Status) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestEvaluateNoData(t *testing.T) {
	p := mustPolicy(t, monitorsYAML)
	subj := Subject{Model: "churn", Version: "v1.0.0", Stage: "production", Training: map[string]float64{}}
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

	rep := Evaluate(p, Input{Subject: subj, Now: now})
	for _, r := range rep.Results {
		if r.Status != StatusNoData && r.Status != StatusNotApplicable {
			t.Errorf("no observation: %s is %s", r.Monitor, r.Status)
		}
	}
	if rep.Status != StatusNoData || rep.Retrain {
		t.Fatalf("no observation: %+v", rep)
	}

	o := sample()
	o.Metrics = map[string]float64{"samples": 10, "other": 1}
	o.Features = nil
	rep = Evaluate(p, Input{Subject: subj, Observation: stored(o), Now: now})
	reasons := map[string]string{}
	for _, r := range rep.Results {
		reasons[r.Monitor] = string(r.Status) + ": " + r.Reason
	}
	for id, want := range map[string]string{
		"acc-drop":  "no_data: metric accuracy was not observed",
		"acc-ratio": "no_data: too few samples: 10 < 1000 (samples)",
		"errors":    "no_data: metric error_rate was not observed",
		"age-psi":   "no_data: feature age was not observed",
		"custom":    "no_data: the expression reads a metric that was not observed",
	} {
		if !strings.HasPrefix(reasons[id], want) {
			t.Errorf("%s: %q, want %q", id, reasons[id], want)
		}
	}
	// Observed, but no training value to drift from.
	o.Metrics = map[string]float64{"accuracy": 0.9}
	rep = Evaluate(p, Input{Subject: subj, Observation: stored(o), Now: now})
	for _, r := range rep.Results {
		if r.Monitor == "acc-drop" && (r.Status != StatusNoData || !strings.Contains(r.Reason, "no training value")) {
			t.Errorf("no training value: %+v", r)
		}
	}
}

func TestEvent(t *testing.T) {
	p := mustPolicy(t, monitorsYAML)
	o := sample()
	o.Metrics = map[string]float64{"accuracy": 0.5, "samples": 5000}
	rep := Evaluate(p, Input{Subject: Subject{Model: "churn", Version: "v1.0.0", Stage: "production", Training: map[string]float64{"accuracy": 0.9}},
		Observation: stored(o), Now: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)})
	ev, err := NewEvent(rep)
	if err != nil {
		t.Fatal(err)
	}
	if ev.SpecVersion != "1.0" || ev.Type != EventType || ev.Subject != "churn@v1.0.0" || ev.Source != "trove:monitor/churn" ||
		len(ev.Data.Breached) != 3 || ev.Data.Observations[0] != rep.Observation {
		t.Fatalf("event %+v", ev)
	}
	b, err := ev.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeEvent(b)
	if err != nil || back.ID != ev.ID {
		t.Fatalf("decode: %v", err)
	}
	// Re-indented by a CI system: still the same event.
	var compact bytes.Buffer
	compact.WriteString(strings.Join(strings.Fields(string(b)), " "))
	if _, err := DecodeEvent(compact.Bytes()); err != nil {
		t.Fatalf("re-indented: %v", err)
	}
	// Altered: the id no longer matches.
	bad := bytes.Replace(b, []byte(`"v1.0.0"`), []byte(`"v0.9.0"`), 1)
	if _, err := DecodeEvent(bad); !errors.Is(err, ErrEvent) || !strings.Contains(err.Error(), "altered") {
		t.Fatalf("altered event: %v", err)
	}
	if _, err := DecodeEvent([]byte(`{"specversion": "1.0"}`)); !errors.Is(err, ErrEvent) {
		t.Fatalf("not ours: %v", err)
	}
}

func TestStoreSync(t *testing.T) {
	ctx := context.Background()
	a, b := OpenStore(t.TempDir()), OpenStore(t.TempDir())
	o1, o2 := sample(), sample()
	o2.Window.End, o2.RecordedAt = "2026-03-03T09:00:00Z", "2026-03-03T10:00:00Z"
	id1, err := a.Put(o2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Put(o1); err != nil {
		t.Fatal(err)
	}
	if again, err := a.Put(o2); err != nil || again != id1 {
		t.Fatalf("re-put: %v %v", again, err)
	}
	list, err := a.List("churn")
	if err != nil || len(list) != 2 || list[1].ID != id1 {
		t.Fatalf("list: %v %v", list, err)
	}
	rem := newMemBlobs()
	res, err := a.Push(ctx, rem)
	if err != nil || res.Sent != 2 {
		t.Fatalf("push: %+v %v", res, err)
	}
	if res, err = a.Push(ctx, rem); err != nil || res.Sent != 0 {
		t.Fatalf("second push: %+v %v", res, err)
	}
	if res, err = b.Pull(ctx, rem, "churn"); err != nil || res.Received != 2 {
		t.Fatalf("pull: %+v %v", res, err)
	}
	if list, err := b.List("churn"); err != nil || len(list) != 2 {
		t.Fatalf("pulled list: %v %v", list, err)
	}
	// A damaged object on the remote is refused, not kept.
	c := OpenStore(t.TempDir())
	key := RemotePrefix + "observations/churn/" + id1.Hex() + ".json"
	rem.m[key] = bytes.Replace(rem.m[key], []byte("0.9"), []byte("0.1"), 1)
	if _, err := c.Pull(ctx, rem, ""); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("corrupt remote object: %v", err)
	}
	// A damaged local file stops List.
	p := filepath.Join(b.dir, "observations", "churn", id1.Hex()+".json")
	if err := os.WriteFile(p, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := b.List("churn"); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("corrupt local file: %v", err)
	}
}
