package manifest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/trove-dev/trove/objects"
)

// TestGCAndVerifyWithSpilling runs GC (dry run) and Verify with a sort budget
// so small that their sets spill to disk, and checks them against the same
// decisions taken with maps of every chunk, as they were before sets were
// external: same reachable count, same fate for every pack, same missing
// chunks named in the same order.
func TestGCAndVerifyWithSpilling(t *testing.T) {
	ctx := context.Background()
	r := tRepo(t)
	st, err := r.Store()
	if err != nil {
		t.Fatal(err)
	}
	st.SetPackSize(256 << 10)
	tWrite(t, filepath.Join(r.Root, "a.bin"), tRand(21, 3<<20), 0o644)
	tWrite(t, filepath.Join(r.Root, "old.bin"), tRand(22, 1<<20), 0o644)
	writeFixture(t, filepath.Join(r.Root, "dir"), dirFixture)
	tAdd(t, r, AddOptions{}, "a.bin", "old.bin", "dir")
	// old.bin's chunks become garbage: its manifest is gone from the tree and
	// was never committed.
	if err := os.Remove(filepath.Join(r.Root, "old.bin.trove")); err != nil {
		t.Fatal(err)
	}
	hist, err := r.AllManifests(ctx)
	if err != nil {
		t.Fatal(err)
	}
	reach := map[objects.ID]bool{}
	for _, m := range hist.Manifests {
		need, err := r.Needed(ctx, []Tracked{m}, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range need.Chunks {
			reach[id] = true
		}
	}
	var want []PackFate
	for _, p := range mustPackInfos(t, st) {
		f := PackFate{Pack: p.ID, Size: p.Size}
		for _, e := range p.Entries {
			if reach[e.ID] {
				f.Live++
			} else {
				f.Garbage += int64(e.Length)
			}
		}
		want = append(want, f)
	}
	for _, budget := range []int{0, 32 * 16} {
		st.SetSortBudget(budget)
		res, err := r.GC(ctx, hist, GCOptions{DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		if res.Reachable != len(reach) {
			t.Fatalf("budget %d: %d reachable chunks, want %d", budget, res.Reachable, len(reach))
		}
		if len(res.Packs) != len(want) {
			t.Fatalf("budget %d: %d packs, want %d", budget, len(res.Packs), len(want))
		}
		for i, f := range res.Packs {
			w := want[i]
			if f.Pack != w.Pack || f.Live != w.Live || f.Garbage != w.Garbage {
				t.Fatalf("budget %d: pack %d = %+v, want %+v", budget, i, f, w)
			}
		}
		if slices.IndexFunc(res.Packs, func(f PackFate) bool { return f.Garbage > 0 }) < 0 {
			t.Fatal("test setup: no garbage")
		}
	}

	// Remove the packs of a.bin's second half: Verify names the first 20
	// missing chunks in Needed's order, and counts the rest.
	ma, err := r.ReadManifest("a.bin")
	if err != nil {
		t.Fatal(err)
	}
	tracked, err := r.List(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	need, err := r.Needed(ctx, []Tracked{{Path: "a.bin", Manifest: ma}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	keep, _ := st.Lookup(ma.Object)
	for _, id := range need.Chunks[len(need.Chunks)/2:] {
		if l, ok := st.Lookup(id); ok && l.Pack != keep.Pack {
			os.Remove(st.PackPath(l.Pack))
			os.Remove(st.IndexPath(l.Pack))
		}
	}
	r.Close()
	if r, err = Open(r.Root); err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if st, err = r.Store(); err != nil {
		t.Fatal(err)
	}
	lost := st.Missing(need.Chunks)
	if len(lost) <= 20 {
		t.Fatalf("test setup: %d chunks missing, want more than 20", len(lost))
	}
	var wantProbs []string
	for _, id := range lost[:20] {
		wantProbs = append(wantProbs, "missing "+id.String())
	}
	wantProbs = append(wantProbs, fmt.Sprintf("missing and %d more missing chunks", len(lost)-20))
	for _, budget := range []int{0, 32 * 16} {
		st.SetSortBudget(budget)
		res, err := r.Verify(ctx, tracked, false)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range res.Problems {
			if p.Artifact != "a.bin" {
				t.Fatalf("budget %d: unexpected problem %+v", budget, p)
			}
			if p.Object.IsZero() {
				got = append(got, p.Kind+" "+p.Detail)
			} else {
				got = append(got, p.Kind+" "+p.Object.String())
			}
		}
		if !slices.Equal(got, wantProbs) {
			t.Fatalf("budget %d: problems\n%v\nwant\n%v", budget, got, wantProbs)
		}
		ents, _ := os.ReadDir(st.TempDir())
		if len(ents) != 0 {
			t.Fatalf("budget %d: %d files left in the store's tmp", budget, len(ents))
		}
	}
}

func mustPackInfos(t testing.TB, st *objects.Store) []objects.PackInfo {
	t.Helper()
	ps, err := st.PackInfos()
	if err != nil {
		t.Fatal(err)
	}
	return ps
}
