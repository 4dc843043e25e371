package manifest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trove-dev/trove/objects"
)

// histRepo is a real git repository, driven by the git binary with a hermetic
// environment, with trove initialized in it.
type histRepo struct {
	t    *testing.T
	dir  string
	home string
	date time.Time
	r    *Repo
}

func newHistRepo(t *testing.T) *histRepo {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	root := t.TempDir()
	h := &histRepo{t: t, dir: filepath.Join(root, "repo"), home: filepath.Join(root, "home"),
		date: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	for _, d := range []string{h.dir, h.home} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	h.git("init", "-q", "-b", "main")
	h.open(h.dir)
	h.git("add", ".trove")
	h.commit("init trove")
	return h
}

// open (re)initializes trove at dir and makes it the repository under test.
func (h *histRepo) open(dir string) *Repo {
	h.t.Helper()
	if h.r != nil {
		h.r.Close()
	}
	r, _, err := Init(dir)
	if err != nil {
		h.t.Fatal(err)
	}
	// The store's clock is the real one: the stat cache compares it with file
	// mtimes (h.date only dates the commits).
	r.Now = time.Now
	h.r = r
	h.t.Cleanup(func() { r.Close() })
	return r
}

func (h *histRepo) env(author string) []string {
	name, email := "Alice Example", "alice@example.com"
	if author != "" {
		name, email, _ = strings.Cut(author, " <")
		email = strings.TrimSuffix(email, ">")
	}
	date := h.date.Format(time.RFC3339)
	return append(os.Environ(),
		"HOME="+h.home, "XDG_CONFIG_HOME="+filepath.Join(h.home, ".config"),
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+filepath.Join(h.home, ".gitconfig"), "LC_ALL=C", "TZ=UTC",
		"GIT_AUTHOR_NAME="+name, "GIT_AUTHOR_EMAIL="+email, "GIT_AUTHOR_DATE="+date,
		"GIT_COMMITTER_NAME="+name, "GIT_COMMITTER_EMAIL="+email, "GIT_COMMITTER_DATE="+date,
	)
}

// gitIn runs git in dir and returns its trimmed stdout; failure is fatal unless
// allowFail.
func (h *histRepo) gitIn(dir string, allowFail bool, args ...string) string {
	h.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = h.env("")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil && !allowFail {
		h.t.Fatalf("git %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return strings.TrimSpace(out.String())
}

func (h *histRepo) git(args ...string) string {
	h.t.Helper()
	return h.gitIn(h.dir, false, args...)
}

// commit commits everything staged plus the manifests and .gitignores, one minute
// after the previous commit, and returns its hash.
func (h *histRepo) commit(msg string, author ...string) string {
	h.t.Helper()
	h.date = h.date.Add(time.Minute)
	h.git("add", "-A")
	a := ""
	if len(author) > 0 {
		a = author[0]
	}
	cmd := exec.Command("git", "commit", "-q", "--allow-empty", "-m", msg)
	cmd.Dir = h.dir
	cmd.Env = h.env(a)
	if out, err := cmd.CombinedOutput(); err != nil {
		h.t.Fatalf("git commit: %v\n%s", err, out)
	}
	return h.git("rev-parse", "HEAD")
}

// write puts deterministic pseudo-random bytes in a file under the repository.
func (h *histRepo) write(rel string, size int, seed uint64) {
	h.t.Helper()
	b := make([]byte, size)
	rnd := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for i := range b {
		b[i] = byte(rnd.Uint32())
	}
	h.writeBytes(rel, b)
}

func (h *histRepo) writeBytes(rel string, b []byte) {
	h.t.Helper()
	p := filepath.Join(h.dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		h.t.Fatal(err)
	}
}

func (h *histRepo) add(paths ...string) []AddResult {
	h.t.Helper()
	res, err := h.r.Add(context.Background(), paths, AddOptions{Cwd: h.dir})
	if err != nil {
		h.t.Fatalf("add %v: %v", paths, err)
	}
	return res
}

// digests maps data path to digest (or the error) for a quick comparison.
func digests(t *testing.T, ts []Tracked) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, x := range ts {
		if x.Err != nil {
			out[x.Path] = "error: " + x.Err.Error()
			continue
		}
		out[x.Path] = x.Manifest.Digest.String()
	}
	return out
}

func sameMap(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// twoVersions commits v1 (data/train.csv, data/images with three files, tag v1
// and an annotated tag v1-annotated) and then v2 (train.csv grown, one image
// modified, one removed, one added, plus a new model.bin). It returns the
// manifests' digests at each version.
func twoVersions(t *testing.T) (h *histRepo, v1, v2 map[string]string) {
	h = newHistRepo(t)
	ctx := context.Background()
	h.write("data/train.csv", 300<<10, 1)
	h.write("data/images/a.png", 5<<10, 2)
	h.write("data/images/b.png", 5<<10, 3)
	h.write("data/images/c.png", 5<<10, 4)
	h.add("data/train.csv", "data/images")
	h.commit("v1: first data")
	h.git("tag", "v1")
	h.git("tag", "-a", "-m", "annotated", "v1-annotated")
	cur, err := h.r.List(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	v1 = digests(t, cur)

	f, err := os.OpenFile(filepath.Join(h.dir, "data/train.csv"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(bytes.Repeat([]byte("more,rows\n"), 1000))
	f.Close()
	h.write("data/images/b.png", 6<<10, 30)
	os.Remove(filepath.Join(h.dir, "data/images/c.png"))
	h.write("data/images/d.png", 7<<10, 5)
	h.write("models/model.bin", 20<<10, 6)
	h.add("data/train.csv", "data/images", "models/model.bin")
	h.commit("v2: more data\n\nbody text", "Bob Builder <bob@example.com>")
	cur, err = h.r.List(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	v2 = digests(t, cur)
	if len(v1) != 2 || len(v2) != 3 || v1["data/train.csv"] == v2["data/train.csv"] || v1["data/images"] == v2["data/images"] {
		t.Fatalf("setup: v1 %v, v2 %v", v1, v2)
	}
	return h, v1, v2
}

func TestManifestsAtRevisions(t *testing.T) {
	h, v1, v2 := twoVersions(t)
	ctx := context.Background()
	full := h.git("rev-parse", "v1")
	for _, tc := range []struct {
		rev  string
		want map[string]string
	}{
		{"HEAD", v2},
		{"main", v2},
		{"HEAD~1", v1},
		{"HEAD^", v1},
		{"main~1", v1},
		{"v1", v1},
		{"v1-annotated", v1},
		{full, v1},
		{full[:7], v1},
		{"HEAD~2", map[string]string{}}, // the commit that initialized trove
	} {
		got, err := h.r.ManifestsAt(ctx, tc.rev, nil)
		if err != nil {
			t.Errorf("ManifestsAt(%q): %v", tc.rev, err)
			continue
		}
		if !sameMap(digests(t, got), tc.want) {
			t.Errorf("ManifestsAt(%q) = %v, want %v", tc.rev, digests(t, got), tc.want)
		}
	}

	// only selects like List: a path or a directory containing artifacts.
	for _, tc := range []struct {
		only []string
		want []string
	}{
		{[]string{"data"}, []string{"data/images", "data/train.csv"}},
		{[]string{"data/images"}, []string{"data/images"}},
		{[]string{"models", "data/train.csv"}, []string{"data/train.csv", "models/model.bin"}},
		{[]string{"dat"}, nil},
	} {
		got, err := h.r.ManifestsAt(ctx, "HEAD", tc.only)
		if err != nil {
			t.Fatal(err)
		}
		var paths []string
		for _, x := range got {
			paths = append(paths, x.Path)
		}
		if strings.Join(paths, ",") != strings.Join(tc.want, ",") {
			t.Errorf("ManifestsAt(HEAD, %v) = %v, want %v", tc.only, paths, tc.want)
		}
	}

	// The manifests are whole: checking them out works like the working tree's.
	got, err := h.r.ManifestsAt(ctx, "v1", []string{"data/images"})
	if err != nil || len(got) != 1 || got[0].Manifest.Type != TypeDir || got[0].Manifest.Files != 3 {
		t.Fatalf("ManifestsAt(v1, data/images) = %+v, %v", got, err)
	}
}

func TestManifestsAtDetachedSubdirWorktree(t *testing.T) {
	h, v1, v2 := twoVersions(t)
	ctx := context.Background()

	// From a subdirectory, with HEAD detached at v1.
	h.git("checkout", "-q", "--detach", "HEAD~1")
	sub, err := Open(filepath.Join(h.dir, "data", "images"))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	for rev, want := range map[string]map[string]string{"HEAD": v1, "main": v2} {
		got, err := sub.ManifestsAt(ctx, rev, nil)
		if err != nil || !sameMap(digests(t, got), want) {
			t.Errorf("detached, from a subdirectory: ManifestsAt(%q) = %v, %v; want %v", rev, digests(t, got), err, want)
		}
	}
	h.git("checkout", "-q", "main")

	// A linked worktree at v1: its HEAD is its own, the refs are shared.
	wt := filepath.Join(filepath.Dir(h.dir), "wt")
	h.git("worktree", "add", "-q", "--detach", wt, "v1")
	wr, err := Open(filepath.Join(wt, "data"))
	if err != nil {
		t.Fatal(err)
	}
	defer wr.Close()
	for rev, want := range map[string]map[string]string{"HEAD": v1, "main": v2, "v1": v1} {
		got, err := wr.ManifestsAt(ctx, rev, nil)
		if err != nil || !sameMap(digests(t, got), want) {
			t.Errorf("worktree: ManifestsAt(%q) = %v, %v; want %v", rev, digests(t, got), err, want)
		}
	}
	// Log and Diff work there too.
	log, err := wr.Log(ctx, "data/train.csv")
	if err != nil || len(log) != 1 || log[0].Digest != v1["data/train.csv"] {
		t.Errorf("worktree: Log = %+v, %v", log, err)
	}
	d, err := wr.Diff(ctx, "HEAD", "main", nil)
	if err != nil || d.Added != 1 || d.Modified != 2 {
		t.Errorf("worktree: Diff(HEAD, main) = %+v, %v", d, err)
	}
}

func TestManifestsAtUnknownRevision(t *testing.T) {
	h, _, _ := twoVersions(t)
	for _, rev := range []string{"nope", "HEAD~3", "v9", "0123456789abcdef0123456789abcdef01234567", "deadbeef", "main^^^^^"} {
		_, err := h.r.ManifestsAt(context.Background(), rev, nil)
		if !errors.Is(err, ErrUnknownRevision) || !strings.Contains(err.Error(), rev) {
			t.Errorf("ManifestsAt(%q): %v, want ErrUnknownRevision naming it", rev, err)
		}
		if _, err := h.r.Diff(context.Background(), rev, "", nil); !errors.Is(err, ErrUnknownRevision) {
			t.Errorf("Diff(%q, \"\"): %v, want ErrUnknownRevision", rev, err)
		}
	}
}

func TestManifestsAtMergeConflict(t *testing.T) {
	h := newHistRepo(t)
	ctx := context.Background()
	h.write("data.csv", 2000, 1)
	h.add("data.csv")
	h.commit("base")
	h.git("checkout", "-q", "-b", "other")
	h.write("data.csv", 2000, 2)
	h.add("data.csv")
	h.commit("other side")
	h.git("checkout", "-q", "main")
	h.write("data.csv", 2000, 3)
	h.add("data.csv")
	h.commit("main side")
	h.gitIn(h.dir, true, "merge", "-q", "other") // conflicts
	b, err := os.ReadFile(filepath.Join(h.dir, "data.csv.trove"))
	if err != nil || !bytes.Contains(b, []byte("<<<<<<<")) {
		t.Fatalf("setup: no conflict in data.csv.trove: %v\n%s", err, b)
	}
	want := "resolve the conflict: keep one side with `git checkout --ours/--theirs data.csv.trove` then `trove checkout`, or re-add the data"

	// In the working tree: diff names the problem.
	d, err := h.r.Diff(ctx, "", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Artifacts) != 1 || !strings.Contains(d.Artifacts[0].Error, want) || d.Errors != 1 {
		t.Errorf("Diff with a conflicted manifest = %+v, want an error saying %q", d, want)
	}

	// Committed by mistake: ManifestsAt keeps the error on the artifact.
	h.commit("merge, conflict and all")
	got, err := h.r.ManifestsAt(ctx, "HEAD", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Err == nil || !errors.Is(got[0].Err, ErrInvalid) ||
		!strings.Contains(got[0].Err.Error(), want) || !strings.Contains(got[0].Err.Error(), "data.csv.trove") {
		t.Fatalf("ManifestsAt(HEAD) = %+v, want an error saying %q", got, want)
	}
	log, err := h.r.Log(ctx, "data.csv")
	// Along the first parent: base, main side, and the merge (unreadable).
	if err != nil || len(log) != 3 || !strings.Contains(log[0].Error, "conflict") || log[1].Subject != "main side" {
		t.Errorf("Log = %+v, %v; want 3 versions, the newest unreadable", log, err)
	}
	// Checking out such a revision fails on that artifact, before touching data.
	if _, err := h.r.Checkout(ctx, CheckoutOptions{Cwd: h.dir, Manifests: got}); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Checkout of a conflicted manifest: %v", err)
	}
}

func TestManifestsAtShallow(t *testing.T) {
	h, _, v2 := twoVersions(t)
	ctx := context.Background()
	clone := filepath.Join(filepath.Dir(h.dir), "shallow")
	h.gitIn(filepath.Dir(h.dir), false, "clone", "-q", "--depth", "1", "file://"+h.dir, clone)
	r := h.open(clone)

	got, err := r.ManifestsAt(ctx, "HEAD", nil)
	if err != nil || !sameMap(digests(t, got), v2) {
		t.Fatalf("shallow: ManifestsAt(HEAD) = %v, %v", digests(t, got), err)
	}
	for _, rev := range []string{"HEAD~1", "HEAD^", "main~2"} {
		_, err = r.ManifestsAt(ctx, rev, nil)
		if !errors.Is(err, ErrShallow) || !strings.Contains(err.Error(), "git fetch --unshallow") {
			t.Errorf("shallow: ManifestsAt(%s): %v, want ErrShallow with the unshallow hint", rev, err)
		}
	}
	if _, err := r.Diff(ctx, "HEAD~1", "HEAD", nil); !errors.Is(err, ErrShallow) {
		t.Errorf("shallow: Diff(HEAD~1, HEAD): %v, want ErrShallow", err)
	}
	// Log stops at the boundary and says so.
	log, err := r.Log(ctx, "data/train.csv")
	if err != nil || len(log) != 1 || !log[0].ShallowBoundary || log[0].Digest != v2["data/train.csv"] {
		t.Errorf("shallow: Log = %+v, %v", log, err)
	}
}

func TestLogVersions(t *testing.T) {
	h := newHistRepo(t)
	ctx := context.Background()
	h.write("data/train.csv", 100<<10, 1)
	h.add("data/train.csv")
	c1 := h.commit("add train", "Alice Example <alice@example.com>")
	h.writeBytes("README", []byte("unrelated\n"))
	h.commit("docs only", "Carol <carol@example.com>")
	h.write("data/train.csv", 120<<10, 2)
	h.add("data/train.csv")
	c3 := h.commit("retrain data\n\nlonger explanation", "Bob Builder <bob@example.com>")
	h.git("rm", "-q", "data/train.csv.trove")
	c4 := h.commit("drop train")
	h.write("data/train.csv", 100<<10, 1)
	h.add("data/train.csv")
	c5 := h.commit("bring it back")

	for _, p := range []string{"data/train.csv", "data/train.csv.trove", filepath.Join(h.dir, "data", "train.csv")} {
		log, err := h.r.Log(ctx, p)
		if err != nil {
			t.Fatalf("Log(%s): %v", p, err)
		}
		var got []string
		for _, e := range log {
			got = append(got, fmt.Sprintf("%s %s %s <%s> %s %q %d", e.Commit[:7], e.Change, e.Author, e.Email, e.Date, e.Subject, e.Size))
		}
		want := []string{
			c5[:7] + ` added Alice Example <alice@example.com> 2026-01-02T03:10:05Z "bring it back" 102400`,
			c4[:7] + ` removed Alice Example <alice@example.com> 2026-01-02T03:09:05Z "drop train" 0`,
			c3[:7] + ` modified Bob Builder <bob@example.com> 2026-01-02T03:08:05Z "retrain data" 122880`,
			c1[:7] + ` added Alice Example <alice@example.com> 2026-01-02T03:06:05Z "add train" 102400`,
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("Log(%s):\n%s\nwant:\n%s", p, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if log[0].Digest == "" || log[0].Digest != log[3].Digest || log[2].Digest == log[3].Digest || log[1].Digest != "" {
			t.Errorf("Log(%s): digests %q %q %q %q", p, log[0].Digest, log[1].Digest, log[2].Digest, log[3].Digest)
		}
	}

	// Never committed, or not an artifact at all.
	h.write("data/new.csv", 10, 9)
	h.add("data/new.csv")
	for _, p := range []string{"data/new.csv", "nothing/here", "data"} {
		if _, err := h.r.Log(ctx, p); !errors.Is(err, ErrNotTracked) {
			t.Errorf("Log(%s): %v, want ErrNotTracked", p, err)
		}
	}
}

func TestLogFirstParentMerge(t *testing.T) {
	h := newHistRepo(t)
	ctx := context.Background()
	h.write("m.bin", 1000, 1)
	h.add("m.bin")
	h.commit("v1")
	h.git("checkout", "-q", "-b", "feature")
	h.write("m.bin", 1000, 2)
	h.add("m.bin")
	h.commit("on a branch")
	h.git("checkout", "-q", "main")
	h.writeBytes("other.txt", []byte("x\n"))
	h.commit("meanwhile")
	h.date = h.date.Add(time.Minute)
	h.git("merge", "-q", "--no-ff", "-m", "merge feature", "feature")
	log, err := h.r.Log(ctx, "m.bin")
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != 2 || log[0].Subject != "merge feature" || log[0].Change != ChangeModified || log[1].Subject != "v1" {
		t.Errorf("Log along the first parent = %+v", log)
	}
}

func findArtifact(d DiffResult, p string) *ArtifactDiff {
	for i := range d.Artifacts {
		if d.Artifacts[i].Path == p {
			return &d.Artifacts[i]
		}
	}
	return nil
}

func TestDiffCommits(t *testing.T) {
	h, v1, v2 := twoVersions(t)
	ctx := context.Background()
	d, err := h.r.Diff(ctx, "HEAD~1", "HEAD", nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.From != "HEAD~1" || d.To != "HEAD" || d.FromCommit != h.git("rev-parse", "HEAD~1") || d.ToCommit != h.git("rev-parse", "HEAD") {
		t.Errorf("Diff header = %+v", d)
	}
	if d.Added != 1 || d.Removed != 0 || d.Modified != 2 || len(d.Artifacts) != 3 {
		t.Fatalf("Diff counts = %+v", d)
	}
	var paths []string
	for _, a := range d.Artifacts {
		paths = append(paths, a.Path+":"+a.Change)
	}
	if got := strings.Join(paths, " "); got != "data/images:modified data/train.csv:modified models/model.bin:added" {
		t.Errorf("Diff artifacts = %s", got)
	}

	img := findArtifact(d, "data/images")
	var files []string
	for _, f := range img.Files {
		files = append(files, f.Path+":"+f.Change)
	}
	if got := strings.Join(files, " "); got != "b.png:modified c.png:removed d.png:added" {
		t.Errorf("data/images files = %s", got)
	}
	if img.FilesAdded != 1 || img.FilesRemoved != 1 || img.FilesModified != 1 || img.DetailUnavailable != "" {
		t.Errorf("data/images = %+v", img)
	}
	if img.NewBytes != 6<<10+7<<10 || img.NewBytesEstimated {
		t.Errorf("data/images new bytes = %d, want the sizes of the added and modified files", img.NewBytes)
	}
	if img.Old.Digest.String() != v1["data/images"] || img.New.Digest.String() != v2["data/images"] || img.Old.Files != 3 || img.New.Files != 3 {
		t.Errorf("data/images versions = %+v -> %+v", img.Old, img.New)
	}
	if b := img.Files[0]; b.Old == nil || b.New == nil || b.Old.Size != 5<<10 || b.New.Size != 6<<10 || b.New.Mode != "100644" {
		t.Errorf("b.png = %+v %+v", b.Old, b.New)
	}

	train := findArtifact(d, "data/train.csv")
	if train.Old.Size != 300<<10 || train.New.Size != 300<<10+10000 {
		t.Errorf("train sizes = %d -> %d", train.Old.Size, train.New.Size)
	}
	// Appending 10 kB re-chunks only the tail: far less than the file is new.
	if train.NewBytes <= 10000 || train.NewBytes > 300<<10 || train.NewBytesEstimated {
		t.Errorf("train new bytes = %d (estimated %v)", train.NewBytes, train.NewBytesEstimated)
	}
	if strings.Join(train.Fields, ",") != "digest,object,size" {
		t.Errorf("train fields = %v", train.Fields)
	}
	model := findArtifact(d, "models/model.bin")
	if model.Old != nil || model.New == nil || model.NewBytes != 20<<10 {
		t.Errorf("model = %+v", model)
	}
	if d.NewBytes != img.NewBytes+train.NewBytes+model.NewBytes {
		t.Errorf("total new bytes %d", d.NewBytes)
	}

	// The reverse: removed, and nothing new for the images that come back.
	r, err := h.r.Diff(ctx, "HEAD", "v1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Added != 0 || r.Removed != 1 || r.Modified != 2 || findArtifact(r, "models/model.bin").Change != ChangeRemoved {
		t.Errorf("reverse Diff = %+v", r)
	}

	// Selections, and a path tracked on neither side.
	s, err := h.r.Diff(ctx, "v1", "HEAD", []string{"models"})
	if err != nil || len(s.Artifacts) != 1 || s.Artifacts[0].Path != "models/model.bin" {
		t.Errorf("Diff(only models) = %+v, %v", s, err)
	}
	if _, err := h.r.Diff(ctx, "v1", "HEAD", []string{"nothing"}); !errors.Is(err, ErrNotTracked) {
		t.Errorf("Diff(only nothing): %v, want ErrNotTracked", err)
	}
	// Tracked but unchanged between the two: not an error, just nothing.
	h.write("data/extra.csv", 100, 7)
	h.add("data/extra.csv")
	h.commit("extra")
	h.writeBytes("notes.txt", []byte("x"))
	h.commit("notes")
	s, err = h.r.Diff(ctx, "HEAD~1", "HEAD", []string{"data/extra.csv"})
	if err != nil || len(s.Artifacts) != 0 {
		t.Errorf("Diff of an unchanged artifact = %+v, %v", s, err)
	}
	// Same revision twice.
	s, err = h.r.Diff(ctx, "HEAD", "main", nil)
	if err != nil || len(s.Artifacts) != 0 || s.Artifacts == nil {
		t.Errorf("Diff(HEAD, main) = %+v, %v", s, err)
	}
}

func TestDiffWorkingTree(t *testing.T) {
	h, _, v2 := twoVersions(t)
	ctx := context.Background()
	d, err := h.r.Diff(ctx, "", "", nil)
	if err != nil || len(d.Artifacts) != 0 || d.From != "HEAD" || d.To != "" || d.ToCommit != "" {
		t.Fatalf("clean Diff = %+v, %v", d, err)
	}
	// Re-add with a metadata change, and a new artifact; delete a manifest.
	if _, err := h.r.Add(ctx, []string{"data/train.csv"}, AddOptions{Cwd: h.dir, Meta: map[string]string{"owner": "alice"}}); err != nil {
		t.Fatal(err)
	}
	h.write("data/new.bin", 4000, 11)
	h.add("data/new.bin")
	os.Remove(filepath.Join(h.dir, "models/model.bin.trove"))
	d, err = h.r.Diff(ctx, "", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range d.Artifacts {
		got = append(got, fmt.Sprintf("%s:%s:%v:%d", a.Path, a.Change, a.Fields, a.NewBytes))
	}
	want := "data/new.bin:added:[]:4000 data/train.csv:modified:[meta]:0 models/model.bin:removed:[]:0"
	if strings.Join(got, " ") != want {
		t.Errorf("Diff(HEAD, working tree) = %s, want %s", strings.Join(got, " "), want)
	}
	tr := findArtifact(d, "data/train.csv")
	if tr.Old.Digest != tr.New.Digest || tr.New.Digest.String() != v2["data/train.csv"] {
		t.Errorf("a metadata change keeps the digest: %+v", tr)
	}
	// From an older revision to the working tree.
	d, err = h.r.Diff(ctx, "v1", "", []string{"data/images"})
	if err != nil || len(d.Artifacts) != 1 || d.Artifacts[0].FilesAdded != 1 {
		t.Errorf("Diff(v1, working tree, data/images) = %+v, %v", d, err)
	}
}

func TestDiffNoCommitYet(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	h := &histRepo{t: t, dir: filepath.Join(t.TempDir(), "repo"), home: t.TempDir(), date: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	os.MkdirAll(h.dir, 0o755)
	h.git("init", "-q", "-b", "main")
	h.open(h.dir)
	h.write("a.bin", 100, 1)
	h.add("a.bin")
	d, err := h.r.Diff(context.Background(), "", "", nil)
	if err != nil || d.Added != 1 || d.FromCommit != "" {
		t.Errorf("Diff before the first commit = %+v, %v", d, err)
	}
	if _, err := h.r.ManifestsAt(context.Background(), "HEAD", nil); !errors.Is(err, ErrUnknownRevision) {
		t.Errorf("ManifestsAt(HEAD) before the first commit: %v", err)
	}
	if _, err := h.r.Log(context.Background(), "a.bin"); !errors.Is(err, ErrNotTracked) {
		t.Errorf("Log before the first commit: %v", err)
	}
}

func TestDiffTreeNotInStore(t *testing.T) {
	h, _, _ := twoVersions(t)
	ctx := context.Background()
	// A fresh clone has the manifests but an empty store.
	clone := filepath.Join(filepath.Dir(h.dir), "clone")
	h.gitIn(filepath.Dir(h.dir), false, "clone", "-q", h.dir, clone)
	r := h.open(clone)
	d, err := r.Diff(ctx, "HEAD~1", "HEAD", nil)
	if err != nil {
		t.Fatal(err)
	}
	img := findArtifact(d, "data/images")
	if img == nil || img.DetailUnavailable != "tree not in the local store; run trove fetch" || len(img.Files) != 0 || !img.NewBytesEstimated {
		t.Errorf("data/images without its trees = %+v", img)
	}
	train := findArtifact(d, "data/train.csv")
	if train == nil || !train.NewBytesEstimated || train.NewBytes != 10000 {
		t.Errorf("data/train.csv without its recipes = %+v", train)
	}
	// Checking out an old revision reports the missing objects per artifact.
	ts, err := r.ManifestsAt(ctx, "HEAD~1", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Checkout(ctx, CheckoutOptions{Cwd: clone, Manifests: ts})
	if !errors.Is(err, objects.ErrMissing) || !errors.Is(err, ErrIncomplete) {
		t.Errorf("Checkout without the objects: %v, want ErrIncomplete and ErrMissing", err)
	}
}

func TestCheckoutRevision(t *testing.T) {
	h, _, _ := twoVersions(t)
	ctx := context.Background()
	ts, err := h.r.ManifestsAt(ctx, "v1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.r.Checkout(ctx, CheckoutOptions{Cwd: h.dir, Manifests: ts}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(h.dir, "data/train.csv"))
	if err != nil || fi.Size() != 300<<10 {
		t.Fatalf("train.csv after checkout of v1: %v, %v", fi, err)
	}
	if _, err := os.Stat(filepath.Join(h.dir, "data/images/c.png")); err != nil {
		t.Errorf("c.png is back: %v", err)
	}
	if _, err := os.Stat(filepath.Join(h.dir, "data/images/d.png")); err == nil {
		t.Errorf("d.png was not in v1 and is still there")
	}
}

// TestDiffTreeObjectsMatchesDecode checks the chunk-skipping tree diff against
// decoding both trees whole, over random edits, with chunk sizes that take the
// fast path (many chunks, each longer than a line) and the fallback (tiny chunks).
func TestDiffTreeObjectsMatchesDecode(t *testing.T) {
	ctx := context.Background()
	st, err := objects.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	store := func(entries []objects.TreeEntry, p objects.ChunkerParams) objects.ID {
		b := objects.EncodeTree(entries)
		c, err := st.WriteContent(ctx, bytes.NewReader(b), int64(len(b)), objects.WriteOptions{Params: p})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Flush(); err != nil {
			t.Fatal(err)
		}
		return c.Recipe
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	randID := func() (id objects.ID) {
		for i := range id {
			id[i] = byte(rnd.Uint32())
		}
		return id
	}
	entry := func(p string) objects.TreeEntry {
		e := objects.TreeEntry{Path: p, Mode: objects.ModeFile, Size: rnd.Int64N(1 << 30), Digest: randID()}
		if rnd.IntN(2) == 0 {
			e.Recipe = randID()
		}
		return e
	}
	params := map[string]objects.ChunkerParams{
		"default": objects.DefaultChunkerParams(),
		"many":    {Min: 8 << 10, Avg: 16 << 10, Max: 64 << 10},
		"tiny":    {Min: 64, Avg: 256, Max: 1024},
	}
	for _, n := range []int{0, 1, 50, 3000, 20000} {
		for name, p := range params {
			if name == "tiny" && n > 3000 {
				continue // slow, and nothing new
			}
			for round := range 4 {
				var old []objects.TreeEntry
				for i := range n {
					old = append(old, entry(fmt.Sprintf("part%03d/f%06d.bin", i%97, i)))
				}
				objects.SortTree(old)
				cur := append([]objects.TreeEntry(nil), old...)
				edits := []int{0, 1, 10, 200}[round]
				for range edits {
					switch k := rnd.IntN(4); {
					case k == 0 && len(cur) > 0:
						i := rnd.IntN(len(cur))
						cur = append(cur[:i:i], cur[i+1:]...)
					case k == 1 && len(cur) > 0:
						i := rnd.IntN(len(cur))
						cur[i].Digest, cur[i].Size = randID(), cur[i].Size+1
					case k == 2 && len(cur) > 0:
						cur[rnd.IntN(len(cur))].Mode = objects.ModeExec
					default:
						e := entry(fmt.Sprintf("part%03d/g%06d.bin", rnd.IntN(100), rnd.IntN(1e6)))
						dup := false
						for _, c := range cur {
							dup = dup || c.Path == e.Path
						}
						if !dup {
							cur = append(cur, e)
						}
					}
				}
				objects.SortTree(cur)
				want := diffEntries(old, cur)
				got, err := diffTreeObjects(ctx, st, store(old, p), store(cur, p))
				if err != nil {
					t.Fatalf("n=%d %s round %d: %v", n, name, round, err)
				}
				gj, _ := json.Marshal(got)
				wj, _ := json.Marshal(want)
				if string(gj) != string(wj) {
					t.Fatalf("n=%d %s round %d: %d changes, want %d:\n%s\nwant\n%s", n, name, round, len(got), len(want), gj, wj)
				}
			}
		}
	}
}
