package monitor

import (
	"fmt"
	"math"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/trove-dev/trove/governance/policy"
)

// Status is the outcome of one monitor, or of a whole report.
type Status string

// Statuses. Only a breach recommends retraining. no_data is never a pass: a
// monitor whose metric was never observed, whose training value is unknown,
// or whose observation has too few samples says so.
const (
	StatusPass          Status = "pass"
	StatusBreach        Status = "breach"
	StatusNoData        Status = "no_data"
	StatusNotApplicable Status = "not_applicable"
	StatusError         Status = "error"
)

// Epsilon absorbs floating-point noise in comparisons with a limit (0.91 -
// 0.86 is 0.05000000000000004): a value within Epsilon of its limit is within
// it.
const Epsilon = 1e-9

// Subject is the model version watched.
type Subject struct {
	Model   string
	Version string
	Stage   string // the stage it holds ("" when named by version)
	Digest  string
	Path    string // the artifact's path, for artifacts globs
	// Training holds the metrics recorded in the version's manifest when it
	// was trained and evaluated: the baseline of drift monitors.
	Training map[string]float64
}

// Input is everything a monitoring decision depends on; Evaluate reads nothing
// else, so the same input always gives the same report.
type Input struct {
	Subject Subject
	// Observation is the latest observation of the version (nil: none).
	Observation *Stored
	// History is every observation of the version (reference profiles are
	// skipped), oldest first: monitors with a window or an observations count
	// judge the Aggregate of those in it. nil: Observation alone.
	History []Stored
	// Reference is the version's latest reference profile (nil: none).
	Reference *Stored
	Now       time.Time
}

// Result is the outcome of one monitor.
type Result struct {
	Expected string `json:"expected"`
	Monitor  string `json:"monitor"`
	Observed string `json:"observed"`
	Reason   string `json:"reason,omitempty"`
	Status   Status `json:"status"`
	Type     string `json:"type"`
	// Value is what was measured: the production metric (threshold), the
	// drop from training (drift), the distance (data_drift).
	Value *float64 `json:"value,omitempty"`
	// Observations are the ids of the observations aggregated, oldest first,
	// for a monitor with a window or an observations count.
	Observations []string `json:"observations,omitempty"`
}

// Report is the monitoring decision for one model version.
type Report struct {
	Model       string   `json:"model"`
	Version     string   `json:"version"`
	Stage       string   `json:"stage,omitempty"`
	Digest      string   `json:"digest,omitempty"`
	Observation string   `json:"observation,omitempty"` // the id of the observation judged
	Reference   string   `json:"reference,omitempty"`   // the reference profile's id
	Window      *Window  `json:"window,omitempty"`
	Status      Status   `json:"status"`
	Retrain     bool     `json:"retrain_recommended"`
	Results     []Result `json:"results"`
	// PolicyDigest names the policy; EvaluatedAt is Input.Now.
	PolicyDigest string `json:"policy_digest,omitempty"`
	EvaluatedAt  string `json:"evaluated_at"`
}

// Breached returns the ids of the breached monitors.
func (r Report) Breached() []string {
	var out []string
	for _, x := range r.Results {
		if x.Status == StatusBreach {
			out = append(out, x.Monitor)
		}
	}
	return out
}

// Evaluate applies the policy's monitors to the latest observation of a model
// version, or, for a monitor with a window or an observations count, to the
// Aggregate of the observations in it (Input.History). It is pure. A monitor out of scope (stage, artifact glob, kind
// other than model) is not_applicable. The report's status is breach if any
// monitor breached (and then retraining is recommended), else error if any
// could not be evaluated, else no_data if any lacked data, else pass.
func Evaluate(p *policy.Policy, in Input) Report {
	s := in.Subject
	rep := Report{Model: s.Model, Version: s.Version, Stage: s.Stage, Digest: s.Digest,
		Results: []Result{}, EvaluatedAt: in.Now.UTC().Format(time.RFC3339)}
	if !p.Digest.IsZero() {
		rep.PolicyDigest = p.Digest.String()
	}
	if in.Observation != nil {
		rep.Observation = in.Observation.ID.String()
		w := in.Observation.Window
		rep.Window = &w
	}
	for i := range p.Monitors {
		m := &p.Monitors[i]
		r := evalOne(m, in)
		r.Monitor, r.Type = m.ID, m.Type
		if m.Type == policy.MonitorDataDrift && in.Reference != nil && r.Status != StatusNotApplicable {
			rep.Reference = in.Reference.ID.String()
		}
		rep.Results = append(rep.Results, r)
	}
	sort.SliceStable(rep.Results, func(i, j int) bool { return rep.Results[i].Monitor < rep.Results[j].Monitor })
	rep.Status = StatusPass
	rank := map[Status]int{StatusPass: 0, StatusNotApplicable: 0, StatusNoData: 1, StatusError: 2, StatusBreach: 3}
	for _, r := range rep.Results {
		if rank[r.Status] > rank[rep.Status] {
			rep.Status = r.Status
		}
	}
	rep.Retrain = rep.Status == StatusBreach
	return rep
}

func inScope(sc policy.Scope, s Subject) bool {
	if len(sc.Stages) > 0 && !slices.Contains(sc.Stages, s.Stage) {
		return false
	}
	if len(sc.Kinds) > 0 && !slices.Contains(sc.Kinds, "model") {
		return false
	}
	if len(sc.Artifacts) > 0 {
		ok := false
		for _, g := range sc.Artifacts {
			if m, _ := path.Match(g, s.Model); m {
				ok = true
			}
			if m, _ := path.Match(g, s.Path); m && s.Path != "" {
				ok = true
			}
		}
		return ok
	}
	return true
}

func num(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func ptr(v float64) *float64 { return &v }

func evalOne(m *policy.Monitor, in Input) Result {
	s := in.Subject
	if !inScope(m.Scope, s) {
		return Result{Status: StatusNotApplicable, Expected: "-", Observed: "-", Reason: "out of the monitor's scope"}
	}
	if !windowed(m) {
		return evalOn(m, in, in.Observation)
	}
	history := in.History
	if history == nil && in.Observation != nil {
		history = []Stored{*in.Observation}
	}
	sel := inWindow(m, history, in.Now)
	if len(sel) == 0 {
		when := "recorded"
		if m.Window > 0 {
			when = "ended in the last " + policy.FormatDuration(m.Window)
		}
		return Result{Status: StatusNoData, Expected: describeMonitor(m), Observed: "no observation",
			Reason: fmt.Sprintf("no observation of %s@%s %s: `trove observe` records one", s.Model, s.Version, when)}
	}
	agg, unpooled := Aggregate(sel, m.SamplesMetric)
	if m.Type == policy.MonitorDataDrift && slices.Contains(unpooled, m.Feature) {
		return Result{Status: StatusError, Expected: describeMonitor(m), Observed: "-",
			Reason: fmt.Sprintf("the profiles of feature %s in the window cannot be pooled (histograms need the same edges; values and histograms do not mix)", m.Feature)}
	}
	ids := make([]string, len(sel))
	for i, x := range sel {
		ids[i] = x.ID.String()
	}
	r := evalOn(m, in, &Stored{Observation: agg})
	if r.Status != StatusNotApplicable {
		r.Observations = ids
		if r.Observed != "" && r.Observed != "-" {
			r.Observed += fmt.Sprintf(" (%s of %s, %s..%s)", aggregateKind(sel, m), plural(len(sel), "observation"), agg.Window.Start, agg.Window.End)
		}
	}
	return r
}

// aggregateKind says how the metrics of a window were combined, for people.
func aggregateKind(sel []Stored, m *policy.Monitor) string {
	if m.Type == policy.MonitorDataDrift {
		return "pooled"
	}
	for _, o := range sel {
		if n, ok := o.Metrics[m.SamplesMetric]; !ok || n <= 0 {
			return "mean"
		}
	}
	return "sample-weighted mean"
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// evalOn judges one monitor on o: the latest observation, or the aggregate of
// a window.
func evalOn(m *policy.Monitor, in Input, o *Stored) Result {
	s := in.Subject
	expected := describeMonitor(m)
	if o == nil {
		return Result{Status: StatusNoData, Expected: expected, Observed: "no observation", Reason: fmt.Sprintf("no observation of %s@%s recorded: `trove observe` records one", s.Model, s.Version)}
	}
	if m.MinSamples > 0 {
		n, ok := o.Metrics[m.SamplesMetric]
		if !ok {
			return Result{Status: StatusNoData, Expected: expected, Observed: "no sample count",
				Reason: fmt.Sprintf("min_samples %s needs the sample count, metric %s, which the observation lacks", num(m.MinSamples), m.SamplesMetric)}
		}
		if n < m.MinSamples {
			return Result{Status: StatusNoData, Expected: expected, Observed: fmt.Sprintf("%s samples", num(n)),
				Reason: fmt.Sprintf("too few samples: %s < %s (%s)", num(n), num(m.MinSamples), m.SamplesMetric)}
		}
	}
	noMetric := func(name string) Result {
		return Result{Status: StatusNoData, Expected: expected, Observed: "no data",
			Reason: fmt.Sprintf("metric %s was not observed", name)}
	}
	switch m.Type {
	case policy.MonitorThreshold:
		v, ok := o.Metrics[m.Metric]
		if !ok {
			return noMetric(m.Metric)
		}
		r := Result{Expected: expected, Observed: fmt.Sprintf("%s = %s", m.Metric, num(v)), Value: ptr(v)}
		if compare(v, m.Op, m.Value) {
			r.Status = StatusPass
		} else {
			r.Status = StatusBreach
		}
		return r
	case policy.MonitorDrift:
		v, ok := o.Metrics[m.Metric]
		if !ok {
			return noMetric(m.Metric)
		}
		t, ok := s.Training[m.Metric]
		if !ok {
			return Result{Status: StatusNoData, Expected: expected, Observed: fmt.Sprintf("%s = %s", m.Metric, num(v)),
				Reason: fmt.Sprintf("no training value of %s: the model's manifest records none (trove run --metrics)", m.Metric)}
		}
		drop := t - v
		if !m.HigherIsBetter {
			drop = v - t
		}
		r := Result{Status: StatusPass, Expected: expected, Value: ptr(drop),
			Observed: fmt.Sprintf("%s = %s, trained %s, drop %s", m.Metric, num(v), num(t), num(round(drop)))}
		if m.MaxDrop >= 0 && drop > m.MaxDrop+Epsilon {
			r.Status = StatusBreach
		}
		if m.MaxDropRatio >= 0 {
			if t == 0 {
				if drop > Epsilon {
					r.Status = StatusBreach
				}
			} else if ratio := drop / math.Abs(t); ratio > m.MaxDropRatio+Epsilon {
				r.Status = StatusBreach
			}
			if t != 0 {
				r.Observed += fmt.Sprintf(" (%s%%)", num(round(100*drop/math.Abs(t))))
			}
		}
		return r
	case policy.MonitorDataDrift:
		cur, ok := o.Features[m.Feature]
		if !ok {
			return Result{Status: StatusNoData, Expected: expected, Observed: "no data",
				Reason: fmt.Sprintf("feature %s was not observed (trove observe --features)", m.Feature)}
		}
		if in.Reference == nil {
			return Result{Status: StatusNoData, Expected: expected, Observed: "no reference",
				Reason: fmt.Sprintf("no reference profile of %s@%s (trove observe --reference --features)", s.Model, s.Version)}
		}
		ref, ok := in.Reference.Features[m.Feature]
		if !ok {
			return Result{Status: StatusNoData, Expected: expected, Observed: "no reference",
				Reason: fmt.Sprintf("the reference profile has no feature %s", m.Feature)}
		}
		d, err := Drift(m.Method, ref, cur)
		if err != nil {
			return Result{Status: StatusError, Expected: expected, Observed: "-",
				Reason: fmt.Sprintf("feature %s: %v (histograms need the same edges)", m.Feature, err)}
		}
		r := Result{Status: StatusPass, Expected: expected, Value: ptr(d), Observed: fmt.Sprintf("%s %s = %s", m.Method, m.Feature, num(round(d)))}
		if d > m.Max+Epsilon {
			r.Status = StatusBreach
		}
		return r
	case policy.MonitorCEL:
		ok, err := m.EvalCEL(policy.MonitorCELInput{Metrics: o.Metrics, Training: s.Training, Model: s.Model, Version: s.Version, Stage: s.Stage})
		if err != nil {
			if strings.Contains(err.Error(), "no such key") {
				return Result{Status: StatusNoData, Expected: expected, Observed: "no data", Reason: "the expression reads a metric that was not observed: " + err.Error()}
			}
			return Result{Status: StatusError, Expected: expected, Observed: "-", Reason: "CEL evaluation: " + err.Error()}
		}
		if ok {
			return Result{Status: StatusPass, Expected: expected, Observed: "true"}
		}
		return Result{Status: StatusBreach, Expected: expected, Observed: "false"}
	}
	return Result{Status: StatusError, Expected: expected, Observed: "-", Reason: "unknown monitor type " + m.Type}
}

// round keeps 6 significant digits for people (the Value field keeps all).
func round(v float64) float64 {
	f, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 6, 64), 64)
	return f
}

func compare(v float64, op string, c float64) bool {
	switch op {
	case ">=":
		return v >= c-Epsilon
	case ">":
		return v > c
	case "<=":
		return v <= c+Epsilon
	case "<":
		return v < c
	case "==":
		return math.Abs(v-c) <= Epsilon
	}
	return false
}

func describeMonitor(m *policy.Monitor) string {
	var d string
	switch m.Type {
	case policy.MonitorThreshold:
		d = fmt.Sprintf("%s %s %s", m.Metric, m.Op, num(m.Value))
	case policy.MonitorDrift:
		var parts []string
		if m.MaxDrop >= 0 {
			parts = append(parts, "at most "+num(m.MaxDrop))
		}
		if m.MaxDropRatio >= 0 {
			parts = append(parts, fmt.Sprintf("at most %s%%", num(100*m.MaxDropRatio)))
		}
		d = fmt.Sprintf("%s drops %s from training", m.Metric, strings.Join(parts, " and "))
	case policy.MonitorDataDrift:
		d = fmt.Sprintf("%s %s <= %s", m.Method, m.Feature, num(m.Max))
	case policy.MonitorCEL:
		d = m.Expr + " is true"
	}
	if windowed(m) {
		d += ", " + describeWindow(m)
	}
	if m.MinSamples > 0 {
		d += fmt.Sprintf(", on at least %s %s", num(m.MinSamples), m.SamplesMetric)
	}
	return d
}
