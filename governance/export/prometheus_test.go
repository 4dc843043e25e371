package export_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/trove-dev/trove/governance/export"
	"github.com/trove-dev/trove/governance/monitor"
)

func TestWritePrometheus(t *testing.T) {
	now := time.Date(2026, 3, 12, 10, 0, 0, 0, time.UTC)
	allowed := false
	drop := 0.08
	st := export.OpsState{Now: now, Holders: []export.OpsHolder{
		{Model: "churn", Stage: "production", Version: "v2.0.0", Digest: "blake3:ab",
			PromotedAt: now.Add(-48 * time.Hour), TrainingDataAt: now.Add(-240 * time.Hour), PolicyAllowed: &allowed,
			ObservedAt: now.Add(-time.Hour),
			Monitor: &monitor.Report{Status: monitor.StatusBreach, Retrain: true, Results: []monitor.Result{
				{Monitor: "acc", Status: monitor.StatusBreach, Value: &drop},
				{Monitor: "skipped", Status: monitor.StatusNotApplicable},
			}}},
		// A promotion recorded by a clock ahead of now: the age is 0, not negative.
		{Model: "a\"b", Stage: "staging", Version: "v1.0.0", PromotedAt: now.Add(time.Hour)},
	}}
	var a, b bytes.Buffer
	if err := export.WritePrometheus(&a, st); err != nil {
		t.Fatal(err)
	}
	if err := export.WritePrometheus(&b, st); err != nil || a.String() != b.String() {
		t.Fatalf("not deterministic: %v", err)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(a.String()))
	if err != nil {
		t.Fatalf("Prometheus cannot parse it: %v\n%s", err, a.String())
	}
	value := func(name string, labels map[string]string) (float64, bool) {
		f := fams[name]
		if f == nil {
			return 0, false
		}
	next:
		for _, m := range f.Metric {
			got := map[string]string{}
			for _, l := range m.Label {
				got[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue next
				}
			}
			return m.GetGauge().GetValue(), true
		}
		return 0, false
	}
	prod := map[string]string{"model": "churn", "stage": "production", "version": "v2.0.0"}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"trove_model_stage_info", map[string]string{"model": "churn", "digest": "blake3:ab"}, 1},
		{"trove_model_since_promotion_seconds", prod, 48 * 3600},
		{"trove_model_training_data_age_seconds", prod, 240 * 3600},
		{"trove_model_policy_allowed", prod, 0},
		{"trove_model_retrain_recommended", prod, 1},
		{"trove_model_monitor_status", map[string]string{"model": "churn", "status": "breach"}, 1},
		{"trove_model_monitor_result", map[string]string{"monitor": "acc", "status": "breach"}, 1},
		{"trove_model_monitor_value", map[string]string{"monitor": "acc"}, 0.08},
		{"trove_model_last_observation_timestamp_seconds", prod, float64(now.Add(-time.Hour).Unix())},
		{"trove_model_since_promotion_seconds", map[string]string{"model": "a\"b"}, 0},
		{"trove_export_timestamp_seconds", nil, float64(now.Unix())},
	} {
		if got, ok := value(tc.name, tc.labels); !ok || got != tc.want {
			t.Errorf("%s%v = %v (found %v), want %v", tc.name, tc.labels, got, ok, tc.want)
		}
	}
	if _, ok := value("trove_model_monitor_result", map[string]string{"monitor": "skipped"}); ok {
		t.Error("a not_applicable monitor is exported")
	}
}
