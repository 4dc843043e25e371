package objects_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/trove-dev/trove/objects"
)

func treeEntry(path string, mode uint32, content string, recipe bool) objects.TreeEntry {
	e := objects.TreeEntry{Path: path, Mode: mode, Size: int64(len(content)), Digest: objects.Hash([]byte(content))}
	if recipe {
		e.Recipe = objects.Hash([]byte("recipe of " + path))
	}
	return e
}

func TestTreeEncodeGolden(t *testing.T) {
	entries := []objects.TreeEntry{
		treeEntry("a b/c.txt", objects.ModeFile, "abc", false),
		treeEntry("bin/run", objects.ModeExec, "", false),
		{Path: "link", Mode: objects.ModeSymlink, Size: 5, Digest: objects.Hash([]byte("a b/c")), Recipe: objects.Hash([]byte("r"))},
	}
	got := string(objects.EncodeTree(entries))
	want := "trove-tree 1\n" +
		"100644 3 " + objects.Hash([]byte("abc")).Hex() + " - a b/c.txt\n" +
		"100755 0 " + objects.Hash(nil).Hex() + " - bin/run\n" +
		"120000 5 " + objects.Hash([]byte("a b/c")).Hex() + " " + objects.Hash([]byte("r")).Hex() + " link\n"
	if got != want {
		t.Fatalf("EncodeTree =\n%s\nwant\n%s", got, want)
	}
}

func TestTreeRoundTrip(t *testing.T) {
	tests := []struct {
		name    string
		entries []objects.TreeEntry
	}{
		{"empty", nil},
		{"one file", []objects.TreeEntry{treeEntry("f", objects.ModeFile, "x", false)}},
		{"all modes, recipes and sizes", []objects.TreeEntry{
			treeEntry("big.bin", objects.ModeFile, strings.Repeat("z", 1000), true),
			treeEntry("empty", objects.ModeFile, "", false),
			treeEntry("run.sh", objects.ModeExec, "#!/bin/sh\n", false),
			treeEntry("to-big", objects.ModeSymlink, "big.bin", false),
		}},
		{"byte order: space < dot < slash < letters", []objects.TreeEntry{
			treeEntry("a b", objects.ModeFile, "1", false),
			treeEntry("a.b", objects.ModeFile, "2", false),
			treeEntry("a/b", objects.ModeFile, "3", false),
			treeEntry("aB", objects.ModeFile, "4", false),
			treeEntry("ab", objects.ModeFile, "5", false),
		}},
		{"odd but valid names", []objects.TreeEntry{
			treeEntry(" leading space", objects.ModeFile, "1", false),
			treeEntry("-dash", objects.ModeFile, "2", false),
			treeEntry(".hidden/..dots/...", objects.ModeFile, "3", false),
			treeEntry("tab\there", objects.ModeFile, "5", false),
			treeEntry("trailing space ", objects.ModeFile, "4", false),
			treeEntry("日本/データ.csv", objects.ModeFile, "6", false),
		}},
		{"deep", []objects.TreeEntry{treeEntry(strings.Repeat("d/", 100)+"f", objects.ModeFile, "", true)}},
		{"longest path", []objects.TreeEntry{treeEntry(strings.Repeat("p", objects.MaxPathLen), objects.ModeFile, "", true)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sorted := slices.Clone(tt.entries)
			objects.SortTree(sorted)
			if !slices.Equal(sorted, tt.entries) {
				t.Fatalf("test entries are not in SortTree order")
			}
			b := objects.EncodeTree(tt.entries)
			got, err := objects.DecodeTree(b)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.entries) {
				t.Fatalf("DecodeTree(EncodeTree(x)) = %+v\nwant %+v", got, tt.entries)
			}
			if again := objects.EncodeTree(got); !bytes.Equal(again, b) {
				t.Fatalf("re-encoding differs")
			}
		})
	}
}

func TestSortTree(t *testing.T) {
	entries := []objects.TreeEntry{{Path: "b"}, {Path: "a/b"}, {Path: "a b"}, {Path: "B"}, {Path: "a"}}
	objects.SortTree(entries)
	var got []string
	for _, e := range entries {
		got = append(got, e.Path)
	}
	if want := []string{"B", "a", "a b", "a/b", "b"}; !slices.Equal(got, want) {
		t.Fatalf("SortTree = %q, want %q", got, want)
	}
}

func TestDecodeTreeRejects(t *testing.T) {
	hex := objects.Hash([]byte("x")).Hex()
	zero := strings.Repeat("0", 64)
	line := func(mode, size, digest, recipe, path string) string {
		return mode + " " + size + " " + digest + " " + recipe + " " + path + "\n"
	}
	ok := func(path string) string { return line("100644", "1", hex, "-", path) }
	const h = "trove-tree 1\n"
	tests := []struct {
		name string
		in   string
	}{
		{"empty input", ""},
		{"missing header", ok("a")},
		{"header without newline", "trove-tree 1"},
		{"header version 2", "trove-tree 2\n" + ok("a")},
		{"header with CRLF", "trove-tree 1\r\n" + ok("a")},
		{"leading blank line", "\n" + h + ok("a")},
		{"no final newline", h + strings.TrimSuffix(ok("a"), "\n")},
		{"blank line", h + ok("a") + "\n"},
		{"CRLF line", h + strings.TrimSuffix(ok("a"), "\n") + "\r\n"},
		{"four fields", h + "100644 1 " + hex + " -\n"},
		{"double space", h + "100644  1 " + hex + " - a\n"},
		{"mode 100600", h + line("100600", "1", hex, "-", "a")},
		{"mode 644", h + line("644", "1", hex, "-", "a")},
		{"mode with a leading zero", h + line("0100644", "1", hex, "-", "a")},
		{"mode 040000 (directory)", h + line("040000", "1", hex, "-", "a")},
		{"mode 160000 (gitlink)", h + line("160000", "1", hex, "-", "a")},
		{"mode decimal digits", h + line("100648", "1", hex, "-", "a")},
		{"mode with sign", h + line("+100644", "1", hex, "-", "a")},
		{"mode empty", h + line("", "1", hex, "-", "a")},
		{"size negative", h + line("100644", "-1", hex, "-", "a")},
		{"size -0", h + line("100644", "-0", hex, "-", "a")},
		{"size leading zero", h + line("100644", "01", hex, "-", "a")},
		{"size 00", h + line("100644", "00", hex, "-", "a")},
		{"size with plus", h + line("100644", "+1", hex, "-", "a")},
		{"size hex", h + line("100644", "0x10", hex, "-", "a")},
		{"size float", h + line("100644", "1e3", hex, "-", "a")},
		{"size underscore", h + line("100644", "1_000", hex, "-", "a")},
		{"size overflow", h + line("100644", "9223372036854775808", hex, "-", "a")},
		{"size empty", h + line("100644", "", hex, "-", "a")},
		{"digest uppercase", h + line("100644", "1", strings.ToUpper(hex), "-", "a")},
		{"digest short", h + line("100644", "1", hex[:63], "-", "a")},
		{"digest with prefix", h + line("100644", "1", "blake3:"+hex, "-", "a")},
		{"digest dash", h + line("100644", "1", "-", "-", "a")},
		{"digest non-hex", h + line("100644", "1", hex[:63]+"g", "-", "a")},
		{"recipe uppercase", h + line("100644", "1", hex, strings.ToUpper(hex), "a")},
		{"recipe short", h + line("100644", "1", hex, hex[:10], "a")},
		{"recipe double dash", h + line("100644", "1", hex, "--", "a")},
		{"recipe empty", h + line("100644", "1", hex, "", "a")},
		{"recipe all zero (must be written -)", h + line("100644", "1", hex, zero, "a")},
		{"path empty", h + ok("")},
		{"path ..", h + ok("..")},
		{"path .", h + ok(".")},
		{"path ../x", h + ok("../x")},
		{"path a/../b", h + ok("a/../b")},
		{"path a/..", h + ok("a/..")},
		{"path /abs", h + ok("/abs")},
		{"path a//b", h + ok("a//b")},
		{"path a/./b", h + ok("a/./b")},
		{"path ./a", h + ok("./a")},
		{"path trailing slash", h + ok("a/")},
		{"path with NUL", h + ok("a\x00b")},
		{"path with backslash", h + ok(`a\b`)},
		{"path ..\\x", h + ok(`..\x`)},
		{"path with CR", h + ok("a\rb")},
		{"path invalid UTF-8", h + ok("a\xffb")},
		{"path too long", h + ok(strings.Repeat("p", objects.MaxPathLen+1))},
		{"unsorted", h + ok("b") + ok("a")},
		{"unsorted by bytes", h + ok("a/b") + ok("a b")},
		{"duplicate", h + ok("a") + ok("a")},
		{"duplicate with other fields", h + ok("a") + line("100755", "7", hex, hex, "a")},
		{"file and directory at once", h + ok("a") + ok("a/b")},
		{"file and directory at once, not adjacent", h + ok("a") + ok("a b") + ok("a/b")},
		{"file and directory at once, deep", h + ok("x/y") + ok("x/y.txt") + ok("x/y/z/w")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entries, err := objects.DecodeTree([]byte(tt.in))
			if !errors.Is(err, objects.ErrCorrupt) {
				t.Fatalf("DecodeTree(%q) = %+v, %v; want ErrCorrupt", tt.in, entries, err)
			}
			if entries != nil {
				t.Fatalf("entries returned with an error")
			}
		})
	}
	// The controls: each rejection differs from a valid tree in one place.
	for _, in := range []string{h, h + ok("a"), h + ok("a b") + ok("a.b") + ok("a/b"), h + ok("a/b") + ok("a/b c") + ok("a/bc")} {
		if _, err := objects.DecodeTree([]byte(in)); err != nil {
			t.Errorf("DecodeTree(%q): %v", in, err)
		}
	}
}

// A newline cannot appear in a decoded path: it ends the line, and what follows is
// not a valid line.
func TestDecodeTreeNewlineInPath(t *testing.T) {
	b := objects.EncodeTree([]objects.TreeEntry{treeEntry("a\nb", objects.ModeFile, "x", false)})
	if _, err := objects.DecodeTree(b); !errors.Is(err, objects.ErrCorrupt) {
		t.Fatalf("DecodeTree of a path with a newline: err = %v, want ErrCorrupt", err)
	}
}

func TestValidPath(t *testing.T) {
	for _, p := range []string{"a", "a/b", "a b", ".a", "a.", "..a", "a..", "...", "-", "日本", "a/b/c/d", strings.Repeat("x", objects.MaxPathLen)} {
		if err := objects.ValidPath(p); err != nil {
			t.Errorf("ValidPath(%q): %v", p, err)
		}
	}
	for _, p := range []string{"", ".", "..", "/", "/a", "a/", "a//b", "./a", "a/.", "a/./b", "a/../b", "../a", "a\x00", "a\nb", "a\rb", `a\b`, "\xff", strings.Repeat("x", objects.MaxPathLen+1)} {
		if err := objects.ValidPath(p); err == nil {
			t.Errorf("ValidPath(%q) = nil, want an error", p)
		}
	}
}

func TestTreeDigestListing(t *testing.T) {
	entries := []objects.TreeEntry{
		treeEntry("a b", objects.ModeFile, "one", false),
		treeEntry("dir/x", objects.ModeExec, "two", true),
	}
	listing := objects.Hash([]byte("one")).Hex() + "  a b\n" + objects.Hash([]byte("two")).Hex() + "  dir/x\n"
	if got, want := objects.TreeDigest(entries), objects.Hash([]byte(listing)); got != want {
		t.Fatalf("TreeDigest = %v, want BLAKE3 of the b3sum listing %v", got, want)
	}
	// Only digests and paths count: mode, size and recipe do not change it.
	other := slices.Clone(entries)
	other[1].Mode, other[1].Recipe, other[1].Size = objects.ModeFile, ID{}, 99
	if objects.TreeDigest(other) != objects.TreeDigest(entries) {
		t.Fatal("TreeDigest depends on more than digests and paths")
	}
	if objects.TreeDigest(nil) != objects.Hash(nil) {
		t.Fatal("TreeDigest of no entries is not BLAKE3 of nothing")
	}
}

// treeOfDir builds the tree entries of the regular files under dir.
func treeOfDir(t *testing.T, dir string) []objects.TreeEntry {
	t.Helper()
	var entries []objects.TreeEntry
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		e := objects.TreeEntry{Path: filepath.ToSlash(rel), Mode: objects.ModeFile, Size: int64(len(b)), Digest: objects.Hash(b)}
		if err := objects.ValidPath(e.Path); err != nil {
			return err
		}
		entries = append(entries, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	objects.SortTree(entries)
	return entries
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, []byte(content), 0o644))
	}
}

func needB3sum(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("b3sum"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("b3sum is required in CI: %v", err)
		}
		t.Skipf("b3sum not on PATH: %v", err)
	}
	for _, tool := range []string{"sh", "find", "sort", "xargs"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not on PATH", tool)
		}
	}
}

// shellTreeDigest runs a b3sum pipeline in dir and returns the hex it prints.
func shellTreeDigest(t *testing.T, dir, pipeline string) string {
	t.Helper()
	out, err := exec.Command("sh", "-c", `cd "$1" && `+pipeline, "sh", dir).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("%s: %v\n%s", pipeline, err, ee.Stderr)
		}
		t.Fatal(err)
	}
	hex, rest, ok := strings.Cut(string(out), "  ")
	if !ok || rest != "-\n" {
		t.Fatalf("unexpected b3sum output %q", out)
	}
	return hex
}

func TestTreeDigestMatchesB3sum(t *testing.T) {
	needB3sum(t)
	// The pipeline documented in tree.go's first version, verbatim.
	const documented = `find . -type f -printf '%P\n' | LC_ALL=C sort | xargs -d '\n' b3sum | b3sum`
	// The robust form now documented: no run on an empty listing, and "--" so that
	// a name starting with "-" is not an option.
	const robust = `find . -type f -printf '%P\n' | LC_ALL=C sort | xargs -r -d '\n' b3sum -- | b3sum`

	tests := []struct {
		name      string
		files     map[string]string
		pipelines []string
	}{
		{"nested, spaces, unicode, empty file", map[string]string{
			"README":                   "hello\n",
			"a b.txt":                  "space in the name",
			"a.txt":                    "dot",
			"Z-upper":                  "upper case sorts first in C",
			"data/train.csv":           "x,y\n1,2\n",
			"data/nested/deep/f.bin":   string(testBytes(1, 100<<10)),
			"data/nested/empty":        "",
			"data/nested two/g":        "g",
			"données/été.txt":          "utf-8",
			"data/nested/deep/.hidden": "dot file",
		}, []string{documented, robust}},
		{"name starting with a dash", map[string]string{"-dash": "x", "ok": "y"}, []string{robust}},
		{"no files", map[string]string{}, []string{robust}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, tt.files)
			must(t, os.MkdirAll(filepath.Join(dir, "empty dir"), 0o755)) // directories are not listed
			entries := treeOfDir(t, dir)
			if len(entries) != len(tt.files) {
				t.Fatalf("found %d files, wrote %d", len(entries), len(tt.files))
			}
			want := objects.TreeDigest(entries).Hex()
			for _, p := range tt.pipelines {
				if got := shellTreeDigest(t, dir, p); got != want {
					t.Errorf("%s\nprints %s, TreeDigest is %s", p, got, want)
				}
			}
		})
	}
}

func FuzzDecodeTree(f *testing.F) {
	hex := objects.Hash([]byte("x")).Hex()
	f.Add([]byte("trove-tree 1\n"))
	f.Add(objects.EncodeTree([]objects.TreeEntry{
		treeEntry("a b/c", objects.ModeFile, "x", true),
		treeEntry("bin/run", objects.ModeExec, "", false),
		treeEntry("link", objects.ModeSymlink, "a b/c", false),
	}))
	f.Add([]byte("trove-tree 1\n100644 01 " + hex + " - a\n"))
	f.Add([]byte("trove-tree 1\n0100644 1 " + hex + " - a\n"))
	f.Add([]byte("trove-tree 1\n100644 1 " + hex + " " + strings.Repeat("0", 64) + " a\n"))
	f.Add([]byte("trove-tree 1\n100644 1 " + hex + " - ../a\n"))
	f.Add([]byte("trove-tree 1\n100644 1 " + hex + " - b\n100644 1 " + hex + " - a\n"))
	f.Add([]byte("trove-tree 1\n100644 1 " + hex + " - a\n100644 1 " + hex + " - a/b\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := objects.DecodeTree(b)
		if err != nil {
			if !errors.Is(err, objects.ErrCorrupt) {
				t.Fatalf("error does not match ErrCorrupt: %v", err)
			}
			return
		}
		// One valid encoding: whatever decodes re-encodes to the same bytes.
		if again := objects.EncodeTree(entries); !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs:\n got %q\nwant %q", again, b)
		}
		for i, e := range entries {
			if err := objects.ValidPath(e.Path); err != nil {
				t.Fatalf("accepted invalid path: %v", err)
			}
			if i > 0 && entries[i-1].Path >= e.Path {
				t.Fatalf("accepted unsorted paths %q, %q", entries[i-1].Path, e.Path)
			}
			for j := range i { // no path below another entry's (quadratic, fine here)
				if strings.HasPrefix(e.Path, entries[j].Path+"/") {
					t.Fatalf("accepted %q below the file %q", e.Path, entries[j].Path)
				}
			}
		}
		// The streaming writer accepts exactly these entries, alike.
		var w bytes.Buffer
		tw := objects.NewTreeWriter(&w)
		for _, e := range entries {
			if err := tw.Add(e); err != nil {
				t.Fatalf("TreeWriter refuses what DecodeTree accepts: %v", err)
			}
		}
		if tw.Close() != nil || !bytes.Equal(w.Bytes(), b) || tw.Digest() != objects.TreeDigest(entries) {
			t.Fatal("TreeWriter output or digest differs")
		}
	})
}

// TestTreeWriter: streaming encoding gives EncodeTree's bytes and TreeDigest's
// digest, and refuses what DecodeTree would refuse as unsorted, duplicated or a
// path below a file, whatever lies between them.
func TestTreeWriter(t *testing.T) {
	var entries []objects.TreeEntry
	for _, p := range []string{"a", "a.txt", "a0", "b/c", "b/c.d", "b/cd/e", "b0", "z"} {
		entries = append(entries, treeEntry(p, objects.ModeFile, p, len(p)%2 == 0))
	}
	var buf bytes.Buffer
	tw := objects.NewTreeWriter(&buf)
	for _, e := range entries {
		if err := tw.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), objects.EncodeTree(entries)) {
		t.Fatalf("streamed tree differs:\n%s", buf.Bytes())
	}
	if tw.Digest() != objects.TreeDigest(entries) || tw.Len() != int64(len(entries)) {
		t.Fatal("digest or count differs")
	}
	// Without a writer: the same checks and digest, no listing.
	dw := objects.NewTreeWriter(nil)
	for _, e := range entries {
		if err := dw.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	if dw.Close() != nil || dw.Digest() != tw.Digest() {
		t.Fatal("digest-only writer differs")
	}
	if err := dw.Add(entries[0]); err == nil {
		t.Fatal("digest-only writer accepted an entry out of order")
	}
	if _, err := objects.DecodeTree(buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	var empty bytes.Buffer
	if tw := objects.NewTreeWriter(&empty); tw.Close() != nil || empty.String() != "trove-tree 1\n" || tw.Digest() != objects.TreeDigest(nil) {
		t.Fatalf("empty tree: %q", empty.String())
	}
	for name, paths := range map[string][]string{
		"unsorted":                  {"b", "a"},
		"duplicate":                 {"a", "a"},
		"below a file":              {"a", "a/b"},
		"below a file, gap":         {"a", "a.txt", "a-b", "a/b"},
		"below a file, deep":        {"x/a", "x/a.z", "x/a/b/c"},
		"below a file, after other": {"d", "d!", "d.x/y", "d/q"},
	} {
		var b bytes.Buffer
		tw := objects.NewTreeWriter(&b)
		var err error
		for _, p := range paths {
			if err = tw.Add(treeEntry(p, objects.ModeFile, p, false)); err != nil {
				break
			}
		}
		if err == nil {
			t.Errorf("%s: %q accepted", name, paths)
		}
		if tw.Close() == nil {
			t.Errorf("%s: Close after a refused entry succeeded", name)
		}
		// DecodeTree agrees that such a listing is invalid.
		raw := "trove-tree 1\n"
		for _, p := range paths {
			raw += "100644 1 " + objects.Hash([]byte(p)).Hex() + " - " + p + "\n"
		}
		if _, derr := objects.DecodeTree([]byte(raw)); derr == nil {
			t.Errorf("%s: DecodeTree accepts what TreeWriter refuses", name)
		}
	}
}
