package policy

import (
	"bytes"
	"fmt"
	"io"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/trove-dev/trove/manifest"
	"github.com/trove-dev/trove/objects"
)

// FormatVersion is the policy file version this trove reads.
const FormatVersion = 1

// Rule types.
const (
	TypeLineage       = "lineage"
	TypeMetadata      = "metadata"
	TypeMetric        = "metric"
	TypeNoRegression  = "no_regression"
	TypeFreshness     = "freshness"
	TypeDataQuality   = "data_quality"
	TypeApprovals     = "approvals"
	TypeRemotePresent = "remote_present"
	TypeStageOrder    = "stage_order"
	TypeCEL           = "cel"
)

var ruleTypes = []string{TypeApprovals, TypeCEL, TypeDataQuality, TypeFreshness, TypeLineage,
	TypeMetadata, TypeMetric, TypeNoRegression, TypeRemotePresent, TypeStageOrder}

// Policy is a parsed .trove/policy.yaml. Parse builds it; it is read-only after, and
// safe to evaluate from several goroutines.
type Policy struct {
	Version int
	// Stages is the promotion order, lowest first.
	Stages   []string
	Rules    []Rule
	Monitors []Monitor
	Waivers  []Waiver
	// Digest is the BLAKE3 of the file's bytes: approvals and decisions name the
	// policy they were made under by it.
	Digest objects.ID
}

// Pos is a 1-based line and column in the policy file.
type Pos struct {
	Line, Column int
}

// Scope limits where a rule applies. Empty fields do not limit.
type Scope struct {
	// Stages: the rule applies only when promoting to one of these stages.
	Stages []string
	// Artifacts: globs (path.Match) matched against the subject's name or path.
	Artifacts []string
	// Kinds: dataset, model or artifact.
	Kinds []string
}

// Rule is one rule of the policy. Spec holds the type-specific settings: one of
// *LineageSpec, *MetadataSpec, *MetricSpec, *NoRegressionSpec, *FreshnessSpec,
// *DataQualitySpec, *ApprovalsSpec, *RemotePresentSpec, *StageOrderSpec, *CELSpec.
type Rule struct {
	ID          string
	Type        string
	Description string
	Scope       Scope
	Pos         Pos
	Spec        Spec
}

// Spec is the type-specific part of a rule.
type Spec interface {
	ruleType() string
}

// LineageSpec (type lineage) requires the subject's lineage to be complete.
type LineageSpec struct {
	Inputs     bool     // at least one input recorded
	CodeCommit bool     // the code commit is recorded
	CleanTree  bool     // the code tree was clean
	Roles      []string // an input with each of these roles
	// ProtectedBranches: the commit is on a protected branch.
	ProtectedBranches bool
}

// MetadataSpec (type metadata) requires metadata keys and restricts licenses.
type MetadataSpec struct {
	Require         []string
	AllowedLicenses []string
	// PIIAllowedModels, when set, are globs naming the only models that may be
	// trained on inputs whose metadata says classification: pii.
	PIIAllowedModels []string
}

// MetricSpec (type metric) compares a recorded metric with a constant.
type MetricSpec struct {
	Metric string
	Op     string // >=, >, <=, <, ==
	Value  float64
}

// NoRegressionSpec (type no_regression) compares a metric with the current holder of
// the target stage, when both were evaluated on the same data.
type NoRegressionSpec struct {
	Metric         string
	Tolerance      float64
	HigherIsBetter bool // default true
}

// FreshnessSpec (type freshness) bounds the age of the inputs with a role.
type FreshnessSpec struct {
	Role   string
	MaxAge time.Duration
}

// DataQualitySpec (type data_quality) compares the profile of the input with a role
// against the same role's input of the current stage holder.
type DataQualitySpec struct {
	Role string
	// MaxRowDrop is the largest allowed fractional drop in rows; negative = unchecked.
	MaxRowDrop float64
	// SchemaChange is "deny" or "allow" (the default).
	SchemaChange string
}

// ApprovalsSpec (type approvals) requires signed approvals.
type ApprovalsSpec struct {
	Min                int
	Roles              []string      // an approver must hold one of these; empty = any
	MaxAge             time.Duration // 0 = no limit
	DistinctFromAuthor bool          // default true
}

// RemotePresentSpec (type remote_present) requires the subject's blobs on the remote.
type RemotePresentSpec struct{}

// StageOrderSpec (type stage_order) forbids skipping stages.
type StageOrderSpec struct{}

// CELSpec (type cel) is a custom rule: a CEL expression over the input document
// that must be true.
type CELSpec struct {
	Expr string
	prog celProgram
}

func (*LineageSpec) ruleType() string       { return TypeLineage }
func (*MetadataSpec) ruleType() string      { return TypeMetadata }
func (*MetricSpec) ruleType() string        { return TypeMetric }
func (*NoRegressionSpec) ruleType() string  { return TypeNoRegression }
func (*FreshnessSpec) ruleType() string     { return TypeFreshness }
func (*DataQualitySpec) ruleType() string   { return TypeDataQuality }
func (*ApprovalsSpec) ruleType() string     { return TypeApprovals }
func (*RemotePresentSpec) ruleType() string { return TypeRemotePresent }
func (*StageOrderSpec) ruleType() string    { return TypeStageOrder }
func (*CELSpec) ruleType() string           { return TypeCEL }

// Monitor types (`monitors:` in the policy; read by `trove monitor`).
const (
	// MonitorThreshold compares a production metric with a constant.
	MonitorThreshold = "threshold"
	// MonitorDrift compares a production metric with the value recorded at
	// training time (the model manifest's metrics): absolute and relative drop.
	MonitorDrift = "drift"
	// MonitorDataDrift compares an input feature's profile in production with
	// the version's reference profile: PSI or KS distance.
	MonitorDataDrift = "data_drift"
	// MonitorCEL is a custom condition over the observation.
	MonitorCEL = "cel"
)

var monitorTypes = []string{MonitorCEL, MonitorDataDrift, MonitorDrift, MonitorThreshold}

// FormatDuration writes a duration the way policies spell them (7d, 24h, 90m).
func FormatDuration(x time.Duration) string { return formatDuration(x) }

// MaxMonitorObservations bounds a monitor's `observations:` count.
const MaxMonitorObservations = 10_000

// Monitor watches a model version in production. Which fields are set depends on
// Type; see doc.go.
type Monitor struct {
	ID          string
	Type        string
	Description string
	// Metric is the production metric (threshold, drift; the training metric of
	// the same name for drift).
	Metric string
	// threshold: Op and Value.
	Op    string
	Value float64
	// drift: the largest allowed worsening from the training value, absolute
	// (MaxDrop) and as a fraction of it (MaxDropRatio); negative = unchecked.
	MaxDrop        float64
	MaxDropRatio   float64
	HigherIsBetter bool // default true
	// data_drift: the feature (input column), the method (psi or ks) and the
	// largest allowed distance.
	Feature string
	Method  string
	Max     float64
	// cel: the expression.
	Expr string
	prog celProgram
	// MinSamples: fewer than this many samples in the observation (the metric
	// SamplesMetric, default "samples") gives no_data instead of a verdict; 0
	// = no minimum.
	MinSamples    float64
	SamplesMetric string
	// Window and Observations make the monitor judge the aggregate of several
	// observations of the version instead of the latest alone: those whose
	// window ended within Window before the evaluation time (0: any age), at
	// most the last Observations of them (0: all). Both 0: the latest only.
	// governance/monitor.Aggregate says how they are combined.
	Window       time.Duration
	Observations int
	Scope        Scope
	Pos          Pos
}

// Waiver turns a failing rule into "waived" for one artifact until it expires.
type Waiver struct {
	Rule     string
	Artifact objects.ID
	Reason   string
	Approver string
	// Expires is the first instant the waiver no longer applies. A date
	// (2027-01-15) means the start of that day in UTC.
	Expires time.Time
	Pos     Pos
}

var (
	idRe    = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`) })
	stageRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`) })
	roleRe  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z][a-z0-9_.-]{0,63}$`) })
	metaRe  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]{0,127}$`) })
)

const (
	idHint    = "use letters, digits, '.', '_' and '-' (at most 64)"
	stageHint = "use lowercase letters, digits, '_' and '-' (at most 32)"
	roleHint  = "use lowercase letters, digits, '_', '.' and '-'"
)

var ops = []string{">=", ">", "<=", "<", "=="}

var commonKeys = []string{"id", "type", "description", "stages", "artifacts", "kinds"}

var typeKeys = map[string][]string{
	TypeLineage:       {"require"},
	TypeMetadata:      {"require", "allowed_licenses", "pii_allowed_models"},
	TypeMetric:        {"metric", "op", "value"},
	TypeNoRegression:  {"metric", "tolerance", "higher_is_better"},
	TypeFreshness:     {"role", "max_age"},
	TypeDataQuality:   {"role", "max_row_drop", "schema_change"},
	TypeApprovals:     {"min", "roles", "max_age", "distinct_from_author"},
	TypeRemotePresent: {},
	TypeStageOrder:    {},
	TypeCEL:           {"expr"},
}

// Parse reads a policy file. name is used in error messages (".trove/policy.yaml").
// Every problem found is reported, each with its line and column, in one
// *ParseError (errors.Is(err, ErrInvalid)). Inputs over MaxFileSize, with more than
// MaxNodes nodes once aliases are expanded, or nested deeper than MaxDepth are
// rejected before they are decoded.
func Parse(name string, data []byte) (*Policy, error) {
	d := &decoder{file: name}
	if len(data) > MaxFileSize {
		d.errorf(nil, "file is %d bytes; a policy may be at most %d (1 MiB)", len(data), MaxFileSize)
		return nil, d.err()
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			d.errorf(nil, "empty policy; start with \"version: 1\"")
		} else {
			d.yamlError(err)
		}
		return nil, d.err()
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err != io.EOF {
		d.errorf(&extra, "a policy is one YAML document; remove the second (after ---)")
		return nil, d.err()
	}
	if bad, msg := checkBounds(&doc); bad != nil {
		d.errorf(bad, "%s", msg)
		return nil, d.err()
	}
	p := &Policy{Digest: objects.Hash(data)}
	if len(doc.Content) == 0 {
		d.errorf(nil, "empty policy; start with \"version: 1\"")
		return nil, d.err()
	}
	d.policy(doc.Content[0], p)
	if err := d.err(); err != nil {
		return nil, err
	}
	return p, nil
}

// yamlError turns a parser error ("yaml: line 3: ...") into a positioned Error.
func (d *decoder) yamlError(err error) {
	msg := err.Error()
	line := 0
	if rest, ok := strings.CutPrefix(msg, "yaml: line "); ok {
		if n, after, ok := strings.Cut(rest, ": "); ok {
			if _, e := fmt.Sscanf(n, "%d", &line); e == nil {
				msg = after
			}
		}
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Msg: "not valid YAML: " + msg})
}

var topKeys = []string{"version", "stages", "rules", "monitors", "waivers"}

func (d *decoder) policy(root *yaml.Node, p *Policy) {
	fs := d.mapping(root, "policy")
	if fs == nil {
		return
	}
	if f := take(fs, "version"); f == nil {
		d.errorf(deref(root), "version: required; want \"version: %d\" at the top", FormatVersion)
	} else if v, ok := d.integer(f.valNode, "version"); ok {
		if v != FormatVersion {
			d.errorf(deref(f.valNode), "version %d: this trove reads policy version %d", v, FormatVersion)
		}
		p.Version = v
	}
	if f := take(fs, "stages"); f != nil {
		seen := map[string]bool{}
		p.Stages, _ = d.strList(f.valNode, "stages", func(el *yaml.Node, s string) bool {
			if !stageRe().MatchString(s) {
				d.errorf(el, "stage %q: %s", s, stageHint)
				return false
			}
			if seen[s] {
				d.errorf(el, "stage %q listed twice", s)
				return false
			}
			seen[s] = true
			return true
		})
	}
	ruleIDs := map[string]Pos{}
	if f := take(fs, "rules"); f != nil {
		n := deref(f.valNode)
		if n.Kind != yaml.SequenceNode {
			d.errorf(n, "rules: want a list of rules (each \"- id: ...\"), got %s", describe(n))
		} else {
			for i, rn := range n.Content {
				if r, ok := d.rule(rn, i, p); ok {
					if first, dup := ruleIDs[r.ID]; dup {
						d.errorf(deref(rn), "rule %q: duplicate id (first at %d:%d)", r.ID, first.Line, first.Column)
						continue
					}
					ruleIDs[r.ID] = r.Pos
					p.Rules = append(p.Rules, r)
				}
			}
		}
	}
	if f := take(fs, "monitors"); f != nil {
		n := deref(f.valNode)
		if n.Kind != yaml.SequenceNode {
			d.errorf(n, "monitors: want a list of monitors, got %s", describe(n))
		} else {
			ids := map[string]Pos{}
			for i, mn := range n.Content {
				if m, ok := d.monitor(mn, i, p); ok {
					if first, dup := ids[m.ID]; dup {
						d.errorf(deref(mn), "monitor %q: duplicate id (first at %d:%d)", m.ID, first.Line, first.Column)
						continue
					}
					ids[m.ID] = m.Pos
					p.Monitors = append(p.Monitors, m)
				}
			}
		}
	}
	if f := take(fs, "waivers"); f != nil {
		n := deref(f.valNode)
		if n.Kind != yaml.SequenceNode {
			d.errorf(n, "waivers: want a list of waivers, got %s", describe(n))
		} else {
			for i, wn := range n.Content {
				if w, ok := d.waiver(wn, i, ruleIDs); ok {
					p.Waivers = append(p.Waivers, w)
				}
			}
		}
	}
	d.unknown(fs, "policy", topKeys)
}

func (d *decoder) scope(fs []*field, what string, p *Policy) Scope {
	var s Scope
	if f := take(fs, "stages"); f != nil {
		s.Stages, _ = d.strList(f.valNode, what+": stages", func(el *yaml.Node, v string) bool {
			if p.Stages == nil {
				d.errorf(el, "%s: scoped to stage %q but the policy has no stages list; add \"stages: [...]\" at the top", what, v)
				return false
			}
			if !slices.Contains(p.Stages, v) {
				msg := fmt.Sprintf("%s: stage %q is not one of the policy's stages [%s]", what, v, strings.Join(p.Stages, ", "))
				if sg := suggest(v, p.Stages); sg != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", sg)
				}
				d.errorf(el, "%s", msg)
				return false
			}
			return true
		})
	}
	if f := take(fs, "artifacts"); f != nil {
		s.Artifacts, _ = d.strList(f.valNode, what+": artifacts", func(el *yaml.Node, v string) bool {
			if _, err := path.Match(v, ""); err != nil || v == "" {
				d.errorf(el, "%s: artifacts: bad glob %q", what, v)
				return false
			}
			return true
		})
	}
	if f := take(fs, "kinds"); f != nil {
		s.Kinds, _ = d.strList(f.valNode, what+": kinds", func(el *yaml.Node, v string) bool {
			switch v {
			case manifest.KindDataset, manifest.KindModel, manifest.KindArtifact:
				return true
			}
			d.errorf(el, "%s: kind %q; want dataset, model or artifact", what, v)
			return false
		})
	}
	return s
}

func (d *decoder) rule(n *yaml.Node, index int, p *Policy) (Rule, bool) {
	n = deref(n)
	what := fmt.Sprintf("rule %d", index+1)
	fs := d.mapping(n, what)
	if fs == nil {
		return Rule{}, false
	}
	r := Rule{Pos: Pos{n.Line, n.Column}}
	if f := take(fs, "id"); f == nil {
		d.errorf(n, "%s: missing id; every rule needs one (\"id: accuracy-floor\")", what)
	} else if id, ok := d.name(f.valNode, what+": id", idRe(), idHint); ok {
		r.ID = id
		what = fmt.Sprintf("rule %q", id)
	}
	if f := take(fs, "description"); f != nil {
		r.Description, _ = d.str(f.valNode, what+": description")
	}
	f := take(fs, "type")
	if f == nil {
		d.errorf(n, "%s: missing type; want one of %s", what, strings.Join(ruleTypes, ", "))
		d.unknownSkipping(fs)
		return r, false
	}
	typ, ok := d.str(f.valNode, what+": type")
	if !ok {
		return r, false
	}
	keys, known := typeKeys[typ]
	if !known {
		msg := fmt.Sprintf("%s: unknown rule type %q; want one of %s", what, typ, strings.Join(ruleTypes, ", "))
		if s := suggest(typ, ruleTypes); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		d.errorf(deref(f.valNode), "%s", msg)
		return r, false
	}
	r.Type = typ
	r.Scope = d.scope(fs, what, p)
	switch typ {
	case TypeLineage:
		r.Spec = d.lineageSpec(fs, n, what)
	case TypeMetadata:
		r.Spec = d.metadataSpec(fs, n, what)
	case TypeMetric:
		r.Spec = d.metricSpec(fs, n, what)
	case TypeNoRegression:
		r.Spec = d.noRegressionSpec(fs, n, what)
	case TypeFreshness:
		r.Spec = d.freshnessSpec(fs, n, what)
	case TypeDataQuality:
		r.Spec = d.dataQualitySpec(fs, n, what)
	case TypeApprovals:
		r.Spec = d.approvalsSpec(fs, n, what)
	case TypeRemotePresent:
		r.Spec = &RemotePresentSpec{}
	case TypeStageOrder:
		if len(p.Stages) == 0 {
			d.errorf(n, "%s: stage_order needs the policy's stages list (\"stages: [dev, staging, production]\")", what)
		}
		r.Spec = &StageOrderSpec{}
	case TypeCEL:
		r.Spec = d.celSpec(fs, n, what)
	}
	d.unknown(fs, what, append(slices.Clone(commonKeys), keys...))
	return r, r.ID != ""
}

// unknownSkipping marks all fields consumed: without a type there is no key list to
// check them against.
func (d *decoder) unknownSkipping(fs []*field) {
	for _, f := range fs {
		f.consumed = true
	}
}

// required returns the field or reports it missing.
func (d *decoder) required(fs []*field, n *yaml.Node, what, key, example string) *field {
	f := take(fs, key)
	if f == nil {
		d.errorf(n, "%s: missing %s (%s)", what, key, example)
	}
	return f
}

func (d *decoder) roleList(n *yaml.Node, what string) []string {
	out, _ := d.strList(n, what, func(el *yaml.Node, s string) bool {
		if !roleRe().MatchString(s) {
			d.errorf(el, "%s: role %q: %s", what, s, roleHint)
			return false
		}
		return true
	})
	return out
}

func (d *decoder) lineageSpec(fs []*field, n *yaml.Node, what string) Spec {
	s := &LineageSpec{}
	f := d.required(fs, n, what, "require", "require: {inputs: true, code_commit: true}")
	if f == nil {
		return s
	}
	errsBefore := len(d.errs)
	rf := d.mapping(f.valNode, what+": require")
	if rf == nil {
		return s
	}
	bools := map[string]*bool{"inputs": &s.Inputs, "code_commit": &s.CodeCommit, "clean_tree": &s.CleanTree, "protected_branches": &s.ProtectedBranches}
	for _, k := range []string{"inputs", "code_commit", "clean_tree", "protected_branches"} {
		if g := take(rf, k); g != nil {
			*bools[k], _ = d.boolean(g.valNode, what+": require: "+k)
		}
	}
	if g := take(rf, "roles"); g != nil {
		s.Roles = d.roleList(g.valNode, what+": require: roles")
	}
	d.unknown(rf, what+": require", []string{"inputs", "code_commit", "clean_tree", "roles", "protected_branches"})
	if len(d.errs) == errsBefore && !s.Inputs && !s.CodeCommit && !s.CleanTree && !s.ProtectedBranches && len(s.Roles) == 0 {
		d.errorf(deref(f.valNode), "%s: require asks for nothing; set inputs, code_commit, clean_tree, protected_branches or roles", what)
	}
	return s
}

func (d *decoder) metadataSpec(fs []*field, n *yaml.Node, what string) Spec {
	s := &MetadataSpec{}
	if f := take(fs, "require"); f != nil {
		s.Require, _ = d.strList(f.valNode, what+": require", func(el *yaml.Node, v string) bool {
			if !manifest.ValidMetaKey(v) {
				d.errorf(el, "%s: require: %q is not a metadata key (lowercase letters, digits, '_', '.', '-')", what, v)
				return false
			}
			return true
		})
	}
	if f := take(fs, "allowed_licenses"); f != nil {
		s.AllowedLicenses, _ = d.strList(f.valNode, what+": allowed_licenses", nil)
	}
	if f := take(fs, "pii_allowed_models"); f != nil {
		s.PIIAllowedModels, _ = d.strList(f.valNode, what+": pii_allowed_models", func(el *yaml.Node, v string) bool {
			if _, err := path.Match(v, ""); err != nil || v == "" {
				d.errorf(el, "%s: pii_allowed_models: bad glob %q", what, v)
				return false
			}
			return true
		})
	}
	if s.Require == nil && s.AllowedLicenses == nil && s.PIIAllowedModels == nil {
		d.errorf(n, "%s: a metadata rule needs require, allowed_licenses or pii_allowed_models", what)
	}
	return s
}

func (d *decoder) metricName(fs []*field, n *yaml.Node, what string) string {
	f := d.required(fs, n, what, "metric", "metric: accuracy")
	if f == nil {
		return ""
	}
	m, _ := d.name(f.valNode, what+": metric", metaRe(), "use letters, digits, '_', '.', '-'")
	return m
}

func (d *decoder) metricSpec(fs []*field, n *yaml.Node, what string) Spec {
	s := &MetricSpec{Metric: d.metricName(fs, n, what)}
	if f := d.required(fs, n, what, "op", `op: ">="`); f != nil {
		if op, ok := d.str(f.valNode, what+": op"); ok {
			if !slices.Contains(ops, op) {
				d.errorf(deref(f.valNode), "%s: bad op %q; want one of %s (quoted: op: \">=\")", what, op, strings.Join(ops, ", "))
			}
			s.Op = op
		}
	}
	if f := d.required(fs, n, what, "value", "value: 0.9"); f != nil {
		s.Value, _ = d.number(f.valNode, what+": value")
	}
	return s
}

func (d *decoder) noRegressionSpec(fs []*field, n *yaml.Node, what string) Spec {
	s := &NoRegressionSpec{Metric: d.metricName(fs, n, what), HigherIsBetter: true}
	if f := take(fs, "tolerance"); f != nil {
		if v, ok := d.number(f.valNode, what+": tolerance"); ok {
			if v < 0 {
				d.errorf(deref(f.valNode), "%s: tolerance must not be negative", what)
			}
			s.Tolerance = v
		}
	}
	if f := take(fs, "higher_is_better"); f != nil {
		s.HigherIsBetter, _ = d.boolean(f.valNode, what+": higher_is_better")
	}
	return s
}

func (d *decoder) role(fs []*field, n *yaml.Node, what string) string {
	f := d.required(fs, n, what, "role", "role: train")
	if f == nil {
		return ""
	}
	r, _ := d.name(f.valNode, what+": role", roleRe(), roleHint)
	return r
}

func (d *decoder) freshnessSpec(fs []*field, n *yaml.Node, what string) Spec {
	s := &FreshnessSpec{Role: d.role(fs, n, what)}
	if f := d.required(fs, n, what, "max_age", "max_age: 30d"); f != nil {
		s.MaxAge, _ = d.duration(f.valNode, what+": max_age")
	}
	return s
}

func (d *decoder) dataQualitySpec(fs []*field, n *yaml.Node, what string) Spec {
	s := &DataQualitySpec{Role: d.role(fs, n, what), MaxRowDrop: -1, SchemaChange: "allow"}
	f1 := take(fs, "max_row_drop")
	if f1 != nil {
		if v, ok := d.number(f1.valNode, what+": max_row_drop"); ok {
			if v < 0 || v > 1 {
				d.errorf(deref(f1.valNode), "%s: max_row_drop is a fraction between 0 and 1 (0.1 = 10%%), got %v", what, v)
			}
			s.MaxRowDrop = v
		}
	}
	f2 := take(fs, "schema_change")
	if f2 != nil {
		if v, ok := d.str(f2.valNode, what+": schema_change"); ok {
			if v != "deny" && v != "allow" {
				d.errorf(deref(f2.valNode), "%s: schema_change %q; want deny or allow", what, v)
			}
			s.SchemaChange = v
		}
	}
	if f1 == nil && f2 == nil {
		d.errorf(n, "%s: a data_quality rule needs max_row_drop or schema_change", what)
	}
	return s
}

func (d *decoder) approvalsSpec(fs []*field, n *yaml.Node, what string) Spec {
	s := &ApprovalsSpec{Min: 1, DistinctFromAuthor: true}
	if f := take(fs, "min"); f != nil {
		if v, ok := d.integer(f.valNode, what+": min"); ok {
			if v < 1 || v > 100 {
				d.errorf(deref(f.valNode), "%s: min must be between 1 and 100, got %d", what, v)
			}
			s.Min = v
		}
	}
	if f := take(fs, "roles"); f != nil {
		s.Roles = d.roleList(f.valNode, what+": roles")
	}
	if f := take(fs, "max_age"); f != nil {
		s.MaxAge, _ = d.duration(f.valNode, what+": max_age")
	}
	if f := take(fs, "distinct_from_author"); f != nil {
		s.DistinctFromAuthor, _ = d.boolean(f.valNode, what+": distinct_from_author")
	}
	return s
}

func (d *decoder) celSpec(fs []*field, n *yaml.Node, what string) Spec {
	s := &CELSpec{}
	f := d.required(fs, n, what, "expr", `expr: "metrics.p95_latency_ms <= 40.0"`)
	if f == nil {
		return s
	}
	expr, ok := d.str(f.valNode, what+": expr")
	if !ok {
		return s
	}
	s.Expr = expr
	prog, errs := d.compileCEL(expr)
	for _, e := range errs {
		en := deref(f.valNode)
		// Point into the expression when the YAML scalar is on one line.
		at := &yaml.Node{Line: en.Line, Column: en.Column}
		if e.line == 1 && !strings.Contains(expr, "\n") {
			switch en.Style {
			case 0:
				at.Column += e.column
			case yaml.SingleQuotedStyle, yaml.DoubleQuotedStyle:
				if !strings.ContainsAny(expr, `'"\`) {
					at.Column += e.column + 1
				}
			}
		}
		d.errorf(at, "%s: CEL expression %d:%d: %s", what, e.line, e.column+1, e.msg)
	}
	s.prog = prog
	return s
}

var monitorKeys = map[string][]string{
	MonitorThreshold: {"metric", "op", "value"},
	MonitorDrift:     {"metric", "max_drop", "max_drop_ratio", "higher_is_better"},
	MonitorDataDrift: {"feature", "method", "max"},
	MonitorCEL:       {"expr"},
}

func (d *decoder) monitor(n *yaml.Node, index int, p *Policy) (Monitor, bool) {
	n = deref(n)
	what := fmt.Sprintf("monitor %d", index+1)
	fs := d.mapping(n, what)
	if fs == nil {
		return Monitor{}, false
	}
	m := Monitor{Pos: Pos{n.Line, n.Column}, HigherIsBetter: true, MaxDrop: -1, MaxDropRatio: -1, SamplesMetric: "samples"}
	if f := take(fs, "id"); f == nil {
		d.errorf(n, "%s: missing id", what)
	} else if id, ok := d.name(f.valNode, what+": id", idRe(), idHint); ok {
		m.ID = id
		what = fmt.Sprintf("monitor %q", id)
	}
	if f := take(fs, "description"); f != nil {
		m.Description, _ = d.str(f.valNode, what+": description")
	}
	// The type may be left out for the original shape (metric and max_drop).
	m.Type = MonitorDrift
	if f := take(fs, "type"); f != nil {
		typ, ok := d.str(f.valNode, what+": type")
		if !ok {
			return m, false
		}
		if _, known := monitorKeys[typ]; !known {
			msg := fmt.Sprintf("%s: unknown monitor type %q; want one of %s", what, typ, strings.Join(monitorTypes, ", "))
			if s := suggest(typ, monitorTypes); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			d.errorf(deref(f.valNode), "%s", msg)
			d.unknownSkipping(fs)
			return m, false
		}
		m.Type = typ
	}
	switch m.Type {
	case MonitorThreshold:
		s := d.metricSpec(fs, n, what).(*MetricSpec)
		m.Metric, m.Op, m.Value = s.Metric, s.Op, s.Value
	case MonitorDrift:
		m.Metric = d.metricName(fs, n, what)
		f1, f2 := take(fs, "max_drop"), take(fs, "max_drop_ratio")
		if f1 == nil && f2 == nil {
			d.errorf(n, "%s: missing max_drop or max_drop_ratio (max_drop: 0.05)", what)
		}
		for _, x := range []struct {
			f   *field
			key string
			dst *float64
		}{{f1, "max_drop", &m.MaxDrop}, {f2, "max_drop_ratio", &m.MaxDropRatio}} {
			if x.f == nil {
				continue
			}
			if v, ok := d.number(x.f.valNode, what+": "+x.key); ok {
				if v < 0 {
					d.errorf(deref(x.f.valNode), "%s: %s must not be negative", what, x.key)
				}
				*x.dst = v
			}
		}
		if f := take(fs, "higher_is_better"); f != nil {
			m.HigherIsBetter, _ = d.boolean(f.valNode, what+": higher_is_better")
		}
	case MonitorDataDrift:
		if f := d.required(fs, n, what, "feature", "feature: age"); f != nil {
			m.Feature, _ = d.name(f.valNode, what+": feature", metaRe(), "use letters, digits, '_', '.', '-'")
		}
		m.Method = "psi"
		if f := take(fs, "method"); f != nil {
			if v, ok := d.str(f.valNode, what+": method"); ok {
				if v != "psi" && v != "ks" {
					d.errorf(deref(f.valNode), "%s: method %q; want psi or ks", what, v)
				}
				m.Method = v
			}
		}
		if f := d.required(fs, n, what, "max", "max: 0.2"); f != nil {
			if v, ok := d.number(f.valNode, what+": max"); ok {
				if v < 0 {
					d.errorf(deref(f.valNode), "%s: max must not be negative", what)
				}
				m.Max = v
			}
		}
	case MonitorCEL:
		if f := d.required(fs, n, what, "expr", `expr: "metrics.error_rate < 0.02"`); f != nil {
			if expr, ok := d.str(f.valNode, what+": expr"); ok {
				m.Expr = expr
				prog, errs := d.compileMonitorCEL(expr)
				for _, e := range errs {
					d.errorf(deref(f.valNode), "%s: CEL expression %d:%d: %s", what, e.line, e.column+1, e.msg)
				}
				m.prog = prog
			}
		}
	}
	if f := take(fs, "min_samples"); f != nil {
		if v, ok := d.number(f.valNode, what+": min_samples"); ok {
			if v < 0 {
				d.errorf(deref(f.valNode), "%s: min_samples must not be negative", what)
			}
			m.MinSamples = v
		}
	}
	if f := take(fs, "samples_metric"); f != nil {
		m.SamplesMetric, _ = d.name(f.valNode, what+": samples_metric", metaRe(), "use letters, digits, '_', '.', '-'")
	}
	if f := take(fs, "window"); f != nil {
		m.Window, _ = d.duration(f.valNode, what+": window")
	}
	if f := take(fs, "observations"); f != nil {
		if v, ok := d.integer(f.valNode, what+": observations"); ok {
			if v < 1 || v > MaxMonitorObservations {
				d.errorf(deref(f.valNode), "%s: observations must be between 1 and %d, got %d", what, MaxMonitorObservations, v)
			}
			m.Observations = v
		}
	}
	m.Scope = d.scope(fs, what, p)
	keys := append([]string{"id", "type", "description", "min_samples", "samples_metric", "window", "observations", "stages", "artifacts", "kinds"}, monitorKeys[m.Type]...)
	d.unknown(fs, what, keys)
	return m, m.ID != ""
}

func (d *decoder) waiver(n *yaml.Node, index int, ruleIDs map[string]Pos) (Waiver, bool) {
	n = deref(n)
	what := fmt.Sprintf("waiver %d", index+1)
	fs := d.mapping(n, what)
	if fs == nil {
		return Waiver{}, false
	}
	errsBefore := len(d.errs)
	w := Waiver{Pos: Pos{n.Line, n.Column}}
	if f := d.required(fs, n, what, "rule", "rule: fresh-data"); f != nil {
		if id, ok := d.str(f.valNode, what+": rule"); ok {
			if _, known := ruleIDs[id]; !known {
				ids := make([]string, 0, len(ruleIDs))
				for k := range ruleIDs {
					ids = append(ids, k)
				}
				slices.Sort(ids)
				msg := fmt.Sprintf("%s: no rule has id %q", what, id)
				if s := suggest(id, ids); s != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", s)
				}
				d.errorf(deref(f.valNode), "%s", msg)
			}
			w.Rule = id
		}
	}
	if f := d.required(fs, n, what, "artifact", `artifact: "blake3:<64 hex>"`); f != nil {
		if s, ok := d.str(f.valNode, what+": artifact"); ok {
			id, err := objects.ParseID(s)
			if err != nil {
				d.errorf(deref(f.valNode), "%s: artifact %q: want the artifact's digest, blake3: and 64 hex digits", what, s)
			}
			w.Artifact = id
		}
	}
	if f := d.required(fs, n, what, "reason", "reason: vendor delay"); f != nil {
		w.Reason, _ = d.str(f.valNode, what+": reason")
	}
	if f := d.required(fs, n, what, "approver", "approver: alice@example.com"); f != nil {
		w.Approver, _ = d.str(f.valNode, what+": approver")
	}
	if f := d.required(fs, n, what, "expires", "expires: 2027-01-15; waivers never last forever"); f != nil {
		en := deref(f.valNode)
		if en.Kind != yaml.ScalarNode || (en.Tag != "!!str" && en.Tag != "!!timestamp") {
			d.errorf(en, "%s: expires: want a date like 2027-01-15 or an RFC 3339 time, got %s", what, describe(en))
		} else if t, err := time.Parse("2006-01-02", en.Value); err == nil {
			w.Expires = t
		} else if t, err := time.Parse(time.RFC3339, en.Value); err == nil {
			w.Expires = t.UTC()
		} else {
			d.errorf(en, "%s: expires %q: want a date like 2027-01-15 or an RFC 3339 time", what, en.Value)
		}
	}
	d.unknown(fs, what, []string{"rule", "artifact", "reason", "approver", "expires"})
	return w, len(d.errs) == errsBefore
}
