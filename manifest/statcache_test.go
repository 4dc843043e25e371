package manifest

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/trove-dev/trove/objects"
)

// cacheInfo is a FileInfo whose size, mtime and inode the test chooses.
type cacheInfo struct {
	size  int64
	mtime time.Time
	ino   uint64
}

func (f cacheInfo) Name() string       { return "f" }
func (f cacheInfo) Size() int64        { return f.size }
func (f cacheInfo) Mode() fs.FileMode  { return 0o644 }
func (f cacheInfo) ModTime() time.Time { return f.mtime }
func (f cacheInfo) IsDir() bool        { return false }
func (f cacheInfo) Sys() any           { return &syscall.Stat_t{Ino: f.ino} }

// cacheClock is a settable clock.
type cacheClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *cacheClock) now() time.Time        { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *cacheClock) set(t time.Time)       { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func newCacheClock(t time.Time) *cacheClock { return &cacheClock{t: t} }

var (
	cacheT0       = time.Date(2025, 3, 1, 9, 0, 0, 123456789, time.UTC)
	cacheDigestA  = objects.Hash([]byte("a"))
	cacheRecipeA  = objects.Hash([]byte("recipe a"))
	cacheDigestB  = objects.Hash([]byte("b"))
	cacheLongTime = cacheT0.Add(time.Hour) // a hashing time long after cacheT0
)

func TestStatCacheHitAfterReopen(t *testing.T) {
	p := filepath.Join(t.TempDir(), "cache", "stat")
	clock := newCacheClock(cacheLongTime)
	c := OpenStatCache(p, clock.now)
	fi := cacheInfo{size: 10, mtime: cacheT0, ino: 42}
	c.Update("data/a.csv", fi, cacheDigestA, cacheRecipeA)
	c.Update("data/b.csv", cacheInfo{size: 0, mtime: cacheT0, ino: 43}, cacheDigestB, objects.ID{})
	// Trusted at once in this session: it was hashed long after its mtime.
	if _, _, ok := c.Lookup("data/a.csv", fi); !ok {
		t.Fatal("miss before save")
	}
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	c = OpenStatCache(p, clock.now)
	d, r, ok := c.Lookup("data/a.csv", fi)
	if !ok || d != cacheDigestA || r != cacheRecipeA {
		t.Fatalf("Lookup = %v %v %v, want a hit", d, r, ok)
	}
	if d, r, ok := c.Lookup("data/b.csv", cacheInfo{size: 0, mtime: cacheT0, ino: 43}); !ok || d != cacheDigestB || !r.IsZero() {
		t.Fatalf("Lookup b = %v %v %v", d, r, ok)
	}
	if _, _, ok := c.Lookup("data/c.csv", fi); ok {
		t.Fatal("hit for a path never recorded")
	}
	// A nil clock is time.Now.
	if _, _, ok := OpenStatCache(p, nil).Lookup("data/a.csv", fi); !ok {
		t.Fatal("miss with the default clock")
	}
}

func TestStatCacheMisses(t *testing.T) {
	p := filepath.Join(t.TempDir(), "stat")
	clock := newCacheClock(cacheLongTime)
	c := OpenStatCache(p, clock.now)
	fi := cacheInfo{size: 10, mtime: cacheT0, ino: 42}
	c.Update("a", fi, cacheDigestA, cacheRecipeA)
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	c = OpenStatCache(p, clock.now)
	for name, other := range map[string]cacheInfo{
		"size":        {size: 11, mtime: cacheT0, ino: 42},
		"mtime":       {size: 10, mtime: cacheT0.Add(time.Nanosecond), ino: 42},
		"older mtime": {size: 10, mtime: cacheT0.Add(-time.Second), ino: 42},
		"inode":       {size: 10, mtime: cacheT0, ino: 43},
	} {
		if _, _, ok := c.Lookup("a", other); ok {
			t.Errorf("%s changed: still a hit", name)
		}
	}
	if _, _, ok := c.Lookup("a", fi); !ok {
		t.Error("unchanged: miss")
	}
}

// TestStatCacheRacy: an entry whose mtime is not safely older (2 s) than the
// moment it was hashed is not trusted, however much later it is looked up or the
// cache saved, until the file is hashed again.
func TestStatCacheRacy(t *testing.T) {
	p := filepath.Join(t.TempDir(), "stat")
	hashed := cacheT0.Add(time.Second) // mtime is 1 s before the hashing: racy
	clock := newCacheClock(hashed)
	c := OpenStatCache(p, clock.now)
	racy := cacheInfo{size: 10, mtime: cacheT0, ino: 1}
	edge := cacheInfo{size: 10, mtime: hashed.Add(-racyWindow + time.Nanosecond), ino: 2} // 1 ns short of 2 s
	safe := cacheInfo{size: 10, mtime: hashed.Add(-racyWindow), ino: 3}                   // exactly 2 s older
	c.Update("racy", racy, cacheDigestA, cacheRecipeA)
	c.Update("edge", edge, cacheDigestA, cacheRecipeA)
	c.Update("safe", safe, cacheDigestA, cacheRecipeA)
	check := func(when string, c *StatCache, wantRacy, wantEdge, wantSafe bool) {
		t.Helper()
		for name, x := range map[string]struct {
			fi   cacheInfo
			want bool
		}{"racy": {racy, wantRacy}, "edge": {edge, wantEdge}, "safe": {safe, wantSafe}} {
			if _, _, ok := c.Lookup(name, x.fi); ok != x.want {
				t.Errorf("%s: %s entry trusted = %v, want %v", when, name, ok, x.want)
			}
		}
	}
	check("before save", c, false, false, true)
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	// Much later, reopened and saved again: still not trusted.
	clock.set(hashed.Add(time.Hour))
	c = OpenStatCache(p, clock.now)
	check("reopened", c, false, false, true)
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	c = OpenStatCache(p, clock.now)
	check("saved again without hashing", c, false, false, true)

	// Hashed again (same result) later: trusted, and the recipe is kept.
	c.Update("racy", racy, cacheDigestA, objects.ID{})
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	c = OpenStatCache(p, clock.now)
	if d, r, ok := c.Lookup("racy", racy); !ok || d != cacheDigestA || r != cacheRecipeA {
		t.Errorf("re-hashed entry: %v %v %v; want trusted with its recipe", d, r, ok)
	}
}

// TestStatCacheRecipeFor: the recipe recorded for a digest is found whatever the
// file's attributes, and only for that digest.
func TestStatCacheRecipeFor(t *testing.T) {
	c := OpenStatCache(filepath.Join(t.TempDir(), "stat"), newCacheClock(cacheT0).now)
	c.Update("a", cacheInfo{size: 1, mtime: cacheT0, ino: 1}, cacheDigestA, cacheRecipeA) // racy
	if got := c.recipeFor("a", cacheDigestA); got != cacheRecipeA {
		t.Fatalf("recipeFor = %v", got)
	}
	if got := c.recipeFor("a", cacheDigestB); !got.IsZero() {
		t.Fatalf("recipeFor another digest = %v", got)
	}
	if got := c.recipeFor("b", cacheDigestA); !got.IsZero() {
		t.Fatalf("recipeFor another path = %v", got)
	}
	// New content at the path: its recipe is unknown.
	c.Update("a", cacheInfo{size: 1, mtime: cacheT0, ino: 1}, cacheDigestB, objects.ID{})
	if got := c.recipeFor("a", cacheDigestB); !got.IsZero() {
		t.Fatalf("recipe carried over to other content: %v", got)
	}
}

// TestStatCacheSaveOnlyWhenNeeded: an unchanged cache is not rewritten.
func TestStatCacheSaveOnlyWhenNeeded(t *testing.T) {
	p := filepath.Join(t.TempDir(), "stat")
	clock := newCacheClock(cacheLongTime)
	c := OpenStatCache(p, clock.now)
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err == nil {
		t.Fatal("an empty, unchanged cache was written")
	}
	fi := cacheInfo{size: 1, mtime: cacheT0, ino: 1}
	c.Update("a", fi, cacheDigestA, cacheRecipeA)
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	clock.set(cacheLongTime.Add(time.Hour))
	c = OpenStatCache(p, clock.now)
	c.Update("a", fi, cacheDigestA, cacheRecipeA) // same, and already trusted
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(p)
	if string(before) != string(after) {
		t.Fatal("cache rewritten without a change")
	}
}

// TestStatCacheCorrupt: whatever is in the file, OpenStatCache gives a usable
// cache, and a damaged one is empty (never trusted, never an error or a panic).
func TestStatCacheCorrupt(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	clock := newCacheClock(cacheLongTime)
	c := OpenStatCache(good, clock.now)
	fi := cacheInfo{size: 10, mtime: cacheT0, ino: 42}
	c.Update("data/a.csv", fi, cacheDigestA, cacheRecipeA)
	c.Update("data/b.csv", fi, cacheDigestB, cacheRecipeA)
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := OpenStatCache(good, clock.now).Lookup("data/a.csv", fi); !ok {
		t.Fatal("good cache: miss")
	}
	flip := func(i int) []byte {
		x := append([]byte(nil), b...)
		x[i] ^= 0x01
		return x
	}
	m := len(statMagic)
	cases := map[string][]byte{
		"empty":            {},
		"magic only":       []byte(statMagic),
		"older format":     append([]byte("TRVSTAT1"), b[8:]...),
		"truncated":        b[:len(b)-1],
		"truncated header": b[:m+3],
		"flipped magic":    flip(0),
		"flipped size":     flip(m + 12),
		"flipped digest":   flip(len(b) - 32 - 40),
		"flipped checksum": flip(len(b) - 1),
		"doubled":          append(append([]byte(nil), b...), b...),
		"garbage":          []byte("this is not a stat cache, not even close....................................."),
		"huge path length": append(append([]byte(nil), b[:m]...), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f),
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, "bad")
			if err := os.WriteFile(p, content, 0o644); err != nil {
				t.Fatal(err)
			}
			c := OpenStatCache(p, clock.now)
			if _, _, ok := c.Lookup("data/a.csv", fi); ok {
				t.Fatal("corrupt cache trusted")
			}
			if r := c.recipeFor("data/a.csv", cacheDigestA); !r.IsZero() {
				t.Fatal("recipe from a corrupt cache")
			}
			// Still usable: it can be updated and saved over the damage.
			c.Update("x", fi, cacheDigestA, cacheRecipeA)
			if err := c.Save(); err != nil {
				t.Fatal(err)
			}
			if _, _, ok := OpenStatCache(p, clock.now).Lookup("x", fi); !ok {
				t.Fatal("cache saved over a corrupt one: miss")
			}
		})
	}
	// A directory where the file should be, and a missing file: empty, no panic.
	if _, _, ok := OpenStatCache(dir, clock.now).Lookup("data/a.csv", fi); ok {
		t.Fatal("hit from a directory")
	}
	if _, _, ok := OpenStatCache(filepath.Join(dir, "missing"), clock.now).Lookup("data/a.csv", fi); ok {
		t.Fatal("hit from a missing file")
	}
}

// TestStatCacheConcurrent exercises the lock (run with -race).
func TestStatCacheConcurrent(t *testing.T) {
	c := OpenStatCache(filepath.Join(t.TempDir(), "stat"), newCacheClock(cacheLongTime).now)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				fi := cacheInfo{size: int64(i), mtime: cacheT0, ino: uint64(g)}
				c.Update("p", fi, cacheDigestA, cacheRecipeA)
				c.Lookup("p", fi)
				c.recipeFor("p", cacheDigestA)
			}
		}()
	}
	wg.Wait()
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
}

// TestStatCacheBlocks: a cache of many entries spans many blocks; every entry is
// found by a single lookup and by a cursor, and a damaged block loses its own
// entries only.
func TestStatCacheBlocks(t *testing.T) {
	p := filepath.Join(t.TempDir(), "stat")
	clock := newCacheClock(cacheLongTime)
	c := OpenStatCache(p, clock.now)
	const n = 5000
	fi := func(i int) cacheInfo { return cacheInfo{size: int64(i), mtime: cacheT0, ino: uint64(i + 1)} }
	name := func(i int) string { return fmt.Sprintf("data/d%02d/f%05d.bin", i%7, i) }
	for i := range n {
		c.Update(name(i), fi(i), objects.Hash([]byte(name(i))), cacheRecipeA)
	}
	c.Update("other.csv", fi(0), cacheDigestA, cacheRecipeA)
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	c = OpenStatCache(p, clock.now)
	if c.file == nil || len(c.file.blocks) < 4 {
		t.Fatalf("want several blocks, got %+v", c.file)
	}
	for i := range n {
		if d, _, ok := c.Lookup(name(i), fi(i)); !ok || d != objects.Hash([]byte(name(i))) {
			t.Fatalf("%s: miss", name(i))
		}
	}
	// A cursor over data/d03/ sees exactly its entries, in order.
	var want []string
	for i := range n {
		if i%7 == 3 {
			want = append(want, name(i))
		}
	}
	slices.Sort(want)
	cur := c.cursor("data/d03/")
	for k, w := range want {
		if k%2 == 1 {
			continue // not asked for: counted as skipped
		}
		if _, ok := cur.find(w); !ok {
			t.Fatalf("cursor: %s not found", w)
		}
	}
	cur.finish()
	if cur.skipped != len(want)/2 {
		t.Fatalf("cursor skipped %d, want %d", cur.skipped, len(want)/2)
	}

	// Damage the second block: its entries miss, the others still hit.
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	blk := c.file.blocks[1]
	b[blk.off+10] ^= 0xff
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	c = OpenStatCache(p, clock.now)
	hits := 0
	for i := range n {
		if _, _, ok := c.Lookup(name(i), fi(i)); ok {
			hits++
		}
	}
	if hits == n || hits < n/2 {
		t.Fatalf("%d of %d hits after damaging one block", hits, n)
	}
	// Saving over the damage keeps the good entries and drops the lost ones.
	c.Update("x", fi(1), cacheDigestB, objects.ID{})
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	c = OpenStatCache(p, clock.now)
	again := 0
	for i := range n {
		if _, _, ok := c.Lookup(name(i), fi(i)); ok {
			again++
		}
	}
	if again != hits {
		t.Fatalf("%d hits after saving over the damage, want %d", again, hits)
	}
}

// TestStatCacheRun: a run replaces every entry under its prefix (entries of
// files that are gone disappear), leaves others alone, yields to single updates,
// and a run that changes nothing does not rewrite the file.
func TestStatCacheRun(t *testing.T) {
	p := filepath.Join(t.TempDir(), "stat")
	clock := newCacheClock(cacheLongTime)
	c := OpenStatCache(p, clock.now)
	fi := cacheInfo{size: 1, mtime: cacheT0, ino: 9}
	for _, k := range []string{"d/a", "d/b", "d/c", "d0", "d.x/a", "e/a"} {
		c.Update(k, fi, cacheDigestA, cacheRecipeA)
	}
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(p)

	// The same entries again: nothing to write.
	c = OpenStatCache(p, clock.now)
	run, err := c.beginRun("d/")
	if err != nil {
		t.Fatal(err)
	}
	cur := c.cursor("d/")
	for _, k := range []string{"d/a", "d/b", "d/c"} {
		old, ok := cur.find(k)
		if !ok {
			t.Fatalf("%s: not found by the cursor", k)
		}
		run.add(k, old, false)
	}
	cur.finish()
	c.endRun(run, cur.skipped)
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(p); string(after) != string(before) {
		t.Fatal("an unchanged run rewrote the cache")
	}

	// d/b is gone, d/c changed, d/d is new; a single update of d/a wins over the run.
	run, err = c.beginRun("d/")
	if err != nil {
		t.Fatal(err)
	}
	cur = c.cursor("d/")
	oldA, _ := cur.find("d/a")
	run.add("d/a", oldA, false)
	oldC, hadC := cur.find("d/c")
	eC, changed := c.updated(oldC, hadC, fi, cacheDigestB, objects.ID{})
	if !changed || eC.Recipe != (objects.ID{}) {
		t.Fatalf("updated: %+v %v", eC, changed)
	}
	run.add("d/c", eC, changed)
	eD, _ := c.updated(statEntry{}, false, fi, cacheDigestB, cacheRecipeA)
	run.add("d/d", eD, true)
	run.add("d/c", eD, true) // out of order: the run is dropped, not trusted
	cur.finish()
	if cur.skipped != 1 {
		t.Fatalf("skipped %d, want 1 (d/b)", cur.skipped)
	}
	c.endRun(run, cur.skipped)
	if len(c.runs) != 0 {
		t.Fatal("a run with entries out of order was kept")
	}
	run, _ = c.beginRun("d/")
	run.add("d/a", oldA, false)
	run.add("d/c", eC, true)
	run.add("d/d", eD, true)
	c.endRun(run, 1)
	c.Update("d/a", cacheInfo{size: 2, mtime: cacheT0, ino: 9}, cacheDigestB, objects.ID{})
	// Before the save, paths under the run's prefix miss (safe), others hit.
	if _, _, ok := c.Lookup("d/d", fi); ok {
		t.Fatal("unsaved run entry trusted through Lookup")
	}
	if _, _, ok := c.Lookup("e/a", fi); !ok {
		t.Fatal("e/a: miss before save")
	}
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	c = OpenStatCache(p, clock.now)
	for k, want := range map[string]objects.ID{"d/c": cacheDigestB, "d/d": cacheDigestB, "d0": cacheDigestA, "d.x/a": cacheDigestA, "e/a": cacheDigestA} {
		if d, _, ok := c.Lookup(k, fi); !ok || d != want {
			t.Errorf("%s: %v %v, want %v", k, d, ok, want)
		}
	}
	if _, ok := c.get("d/b"); ok {
		t.Error("d/b, gone from the directory, is still cached")
	}
	if d, _, ok := c.Lookup("d/a", cacheInfo{size: 2, mtime: cacheT0, ino: 9}); !ok || d != cacheDigestB {
		t.Error("the single update of d/a lost to the run")
	}
	if r := c.recipeFor("d/c", cacheDigestB); !r.IsZero() {
		t.Error("d/c kept the recipe of its old content")
	}
}

// TestStatCacheSpill: single updates past overlaySpill go to a sorted run, so a
// checkout of a million files does not hold a million entries; until the save a
// lookup may find the older entry (still safe), after it the newer one.
func TestStatCacheSpill(t *testing.T) {
	p := filepath.Join(t.TempDir(), "stat")
	clock := newCacheClock(cacheLongTime)
	c := OpenStatCache(p, clock.now)
	old := cacheInfo{size: 1, mtime: cacheT0, ino: 7}
	c.Update("k/00000", old, cacheDigestA, cacheRecipeA)
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	c = OpenStatCache(p, clock.now)
	fi := func(i int) cacheInfo { return cacheInfo{size: int64(i + 2), mtime: cacheT0, ino: uint64(i)} }
	for i := range overlaySpill + 10 {
		c.Update(fmt.Sprintf("k/%05d", i), fi(i), cacheDigestB, objects.ID{})
	}
	if len(c.overlay) >= overlaySpill || len(c.runs) != 1 {
		t.Fatalf("overlay %d entries, %d runs: no spill", len(c.overlay), len(c.runs))
	}
	if d, _, ok := c.Lookup("k/00000", old); !ok || d != cacheDigestA {
		t.Fatal("before the save, the older entry should still be found")
	}
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	c = OpenStatCache(p, clock.now)
	for _, i := range []int{0, 1, 4096, overlaySpill - 1, overlaySpill + 9} {
		if d, _, ok := c.Lookup(fmt.Sprintf("k/%05d", i), fi(i)); !ok || d != cacheDigestB {
			t.Fatalf("k/%05d after the save: %v %v", i, d, ok)
		}
	}
	if _, _, ok := c.Lookup("k/00000", old); ok {
		t.Fatal("the replaced entry is still trusted")
	}
}
