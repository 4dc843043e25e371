package governance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/trove-dev/trove/governance/policy"
	"github.com/trove-dev/trove/manifest"
)

// commitAll stages everything and commits it at when.
func (tr *testRepo) commitAll(msg string, when time.Time) string {
	tr.t.Helper()
	wt, err := tr.g.Worktree()
	if err != nil {
		tr.t.Fatal(err)
	}
	if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		tr.t.Fatal(err)
	}
	sig := &object.Signature{Name: "Dev", Email: "dev@example.com", When: when}
	h, err := wt.Commit(msg, &git.CommitOptions{Author: sig, Committer: sig})
	if err != nil {
		tr.t.Fatal(err)
	}
	tr.head = h
	return h.String()
}

// write creates a file of the repository.
func (tr *testRepo) write(rel, content string) {
	tr.t.Helper()
	p := filepath.Join(tr.dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		tr.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		tr.t.Fatal(err)
	}
}

func (tr *testRepo) add(rel string, opt manifest.AddOptions) *manifest.Manifest {
	tr.t.Helper()
	opt.Cwd = tr.dir
	if _, err := tr.r.Add(context.Background(), []string{rel}, opt); err != nil {
		tr.t.Fatal(err)
	}
	m, err := tr.r.ReadManifest(rel)
	if err != nil {
		tr.t.Fatal(err)
	}
	return m
}

// trainModel records a model version as `trove run` would: its inputs by
// digest and role, HEAD as the code commit, the metrics it wrote.
func (tr *testRepo) trainModel(content string, metrics map[string]float64, inputs ...manifest.Input) *manifest.Manifest {
	tr.t.Helper()
	tr.write("models/m.bin", content)
	lin := &manifest.Lineage{
		Code:    &manifest.Code{Commit: tr.head.String()},
		Inputs:  inputs,
		Started: "2026-03-02T09:00:00Z", Ended: "2026-03-02T09:30:00Z",
		Command: []string{"python", "train.py"},
	}
	return tr.add("models/m.bin", manifest.AddOptions{Kind: manifest.KindModel, Name: "m", Lineage: lin, Metrics: metrics})
}

// gateRepo is a repository with two datasets (train, profiled; eval) committed
// on 2026-02-01, and model m v0.0.2 trained on them, registered on 2026-03-02.
func gateRepo(t *testing.T) (tr *testRepo, train, eval *manifest.Manifest) {
	tr = newTestRepo(t) // m v1, unregistered, at 2026-03-01
	tr.write("data/train.csv", "a,b\n1,2\n3,4\n")
	tr.write("data/eval.csv", "a,b\n5,6\n")
	train = tr.add("data/train.csv", manifest.AddOptions{Meta: map[string]string{"owner": "data-team", "license": "internal"}})
	// A profile, as a tabular add would record it.
	train.Profile = &manifest.Profile{Format: "csv", Rows: 2, Columns: []manifest.Column{{Name: "a", Type: "int"}, {Name: "b", Type: "int", Nulls: 1}}}
	b, err := manifest.Encode(train)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tr.dir, "data", "train.csv.trove"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	eval = tr.add("data/eval.csv", manifest.AddOptions{})
	tr.commitAll("data", time.Date(2026, 2, 1, 8, 0, 0, 0, time.UTC))
	tr.trainModel("weights v2", map[string]float64{"accuracy": 0.91, "p95_latency_ms": 30},
		manifest.Input{Digest: train.Digest, Path: "data/train.csv", Role: "train"},
		manifest.Input{Digest: eval.Digest, Path: "data/eval.csv", Role: "eval", Kind: manifest.KindDataset})
	tr.commitAll("train", time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC))
	tr.now = time.Date(2026, 3, 2, 11, 0, 0, 0, time.UTC)
	if _, err := Register(context.Background(), tr.r, tr.w, RegisterOptions{Name: "m", Version: "v0.0.2", Cwd: tr.dir}); err != nil {
		t.Fatal(err)
	}
	return tr, train, eval
}

func TestBuildInputRegistered(t *testing.T) {
	ctx := context.Background()
	tr, train, eval := gateRepo(t)
	p, err := policy.Parse(".trove/policy.yaml", []byte("version: 1\nstages: [dev, staging, production]\nrules:\n  - {id: order, type: stage_order}\n"))
	if err != nil {
		t.Fatal(err)
	}
	tr.now = time.Date(2026, 3, 5, 12, 30, 15, 999, time.UTC)
	in, err := BuildInput(ctx, tr.r, tr.w, BuildOptions{Name: "m", Version: "0.0.2", TargetStage: "staging", Policy: p})
	if err != nil {
		t.Fatal(err)
	}
	s := in.Subject
	if s.Name != "m" || s.Version != "v0.0.2" || s.Path != "models/m.bin" || s.Kind != "model" || s.Size != int64(len("weights v2")) {
		t.Errorf("subject %+v", s)
	}
	if s.Metrics["accuracy"] != 0.91 || len(s.Metrics) != 2 {
		t.Errorf("metrics %v", s.Metrics)
	}
	if !in.Now.Equal(time.Date(2026, 3, 5, 12, 30, 15, 0, time.UTC)) {
		t.Errorf("now %v: want the World's clock, to the second", in.Now)
	}
	if in.PolicyDigest != p.Digest.String() || in.TargetStage != "staging" || in.CurrentStage != "" || in.StageHolder != nil {
		t.Errorf("policy digest %q, target %q, current %q, holder %+v", in.PolicyDigest, in.TargetStage, in.CurrentStage, in.StageHolder)
	}
	if in.Author != "Reg Tester <reg@example.com>" {
		t.Errorf("author %q: want the registering identity", in.Author)
	}
	if in.RemotePresent != nil || len(in.Approvals) != 0 {
		t.Errorf("remote_present %v, approvals %v", in.RemotePresent, in.Approvals)
	}
	lin := s.Lineage
	if lin.Code == nil || lin.Code.Dirty || !lin.Code.OnProtectedBranch || len(lin.Code.Commit) != 40 {
		t.Errorf("code %+v: a clean commit on master", lin.Code)
	}
	if lin.Started.Format(time.RFC3339) != "2026-03-02T09:00:00Z" || lin.Ended.Format(time.RFC3339) != "2026-03-02T09:30:00Z" {
		t.Errorf("started %v, ended %v", lin.Started, lin.Ended)
	}
	if len(lin.Inputs) != 2 {
		t.Fatalf("inputs %+v", lin.Inputs)
	}
	ev, tn := lin.Inputs[0], lin.Inputs[1] // sorted by role
	dataAt := time.Date(2026, 2, 1, 8, 0, 0, 0, time.UTC)
	if tn.Role != "train" || tn.Digest != train.Digest.String() || tn.Kind != "dataset" || tn.Meta["owner"] != "data-team" || !tn.AddedAt.Equal(dataAt) {
		t.Errorf("train input %+v", tn)
	}
	if tn.Profile == nil || tn.Profile.Rows != 2 || len(tn.Profile.Columns) != 2 || tn.Profile.Columns[1] != (policy.Column{Name: "b", Type: "int", Nulls: 1}) {
		t.Errorf("train profile %+v", tn.Profile)
	}
	if ev.Role != "eval" || ev.Digest != eval.Digest.String() || ev.Profile == nil || !ev.AddedAt.Equal(dataAt) || len(ev.Meta) != 0 {
		t.Errorf("eval input %+v", ev)
	}

	// The same facts give the same document, byte for byte.
	again, err := BuildInput(ctx, tr.r, tr.w, BuildOptions{Name: "m", Version: "v0.0.2", TargetStage: "staging", Policy: p})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := policy.CanonicalJSON(in)
	b, _ := policy.CanonicalJSON(again)
	if !bytes.Equal(a, b) {
		t.Errorf("two builds differ:\n%s\n%s", a, b)
	}
	// The document has the documented top-level keys, and nothing else.
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(a, &doc); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range doc {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if got := strings.Join(keys, ","); got != "approvals,author,current_stage,now,policy_digest,remote_present,stage_holder,subject,target_stage" {
		t.Errorf("top-level keys %s", got)
	}

	// Not on a protected branch when none of the named branches has it.
	in, err = BuildInput(ctx, tr.r, tr.w, BuildOptions{Name: "m", Version: "v0.0.2", ProtectedBranches: []string{"release"}})
	if err != nil {
		t.Fatal(err)
	}
	if in.Subject.Lineage.Code.OnProtectedBranch {
		t.Error("on_protected_branch with only 'release' protected")
	}

	// Unknown versions and bad references are the registry's errors.
	if _, err := BuildInput(ctx, tr.r, tr.w, BuildOptions{Name: "m", Version: "v9.9.9"}); !errors.Is(err, ErrUnknownVersion) {
		t.Errorf("unknown version: %v", err)
	}
	if _, err := BuildInput(ctx, tr.r, tr.w, BuildOptions{Name: "m", Version: "v0.0.2", Path: "models/m.bin"}); !errors.Is(err, ErrBadRef) {
		t.Errorf("name and path: %v", err)
	}
}

// The gate on Promote: a denial writes nothing; an allowance keeps the
// decision in the record; the next version sees the holder to compare with.
func TestPolicyGate(t *testing.T) {
	ctx := context.Background()
	tr, train, eval := gateRepo(t)
	p, err := policy.Parse(".trove/policy.yaml", []byte(`version: 1
stages: [dev, staging, production]
rules:
  - {id: accuracy-floor, type: metric, stages: [production], metric: accuracy, op: ">=", value: 0.9}
  - {id: no-regression, type: no_regression, stages: [production], metric: accuracy, tolerance: 0.01}
  - {id: on-remote, type: remote_present}
  - {id: order, type: stage_order}
`))
	if err != nil {
		t.Fatal(err)
	}
	present := true
	var seen []policy.Decision
	gate := PolicyGate(tr.r, tr.w, GateOptions{
		Build:     BuildOptions{Policy: p, RemotePresent: &present},
		Evaluated: func(in policy.Input, d policy.Decision) { seen = append(seen, d) },
	})
	promote := func(version, stage string) (*TagResult, error) {
		tr.now = tr.now.Add(time.Hour)
		return Promote(ctx, tr.r, tr.w, PromoteOptions{Ref: Ref{Name: "m", Version: version}, Stage: stage, Stages: DefaultStages, Gate: gate})
	}
	// Skipping stages is denied by stage_order, naming the rule.
	if _, err := promote("v0.0.2", "production"); !errors.Is(err, ErrDenied) || !strings.Contains(err.Error(), "order") {
		t.Fatalf("skipping to production: %v", err)
	}
	if reg, _ := ReadRegistry(tr.dir); len(reg.Events) != 1 {
		t.Errorf("a denied promotion wrote a tag: %+v", reg.Events)
	}
	for _, stage := range []string{"dev", "staging", "production"} {
		res, err := promote("v0.0.2", stage)
		if err != nil {
			t.Fatalf("promote to %s: %v", stage, err)
		}
		var d policy.Decision
		if err := json.Unmarshal(res.Record.Decision, &d); err != nil {
			t.Fatalf("record decision %s: %v", res.Record.Decision, err)
		}
		last := seen[len(seen)-1]
		want, _ := last.JSON()
		if !d.Allowed || d.PolicyDigest != p.Digest.String() || d.InputDigest == "" || !bytes.Equal(res.Record.Decision, want) {
			t.Errorf("%s: decision in the record %s, evaluated %s", stage, res.Record.Decision, want)
		}
		if d.EvaluatedAt.Format(time.RFC3339) != res.Record.At {
			t.Errorf("%s: evaluated at %v, recorded at %s", stage, d.EvaluatedAt, res.Record.At)
		}
	}

	// v0.0.3, trained on the same eval data: the production holder is v0.0.2.
	tr.trainModel("weights v3", map[string]float64{"accuracy": 0.895},
		manifest.Input{Digest: train.Digest, Path: "data/train.csv", Role: "train"},
		manifest.Input{Digest: eval.Digest, Path: "data/eval.csv", Role: "eval"})
	tr.commitAll("train v3", tr.now)
	if _, err := Register(ctx, tr.r, tr.w, RegisterOptions{Name: "m", Version: "v0.0.3", Cwd: tr.dir}); err != nil {
		t.Fatal(err)
	}
	in, err := BuildInput(ctx, tr.r, tr.w, BuildOptions{Name: "m", Version: "v0.0.3", TargetStage: "production", Policy: p})
	if err != nil {
		t.Fatal(err)
	}
	h := in.StageHolder
	if h == nil || h.Version != "v0.0.2" || h.EvalDigest != eval.Digest.String() || h.Metrics["accuracy"] != 0.91 || len(h.Inputs) != 2 || h.Inputs[1].Profile == nil {
		t.Fatalf("stage holder %+v", h)
	}
	d := policy.Evaluate(p, in)
	for _, r := range d.Results {
		if r.Rule == "no-regression" && r.Status != policy.StatusFail {
			t.Errorf("no-regression: %+v", r)
		}
		if r.Rule == "accuracy-floor" && r.Status != policy.StatusFail {
			t.Errorf("accuracy-floor: %+v", r)
		}
		if r.Rule == "on-remote" && r.Status != policy.StatusError {
			t.Errorf("on-remote without remote_present: %+v", r)
		}
	}
	if got := strings.Join(FailedRules(d), ","); got != "accuracy-floor,no-regression,on-remote,order" {
		t.Errorf("failed rules %s", got)
	}

	// The working tree's model is v0.0.3: a path check is that version.
	in, err = BuildInput(ctx, tr.r, tr.w, BuildOptions{Path: "m.bin", Cwd: filepath.Join(tr.dir, "models"), TargetStage: "production"})
	if err != nil {
		t.Fatal(err)
	}
	if in.Subject.Name != "m" || in.Subject.Version != "v0.0.3" || in.StageHolder == nil || in.PolicyDigest != "" {
		t.Errorf("path subject %+v, holder %+v", in.Subject, in.StageHolder)
	}
	// And v0.0.2 by path is in production now.
	in, err = BuildInput(ctx, tr.r, tr.w, BuildOptions{Name: "m", Version: "v0.0.2"})
	if err != nil {
		t.Fatal(err)
	}
	if in.CurrentStage != "production" {
		t.Errorf("current stage %q, want the highest held", in.CurrentStage)
	}
}

func TestStagedArtifacts(t *testing.T) {
	ctx := context.Background()
	tr, train, _ := gateRepo(t)
	ts, err := StagedArtifacts(ctx, tr.r)
	if err != nil || len(ts) != 0 {
		t.Fatalf("nothing staged: %v %v", ts, err)
	}
	// A new model version, staged but not committed; its new input is pending.
	tr.write("data/extra.csv", "x\n1\n")
	extra := tr.add("data/extra.csv", manifest.AddOptions{})
	m := tr.trainModel("weights v4", map[string]float64{"accuracy": 0.5},
		manifest.Input{Digest: train.Digest, Path: "data/train.csv", Role: "train"},
		manifest.Input{Digest: extra.Digest, Path: "data/extra.csv", Role: "train"})
	wt, _ := tr.g.Worktree()
	if _, err := wt.Add("models/m.bin.trove"); err != nil {
		t.Fatal(err)
	}
	ts, err = StagedArtifacts(ctx, tr.r)
	if err != nil || len(ts) != 1 || ts[0].Path != "models/m.bin" || ts[0].Manifest.Digest != m.Digest {
		t.Fatalf("staged: %+v %v", ts, err)
	}
	pending := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	in, err := BuildInput(ctx, tr.r, tr.w, BuildOptions{Path: ts[0].Path, Manifest: ts[0].Manifest, PendingAt: pending})
	if err != nil {
		t.Fatal(err)
	}
	if in.Subject.Version != "" || in.Subject.Name != "m" || in.Author != "" {
		t.Errorf("staged subject %+v, author %q", in.Subject, in.Author)
	}
	for _, r := range in.Subject.Lineage.Inputs {
		want := time.Date(2026, 2, 1, 8, 0, 0, 0, time.UTC)
		if r.Path == "data/extra.csv" {
			want = pending
		}
		if !r.AddedAt.Equal(want) {
			t.Errorf("%s added_at %v, want %v", r.Path, r.AddedAt, want)
		}
	}
}

func TestReadGateConfig(t *testing.T) {
	tr := newTestRepo(t)
	gc, err := ReadGateConfig(tr.r)
	if err != nil || gc.Policy != nil || gc.Allowed != nil || gc.Roles != nil {
		t.Fatalf("nothing configured: %+v %v", gc, err)
	}
	tr.write(".trove/policy.yaml", "version: 1\nrules:\n  - {id: x, type: metric, metric: acc, op: '>=', value: 1}\n  - {id: y, type: cel, expr: 'metrics.acc >'}\n")
	_, err = ReadGateConfig(tr.r)
	var pe *policy.ParseError
	if !errors.As(err, &pe) || len(pe.Errors) != 1 || pe.Errors[0].Line != 4 || pe.Errors[0].Column == 0 {
		t.Fatalf("a bad CEL expression: %v", err)
	}
	tr.write(".trove/policy.yaml", "version: 1\nstages: [dev, prod]\nrules: []\n")
	tr.write(".trove/roles.yaml", "version: 1\nroles:\n  model-risk: [alice@example.com]\n")
	gc, err = ReadGateConfig(tr.r)
	if err != nil || gc.Policy == nil || gc.Roles == nil || len(gc.Policy.Stages) != 2 {
		t.Fatalf("policy and roles: %+v %v", gc, err)
	}
}

func TestPolicyFixture(t *testing.T) {
	p, err := policy.Parse("policy.yaml", []byte(`version: 1
stages: [dev, staging, production]
rules:
  - {id: accuracy-floor, type: metric, stages: [production], metric: accuracy, op: ">=", value: 0.9}
  - {id: sign-off, type: approvals, stages: [production], min: 1}
`))
	if err != nil {
		t.Fatal(err)
	}
	fx, err := ParsePolicyFixture("ok.yaml", []byte(`
input:
  now: 2026-03-01T12:00:00Z
  target_stage: production
  author: Ada <ada@example.com>
  subject: {name: churn, kind: model, digest: "blake3:aa", metrics: {accuracy: 0.95}}
  approvals:
    - {signer: bob@example.com, digest: "blake3:aa", stage: production, at: 2026-03-01T10:00:00Z, valid_signature: true}
expect:
  allowed: true
  results: {accuracy-floor: pass, sign-off: pass}
`))
	if err != nil {
		t.Fatal(err)
	}
	if fx.Name != "ok.yaml" {
		t.Errorf("name %q", fx.Name)
	}
	if res := fx.Run(p); !res.Pass {
		t.Errorf("fixture: %+v", res)
	}
	fx.Expect.Results["accuracy-floor"] = policy.StatusFail
	fx.Expect.Results["nope"] = policy.StatusPass
	res := fx.Run(p)
	if res.Pass || len(res.Mismatches) != 2 || !strings.HasPrefix(res.Mismatches[0], "rule accuracy-floor: got pass, want fail") ||
		!strings.HasPrefix(res.Mismatches[1], "rule nope: the policy has no such rule") {
		t.Errorf("mismatches %q", res.Mismatches)
	}
	for _, bad := range []string{
		"input: {now: 2026-03-01T12:00:00Z}\n",                            // no expect
		"expect: {allowed: true}\n",                                       // no input
		"input: {subjct: {}}\nexpect: {allowed: true}\n",                  // unknown input key
		"input: {}\nexpect: {allowed: true, results: {a: passed}}\n",      // bad status
		"input: {}\nexpect: {allowed: true}\nextra: 1\n",                  // unknown key
		"input: {now: yesterday}\nexpect: {allowed: true}\n",              // not a time
		"input: {remote_present: maybe}\nexpect: {allowed: true}\n",       // not a bool
		"input: [1, 2]\nexpect: {allowed: true}\n",                        // not a document
		"input: {subject: {metrics: {a: x}}}\nexpect: {allowed: false}\n", // not a number
	} {
		if _, err := ParsePolicyFixture("bad.yaml", []byte(bad)); !errors.Is(err, ErrFixture) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
