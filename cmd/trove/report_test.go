package main

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trove-dev/trove/governance/report/reporttest"
)

// The documents the CLI writes validate against their published schemas
// (testdata/schemas): the report's own, and in-toto/SLSA, OpenLineage and
// CycloneDX for the exports.
func TestReportAndExportValidate(t *testing.T) {
	c := reporttest.Schemas(t) // before leaving the package directory
	f := reporttest.Pipeline(t)
	t.Chdir(f.Dir)
	out := t.TempDir()
	for _, tc := range []struct {
		args   []string
		schema string
		lines  bool
	}{
		{[]string{"report", "churn@production", "--format", "json"}, "https://trove.dev/schemas/trove-report-v1.schema.json", false},
		{[]string{"report", "churn@v0.0.1", "--json", "--sha256-inputs"}, "https://trove.dev/schemas/trove-report-v1.schema.json", false},
		{[]string{"export", "churn@v0.0.2", "--format", "intoto"}, "https://trove.dev/schemas/third-party/in-toto-statement-v1.schema.json", false},
		{[]string{"export", "churn@v0.0.2", "--format", "openlineage"}, "https://openlineage.io/spec/2-0-2/OpenLineage.json", true},
		{[]string{"export", "churn@v0.0.1", "--format", "cyclonedx"}, "http://cyclonedx.org/schema/bom-1.6.schema.json", false},
	} {
		file := filepath.Join(out, "doc.json")
		var stdout, stderr bytes.Buffer
		args := append(append([]string{"trove"}, tc.args...), "-o", file)
		if code := run(context.Background(), args, nil, &stdout, &stderr); code != 0 {
			t.Fatalf("%v: exit %d\n%s", tc.args, code, stderr.String())
		}
		doc, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		docs := [][]byte{doc}
		if tc.lines {
			docs = nil
			sc := bufio.NewScanner(bytes.NewReader(doc))
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				docs = append(docs, append([]byte(nil), sc.Bytes()...))
			}
			if len(docs) != 4 {
				t.Errorf("%v: %d events", tc.args, len(docs))
			}
		}
		for _, d := range docs {
			if err := reporttest.Validate(t, c, tc.schema, d); err != nil {
				t.Errorf("%v: does not validate against %s: %v", tc.args, tc.schema, err)
			}
		}
	}
}

// The audit chain of the report fixture verifies, and the waiver its last
// promotion's decision applied is in it, pinned with the record.
func TestAuditVerifyPipeline(t *testing.T) {
	f := reporttest.Pipeline(t)
	t.Chdir(f.Dir)
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"trove", "audit", "verify"}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	for _, want := range []string{
		"ok    waiver    entry 7 (promote churn#production#4): fresh-data waived by alice@example.com until 2027-01-15T00:00:00Z: vendor delay (under policy blake3:",
		"ok    signature entry 7 (promote churn#production#4): signed by releng@example.com",
		"ok    signature entry 6 (approve churn@v0.0.2 for production by alice@example.com): signed by alice@example.com",
		// The data upstream of the models is re-hashed too.
		"ok    content   data/raw.csv blake3:",
		"ok    content   data/train.csv blake3:",
		"result: verified",
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("no %q in\n%s", want, stdout.String())
		}
	}
}
