package monitor

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	dto "github.com/prometheus/client_model/go"

	"github.com/trove-dev/trove/governance"
	"github.com/trove-dev/trove/objects"
)

// FormatVersion is the observation and event format this trove writes and reads.
const FormatVersion = 1

// Limits on what one observation may hold, so that a hostile or mistaken file
// cannot exhaust memory or the remote.
const (
	MaxObservationSize = 16 << 20 // bytes of one encoded observation or input file
	MaxMetrics         = 10_000
	MaxFeatures        = 1_000
	MaxFeatureValues   = 100_000 // values, or histogram buckets, of one feature
)

// Errors. Callers test them with errors.Is.
var (
	// ErrInvalid: an observation, metrics file, features file or event that is
	// malformed, not canonical or out of bounds.
	ErrInvalid = errors.New("invalid observation")
	// ErrWindow: an observation window that is inverted or ends in the future.
	ErrWindow = errors.New("invalid observation window")
	// ErrCorrupt: a stored object whose bytes do not match its name.
	ErrCorrupt = errors.New("stored observation is corrupt")
	// ErrEvent: a file that is not a trove monitoring event.
	ErrEvent = errors.New("not a trove monitoring event")
)

// Observation is one batch of production metrics, recorded against the model
// version that served them. SPEC.md in this directory is its normative
// description. Field order is JSON key order (sorted), which with two-space
// indentation and a trailing newline makes the encoding canonical: an
// observation has one valid encoding, and its id is the BLAKE3 of it.
type Observation struct {
	// Digest is the model artifact's digest at Version ("" if unknown).
	Digest string `json:"digest,omitempty"`
	// Features are input feature profiles for data drift, when the producer
	// sends them.
	Features map[string]Feature `json:"features,omitempty"`
	Metrics  map[string]float64 `json:"metrics"`
	Model    string             `json:"model"`
	// RecordedAt is when `trove observe` recorded it (RFC 3339, UTC).
	RecordedAt string `json:"recorded_at"`
	// Reference marks a baseline profile (usually of the training data) that
	// data-drift monitors compare later observations of the version with.
	Reference bool   `json:"reference,omitempty"`
	Source    string `json:"source,omitempty"`
	// Stage is the stage through which the version was addressed ("" when it
	// was named by version).
	Stage   string `json:"stage,omitempty"`
	Trove   int    `json:"trove"`
	Version string `json:"version"`
	Window  Window `json:"window"`
}

// Window is the period the metrics cover, RFC 3339 in UTC, whole seconds.
type Window struct {
	End   string `json:"end"`
	Start string `json:"start"`
}

// Feature is the profile of one numeric input column: either a sample of its
// values, or a histogram: Edges are increasing bucket bounds and Counts has one
// more element than Edges, bucket i holding the values v with
// Edges[i-1] < v <= Edges[i] (the first bucket is unbounded below, the last
// unbounded above).
type Feature struct {
	Counts []int64   `json:"counts,omitempty"`
	Edges  []float64 `json:"edges,omitempty"`
	Values []float64 `json:"values,omitempty"`
}

// ID is an observation's name: the BLAKE3 of its canonical encoding.
func (o *Observation) ID() (objects.ID, error) {
	b, err := o.Encode()
	if err != nil {
		return objects.ID{}, err
	}
	return objects.Hash(b), nil
}

// End returns the end of the window (zero if unparsable: Validate rejects that).
func (o *Observation) End() time.Time {
	t, _ := time.Parse(time.RFC3339, o.Window.End)
	return t
}

// Encode returns the canonical encoding: sorted keys, two-space indent,
// trailing newline. It validates first.
func (o *Observation) Encode() ([]byte, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	return canonical(o)
}

func canonical(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

var (
	metricRe = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.:-]{0,199}(\{[^{}\x00-\x1f]{1,400}\})?$`)
	})
	stampRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`) })
)

// ValidMetricName: letters, digits, '_', '.', ':', '-', starting with a
// letter or '_' (Prometheus names and trove's dotted names both fit),
// optionally followed by Prometheus labels in braces (name{le="0.5"}).
func ValidMetricName(s string) bool { return metricRe().MatchString(s) }

// Validate checks the invariants SPEC.md states. It does not look at the
// clock: CheckWindow does.
func (o *Observation) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
	}
	if o.Trove != FormatVersion {
		return bad("format version %d; this trove reads %d", o.Trove, FormatVersion)
	}
	if !governance.ValidModelName(o.Model) {
		return bad("model %q is not a model name", o.Model)
	}
	if _, err := governance.ParseVersion(o.Version); err != nil && !isCommit(o.Version) {
		return bad("version %q is not a version", o.Version)
	}
	if o.Stage != "" && !governance.ValidStage(o.Stage) {
		return bad("stage %q is not a stage name", o.Stage)
	}
	if o.Digest != "" {
		if _, err := objects.ParseID(o.Digest); err != nil {
			return bad("digest %q: want blake3:<64 hex>", o.Digest)
		}
	}
	for _, f := range []struct{ name, v string }{{"recorded_at", o.RecordedAt}, {"window.start", o.Window.Start}, {"window.end", o.Window.End}} {
		if !stampRe().MatchString(f.v) {
			return bad("%s %q: want an RFC 3339 time in UTC, whole seconds (2026-01-02T15:04:05Z)", f.name, f.v)
		}
		if _, err := time.Parse(time.RFC3339, f.v); err != nil {
			return bad("%s %q: %v", f.name, f.v, err)
		}
	}
	if o.Window.Start > o.Window.End {
		return fmt.Errorf("%w: it starts (%s) after it ends (%s)", ErrWindow, o.Window.Start, o.Window.End)
	}
	if len(o.Source) > 1024 || strings.ContainsAny(o.Source, "\x00\n\r") {
		return bad("source: at most 1024 characters, on one line")
	}
	if o.Metrics == nil {
		return bad("metrics: required (may be empty only for a reference profile)")
	}
	if len(o.Metrics) == 0 && !o.Reference {
		return bad("no metrics")
	}
	if len(o.Metrics) > MaxMetrics {
		return bad("%d metrics; at most %d", len(o.Metrics), MaxMetrics)
	}
	for k, v := range o.Metrics {
		if !ValidMetricName(k) {
			return bad("metric name %q: use letters, digits, '_', '.', ':' and '-'", k)
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return bad("metric %s is %v; only finite numbers are recorded", k, v)
		}
	}
	if len(o.Features) > MaxFeatures {
		return bad("%d features; at most %d", len(o.Features), MaxFeatures)
	}
	for k, f := range o.Features {
		if !ValidMetricName(k) {
			return bad("feature name %q: use letters, digits, '_', '.', ':' and '-'", k)
		}
		if err := f.validate(); err != nil {
			return bad("feature %s: %v", k, err)
		}
	}
	return nil
}

func isCommit(s string) bool {
	if len(s) != 40 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func (f Feature) validate() error {
	hist := len(f.Edges) > 0 || len(f.Counts) > 0
	switch {
	case hist && len(f.Values) > 0:
		return errors.New("give values or a histogram (edges and counts), not both")
	case !hist && len(f.Values) == 0:
		return errors.New("empty: give values or a histogram (edges and counts)")
	case len(f.Values) > MaxFeatureValues || len(f.Counts) > MaxFeatureValues:
		return fmt.Errorf("more than %d values or buckets", MaxFeatureValues)
	}
	for _, v := range f.Values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return errors.New("values must be finite numbers")
		}
	}
	if hist {
		if len(f.Counts) != len(f.Edges)+1 {
			return fmt.Errorf("%d edges need %d counts (one bucket below the first edge, one above the last), got %d", len(f.Edges), len(f.Edges)+1, len(f.Counts))
		}
		for i, e := range f.Edges {
			if math.IsNaN(e) || math.IsInf(e, 0) {
				return errors.New("edges must be finite numbers")
			}
			if i > 0 && !(e > f.Edges[i-1]) {
				return errors.New("edges must increase strictly")
			}
		}
		var total int64
		for _, c := range f.Counts {
			if c < 0 {
				return errors.New("counts must not be negative")
			}
			total += c
			if total < 0 {
				return errors.New("counts overflow")
			}
		}
		if total == 0 {
			return errors.New("the histogram counts nothing")
		}
	}
	return nil
}

// Decode reads an observation strictly: one JSON object with only the known
// keys, a known format version, valid fields, and in canonical form (so that
// its id, the BLAKE3 of these bytes, is the one the writer computed).
func Decode(b []byte) (*Observation, error) {
	if len(b) > MaxObservationSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrInvalid, MaxObservationSize)
	}
	var o Observation
	if err := strictJSON(b, &o); err != nil {
		return nil, err
	}
	enc, err := o.Encode()
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(enc, b) {
		return nil, fmt.Errorf("%w: not in canonical form (sorted keys, two-space indent, trailing newline)", ErrInvalid)
	}
	return &o, nil
}

func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: data after the JSON object", ErrInvalid)
	}
	return nil
}

// CheckWindow refuses a window that ends after now (metrics from the future
// are a wrong clock or a wrong flag, never data).
func CheckWindow(w Window, now time.Time) error {
	end, err := time.Parse(time.RFC3339, w.End)
	if err != nil {
		return fmt.Errorf("%w: end %q: %v", ErrWindow, w.End, err)
	}
	start, err := time.Parse(time.RFC3339, w.Start)
	if err != nil {
		return fmt.Errorf("%w: start %q: %v", ErrWindow, w.Start, err)
	}
	if start.After(end) {
		return fmt.Errorf("%w: it starts (%s) after it ends (%s)", ErrWindow, w.Start, w.End)
	}
	if end.After(now) {
		return fmt.Errorf("%w: it ends at %s, in the future (now is %s)", ErrWindow, w.End, now.UTC().Format(time.RFC3339))
	}
	return nil
}

// ParseMetrics reads a batch of production metrics in either format and
// returns the values by name:
//
//   - JSON: an object of names to finite numbers; nested objects are flattened
//     with dots ({"latency": {"p95": 41}} is latency.p95), as `trove run
//     --metrics` reads them;
//   - the Prometheus text exposition format (what a /metrics endpoint or
//     `promtool query instant -o text` prints), read with Prometheus's own
//     parser. A gauge or counter is its value; a sample with labels is named
//     name{label="value",...} with labels sorted; a summary or histogram gives
//     NAME_count and NAME_sum, and a summary its quantiles as
//     NAME{quantile="0.95"}.
//
// The format is told by the first non-blank byte: '{' is JSON. Any non-finite
// value (NaN, +Inf) is an error: a metric that cannot be compared is not data.
func ParseMetrics(b []byte) (map[string]float64, error) {
	if len(b) > MaxObservationSize {
		return nil, fmt.Errorf("%w: metrics larger than %d bytes", ErrInvalid, MaxObservationSize)
	}
	trim := bytes.TrimLeft(b, " \t\r\n")
	var out map[string]float64
	if len(trim) > 0 && trim[0] == '{' {
		m, err := governance.ParseMetrics(b)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		out = m
	} else {
		m, err := parseProm(b)
		if err != nil {
			return nil, err
		}
		out = m
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no metrics in the file", ErrInvalid)
	}
	if len(out) > MaxMetrics {
		return nil, fmt.Errorf("%w: %d metrics; at most %d", ErrInvalid, len(out), MaxMetrics)
	}
	for k, v := range out {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("%w: metric %s is %v; only finite numbers are recorded", ErrInvalid, k, v)
		}
		if !ValidMetricName(k) {
			return nil, fmt.Errorf("%w: metric name %q: use letters, digits, '_', '.', ':' and '-'", ErrInvalid, k)
		}
	}
	return out, nil
}

func parseProm(b []byte) (map[string]float64, error) {
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%w: neither a JSON object nor Prometheus text format: %v", ErrInvalid, err)
	}
	out := map[string]float64{}
	put := func(name string, labels []*dto.LabelPair, extra []string, v float64) error {
		key := name
		var ls []string
		for _, l := range labels {
			ls = append(ls, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
		}
		ls = append(ls, extra...)
		if len(ls) > 0 {
			sort.Strings(ls)
			key += "{" + strings.Join(ls, ",") + "}"
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%w: metric %s is %v; only finite numbers are recorded", ErrInvalid, key, v)
		}
		if _, dup := out[key]; dup {
			return fmt.Errorf("%w: metric %s appears twice", ErrInvalid, key)
		}
		out[key] = v
		return nil
	}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			var err error
			switch {
			case m.Gauge != nil:
				err = put(name, m.Label, nil, m.Gauge.GetValue())
			case m.Counter != nil:
				err = put(name, m.Label, nil, m.Counter.GetValue())
			case m.Untyped != nil:
				err = put(name, m.Label, nil, m.Untyped.GetValue())
			case m.Summary != nil:
				if err = put(name+"_count", m.Label, nil, float64(m.Summary.GetSampleCount())); err == nil {
					err = put(name+"_sum", m.Label, nil, m.Summary.GetSampleSum())
				}
				for _, q := range m.Summary.Quantile {
					if err == nil {
						err = put(name, m.Label, []string{fmt.Sprintf("quantile=%q", fmt.Sprint(q.GetQuantile()))}, q.GetValue())
					}
				}
			case m.Histogram != nil:
				if err = put(name+"_count", m.Label, nil, float64(m.Histogram.GetSampleCount())); err == nil {
					err = put(name+"_sum", m.Label, nil, m.Histogram.GetSampleSum())
				}
			}
			if err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// ParseFeatures reads a features file: a JSON object of column names to
// profiles ({"age": {"values": [31, 45, ...]}, "income": {"edges": [...],
// "counts": [...]}}), strictly.
func ParseFeatures(b []byte) (map[string]Feature, error) {
	if len(b) > MaxObservationSize {
		return nil, fmt.Errorf("%w: features larger than %d bytes", ErrInvalid, MaxObservationSize)
	}
	var fs map[string]Feature
	if err := strictJSON(b, &fs); err != nil {
		return nil, err
	}
	if len(fs) == 0 {
		return nil, fmt.Errorf("%w: no features in the file", ErrInvalid)
	}
	if len(fs) > MaxFeatures {
		return nil, fmt.Errorf("%w: %d features; at most %d", ErrInvalid, len(fs), MaxFeatures)
	}
	for k, f := range fs {
		if !ValidMetricName(k) {
			return nil, fmt.Errorf("%w: feature name %q: use letters, digits, '_', '.', ':' and '-'", ErrInvalid, k)
		}
		if err := f.validate(); err != nil {
			return nil, fmt.Errorf("%w: feature %s: %v", ErrInvalid, k, err)
		}
	}
	return fs, nil
}
