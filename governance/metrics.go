package governance

import (
	"context"
	"math"
	"sort"

	"github.com/trove-dev/trove/manifest"
)

// ArtifactMetrics are the metrics one manifest records.
type ArtifactMetrics struct {
	Path    string             `json:"path"`
	Name    string             `json:"name"`
	Kind    string             `json:"kind"`
	Digest  string             `json:"digest"`
	Metrics map[string]float64 `json:"metrics"`
}

// MetricsAt returns the metrics of the artifacts at rev (a git revision; empty:
// the working tree) at or under the repository-relative paths only (all when
// empty), sorted by path. Artifacts without metrics are left out; manifests
// that cannot be read are returned as errors.
func MetricsAt(ctx context.Context, r *manifest.Repo, rev string, only []string) ([]ArtifactMetrics, []error, error) {
	var ts []manifest.Tracked
	var err error
	if rev == "" {
		ts, err = r.List(ctx, only)
	} else {
		ts, err = r.ManifestsAt(ctx, rev, only)
	}
	if err != nil {
		return nil, nil, err
	}
	out := []ArtifactMetrics{}
	var bad []error
	for _, t := range ts {
		if t.Err != nil {
			bad = append(bad, t.Err)
			continue
		}
		m := t.Manifest
		if len(m.Metrics) == 0 {
			continue
		}
		out = append(out, ArtifactMetrics{Path: t.Path, Name: m.Name, Kind: m.Kind, Digest: m.Digest.String(), Metrics: m.Metrics})
	}
	return out, bad, nil
}

// MetricDiff is one metric of one artifact on two sides; Old or New is nil
// where the metric is absent, Change is New-Old when both are there.
type MetricDiff struct {
	Path   string   `json:"path"`
	Metric string   `json:"metric"`
	Old    *float64 `json:"old"`
	New    *float64 `json:"new"`
	Change *float64 `json:"change"`
}

// DiffMetrics pairs the metrics of two sides by artifact path and metric name,
// sorted by path then metric. Unchanged metrics are included unless changedOnly.
func DiffMetrics(old, cur []ArtifactMetrics, changedOnly bool) []MetricDiff {
	type key struct{ path, metric string }
	vals := map[key][2]*float64{}
	for side, list := range [][]ArtifactMetrics{old, cur} {
		for _, a := range list {
			for k, v := range a.Metrics {
				pair := vals[key{a.Path, k}]
				pair[side] = &v
				vals[key{a.Path, k}] = pair
			}
		}
	}
	out := make([]MetricDiff, 0, len(vals))
	for k, p := range vals {
		d := MetricDiff{Path: k.path, Metric: k.metric, Old: p[0], New: p[1]}
		if p[0] != nil && p[1] != nil {
			c := *p[1] - *p[0]
			if changedOnly && c == 0 {
				continue
			}
			if !math.IsInf(c, 0) {
				d.Change = &c
			}
		}
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Metric < out[j].Metric
	})
	return out
}
