package objects

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func randID(r *rand.Rand) ID {
	var id ID
	for i := 0; i < 32; i += 8 {
		binary.LittleEndian.PutUint64(id[i:], r.Uint64())
	}
	return id
}

// TestMidxLookupMatchesMap writes random entries (some chunks in several packs,
// some packs dead) from several sources and checks every lookup against a map,
// at fanout sizes from one bucket to many.
func TestMidxLookupMatchesMap(t *testing.T) {
	for _, n := range []int{0, 1, 7, 100, 5000, 40000} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(n), 1))
			packs := make([]packSize, 1+n/500)
			for i := range packs {
				packs[i] = packSize{randID(r), 64 << 20}
			}
			dead := map[ID]bool{}
			for _, p := range packs[:len(packs)/4] {
				dead[p.ID] = true
			}
			var recs []midxRec
			for range n {
				id := randID(r)
				copies := 1
				if r.IntN(10) == 0 {
					copies = 3
				}
				// A chunk is at most once in a pack.
				for _, p := range r.Perm(len(packs))[:min(copies, len(packs))] {
					recs = append(recs, midxRec{ID: id, Pack: packs[p].ID, Offset: 8 + r.Uint64N(60<<20), Length: r.Uint32N(256 << 10)})
				}
			}
			// The same (id, pack) twice from two sources is written once.
			if n > 0 {
				recs = append(recs, recs[0])
			}
			// Two sources, each sorted.
			r.Shuffle(len(recs), func(i, j int) { recs[i], recs[j] = recs[j], recs[i] })
			a, b := slices.Clone(recs[:len(recs)/2]), slices.Clone(recs[len(recs)/2:])
			for _, s := range [][]midxRec{a, b} {
				slices.SortFunc(s, func(x, y midxRec) int { return recLess(&x, &y) })
			}
			dir := t.TempDir()
			m, err := writeMidx(dir, slices.Clone(packs), []midxSource{&sliceSource{recs: a}, &sliceSource{recs: b}}, int64(len(recs)))
			if err != nil {
				t.Fatal(err)
			}
			m.close()
			ents, _ := os.ReadDir(dir)
			if len(ents) != 1 || !strings.HasSuffix(ents[0].Name(), midxExt) {
				t.Fatalf("midx dir holds %v, want one midx file", ents)
			}
			m, err = openMidx(filepath.Join(dir, ents[0].Name()))
			if err != nil {
				t.Fatal(err)
			}
			defer m.close()
			if err := m.check(); err != nil {
				t.Fatal(err)
			}

			// Expected: for each id, the first entry in (id, pack) order whose pack is live.
			slices.SortFunc(recs, func(x, y midxRec) int { return recLess(&x, &y) })
			want := map[ID]Loc{}
			all := map[ID]bool{}
			for _, rec := range recs {
				all[rec.ID] = true
				if _, ok := want[rec.ID]; !ok && !dead[rec.Pack] {
					want[rec.ID] = Loc{Pack: rec.Pack, Offset: rec.Offset, Length: rec.Length}
				}
			}
			live := func(pid ID) (int64, bool) { return 64 << 20, !dead[pid] }
			for id := range all {
				got, ok, err := m.lookup(id, live)
				if err != nil {
					t.Fatal(err)
				}
				w, wok := want[id]
				if ok != wok || got != w {
					t.Fatalf("lookup %s = %+v, %v; want %+v, %v", id.Short(), got, ok, w, wok)
				}
			}
			if len(all) > 2*midxMemAfter && m.mem.Load() == nil {
				t.Fatalf("%d lookups did not bring the entries into memory", len(all))
			}
			falsePos := 0
			for range 20000 {
				id := randID(r)
				if bloomHas(m.bloom, id) {
					falsePos++
				}
				if _, ok, err := m.lookup(id, live); ok || err != nil {
					t.Fatalf("lookup of an absent id: %v, %v", ok, err)
				}
			}
			if n >= 5000 && falsePos > 20000/25 {
				t.Errorf("filter passes %d of 20000 absent ids, want about 1%%", falsePos)
			}
		})
	}
}

// TestMidxRejectsDamage flips bytes all over a midx file: opening it either
// fails with ErrCorrupt or (for the entries of a large file, which are checked
// lazily) check does.
func TestMidxRejectsDamage(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	pack := packSize{randID(r), 1 << 20}
	var recs []midxRec
	for range 300 {
		recs = append(recs, midxRec{ID: randID(r), Pack: pack.ID, Offset: 8, Length: 100})
	}
	slices.SortFunc(recs, func(x, y midxRec) int { return recLess(&x, &y) })
	dir := t.TempDir()
	m, err := writeMidx(dir, []packSize{pack}, []midxSource{&sliceSource{recs: recs}}, int64(len(recs)))
	if err != nil {
		t.Fatal(err)
	}
	m.close()
	good, err := os.ReadFile(m.path)
	if err != nil {
		t.Fatal(err)
	}
	for off := 0; off < len(good); off += 1 + off/7 {
		b := bytes.Clone(good)
		b[off] ^= 0x10
		p := filepath.Join(t.TempDir(), "x.midx")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if m, err := openMidx(p); err == nil {
			m.close()
			t.Fatalf("flipped byte %d of %d: opened", off, len(b))
		}
	}
	for _, n := range []int{0, 10, len(good) - 1} {
		p := filepath.Join(t.TempDir(), "x.midx")
		if err := os.WriteFile(p, good[:n], 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := openMidx(p); err == nil {
			t.Fatalf("truncated to %d bytes: opened", n)
		}
	}
}

// TestMidxConcurrentLookups runs lookups from many goroutines on one file.
func TestMidxConcurrentLookups(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	pack := packSize{randID(r), 1 << 30}
	var recs []midxRec
	for i := range 20000 {
		recs = append(recs, midxRec{ID: randID(r), Pack: pack.ID, Offset: 8 + uint64(i), Length: 1})
	}
	slices.SortFunc(recs, func(x, y midxRec) int { return recLess(&x, &y) })
	m, err := writeMidx(t.TempDir(), []packSize{pack}, []midxSource{&sliceSource{recs: recs}}, int64(len(recs)))
	if err != nil {
		t.Fatal(err)
	}
	defer m.close()
	live := func(ID) (int64, bool) { return pack.Size, true }
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < len(recs); i += 8 {
				l, ok, err := m.lookup(recs[i].ID, live)
				if err != nil || !ok || l.Offset != recs[i].Offset {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatalf("concurrent lookup failed: %v", err)
	}
}

// BenchmarkMidxMillions builds a midx file of TROVE_BENCH_MIDX_MILLIONS (default
// 10) million synthetic entries, streamed (never held in memory), opens it and
// looks up present and absent chunks. It reports the heap the open index takes
// per entry and the process's peak RSS:
//
//	go test -run '^$' -bench MidxMillions -benchtime 200000x ./objects
func BenchmarkMidxMillions(b *testing.B) {
	millions := 10
	if s := os.Getenv("TROVE_BENCH_MIDX_MILLIONS"); s != "" {
		millions, _ = strconv.Atoi(s)
	}
	n := int64(millions) * 1_000_000
	dir := b.TempDir()
	packs := make([]packSize, n/4000+1)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range packs {
		packs[i] = packSize{randID(r), 64 << 20}
	}
	// Sorted uniform ids without holding them: the i-th id starts with i's share
	// of the 64-bit range, the rest random.
	src := &genSource{n: n, r: rand.New(rand.NewPCG(5, 6)), packs: packs}
	m, err := writeMidx(dir, slices.Clone(packs), []midxSource{src}, n)
	if err != nil {
		b.Fatal(err)
	}
	m.close()
	path := m.path
	m = nil // its tables are garbage before the measurement starts
	runtime.GC()
	debug.FreeOSMemory()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	m, err = openMidx(path)
	if err != nil {
		b.Fatal(err)
	}
	defer m.close()
	runtime.GC()
	runtime.ReadMemStats(&after)
	live := func(ID) (int64, bool) { return 64 << 20, true }
	probe := rand.New(rand.NewPCG(5, 6))
	b.ResetTimer()
	found := 0
	for i := 0; i < b.N; i++ {
		var id ID
		if i%2 == 0 {
			id = randID(probe) // absent
		} else {
			id = src.idAt(int64(probe.Uint64N(uint64(n))))
		}
		if _, ok, err := m.lookup(id, live); err != nil {
			b.Fatal(err)
		} else if ok {
			found++
		}
	}
	b.StopTimer()
	if b.N > 1 && found == 0 {
		b.Fatal("no lookup found its chunk")
	}
	fi, _ := os.Stat(m.path)
	b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/float64(n), "heap-B/entry")
	b.ReportMetric(float64(len(m.fan)*4+len(m.bloom)*8+len(m.packs)*midxPackLen)/float64(n), "held-B/entry")
	b.ReportMetric(float64(fi.Size())/float64(n), "disk-B/entry")
	b.ReportMetric(float64(peakRSS())/(1<<20), "peak-RSS-MiB")
	b.ReportMetric(float64(n), "entries")
}

// genSource yields n sorted, uniformly spread ids; idAt recomputes any of them.
type genSource struct {
	n     int64
	i     int64
	r     *rand.Rand
	packs []packSize
}

func (g *genSource) idAt(i int64) ID {
	var id ID
	binary.BigEndian.PutUint64(id[:8], uint64(i)*(^uint64(0)/uint64(g.n)))
	binary.LittleEndian.PutUint64(id[8:], uint64(i)*0x9E3779B97F4A7C15)
	binary.LittleEndian.PutUint64(id[16:], uint64(i)*0xC2B2AE3D27D4EB4F+1)
	return id
}

func (g *genSource) next() (midxRec, bool, error) {
	if g.i >= g.n {
		return midxRec{}, false, nil
	}
	id := g.idAt(g.i)
	g.i++
	return midxRec{ID: id, Pack: g.packs[g.i%int64(len(g.packs))].ID, Offset: 8, Length: 1000}, true, nil
}

// peakRSS reads VmHWM from /proc/self/status (0 where there is none).
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// FuzzOpenMidx: whatever the bytes of a midx file, opening it fails with
// ErrCorrupt or gives a file whose lookups and check neither panic nor return
// entries outside their pack.
func FuzzOpenMidx(f *testing.F) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, n := range []int{0, 1, 40} {
		pack := packSize{randID(r), 1 << 16}
		var recs []midxRec
		for range n {
			recs = append(recs, midxRec{ID: randID(r), Pack: pack.ID, Offset: 8, Length: 100})
		}
		slices.SortFunc(recs, func(x, y midxRec) int { return recLess(&x, &y) })
		m, err := writeMidx(f.TempDir(), []packSize{pack}, []midxSource{&sliceSource{recs: recs}}, int64(n))
		if err != nil {
			f.Fatal(err)
		}
		b, err := os.ReadFile(m.path)
		m.close()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "x.midx")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := openMidx(p)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("open: %v, want ErrCorrupt", err)
			}
			return
		}
		defer m.close()
		live := func(ID) (int64, bool) { return 1 << 16, true }
		var id ID
		for i := int64(0); i < min(m.n, 50); i++ {
			if err := readFullAt(m.f, id[:], m.entryOff(i)); err != nil {
				t.Fatal(err)
			}
			if l, ok, err := m.lookup(id, live); err == nil && ok && (l.Offset+uint64(l.Length) > 1<<16) {
				t.Fatalf("lookup returned %+v outside the pack", l)
			}
		}
		_ = m.check()
	})
}
