// Package reporttest builds, for tests, a real git repository holding a small
// pipeline and a registered model with two versions, promoted through a policy
// gate: what the report and the exports are built from.
package reporttest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"golang.org/x/crypto/ssh"

	"github.com/trove-dev/trove/governance"
	"github.com/trove-dev/trove/governance/policy"
	"github.com/trove-dev/trove/manifest"
	"github.com/trove-dev/trove/objects"
)

// Policy is the fixture's .trove/policy.yaml; the waiver names nothing real
// until Pipeline rewrites it with the second model's digest.
const Policy = `version: 1
stages: [dev, staging, production]
rules:
  - id: accuracy-floor
    type: metric
    stages: [production]
    metric: accuracy
    op: ">="
    value: 0.9
  - id: no-regression
    type: no_regression
    stages: [production]
    metric: accuracy
    tolerance: 0.005
  - id: fresh-data
    type: freshness
    role: train
    max_age: 30d
waivers:
  - rule: fresh-data
    artifact: "%s"
    reason: vendor delay
    approver: alice@example.com
    expires: 2027-01-15
`

// Fixture is the repository Pipeline built.
type Fixture struct {
	Dir   string
	Repo  *manifest.Repo
	Git   *git.Repository
	World governance.World
	// Commits, in order: raw data, prepared data, model v1, model v2 (and
	// the policy, which v2 is registered at).
	RawCommit, PrepCommit, V1Commit, V2TrainCommit, V2Commit string
	// Digests of the artifacts.
	Raw, Train, Eval, V1, V2 string
	// Alice is the SHA256 fingerprint of the key of the approver.
	Alice string
	// Now is the clock after the last action.
	Now time.Time
}

// Pipeline builds the repository in a temporary directory:
//
//	data/raw.csv     dataset, meta license/classification/owner, profiled
//	data/train.csv   } made from raw.csv by `sh prepare.sh` (one step)
//	data/eval.csv    }
//	models/model.bin model "churn", made from train (role train) and eval
//	                 (role eval) by `python train.py`, with parameters,
//	                 environment, metrics, intended_use and limitations
//
// then registers churn@v0.0.1 and promotes it to staging and production, and
// registers churn@v0.0.2 (better accuracy, same evaluation data) and promotes
// it to staging and production, each promotion through a gate that records a
// policy decision. The HOME, clock and git identity are the test's own.
func Pipeline(t testing.TB) *Fixture {
	t.Helper()
	ctx := context.Background()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	dir := t.TempDir()
	g, err := git.PlainInit(dir, false)
	check(t, err)
	r, _, err := manifest.Init(dir)
	check(t, err)
	t.Cleanup(func() { r.Close() })
	f := &Fixture{Dir: dir, Repo: r, Git: g, Now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	env := map[string]string{"GIT_COMMITTER_NAME": "Rel Eng", "GIT_COMMITTER_EMAIL": "releng@example.com"}
	f.World = governance.World{Now: func() time.Time { return f.Now }, Getenv: func(k string) string { return env[k] }}

	// Raw data, profiled, with its metadata.
	f.write("data/raw.csv", "id,x,label\n1,0.5,a\n2,0.7,b\n3,0.1,a\n")
	f.add("data/raw.csv", manifest.AddOptions{Meta: map[string]string{"license": "CC-BY-4.0", "classification": "internal", "owner": "Data Team <data@example.com>"}})
	f.profile("data/raw.csv", &manifest.Profile{Format: "csv", Rows: 3, Columns: []manifest.Column{{Name: "id", Type: "int64"}, {Name: "x", Type: "float64"}, {Name: "label", Type: "string"}}})
	f.RawCommit = f.commit("raw data", "Dana Data", "dana@example.com")
	f.Raw = f.digest("data/raw.csv")

	// One step makes train and eval from raw.
	prep := &manifest.Lineage{
		Code: &manifest.Code{Commit: f.RawCommit}, Command: []string{"sh", "prepare.sh"},
		Started: "2026-03-01T09:10:00Z", Ended: "2026-03-01T09:11:00Z",
		Inputs: []manifest.Input{{Digest: mustID(t, f.Raw), Kind: manifest.KindDataset, Name: "raw.csv", Path: "data/raw.csv", Role: "raw"}},
	}
	f.write("data/train.csv", "id,x,label\n1,0.5,a\n2,0.7,b\n")
	f.write("data/eval.csv", "id,x,label\n3,0.1,a\n")
	f.add("data/train.csv", manifest.AddOptions{Lineage: prep})
	f.add("data/eval.csv", manifest.AddOptions{Lineage: prep})
	f.Now = time.Date(2026, 3, 1, 9, 15, 0, 0, time.UTC)
	f.PrepCommit = f.commit("prepare", "Dana Data", "dana@example.com")
	f.Train, f.Eval = f.digest("data/train.csv"), f.digest("data/eval.csv")

	inputs := []manifest.Input{
		{Digest: mustID(t, f.Eval), Kind: manifest.KindDataset, Name: "eval.csv", Path: "data/eval.csv", Role: "eval"},
		{Digest: mustID(t, f.Train), Kind: manifest.KindDataset, Name: "train.csv", Path: "data/train.csv", Role: "train"},
	}
	meta := map[string]string{"intended_use": "Rank retail customers by churn risk for retention offers.", "limitations": "Not validated outside the EU; not for credit decisions.", "owner": "ml@example.com", "license": "internal"}
	train := func(content string, accuracy float64, lr string, started, ended string) string {
		lin := &manifest.Lineage{
			Code: &manifest.Code{Commit: f.PrepCommit, Remote: "https://git.example.com/acme/churn.git"}, Command: []string{"python", "train.py", "--lr", lr},
			Started: started, Ended: ended, Inputs: inputs,
			Params:      map[string]string{"lr": lr, "epochs": "3"},
			Environment: map[string]string{"os": "linux", "arch": "amd64", "python": "3.12.1"},
		}
		// The commit comes after the step that made what it records.
		end, _ := time.Parse(time.RFC3339, ended)
		f.Now = end.Add(4 * time.Minute)
		f.write("models/model.bin", content)
		f.add("models/model.bin", manifest.AddOptions{Kind: manifest.KindModel, Name: "churn", Lineage: lin, Meta: meta,
			Metrics: map[string]float64{"accuracy": accuracy, "loss": 0.3}})
		return f.commit("train "+content, "Mo Model", "mo@example.com")
	}

	// Version 1, promoted to staging and production.
	f.V1Commit = train("model one", 0.91, "0.1", "2026-03-01T10:00:00Z", "2026-03-01T10:30:00Z")
	f.V1 = f.digest("models/model.bin")
	f.Now = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	_, err = governance.Register(ctx, r, f.World, governance.RegisterOptions{Name: "churn", Cwd: dir, Message: "first cut"})
	check(t, err)
	f.promote("v0.0.1", "staging", time.Date(2026, 3, 3, 9, 0, 0, 0, time.UTC), nil)
	f.promote("v0.0.1", "production", time.Date(2026, 3, 4, 9, 0, 0, 0, time.UTC), nil)

	// Version 2 trained on the same data with another learning rate; the
	// policy is committed with it.
	f.V2TrainCommit = train("model two", 0.93, "0.05", "2026-03-05T10:00:00Z", "2026-03-05T10:40:00Z")
	f.V2 = f.digest("models/model.bin")
	f.write(".trove/policy.yaml", fmt.Sprintf(Policy, f.V2))
	f.V2Commit = f.commit("policy", "Rel Eng", "releng@example.com")
	f.Now = time.Date(2026, 3, 6, 9, 0, 0, 0, time.UTC)
	_, err = governance.Register(ctx, r, f.World, governance.RegisterOptions{Name: "churn", Cwd: dir})
	check(t, err)
	f.promote("v0.0.2", "staging", time.Date(2026, 3, 7, 9, 0, 0, 0, time.UTC), nil)

	// Alice, who holds model-risk, approves v0.0.2 for production.
	_, priv, err := ed25519.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{42}, 64)))
	check(t, err)
	signer, err := ssh.NewSignerFromKey(priv)
	check(t, err)
	f.Alice = ssh.FingerprintSHA256(signer.PublicKey())
	// Release engineering signs the last promotion.
	_, relPriv, err := ed25519.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{43}, 64)))
	check(t, err)
	relSigner, err := ssh.NewSignerFromKey(relPriv)
	check(t, err)
	f.write(".trove/allowed_signers", governance.AllowedSignersLine("alice@example.com", signer.PublicKey())+"\n"+
		governance.AllowedSignersLine("releng@example.com", relSigner.PublicKey())+"\n")
	f.write(".trove/roles.yaml", "version: 1\nroles:\n  model-risk: [alice@example.com]\n")
	// The trust files are committed before anyone signs under them: the audit
	// chain checks each signature against the file as of its commit.
	f.commit("signers and roles", "Rel Eng", "releng@example.com")
	allowed, err := governance.ReadAllowedSigners(r)
	check(t, err)
	roles, err := governance.ReadRoles(r)
	check(t, err)
	f.Now = time.Date(2026, 3, 7, 12, 0, 0, 0, time.UTC)
	_, err = governance.Approve(ctx, r, f.World, governance.ApproveOptions{
		Ref: governance.Ref{Name: "churn", Version: "v0.0.2"}, Stage: "production", Stages: []string{"dev", "staging", "production"},
		Comment: "model risk review MR-42", Principal: "alice@example.com", Signer: signer, Allowed: allowed, RoleFile: roles,
	})
	check(t, err)
	f.commit("approve churn@v0.0.2 for production", "Alice", "alice@example.com")
	waived := &policy.AppliedWaiver{Approver: "alice@example.com", Expires: time.Date(2027, 1, 15, 0, 0, 0, 0, time.UTC), Reason: "vendor delay"}
	f.World.TagSigner = relSigner
	f.promote("v0.0.2", "production", time.Date(2026, 3, 8, 9, 0, 0, 0, time.UTC), waived)
	f.World.TagSigner = nil
	return f
}

// promote promotes through a gate that records a decision (a waived
// freshness failure when waived is set).
func (f *Fixture) promote(version, stage string, at time.Time, waived *policy.AppliedWaiver) {
	f.Now = at
	stages := []string{"dev", "staging", "production"}
	// The policy the decision names: the file, once it is committed.
	pd := objects.Hash([]byte("no policy file yet")).String()
	if b, err := os.ReadFile(filepath.Join(f.Dir, ".trove", "policy.yaml")); err == nil {
		pd = objects.Hash(b).String()
	}
	gate := func(ctx context.Context, p governance.Proposal) (governance.Decision, error) {
		d := policy.Decision{Allowed: true, EvaluatedAt: at, InputDigest: objects.Hash([]byte(version + stage)).String(),
			PolicyDigest: pd, Results: []policy.Result{
				{Rule: "accuracy-floor", Type: "metric", Status: policy.StatusPass, Observed: "0.93", Expected: "accuracy >= 0.9"},
			}}
		if waived != nil {
			d.Results = append(d.Results, policy.Result{Rule: "fresh-data", Type: "freshness", Status: policy.StatusWaived,
				Observed: "40 days", Expected: "at most 30d", Waiver: waived})
		}
		b, err := d.JSON()
		return governance.Decision{Allow: true, Record: b}, err
	}
	_, err := governance.Promote(context.Background(), f.Repo, f.World, governance.PromoteOptions{
		Ref: governance.Ref{Name: "churn", Version: version}, Stage: stage, Stages: stages, Gate: gate})
	if err != nil {
		panic(err)
	}
}

func (f *Fixture) write(rel, content string) {
	p := filepath.Join(f.Dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		panic(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		panic(err)
	}
}

func (f *Fixture) add(rel string, opt manifest.AddOptions) {
	opt.Cwd = f.Dir
	if _, err := f.Repo.Add(context.Background(), []string{rel}, opt); err != nil {
		panic(err)
	}
}

// profile records a data profile in a manifest (trove add does not profile
// yet; the manifest format has the field).
func (f *Fixture) profile(rel string, p *manifest.Profile) {
	m, err := f.Repo.ReadManifest(rel)
	if err != nil {
		panic(err)
	}
	m.Profile = p
	b, err := manifest.Encode(m)
	if err != nil {
		panic(err)
	}
	f.write(manifest.ManifestPath(rel), string(b))
}

func (f *Fixture) digest(rel string) string {
	m, err := f.Repo.ReadManifest(rel)
	if err != nil {
		panic(err)
	}
	return m.Digest.String()
}

func (f *Fixture) commit(msg, name, email string) string {
	wt, err := f.Git.Worktree()
	if err != nil {
		panic(err)
	}
	if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		panic(err)
	}
	f.Now = f.Now.Add(time.Minute)
	sig := &object.Signature{Name: name, Email: email, When: f.Now}
	h, err := wt.Commit(msg, &git.CommitOptions{Author: sig, Committer: sig})
	if err != nil {
		panic(err)
	}
	return h.String()
}

// SignTag replaces an annotated tag by the same tag carrying signature (an
// armored SSH or PGP signature), as `git tag -s` would have written it.
func (f *Fixture) SignTag(t testing.TB, name string, sign func(payload []byte) ([]byte, error)) {
	t.Helper()
	ref, err := f.Git.Tag(name)
	check(t, err)
	tag, err := f.Git.TagObject(ref.Hash())
	check(t, err)
	unsigned := f.Git.Storer.NewEncodedObject()
	check(t, tag.EncodeWithoutSignature(unsigned))
	rd, err := unsigned.Reader()
	check(t, err)
	payload := make([]byte, unsigned.Size())
	_, err = io.ReadFull(rd, payload)
	check(t, err)
	sig, err := sign(payload)
	check(t, err)
	signed := *tag
	signed.PGPSignature = string(sig)
	obj := f.Git.Storer.NewEncodedObject()
	check(t, signed.Encode(obj))
	h, err := f.Git.Storer.SetEncodedObject(obj)
	check(t, err)
	check(t, f.Git.Storer.SetReference(plumbing.NewHashReference(ref.Name(), h)))
}

func check(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func mustID(t testing.TB, s string) objects.ID {
	id, err := objects.ParseID(s)
	check(t, err)
	return id
}

// JSON is a helper for tests that compare documents: it decodes b.
func JSON(t testing.TB, b []byte) any {
	t.Helper()
	var v any
	check(t, json.Unmarshal(b, &v))
	return v
}
