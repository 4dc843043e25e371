package export

import (
	"fmt"
	"io"
	"sort"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/trove-dev/trove/governance/monitor"
)

// FormatPrometheus is the registry's operational state as a Prometheus text
// exposition file (for node_exporter's textfile collector or a push gateway).
const FormatPrometheus = "prometheus"

// OpsState is what the Prometheus export shows: every stage holder of every
// model, at Now. The CLI gathers it; WritePrometheus only renders it.
type OpsState struct {
	Now     time.Time
	Holders []OpsHolder
}

// OpsHolder is one model version in one stage.
type OpsHolder struct {
	Model, Stage, Version, Digest string
	// PromotedAt is when the version took the stage.
	PromotedAt time.Time
	// TrainingDataAt is when the newest training input (role train) was
	// recorded; zero when unknown.
	TrainingDataAt time.Time
	// PolicyAllowed says whether the policy still allows the version in its
	// stage; nil when there is no policy or it was not evaluated.
	PolicyAllowed *bool
	// Monitor is the latest monitoring report; nil when no monitor applies.
	Monitor *monitor.Report
	// ObservedAt is the end of the window of the latest observation; zero if
	// none.
	ObservedAt time.Time
}

type family struct {
	name, help string
	metrics    []*dto.Metric
}

func gauge(v float64, labels ...string) *dto.Metric {
	m := &dto.Metric{Gauge: &dto.Gauge{Value: &v}}
	for i := 0; i+1 < len(labels); i += 2 {
		n, val := labels[i], labels[i+1]
		m.Label = append(m.Label, &dto.LabelPair{Name: &n, Value: &val})
	}
	return m
}

// Metric names the export writes.
var promHelp = map[string]string{
	"trove_export_timestamp_seconds":                 "When this file was written (Unix time).",
	"trove_model_stage_info":                         "The version that holds a stage (1 per model and stage).",
	"trove_model_promoted_timestamp_seconds":         "When the version took the stage (Unix time).",
	"trove_model_since_promotion_seconds":            "Seconds since the version took the stage.",
	"trove_model_training_data_age_seconds":          "Age of the newest training data (input role train) of the version.",
	"trove_model_policy_allowed":                     "1 if .trove/policy.yaml still allows the version in its stage, else 0.",
	"trove_model_monitor_status":                     "The latest monitoring result of the version: 1 for its status (pass, no_data, error, breach).",
	"trove_model_retrain_recommended":                "1 if a monitor breached on the latest observation, else 0.",
	"trove_model_monitor_result":                     "Per monitor: 1 for its status on the latest observation.",
	"trove_model_monitor_value":                      "Per monitor: the value judged (production metric, drop from training, or drift distance).",
	"trove_model_last_observation_timestamp_seconds": "End of the window of the latest production observation (Unix time).",
}

// WritePrometheus writes st in the Prometheus text exposition format
// (version 0.0.4), families sorted by name and samples by labels, so the same
// state gives the same bytes.
func WritePrometheus(w io.Writer, st OpsState) error {
	fams := map[string]*family{}
	add := func(name string, m *dto.Metric) {
		f := fams[name]
		if f == nil {
			f = &family{name: name, help: promHelp[name]}
			fams[name] = f
		}
		f.metrics = append(f.metrics, m)
	}
	now := st.Now.UTC()
	add("trove_export_timestamp_seconds", gauge(float64(now.Unix())))
	for _, h := range st.Holders {
		base := []string{"model", h.Model, "stage", h.Stage, "version", h.Version}
		add("trove_model_stage_info", gauge(1, append(base, "digest", h.Digest)...))
		if !h.PromotedAt.IsZero() {
			add("trove_model_promoted_timestamp_seconds", gauge(float64(h.PromotedAt.Unix()), base...))
			add("trove_model_since_promotion_seconds", gauge(age(now, h.PromotedAt), base...))
		}
		if !h.TrainingDataAt.IsZero() {
			add("trove_model_training_data_age_seconds", gauge(age(now, h.TrainingDataAt), base...))
		}
		if h.PolicyAllowed != nil {
			v := 0.0
			if *h.PolicyAllowed {
				v = 1
			}
			add("trove_model_policy_allowed", gauge(v, base...))
		}
		if !h.ObservedAt.IsZero() {
			add("trove_model_last_observation_timestamp_seconds", gauge(float64(h.ObservedAt.Unix()), base...))
		}
		if rep := h.Monitor; rep != nil {
			add("trove_model_monitor_status", gauge(1, append(base, "status", string(rep.Status))...))
			retrain := 0.0
			if rep.Retrain {
				retrain = 1
			}
			add("trove_model_retrain_recommended", gauge(retrain, base...))
			for _, r := range rep.Results {
				if r.Status == monitor.StatusNotApplicable {
					continue
				}
				add("trove_model_monitor_result", gauge(1, append(base, "monitor", r.Monitor, "status", string(r.Status))...))
				if r.Value != nil {
					add("trove_model_monitor_value", gauge(*r.Value, append(base, "monitor", r.Monitor)...))
				}
			}
		}
	}
	names := make([]string, 0, len(fams))
	for n := range fams {
		names = append(names, n)
	}
	sort.Strings(names)
	typ := dto.MetricType_GAUGE
	for _, n := range names {
		f := fams[n]
		sort.SliceStable(f.metrics, func(i, j int) bool { return labelKey(f.metrics[i]) < labelKey(f.metrics[j]) })
		name, help := f.name, f.help
		if _, err := expfmt.MetricFamilyToText(w, &dto.MetricFamily{Name: &name, Help: &help, Type: &typ, Metric: f.metrics}); err != nil {
			return fmt.Errorf("prometheus export: %w", err)
		}
	}
	return nil
}

// age is now - t in seconds, never negative: a time after now (a clock ahead
// on the machine that recorded it) counts as now.
func age(now, t time.Time) float64 { return max(0, now.Sub(t).Seconds()) }

func labelKey(m *dto.Metric) string {
	var s string
	for _, l := range m.Label {
		s += l.GetName() + "\x00" + l.GetValue() + "\x00"
	}
	return s
}
