package manifest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/trove-dev/trove/objects"
)

// hostileEntry is one file of a tree written by hand, as an attacker could.
type hostileEntry struct {
	path string
	mode uint32
	data string // content, or link target
}

// plantTree stores the files and tree of a directory artifact the way trove would
// (but without any of Add's checks) and writes its manifest at rel.
func plantTree(t testing.TB, r *Repo, rel string, files []hostileEntry) *Manifest {
	t.Helper()
	st, err := r.Store()
	if err != nil {
		t.Fatal(err)
	}
	var entries []objects.TreeEntry
	var size int64
	for _, f := range files {
		b := []byte(f.data)
		e := objects.TreeEntry{Path: f.path, Mode: f.mode, Size: int64(len(b)), Digest: objects.Hash(b)}
		if f.mode == objects.ModeSymlink {
			if _, err := st.Put(e.Digest, b); err != nil {
				t.Fatal(err)
			}
		} else {
			c := storeContent(t, st, b, true)
			e.Recipe = c.Recipe
		}
		entries = append(entries, e)
		size += e.Size
	}
	objects.SortTree(entries)
	tree := objects.EncodeTree(entries)
	tc := storeContent(t, st, tree, false)
	if err := st.Flush(); err != nil {
		t.Fatal(err)
	}
	m := &Manifest{
		Trove: FormatVersion, Kind: KindDataset, Type: TypeDir, Name: "evil", Path: path.Base(rel),
		Digest: objects.TreeDigest(entries), Object: tc.Recipe, Files: int64(len(entries)), Size: size,
		Chunker: DefaultChunker(),
	}
	b, err := Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	tWrite(t, r.Abs(rel+Ext), b, 0o644)
	return m
}

// emptyDir fails the test if dir holds anything.
func emptyDir(t testing.TB, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 0 {
		t.Fatalf("%s was written to: %v", dir, ents)
	}
}

// TestCheckoutHostileTrees: a manifest (and its tree) may come from someone else.
// Checkout must never write outside the working tree, nor into .git, whatever the
// tree says; the rest of the work still gets done.
func TestCheckoutHostileTrees(t *testing.T) {
	outside := t.TempDir()
	tests := []struct {
		name  string
		files []hostileEntry
		want  error // or objects.ErrCorrupt when objects.DecodeTree refuses the tree itself
		// paths that must not exist afterwards (relative to the artifact)
		absent []string
	}{
		{
			name: "symlink then a file through it",
			files: []hostileEntry{
				{"a", objects.ModeSymlink, outside},
				{"a/pwned", objects.ModeFile, "pwned"},
			},
			want:   ErrUnsupported,
			absent: []string{"a"},
		},
		{
			name: "relative symlink then a file through it",
			files: []hostileEntry{
				{"a", objects.ModeSymlink, "../../../../../../../../../../../.." + outside},
				{"a/pwned", objects.ModeFile, "pwned"},
			},
			want:   ErrUnsupported,
			absent: []string{"a"},
		},
		{
			name: "file and directory of the same name",
			files: []hostileEntry{
				{"x", objects.ModeFile, "x"},
				{"x/y", objects.ModeFile, "y"},
			},
			want:   ErrUnsupported,
			absent: []string{"x"},
		},
		{
			name: "absolute symlink",
			files: []hostileEntry{
				{"ok.txt", objects.ModeFile, "fine"},
				{"passwd", objects.ModeSymlink, "/etc/passwd"},
			},
			want:   ErrUnsupported,
			absent: []string{"passwd"},
		},
		{
			name: "symlink escaping by ..",
			files: []hostileEntry{
				{"ok.txt", objects.ModeFile, "fine"},
				{"up", objects.ModeSymlink, "../../.."},
			},
			want:   ErrUnsupported,
			absent: []string{"up"},
		},
		{
			name: "git directory",
			files: []hostileEntry{
				{"sub/.git/config", objects.ModeFile, "[core]\n\tfsmonitor = touch /tmp/pwned\n"},
			},
			want:   ErrUnsupported,
			absent: []string{"sub"},
		},
		{
			name: "git file in another case",
			files: []hostileEntry{
				{"sub/.GIT", objects.ModeFile, "gitdir: ../evil\n"},
			},
			want:   ErrUnsupported,
			absent: []string{"sub"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tRepo(t)
			plantTree(t, r, "evil", tc.files)
			tWrite(t, filepath.Join(r.Root, "good.txt"), []byte("good"), 0o644)
			tAdd(t, r, AddOptions{}, "good.txt")
			if err := os.Remove(filepath.Join(r.Root, "good.txt")); err != nil {
				t.Fatal(err)
			}
			_, err := tCheckout(t, r, CheckoutOptions{})
			if !errors.Is(err, ErrIncomplete) || !errors.Is(err, tc.want) && !errors.Is(err, objects.ErrCorrupt) {
				t.Fatalf("Checkout = %v; want ErrIncomplete and %v", err, tc.want)
			}
			emptyDir(t, outside)
			for _, p := range tc.absent {
				if _, err := os.Lstat(filepath.Join(r.Root, "evil", p)); err == nil {
					t.Errorf("evil/%s was created", p)
				}
			}
			if _, err := os.Stat(filepath.Join(r.Root, "good.txt")); err != nil {
				t.Errorf("the good artifact was not restored: %v", err)
			}
		})
	}
}

// TestCheckoutThroughPlantedSymlinks: symbolic links already in the working tree
// (git can check them out) never redirect checkout's writes.
func TestCheckoutThroughPlantedSymlinks(t *testing.T) {
	outside := t.TempDir()
	r := tRepo(t)
	m := plantTree(t, r, "data/evil", []hostileEntry{
		{"sub/authorized_keys", objects.ModeFile, "ssh-ed25519 AAAA attacker"},
		{"z.txt", objects.ModeFile, "z"},
	})
	// A link where the tree has a directory, and a stray manifest that makes the
	// directory walk (and so the removal of stray files) fail.
	if err := os.MkdirAll(filepath.Join(r.Root, "data", "evil"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(r.Root, "data", "evil", "sub")); err != nil {
		t.Fatal(err)
	}
	tWrite(t, filepath.Join(r.Root, "data", "evil", "stray.trove"), []byte("{}\n"), 0o644)
	_, err := tCheckout(t, r, CheckoutOptions{})
	if !errors.Is(err, ErrIncomplete) || !errors.Is(err, ErrConflict) {
		t.Fatalf("Checkout = %v; want ErrIncomplete and ErrConflict", err)
	}
	emptyDir(t, outside)
	if b, err := os.ReadFile(filepath.Join(r.Root, "data", "evil", "z.txt")); err != nil || string(b) != "z" {
		t.Fatalf("z.txt beside the link not restored: %q %v", b, err)
	}

	// The artifact's own parent is a link: checkout of another revision's manifests
	// (Manifests set) must not follow it either.
	if err := os.Symlink(outside, filepath.Join(r.Root, "linked")); err != nil {
		t.Fatal(err)
	}
	fm := goldenManifests(t)["file"]
	st, _ := r.Store()
	c := storeContent(t, st, helloContent, false)
	if err := st.Flush(); err != nil {
		t.Fatal(err)
	}
	fm.Object = c.Recipe
	_, err = tCheckout(t, r, CheckoutOptions{Manifests: []Tracked{
		{Path: "linked/hello.txt", Manifest: fm},
		{Path: "linked/deeper/evil", Manifest: m},
	}})
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("Checkout under a symlinked directory = %v; want ErrConflict", err)
	}
	emptyDir(t, outside)
}

// TestCheckoutRecipeLongerThanManifest: content that expands beyond the size the
// manifest records is refused, and nothing is left behind.
func TestCheckoutRecipeLongerThanManifest(t *testing.T) {
	r := tRepo(t)
	big := tRand(20, 2<<20)
	tWrite(t, filepath.Join(r.Root, "f.bin"), big, 0o644)
	tAdd(t, r, AddOptions{}, "f.bin")
	m, err := r.ReadManifest("f.bin")
	if err != nil {
		t.Fatal(err)
	}
	m.Size = 1000 // a lie: the recipe holds 2 MiB
	b, err := Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	tWrite(t, filepath.Join(r.Root, "f.bin"+Ext), b, 0o644)
	if err := os.Remove(filepath.Join(r.Root, "f.bin")); err != nil {
		t.Fatal(err)
	}
	_, err = tCheckout(t, r, CheckoutOptions{})
	if !errors.Is(err, objects.ErrCorrupt) {
		t.Fatalf("Checkout = %v; want ErrCorrupt", err)
	}
	ents, _ := os.ReadDir(r.Root)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "f.bin") && e.Name() != "f.bin"+Ext || strings.Contains(e.Name(), "trove-tmp") {
			t.Fatalf("left behind: %s", e.Name())
		}
	}
}

// TestHostileManifestFiles: what List and Status do with manifest files that are
// not what they claim.
func TestHostileManifestFiles(t *testing.T) {
	r := tRepo(t)
	good := readGolden(t, "file")
	tWrite(t, filepath.Join(r.Root, "hello.txt"+Ext), []byte(good), 0o644)
	// A symlink to an endless file: must not hang or fill memory.
	if err := os.Symlink("/dev/zero", filepath.Join(r.Root, "zero"+Ext)); err != nil {
		t.Fatal(err)
	}
	// A symlink to a valid manifest elsewhere: still refused.
	if err := os.Symlink("hello.txt"+Ext, filepath.Join(r.Root, "alias.txt"+Ext)); err != nil {
		t.Fatal(err)
	}
	// A FIFO: opening it would block.
	if err := syscall.Mkfifo(filepath.Join(r.Root, "fifo"+Ext), 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	// Bigger than the limit.
	tWrite(t, filepath.Join(r.Root, "huge"+Ext), bytes.Repeat([]byte(" "), MaxManifestSize+100), 0o644)
	// A valid manifest whose path does not match its file name.
	tWrite(t, filepath.Join(r.Root, "renamed.txt"+Ext), []byte(good), 0o644)
	// Not canonical.
	tWrite(t, filepath.Join(r.Root, "crlf.txt"+Ext), []byte(strings.ReplaceAll(good, "\n", "\r\n")), 0o644)

	tracked, err := r.List(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]error{}
	for _, tr := range tracked {
		got[tr.Path] = tr.Err
		if (tr.Err == nil) != (tr.Manifest != nil) {
			t.Errorf("%s: manifest %v with error %v", tr.Path, tr.Manifest, tr.Err)
		}
	}
	want := map[string]error{
		"hello.txt": nil, "zero": ErrInvalid, "alias.txt": ErrInvalid, "fifo": ErrInvalid,
		"huge": ErrInvalid, "renamed.txt": ErrInvalid, "crlf.txt": ErrNotCanonical,
	}
	if len(got) != len(want) {
		t.Fatalf("List = %v", got)
	}
	for p, w := range want {
		err, ok := got[p]
		switch {
		case !ok:
			t.Errorf("%s not listed", p)
		case w == nil && err != nil:
			t.Errorf("%s: %v", p, err)
		case w != nil && !errors.Is(err, w):
			t.Errorf("%s: error %v, want %v", p, err, w)
		}
	}
	states := tStates(t, r)
	for p, w := range want {
		if s := states[p].State; (w == nil) != (s != StateInvalid) {
			t.Errorf("%s: status %s", p, s)
		}
	}
}

// TestCheckTree: checkout's own guard, beside objects.DecodeTree's.
func TestCheckTree(t *testing.T) {
	e := func(paths ...string) []objects.TreeEntry {
		var out []objects.TreeEntry
		for _, p := range paths {
			out = append(out, objects.TreeEntry{Path: p, Mode: objects.ModeFile})
		}
		return out
	}
	for _, tc := range []struct {
		entries []objects.TreeEntry
		ok      bool
	}{
		{e(), true},
		{e("a", "a-b", "a.c", "ab/c", "b/c/d"), true},
		{e("x.git", "git", ".gitignore", "sub/.gitattributes", "a.git/b"), true},
		{e("a", "a-b", "a/c"), false}, // parent not adjacent in byte order
		{e("a/b", "a/b/c"), false},
		{e(".git/config"), false},
		{e("x/.Git/HEAD"), false},
		{e("x/.git"), false},
	} {
		err := checkTree(tc.entries)
		if (err == nil) != tc.ok || err != nil && !errors.Is(err, ErrUnsupported) {
			t.Errorf("checkTree(%v) = %v", tc.entries, err)
		}
	}
}

// A tree whose paths differ only in case cannot be written on a case-insensitive
// file system: checkout refuses it there, naming both paths.
func TestCheckCaseCollisions(t *testing.T) {
	e := func(paths ...string) []objects.TreeEntry {
		var out []objects.TreeEntry
		for _, p := range paths {
			out = append(out, objects.TreeEntry{Path: p})
		}
		return out
	}
	for _, tc := range []struct {
		entries []objects.TreeEntry
		clash   string
	}{
		{e("a", "b", "c/d", "c/e"), ""},
		{e("Data.csv", "data.csv"), "Data.csv and data.csv"},
		{e("X/a", "x/b"), "X and x"},
		{e("dir/README", "dir/readme"), "dir/README and dir/readme"},
		{e("Ünï/a", "ünï/b"), "Ünï and ünï"},
	} {
		err := checkCaseCollisions(tc.entries)
		switch {
		case tc.clash == "" && err != nil:
			t.Errorf("checkCaseCollisions(%v) = %v, want nil", tc.entries, err)
		case tc.clash != "" && (err == nil || !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), tc.clash)):
			t.Errorf("checkCaseCollisions(%v) = %v, want ErrUnsupported naming %q", tc.entries, err, tc.clash)
		}
	}
}

// The probe must tell this (case-sensitive) test file system as it is, and
// must leave nothing behind.
func TestCaseInsensitiveProbe(t *testing.T) {
	dir := t.TempDir()
	// On Linux file systems without casefold, two names differing in case are
	// two files; ask the file system itself what the answer should be.
	if err := os.WriteFile(filepath.Join(dir, "probe"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := os.Stat(filepath.Join(dir, "PROBE"))
	want := err == nil
	os.Remove(filepath.Join(dir, "probe"))
	if got := caseInsensitive(dir); got != want {
		t.Errorf("caseInsensitive = %v, want %v", got, want)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("probe left %v behind", left)
	}
	if caseInsensitive(filepath.Join(dir, "missing")) {
		t.Error("caseInsensitive of a missing directory = true")
	}
}
