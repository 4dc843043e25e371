package report

// The governance records: policy, metrics against it, approvals, decisions,
// the stage history, and who and when the history names.

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/trove-dev/trove/governance"
	"github.com/trove-dev/trove/governance/policy"
	tsign "github.com/trove-dev/trove/governance/sign"
	"github.com/trove-dev/trove/manifest"
	"github.com/trove-dev/trove/objects"
)

// policy reads .trove/policy.yaml, if there is one.
func (b *builder) policy() {
	pi := &b.rep.Policy
	pi.Path = PolicyFile
	data, err := os.ReadFile(filepath.Join(b.r.Root, filepath.FromSlash(PolicyFile)))
	if errors.Is(err, fs.ErrNotExist) {
		b.check("policy.file", PolicyFile+" parses", CheckSkip, "there is no policy file")
		return
	}
	pi.Present = true
	if err != nil {
		pi.Error = err.Error()
		b.check("policy.file", PolicyFile+" parses", CheckFail, err.Error())
		return
	}
	pi.Digest = objects.Hash(data).String()
	p, err := policy.Parse(PolicyFile, data)
	if err != nil {
		pi.Error = err.Error()
		b.check("policy.file", PolicyFile+" parses", CheckFail, err.Error())
		return
	}
	b.pol = p
	b.check("policy.file", PolicyFile+" parses", CheckPass, fmt.Sprintf("%s, digest %s", plural(int64(len(p.Rules)), "rule"), pi.Digest))
	for _, w := range p.Waivers {
		if w.Artifact != b.m.Digest {
			continue
		}
		b.rep.Waivers = append(b.rep.Waivers, Waiver{
			Rule: w.Rule, Artifact: w.Artifact.String(), Reason: w.Reason, Approver: w.Approver,
			Expires: stamp(w.Expires), Source: "policy", Active: b.opt.Now.Before(w.Expires),
		})
	}
}

// comparison finds the version the metrics are compared with: the one the
// subject replaced in a stage (the highest such stage), else the current
// holder of the highest stage that another version holds.
func (b *builder) comparison() {
	rank := func(stage string) int { return slices.Index(b.opt.Stages, stage) }
	var best *governance.StageSpan
	var bestBasis string
	for _, sp := range b.model.History {
		if sp.Version != b.v.Version {
			continue
		}
		for i := range b.model.History {
			prev := &b.model.History[i]
			if prev.Stage == sp.Stage && prev.EndedBy == sp.Tag && prev.Version != b.v.Version {
				if best == nil || rank(prev.Stage) > rank(best.Stage) {
					best, bestBasis = prev, fmt.Sprintf("held %s until this version replaced it (%s)", prev.Stage, sp.Tag)
				}
			}
		}
	}
	version, stage := "", ""
	if best != nil {
		version, stage = best.Version, best.Stage
	} else {
		for i := len(b.model.Stages) - 1; i >= 0; i-- {
			h := b.model.Stages[i]
			if h.Version != "" && h.Version != b.v.Version {
				version, stage, bestBasis = h.Version, h.Stage, "holds "+h.Stage+" now"
				break
			}
		}
	}
	if version == "" {
		return
	}
	var vi *governance.VersionInfo
	for i := range b.model.Versions {
		if b.model.Versions[i].Version == version {
			vi = &b.model.Versions[i]
		}
	}
	if vi == nil || vi.Artifact == "" {
		return
	}
	ts, err := b.r.ManifestsAt(b.ctx, vi.Commit, []string{vi.Artifact})
	if err != nil {
		b.warn("the manifest of %s@%s cannot be read: %v", b.model.Name, version, err)
		return
	}
	for _, t := range ts {
		if t.Path == vi.Artifact && t.Err == nil {
			b.prev = t.Manifest
		}
	}
	if b.prev == nil {
		return
	}
	c := &Comparison{Version: version, Stage: stage, Basis: bestBasis, Digest: b.prev.Digest.String(), Metrics: mapOrEmpty(b.prev.Metrics)}
	se, pe := evalDigest(b.m), evalDigest(b.prev)
	c.SameEvalData = se != "" && se == pe
	b.rep.Comparison = c
}

func evalDigest(m *manifest.Manifest) string {
	if m == nil || m.Lineage == nil {
		return ""
	}
	found := ""
	for _, in := range m.Lineage.Inputs {
		if in.Role == "eval" {
			if found != "" {
				return "" // several: ambiguous, as the no_regression rule has it
			}
			found = in.Digest.String()
		}
	}
	return found
}

// metrics lists the subject's metrics with thresholds and the comparison.
func (b *builder) metrics() {
	names := slices.Sorted(maps.Keys(b.m.Metrics))
	covered := map[string]bool{}
	for _, name := range names {
		val := b.m.Metrics[name]
		mt := Metric{Name: name, Value: val, Thresholds: []Threshold{}}
		if c := b.rep.Comparison; c != nil {
			if pv, ok := c.Metrics[name]; ok {
				// Rounded to 12 significant digits: 0.95-0.93 is 0.02, not 0.0199999...
				d, _ := strconv.ParseFloat(strconv.FormatFloat(val-pv, 'g', 12, 64), 64)
				mt.Previous, mt.Delta = &pv, &d
			}
		}
		if b.pol != nil {
			for _, r := range b.pol.Rules {
				switch spec := r.Spec.(type) {
				case *policy.MetricSpec:
					if spec.Metric != name {
						continue
					}
					covered[r.ID] = true
					pass := compare(val, spec.Op, spec.Value)
					mt.Thresholds = append(mt.Thresholds, Threshold{Rule: r.ID, Type: r.Type, Op: spec.Op, Value: ptr(spec.Value), Stages: r.Scope.Stages, Pass: &pass})
				case *policy.NoRegressionSpec:
					if spec.Metric != name {
						continue
					}
					covered[r.ID] = true
					th := Threshold{Rule: r.ID, Type: r.Type, Stages: r.Scope.Stages, Tolerance: ptr(spec.Tolerance)}
					if spec.HigherIsBetter {
						th.Op = ">="
					} else {
						th.Op = "<="
					}
					if c := b.rep.Comparison; c != nil && mt.Previous != nil && c.SameEvalData {
						var pass bool
						if spec.HigherIsBetter {
							pass = val >= *mt.Previous-spec.Tolerance
						} else {
							pass = val <= *mt.Previous+spec.Tolerance
						}
						th.Pass = &pass
					}
					mt.Thresholds = append(mt.Thresholds, th)
				}
			}
		}
		b.rep.Metrics = append(b.rep.Metrics, mt)
	}
	if b.pol != nil {
		for _, r := range b.pol.Rules {
			var metric string
			switch spec := r.Spec.(type) {
			case *policy.MetricSpec:
				metric = spec.Metric
			case *policy.NoRegressionSpec:
				metric = spec.Metric
			default:
				continue
			}
			if !covered[r.ID] {
				b.warn("policy rule %s is about the metric %q, which %s@%s does not record", r.ID, metric, b.model.Name, b.v.Version)
			}
		}
	}
}

func compare(v float64, op string, want float64) bool {
	switch op {
	case ">=":
		return v >= want
	case ">":
		return v > want
	case "<=":
		return v <= want
	case "<":
		return v < want
	case "==":
		return v == want
	}
	return false
}

func ptr[T any](v T) *T { return &v }

// approvals loads the approvals recorded for the subject version.
func (b *builder) approvals() {
	a := &b.rep.Approvals
	allowed, err := governance.ReadAllowedSigners(b.r)
	if errors.Is(err, governance.ErrNoAllowedSigners) {
		// No one may sign: every approval is reported as not counting, with
		// the reason.
		allowed, err = &tsign.AllowedSigners{}, nil
	}
	if err != nil {
		a.Status, a.Note = "error", err.Error()
		b.check("approvals.load", "approvals load and their signatures are checked against "+AllowedSignersFile, CheckFail, err.Error())
		return
	}
	roles, err := governance.ReadRoles(b.r)
	if err != nil {
		a.Status, a.Note = "error", err.Error()
		b.check("approvals.load", "approvals load and their roles are read from "+RolesFile, CheckFail, err.Error())
		return
	}
	allowed.Roles = roles
	got, err := governance.LoadApprovalsDetailed(b.ctx, b.r, allowed, roles, b.model.Name, b.v.Version, b.opt.Now)
	if err != nil {
		a.Status, a.Note = "error", err.Error()
		b.check("approvals.load", "approvals of "+b.model.Name+"@"+b.v.Version+" load", CheckFail, err.Error())
		return
	}
	if len(got) == 0 {
		a.Status, a.Note = "none", fmt.Sprintf("no approval is recorded under %s/%s/%s", governance.ApprovalsDir, b.model.Name, b.v.Version)
		b.check("approvals.load", "approvals of "+b.model.Name+"@"+b.v.Version+" load", CheckSkip, a.Note)
		return
	}
	a.Status = "loaded"
	valid := 0
	for _, st := range got {
		ap := st.Approval
		item := Approval{
			Signer: ap.Signer, Roles: append([]string{}, ap.Roles...), RolesNotGranted: st.RolesNotGranted, Stage: ap.Stage,
			At: stamp(ap.At), Digest: ap.Digest, PolicyDigest: ap.PolicyDigest, ValidSignature: ap.ValidSignature,
			Problem: st.Problem, Expired: st.Expired, Key: st.Fingerprint, File: st.File,
		}
		if st.Record != nil {
			item.Comment = st.Record.Comment
		}
		a.Items = append(a.Items, item)
		if ap.ValidSignature {
			valid++
		}
		if ap.Digest != "" && ap.Digest != b.m.Digest.String() {
			b.check("approvals.digest:"+st.File, "the approval "+st.File+" names the subject's digest", CheckFail, "it names "+ap.Digest)
		}
	}
	status, detail := CheckPass, fmt.Sprintf("%s, %d with a valid signature", plural(int64(len(got)), "approval"), valid)
	if valid < len(got) {
		status = CheckWarn
		for _, st := range got {
			if st.Problem != "" {
				detail += "; " + st.File + ": " + st.Problem
			}
		}
	}
	b.check("approvals.load", fmt.Sprintf("approvals of %s@%s load and their signatures verify against %s", b.model.Name, b.v.Version, AllowedSignersFile), status, detail)
}

// decisions reads the policy decision each promotion of the subject recorded.
func (b *builder) decisions() {
	for _, e := range b.events() {
		if e.Action != governance.ActionAssign {
			continue
		}
		d := Decision{Tag: e.Tag, Stage: e.Stage, At: stamp(e.At), By: e.By, Results: []Result{}}
		rec := e.Record
		switch {
		case rec == nil:
			d.Note = "The tag has no trove record (GTO wrote it): no decision."
		case len(rec.Decision) == 0:
			d.Note = "Promoted without a policy gate: the record carries no decision."
		default:
			d.Recorded = true
			b.decode(&d, rec.Decision)
		}
		if rec != nil {
			// The promotion's record must name what was registered.
			what := fmt.Sprintf("the record of %s names the registered version (digest and manifest commit)", e.Tag)
			switch {
			case rec.Digest != "" && rec.Digest != b.v.Digest:
				b.check("registry.promotion:"+e.Tag, what, CheckFail, fmt.Sprintf("it names %s, the registration %s", rec.Digest, b.v.Digest))
			case rec.ManifestCommit != "" && rec.ManifestCommit != b.v.Commit:
				b.check("registry.promotion:"+e.Tag, what, CheckFail, fmt.Sprintf("it names commit %s, the registration %s", short(rec.ManifestCommit), short(b.v.Commit)))
			case e.Commit != b.v.Commit:
				b.check("registry.promotion:"+e.Tag, what, CheckFail, fmt.Sprintf("the tag points to %s, the registration to %s", short(e.Commit), short(b.v.Commit)))
			default:
				b.check("registry.promotion:"+e.Tag, what, CheckPass, "")
			}
		}
		b.rep.Decisions = append(b.rep.Decisions, d)
	}
}

func (b *builder) decode(d *Decision, raw json.RawMessage) {
	var keys map[string]json.RawMessage
	var pd policy.Decision
	if json.Unmarshal(raw, &keys) != nil || keys["results"] == nil || json.Unmarshal(raw, &pd) != nil {
		d.Raw = raw
		d.Note = "The decision is not in a format this trove reads; it is shown as recorded."
		b.check("decision:"+d.Tag, "the decision recorded in "+d.Tag+" can be read", CheckWarn, d.Note)
		return
	}
	allowed := pd.Allowed
	d.Allowed = &allowed
	if !pd.EvaluatedAt.IsZero() {
		d.EvaluatedAt = stamp(pd.EvaluatedAt)
	}
	d.PolicyDigest, d.InputDigest = pd.PolicyDigest, pd.InputDigest
	for _, r := range pd.Results {
		res := Result{Rule: r.Rule, Type: r.Type, Status: string(r.Status), Observed: r.Observed, Expected: r.Expected, Reason: r.Reason}
		if w := r.Waiver; w != nil {
			res.Waiver = &AppliedWaiver{Approver: w.Approver, Expires: stamp(w.Expires), Reason: w.Reason}
			b.rep.Waivers = append(b.rep.Waivers, Waiver{Rule: r.Rule, Reason: w.Reason, Approver: w.Approver, Expires: stamp(w.Expires), Source: d.Tag, Active: true})
		}
		d.Results = append(d.Results, res)
	}
	what := "the decision recorded in " + d.Tag + " allowed the promotion"
	switch {
	case !allowed:
		b.check("decision:"+d.Tag, what, CheckFail, "the recorded decision denies it, yet the tag exists")
	case d.PolicyDigest != "" && b.rep.Policy.Digest != "" && d.PolicyDigest != b.rep.Policy.Digest:
		b.check("decision:"+d.Tag, what, CheckWarn, fmt.Sprintf("allowed under policy %s; %s has changed since (now %s)", shortDigest(d.PolicyDigest), PolicyFile, shortDigest(b.rep.Policy.Digest)))
	default:
		b.check("decision:"+d.Tag, what, CheckPass, fmt.Sprintf("%s, policy %s", plural(int64(len(d.Results)), "rule"), shortDigest(d.PolicyDigest)))
	}
}

// history lists every holding of every stage by any version of the model.
func (b *builder) history() {
	for _, sp := range b.model.History {
		b.rep.StageHistory = append(b.rep.StageHistory, StageSpan{
			Stage: sp.Stage, Version: sp.Version, From: sp.From, Until: sp.Until, Tag: sp.Tag, By: sp.By,
			Message: sp.Message, EndedBy: sp.EndedBy, Subject: sp.Version == b.v.Version,
		})
	}
	status := CheckPass
	detail := fmt.Sprintf("%d tags of %s, %d stage holdings", len(b.model.Events), b.model.Name, len(b.model.History))
	if len(b.model.Warnings) > 0 {
		status, detail = CheckWarn, detail+"; ignored: "+strings.Join(b.model.Warnings, "; ")
	}
	b.check("registry.replay", "the stage history replays from the registry tags alone", status, detail)
}

// people lists who the history names, with whether their objects are signed.
func (b *builder) people() {
	add := func(p Person) { b.rep.Authors = append(b.rep.Authors, p) }
	withSig := func(p Person, si sigInfo) Person {
		p.Signature, p.SignatureType, p.SignatureKey = si.Status, si.Type, si.Key
		return p
	}
	if c := b.rep.Subject.RecordedIn; c != "" {
		ci := b.gi.commit(c)
		if ci.Found {
			add(withSig(Person{Role: "recorded the model's manifest", Identity: ci.Author, Source: "author of commit " + short(c), At: ci.AuthorAt}, ci.Sig))
			if ci.Committer != ci.Author {
				add(withSig(Person{Role: "committed the model's manifest", Identity: ci.Committer, Source: "committer of commit " + short(c), At: ci.CommitAt}, ci.Sig))
			}
		}
	}
	if code := b.rep.Code; code != nil && code.InRepository {
		ci := b.gi.commit(code.Commit)
		add(withSig(Person{Role: "wrote the code the step ran", Identity: ci.Author, Source: "author of code commit " + short(code.Commit), At: ci.AuthorAt}, ci.Sig))
	}
	var tags []string
	signed := 0
	for _, e := range b.events() {
		role := ""
		switch e.Action {
		case governance.ActionRegister:
			role = "registered " + b.v.Version
		case governance.ActionAssign:
			role = "promoted to " + e.Stage
		case governance.ActionUnassign:
			role = "removed from " + e.Stage
		case governance.ActionDeregister:
			role = "deprecated " + b.v.Version
		default:
			continue
		}
		src := "tagger of " + e.Tag
		if e.Record != nil {
			src = `"by" in the record of ` + e.Tag
		}
		si := b.gi.tagSignature(e.Tag)
		tags = append(tags, e.Tag)
		if si.Status == SignedNotVerified {
			signed++
		}
		add(withSig(Person{Role: role, Identity: e.By, Source: src, At: stamp(e.At)}, si))
	}
	for _, ap := range b.rep.Approvals.Items {
		sig := "valid (verified against " + AllowedSignersFile + ")"
		if !ap.ValidSignature {
			sig = "does not count: " + ap.Problem
		}
		add(Person{Role: "approved for " + ap.Stage, Identity: ap.Signer, Source: "signed approval record " + ap.File, At: ap.At, Signature: sig, SignatureType: "ssh", SignatureKey: ap.Key})
	}
	b.check("git.signatures", "which registry tags carry a signature", CheckSkip,
		fmt.Sprintf("%d of %d tags (%s) carry a signature; the audit checks below verify the signatures of their records", signed, len(tags), strings.Join(tags, ", ")))
}

// times lists the moments the history asserts, and by whose clock.
func (b *builder) times() {
	add := func(what, at, source string) {
		if at != "" {
			b.rep.Times = append(b.rep.Times, Time{What: what, At: at, Source: source, SelfAsserted: true})
		}
	}
	if lin := b.m.Lineage; lin != nil {
		add("the step started", lin.Started, "lineage.started in the manifest: the clock of the machine that ran the step")
		add("the step ended", lin.Ended, "lineage.ended in the manifest: the clock of the machine that ran the step")
	}
	if c := b.rep.Subject.RecordedIn; c != "" {
		if ci := b.gi.commit(c); ci.Found {
			add("the manifest was committed", ci.CommitAt, "committer date of commit "+short(c)+": the committer's clock")
		}
	}
	for _, e := range b.events() {
		src := `"at" in the record of ` + e.Tag + ": the tagger's clock"
		if e.Record == nil {
			src = "tagger date of " + e.Tag + ": the tagger's clock"
		}
		switch e.Action {
		case governance.ActionRegister:
			add("registered", stamp(e.At), src)
		case governance.ActionAssign:
			add("promoted to "+e.Stage, stamp(e.At), src)
		case governance.ActionUnassign:
			add("removed from "+e.Stage, stamp(e.At), src)
		case governance.ActionDeregister:
			add("deprecated", stamp(e.At), src)
		}
	}
	for _, d := range b.rep.Decisions {
		add("policy decision for "+d.Stage+" evaluated", d.EvaluatedAt, "evaluated_at in the decision of "+d.Tag+": the promoting machine's clock")
	}
	for _, a := range b.rep.Approvals.Items {
		add("approved for "+a.Stage+" by "+a.Signer, a.At, "at in the signed approval record: the approver's clock")
	}
	add("this report was generated", b.rep.GeneratedAt, "the clock of the machine that generated the report")
	sort.SliceStable(b.rep.Times, func(i, j int) bool { return cmp.Less(b.rep.Times[i].At, b.rep.Times[j].At) })
}
