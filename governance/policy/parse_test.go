package policy

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseExample(t *testing.T) {
	p := loadExample(t)
	if p.Version != 1 || !slices.Equal(p.Stages, []string{"dev", "staging", "production"}) {
		t.Fatalf("%+v", p)
	}
	if len(p.Rules) != 11 || len(p.Monitors) != 1 || len(p.Waivers) != 1 {
		t.Fatalf("rules %d monitors %d waivers %d", len(p.Rules), len(p.Monitors), len(p.Waivers))
	}
	r := p.Rules[0]
	if r.ID != "lineage" || r.Pos != (Pos{5, 5}) || !slices.Equal(r.Scope.Stages, []string{"staging", "production"}) {
		t.Fatalf("rule 0: %+v", r)
	}
	ls := r.Spec.(*LineageSpec)
	if !ls.Inputs || !ls.CodeCommit || !ls.CleanTree || ls.ProtectedBranches || !slices.Equal(ls.Roles, []string{"train", "eval"}) {
		t.Fatalf("lineage spec %+v", ls)
	}
	fresh := p.Rules[5].Spec.(*FreshnessSpec)
	if fresh.MaxAge != 30*24*time.Hour {
		t.Fatalf("freshness %+v", fresh)
	}
	ap := p.Rules[7].Spec.(*ApprovalsSpec)
	if ap.Min != 1 || ap.MaxAge != 14*24*time.Hour || !ap.DistinctFromAuthor {
		t.Fatalf("approvals %+v", ap)
	}
	nr := p.Rules[4].Spec.(*NoRegressionSpec)
	if !nr.HigherIsBetter || nr.Tolerance != 0.005 {
		t.Fatalf("no_regression %+v", nr)
	}
	w := p.Waivers[0]
	if !w.Expires.Equal(time.Date(2027, 1, 15, 0, 0, 0, 0, time.UTC)) || w.Rule != "fresh-data" {
		t.Fatalf("waiver %+v", w)
	}
	if m := p.Monitors[0]; m.ID != "accuracy-drift" || m.MaxDrop != 0.05 || !m.HigherIsBetter {
		t.Fatalf("monitor %+v", m)
	}
	if p.Digest.IsZero() {
		t.Fatal("no digest")
	}
}

func TestDurations(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"30d": 30 * 24 * time.Hour, "14d": 14 * 24 * time.Hour, "24h": 24 * time.Hour, "90m": 90 * time.Minute, "2w": 14 * 24 * time.Hour,
	} {
		p := mustParse(t, fmt.Sprintf("version: 1\nrules:\n  - {id: f, type: freshness, role: train, max_age: %s}\n", in))
		if got := p.Rules[0].Spec.(*FreshnessSpec).MaxAge; got != want {
			t.Errorf("%s = %v, want %v", in, got, want)
		}
		if got := formatDuration(want); got != in && in != "2w" && in != "24h" {
			t.Errorf("formatDuration(%v) = %s", want, got)
		}
	}
}

// TestParseErrors: each problem is reported at its line and column, saying what was
// expected.
func TestParseErrors(t *testing.T) {
	head := "version: 1\nstages: [dev, staging, production]\nrules:\n"
	for _, tc := range []struct {
		name, src string
		want      string // one of the reported errors, with its position
	}{
		{"unknown rule type", head + "  - id: a\n    type: metrc\n",
			`policy.yaml:5:11: rule "a": unknown rule type "metrc"; want one of approvals, cel, data_quality, freshness, lineage, metadata, metric, no_regression, remote_present, stage_order (did you mean "metric"?)`},
		{"missing type", head + "  - id: a\n",
			`policy.yaml:4:5: rule "a": missing type; want one of`},
		{"unknown key", head + "  - id: a\n    type: metric\n    metric: accuracy\n    op: \">=\"\n    value: 0.9\n    tolerence: 1\n",
			`policy.yaml:9:5: rule "a": unknown key "tolerence"; want one of id, type, description, stages, artifacts, kinds, metric, op, value`},
		{"unknown key suggestion", head + "  - {id: a, type: remote_present, stage: [dev]}\n",
			`policy.yaml:4:35: rule "a": unknown key "stage"; want one of id, type, description, stages, artifacts, kinds (did you mean "stages"?)`},
		{"unknown top-level key", "version: 1\nrule: []\n",
			`policy.yaml:2:1: policy: unknown key "rule"; want one of version, stages, rules, monitors, waivers (did you mean "rules"?)`},
		{"missing id", head + "  - type: remote_present\n",
			`policy.yaml:4:5: rule 1: missing id; every rule needs one ("id: accuracy-floor")`},
		{"bad id", head + "  - {id: \"a b\", type: remote_present}\n",
			`policy.yaml:4:10: rule 1: id "a b": use letters, digits`},
		{"duplicate id", head + "  - {id: a, type: remote_present}\n  - {id: a, type: stage_order}\n",
			`policy.yaml:5:5: rule "a": duplicate id (first at 4:5)`},
		{"bad op", head + "  - {id: a, type: metric, metric: m, op: \"=>\", value: 1}\n",
			`policy.yaml:4:42: rule "a": bad op "=>"; want one of >=, >, <=, <, == (quoted: op: ">=")`},
		{"op missing", head + "  - {id: a, type: metric, metric: m, value: 1}\n",
			`policy.yaml:4:5: rule "a": missing op (op: ">=")`},
		{"value not a number", head + "  - {id: a, type: metric, metric: m, op: \">\", value: \"0.9\"}\n",
			`policy.yaml:4:54: rule "a": value: want a number, got "0.9"`},
		{"bad duration", head + "  - {id: a, type: freshness, role: train, max_age: 30days}\n",
			`policy.yaml:4:52: rule "a": max_age: bad duration "30days"; want a whole number and a unit m, h, d or w, like 30d, 14d or 24h`},
		{"duration without unit", head + "  - {id: a, type: freshness, role: train, max_age: 30}\n",
			`policy.yaml:4:52: rule "a": max_age: bad duration "30"`},
		{"zero duration", head + "  - {id: a, type: approvals, max_age: 0d}\n",
			`policy.yaml:4:39: rule "a": max_age: duration must be more than zero`},
		{"stages not a list", "version: 1\nstages: production\n",
			`policy.yaml:2:9: stages: want a list like [a, b], got "production"`},
		{"stage listed twice", "version: 1\nstages: [dev, dev]\n",
			`policy.yaml:2:15: stage "dev" listed twice`},
		{"unknown scope stage", head + "  - {id: a, type: remote_present, stages: [prod]}\n",
			`policy.yaml:4:44: rule "a": stage "prod" is not one of the policy's stages [dev, staging, production]`},
		{"scope stage without stages", "version: 1\nrules:\n  - {id: a, type: remote_present, stages: [dev]}\n",
			`policy.yaml:3:44: rule "a": scoped to stage "dev" but the policy has no stages list`},
		{"bad kind", head + "  - {id: a, type: remote_present, kinds: [models]}\n",
			`policy.yaml:4:43: rule "a": kind "models"; want dataset, model or artifact`},
		{"bad glob", head + "  - {id: a, type: remote_present, artifacts: [\"[\"]}\n",
			`policy.yaml:4:47: rule "a": artifacts: bad glob "["`},
		{"stage_order without stages", "version: 1\nrules:\n  - {id: a, type: stage_order}\n",
			`policy.yaml:3:5: rule "a": stage_order needs the policy's stages list`},
		{"lineage asks nothing", head + "  - {id: a, type: lineage, require: {}}\n",
			`policy.yaml:4:37: rule "a": require asks for nothing`},
		{"lineage unknown requirement", head + "  - {id: a, type: lineage, require: {input: true}}\n",
			`policy.yaml:4:38: rule "a": require: unknown key "input"; want one of inputs, code_commit, clean_tree, roles, protected_branches (did you mean "inputs"?)`},
		{"lineage bool", head + "  - {id: a, type: lineage, require: {inputs: yes}}\n",
			`policy.yaml:4:46: rule "a": require: inputs: want true or false, got "yes"`},
		{"metadata empty", head + "  - {id: a, type: metadata}\n",
			`policy.yaml:4:5: rule "a": a metadata rule needs require, allowed_licenses or pii_allowed_models`},
		{"max_row_drop out of range", head + "  - {id: a, type: data_quality, role: train, max_row_drop: 10}\n",
			`policy.yaml:4:60: rule "a": max_row_drop is a fraction between 0 and 1 (0.1 = 10%), got 10`},
		{"schema_change value", head + "  - {id: a, type: data_quality, role: train, schema_change: forbid}\n",
			`policy.yaml:4:61: rule "a": schema_change "forbid"; want deny or allow`},
		{"approvals min", head + "  - {id: a, type: approvals, min: 0}\n",
			`policy.yaml:4:35: rule "a": min must be between 1 and 100, got 0`},
		{"approvals min not whole", head + "  - {id: a, type: approvals, min: 1.5}\n",
			`policy.yaml:4:35: rule "a": min: want a whole number, got the number 1.5`},
		{"negative tolerance", head + "  - {id: a, type: no_regression, metric: m, tolerance: -1}\n",
			`policy.yaml:4:56: rule "a": tolerance must not be negative`},
		{"version missing", "rules: []\n",
			`policy.yaml:1:1: version: required; want "version: 1" at the top`},
		{"version newer", "version: 2\n",
			`policy.yaml:1:10: version 2: this trove reads policy version 1`},
		{"rules not a list", "version: 1\nrules: {id: a}\n",
			`policy.yaml:2:8: rules: want a list of rules (each "- id: ..."), got a mapping`},
		{"rule not a mapping", "version: 1\nrules: [a]\n",
			`policy.yaml:2:9: rule 1: want a mapping, got "a"`},
		{"duplicate key", head + "  - {id: a, type: remote_present, id: b}\n",
			`policy.yaml:4:35: rule 1: key "id" given twice (first at 4:6)`},
		{"merge key", "version: 1\nbase: &b {type: remote_present}\nrules:\n  - {<<: *b, id: a}\n",
			`policy.yaml:4:6: rule 1: merge keys (<<) are not supported; write the keys out`},
		{"waiver for unknown rule", head + "  - {id: fresh, type: remote_present}\nwaivers:\n  - {rule: fersh, artifact: \"" + digest('1') + "\", reason: r, approver: a, expires: 2027-01-01}\n",
			`policy.yaml:6:12: waiver 1: no rule has id "fersh" (did you mean "fresh"?)`},
		{"waiver bad artifact", head + "  - {id: a, type: remote_present}\nwaivers:\n  - {rule: a, artifact: \"sha256:00\", reason: r, approver: a, expires: 2027-01-01}\n",
			`policy.yaml:6:25: waiver 1: artifact "sha256:00": want the artifact's digest, blake3: and 64 hex digits`},
		{"waiver without expiry", head + "  - {id: a, type: remote_present}\nwaivers:\n  - {rule: a, artifact: \"" + digest('1') + "\", reason: r, approver: a}\n",
			`policy.yaml:6:5: waiver 1: missing expires (expires: 2027-01-15; waivers never last forever)`},
		{"waiver bad expiry", head + "  - {id: a, type: remote_present}\nwaivers:\n  - {rule: a, artifact: \"" + digest('1') + "\", reason: r, approver: a, expires: soon}\n",
			`waiver 1: expires "soon": want a date like 2027-01-15 or an RFC 3339 time`},
		{"monitor missing metric", "version: 1\nmonitors:\n  - {id: m, max_drop: 0.1}\n",
			`policy.yaml:3:5: monitor "m": missing metric (metric: accuracy)`},
		{"monitor unknown type", "version: 1\nmonitors:\n  - {id: m, type: drfit, metric: a, max_drop: 0.1}\n",
			`policy.yaml:3:19: monitor "m": unknown monitor type "drfit"; want one of cel, data_drift, drift, threshold (did you mean "drift"?)`},
		{"monitor drift without limit", "version: 1\nmonitors:\n  - {id: m, type: drift, metric: a}\n",
			`policy.yaml:3:5: monitor "m": missing max_drop or max_drop_ratio (max_drop: 0.05)`},
		{"monitor key of another type", "version: 1\nmonitors:\n  - {id: m, type: threshold, metric: a, op: \"<=\", value: 1, max_drop: 0.1}\n",
			`monitor "m": unknown key "max_drop"`},
		{"monitor bad method", "version: 1\nmonitors:\n  - {id: m, type: data_drift, feature: age, method: chi2, max: 0.2}\n",
			`policy.yaml:3:53: monitor "m": method "chi2"; want psi or ks`},
		{"monitor negative min_samples", "version: 1\nmonitors:\n  - {id: m, type: threshold, metric: a, op: \"<=\", value: 1, min_samples: -1}\n",
			`monitor "m": min_samples must not be negative`},
		{"monitor window not a duration", "version: 1\nmonitors:\n  - {id: m, metric: a, max_drop: 0.1, window: 7days}\n",
			`monitor "m": window: bad duration "7days"`},
		{"monitor no observations", "version: 1\nmonitors:\n  - {id: m, metric: a, max_drop: 0.1, observations: 0}\n",
			`monitor "m": observations must be between 1 and 10000, got 0`},
		{"monitor observations not a number", "version: 1\nmonitors:\n  - {id: m, metric: a, max_drop: 0.1, observations: many}\n",
			`monitor "m": observations: want a whole number`},
		{"monitor cel sees the observation", "version: 1\nmonitors:\n  - {id: m, type: cel, expr: \"subject.metrics.a > 1\"}\n",
			`monitor "m": CEL expression 1:1: undeclared reference to 'subject'`},
		{"not yaml", "version: 1\nrules: [\n",
			`policy.yaml:2: not valid YAML: did not find expected node content`},
		{"two documents", "version: 1\n---\nversion: 1\n",
			`a policy is one YAML document`},
		{"empty", "",
			`policy.yaml: empty policy; start with "version: 1"`},
		{"not a mapping", "- a\n",
			`policy.yaml:1:1: policy: want a mapping, got a list`},
		{"cel unknown variable", head + "  - id: c\n    type: cel\n    expr: metricz.latency <= 40.0\n",
			`policy.yaml:6:11: rule "c": CEL expression 1:1: undeclared reference to 'metricz'`},
		{"cel syntax error", head + "  - id: c\n    type: cel\n    expr: \"metrics.latency <= 40.0 &&& true\"\n",
			`policy.yaml:6:38: rule "c": CEL expression 1:27: Syntax error`},
		{"cel not a condition", head + "  - {id: c, type: cel, expr: \"1 + 2\"}\n",
			`rule "c": CEL expression 1:1: the expression gives a int; a rule needs a condition (bool)`},
		{"cel multi-line", head + "  - id: c\n    type: cel\n    expr: |\n      metrics.latency <= 40.0 &&\n      nosuch > 1\n",
			`policy.yaml:6:11: rule "c": CEL expression 2:1: undeclared reference to 'nosuch'`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("policy.yaml", []byte(tc.src))
			if err == nil {
				t.Fatalf("parsed:\n%s", tc.src)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not match ErrInvalid: %v", err)
			}
			var pe *ParseError
			if !errors.As(err, &pe) || len(pe.Errors) == 0 {
				t.Fatalf("not a ParseError: %v", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("errors:\n%v\nwant one containing:\n%s", err, tc.want)
			}
		})
	}
}

func TestParseReportsEveryProblem(t *testing.T) {
	src := "version: 1\nstages: [dev, staging, production]\nrules:\n" +
		"  - {id: a, type: metric, metric: m, op: \"=>\", value: 1}\n" +
		"  - {id: b, type: freshness, role: train, max_age: 1y}\n" +
		"  - {type: remote_present}\n"
	_, err := Parse("policy.yaml", []byte(src))
	var pe *ParseError
	if !errors.As(err, &pe) || len(pe.Errors) != 3 {
		t.Fatalf("want 3 errors, got:\n%v", err)
	}
	for i, line := range []int{4, 5, 6} {
		if pe.Errors[i].Line != line {
			t.Fatalf("error %d at line %d, want %d:\n%v", i, pe.Errors[i].Line, line, err)
		}
	}
}

func TestAliasesWithinLimits(t *testing.T) {
	p := mustParse(t, "version: 1\nstages: &st [dev, production]\nrules:\n  - {id: a, type: remote_present, stages: *st}\n")
	if !slices.Equal(p.Rules[0].Scope.Stages, []string{"dev", "production"}) {
		t.Fatalf("%+v", p.Rules[0].Scope)
	}
}

func TestMonitorWindow(t *testing.T) {
	p, err := Parse("policy.yaml", []byte("version: 1\nmonitors:\n  - {id: a, metric: acc, max_drop: 0.1, window: 7d}\n  - {id: b, metric: acc, max_drop: 0.1, observations: 5}\n  - {id: c, metric: acc, max_drop: 0.1, window: 24h, observations: 3}\n  - {id: d, metric: acc, max_drop: 0.1}\n"))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []struct {
		w time.Duration
		n int
	}{{7 * 24 * time.Hour, 0}, {0, 5}, {24 * time.Hour, 3}, {0, 0}} {
		if m := p.Monitors[i]; m.Window != want.w || m.Observations != want.n {
			t.Errorf("monitor %s: window %v observations %d, want %v %d", m.ID, m.Window, m.Observations, want.w, want.n)
		}
	}
}
