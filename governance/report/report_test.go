package report_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/net/html"

	"github.com/trove-dev/trove/governance"
	"github.com/trove-dev/trove/governance/report"
	"github.com/trove-dev/trove/governance/report/reporttest"
	tsign "github.com/trove-dev/trove/governance/sign"
	"github.com/trove-dev/trove/manifest"
)

var stages = []string{"dev", "staging", "production"}

func build(t *testing.T, f *reporttest.Fixture, ref string, mod ...func(*report.Options)) *report.Report {
	t.Helper()
	opt := report.Options{Ref: ref, Stages: stages, Now: time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC), Generator: "trove test"}
	for _, m := range mod {
		m(&opt)
	}
	rep, err := report.Build(context.Background(), f.Repo, opt)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func checkStatus(t *testing.T, rep *report.Report, id string) string {
	t.Helper()
	for _, c := range rep.Verification {
		if c.ID == id {
			return c.Status
		}
	}
	t.Fatalf("no check %s in %+v", id, rep.Verification)
	return ""
}

func TestBuild(t *testing.T) {
	f := reporttest.Pipeline(t)
	rep := build(t, f, "churn@production")

	s := rep.Subject
	sum := sha256.Sum256([]byte("model two"))
	if s.Name != "churn" || s.Version != "v0.0.2" || s.Path != "models/model.bin" || s.Kind != "model" || s.Type != "file" || s.Size != 9 {
		t.Errorf("subject: %+v", s)
	}
	if s.Digests.BLAKE3 != f.V2 || s.Digests.SHA256 != "sha256:"+hex.EncodeToString(sum[:]) || s.SHA256Source != report.SHA256Computed {
		t.Errorf("digests: %+v (%s)", s.Digests, s.SHA256Source)
	}
	if s.ManifestCommit != f.V2Commit || s.RecordedIn != f.V2TrainCommit || s.Tag != "churn@v0.0.2" || s.RegisteredBy != "Rel Eng <releng@example.com>" {
		t.Errorf("registration: %+v", s)
	}
	if strings.Join(s.Stages, ",") != "staging,production" || s.Deprecated {
		t.Errorf("stages: %v", s.Stages)
	}
	if rep.IntendedUse == "" || rep.Limitations == "" || rep.Producer.Tool != "trove run" || strings.Join(rep.Producer.Command, " ") != "python train.py --lr 0.05" {
		t.Errorf("use %q, limitations %q, producer %+v", rep.IntendedUse, rep.Limitations, rep.Producer)
	}
	if rep.Parameters["lr"] != "0.05" || rep.Environment["python"] != "3.12.1" || rep.Code == nil || rep.Code.Commit != f.PrepCommit || !rep.Code.InRepository {
		t.Errorf("params %v env %v code %+v", rep.Parameters, rep.Environment, rep.Code)
	}

	// The data: both inputs, resolved to the commit that recorded them.
	if len(rep.Data) != 2 || rep.Data[0].Role != "eval" || rep.Data[1].Role != "train" {
		t.Fatalf("data: %+v", rep.Data)
	}
	for _, d := range rep.Data {
		if !d.Resolved || d.Version != f.PrepCommit || d.Kind != "dataset" {
			t.Errorf("input %+v", d)
		}
	}

	// The lineage: model <- train, eval <- raw, in two steps.
	lin := rep.Lineage
	if len(lin.Nodes) != 4 || len(lin.Edges) != 4 || len(lin.Runs) != 2 {
		t.Fatalf("lineage: %d nodes, %d edges, %d runs", len(lin.Nodes), len(lin.Edges), len(lin.Runs))
	}
	depth := map[string]int{}
	for _, n := range lin.Nodes {
		depth[n.Path] = n.Depth
	}
	if depth["models/model.bin"] != 0 || depth["data/train.csv"] != 1 || depth["data/eval.csv"] != 1 || depth["data/raw.csv"] != 2 {
		t.Errorf("depths: %v", depth)
	}
	prep, tr := lin.Runs[0], lin.Runs[1]
	if strings.Join(prep.Command, " ") != "sh prepare.sh" || len(prep.Outputs) != 2 || len(prep.Inputs) != 1 || prep.Inputs[0].Rows == nil || *prep.Inputs[0].Rows != 3 || len(prep.Inputs[0].Schema) != 3 {
		t.Errorf("prepare step: %+v", prep)
	}
	if tr.Outputs[0].Path != "models/model.bin" || tr.Metrics["accuracy"] != 0.93 || tr.Started != "2026-03-05T10:00:00Z" {
		t.Errorf("train step: %+v", tr)
	}
	for _, n := range lin.Nodes {
		if n.Path == "data/raw.csv" && (n.Meta["license"] != "CC-BY-4.0" || n.Meta["classification"] != "internal" || n.Run != "") {
			t.Errorf("raw node: %+v", n)
		}
	}

	// Metrics against the policy and the version v0.0.2 replaced.
	c := rep.Comparison
	if c == nil || c.Version != "v0.0.1" || c.Stage != "production" || !c.SameEvalData || c.Digest != f.V1 {
		t.Fatalf("comparison: %+v", c)
	}
	var acc report.Metric
	for _, m := range rep.Metrics {
		if m.Name == "accuracy" {
			acc = m
		}
	}
	if acc.Value != 0.93 || acc.Previous == nil || *acc.Previous != 0.91 || acc.Delta == nil || *acc.Delta != 0.02 || len(acc.Thresholds) != 2 {
		t.Fatalf("accuracy: %+v", acc)
	}
	for _, th := range acc.Thresholds {
		if th.Pass == nil || !*th.Pass {
			t.Errorf("threshold %+v does not pass", th)
		}
	}

	// Decisions, waivers, history.
	if len(rep.Decisions) != 2 || rep.Decisions[0].Stage != "staging" || rep.Decisions[1].Stage != "production" {
		t.Fatalf("decisions: %+v", rep.Decisions)
	}
	prod := rep.Decisions[1]
	if !prod.Recorded || prod.Allowed == nil || !*prod.Allowed || len(prod.Results) != 2 || prod.Results[1].Status != "waived" || prod.Results[1].Waiver == nil {
		t.Errorf("production decision: %+v", prod)
	}
	var sources []string
	for _, w := range rep.Waivers {
		sources = append(sources, w.Source)
		if w.Rule != "fresh-data" || !w.Active {
			t.Errorf("waiver: %+v", w)
		}
	}
	if strings.Join(sources, ",") != "policy,churn#production#4" {
		t.Errorf("waiver sources: %v", sources)
	}
	if len(rep.StageHistory) != 4 || rep.StageHistory[0].Subject || !rep.StageHistory[3].Subject || rep.StageHistory[1].EndedBy != "churn#production#4" {
		t.Errorf("history: %+v", rep.StageHistory)
	}
	ap := rep.Approvals
	if ap.Status != "loaded" || len(ap.Items) != 1 {
		t.Fatalf("approvals: %+v", ap)
	}
	if a := ap.Items[0]; a.Signer != "alice@example.com" || !a.ValidSignature || a.Stage != "production" || a.Digest != f.V2 ||
		strings.Join(a.Roles, ",") != "model-risk" || a.Comment != "model risk review MR-42" || a.Key != f.Alice || a.At != "2026-03-07T12:00:00Z" {
		t.Errorf("approval: %+v", a)
	}

	// Who and when: every time is self-asserted, and sorted.
	var roles []string
	for _, a := range rep.Authors {
		roles = append(roles, a.Role+"="+a.Identity+"/"+a.Signature)
	}
	want := []string{
		"recorded the model's manifest=Mo Model <mo@example.com>/unsigned",
		"wrote the code the step ran=Dana Data <dana@example.com>/unsigned",
		"registered v0.0.2=Rel Eng <releng@example.com>/unsigned",
		"promoted to staging=Rel Eng <releng@example.com>/unsigned",
		"promoted to production=Rel Eng <releng@example.com>/signed (not verified here)",
		"approved for production=alice@example.com/valid (verified against .trove/allowed_signers)",
	}
	if strings.Join(roles, "\n") != strings.Join(want, "\n") {
		t.Errorf("authors:\n%s\nwant:\n%s", strings.Join(roles, "\n"), strings.Join(want, "\n"))
	}
	for i, tm := range rep.Times {
		if !tm.SelfAsserted || (i > 0 && tm.At < rep.Times[i-1].At) {
			t.Errorf("time %+v", tm)
		}
	}

	// The transcript: everything holds together.
	if rep.Failed() {
		t.Errorf("a check failed: %+v", rep.Verification)
	}
	for id, want := range map[string]string{
		"registry.record": "pass", "manifest.digest": "pass", "store.object": "pass", "content.blake3": "pass",
		"content.sha256": "pass", "lineage.resolved": "pass", "step.inputs:run1": "pass", "step.inputs:run2": "pass",
		"policy.file": "pass", "decision:churn#production#4": "pass", "registry.promotion:churn#staging#3": "pass",
		"registry.replay": "pass", "git.signatures": "skip", "approvals.load": "pass", "step.times:run1": "pass", "step.times:run2": "pass",
	} {
		if got := checkStatus(t, rep, id); got != want {
			t.Errorf("check %s: %s, want %s", id, got, want)
		}
	}

	// A second report takes the SHA-256 from the cache, keyed by BLAKE3.
	cached := filepath.Join(f.Dir, ".trove", "cache", "sha256", strings.TrimPrefix(f.V2, "blake3:"))
	if b, err := os.ReadFile(cached); err != nil || strings.TrimSpace(string(b)) != hex.EncodeToString(sum[:]) {
		t.Fatalf("cache %s: %q, %v", cached, b, err)
	}
	again := build(t, f, "churn@v0.0.2")
	if again.Subject.SHA256Source != report.SHA256Cache || again.Subject.Digests.SHA256 != s.Digests.SHA256 || checkStatus(t, again, "content.blake3") != "skip" {
		t.Errorf("second report: %s %s", again.Subject.SHA256Source, again.Subject.Digests.SHA256)
	}
	rehashed := build(t, f, "churn@v0.0.2", func(o *report.Options) { o.Rehash, o.InputSHA256 = true, true })
	if rehashed.Subject.SHA256Source != report.SHA256Computed {
		t.Errorf("--rehash: %s", rehashed.Subject.SHA256Source)
	}
	trainSum := sha256.Sum256([]byte("id,x,label\n1,0.5,a\n2,0.7,b\n"))
	if rehashed.Data[1].SHA256 != "sha256:"+hex.EncodeToString(trainSum[:]) {
		t.Errorf("input sha256: %+v", rehashed.Data[1])
	}
}

func TestBuildRefs(t *testing.T) {
	f := reporttest.Pipeline(t)
	for ref, want := range map[string]string{
		"churn": "v0.0.2", "churn@latest": "v0.0.2", "churn@v0.0.1": "v0.0.1", "churn@0.0.1": "v0.0.1",
		"churn@staging": "v0.0.2", "churn#production": "v0.0.2",
	} {
		if got := build(t, f, ref).Subject.Version; got != want {
			t.Errorf("%s: %s, want %s", ref, got, want)
		}
	}
	v1 := build(t, f, "churn@v0.0.1")
	if v1.Comparison == nil || v1.Comparison.Version != "v0.0.2" || v1.Comparison.Basis != "holds production now" {
		t.Errorf("v0.0.1 is compared with %+v", v1.Comparison)
	}
	if v1.Subject.RecordedIn != f.V1Commit || len(v1.Subject.Stages) != 0 || len(v1.Decisions) != 2 {
		t.Errorf("v0.0.1: %+v, %d decisions", v1.Subject, len(v1.Decisions))
	}
	// v0.0.1 was promoted before the policy file was committed: its
	// decisions name another policy than the one there is now.
	if got := checkStatus(t, v1, "decision:churn#production#2"); got != report.CheckWarn {
		t.Errorf("decision under an older policy: %s", got)
	}
	for ref, want := range map[string]error{
		"nope": governance.ErrUnknownModel, "churn@v9.9.9": governance.ErrUnknownVersion,
		"churn#dev": governance.ErrUnknownVersion, "churn@x y": governance.ErrBadRef,
	} {
		_, err := report.Build(context.Background(), f.Repo, report.Options{Ref: ref, Stages: stages})
		if !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", ref, err, want)
		}
	}
}

// An approval whose signer is not in the allowed-signers file does not count,
// and the report says why.
func TestApprovalNotCounting(t *testing.T) {
	f := reporttest.Pipeline(t)
	if err := os.Remove(filepath.Join(f.Dir, ".trove", "allowed_signers")); err != nil {
		t.Fatal(err)
	}
	rep := build(t, f, "churn@v0.0.2")
	if a := rep.Approvals.Items; len(a) != 1 || a[0].ValidSignature || a[0].Problem == "" {
		t.Fatalf("approvals: %+v", rep.Approvals)
	}
	if checkStatus(t, rep, "approvals.load") != report.CheckWarn {
		t.Errorf("approvals check: %s", checkStatus(t, rep, "approvals.load"))
	}
	var md bytes.Buffer
	if err := report.WriteMarkdown(&md, rep); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "| alice@example.com | - | production | 2026-03-07T12:00:00Z | model risk review MR-42 | **does not count**: signer is not allowed") {
		t.Errorf("markdown approvals:\n%s", md.String())
	}
}

func TestParseRef(t *testing.T) {
	for in, want := range map[string]governance.Ref{
		"m":            {Name: "m"},
		"m@v1.2.3":     {Name: "m", Version: "v1.2.3"},
		"m@staging":    {Name: "m", Stage: "staging"},
		"m#production": {Name: "m", Stage: "production"},
	} {
		got, err := report.ParseRef(in, stages)
		if err != nil || got != want {
			t.Errorf("%s: %+v, %v", in, got, err)
		}
	}
	if _, err := report.ParseRef("m@qa", stages); err == nil {
		t.Error("m@qa (not a stage, not a version) parsed")
	}
}

// Without the bytes in the local store there is no SHA-256, and the report
// says so instead of failing.
func TestBytesNotLocal(t *testing.T) {
	f := reporttest.Pipeline(t)
	for _, d := range []string{"store", "cache"} {
		if err := os.RemoveAll(filepath.Join(f.Dir, ".trove", d)); err != nil {
			t.Fatal(err)
		}
	}
	r, err := manifest.Open(f.Dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rep, err := report.Build(context.Background(), r, report.Options{Ref: "churn", Stages: stages, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	s := rep.Subject
	if s.Digests.SHA256 != "" || s.SHA256Source != report.SHA256Unavailable || !strings.Contains(s.SHA256Note, "not in the local store") {
		t.Errorf("subject: %+v", s)
	}
	if checkStatus(t, rep, "store.object") != "skip" || checkStatus(t, rep, "content.sha256") != "skip" || rep.Failed() {
		t.Errorf("transcript: %+v", rep.Verification)
	}
	var md bytes.Buffer
	if err := report.WriteMarkdown(&md, rep); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "| SHA-256 | *not available*: the bytes are not in the local store") {
		t.Errorf("markdown does not say the bytes are missing:\n%s", md.String())
	}
}

// Bytes that do not match their digest are a failed check, and no SHA-256 is
// computed from them (or cached).
func TestCorruptBytes(t *testing.T) {
	f := reporttest.Pipeline(t)
	packs, _ := filepath.Glob(filepath.Join(f.Dir, ".trove", "store", "packs", "*", "*"))
	if len(packs) == 0 {
		packs, _ = filepath.Glob(filepath.Join(f.Dir, ".trove", "store", "packs", "*"))
	}
	corrupted := 0
	for _, p := range packs {
		fi, err := os.Stat(p)
		if err != nil || fi.IsDir() || strings.HasSuffix(p, ".idx") {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		// "model two" is in one of the packs: damage it wherever it is.
		if i := bytes.Index(b, []byte("model two")); i >= 0 {
			b[i] ^= 0xff
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			corrupted++
		}
	}
	if corrupted == 0 {
		t.Fatalf("the model's bytes are in none of %v", packs)
	}
	r, err := manifest.Open(f.Dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rep, err := report.Build(context.Background(), r, report.Options{Ref: "churn", Stages: stages, Rehash: true, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Failed() || checkStatus(t, rep, "content.blake3") != "fail" || rep.Subject.Digests.SHA256 != "" {
		t.Errorf("corrupt bytes: %+v\n%+v", rep.Subject, rep.Verification)
	}
}

// A signed registration tag is reported as signed, with the key the signature
// claims, and not verified.
func TestSignedTag(t *testing.T) {
	f := reporttest.Pipeline(t)
	_, priv, err := ed25519.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{7}, 64)))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	f.SignTag(t, "churn@v0.0.2", func(p []byte) ([]byte, error) { return tsign.SignTagPayload(signer, p) })
	rep := build(t, f, "churn@v0.0.2")
	var reg report.Person
	for _, a := range rep.Authors {
		if a.Role == "registered v0.0.2" {
			reg = a
		}
	}
	if reg.Signature != report.SignedNotVerified || reg.SignatureType != "ssh" || reg.SignatureKey != ssh.FingerprintSHA256(signer.PublicKey()) {
		t.Errorf("signed tag: %+v", reg)
	}
	// The fixture's production promotion is signed too.
	for _, c := range rep.Verification {
		if c.ID == "git.signatures" && !strings.HasPrefix(c.Detail, "2 of 3 tags") {
			t.Errorf("signatures check: %+v", c)
		}
	}
}

func TestMarkdown(t *testing.T) {
	f := reporttest.Pipeline(t)
	rep := build(t, f, "churn@production")
	var b bytes.Buffer
	if err := report.WriteMarkdown(&b, rep); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	// Every section, in order.
	last := -1
	for _, s := range report.Sections {
		if s == "Warnings" && len(rep.Warnings) == 0 {
			continue
		}
		i := strings.Index(md, "\n## "+s+"\n")
		if i < 0 || i < last {
			t.Errorf("section %q missing or out of order", s)
		}
		last = i
	}
	for _, want := range []string{
		"# Lineage report: churn@v0.0.2\n",
		"| BLAKE3 | `" + f.V2 + "` |",
		"| SHA-256 | `sha256:",
		"| Manifest commit | `" + f.V2Commit + "` |",
		"| First recorded in | `" + f.V2TrainCommit + "` |",
		"| registered v0.0.2 | Rel Eng <releng@example.com> | \"by\" in the record of churn@v0.0.2 | 2026-03-06T09:00:00Z | unsigned |",
		"| the step started | 2026-03-05T10:00:00Z | lineage.started in the manifest: the clock of the machine that ran the step | *self-asserted* |",
		"| eval | `data/eval.csv` | dataset | `" + f.Eval + "` | commit `" + f.PrepCommit[:10] + "` | 1 | - | - | - |",
		"| `lr` | `0.05` |",
		"Compared with `churn@v0.0.1`, which held production until this version replaced it (churn#production#4); same evaluation data: yes.",
		"| accuracy | 0.93 | 0.91 | +0.02 | accuracy-floor: >= 0.9 (production): pass<br>no-regression: no regression beyond 0.005 (production): pass |",
		"**Intended use.** Rank retail customers by churn risk for retention offers.",
		"**Limitations.** Not validated outside the EU; not for credit decisions.",
		"### churn#production#4: production\n",
		"| alice@example.com | model-risk | production | 2026-03-07T12:00:00Z | model risk review MR-42 | valid | `" + f.Alice + "` | `.trove/approvals/churn/v0.0.2/production/",
		"Decision: **allowed**, evaluated at 2026-03-08T09:00:00Z",
		"| fresh-data | freshness | **waived** | 40 days | at most 30d | waived by alice@example.com until 2027-01-15T00:00:00Z: vendor delay |",
		"| fresh-data | vendor delay | alice@example.com | 2027-01-15T00:00:00Z | policy | yes |",
		"| production | **v0.0.2** | 2026-03-08T09:00:00Z | - | `churn#production#4` |",
		"```mermaid\nflowchart LR\n  n0[\"models/model.bin<br/>model<br/>",
		"  n3 -->|raw| n1\n",
		"| run1 | `sh prepare.sh` | 2026-03-01T09:10:00Z | 2026-03-01T09:11:00Z | `" + f.RawCommit[:10] + "` | raw: `data/raw.csv` | `data/eval.csv`<br>`data/train.csv` |",
		"| 1 | registration tag churn@v0.0.2 is an annotated tag whose trove record agrees with its name | **pass** |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(md)
	}
}

func TestJSONSchema(t *testing.T) {
	f := reporttest.Pipeline(t)
	c := reporttest.Schemas(t)
	for _, ref := range []string{"churn@production", "churn@v0.0.1"} {
		rep := build(t, f, ref)
		var b bytes.Buffer
		if err := report.WriteJSON(&b, rep); err != nil {
			t.Fatal(err)
		}
		if err := reporttest.Validate(t, c, report.SchemaID, b.Bytes()); err != nil {
			t.Errorf("%s: the report does not validate against its schema: %v\n%s", ref, err, b.String())
		}
	}
	// The schema bites: a report without a BLAKE3 digest, or with an
	// unknown field, is not one.
	rep := build(t, f, "churn")
	var doc map[string]any
	if err := json.Unmarshal(reporttest.Marshal(t, rep), &doc); err != nil {
		t.Fatal(err)
	}
	delete(doc["subject"].(map[string]any)["digests"].(map[string]any), "blake3")
	if err := reporttest.Validate(t, c, report.SchemaID, reporttest.Marshal(t, doc)); err == nil {
		t.Error("a report without subject.digests.blake3 validates")
	}
	doc["subject"].(map[string]any)["digests"].(map[string]any)["blake3"] = f.V2
	doc["surprise"] = true
	if err := reporttest.Validate(t, c, report.SchemaID, reporttest.Marshal(t, doc)); err == nil {
		t.Error("a report with an unknown field validates")
	}
}

func TestHTMLSelfContained(t *testing.T) {
	f := reporttest.Pipeline(t)
	rep := build(t, f, "churn@production")
	var b bytes.Buffer
	if err := report.WriteHTML(&b, rep); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	// No script, stylesheet link, import or remote resource of any kind.
	for _, re := range []string{`(?i)<script`, `(?i)<link\b`, `(?i)@import`, `(?i)url\(\s*['"]?\s*(https?:)?//`, `(?i)<iframe`, `(?i)<img\b`,
		`(?i)\b(src|href|xlink:href|action|srcset)\s*=\s*["']?\s*(https?:)?//`} {
		if m := regexp.MustCompile(re).FindString(page); m != "" {
			t.Errorf("the page has %q", m)
		}
	}
	// Parse it: every link is an anchor in the page, and every section, the
	// lineage SVG and the print rules are there.
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	ids, anchors := map[string]bool{}, []string{}
	var svg, rects, paths int
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			for _, a := range n.Attr {
				switch a.Key {
				case "id":
					ids[a.Val] = true
				case "href", "src", "xlink:href":
					anchors = append(anchors, a.Val)
				}
			}
			switch n.Data {
			case "svg":
				svg++
			case "rect":
				rects++
			case "path":
				paths++
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	for _, a := range anchors {
		if !strings.HasPrefix(a, "#") || !ids[a[1:]] {
			t.Errorf("link %q is not to an element of the page", a)
		}
	}
	for _, id := range []string{"subject", "producer-and-authors", "times", "training-and-evaluation-data", "code", "environment", "parameters",
		"metrics", "intended-use-and-limitations", "approvals", "policy-decisions", "waivers", "stage-history", "lineage", "verification-transcript"} {
		if !ids[id] {
			t.Errorf("no section #%s", id)
		}
	}
	if svg != 1 || rects != 4 || paths != 4+1 { // 4 edges and the arrow head
		t.Errorf("svg: %d svg, %d boxes, %d paths", svg, rects, paths)
	}
	for _, want := range []string{"@media print", "<title>Lineage report: churn@v0.0.2</title>", "models/model.bin", "Rank retail customers", f.V2} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}

// Whatever a manifest or a record says is text in the page, never markup.
func TestHTMLEscapes(t *testing.T) {
	rep := &report.Report{
		Subject:     report.Subject{Name: "m", Version: "v1.0.0", Meta: map[string]string{"note": `<script>alert(1)</script>`}},
		Lineage:     report.Lineage{Root: "n0", Nodes: []report.Node{{ID: "n0", Path: `<img src="https://evil.example/x.png">`, Digest: "blake3:00"}}},
		Producer:    report.Producer{Command: []string{`"><script>`}},
		IntendedUse: `<a href="https://evil.example">click</a>`,
		Approvals:   report.Approvals{Status: "none"},
	}
	var b bytes.Buffer
	if err := report.WriteHTML(&b, rep); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"<script>", "<img", `href="https://evil`} {
		if strings.Contains(b.String(), bad) {
			t.Errorf("the page has %q", bad)
		}
	}
}

func TestCommandLine(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"python", "train.py", "--lr=0.1"}, "python train.py --lr=0.1"},
		{[]string{"sh", "-c", "sh train.sh; echo 'x'"}, `sh -c 'sh train.sh; echo '\''x'\'''`},
		{[]string{"echo", ""}, "echo ''"},
	} {
		if got := report.CommandLine(tc.args); got != tc.want {
			t.Errorf("%q: %s, want %s", tc.args, got, tc.want)
		}
	}
}
