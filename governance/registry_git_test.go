package governance

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/trove-dev/trove/manifest"
)

// testRepo is a real git repository with trove initialized and one model
// committed, and a World with a fixed clock and identity.
type testRepo struct {
	t    *testing.T
	dir  string
	g    *git.Repository
	r    *manifest.Repo
	w    World
	now  time.Time
	head plumbing.Hash
}

func newTestRepo(t *testing.T) *testRepo {
	t.Helper()
	// Hermetic: no user or system git configuration.
	t.Setenv("HOME", t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	dir := t.TempDir()
	g, err := git.PlainInit(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	r, _, err := manifest.Init(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	tr := &testRepo{t: t, dir: dir, g: g, r: r, now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	env := map[string]string{"GIT_COMMITTER_NAME": "Reg Tester", "GIT_COMMITTER_EMAIL": "reg@example.com"}
	tr.w = World{Now: func() time.Time { return tr.now }, Getenv: func(k string) string { return env[k] }}
	tr.commitModel("v1")
	return tr
}

// commitModel writes models/m.bin, adds it (name "m") and commits everything.
func (tr *testRepo) commitModel(content string) {
	tr.t.Helper()
	p := filepath.Join(tr.dir, "models", "m.bin")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		tr.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		tr.t.Fatal(err)
	}
	if _, err := tr.r.Add(context.Background(), []string{"models/m.bin"}, manifest.AddOptions{Cwd: tr.dir, Kind: manifest.KindModel, Name: "m"}); err != nil {
		tr.t.Fatal(err)
	}
	wt, err := tr.g.Worktree()
	if err != nil {
		tr.t.Fatal(err)
	}
	if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		tr.t.Fatal(err)
	}
	sig := &object.Signature{Name: "Dev", Email: "dev@example.com", When: tr.now}
	h, err := wt.Commit("model "+content, &git.CommitOptions{Author: sig, Committer: sig})
	if err != nil {
		tr.t.Fatal(err)
	}
	tr.head = h
}

func TestRegisterPromoteWithGit(t *testing.T) {
	ctx := context.Background()
	tr := newTestRepo(t)

	res, err := Register(ctx, tr.r, tr.w, RegisterOptions{Name: "m", Cwd: tr.dir, Message: "first"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Tag != "m@v0.0.1" || res.Commit != tr.head.String() || res.Record.Artifact != "models/m.bin" || res.Record.At != "2026-03-01T12:00:00Z" {
		t.Errorf("register: %+v", res)
	}
	// The tag is annotated, by the identity from the World, at the World's time.
	ref, err := tr.g.Tag("m@v0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	tag, err := tr.g.TagObject(ref.Hash())
	if err != nil {
		t.Fatalf("not an annotated tag: %v", err)
	}
	if tag.Tagger.Name != "Reg Tester" || tag.Tagger.Email != "reg@example.com" || !tag.Tagger.When.Equal(tr.now) || tag.Target != tr.head {
		t.Errorf("tag: %+v", tag)
	}
	rec, err := DecodeRecord(tag.Message)
	if err != nil || rec.Digest != res.Record.Digest || rec.Message != "first" {
		t.Errorf("record in the tag: %+v, %v", rec, err)
	}

	// A gate that denies writes nothing; one that allows leaves its decision.
	tr.now = tr.now.Add(time.Hour)
	deny := func(ctx context.Context, p Proposal) (Decision, error) {
		if p.Version.Version != "v0.0.1" || p.Stage != "production" || p.Current.Version != "" || p.By.Email != "reg@example.com" {
			t.Errorf("proposal: %+v", p)
		}
		return Decision{Allow: false, Reason: "accuracy 0.8 < 0.9"}, nil
	}
	_, err = Promote(ctx, tr.r, tr.w, PromoteOptions{Ref: Ref{Name: "m", Version: "v0.0.1"}, Stage: "production", Stages: DefaultStages, Gate: deny})
	if !errors.Is(err, ErrDenied) || !strings.Contains(err.Error(), "accuracy 0.8 < 0.9") {
		t.Errorf("denied promotion: %v", err)
	}
	allow := func(ctx context.Context, p Proposal) (Decision, error) {
		return Decision{Allow: true, Record: json.RawMessage(`{"policy":"sha256:abc","result":"allow"}`)}, nil
	}
	res, err = Promote(ctx, tr.r, tr.w, PromoteOptions{Ref: Ref{Name: "m", Version: "v0.0.1"}, Stage: "production", Stages: DefaultStages, Gate: allow})
	if err != nil {
		t.Fatal(err)
	}
	if res.Tag != "m#production#1" {
		t.Errorf("promotion tag %s", res.Tag)
	}

	// Things that are not registry tags, or not well-formed ones.
	if _, err := tr.g.CreateTag("v1.0", tr.head, nil); err != nil { // lightweight, not the format
		t.Fatal(err)
	}
	if _, err := tr.g.CreateTag("m@v5.0.0", tr.head, nil); err != nil { // lightweight
		t.Fatal(err)
	}
	commit, _ := tr.g.CommitObject(tr.head)
	if _, err := tr.g.CreateTag("m@v6.0.0", commit.TreeHash, &git.CreateTagOptions{ // not a commit
		Tagger: &object.Signature{Name: "X", Email: "x@x", When: tr.now}, Message: "tree"}); err != nil {
		t.Fatal(err)
	}
	reg, err := ReadRegistry(tr.dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"tag m@v5.0.0 ignored: a lightweight tag",
		"tag m@v6.0.0 ignored: it points to a tree, not a commit",
		"tag v1.0 ignored: not a registry tag",
	}
	if len(reg.Warnings) != len(want) {
		t.Fatalf("warnings %q", reg.Warnings)
	}
	for i, w := range want {
		if !strings.HasPrefix(reg.Warnings[i], w) {
			t.Errorf("warning %q, want %q...", reg.Warnings[i], w)
		}
	}
	if len(reg.Events) != 2 || string(reg.Events[1].Record.Decision) != `{"policy":"sha256:abc","result":"allow"}` {
		t.Errorf("events: %+v", reg.Events)
	}
	// The counter counts the ignored tags' numbers too, and the lineage index
	// finds the registered manifest at its commit.
	if reg.nextCounter("m") != 2 {
		t.Errorf("next counter %d", reg.nextCounter("m"))
	}
	idx, err := BuildIndex(ctx, tr.r)
	if err != nil {
		t.Fatal(err)
	}
	loc, err := FindArtifact(ctx, tr.r, idx, tr.dir, "m@v0.0.1", DefaultStages)
	if err != nil || loc.Path != "models/m.bin" || loc.Commit != tr.head.String() {
		t.Errorf("FindArtifact: %+v, %v", loc, err)
	}
	loc, err = FindArtifact(ctx, tr.r, idx, tr.dir, "m#production", DefaultStages)
	if err != nil || loc.Commit != tr.head.String() {
		t.Errorf("FindArtifact by stage: %+v, %v", loc, err)
	}
	if c, ok, err := RegistryCommit(tr.dir, "m@latest", DefaultStages); err != nil || !ok || c != tr.head.String() {
		t.Errorf("RegistryCommit: %s %v %v", c, ok, err)
	}
	if _, ok, _ := RegistryCommit(tr.dir, "HEAD~1", DefaultStages); ok {
		t.Error("HEAD~1 is not a registry reference")
	}
}

func TestCodeState(t *testing.T) {
	tr := newTestRepo(t)
	cs, err := ReadCodeState(tr.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cs.Commit != tr.head.String() || len(cs.Dirty) != 0 {
		t.Errorf("clean tree: %+v", cs)
	}
	// The gitignored data changing is not dirt; an untracked file and a manifest are.
	os.WriteFile(filepath.Join(tr.dir, "models", "m.bin"), []byte("changed"), 0o644)
	os.WriteFile(filepath.Join(tr.dir, "train.py"), []byte("print(1)\n"), 0o644)
	os.WriteFile(filepath.Join(tr.dir, "models", "m.bin.trove"), []byte("{}\n"), 0o644)
	cs, err = ReadCodeState(tr.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(cs.Dirty, " ") != "models/m.bin.trove train.py" || !cs.Code().Dirty {
		t.Errorf("dirty: %v", cs.Dirty)
	}
	cs, _ = ReadCodeState(tr.dir, outputIgnorer([]string{"models/m.bin"}))
	if strings.Join(cs.Dirty, " ") != "train.py" {
		t.Errorf("with the output ignored: %v", cs.Dirty)
	}
	// Credentials never leave the origin URL.
	if _, err := tr.g.CreateRemote(&gitconfigRemote); err != nil {
		t.Fatal(err)
	}
	if u := remoteURL(tr.g); u != "https://git.example.com/team/repo.git" {
		t.Errorf("remote URL %q", u)
	}
}

var gitconfigRemote = config.RemoteConfig{Name: "origin", URLs: []string{"https://user:s3cret-token@git.example.com/team/repo.git"}}
