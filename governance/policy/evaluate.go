package policy

import (
	"cmp"
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/trove-dev/trove/objects"
)

// Status is the outcome of one rule.
type Status string

// Statuses. A decision is denied when any result is fail or error: a rule that could
// not be evaluated does not let an artifact through.
const (
	StatusPass          Status = "pass"
	StatusFail          Status = "fail"
	StatusNotApplicable Status = "not_applicable"
	StatusWaived        Status = "waived"
	StatusError         Status = "error"
)

// Result is the outcome of one rule, with what was observed and expected, in words
// for people and in Evidence for tools.
type Result struct {
	Evidence any    `json:"evidence,omitempty"`
	Expected string `json:"expected"`
	Observed string `json:"observed"`
	Reason   string `json:"reason,omitempty"`
	Rule     string `json:"rule"`
	Status   Status `json:"status"`
	Type     string `json:"type"`
	// Waiver is the waiver that turned a failure into StatusWaived.
	Waiver *AppliedWaiver `json:"waiver,omitempty"`
}

// AppliedWaiver records the waiver a result was waived by.
type AppliedWaiver struct {
	Approver string    `json:"approver"`
	Expires  time.Time `json:"expires"`
	Reason   string    `json:"reason"`
}

// Decision is the outcome of evaluating a policy against an input document.
type Decision struct {
	Allowed     bool      `json:"allowed"`
	EvaluatedAt time.Time `json:"evaluated_at"`
	// InputDigest is the BLAKE3 of the input's canonical JSON (CanonicalJSON):
	// with the policy, it is enough to replay the decision.
	InputDigest  string   `json:"input_digest"`
	PolicyDigest string   `json:"policy_digest"`
	Results      []Result `json:"results"`
}

// JSON returns the decision's canonical encoding. Evaluating the same policy on the
// same input always gives the same bytes.
func (d Decision) JSON() ([]byte, error) { return canonical(d) }

// Evaluate applies p to in. It is pure and deterministic: no clock (in.Now is the
// time), no I/O, and results sorted by rule id. Each rule is not_applicable when
// out of scope (stage, kind, artifact glob), otherwise pass, fail or error; a
// failure becomes waived when an unexpired waiver names the rule and the subject's
// digest. The decision is allowed when no result is fail or error.
//
// If in.PolicyDigest is empty it is taken to be p's digest; if it names another
// policy, every rule is an error.
func Evaluate(p *Policy, in Input) Decision {
	in = Normalize(in)
	pd := ""
	if !p.Digest.IsZero() {
		pd = p.Digest.String()
	}
	var inputErr string
	if in.PolicyDigest == "" {
		in.PolicyDigest = pd
	} else if pd != "" && in.PolicyDigest != pd {
		inputErr = fmt.Sprintf("input.policy_digest %s is not the digest of the policy evaluated (%s)", in.PolicyDigest, pd)
	}
	if in.Now.IsZero() {
		inputErr = "input.now is not set: the evaluation time must be given"
	}
	doc, err := canonical(in)
	dec := Decision{EvaluatedAt: in.Now, PolicyDigest: pd, Results: []Result{}}
	if err != nil {
		inputErr = fmt.Sprintf("input cannot be encoded: %v", err)
	} else {
		dec.InputDigest = objects.Hash(doc).String()
	}
	ev := &evaluator{in: &in, doc: doc, policy: p}
	for i := range p.Rules {
		r := &p.Rules[i]
		var res Result
		if inputErr != "" {
			res = Result{Status: StatusError, Reason: inputErr}
		} else if why := outOfScope(r.Scope, &in); why != "" {
			res = Result{Status: StatusNotApplicable, Reason: why}
		} else {
			res = ev.rule(r)
		}
		res.Rule, res.Type = r.ID, r.Type
		if res.Status == StatusFail {
			ev.waive(r, &res)
		}
		dec.Results = append(dec.Results, res)
	}
	slices.SortFunc(dec.Results, func(a, b Result) int { return cmp.Compare(a.Rule, b.Rule) })
	dec.Allowed = true
	for _, r := range dec.Results {
		if r.Status == StatusFail || r.Status == StatusError {
			dec.Allowed = false
		}
	}
	return dec
}

// outOfScope says why a rule's scope excludes the input, or "".
func outOfScope(s Scope, in *Input) string {
	if len(s.Stages) > 0 && !slices.Contains(s.Stages, in.TargetStage) {
		if in.TargetStage == "" {
			return fmt.Sprintf("applies when promoting to %s; this is not a promotion", strings.Join(s.Stages, ", "))
		}
		return fmt.Sprintf("applies when promoting to %s, not %s", strings.Join(s.Stages, ", "), in.TargetStage)
	}
	if len(s.Kinds) > 0 && !slices.Contains(s.Kinds, in.Subject.Kind) {
		return fmt.Sprintf("applies to kind %s, not %s", strings.Join(s.Kinds, ", "), in.Subject.Kind)
	}
	if len(s.Artifacts) > 0 && !matchAny(s.Artifacts, in.Subject.Name, in.Subject.Path) {
		return fmt.Sprintf("applies to artifacts %s; neither name %s nor path %s matches", strings.Join(s.Artifacts, ", "), in.Subject.Name, in.Subject.Path)
	}
	return ""
}

func matchAny(globs []string, names ...string) bool {
	for _, g := range globs {
		for _, n := range names {
			if ok, _ := path.Match(g, n); ok && n != "" {
				return true
			}
		}
	}
	return false
}

// waive turns res into waived if an unexpired waiver covers the rule and subject, or
// notes the expired one.
func (ev *evaluator) waive(r *Rule, res *Result) {
	var best, expired *Waiver
	for i := range ev.policy.Waivers {
		w := &ev.policy.Waivers[i]
		if w.Rule != r.ID || w.Artifact.String() != ev.in.Subject.Digest {
			continue
		}
		if ev.in.Now.Before(w.Expires) {
			if best == nil || w.Expires.After(best.Expires) {
				best = w
			}
		} else if expired == nil || w.Expires.After(expired.Expires) {
			expired = w
		}
	}
	switch {
	case best != nil:
		res.Status = StatusWaived
		res.Waiver = &AppliedWaiver{Approver: best.Approver, Expires: best.Expires, Reason: best.Reason}
	case expired != nil:
		note := fmt.Sprintf("waiver by %s expired %s", expired.Approver, expired.Expires.Format(time.RFC3339))
		if res.Reason == "" {
			res.Reason = note
		} else {
			res.Reason += "; " + note
		}
	}
}

// evaluator holds one evaluation's normalized input.
type evaluator struct {
	in     *Input
	doc    []byte
	policy *Policy
	celDoc map[string]any // decoded lazily for CEL rules
}

func (ev *evaluator) rule(r *Rule) Result {
	switch s := r.Spec.(type) {
	case *LineageSpec:
		return ev.lineage(s)
	case *MetadataSpec:
		return ev.metadata(s)
	case *MetricSpec:
		return ev.metric(s)
	case *NoRegressionSpec:
		return ev.noRegression(s)
	case *FreshnessSpec:
		return ev.freshness(s)
	case *DataQualitySpec:
		return ev.dataQuality(s)
	case *ApprovalsSpec:
		return ev.approvals(s)
	case *RemotePresentSpec:
		return ev.remotePresent()
	case *StageOrderSpec:
		return ev.stageOrder()
	case *CELSpec:
		return ev.cel(s)
	}
	return Result{Status: StatusError, Reason: fmt.Sprintf("rule type %q has no evaluator", r.Type)}
}

func (ev *evaluator) celInput() (map[string]any, error) {
	if ev.celDoc == nil {
		var m map[string]any
		if err := json.Unmarshal(ev.doc, &m); err != nil {
			return nil, err
		}
		ev.celDoc = m
	}
	return ev.celDoc, nil
}
