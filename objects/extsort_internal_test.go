package objects

import (
	"bytes"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"testing"
)

// TestIDSetMatchesMap adds random ids with many repeats to sets of several
// budgets (tiny ones spill hundreds of runs and compact them) and checks the
// sorted, distinct stream against a map, twice, and that no file is left.
func TestIDSetMatchesMap(t *testing.T) {
	for _, tc := range []struct {
		name   string
		n      int
		budget int
		spills bool
	}{
		{"empty", 0, 1 << 20, false},
		{"in memory", 5000, 1 << 20, false},
		{"few runs", 5000, 32 * 700, true},
		{"compacted", 20000, 32 * 100, true}, // > maxRuns runs
		{"no dir", 5000, 32 * 100, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.name == "no dir" {
				dir = ""
			}
			r := rand.New(rand.NewPCG(uint64(tc.n), 7))
			x := NewIDSet(dir, tc.budget)
			want := map[ID]bool{}
			var pool []ID
			for range tc.n {
				var id ID
				if len(pool) > 0 && r.IntN(3) == 0 {
					id = pool[r.IntN(len(pool))] // a repeat
				} else {
					id = randID(r)
					pool = append(pool, id)
				}
				want[id] = true
				if err := x.Add(id); err != nil {
					t.Fatal(err)
				}
			}
			if got := len(x.s.runs) > 0; got != tc.spills {
				t.Fatalf("spilled = %v (%d runs), want %v", got, len(x.s.runs), tc.spills)
			}
			if dir != "" && runtime.GOOS != "windows" {
				// Runs are unlinked as soon as they are made: a process killed
				// now leaves nothing behind.
				if ents, _ := os.ReadDir(dir); len(ents) != 0 {
					t.Fatalf("%d files visible in the sort directory while the set is open", len(ents))
				}
			}
			if len(x.s.runs) > maxRuns {
				t.Fatalf("%d runs open, want at most %d", len(x.s.runs), maxRuns)
			}
			sorted := slices.SortedFunc(func(yield func(ID) bool) {
				for id := range want {
					if !yield(id) {
						return
					}
				}
			}, func(a, b ID) int { return bytes.Compare(a[:], b[:]) })
			for pass := range 2 {
				var got []ID
				it := x.Iter()
				for id, ok := it.Next(); ok; id, ok = it.Next() {
					got = append(got, id)
				}
				if err := it.Err(); err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, sorted) {
					t.Fatalf("pass %d: got %d ids, want %d (sorted, distinct)", pass, len(got), len(sorted))
				}
			}
			if n, err := x.Len(); err != nil || n != int64(len(want)) {
				t.Fatalf("Len = %d, %v; want %d", n, err, len(want))
			}
			x.Close()
			if dir != "" {
				if ents, _ := os.ReadDir(dir); len(ents) != 0 {
					t.Fatalf("%d files left in the sort directory", len(ents))
				}
			}
		})
	}
}

// TestLiveMarksMatchesMap marks random packs (some chunks in several packs)
// against a random live set and checks every bit and count against maps.
func TestLiveMarksMatchesMap(t *testing.T) {
	for _, budget := range []int{1 << 20, 44 * 50} {
		r := rand.New(rand.NewPCG(uint64(budget), 3))
		dir := t.TempDir()
		var all []ID
		for range 3000 {
			all = append(all, randID(r))
		}
		live := NewIDSet(dir, budget)
		isLive := map[ID]bool{}
		for _, id := range all {
			if r.IntN(2) == 0 {
				isLive[id] = true
				live.Add(id)
				live.Add(id)
			}
		}
		live.Add(randID(r)) // live but in no pack
		m := NewLiveMarks(dir, budget)
		var packs [][]IndexEntry
		for range 20 {
			var es []IndexEntry
			seen := map[ID]bool{}
			for range r.IntN(300) {
				id := all[r.IntN(len(all))]
				if !seen[id] {
					seen[id] = true
					es = append(es, IndexEntry{ID: id, Length: uint32(1 + r.IntN(1000))})
				}
			}
			slices.SortFunc(es, func(a, b IndexEntry) int { return bytes.Compare(a.ID[:], b.ID[:]) })
			if p, err := m.AddPack(es); err != nil || p != len(packs) {
				t.Fatalf("AddPack = %d, %v", p, err)
			}
			packs = append(packs, es)
		}
		if err := m.Mark(live); err != nil {
			t.Fatal(err)
		}
		for p, es := range packs {
			var wantLive int
			var wantGarbage int64
			for i, e := range es {
				if got := m.Live(p, i); got != isLive[e.ID] {
					t.Fatalf("budget %d: pack %d entry %d: Live = %v, want %v", budget, p, i, got, isLive[e.ID])
				}
				if isLive[e.ID] {
					wantLive++
				} else {
					wantGarbage += int64(e.Length)
				}
			}
			if l, g := m.Pack(p); l != wantLive || g != wantGarbage {
				t.Fatalf("budget %d: pack %d: Pack = %d, %d; want %d, %d", budget, p, l, g, wantLive, wantGarbage)
			}
		}
		m.Close()
		live.Close()
	}
}
