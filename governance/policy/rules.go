package policy

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The built-in rules. Each returns pass, fail, not_applicable (with a reason) or
// error; Observed and Expected are short phrases for a table, Evidence the detail.

func num(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func short(digest string) string {
	if len(digest) > 7+12 && strings.HasPrefix(digest, "blake3:") {
		return digest[:7+12]
	}
	return digest
}

func fail(observed, expected string, evidence any) Result {
	return Result{Status: StatusFail, Observed: observed, Expected: expected, Evidence: evidence}
}

func pass(observed, expected string, evidence any) Result {
	return Result{Status: StatusPass, Observed: observed, Expected: expected, Evidence: evidence}
}

func notApplicable(reason, expected string) Result {
	return Result{Status: StatusNotApplicable, Reason: reason, Expected: expected}
}

// MissingEvidence lists what a lineage or metadata rule found wanting.
type MissingEvidence struct {
	Problems []string `json:"problems"`
}

func (ev *evaluator) inputsWithRole(role string) []InputRef {
	var out []InputRef
	for _, r := range ev.in.Subject.Lineage.Inputs {
		if r.Role == role {
			out = append(out, r)
		}
	}
	return out
}

func (ev *evaluator) lineage(s *LineageSpec) Result {
	lin := ev.in.Subject.Lineage
	var want, problems []string
	if s.Inputs {
		want = append(want, "inputs")
		if len(lin.Inputs) == 0 {
			problems = append(problems, "no inputs recorded")
		}
	}
	if s.CodeCommit {
		want = append(want, "code commit")
		if lin.Code == nil || lin.Code.Commit == "" {
			problems = append(problems, "no code commit")
		}
	}
	if s.CleanTree {
		want = append(want, "clean tree")
		switch {
		case lin.Code == nil:
			problems = append(problems, "code state unknown")
		case lin.Code.Dirty:
			problems = append(problems, "code tree was dirty")
		}
	}
	if s.ProtectedBranches {
		want = append(want, "commit on a protected branch")
		if lin.Code == nil || !lin.Code.OnProtectedBranch {
			problems = append(problems, "commit not on a protected branch")
		}
	}
	if len(s.Roles) > 0 {
		want = append(want, "input roles "+strings.Join(s.Roles, ", "))
		for _, role := range s.Roles {
			if len(ev.inputsWithRole(role)) == 0 {
				problems = append(problems, "no input with role "+role)
			}
		}
	}
	expected := strings.Join(want, "; ")
	if len(problems) > 0 {
		return fail(strings.Join(problems, "; "), expected, MissingEvidence{Problems: problems})
	}
	return pass("complete", expected, nil)
}

func (ev *evaluator) metadata(s *MetadataSpec) Result {
	meta := ev.in.Subject.Meta
	var want, problems []string
	if len(s.Require) > 0 {
		want = append(want, "keys "+strings.Join(s.Require, ", "))
		for _, k := range s.Require {
			if strings.TrimSpace(meta[k]) == "" {
				problems = append(problems, "missing "+k)
			}
		}
	}
	if len(s.AllowedLicenses) > 0 {
		want = append(want, "license one of "+strings.Join(s.AllowedLicenses, ", "))
		switch lic := meta["license"]; {
		case lic == "":
			problems = append(problems, "no license")
		case !slices.Contains(s.AllowedLicenses, lic):
			problems = append(problems, fmt.Sprintf("license %s not allowed", lic))
		}
	}
	if len(s.PIIAllowedModels) > 0 {
		want = append(want, "pii inputs only for models "+strings.Join(s.PIIAllowedModels, ", "))
		if ev.in.Subject.Kind == "model" && !matchAny(s.PIIAllowedModels, ev.in.Subject.Name) {
			for _, r := range ev.in.Subject.Lineage.Inputs {
				if strings.EqualFold(r.Meta["classification"], "pii") {
					problems = append(problems, fmt.Sprintf("trained on pii input %s but not allowed to be", r.Path))
				}
			}
		}
	}
	expected := strings.Join(want, "; ")
	if len(problems) > 0 {
		return fail(strings.Join(problems, "; "), expected, MissingEvidence{Problems: problems})
	}
	return pass("ok", expected, nil)
}

func compare(v float64, op string, w float64) bool {
	switch op {
	case ">=":
		return v >= w
	case ">":
		return v > w
	case "<=":
		return v <= w
	case "<":
		return v < w
	case "==":
		return v == w
	}
	return false
}

func (ev *evaluator) metric(s *MetricSpec) Result {
	expected := fmt.Sprintf("%s %s %s", s.Metric, s.Op, num(s.Value))
	v, ok := ev.in.Subject.Metrics[s.Metric]
	if !ok {
		return fail(s.Metric+" not recorded", expected, nil)
	}
	if compare(v, s.Op, s.Value) {
		return pass(num(v), expected, nil)
	}
	return fail(num(v), expected, nil)
}

// NoRegressionEvidence shows the comparison a no_regression rule made.
type NoRegressionEvidence struct {
	EvalDigest     string  `json:"eval_digest"`
	HigherIsBetter bool    `json:"higher_is_better"`
	Holder         float64 `json:"holder"`
	HolderVersion  string  `json:"holder_version"`
	Subject        float64 `json:"subject"`
	Threshold      float64 `json:"threshold"`
}

func (ev *evaluator) noRegression(s *NoRegressionSpec) Result {
	dir := ">="
	if !s.HigherIsBetter {
		dir = "<="
	}
	expected := fmt.Sprintf("%s %s current holder's - tolerance %s", s.Metric, dir, num(s.Tolerance))
	if !s.HigherIsBetter {
		expected = fmt.Sprintf("%s %s current holder's + tolerance %s", s.Metric, dir, num(s.Tolerance))
	}
	h := ev.in.StageHolder
	if ev.in.TargetStage == "" {
		return notApplicable("not a promotion: no target stage to compare with", expected)
	}
	if h == nil {
		return notApplicable(fmt.Sprintf("no version holds %s yet", ev.in.TargetStage), expected)
	}
	evals := ev.inputsWithRole("eval")
	switch {
	case len(evals) == 0:
		return notApplicable("the subject has no input with role eval", expected)
	case len(evals) > 1:
		return notApplicable(fmt.Sprintf("the subject has %d inputs with role eval; comparison needs exactly one", len(evals)), expected)
	case h.EvalDigest == "":
		return notApplicable(fmt.Sprintf("the %s holder %s records no eval data", ev.in.TargetStage, h.Version), expected)
	case h.EvalDigest != evals[0].Digest:
		return notApplicable(fmt.Sprintf("evaluated on different data: subject eval %s, %s holder %s eval %s",
			short(evals[0].Digest), ev.in.TargetStage, h.Version, short(h.EvalDigest)), expected)
	}
	hv, ok := h.Metrics[s.Metric]
	if !ok {
		return notApplicable(fmt.Sprintf("the %s holder %s has no %s metric", ev.in.TargetStage, h.Version, s.Metric), expected)
	}
	v, ok := ev.in.Subject.Metrics[s.Metric]
	if !ok {
		return fail(s.Metric+" not recorded", expected, nil)
	}
	threshold := hv - s.Tolerance
	good := v >= threshold
	if !s.HigherIsBetter {
		threshold = hv + s.Tolerance
		good = v <= threshold
	}
	expected = fmt.Sprintf("%s %s %s (%s holder %s: %s, tolerance %s)", s.Metric, dir, num(threshold),
		ev.in.TargetStage, h.Version, num(hv), num(s.Tolerance))
	evidence := NoRegressionEvidence{EvalDigest: h.EvalDigest, Holder: hv, HolderVersion: h.Version,
		Subject: v, Threshold: threshold, HigherIsBetter: s.HigherIsBetter}
	if good {
		return pass(num(v), expected, evidence)
	}
	return fail(num(v), expected, evidence)
}

// AgeEvidence is one input's age as a freshness rule saw it.
type AgeEvidence struct {
	AddedAt time.Time `json:"added_at,omitzero"`
	Age     string    `json:"age"`
	Digest  string    `json:"digest"`
	Fresh   bool      `json:"fresh"`
	Path    string    `json:"path"`
}

func (ev *evaluator) freshness(s *FreshnessSpec) Result {
	expected := fmt.Sprintf("%s inputs added within %s", s.Role, formatDuration(s.MaxAge))
	inputs := ev.inputsWithRole(s.Role)
	if len(inputs) == 0 {
		return notApplicable("no input with role "+s.Role, expected)
	}
	var stale []string
	evidence := make([]AgeEvidence, 0, len(inputs))
	oldest := time.Duration(-1)
	for _, r := range inputs {
		e := AgeEvidence{AddedAt: r.AddedAt, Digest: r.Digest, Path: r.Path}
		if r.AddedAt.IsZero() {
			e.Age = "unknown"
			stale = append(stale, r.Path+" has no added_at")
		} else {
			age := max(ev.in.Now.Sub(r.AddedAt), 0) // a clock ahead of ours: fresh
			e.Age = formatAge(age)
			e.Fresh = age <= s.MaxAge
			if !e.Fresh {
				stale = append(stale, fmt.Sprintf("%s added %s ago", r.Path, formatAge(age)))
			}
			oldest = max(oldest, age)
		}
		evidence = append(evidence, e)
	}
	if len(stale) > 0 {
		return fail(strings.Join(stale, "; "), expected, evidence)
	}
	return pass("oldest added "+formatAge(oldest)+" ago", expected, evidence)
}

// DataQualityEvidence shows the profile comparison of a data_quality rule.
type DataQualityEvidence struct {
	Added      []string `json:"added,omitempty"`
	Changed    []string `json:"changed,omitempty"`
	HolderRows int64    `json:"holder_rows"`
	Removed    []string `json:"removed,omitempty"`
	RowDrop    float64  `json:"row_drop"`
	Rows       int64    `json:"rows"`
}

func (ev *evaluator) dataQuality(s *DataQualitySpec) Result {
	var want []string
	if s.MaxRowDrop >= 0 {
		want = append(want, fmt.Sprintf("rows drop at most %s%%", num(s.MaxRowDrop*100)))
	}
	if s.SchemaChange == "deny" {
		want = append(want, "schema unchanged")
	}
	expected := fmt.Sprintf("%s data vs the stage holder's: %s", s.Role, strings.Join(want, "; "))
	mine := ev.inputsWithRole(s.Role)
	h := ev.in.StageHolder
	switch {
	case ev.in.TargetStage == "":
		return notApplicable("not a promotion: no stage holder to compare with", expected)
	case h == nil:
		return notApplicable(fmt.Sprintf("no version holds %s yet", ev.in.TargetStage), expected)
	case len(mine) != 1:
		return notApplicable(fmt.Sprintf("the subject has %d inputs with role %s; comparison needs exactly one", len(mine), s.Role), expected)
	case mine[0].Profile == nil:
		return notApplicable(fmt.Sprintf("the subject's %s input %s has no profile", s.Role, mine[0].Path), expected)
	}
	var theirs []InputRef
	for _, r := range h.Inputs {
		if r.Role == s.Role {
			theirs = append(theirs, r)
		}
	}
	if len(theirs) != 1 || theirs[0].Profile == nil {
		return notApplicable(fmt.Sprintf("the %s holder %s has no single profiled %s input", ev.in.TargetStage, h.Version, s.Role), expected)
	}
	a, b := theirs[0].Profile, mine[0].Profile
	e := DataQualityEvidence{HolderRows: a.Rows, Rows: b.Rows}
	if a.Rows > 0 {
		e.RowDrop = float64(a.Rows-b.Rows) / float64(a.Rows)
	}
	oldCols := map[string]string{}
	for _, c := range a.Columns {
		oldCols[c.Name] = c.Type
	}
	newCols := map[string]string{}
	for _, c := range b.Columns {
		newCols[c.Name] = c.Type
		if t, ok := oldCols[c.Name]; !ok {
			e.Added = append(e.Added, c.Name)
		} else if t != c.Type {
			e.Changed = append(e.Changed, fmt.Sprintf("%s %s->%s", c.Name, t, c.Type))
		}
	}
	for _, c := range a.Columns {
		if _, ok := newCols[c.Name]; !ok {
			e.Removed = append(e.Removed, c.Name)
		}
	}
	reordered := len(e.Added) == 0 && len(e.Removed) == 0 && len(e.Changed) == 0 &&
		!slices.EqualFunc(a.Columns, b.Columns, func(x, y Column) bool { return x.Name == y.Name })
	var problems []string
	pct := num(math.Abs(math.Round(e.RowDrop*10000) / 100))
	observed := fmt.Sprintf("%d rows vs %d (down %s%%)", b.Rows, a.Rows, pct)
	if e.RowDrop < 0 {
		observed = fmt.Sprintf("%d rows vs %d (up %s%%)", b.Rows, a.Rows, pct)
	}
	if s.MaxRowDrop >= 0 && e.RowDrop > s.MaxRowDrop {
		problems = append(problems, observed)
	}
	if s.SchemaChange == "deny" {
		var ch []string
		if len(e.Added) > 0 {
			ch = append(ch, "added "+strings.Join(e.Added, ", "))
		}
		if len(e.Removed) > 0 {
			ch = append(ch, "removed "+strings.Join(e.Removed, ", "))
		}
		if len(e.Changed) > 0 {
			ch = append(ch, "changed "+strings.Join(e.Changed, ", "))
		}
		if reordered {
			ch = append(ch, "columns reordered")
		}
		if len(ch) > 0 {
			problems = append(problems, "schema "+strings.Join(ch, "; "))
		}
	}
	if len(problems) > 0 {
		return fail(strings.Join(problems, "; "), expected, e)
	}
	return pass(observed, expected, e)
}

// ApprovalEvidence says whether each approval counted, and why not.
type ApprovalEvidence struct {
	At      time.Time `json:"at"`
	Counted bool      `json:"counted"`
	Reason  string    `json:"reason,omitempty"`
	Signer  string    `json:"signer"`
}

func (ev *evaluator) approvals(s *ApprovalsSpec) Result {
	var want []string
	want = append(want, fmt.Sprintf("%d approval(s)", s.Min))
	if len(s.Roles) > 0 {
		want = append(want, "by "+strings.Join(s.Roles, " or "))
	}
	if s.MaxAge > 0 {
		want = append(want, "within "+formatDuration(s.MaxAge))
	}
	if s.DistinctFromAuthor {
		want = append(want, "not by the author")
	}
	expected := strings.Join(want, ", ")
	in := ev.in
	if in.TargetStage == "" {
		return notApplicable("not a promotion: approvals are for a target stage", expected)
	}
	signers := map[string]bool{}
	evidence := make([]ApprovalEvidence, 0, len(in.Approvals))
	for _, a := range in.Approvals {
		why := ""
		switch {
		case !a.ValidSignature:
			why = "signature not valid"
		case a.Digest != in.Subject.Digest:
			why = "approves another artifact " + short(a.Digest)
		case a.Stage != in.TargetStage:
			why = "approves stage " + a.Stage
		case a.PolicyDigest != in.PolicyDigest:
			why = "made under another policy " + short(a.PolicyDigest)
		case a.At.After(in.Now):
			why = "dated after the evaluation time"
		case s.MaxAge > 0 && in.Now.Sub(a.At) > s.MaxAge:
			why = fmt.Sprintf("older than %s (%s)", formatDuration(s.MaxAge), formatAge(in.Now.Sub(a.At)))
		case len(s.Roles) > 0 && !slices.ContainsFunc(a.Roles, func(r string) bool { return slices.Contains(s.Roles, r) }):
			why = "signer holds none of the roles " + strings.Join(s.Roles, ", ")
		case s.DistinctFromAuthor && isAuthor(a.Signer, in.Author):
			why = "signer is the author"
		case signers[a.Signer]:
			why = "same signer counted once"
		}
		if why == "" {
			signers[a.Signer] = true
		}
		evidence = append(evidence, ApprovalEvidence{At: a.At, Counted: why == "", Reason: why, Signer: a.Signer})
	}
	names := make([]string, 0, len(signers))
	for n := range signers {
		names = append(names, n)
	}
	slices.Sort(names)
	observed := fmt.Sprintf("%d valid", len(names))
	if len(names) > 0 {
		observed += " (" + strings.Join(names, ", ") + ")"
	}
	if ignored := len(in.Approvals) - len(names); ignored > 0 {
		observed += fmt.Sprintf(", %d not counted", ignored)
	}
	if len(names) >= s.Min {
		return pass(observed, expected, evidence)
	}
	return fail(observed, expected, evidence)
}

// isAuthor reports whether signer is the author, who may be written as a principal
// ("ada@example.com") or as git writes people ("Ada Lovelace <ada@example.com>").
// An unnamed signer counts as the author: it cannot be shown to be someone else.
func isAuthor(signer, author string) bool {
	if signer == "" {
		return true
	}
	if strings.EqualFold(signer, author) {
		return true
	}
	if i, j := strings.LastIndexByte(author, '<'), strings.LastIndexByte(author, '>'); i >= 0 && j > i {
		return strings.EqualFold(signer, strings.TrimSpace(author[i+1:j]))
	}
	return false
}

func (ev *evaluator) remotePresent() Result {
	const expected = "all blobs on the remote"
	switch p := ev.in.RemotePresent; {
	case p == nil:
		return Result{Status: StatusError, Expected: expected, Observed: "unknown",
			Reason: "input.remote_present is null: presence on the remote was not checked"}
	case *p:
		return pass("present", expected, nil)
	default:
		return fail("missing blobs", expected, nil)
	}
}

func (ev *evaluator) stageOrder() Result {
	stages := ev.policy.Stages
	in := ev.in
	if in.TargetStage == "" {
		return notApplicable("not a promotion", "stages in order "+strings.Join(stages, " -> "))
	}
	target := slices.Index(stages, in.TargetStage)
	if target < 0 {
		return fail("stage "+in.TargetStage, "one of the stages "+strings.Join(stages, ", "), nil)
	}
	cur := -1
	from := "no stage"
	if in.CurrentStage != "" {
		cur = slices.Index(stages, in.CurrentStage)
		if cur < 0 {
			return fail("current stage "+in.CurrentStage, "one of the stages "+strings.Join(stages, ", "), nil)
		}
		from = in.CurrentStage
	}
	next := "no later stage"
	if cur+1 < len(stages) {
		next = stages[cur+1]
	}
	expected := fmt.Sprintf("from %s: %s or an earlier stage", from, next)
	observed := fmt.Sprintf("%s -> %s", from, in.TargetStage)
	if target <= cur+1 {
		return pass(observed, expected, nil)
	}
	return fail(observed+fmt.Sprintf(" skips %s", strings.Join(stages[cur+1:target], ", ")), expected, nil)
}
