package policy

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trove-dev/trove/objects"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata")

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func digest(c byte) string { return "blake3:" + strings.Repeat(string(c), 64) }

var (
	subjectDigest = digest('1')
	holderDigest  = digest('0')
	trainDigest   = digest('a')
	evalDigest    = digest('e')
)

func cols(names ...string) []Column {
	var out []Column
	for _, n := range names {
		out = append(out, Column{Name: n, Type: "int64"})
	}
	return out
}

// baseInput passes every rule of testdata/policy.yaml when promoting to production.
func baseInput(p *Policy) Input {
	yes := true
	return Input{
		Subject: Subject{
			Name: "churn", Version: "v1.2.0", Path: "churn.pkl", Kind: "model",
			Digest: subjectDigest, Size: 1000,
			Meta:    map[string]string{"owner": "ml-team", "license": "internal"},
			Metrics: map[string]float64{"accuracy": 0.93, "p95_latency_ms": 35},
			Lineage: &Lineage{
				Inputs: []InputRef{
					{Role: "train", Path: "data/train.csv", Digest: trainDigest, Kind: "dataset",
						Profile: &Profile{Rows: 1000, Columns: cols("id", "label")}, AddedAt: now.AddDate(0, 0, -10)},
					{Role: "eval", Path: "data/eval.csv", Digest: evalDigest, Kind: "dataset", AddedAt: now.AddDate(0, 0, -5)},
				},
				Code:    &Code{Commit: strings.Repeat("c", 40), OnProtectedBranch: true},
				Started: now.Add(-2 * time.Hour), Ended: now.Add(-time.Hour),
			},
		},
		TargetStage:  "production",
		CurrentStage: "staging",
		StageHolder: &StageHolder{
			Version: "v1.1.0", Digest: holderDigest, Metrics: map[string]float64{"accuracy": 0.925},
			EvalDigest: evalDigest,
			Inputs: []InputRef{{Role: "train", Path: "data/train.csv", Digest: digest('b'), Kind: "dataset",
				Profile: &Profile{Rows: 980, Columns: cols("id", "label")}}},
		},
		Approvals: []Approval{{Signer: "bob@example.com", Roles: []string{"model-risk"}, Digest: subjectDigest,
			PolicyDigest: p.Digest.String(), Stage: "production", At: now.Add(-24 * time.Hour), ValidSignature: true}},
		RemotePresent: &yes,
		Now:           now,
		Author:        "alice@example.com",
	}
}

func mustParse(t testing.TB, src string) *Policy {
	t.Helper()
	p, err := Parse("policy.yaml", []byte(src))
	if err != nil {
		t.Fatalf("parse:\n%s\n%v", src, err)
	}
	return p
}

func loadExample(t testing.TB) *Policy {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "policy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return mustParse(t, string(b))
}

func TestExamplePolicyAllows(t *testing.T) {
	p := loadExample(t)
	d := Evaluate(p, baseInput(p))
	if !d.Allowed {
		t.Fatalf("denied:\n%s", table(d))
	}
	want := map[string]Status{
		"lineage": StatusPass, "metadata": StatusNotApplicable, "model-metadata": StatusPass,
		"accuracy-floor": StatusPass, "no-regression": StatusPass, "fresh-data": StatusPass,
		"train-rows": StatusPass, "sign-off": StatusPass, "on-remote": StatusPass,
		"order": StatusPass, "latency": StatusPass,
	}
	for _, r := range d.Results {
		if want[r.Rule] != r.Status {
			t.Errorf("%s: %s, want %s\n%s", r.Rule, r.Status, want[r.Rule], table(d))
		}
	}
	if len(d.Results) != len(want) {
		t.Fatalf("%d results, want %d", len(d.Results), len(want))
	}
}

func table(d Decision) string {
	var b strings.Builder
	fmt.Fprintf(&b, "allowed=%v\n", d.Allowed)
	for _, r := range d.Results {
		fmt.Fprintf(&b, "  %-16s %-14s %-15s observed=%q expected=%q reason=%q\n", r.Rule, r.Type, r.Status, r.Observed, r.Expected, r.Reason)
	}
	return b.String()
}

// ruleCase is one rule type: a rule body, and how to make the base input fail it.
type ruleCase struct {
	typ, body string
	fail      func(*Input)
	failText  string // in Observed of the failure
}

var ruleCases = []ruleCase{
	{TypeLineage, "require: {inputs: true, code_commit: true, clean_tree: true, roles: [train, eval], protected_branches: true}",
		func(in *Input) {
			in.Subject.Lineage.Code.Dirty = true
			in.Subject.Lineage.Inputs = in.Subject.Lineage.Inputs[:1]
		},
		"code tree was dirty; no input with role eval"},
	{TypeMetadata, "require: [owner, license], allowed_licenses: [internal]",
		func(in *Input) { delete(in.Subject.Meta, "owner"); in.Subject.Meta["license"] = "GPL-3.0" },
		"missing owner; license GPL-3.0 not allowed"},
	{TypeMetric, `metric: accuracy, op: ">=", value: 0.9`,
		func(in *Input) { in.Subject.Metrics["accuracy"] = 0.85 }, "0.85"},
	{TypeNoRegression, "metric: accuracy, tolerance: 0.005",
		func(in *Input) { in.Subject.Metrics["accuracy"] = 0.91 }, "0.91"},
	{TypeFreshness, "role: train, max_age: 30d",
		func(in *Input) { in.Subject.Lineage.Inputs[0].AddedAt = now.AddDate(0, 0, -40) }, "data/train.csv added 40d 0h ago"},
	{TypeDataQuality, "role: train, max_row_drop: 0.1, schema_change: deny",
		func(in *Input) {
			in.Subject.Lineage.Inputs[0].Profile = &Profile{Rows: 800, Columns: cols("id", "label", "leak")}
		}, "800 rows vs 980 (down 18.37%); schema added leak"},
	{TypeApprovals, "min: 1, roles: [model-risk], max_age: 14d",
		func(in *Input) { in.Approvals[0].Signer = in.Author }, "0 valid, 1 not counted"},
	{TypeRemotePresent, "",
		func(in *Input) { no := false; in.RemotePresent = &no }, "missing blobs"},
	{TypeStageOrder, "",
		func(in *Input) { in.CurrentStage = "" }, "no stage -> production skips dev, staging"},
	{TypeCEL, `expr: "metrics.p95_latency_ms <= 40.0 && meta.owner != ''"`,
		func(in *Input) { in.Subject.Metrics["p95_latency_ms"] = 52 }, "false"},
}

func rulePolicy(typ, body, scope, waivers string) string {
	fields := []string{"id: r", "type: " + typ}
	if body != "" {
		fields = append(fields, body)
	}
	if scope != "" {
		fields = append(fields, scope)
	}
	src := "version: 1\nstages: [dev, staging, production]\nrules:\n  - {" + strings.Join(fields, ", ") + "}\n"
	if waivers != "" {
		src += "waivers:\n" + waivers
	}
	return src
}

func waiver(expires string) string {
	return fmt.Sprintf("  - {rule: r, artifact: %q, reason: known issue, approver: carol@example.com, expires: %s}\n", subjectDigest, expires)
}

// TestRuleTypes runs every rule type through pass, fail, out of scope (by stage,
// kind and artifact glob), waived and expired waiver.
func TestRuleTypes(t *testing.T) {
	for _, rc := range ruleCases {
		t.Run(rc.typ, func(t *testing.T) {
			for _, tc := range []struct {
				name, scope, waivers string
				fail                 bool
				want                 Status
				text                 string // in Observed, or Reason for not_applicable
			}{
				{name: "pass", want: StatusPass},
				{name: "fail", fail: true, want: StatusFail, text: rc.failText},
				{name: "in scope", scope: "stages: [production], kinds: [model], artifacts: [\"ch*\"]", fail: true, want: StatusFail},
				{name: "glob on path", scope: `artifacts: ["*.pkl"]`, fail: true, want: StatusFail},
				{name: "out of scope by stage", scope: "stages: [staging]", fail: true, want: StatusNotApplicable, text: "applies when promoting to staging, not production"},
				{name: "out of scope by kind", scope: "kinds: [dataset]", fail: true, want: StatusNotApplicable, text: "applies to kind dataset, not model"},
				{name: "out of scope by glob", scope: `artifacts: ["fraud-*"]`, fail: true, want: StatusNotApplicable, text: "applies to artifacts fraud-*; neither name churn nor path churn.pkl matches"},
				{name: "waived", waivers: waiver("2026-03-02"), fail: true, want: StatusWaived},
				{name: "expired waiver", waivers: waiver("2026-03-01"), fail: true, want: StatusFail, text: rc.failText},
				{name: "waiver for another artifact", waivers: strings.Replace(waiver("2027-01-01"), subjectDigest, holderDigest, 1), fail: true, want: StatusFail},
			} {
				t.Run(tc.name, func(t *testing.T) {
					p := mustParse(t, rulePolicy(rc.typ, rc.body, tc.scope, tc.waivers))
					in := baseInput(p)
					if tc.fail {
						rc.fail(&in)
					}
					d := Evaluate(p, in)
					if len(d.Results) != 1 {
						t.Fatalf("results: %+v", d.Results)
					}
					r := d.Results[0]
					if r.Status != tc.want || r.Rule != "r" || r.Type != rc.typ {
						t.Fatalf("status %s, want %s\n%s", r.Status, tc.want, table(d))
					}
					if wantAllowed := tc.want != StatusFail; d.Allowed != wantAllowed {
						t.Fatalf("allowed = %v\n%s", d.Allowed, table(d))
					}
					got := r.Observed
					if tc.want == StatusNotApplicable {
						got = r.Reason
					}
					if !strings.Contains(got, tc.text) {
						t.Fatalf("got %q, want it to contain %q\n%s", got, tc.text, table(d))
					}
					if r.Expected == "" && tc.want != StatusNotApplicable {
						t.Fatalf("no expected value\n%s", table(d))
					}
					switch tc.name {
					case "waived":
						if r.Waiver == nil || r.Waiver.Approver != "carol@example.com" || r.Observed == "" {
							t.Fatalf("waiver not recorded: %+v", r)
						}
					case "expired waiver":
						if !strings.Contains(r.Reason, "waiver by carol@example.com expired 2026-03-01T00:00:00Z") {
							t.Fatalf("reason %q", r.Reason)
						}
					}
				})
			}
		})
	}
}

// TestRuleDetails covers the rule-specific branches.
func TestRuleDetails(t *testing.T) {
	for _, tc := range []struct {
		name   string
		rule   string // type and body
		mutate func(*Input)
		want   Status
		text   string // in Observed or Reason
	}{
		// lineage
		{"lineage without lineage", "type: lineage, require: {inputs: true, code_commit: true}",
			func(in *Input) { in.Subject.Lineage = nil }, StatusFail, "no inputs recorded; no code commit"},
		{"lineage off protected branch", "type: lineage, require: {protected_branches: true}",
			func(in *Input) { in.Subject.Lineage.Code.OnProtectedBranch = false }, StatusFail, "not on a protected branch"},
		{"lineage clean tree unknown", "type: lineage, require: {clean_tree: true}",
			func(in *Input) { in.Subject.Lineage.Code = nil }, StatusFail, "code state unknown"},
		// metadata
		{"pii input for a model not allowed", "type: metadata, pii_allowed_models: [\"fraud-*\"]",
			func(in *Input) { in.Subject.Lineage.Inputs[0].Meta = map[string]string{"classification": "PII"} }, StatusFail, "trained on pii input data/train.csv"},
		{"pii input for an allowed model", "type: metadata, pii_allowed_models: [\"ch*\"]",
			func(in *Input) { in.Subject.Lineage.Inputs[0].Meta = map[string]string{"classification": "pii"} }, StatusPass, "ok"},
		{"no license", "type: metadata, allowed_licenses: [internal]",
			func(in *Input) { delete(in.Subject.Meta, "license") }, StatusFail, "no license"},
		{"blank key counts as missing", "type: metadata, require: [owner]",
			func(in *Input) { in.Subject.Meta["owner"] = "  " }, StatusFail, "missing owner"},
		// metric
		{"metric not recorded", "type: metric, metric: f1, op: \">\", value: 0.5",
			nil, StatusFail, "f1 not recorded"},
		{"metric lower bound", "type: metric, metric: p95_latency_ms, op: \"<\", value: 40",
			nil, StatusPass, "35"},
		{"metric equality", "type: metric, metric: accuracy, op: \"==\", value: 0.93",
			nil, StatusPass, "0.93"},
		// no_regression
		{"no regression within tolerance", "type: no_regression, metric: accuracy, tolerance: 0.005",
			func(in *Input) { in.Subject.Metrics["accuracy"] = 0.92 }, StatusPass, "0.92"},
		{"no regression on other eval data", "type: no_regression, metric: accuracy",
			func(in *Input) { in.StageHolder.EvalDigest = digest('f') }, StatusNotApplicable, "evaluated on different data: subject eval blake3:eeeeeeeeeeee, production holder v1.1.0 eval blake3:ffffffffffff"},
		{"no regression, first holder", "type: no_regression, metric: accuracy",
			func(in *Input) { in.StageHolder = nil }, StatusNotApplicable, "no version holds production yet"},
		{"no regression, no eval input", "type: no_regression, metric: accuracy",
			func(in *Input) { in.Subject.Lineage.Inputs = in.Subject.Lineage.Inputs[:1] }, StatusNotApplicable, "no input with role eval"},
		{"no regression, holder lacks metric", "type: no_regression, metric: accuracy",
			func(in *Input) { in.StageHolder.Metrics = nil }, StatusNotApplicable, "has no accuracy metric"},
		{"no regression, subject lacks metric", "type: no_regression, metric: accuracy",
			func(in *Input) { delete(in.Subject.Metrics, "accuracy") }, StatusFail, "accuracy not recorded"},
		{"no regression, not a promotion", "type: no_regression, metric: accuracy",
			func(in *Input) { in.TargetStage = "" }, StatusNotApplicable, "not a promotion"},
		{"no regression, lower is better", "type: no_regression, metric: p95_latency_ms, tolerance: 1, higher_is_better: false",
			func(in *Input) { in.StageHolder.Metrics["p95_latency_ms"] = 33 }, StatusFail, "35"},
		// freshness
		{"freshness, added_at unknown", "type: freshness, role: train, max_age: 24h",
			func(in *Input) { in.Subject.Lineage.Inputs[0].AddedAt = time.Time{} }, StatusFail, "data/train.csv has no added_at"},
		{"freshness, no such role", "type: freshness, role: reference, max_age: 24h",
			nil, StatusNotApplicable, "no input with role reference"},
		{"freshness in hours", "type: freshness, role: eval, max_age: 24h",
			nil, StatusFail, "data/eval.csv added 5d 0h ago"},
		// data_quality
		{"rows within bound", "type: data_quality, role: train, max_row_drop: 0.1",
			func(in *Input) { in.Subject.Lineage.Inputs[0].Profile.Rows = 900 }, StatusPass, "900 rows vs 980"},
		{"schema change allowed", "type: data_quality, role: train, schema_change: allow",
			func(in *Input) { in.Subject.Lineage.Inputs[0].Profile.Columns = cols("id") }, StatusPass, ""},
		{"schema type change", "type: data_quality, role: train, schema_change: deny",
			func(in *Input) { in.Subject.Lineage.Inputs[0].Profile.Columns[1].Type = "string" }, StatusFail, "changed label int64->string"},
		{"schema reordered", "type: data_quality, role: train, schema_change: deny",
			func(in *Input) { in.Subject.Lineage.Inputs[0].Profile.Columns = cols("label", "id") }, StatusFail, "columns reordered"},
		{"no profile", "type: data_quality, role: train, max_row_drop: 0.1",
			func(in *Input) { in.Subject.Lineage.Inputs[0].Profile = nil }, StatusNotApplicable, "has no profile"},
		{"holder without the role", "type: data_quality, role: eval, max_row_drop: 0.1",
			func(in *Input) { in.Subject.Lineage.Inputs[1].Profile = &Profile{Rows: 5} }, StatusNotApplicable, "has no single profiled eval input"},
		// approvals
		{"approvals need two signers", "type: approvals, min: 2",
			func(in *Input) { in.Approvals = append(in.Approvals, in.Approvals[0]) }, StatusFail, "1 valid (bob@example.com), 1 not counted"},
		{"approvals by two signers", "type: approvals, min: 2",
			func(in *Input) {
				a := in.Approvals[0]
				a.Signer = "carol@example.com"
				in.Approvals = append(in.Approvals, a)
			}, StatusPass, "2 valid (bob@example.com, carol@example.com)"},
		{"author written as git does", "type: approvals",
			func(in *Input) { in.Author = "Bob <BOB@example.com>" }, StatusFail, "0 valid, 1 not counted"},
		{"freshness, clock skew", "type: freshness, role: train, max_age: 24h",
			func(in *Input) { in.Subject.Lineage.Inputs[0].AddedAt = now.Add(time.Hour) }, StatusPass, "oldest added 0m ago"},
		{"author may approve when allowed", "type: approvals, distinct_from_author: false",
			func(in *Input) { in.Approvals[0].Signer = in.Author }, StatusPass, "1 valid"},
		{"approval not a promotion", "type: approvals",
			func(in *Input) { in.TargetStage = "" }, StatusNotApplicable, "not a promotion"},
		// remote_present
		{"remote not checked", "type: remote_present",
			func(in *Input) { in.RemotePresent = nil }, StatusError, "not checked"},
		// stage_order
		{"first promotion to dev", "type: stage_order",
			func(in *Input) { in.CurrentStage = ""; in.TargetStage = "dev" }, StatusPass, "no stage -> dev"},
		{"demotion", "type: stage_order",
			func(in *Input) { in.CurrentStage = "production"; in.TargetStage = "dev" }, StatusPass, "production -> dev"},
		{"unknown target stage", "type: stage_order",
			func(in *Input) { in.TargetStage = "prod" }, StatusFail, "stage prod"},
		// cel
		{"cel over the whole document", "type: cel, expr: \"subject.lineage.inputs.exists(i, i.role == 'eval') && size(approvals) > 0 && subject.size > 10\"",
			nil, StatusPass, "true"},
		{"cel runtime error", "type: cel, expr: \"metrics.f1 > 0.5\"",
			nil, StatusError, "no such key: f1"},
		{"cel on null", "type: cel, expr: \"stage_holder == null || stage_holder.version != ''\"",
			func(in *Input) { in.StageHolder = nil }, StatusPass, "true"},
		{"cel dyn result not bool", "type: cel, expr: \"subject.name\"",
			nil, StatusError, "not true or false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := mustParse(t, "version: 1\nstages: [dev, staging, production]\nrules:\n  - {id: r, "+tc.rule+"}\n")
			in := baseInput(p)
			if tc.mutate != nil {
				tc.mutate(&in)
			}
			d := Evaluate(p, in)
			r := d.Results[0]
			got := r.Observed + " | " + r.Reason
			if r.Status != tc.want || !strings.Contains(got, tc.text) {
				t.Fatalf("got %s %q, want %s containing %q\n%s", r.Status, got, tc.want, tc.text, table(d))
			}
		})
	}
}

func TestApprovalEvidence(t *testing.T) {
	p := mustParse(t, "version: 1\nstages: [dev, staging, production]\nrules:\n  - {id: r, type: approvals, min: 1, roles: [model-risk], max_age: 14d}\n")
	in := baseInput(p)
	good := in.Approvals[0]
	with := func(f func(*Approval)) Approval { a := good; f(&a); return a }
	in.Approvals = []Approval{
		with(func(a *Approval) { a.Signer = "s1"; a.ValidSignature = false }),
		with(func(a *Approval) { a.Signer = "s2"; a.Digest = holderDigest }),
		with(func(a *Approval) { a.Signer = "s3"; a.Stage = "staging" }),
		with(func(a *Approval) { a.Signer = "s4"; a.PolicyDigest = digest('9') }),
		with(func(a *Approval) { a.Signer = "s5"; a.At = now.Add(time.Hour) }),
		with(func(a *Approval) { a.Signer = "s6"; a.At = now.AddDate(0, 0, -15) }),
		with(func(a *Approval) { a.Signer = "s7"; a.Roles = []string{"ml-lead"} }),
		with(func(a *Approval) { a.Signer = in.Author }),
	}
	d := Evaluate(p, in)
	r := d.Results[0]
	if r.Status != StatusFail || r.Observed != "0 valid, 8 not counted" {
		t.Fatalf("%s", table(d))
	}
	ev := r.Evidence.([]ApprovalEvidence)
	reasons := map[string]string{}
	for _, e := range ev {
		reasons[e.Signer] = e.Reason
	}
	for signer, want := range map[string]string{
		"s1": "signature not valid", "s2": "approves another artifact blake3:000000000000", "s3": "approves stage staging",
		"s4": "made under another policy blake3:999999999999", "s5": "dated after the evaluation time",
		"s6": "older than 14d (15d 0h)", "s7": "signer holds none of the roles model-risk", in.Author: "signer is the author",
	} {
		if reasons[signer] != want {
			t.Errorf("%s: reason %q, want %q", signer, reasons[signer], want)
		}
	}
}

func TestInputErrors(t *testing.T) {
	p := loadExample(t)
	for _, tc := range []struct {
		name   string
		mutate func(*Input)
		text   string
	}{
		{"no now", func(in *Input) { in.Now = time.Time{} }, "input.now is not set"},
		{"other policy", func(in *Input) { in.PolicyDigest = digest('9') }, "is not the digest of the policy evaluated"},
		{"unencodable metric", func(in *Input) { in.Subject.Metrics["x"] = float64Inf() }, "input cannot be encoded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := baseInput(p)
			tc.mutate(&in)
			d := Evaluate(p, in)
			if d.Allowed {
				t.Fatal("allowed")
			}
			for _, r := range d.Results {
				if r.Status != StatusError || !strings.Contains(r.Reason, tc.text) {
					t.Fatalf("%s: %s %q", r.Rule, r.Status, r.Reason)
				}
			}
		})
	}
}

func float64Inf() float64 { var z float64; return 1 / z }

func TestCELCostLimit(t *testing.T) {
	p := mustParse(t, "version: 1\nrules:\n  - id: quadratic\n    type: cel\n    expr: \"approvals.all(a, approvals.all(b, a.signer != b.signer || a.at == b.at))\"\n")
	in := baseInput(p)
	in.Approvals = nil
	for i := 0; i < 3000; i++ {
		in.Approvals = append(in.Approvals, Approval{Signer: fmt.Sprintf("s%d", i), At: now})
	}
	d := Evaluate(p, in)
	r := d.Results[0]
	if r.Status != StatusError || !strings.Contains(r.Reason, "CEL cost limit (1000000) exceeded") || d.Allowed {
		t.Fatalf("%s", table(d))
	}
	// A small list stays under the limit.
	in.Approvals = in.Approvals[:50]
	if r := Evaluate(p, in).Results[0]; r.Status != StatusPass {
		t.Fatalf("small list: %+v", r)
	}
}

// TestDeterminism: the same facts give the same decision bytes, whatever order the
// lists were gathered in and whatever zone the times are in.
func TestDeterminism(t *testing.T) {
	p := loadExample(t)
	in := baseInput(p)
	a := in.Approvals[0]
	a.Signer = "carol@example.com"
	in.Approvals = append(in.Approvals, a)
	d1, err := Evaluate(p, in).JSON()
	if err != nil {
		t.Fatal(err)
	}
	d2, _ := Evaluate(p, in).JSON()
	if !bytes.Equal(d1, d2) {
		t.Fatalf("two evaluations differ:\n%s\n%s", d1, d2)
	}
	shuffled := baseInput(p)
	shuffled.Approvals = []Approval{in.Approvals[1], in.Approvals[0]}
	ins := shuffled.Subject.Lineage.Inputs
	ins[0], ins[1] = ins[1], ins[0]
	zone := time.FixedZone("UTC+5", 5*3600)
	shuffled.Now = now.In(zone)
	shuffled.Approvals[0].At = shuffled.Approvals[0].At.In(zone)
	d3, _ := Evaluate(p, shuffled).JSON()
	if !bytes.Equal(d1, d3) {
		t.Fatalf("reordered input gave another decision:\n%s\n%s", d1, d3)
	}
	c1, _ := CanonicalJSON(in)
	c2, _ := CanonicalJSON(shuffled)
	if !bytes.Equal(c1, c2) {
		t.Fatalf("canonical inputs differ:\n%s\n%s", c1, c2)
	}
	// The caller's input is not modified.
	if shuffled.Approvals[0].Signer != "carol@example.com" || ins[0].Role != "eval" {
		t.Fatal("Evaluate reordered the caller's slices")
	}
}

// TestGoldenDecision pins the decision and input encodings.
func TestGoldenDecision(t *testing.T) {
	p := loadExample(t)
	in := baseInput(p)
	in.Subject.Metrics["accuracy"] = 0.91 // fails no-regression
	in.Subject.Lineage.Inputs[0].AddedAt = now.AddDate(0, 0, -45)
	in.PolicyDigest = p.Digest.String()
	dec := Evaluate(p, in)
	var b bytes.Buffer
	for _, v := range []any{in, dec} {
		var raw []byte
		var err error
		if i, ok := v.(Input); ok {
			raw, err = CanonicalJSON(i)
		} else {
			raw, err = v.(Decision).JSON()
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Indent(&b, raw, "", "  "); err != nil {
			t.Fatal(err)
		}
		b.WriteByte('\n')
	}
	canon, _ := CanonicalJSON(in)
	if dec.InputDigest != objects.Hash(canon).String() {
		t.Fatalf("input digest %s is not the BLAKE3 of the canonical input", dec.InputDigest)
	}
	golden := filepath.Join("testdata", "decision.golden")
	if *updateGolden {
		if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), want) {
		t.Fatalf("decision changed (run go test -run TestGoldenDecision -update):\n%s", b.Bytes())
	}
}
