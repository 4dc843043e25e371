package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/trove-dev/trove/governance/policy"
)

// The JUnit report is XML that encoding/xml reads back, with a testsuite per
// subject and a testcase per rule: fail and error as <failure>, not_applicable
// and waived as <skipped>, and counts that agree.
func TestJUnitReport(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	denied := policy.Decision{Allowed: false, EvaluatedAt: at, InputDigest: "blake3:in", PolicyDigest: "blake3:pol", Results: []policy.Result{
		{Rule: "accuracy-floor", Type: "metric", Status: policy.StatusFail, Observed: "0.87", Expected: "accuracy >= 0.9"},
		{Rule: "eval <data> & \"roles\"", Type: "lineage", Status: policy.StatusFail, Observed: "no input with role eval", Evidence: policy.MissingEvidence{Problems: []string{"no input with role eval"}}},
		{Rule: "on-remote", Type: "remote_present", Status: policy.StatusError, Reason: "input.remote_present is null"},
		{Rule: "fresh", Type: "freshness", Status: policy.StatusWaived, Waiver: &policy.AppliedWaiver{Approver: "alice@example.com", Expires: at.AddDate(0, 1, 0), Reason: "vendor delay"}},
		{Rule: "sign-off", Type: "approvals", Status: policy.StatusNotApplicable, Reason: "applies when promoting to production, not staging"},
		{Rule: "order", Type: "stage_order", Status: policy.StatusPass},
	}}
	allowed := policy.Decision{Allowed: true, EvaluatedAt: at, Results: []policy.Result{{Rule: "order", Type: "stage_order", Status: policy.StatusPass}}}
	rep := checkReport{Checks: []checkResult{
		{Subject: "churn@v1.0.0", Name: "churn", Version: "v1.0.0", TargetStage: "staging", InputDigest: denied.InputDigest, Decision: denied},
		{Subject: "models/other.bin", Name: "other", Decision: allowed},
	}}
	var buf bytes.Buffer
	if err := writeJUnit(&buf, rep); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(buf.String(), xml.Header) {
		t.Errorf("no XML header:\n%s", buf.String())
	}
	var got struct {
		XMLName  xml.Name `xml:"testsuites"`
		Tests    int      `xml:"tests,attr"`
		Failures int      `xml:"failures,attr"`
		Skipped  int      `xml:"skipped,attr"`
		Suites   []struct {
			Name     string `xml:"name,attr"`
			Tests    int    `xml:"tests,attr"`
			Failures int    `xml:"failures,attr"`
			Skipped  int    `xml:"skipped,attr"`
			Props    []struct {
				Name  string `xml:"name,attr"`
				Value string `xml:"value,attr"`
			} `xml:"properties>property"`
			Cases []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Type    string `xml:"type,attr"`
					Message string `xml:"message,attr"`
					Text    string `xml:",chardata"`
				} `xml:"failure"`
				Skipped *struct {
					Message string `xml:"message,attr"`
				} `xml:"skipped"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	dec := xml.NewDecoder(&buf)
	dec.Strict = true
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("not valid XML: %v", err)
	}
	if got.Tests != 7 || got.Failures != 3 || got.Skipped != 2 || len(got.Suites) != 2 {
		t.Fatalf("totals: tests %d failures %d skipped %d suites %d", got.Tests, got.Failures, got.Skipped, len(got.Suites))
	}
	s := got.Suites[0]
	if s.Name != "policy: churn@v1.0.0 -> staging" || s.Tests != 6 || s.Failures != 3 || s.Skipped != 2 || len(s.Cases) != 6 {
		t.Errorf("suite %+v", s)
	}
	var failures, skipped int
	for _, c := range s.Cases {
		if c.Failure != nil {
			failures++
		}
		if c.Skipped != nil {
			skipped++
		}
	}
	if failures != s.Failures || skipped != s.Skipped {
		t.Errorf("elements: %d failures, %d skipped; attributes say %d, %d", failures, skipped, s.Failures, s.Skipped)
	}
	if c := s.Cases[1]; c.Name != `eval <data> & "roles"` || c.Failure == nil || c.Failure.Type != "fail" || !strings.Contains(c.Failure.Text, `"no input with role eval"`) {
		t.Errorf("escaped case %+v", c)
	}
	if c := s.Cases[2]; c.Failure == nil || c.Failure.Type != "error" || !strings.Contains(c.Failure.Message, "remote_present is null") {
		t.Errorf("error case %+v", c)
	}
	if c := s.Cases[3]; c.Skipped == nil || !strings.Contains(c.Skipped.Message, "waived by alice@example.com until 2026-04-01T12:00:00Z: vendor delay") {
		t.Errorf("waived case %+v", c.Skipped)
	}
	props := map[string]string{}
	for _, p := range s.Props {
		props[p.Name] = p.Value
	}
	if props["input_digest"] != "blake3:in" || props["allowed"] != "false" || props["target_stage"] != "staging" {
		t.Errorf("properties %v", props)
	}
	if s := got.Suites[1]; s.Tests != 1 || s.Failures != 0 || s.Skipped != 0 {
		t.Errorf("allowed suite %+v", s)
	}
}

// The example policy and its fixtures in testdata/policy pass.
func TestPolicyExamples(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"trove", "policy", "test", "../../testdata/policy/tests"}, strings.NewReader(""), &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	if n := strings.Count(stdout.String(), "PASS  "); n < 4 {
		t.Errorf("%d fixtures passed:\n%s", n, stdout.String())
	}
}
