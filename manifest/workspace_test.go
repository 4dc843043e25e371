package manifest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/trove-dev/trove/objects"
)

// tRand returns n deterministic pseudo-random bytes.
func tRand(seed uint64, n int) []byte {
	var s [32]byte
	s[0], s[1] = byte(seed), byte(seed>>8)
	b := make([]byte, n)
	rand.NewChaCha8(s).Read(b)
	return b
}

func tAdd(t testing.TB, r *Repo, opt AddOptions, paths ...string) []AddResult {
	t.Helper()
	if opt.Cwd == "" {
		opt.Cwd = r.Root
	}
	res, err := r.Add(context.Background(), paths, opt)
	if err != nil {
		t.Fatalf("Add %v: %v", paths, err)
	}
	return res
}

// tStates returns path -> state from Status.
func tStates(t testing.TB, r *Repo) map[string]StatusEntry {
	t.Helper()
	st, err := r.Status(context.Background(), StatusOptions{Cwd: r.Root})
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	out := map[string]StatusEntry{}
	for _, e := range st {
		out[e.Path] = e
	}
	return out
}

func tState(t testing.TB, r *Repo, rel string) string {
	t.Helper()
	return tStates(t, r)[rel].State
}

func tCheckout(t testing.TB, r *Repo, opt CheckoutOptions) ([]CheckoutEntry, error) {
	t.Helper()
	if opt.Cwd == "" {
		opt.Cwd = r.Root
	}
	return r.Checkout(context.Background(), opt)
}

func tRead(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tIgnored reports whether git ignores rel.
func tIgnored(t testing.TB, root, rel string) bool {
	t.Helper()
	cmd := exec.Command("git", "check-ignore", "-q", "--no-index", "--", rel)
	cmd.Dir = root
	cmd.Env = tGitEnv(t)
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return true
	case errors.As(err, &ee) && ee.ExitCode() == 1:
		return false
	}
	t.Fatalf("git check-ignore %s: %v", rel, err)
	return false
}

func TestAddFileStatusCheckout(t *testing.T) {
	r := tRepo(t)
	data := tRand(1, 300<<10)
	abs := filepath.Join(r.Root, "data", "train.csv")
	tWrite(t, abs, data, 0o644)

	res := tAdd(t, r, AddOptions{}, "data/train.csv")
	got := res[0]
	if got.Path != "data/train.csv" || got.Manifest != "data/train.csv.trove" || got.Kind != KindDataset ||
		got.Name != "train.csv" || got.Type != TypeFile || got.Digest != objects.Hash(data) ||
		got.Size != int64(len(data)) || got.Files != 1 || got.Unchanged || got.NewBytes < int64(len(data)) {
		t.Fatalf("AddResult = %+v", got)
	}
	m, err := r.ReadManifest("data/train.csv")
	if err != nil {
		t.Fatal(err)
	}
	if m.Path != "train.csv" || m.Digest != objects.Hash(data) || m.Object.IsZero() || m.Chunker != DefaultChunker() {
		t.Fatalf("manifest = %+v", m)
	}
	// The manifest on disk is canonical, and git sees it but not the data.
	b := tRead(t, filepath.Join(r.Root, "data", "train.csv.trove"))
	if again, _ := Encode(m); !bytes.Equal(again, b) {
		t.Fatal("manifest on disk is not canonical")
	}
	if gi := string(tRead(t, filepath.Join(r.Root, "data", ".gitignore"))); gi != "/train.csv\n" {
		t.Fatalf(".gitignore = %q", gi)
	}
	if !tIgnored(t, r.Root, "data/train.csv") || tIgnored(t, r.Root, "data/train.csv.trove") {
		t.Fatal("git ignores the wrong file")
	}

	if s := tState(t, r, "data/train.csv"); s != StateOK {
		t.Fatalf("state after add = %s", s)
	}
	// Same size, one byte different.
	mod := slices.Clone(data)
	mod[1000] ^= 1
	tWrite(t, abs, mod, 0o644)
	if s := tState(t, r, "data/train.csv"); s != StateModified {
		t.Fatalf("state after modify = %s", s)
	}
	tWrite(t, abs, data, 0o644)
	if s := tState(t, r, "data/train.csv"); s != StateOK {
		t.Fatalf("state after restoring by hand = %s", s)
	}
	if err := os.Remove(abs); err != nil {
		t.Fatal(err)
	}
	if s := tState(t, r, "data/train.csv"); s != StateMissing {
		t.Fatalf("state after remove = %s", s)
	}

	co, err := tCheckout(t, r, CheckoutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(co) != 1 || co[0].Restored != 1 || co[0].Bytes != int64(len(data)) {
		t.Fatalf("Checkout = %+v", co)
	}
	if !bytes.Equal(tRead(t, abs), data) {
		t.Fatal("checkout is not byte-identical")
	}
	if s := tState(t, r, "data/train.csv"); s != StateOK {
		t.Fatalf("state after checkout = %s", s)
	}
	co, err = tCheckout(t, r, CheckoutOptions{Paths: []string{"data/train.csv"}})
	if err != nil || co[0].Restored != 0 || co[0].Current != 1 {
		t.Fatalf("second Checkout = %+v, %v", co, err)
	}
	if _, err := tCheckout(t, r, CheckoutOptions{Paths: []string{"nothing-here"}}); !errors.Is(err, ErrNotTracked) {
		t.Fatalf("Checkout of an untracked path: %v", err)
	}
}

func TestAddOptions(t *testing.T) {
	r := tRepo(t)
	tWrite(t, filepath.Join(r.Root, "model.onnx"), tRand(2, 1000), 0o644)
	in := Input{Digest: objects.Hash([]byte("train")), Kind: KindDataset, Path: "data/train.csv", Role: "train"}
	res := tAdd(t, r, AddOptions{
		Kind: KindModel, Name: "clf", Meta: map[string]string{"owner": "me", "license": "internal"},
		Metrics: map[string]float64{"accuracy": 0.9},
		Lineage: &Lineage{Inputs: []Input{in}, Code: &Code{Commit: strings.Repeat("a", 40)}},
	}, "model.onnx")
	if res[0].Kind != KindModel || res[0].Name != "clf" {
		t.Fatalf("AddResult = %+v", res[0])
	}
	m, err := r.ReadManifest("model.onnx")
	if err != nil {
		t.Fatal(err)
	}
	if m.Kind != KindModel || m.Name != "clf" || m.Meta["owner"] != "me" || m.Metrics["accuracy"] != 0.9 ||
		m.Lineage == nil || len(m.Lineage.Inputs) != 1 || m.Lineage.Inputs[0] != in {
		t.Fatalf("manifest = %+v", m)
	}
	// Re-adding keeps the name and kind, merges metadata, and "" deletes a key.
	res = tAdd(t, r, AddOptions{Meta: map[string]string{"owner": "", "classification": "internal"}}, "model.onnx")
	m, err = r.ReadManifest("model.onnx")
	if err != nil {
		t.Fatal(err)
	}
	if !res[0].Unchanged || m.Name != "clf" || m.Kind != KindModel || m.Meta["owner"] != "" ||
		m.Meta["license"] != "internal" || m.Meta["classification"] != "internal" {
		t.Fatalf("after re-add: %+v %+v", res[0], m)
	}
	if _, err := r.Add(context.Background(), []string{"model.onnx"}, AddOptions{Cwd: r.Root, Meta: map[string]string{"Owner": "x"}}); err == nil {
		t.Fatal("invalid metadata key accepted")
	}
	if _, err := r.Add(context.Background(), []string{"model.onnx"}, AddOptions{Cwd: r.Root, Metrics: map[string]float64{"": 1}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("invalid metric accepted: %v", err)
	}
}

// dirFixture is a directory with nested directories, an executable, an empty file,
// a multi-chunk file and a symbolic link inside the directory.
type dirFile struct {
	path string
	mode fs.FileMode // 0 for a symlink
	data []byte      // link target for a symlink
}

var dirFixture = []dirFile{
	{"README", 0o644, []byte("images of cats and dogs\n")},
	{"cats/1.jpg", 0o644, tRand(3, 100<<10)},
	{"cats/deep/er/big.bin", 0o644, tRand(4, 700<<10)},
	{"empty", 0o644, nil},
	{"latest", 0, []byte("cats/1.jpg")},
	{"space name.txt", 0o644, []byte("spaces\n")},
	{"tools/run.sh", 0o755, []byte("#!/bin/sh\necho run\n")},
}

func writeFixture(t testing.TB, dir string, files []dirFile) {
	t.Helper()
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.path))
		if f.mode == 0 {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(string(f.data), p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		tWrite(t, p, f.data, f.mode)
	}
}

func checkFixture(t testing.TB, dir string, files []dirFile) {
	t.Helper()
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.path))
		fi, err := os.Lstat(p)
		if err != nil {
			t.Errorf("%s: %v", f.path, err)
			continue
		}
		if f.mode == 0 {
			target, err := os.Readlink(p)
			if err != nil || target != string(f.data) {
				t.Errorf("%s: link to %q, %v; want %q", f.path, target, err, f.data)
			}
			continue
		}
		if fi.Mode() != f.mode {
			t.Errorf("%s: mode %v, want %v", f.path, fi.Mode(), f.mode)
		}
		if !bytes.Equal(tRead(t, p), f.data) {
			t.Errorf("%s: content differs", f.path)
		}
	}
}

func TestAddDirectory(t *testing.T) {
	r := tRepo(t)
	dir := filepath.Join(r.Root, "data", "images")
	writeFixture(t, dir, dirFixture)

	res := tAdd(t, r, AddOptions{}, "data/images")
	var want []objects.TreeEntry
	var size int64
	for _, f := range dirFixture {
		want = append(want, objects.TreeEntry{Path: f.path, Digest: objects.Hash(f.data)})
		size += int64(len(f.data))
	}
	if got := res[0]; got.Type != TypeDir || got.Files != int64(len(dirFixture)) || got.Size != size ||
		got.Digest != objects.TreeDigest(want) || got.Name != "images" {
		t.Fatalf("AddResult = %+v", got)
	}
	// The tree records modes and recipes.
	m, err := r.ReadManifest("data/images")
	if err != nil {
		t.Fatal(err)
	}
	entries, err := r.loadTree(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	modes := map[string]uint32{}
	for _, e := range entries {
		modes[e.Path] = e.Mode
		if e.Path == "cats/deep/er/big.bin" && e.Recipe.IsZero() {
			t.Error("multi-chunk file stored without a recipe")
		}
		if e.Path == "README" && !e.Recipe.IsZero() {
			t.Error("single-chunk file in a directory stored with a recipe")
		}
	}
	if modes["tools/run.sh"] != objects.ModeExec || modes["README"] != objects.ModeFile || modes["latest"] != objects.ModeSymlink {
		t.Fatalf("modes = %v", modes)
	}
	if s := tState(t, r, "data/images"); s != StateOK {
		t.Fatalf("state = %s", s)
	}

	// Changes are named.
	tWrite(t, filepath.Join(dir, "cats", "1.jpg"), tRand(5, 100<<10), 0o644)
	if err := os.Chmod(filepath.Join(dir, "tools", "run.sh"), 0o644); err != nil {
		t.Fatal(err)
	}
	tWrite(t, filepath.Join(dir, "cats", "2.jpg"), []byte("new"), 0o644)
	if err := os.Remove(filepath.Join(dir, "README")); err != nil {
		t.Fatal(err)
	}
	e := tStates(t, r)["data/images"]
	wantChanges := []FileChange{{"README", "removed"}, {"cats/1.jpg", "modified"}, {"cats/2.jpg", "added"}, {"tools/run.sh", "mode"}}
	if e.State != StateModified || !slices.Equal(e.Changes, wantChanges) {
		t.Fatalf("status = %+v, want changes %v", e, wantChanges)
	}

	// Gone entirely: checkout restores every file, mode and link.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if s := tState(t, r, "data/images"); s != StateMissing {
		t.Fatalf("state = %s", s)
	}
	co, err := tCheckout(t, r, CheckoutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if co[0].Restored != int64(len(dirFixture)) {
		t.Fatalf("Checkout = %+v", co)
	}
	checkFixture(t, dir, dirFixture)
	if s := tState(t, r, "data/images"); s != StateOK {
		t.Fatalf("state after checkout = %s", s)
	}
	// A file the tree lacks, whose content the store has, is removed by checkout.
	tWrite(t, filepath.Join(dir, "copy.jpg"), dirFixture[1].data, 0o644)
	tAdd(t, r, AddOptions{}, "data/images") // now the tree has copy.jpg
	tAdd(t, r, AddOptions{}, "data/images")
	if err := os.Remove(filepath.Join(dir, "copy.jpg")); err != nil {
		t.Fatal(err)
	}
	tAdd(t, r, AddOptions{}, "data/images") // and now it does not
	if s := tState(t, r, "data/images"); s != StateOK {
		t.Fatalf("state = %s", s)
	}
}

func TestAddRefuses(t *testing.T) {
	r := tRepo(t)
	outside := t.TempDir()
	tWrite(t, filepath.Join(outside, "secret"), []byte("secret"), 0o644)
	root := r.Root
	w := func(rel string, data string) { tWrite(t, filepath.Join(root, rel), []byte(data), 0o644) }
	link := func(rel, target string) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, rel)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, filepath.Join(root, rel)); err != nil {
			t.Fatal(err)
		}
	}
	fifo := func(rel string) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, rel)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Mkfifo(filepath.Join(root, rel), 0o644); err != nil {
			t.Skipf("mkfifo: %v", err)
		}
	}
	w("data/x.csv", "a,b\n")
	tAdd(t, r, AddOptions{}, "data/x.csv")
	w("tracked/f.txt", "f")
	tAdd(t, r, AddOptions{}, "tracked")
	link("top-link.csv", "data/x.csv")
	w("abslink/a.txt", "a")
	link("abslink/out", filepath.Join(outside, "secret"))
	w("rellink/a.txt", "a")
	link("rellink/sub/up", "../../../"+filepath.Base(outside)+"/secret")
	link("rellink2/up", "..") // inside the repository: fine on its own
	w("rellink2/a.txt", "a")
	fifo("fifo")
	w("withfifo/a.txt", "a")
	fifo("withfifo/sub/p")
	w("withgit/a.txt", "a")
	w("withgit/sub/.git/config", "[core]\n")
	w("withgitfile/a.txt", "a")
	w("withgitfile/sub/.git", "gitdir: /elsewhere\n")
	w("withmanifest/a.txt", "a")
	w("withmanifest/sub/b.trove", "{}\n")

	tests := []struct {
		path string
		want error
	}{
		{"data/x.csv.trove", ErrUnsupported},
		{"top-link.csv", ErrUnsupported},
		{"abslink", ErrUnsupported},
		{"rellink", ErrUnsupported},
		{"tracked/f.txt", ErrUnsupported},
		{"tracked/new.txt", ErrUnsupported}, // inside a tracked directory even if missing
		{"nothing/here.csv", ErrNoSuchPath},
		{"fifo", ErrUnsupported},
		{"withfifo", ErrUnsupported},
		{"withgit", ErrUnsupported},
		{"withgitfile", ErrUnsupported},
		{"withmanifest", ErrUnsupported},
		{".trove/config", ErrUnsupported},
		{".git", ErrUnsupported},
		{".", ErrUnsupported},
		{"../x", ErrOutsideRepo},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			res, err := r.Add(context.Background(), []string{tc.path}, AddOptions{Cwd: root})
			if !errors.Is(err, tc.want) {
				t.Fatalf("Add(%s) = %+v, %v; want %v", tc.path, res, err, tc.want)
			}
			if len(res) != 0 {
				t.Fatalf("Add(%s) reported results %+v", tc.path, res)
			}
			clean := filepath.Clean(tc.path)
			if _, err := os.Lstat(filepath.Join(root, clean+Ext)); err == nil && clean != "data/x.csv" && clean != "tracked" {
				t.Fatalf("Add(%s) wrote a manifest", tc.path)
			}
			gi, _ := os.ReadFile(filepath.Join(root, filepath.Dir(clean), ".gitignore"))
			if strings.Contains(string(gi), "/"+filepath.Base(clean)+"\n") && clean != "data/x.csv" {
				t.Fatalf("Add(%s) wrote a .gitignore entry", tc.path)
			}
		})
	}
	// The link leading outside was never followed: the secret is not in the store.
	st, err := r.Store()
	if err != nil {
		t.Fatal(err)
	}
	if st.Has(objects.Hash([]byte("secret"))) {
		t.Fatal("content outside the repository was stored")
	}
	if ents, _ := os.ReadDir(filepath.Join(root, Dir, "store", "tmp")); len(ents) != 0 {
		t.Fatalf("store/tmp left with %d files", len(ents))
	}
	// A symlink that stays inside is fine.
	tAdd(t, r, AddOptions{}, "rellink2")

	// Several paths: the first error stops the work; earlier paths stay tracked.
	w("multi/a.csv", "a")
	w("multi/c.csv", "c")
	res, err := r.Add(context.Background(), []string{"multi/a.csv", "multi/b.csv", "multi/c.csv"}, AddOptions{Cwd: root})
	if !errors.Is(err, ErrNoSuchPath) || len(res) != 1 || res[0].Path != "multi/a.csv" {
		t.Fatalf("Add of several paths = %+v, %v", res, err)
	}
	if _, err := r.ReadManifest("multi/a.csv"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReadManifest("multi/c.csv"); !errors.Is(err, ErrNotTracked) {
		t.Fatalf("path after the error was tracked: %v", err)
	}
}

// TestReAddChangedFile: a small edit in a large file stores only the chunks around
// it; an unchanged file stores nothing.
func TestReAddChangedFile(t *testing.T) {
	r := tRepo(t)
	data := tRand(6, 8<<20)
	abs := filepath.Join(r.Root, "big.bin")
	tWrite(t, abs, data, 0o644)
	first := tAdd(t, r, AddOptions{}, "big.bin")[0]
	if first.NewBytes < int64(len(data)) {
		t.Fatalf("first add stored %d bytes of %d", first.NewBytes, len(data))
	}
	copy(data[4<<20:], tRand(7, 4<<10))
	tWrite(t, abs, data, 0o644)
	second := tAdd(t, r, AddOptions{}, "big.bin")[0]
	if second.Unchanged || second.Digest != objects.Hash(data) {
		t.Fatalf("second add = %+v", second)
	}
	if second.NewBytes == 0 || second.NewBytes >= 600<<10 {
		t.Fatalf("changing 4 KiB stored %d new bytes; want 0 < n < 600 KiB", second.NewBytes)
	}
	third := tAdd(t, r, AddOptions{}, "big.bin")[0]
	if !third.Unchanged || third.NewBytes != 0 || third.NewChunks != 0 {
		t.Fatalf("re-adding an unchanged file = %+v", third)
	}
	if err := os.Remove(abs); err != nil {
		t.Fatal(err)
	}
	if _, err := tCheckout(t, r, CheckoutOptions{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(tRead(t, abs), data) {
		t.Fatal("checkout of the second version differs")
	}
}

// packOf returns the pack holding chunk id.
func packOf(t testing.TB, r *Repo, id objects.ID) string {
	t.Helper()
	st, err := r.Store()
	if err != nil {
		t.Fatal(err)
	}
	loc, ok := st.Lookup(id)
	if !ok {
		t.Fatalf("chunk %s not in the store", id.Short())
	}
	return st.PackPath(loc.Pack)
}

// TestCheckoutMissingPack: a deleted pack is reported for the file that needs it,
// while the other artifacts are restored.
func TestCheckoutMissingPack(t *testing.T) {
	for _, reopen := range []bool{false, true} {
		name := "same-repo"
		if reopen {
			name = "reopened"
		}
		t.Run(name, func(t *testing.T) {
			r := tRepo(t)
			a, b := tRand(8, 200<<10), tRand(9, 200<<10)
			tWrite(t, filepath.Join(r.Root, "a.bin"), a, 0o644)
			tWrite(t, filepath.Join(r.Root, "b.bin"), b, 0o644)
			writeFixture(t, filepath.Join(r.Root, "dir"), dirFixture)
			tAdd(t, r, AddOptions{}, "a.bin") // one pack each: Add flushes per path
			tAdd(t, r, AddOptions{}, "b.bin")
			tAdd(t, r, AddOptions{}, "dir")
			ma, err := r.ReadManifest("a.bin")
			if err != nil {
				t.Fatal(err)
			}
			mb, err := r.ReadManifest("b.bin")
			if err != nil {
				t.Fatal(err)
			}
			pack := packOf(t, r, ma.Object)
			if pack == packOf(t, r, mb.Object) {
				t.Fatal("test setup: a and b share a pack")
			}
			if err := os.Remove(pack); err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{"a.bin", "b.bin", "dir"} {
				if err := os.RemoveAll(filepath.Join(r.Root, p)); err != nil {
					t.Fatal(err)
				}
			}
			if reopen {
				r.Close()
				var err error
				if r, err = Open(r.Root); err != nil {
					t.Fatal(err)
				}
				defer r.Close()
			}
			co, err := tCheckout(t, r, CheckoutOptions{})
			if !errors.Is(err, ErrIncomplete) || !errors.Is(err, objects.ErrMissing) {
				t.Fatalf("Checkout error = %v; want ErrIncomplete and objects.ErrMissing", err)
			}
			byPath := map[string]CheckoutEntry{}
			for _, e := range co {
				byPath[e.Path] = e
			}
			if p := byPath["a.bin"].Problems; len(p) != 1 || p[0].Path != "a.bin" || p[0].Error == "" {
				t.Fatalf("problems for a.bin = %+v", p)
			}
			if e := byPath["b.bin"]; e.Restored != 1 || len(e.Problems) != 0 {
				t.Fatalf("b.bin = %+v", e)
			}
			if e := byPath["dir"]; e.Restored != int64(len(dirFixture)) || len(e.Problems) != 0 {
				t.Fatalf("dir = %+v", e)
			}
			if _, err := os.Lstat(filepath.Join(r.Root, "a.bin")); err == nil {
				t.Fatal("a.bin written although its pack is missing")
			}
			if !bytes.Equal(tRead(t, filepath.Join(r.Root, "b.bin")), b) {
				t.Fatal("b.bin differs")
			}
			checkFixture(t, filepath.Join(r.Root, "dir"), dirFixture)
			// No temporary files are left behind.
			ents, _ := os.ReadDir(r.Root)
			for _, e := range ents {
				if strings.Contains(e.Name(), "trove-tmp") {
					t.Fatalf("temporary file %s left", e.Name())
				}
			}
		})
	}
}

// TestCheckoutConflict: local changes trove has not stored are not overwritten
// unless Force.
func TestCheckoutConflict(t *testing.T) {
	r := tRepo(t)
	v1 := tRand(10, 50<<10)
	abs := filepath.Join(r.Root, "m.bin")
	tWrite(t, abs, v1, 0o644)
	tAdd(t, r, AddOptions{}, "m.bin")
	dir := filepath.Join(r.Root, "dir")
	writeFixture(t, dir, dirFixture)
	tAdd(t, r, AddOptions{}, "dir")

	local := tRand(11, 60<<10)
	tWrite(t, abs, local, 0o644)
	inDir := filepath.Join(dir, "cats", "1.jpg")
	tWrite(t, inDir, local, 0o644)
	if err := os.Remove(filepath.Join(dir, "README")); err != nil {
		t.Fatal(err)
	}
	// Status has seen (and cached) the local content: still not in the store.
	tStates(t, r)

	co, err := tCheckout(t, r, CheckoutOptions{})
	if !errors.Is(err, ErrConflict) || !errors.Is(err, ErrIncomplete) {
		t.Fatalf("Checkout over local changes: %v", err)
	}
	if !bytes.Equal(tRead(t, abs), local) || !bytes.Equal(tRead(t, inDir), local) {
		t.Fatal("local changes overwritten")
	}
	for _, e := range co {
		if len(e.Problems) != 1 {
			t.Fatalf("%s: problems %+v", e.Path, e.Problems)
		}
	}
	// The rest of the directory was restored.
	if !bytes.Equal(tRead(t, filepath.Join(dir, "README")), dirFixture[0].data) {
		t.Fatal("README not restored beside the conflict")
	}

	if _, err := tCheckout(t, r, CheckoutOptions{Force: true}); err != nil {
		t.Fatalf("Checkout with Force: %v", err)
	}
	if !bytes.Equal(tRead(t, abs), v1) {
		t.Fatal("Force did not restore m.bin")
	}
	checkFixture(t, dir, dirFixture)

	// Content trove has stored may be replaced without Force: add v2, go back to
	// v1's manifest, and checkout replaces v2 (which the store keeps).
	old := tRead(t, abs+Ext)
	v2 := tRand(12, 50<<10)
	tWrite(t, abs, v2, 0o644)
	tAdd(t, r, AddOptions{}, "m.bin")
	tWrite(t, abs+Ext, old, 0o644)
	if _, err := tCheckout(t, r, CheckoutOptions{Paths: []string{"m.bin"}}); err != nil {
		t.Fatalf("Checkout over stored content: %v", err)
	}
	if !bytes.Equal(tRead(t, abs), v1) {
		t.Fatal("m.bin not back at v1")
	}
}

// TestInterruptedAdd: cancelling an add midway leaves the store consistent; a
// later add succeeds and earlier artifacts still check out.
func TestInterruptedAdd(t *testing.T) {
	r := tRepo(t)
	early := tRand(13, 100<<10)
	tWrite(t, filepath.Join(r.Root, "early.bin"), early, 0o644)
	tAdd(t, r, AddOptions{}, "early.bin")

	const nfiles, fsize = 48, 256 << 10
	var files []dirFile
	for i := range nfiles {
		files = append(files, dirFile{path: fmt.Sprintf("sub%d/f%02d.bin", i%4, i), mode: 0o644, data: tRand(uint64(100+i), fsize)})
	}
	writeFixture(t, filepath.Join(r.Root, "big"), files)
	st, err := r.Store()
	if err != nil {
		t.Fatal(err)
	}
	st.SetPackSize(1 << 20) // packs complete during the add, before the cancel

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err = r.Add(ctx, []string{"big"}, AddOptions{Cwd: r.Root, Jobs: 4, Progress: func(e Event) {
		if e.Bytes > nfiles*fsize/3 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted Add: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(r.Root, "big"+Ext)); err == nil {
		t.Fatal("interrupted Add wrote a manifest")
	}
	if ents, _ := os.ReadDir(filepath.Join(r.Root, Dir, "store", "tmp")); len(ents) != 0 {
		t.Fatalf("store/tmp left with %d files", len(ents))
	}
	if n := len(st.Packs()); n < 3 {
		t.Fatalf("%d packs after the interrupted add; want some completed before the cancel", n)
	}
	r.Close()
	verifyStore(t, filepath.Join(r.Root, Dir, "store"))

	r, err = Open(r.Root)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	tAdd(t, r, AddOptions{}, "big")
	for _, p := range []string{"early.bin", "big"} {
		if err := os.RemoveAll(filepath.Join(r.Root, p)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tCheckout(t, r, CheckoutOptions{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(tRead(t, filepath.Join(r.Root, "early.bin")), early) {
		t.Fatal("early.bin differs")
	}
	checkFixture(t, filepath.Join(r.Root, "big"), files)
	verifyStore(t, filepath.Join(r.Root, Dir, "store"))
}

// verifyStore checks every pack in a store: its bytes match its name, its index is
// sound, and every chunk reads back verified.
func verifyStore(t testing.TB, dir string) {
	t.Helper()
	st, err := objects.OpenStore(dir)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	defer st.Close()
	packs := st.Packs()
	if len(packs) == 0 {
		t.Fatal("store has no packs")
	}
	for pid := range packs {
		f, err := os.Open(st.PackPath(pid))
		if err != nil {
			t.Fatal(err)
		}
		got, n, err := objects.HashReader(f)
		if err != nil || got != pid {
			t.Fatalf("pack %s: bytes hash to %s, %v", pid.Short(), got.Short(), err)
		}
		ents, err := objects.ReadPackIndex(f, n)
		f.Close()
		if err != nil {
			t.Fatalf("pack %s: %v", pid.Short(), err)
		}
		for _, e := range ents {
			if _, err := st.ReadChunk(e.ID, nil); err != nil {
				t.Fatalf("chunk %s: %v", e.ID.Short(), err)
			}
		}
	}
}

func TestGitignoreEscaping(t *testing.T) {
	for name, want := range map[string]string{
		"train.csv":     "/train.csv",
		"data[1].csv":   `/data\[1].csv`,
		"a*b?.csv":      `/a\*b\?.csv`,
		"!important":    "/!important",
		"#hash":         "/#hash",
		"trailing  ":    `/trailing\ \ `,
		" leading":      "/ leading",
		"in side.txt":   "/in side.txt",
		"café.parquet":  "/café.parquet",
		"dir]close.bin": "/dir]close.bin",
	} {
		if got := gitignoreLine(name); got != want {
			t.Errorf("gitignoreLine(%q) = %q, want %q", name, got, want)
		}
	}
	// And git agrees: each added file, and only it, is ignored.
	r := tRepo(t)
	names := []string{"data[1].csv", "a*b?.csv", "!important", "#hash", "trailing  ", "café.parquet"}
	decoys := []string{"data1.csv", "aXbY.csv", "trailing", "trailing ", "ab.csv"}
	for _, n := range append(slices.Clone(names), decoys...) {
		tWrite(t, filepath.Join(r.Root, "d", n), []byte(n), 0o644)
	}
	for _, n := range names {
		tAdd(t, r, AddOptions{}, filepath.Join("d", n))
	}
	for _, n := range names {
		if !tIgnored(t, r.Root, "d/"+n) {
			t.Errorf("%q is not ignored", n)
		}
		if tIgnored(t, r.Root, "d/"+n+Ext) {
			t.Errorf("the manifest of %q is ignored", n)
		}
	}
	for _, n := range decoys {
		if tIgnored(t, r.Root, "d/"+n) {
			t.Errorf("%q is ignored but was never added", n)
		}
	}
	// Adding again does not repeat the lines.
	before := tRead(t, filepath.Join(r.Root, "d", ".gitignore"))
	for _, n := range names {
		tAdd(t, r, AddOptions{}, filepath.Join("d", n))
	}
	if after := tRead(t, filepath.Join(r.Root, "d", ".gitignore")); !bytes.Equal(before, after) {
		t.Fatalf(".gitignore grew:\n%s", after)
	}
	// An existing .gitignore without a final newline keeps its last line.
	tWrite(t, filepath.Join(r.Root, "e", ".gitignore"), []byte("*.tmp"), 0o644)
	tWrite(t, filepath.Join(r.Root, "e", "x.csv"), []byte("x"), 0o644)
	tAdd(t, r, AddOptions{}, "e/x.csv")
	if gi := string(tRead(t, filepath.Join(r.Root, "e", ".gitignore"))); gi != "*.tmp\n/x.csv\n" {
		t.Fatalf(".gitignore = %q", gi)
	}
}
