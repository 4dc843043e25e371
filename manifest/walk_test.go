package manifest

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trove-dev/trove/objects"
)

// TestWalkOrder: the walk lists paths sorted by bytes without a sort of the
// whole list, which relies on ordering each directory's names with a "/" after
// subdirectories. Names around "/" in byte order ('-', '.', '0') catch a walk
// that sorts plain names.
func TestWalkOrder(t *testing.T) {
	r := tRepo(t)
	rng := rand.New(rand.NewPCG(1, 2))
	segs := []string{"a", "a.", "a-", "a0", "a.b", "b", "a!"}
	files := map[string]bool{}
	dirs := map[string]bool{}
	for range 400 {
		depth := 1 + rng.IntN(4)
		var parts []string
		for range depth {
			parts = append(parts, segs[rng.IntN(len(segs))])
		}
		p := strings.Join(parts, "/")
		clash := dirs[p]
		for i := 1; i < len(parts); i++ {
			if files[strings.Join(parts[:i], "/")] {
				clash = true
			}
		}
		if clash || files[p] {
			continue
		}
		files[p] = true
		for i := 1; i < len(parts); i++ {
			dirs[strings.Join(parts[:i], "/")] = true
		}
		tWrite(t, filepath.Join(r.Root, "data", filepath.FromSlash(p)), []byte(p), 0o644)
	}
	got, err := r.walkFiles("data")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for p := range files {
		want = append(want, "data/"+p)
	}
	slices.Sort(want)
	var rels []string
	for i := range got {
		rels = append(rels, got[i].rel)
		if got[i].st.Name() != filepath.Base(got[i].rel) || got[i].st.Size() != int64(len(got[i].rel)-len("data/")) {
			t.Fatalf("%s: name %q, size %d", got[i].rel, got[i].st.Name(), got[i].st.Size())
		}
	}
	if !slices.Equal(rels, want) {
		t.Fatalf("walk order:\n got %q\nwant %q", rels, want)
	}
}

// TestStatCacheDirectoryLifecycle: adding a directory again drops the cache
// entries of its deleted files; a status that re-hashes most of a large
// directory (every mtime changed) records the new attributes through a run, so
// the next status trusts them; and a first status after add is clean without
// reading the tree.
func TestStatCacheDirectoryLifecycle(t *testing.T) {
	r := tRepo(t)
	const n = 4200 // more than cacheHashed updates one by one
	old := time.Now().Add(-time.Hour)
	for i := range n {
		p := filepath.Join(r.Root, "data", "d"+string(rune('a'+i%5)), fmt.Sprintf("f%04d", i))
		tWrite(t, p, []byte(p), 0o644)
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	res := tAdd(t, r, AddOptions{}, "data")
	cache := r.statCache()
	m, err := r.ReadManifest(res[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	if !cache.cleanTree("data", m.Object, mustModes(t, r, "data")) {
		t.Fatal("add did not record the directory as clean")
	}
	gone := "data/da/f0000"
	if _, ok := cache.get(gone); !ok {
		t.Fatalf("%s not cached after add", gone)
	}
	if err := os.Remove(r.Abs(gone)); err != nil {
		t.Fatal(err)
	}
	tAdd(t, r, AddOptions{}, "data")
	if _, ok := r.statCache().get(gone); ok {
		t.Fatalf("%s still cached after the directory was added without it", gone)
	}
	if st := tState(t, r, "data"); st != StateOK {
		t.Fatalf("status after add: %s", st)
	}

	// Every file touched (same content): status re-hashes them all and records
	// their new mtimes.
	older := old.Add(-time.Hour)
	files, err := r.walkFiles("data")
	if err != nil {
		t.Fatal(err)
	}
	for i := range files {
		if err := os.Chtimes(r.Abs(files[i].rel), older, older); err != nil {
			t.Fatal(err)
		}
	}
	if st := tState(t, r, "data"); st != StateOK {
		t.Fatalf("status after touching: %s", st)
	}
	files, _ = r.walkFiles("data")
	for i := range files {
		if _, _, ok := r.statCache().Lookup(files[i].rel, files[i].info()); !ok {
			t.Fatalf("%s: not trusted after status re-hashed it", files[i].rel)
		}
	}
}

func mustModes(t *testing.T, r *Repo, rel string) [32]byte {
	t.Helper()
	files, err := r.walkFiles(rel)
	if err != nil {
		t.Fatal(err)
	}
	_, modes := (&dirScan{rel: rel, files: files, digests: make([]objects.ID, len(files))}).fingerprints()
	return modes
}
