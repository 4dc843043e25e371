package export_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/trove-dev/trove/governance/export"
	"github.com/trove-dev/trove/governance/report"
	"github.com/trove-dev/trove/governance/report/reporttest"
)

// Schema ids (testdata/schemas; see its README for where each comes from).
const (
	statementSchema  = "https://trove.dev/schemas/third-party/in-toto-statement-v1.schema.json"
	provenanceSchema = "https://trove.dev/schemas/third-party/slsa-provenance-v1.schema.json"
	openLineageCore  = "https://openlineage.io/spec/2-0-2/OpenLineage.json"
	cycloneDXSchema  = "http://cyclonedx.org/schema/bom-1.6.schema.json"
)

func fixture(t *testing.T) (*reporttest.Fixture, *report.Report) {
	t.Helper()
	f := reporttest.Pipeline(t)
	rep, err := report.Build(context.Background(), f.Repo, report.Options{
		Ref: "churn@v0.0.2", Stages: []string{"dev", "staging", "production"},
		Now: time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC), Generator: "trove v9.8.7", InputSHA256: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return f, rep
}

func write(t *testing.T, format string, rep *report.Report) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := export.Write(&b, format, rep); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func hexSHA256(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestInToto(t *testing.T) {
	f, rep := fixture(t)
	c := reporttest.Schemas(t)
	out := write(t, export.FormatInToto, rep)
	if err := reporttest.Validate(t, c, statementSchema, out); err != nil {
		t.Fatalf("the statement does not validate: %v\n%s", err, out)
	}
	var st export.Statement
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatal(err)
	}
	pred, err := json.Marshal(st.Predicate)
	if err != nil {
		t.Fatal(err)
	}
	if err := reporttest.Validate(t, c, provenanceSchema, pred); err != nil {
		t.Fatalf("the predicate does not validate as SLSA provenance v1: %v\n%s", err, pred)
	}
	if st.Type != "https://in-toto.io/Statement/v1" || st.PredicateType != "https://slsa.dev/provenance/v1" || len(st.Subject) != 1 {
		t.Fatalf("statement: %+v", st)
	}
	sub := st.Subject[0]
	if sub.Name != "models/model.bin" || sub.Digest["sha256"] != hexSHA256("model two") || sub.Digest["blake3"] != strings.TrimPrefix(f.V2, "blake3:") {
		t.Errorf("subject: %+v", sub)
	}
	bd := st.Predicate.BuildDefinition
	if bd.BuildType != export.BuildType || bd.ExternalParameters["parameters"].(map[string]any)["lr"] != "0.05" {
		t.Errorf("buildDefinition: %+v", bd)
	}
	deps := map[string]map[string]string{}
	for _, d := range bd.ResolvedDependencies {
		deps[d.Name] = d.Digest
	}
	if deps["code"]["gitCommit"] != f.PrepCommit || deps["data/train.csv"]["blake3"] != strings.TrimPrefix(f.Train, "blake3:") ||
		deps["data/train.csv"]["sha256"] != hexSHA256("id,x,label\n1,0.5,a\n2,0.7,b\n") || deps["data/eval.csv"]["blake3"] == "" {
		t.Errorf("resolvedDependencies: %v", deps)
	}
	if bd.ResolvedDependencies[0].URI != "git+https://git.example.com/acme/churn.git" {
		t.Errorf("code uri: %q", bd.ResolvedDependencies[0].URI)
	}
	rd := st.Predicate.RunDetails
	if rd.Builder.ID != export.BuilderID || rd.Builder.Version["trove"] != "v9.8.7" || rd.Metadata == nil ||
		rd.Metadata.StartedOn != "2026-03-05T10:00:00Z" || rd.Metadata.FinishedOn != "2026-03-05T10:40:00Z" {
		t.Errorf("runDetails: %+v %+v", rd, rd.Metadata)
	}
	if len(rd.Byproducts) != 1 || string(rd.Byproducts[0].Content) != `{"accuracy":0.93,"loss":0.3}` {
		t.Errorf("byproducts: %+v", rd.Byproducts)
	}
	// The same run id as the OpenLineage export's.
	evs, err := export.OpenLineage(rep)
	if err != nil {
		t.Fatal(err)
	}
	if last := evs[len(evs)-1]; last.Run.RunID != rd.Metadata.InvocationID {
		t.Errorf("invocationId %s, OpenLineage runId %s", rd.Metadata.InvocationID, last.Run.RunID)
	}
}

func TestOpenLineage(t *testing.T) {
	f, rep := fixture(t)
	c := reporttest.Schemas(t)
	out := write(t, export.FormatOpenLineage, rep)
	var events []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if err := reporttest.Validate(t, c, openLineageCore, line); err != nil {
			t.Fatalf("event does not validate against OpenLineage.json: %v\n%s", err, line)
		}
		var ev map[string]any
		if err := json.Unmarshal(line, &ev); err != nil {
			t.Fatal(err)
		}
		events = append(events, ev)
		// Every facet validates against the schema it names.
		for _, facets := range facetsOf(ev) {
			for name, fv := range facets {
				url, _ := fv.(map[string]any)["_schemaURL"].(string)
				if err := reporttest.Validate(t, c, url, reporttest.Marshal(t, fv)); err != nil {
					t.Errorf("facet %s does not validate against %s: %v", name, url, err)
				}
			}
		}
	}
	if len(events) != 4 {
		t.Fatalf("%d events, want START and COMPLETE for 2 steps", len(events))
	}
	uuid7 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	for i, want := range []struct{ typ, job, at string }{
		{"START", "sh prepare.sh", "2026-03-01T09:10:00Z"}, {"COMPLETE", "sh prepare.sh", "2026-03-01T09:11:00Z"},
		{"START", "python train.py --lr 0.05", "2026-03-05T10:00:00Z"}, {"COMPLETE", "python train.py --lr 0.05", "2026-03-05T10:40:00Z"},
	} {
		ev := events[i]
		job := ev["job"].(map[string]any)
		run := ev["run"].(map[string]any)
		if ev["eventType"] != want.typ || job["name"] != want.job || ev["eventTime"] != want.at || !uuid7.MatchString(run["runId"].(string)) {
			t.Errorf("event %d: %v %v %v %v", i, ev["eventType"], job["name"], ev["eventTime"], run["runId"])
		}
		if !strings.HasPrefix(job["namespace"].(string), "trove://local/") {
			t.Errorf("namespace %v", job["namespace"])
		}
	}
	if events[0]["run"].(map[string]any)["runId"] != events[1]["run"].(map[string]any)["runId"] ||
		events[1]["run"].(map[string]any)["runId"] == events[2]["run"].(map[string]any)["runId"] {
		t.Error("a run's START and COMPLETE must share its id, and runs differ")
	}
	// The prepare step read raw.csv (profiled: a schema facet) and made both splits.
	prep := events[1]
	ins := prep["inputs"].([]any)
	outs := prep["outputs"].([]any)
	if len(ins) != 1 || len(outs) != 2 {
		t.Fatalf("prepare: %d inputs, %d outputs", len(ins), len(outs))
	}
	raw := ins[0].(map[string]any)
	facets := raw["facets"].(map[string]any)
	if raw["name"] != "data/raw.csv" || facets["version"].(map[string]any)["datasetVersion"] != f.Raw ||
		len(facets["schema"].(map[string]any)["fields"].([]any)) != 3 || facets["trove"].(map[string]any)["classification"] != "internal" {
		t.Errorf("raw.csv: %v", raw)
	}
	train := events[3]
	if _, ok := train["job"].(map[string]any)["facets"].(map[string]any)["sourceCodeLocation"]; !ok {
		t.Error("the train job has no sourceCodeLocation (its code has an https origin)")
	}
	if tr := train["run"].(map[string]any)["facets"].(map[string]any)["trove_run"].(map[string]any); tr["codeCommit"] != f.PrepCommit {
		t.Errorf("trove_run: %v", tr)
	}
	// Exporting again gives the same events.
	if again := write(t, export.FormatOpenLineage, rep); !bytes.Equal(again, out) {
		t.Error("two exports differ")
	}
}

func facetsOf(ev map[string]any) []map[string]any {
	var out []map[string]any
	add := func(v any) {
		if m, ok := v.(map[string]any); ok {
			if f, ok := m["facets"].(map[string]any); ok {
				out = append(out, f)
			}
		}
	}
	add(ev["run"])
	add(ev["job"])
	for _, k := range []string{"inputs", "outputs"} {
		ds, _ := ev[k].([]any)
		for _, d := range ds {
			add(d)
		}
	}
	return out
}

func TestCycloneDX(t *testing.T) {
	f, rep := fixture(t)
	c := reporttest.Schemas(t)
	out := write(t, export.FormatCycloneDX, rep)
	if err := reporttest.Validate(t, c, cycloneDXSchema, out); err != nil {
		t.Fatalf("the BOM does not validate against bom-1.6.schema.json: %v\n%s", err, out)
	}
	var bom export.BOM
	if err := json.Unmarshal(out, &bom); err != nil {
		t.Fatal(err)
	}
	m := bom.Metadata.Component
	if bom.BOMFormat != "CycloneDX" || bom.SpecVersion != "1.6" || m.Type != "machine-learning-model" || m.Name != "churn" || m.Version != "v0.0.2" {
		t.Fatalf("bom: %+v", bom)
	}
	hashes := map[string]string{}
	for _, h := range m.Hashes {
		hashes[h.Alg] = h.Content
	}
	if hashes["SHA-256"] != hexSHA256("model two") || hashes["BLAKE3"] != strings.TrimPrefix(f.V2, "blake3:") {
		t.Errorf("hashes: %v", hashes)
	}
	mc := m.ModelCard
	if mc == nil || mc.QuantitativeAnalysis == nil || len(mc.QuantitativeAnalysis.PerformanceMetrics) != 2 ||
		mc.QuantitativeAnalysis.PerformanceMetrics[0] != (export.PerformanceMetric{Type: "accuracy", Value: "0.93"}) {
		t.Fatalf("model card: %+v", mc)
	}
	if mc.Considerations == nil || len(mc.Considerations.UseCases) != 1 || len(mc.Considerations.TechnicalLimitations) != 1 {
		t.Errorf("considerations: %+v", mc.Considerations)
	}
	refs := map[string]export.Component{}
	for _, comp := range bom.Components {
		refs[comp.BOMRef] = comp
	}
	if mc.ModelParameters == nil || len(mc.ModelParameters.Datasets) != 2 {
		t.Fatalf("datasets: %+v", mc.ModelParameters)
	}
	for _, d := range mc.ModelParameters.Datasets {
		if comp, ok := refs[d.Ref]; !ok || comp.Type != "data" || len(comp.Data) != 1 || comp.Data[0].Type != "dataset" {
			t.Errorf("dataset ref %s: %+v", d.Ref, comp)
		}
	}
	if len(bom.Components) != 3 || len(bom.Dependencies) != 4 {
		t.Errorf("%d components, %d dependencies", len(bom.Components), len(bom.Dependencies))
	}
	var params []string
	for _, p := range m.Properties {
		if strings.HasPrefix(p.Name, "trove:param:") {
			params = append(params, p.Name+"="+p.Value)
		}
	}
	if strings.Join(params, ",") != "trove:param:epochs=3,trove:param:lr=0.05" {
		t.Errorf("parameters: %v", params)
	}
	// The raw data's owner and classification are the data's governance.
	for _, comp := range bom.Components {
		if comp.Name == "data/raw.csv" {
			d := comp.Data[0]
			if d.Classification != "internal" || d.Governance == nil || d.Governance.Owners[0].Contact.Email != "data@example.com" || len(comp.Licenses) != 1 {
				t.Errorf("raw.csv: %+v", comp)
			}
		}
	}
	if again := write(t, export.FormatCycloneDX, rep); !bytes.Equal(again, out) {
		t.Error("two exports differ")
	}
}

func TestWriteUnknownFormat(t *testing.T) {
	err := export.Write(&bytes.Buffer{}, "spdx", &report.Report{})
	if !errors.Is(err, export.ErrFormat) {
		t.Errorf("spdx: %v", err)
	}
}

// The schemas bite: each export, broken in one place the specification
// cares about, no longer validates.
func TestSchemasRefuse(t *testing.T) {
	_, rep := fixture(t)
	c := reporttest.Schemas(t)
	decode := func(b []byte) map[string]any {
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	st := decode(write(t, export.FormatInToto, rep))
	st["subject"].([]any)[0].(map[string]any)["digest"] = map[string]any{}
	if reporttest.Validate(t, c, statementSchema, reporttest.Marshal(t, st)) == nil {
		t.Error("a subject with an empty digest set validates")
	}
	pred := decode(write(t, export.FormatInToto, rep))["predicate"].(map[string]any)
	delete(pred["runDetails"].(map[string]any)["builder"].(map[string]any), "id")
	if reporttest.Validate(t, c, provenanceSchema, reporttest.Marshal(t, pred)) == nil {
		t.Error("provenance without builder.id validates")
	}
	line, _, _ := strings.Cut(string(write(t, export.FormatOpenLineage, rep)), "\n")
	ev := decode([]byte(line))
	ev["run"].(map[string]any)["runId"] = "not-a-uuid"
	if reporttest.Validate(t, c, openLineageCore, reporttest.Marshal(t, ev)) == nil {
		t.Error("an OpenLineage event with a bad runId validates")
	}
	bom := decode(write(t, export.FormatCycloneDX, rep))
	bom["metadata"].(map[string]any)["component"].(map[string]any)["hashes"].([]any)[0].(map[string]any)["alg"] = "BLAKE4"
	if reporttest.Validate(t, c, cycloneDXSchema, reporttest.Marshal(t, bom)) == nil {
		t.Error("a BOM with an unknown hash algorithm validates")
	}
}
