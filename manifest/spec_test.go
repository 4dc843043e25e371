package manifest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trove-dev/trove/objects"
)

// The commands SPEC.md gives for checking digests without trove.
const (
	specDirPipeline  = `cd "$1" && find . -type f -printf '%P\n' | LC_ALL=C sort | xargs -r -d '\n' b3sum -- | b3sum`
	specLinkPipeline = `cd "$1" && find . \( -type f -o -type l \) -printf '%P\n' | LC_ALL=C sort |
  while IFS= read -r p; do
    if [ -L "$p" ]; then printf '%s  %s\n' "$(readlink -n -- "$p" | b3sum --no-names)" "$p"
    else b3sum -- "$p"; fi
  done | b3sum`
)

// sh runs a bash script with arguments and returns the first field of its output
// (b3sum prints "<hex>  -").
func sh(t *testing.T, script string, args ...string) string {
	t.Helper()
	for _, tool := range []string{"bash", "b3sum", "find", "xargs", "sort"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	cmd := exec.Command("bash", append([]string{"-c", script, "sh"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	f := strings.Fields(string(out))
	if len(f) == 0 {
		t.Fatalf("%s: no output", script)
	}
	return f[0]
}

// TestSpecDigestsWithB3sum: anyone can check a manifest's digest with b3sum, as
// SPEC.md says, for files and for directories.
func TestSpecDigestsWithB3sum(t *testing.T) {
	r := tRepo(t)
	// Names that test the sort order (bytes, upper case first), spaces and UTF-8.
	files := append([]dirFile(nil), dirFixture...)
	files = append(files,
		dirFile{"B.txt", 0o644, []byte("B")},
		dirFile{"a b/c.txt", 0o644, []byte("c")},
		dirFile{"a-b.txt", 0o644, []byte("-")},
		dirFile{"a/b.txt", 0o644, []byte("/")},
		dirFile{"é/ü.txt", 0o644, []byte("u")},
		dirFile{"-dash.txt", 0o644, []byte("dash")}, // not an option to b3sum
	)
	var noLinks []dirFile
	for _, f := range files {
		if f.mode != 0 {
			noLinks = append(noLinks, f)
		}
	}
	writeFixture(t, filepath.Join(r.Root, "plain"), noLinks)
	writeFixture(t, filepath.Join(r.Root, "links"), files)
	big := filepath.Join(r.Root, "plain", "cats", "deep", "er", "big.bin")
	tWrite(t, filepath.Join(r.Root, "big.bin"), tRead(t, big), 0o644)
	res := tAdd(t, r, AddOptions{}, "plain", "links", "big.bin")

	if got := sh(t, `b3sum -- "$1"`, filepath.Join(r.Root, "big.bin")); got != res[2].Digest.Hex() {
		t.Errorf("b3sum FILE = %s, manifest digest %s", got, res[2].Digest)
	}
	if got := sh(t, specDirPipeline, filepath.Join(r.Root, "plain")); got != res[0].Digest.Hex() {
		t.Errorf("directory pipeline = %s, manifest digest %s", got, res[0].Digest)
	}
	if got := sh(t, specLinkPipeline, filepath.Join(r.Root, "plain")); got != res[0].Digest.Hex() {
		t.Errorf("directory pipeline with links, no links = %s, manifest digest %s", got, res[0].Digest)
	}
	if got := sh(t, specLinkPipeline, filepath.Join(r.Root, "links")); got != res[1].Digest.Hex() {
		t.Errorf("directory pipeline with links = %s, manifest digest %s", got, res[1].Digest)
	}
	// The plain pipeline skips links, so with links it gives another answer.
	if got := sh(t, specDirPipeline, filepath.Join(r.Root, "links")); got == res[1].Digest.Hex() {
		t.Errorf("plain pipeline matched a directory with links")
	}
	// The golden examples in SPEC.md.
	if got := sh(t, `printf 'hello, trove\n' | b3sum`); got != goldenManifests(t)["file"].Digest.Hex() {
		t.Errorf("golden file digest differs from b3sum: %s", got)
	}
	dir := t.TempDir()
	for _, f := range imagesFiles {
		tWrite(t, filepath.Join(dir, f.path), []byte(f.data), os.FileMode(f.mode&0o777))
	}
	if got := sh(t, specDirPipeline, dir); got != goldenManifests(t)["dir"].Digest.Hex() {
		t.Errorf("golden dir digest differs from the pipeline: %s", got)
	}
	// An empty directory: the BLAKE3 of nothing.
	empty := t.TempDir()
	if got := sh(t, specDirPipeline, empty); got != objects.TreeDigest(nil).Hex() {
		t.Errorf("empty directory: pipeline %s, TreeDigest %s", got, objects.TreeDigest(nil).Hex())
	}
}

// TestSpecRecipeNode pins the recipe node layout SPEC.md describes, on the golden
// file: "TRVRCP", format 1, level 0, then per chunk its id and its length as a
// little-endian uint64; the node's BLAKE3 is the manifest's object.
func TestSpecRecipeNode(t *testing.T) {
	m := goldenManifests(t)["file"]
	node := []byte("TRVRCP\x01\x00")
	id := objects.Hash(helloContent)
	node = append(node, id[:]...)
	node = append(node, byte(len(helloContent)), 0, 0, 0, 0, 0, 0, 0)
	if objects.Hash(node) != m.Object {
		t.Fatalf("recipe node as SPEC.md describes it hashes to %s, manifest object %s", objects.Hash(node), m.Object)
	}
	// The directory: the object is the recipe of the tree text.
	var entries []objects.TreeEntry
	for _, f := range imagesFiles {
		entries = append(entries, objects.TreeEntry{Path: f.path, Mode: f.mode, Size: int64(len(f.data)), Digest: objects.Hash([]byte(f.data))})
	}
	var text strings.Builder
	text.WriteString("trove-tree 1\n")
	for _, e := range entries {
		mode := "100644"
		if e.Mode == objects.ModeExec {
			mode = "100755"
		}
		text.WriteString(mode + " " + itoa(e.Size) + " " + e.Digest.Hex() + " - " + e.Path + "\n")
	}
	if text.String() != string(objects.EncodeTree(entries)) {
		t.Fatalf("tree text as SPEC.md describes it:\n%s\nEncodeTree:\n%s", text.String(), objects.EncodeTree(entries))
	}
	tid := objects.Hash([]byte(text.String()))
	node = []byte("TRVRCP\x01\x00")
	node = append(node, tid[:]...)
	node = append(node, byte(text.Len()), byte(text.Len()>>8), 0, 0, 0, 0, 0, 0)
	if objects.Hash(node) != goldenManifests(t)["dir"].Object {
		t.Fatalf("directory object differs from the recipe of its tree text")
	}
}

func itoa(n int64) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}
