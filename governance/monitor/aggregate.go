package monitor

import (
	"fmt"
	"slices"
	"time"

	"github.com/trove-dev/trove/governance/policy"
)

// Aggregate combines several observations of one model version into the one
// that a monitor with a window judges (policy: `window: 7d` and/or
// `observations: N`). It is pure:
//
//   - the sample count, metric samplesMetric ("samples" by default), is summed:
//     the samples in the window, which min_samples then applies to;
//   - every other metric is the mean over the observations that have it,
//     weighted by their sample counts when each of those observations has a
//     positive one (sum of value x samples / sum of samples: for a rate such as
//     accuracy or error_rate this is the rate over all the window's samples),
//     and the plain mean otherwise. A counter is averaged too: judge counters
//     on the latest observation (no window) or as rates;
//   - input feature profiles are pooled: histograms with the same edges are
//     summed, samples of values are concatenated (the most recent
//     MaxFeatureValues values kept). A feature whose profiles cannot be pooled
//     (different edges, values and a histogram) is left out and named in the
//     second result;
//   - the window runs from the earliest start to the latest end; model,
//     version and stage are the latest observation's.
//
// obs must not be empty; they are taken oldest first (Store.List's order).
func Aggregate(obs []Stored, samplesMetric string) (*Observation, []string) {
	last := obs[len(obs)-1]
	out := &Observation{Trove: FormatVersion, Model: last.Model, Version: last.Version, Stage: last.Stage, Digest: last.Digest,
		RecordedAt: last.RecordedAt, Window: Window{Start: obs[0].Window.Start, End: last.Window.End}, Metrics: map[string]float64{}}
	if samplesMetric == "" {
		samplesMetric = "samples"
	}
	names := map[string]bool{}
	for _, o := range obs {
		if o.Window.Start < out.Window.Start {
			out.Window.Start = o.Window.Start
		}
		if o.Window.End > out.Window.End {
			out.Window.End = o.Window.End
		}
		for k := range o.Metrics {
			names[k] = true
		}
	}
	for k := range names {
		var sum, wsum, weight float64
		var n int
		weighted := k != samplesMetric
		for _, o := range obs {
			v, ok := o.Metrics[k]
			if !ok {
				continue
			}
			n++
			sum += v
			if s, ok := o.Metrics[samplesMetric]; ok && s > 0 {
				wsum += v * s
				weight += s
			} else {
				weighted = false
			}
		}
		switch {
		case k == samplesMetric:
			out.Metrics[k] = sum
		case weighted:
			out.Metrics[k] = wsum / weight
		default:
			out.Metrics[k] = sum / float64(n)
		}
	}
	var unpooled []string
	feats := map[string][]Feature{}
	for _, o := range obs {
		for k, f := range o.Features {
			feats[k] = append(feats[k], f)
		}
	}
	for k, fs := range feats {
		if f, ok := pool(fs); ok {
			if out.Features == nil {
				out.Features = map[string]Feature{}
			}
			out.Features[k] = f
		} else {
			unpooled = append(unpooled, k)
		}
	}
	slices.Sort(unpooled)
	return out, unpooled
}

func pool(fs []Feature) (Feature, bool) {
	first := fs[0]
	if len(first.Edges) > 0 {
		counts := make([]int64, len(first.Counts))
		for _, f := range fs {
			if !slices.Equal(f.Edges, first.Edges) || len(f.Counts) != len(counts) {
				return Feature{}, false
			}
			for i, c := range f.Counts {
				counts[i] += c
				if counts[i] < 0 {
					return Feature{}, false // overflow
				}
			}
		}
		return Feature{Edges: slices.Clone(first.Edges), Counts: counts}, true
	}
	var values []float64
	for _, f := range fs {
		if len(f.Edges) > 0 {
			return Feature{}, false
		}
		values = append(values, f.Values...)
	}
	if len(values) > MaxFeatureValues {
		values = values[len(values)-MaxFeatureValues:]
	}
	return Feature{Values: values}, true
}

// inWindow returns the observations a monitor with a window judges, oldest
// first: those of history whose window ended within m.Window before now (and
// not after now), the last m.Observations of them.
func inWindow(m *policy.Monitor, history []Stored, now time.Time) []Stored {
	var out []Stored
	for _, s := range history {
		if s.Reference {
			continue
		}
		end := s.End()
		if end.After(now) {
			continue
		}
		if m.Window > 0 && !end.After(now.Add(-m.Window)) {
			continue
		}
		out = append(out, s)
	}
	if m.Observations > 0 && len(out) > m.Observations {
		out = out[len(out)-m.Observations:]
	}
	return out
}

// windowed reports whether a monitor judges an aggregate.
func windowed(m *policy.Monitor) bool { return m.Window > 0 || m.Observations > 0 }

// describeWindow is how a monitor's window reads in its expectation.
func describeWindow(m *policy.Monitor) string {
	switch {
	case m.Window > 0 && m.Observations > 0:
		return fmt.Sprintf("over the last %d observations within %s", m.Observations, policy.FormatDuration(m.Window))
	case m.Window > 0:
		return "over the observations of the last " + policy.FormatDuration(m.Window)
	default:
		return fmt.Sprintf("over the last %d observations", m.Observations)
	}
}
