package manifest

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// tGitEnv is a hermetic environment for the git binary: its own HOME, no system or
// global configuration, a fixed author and clock, and none of the caller's GIT_*
// variables.
func tGitEnv(t testing.TB) []string {
	t.Helper()
	home := t.TempDir()
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "GIT_") || k == "HOME" || k == "XDG_CONFIG_HOME" {
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"HOME="+home,
		"XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Trove Test", "GIT_AUTHOR_EMAIL=test@example.com",
		"GIT_COMMITTER_NAME=Trove Test", "GIT_COMMITTER_EMAIL=test@example.com",
		"GIT_AUTHOR_DATE=2025-03-01T09:00:00Z", "GIT_COMMITTER_DATE=2025-03-01T09:00:00Z",
	)
}

// tGit runs the git binary in dir and returns its trimmed output.
func tGit(t testing.TB, dir string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = tGitEnv(t)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// tGitInit creates an empty git repository and returns its top, symlinks resolved.
func tGitInit(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	tGit(t, dir, "init", "-q", "-b", "main")
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// tRepo is a git repository with trove initialized.
func tRepo(t testing.TB) *Repo {
	t.Helper()
	r, _, err := Init(tGitInit(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func tWrite(t testing.TB, path string, data []byte, perm os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil { // umask
		t.Fatal(err)
	}
}

func TestOpenOutsideRepo(t *testing.T) {
	dir := t.TempDir()
	if _, err := FindRoot(dir); !errors.Is(err, ErrNotGitRepo) {
		t.Fatalf("FindRoot outside a repository: %v", err)
	}
	if _, err := Open(dir); !errors.Is(err, ErrNotGitRepo) {
		t.Fatalf("Open outside a repository: %v", err)
	}
	if _, _, err := Init(dir); !errors.Is(err, ErrNotGitRepo) {
		t.Fatalf("Init outside a repository: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, Dir)); err == nil {
		t.Fatal("Init outside a repository created .trove")
	}
}

func TestOpenBeforeInit(t *testing.T) {
	root := tGitInit(t)
	if _, err := Open(root); !errors.Is(err, ErrNotInitialized) {
		t.Fatalf("Open before Init: %v", err)
	}
	// A file called .trove is not an initialized trove either.
	tWrite(t, filepath.Join(root, Dir), []byte("x"), 0o644)
	if _, err := Open(root); !errors.Is(err, ErrNotInitialized) {
		t.Fatalf("Open with a .trove file: %v", err)
	}
}

func TestInitIdempotent(t *testing.T) {
	root := tGitInit(t)
	r, res, err := Init(root)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Created || res.Root != root || r.Root != root {
		t.Fatalf("first Init: %+v, root %s", res, r.Root)
	}
	for _, p := range []string{".gitignore", "config", "store", "cache"} {
		if _, err := os.Stat(filepath.Join(root, Dir, p)); err != nil {
			t.Errorf("Init did not create %s: %v", p, err)
		}
	}
	// The user edits the config; a second Init keeps it.
	cfg := filepath.Join(root, Dir, "config")
	custom := []byte("version: 1\nstages: [dev, prod]\n")
	tWrite(t, cfg, custom, 0o644)
	r2, res2, err := Init(root)
	if err != nil {
		t.Fatal(err)
	}
	if res2.Created || r2.Root != root {
		t.Fatalf("second Init: %+v", res2)
	}
	if b, _ := os.ReadFile(cfg); string(b) != string(custom) {
		t.Fatalf("second Init rewrote the config: %q", b)
	}
	if _, err := Open(root); err != nil {
		t.Fatal(err)
	}
	// The store and caches are ignored by git; the config is not.
	tWrite(t, filepath.Join(root, Dir, "store", "x"), []byte("x"), 0o644)
	status := tGit(t, root, "status", "--porcelain", "--untracked-files=all")
	if strings.Contains(status, "store/") || !strings.Contains(status, ".trove/config") {
		t.Fatalf("git status after Init:\n%s", status)
	}
}

func TestInitInSubdirectory(t *testing.T) {
	root := tGitInit(t)
	sub := filepath.Join(root, "a", "b")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	r, res, err := Init(sub)
	if err != nil {
		t.Fatal(err)
	}
	if r.Root != root || res.Root != root {
		t.Fatalf("Init in a subdirectory: root %s, want %s", r.Root, root)
	}
	if _, err := os.Stat(filepath.Join(root, Dir)); err != nil {
		t.Fatal(".trove not at the top")
	}
	if _, err := os.Stat(filepath.Join(sub, Dir)); err == nil {
		t.Fatal(".trove created in the subdirectory")
	}
	o, err := Open(sub)
	if err != nil || o.Root != root {
		t.Fatalf("Open in a subdirectory: %v %v", o, err)
	}
	// Reached through a symbolic link, the root is still the resolved path.
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(root, link); err != nil {
		t.Fatal(err)
	}
	if o, err := Open(filepath.Join(link, "a")); err != nil || o.Root != root {
		t.Fatalf("Open through a symlink: %v %v", o, err)
	}
}

// TestWorktree: in a `git worktree add` checkout .git is a file; the worktree is a
// repository of its own for trove.
func TestWorktree(t *testing.T) {
	root := tGitInit(t)
	tWrite(t, filepath.Join(root, "README"), []byte("hi\n"), 0o644)
	tGit(t, root, "add", "README")
	tGit(t, root, "commit", "-q", "-m", "init")
	wt := filepath.Join(t.TempDir(), "wt")
	tGit(t, root, "worktree", "add", "-q", wt)
	wt, _ = filepath.EvalSymlinks(wt)
	if fi, err := os.Lstat(filepath.Join(wt, ".git")); err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("worktree .git is not a file: %v", err)
	}
	sub := filepath.Join(wt, "data")
	tWrite(t, filepath.Join(sub, "x.csv"), []byte("a,b\n1,2\n"), 0o644)
	got, err := FindRoot(sub)
	if err != nil || got != wt {
		t.Fatalf("FindRoot in a worktree = %q, %v; want %q", got, err, wt)
	}
	if _, err := Open(wt); !errors.Is(err, ErrNotInitialized) {
		t.Fatalf("Open in a fresh worktree: %v", err)
	}
	r, _, err := Init(sub)
	if err != nil || r.Root != wt {
		t.Fatalf("Init in a worktree: %v, root %v", err, r)
	}
	defer r.Close()
	if _, err := os.Stat(filepath.Join(root, Dir)); err == nil {
		t.Fatal("Init in the worktree initialized the main checkout")
	}
	res, err := r.Add(t.Context(), []string{"data/x.csv"}, AddOptions{Cwd: wt})
	if err != nil || len(res) != 1 {
		t.Fatalf("Add in a worktree: %v", err)
	}
	if out := tGit(t, wt, "check-ignore", "data/x.csv"); out != "data/x.csv" {
		t.Fatalf("data not ignored in the worktree: %q", out)
	}
}

func TestRel(t *testing.T) {
	r := tRepo(t)
	sub := filepath.Join(r.Root, "data", "raw")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	outside := t.TempDir()
	link := filepath.Join(t.TempDir(), "repo-link")
	if err := os.Symlink(r.Root, link); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		cwd, path string
		want      string
		err       error
	}{
		{r.Root, "data/train.csv", "data/train.csv", nil},
		{r.Root, "./data/./raw/../train.csv", "data/train.csv", nil},
		{r.Root, "data/raw/", "data/raw", nil},
		{sub, "x.bin", "data/raw/x.bin", nil},
		{sub, "../x.bin", "data/x.bin", nil},
		{sub, filepath.Join(r.Root, "models", "m.onnx"), "models/m.onnx", nil},
		{link, "data/train.csv", "data/train.csv", nil},           // through a symlink to the repository
		{r.Root, "x.gitignore", "x.gitignore", nil},               // .git only as a whole segment
		{r.Root, ".gitattributes", ".gitattributes", nil},         //
		{r.Root, "data/.trove", "data/.trove", nil},               // .trove only at the top
		{r.Root, "../x", "", ErrOutsideRepo},                      //
		{sub, "../../../x", "", ErrOutsideRepo},                   //
		{r.Root, "data/../../x", "", ErrOutsideRepo},              //
		{r.Root, filepath.Join(outside, "x"), "", ErrOutsideRepo}, //
		{r.Root, outside, "", ErrOutsideRepo},                     //
		{r.Root, "..", "", ErrOutsideRepo},                        //
		{r.Root, ".", "", ErrUnsupported},                         // the whole repository
		{sub, "../..", "", ErrUnsupported},                        //
		{r.Root, ".git", "", ErrUnsupported},                      //
		{r.Root, ".git/config", "", ErrUnsupported},               //
		{r.Root, ".GIT/config", "", ErrUnsupported},               // case-insensitive file systems
		{r.Root, "data/sub/.git/config", "", ErrUnsupported},      // a nested repository
		{r.Root, ".trove", "", ErrUnsupported},                    //
		{r.Root, ".trove/store/packs", "", ErrUnsupported},        //
		{sub, "../../.trove/config", "", ErrUnsupported},          //
	}
	for _, tc := range tests {
		got, err := r.Rel(tc.cwd, tc.path)
		switch {
		case tc.err != nil && !errors.Is(err, tc.err):
			t.Errorf("Rel(%s, %s) = %q, %v; want error %v", tc.cwd, tc.path, got, err, tc.err)
		case tc.err == nil && (err != nil || got != tc.want):
			t.Errorf("Rel(%s, %s) = %q, %v; want %q", tc.cwd, tc.path, got, err, tc.want)
		}
	}
	// A symlinked directory inside the repository that leads outside is resolved,
	// so paths through it are outside.
	if err := os.Symlink(outside, filepath.Join(r.Root, "escape")); err != nil {
		t.Fatal(err)
	}
	if got, err := r.Rel(r.Root, "escape/x.bin"); !errors.Is(err, ErrOutsideRepo) {
		t.Errorf("Rel through a symlink leading outside = %q, %v", got, err)
	}
	// The link itself is inside (Add then refuses it as a symlink).
	if got, err := r.Rel(r.Root, "escape"); err != nil || got != "escape" {
		t.Errorf("Rel of the link itself = %q, %v", got, err)
	}
}
