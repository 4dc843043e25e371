package policy

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// parseWithin parses src, failing the test if Parse takes longer than a generous
// bound: these inputs are built to make a naive parser spin or explode, and a hang
// must fail rather than stall the suite. (Speed itself is measured by benchmarks.)
func parseWithin(t *testing.T, src []byte) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := Parse("policy.yaml", src)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("Parse did not return")
		return nil
	}
}

func billionLaughs(levels int) string {
	var b strings.Builder
	b.WriteString("version: 1\nlol0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i < levels; i++ {
		refs := strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d, ", i-1), 9), ", ")
		fmt.Fprintf(&b, "lol%d: &l%d [%s]\n", i, i, refs)
	}
	fmt.Fprintf(&b, "rules: [{id: a, type: cel, expr: x, y: *l%d}]\n", levels-1)
	return b.String()
}

func TestHostileYAML(t *testing.T) {
	deepFlow := "version: 1\nrules: " + strings.Repeat("[", 100) + strings.Repeat("]", 100) + "\n"
	var deepBlock strings.Builder
	deepBlock.WriteString("version: 1\nx:\n")
	for i := 1; i <= 100; i++ {
		fmt.Fprintf(&deepBlock, "%s k:\n", strings.Repeat("  ", i))
	}
	huge := "version: 1\n# " + strings.Repeat("x", 2<<20) + "\n"
	wide := "version: 1\nstages: [" + strings.TrimSuffix(strings.Repeat("a, ", 150_000), ", ") + "]\n"
	for _, tc := range []struct {
		name, src, want string
	}{
		{"billion laughs", billionLaughs(9), "policy.yaml:7:12: alias *l4 expands to more than 100000 YAML nodes (aliases expanded): a policy is never this large; is it an alias bomb?"},
		{"2 MiB file", huge, "policy.yaml: file is 2097166 bytes; a policy may be at most 1048576 (1 MiB)"},
		{"depth 100 flow", deepFlow, "nested more than 64 levels deep"},
		{"depth 100 block", deepBlock.String(), "nested more than 64 levels deep"},
		{"many nodes", wide, "more than 100000 YAML nodes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := parseWithin(t, []byte(tc.src))
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	// A modest use of aliases stays within the limits: Parse fails on the unknown
	// keys lol0..., not on the bounds.
	if err := parseWithin(t, []byte(billionLaughs(3))); err == nil || strings.Contains(err.Error(), "alias bomb") {
		t.Fatalf("small alias use: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("version: 1\nstages: [dev, staging, production]\nrules:\n  - {id: a, type: metric, metric: m, op: \">=\", value: 1}\n"))
	f.Add([]byte("version: 1\nrules:\n  - {id: c, type: cel, expr: \"metrics.x <= 1.0\"}\nwaivers:\n  - {rule: c, artifact: \"blake3:" + strings.Repeat("0", 64) + "\", reason: r, approver: a, expires: 2027-01-01}\n"))
	f.Add([]byte(billionLaughs(4)))
	f.Add([]byte("version: 1\nstages: &s [a]\nrules: [{id: x, type: stage_order, stages: *s}]\n"))
	f.Add([]byte("version: 1\nrules: [{id: l, type: lineage, require: {inputs: true}}, {id: d, type: data_quality, role: train, max_row_drop: 0.1}]\n"))
	f.Add([]byte("version: 1\nrules: [{id: f, type: freshness, role: train, max_age: 3d}, {id: ap, type: approvals, min: 2, max_age: 24h}]\n"))
	f.Add([]byte("version: 1\nmonitors: [{id: w, metric: a, max_drop: 0.1, window: 7d, observations: 3, min_samples: 100}]\n"))
	f.Add([]byte("version: 1\nmonitors: [{id: w, metric: a, max_drop: 0.1, window: 0d, observations: -1}]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse("policy.yaml", b)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || len(pe.Errors) == 0 {
				t.Fatalf("error is not a ParseError: %v", err)
			}
			return
		}
		ids := map[string]bool{}
		for _, r := range p.Rules {
			if r.ID == "" || ids[r.ID] || r.Spec == nil || r.Spec.ruleType() != r.Type {
				t.Fatalf("bad rule %+v", r)
			}
			ids[r.ID] = true
		}
		// Evaluating any policy that parses must not panic, and must be stable.
		in := Input{Now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), TargetStage: "production"}
		a, _ := Evaluate(p, in).JSON()
		b2, _ := Evaluate(p, in).JSON()
		if string(a) != string(b2) {
			t.Fatal("nondeterministic decision")
		}
	})
}
