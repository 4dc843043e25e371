package remote_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/trove-dev/trove/objects"
	"github.com/trove-dev/trove/remote"
	"github.com/trove-dev/trove/remote/local"
)

// TestPushWithSpilling pushes the same chunks with a sort budget so small that
// the needed set and the remote's chunk set spill, and with the default, to
// twin remotes: the results must be the same, including the packs skipped
// because the remote has their chunks in other packs.
func TestPushWithSpilling(t *testing.T) {
	ctx := context.Background()
	st, err := objects.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	st.SetPackSize(8 << 10)
	var ids []objects.ID
	for i := range 200 {
		b := []byte(fmt.Sprintf("chunk %d %0500d", i, i))
		id := objects.Hash(b)
		if _, err := st.Put(id, b); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := st.Flush(); err != nil {
		t.Fatal(err)
	}
	var results [2][]remote.PushResult
	for k, budget := range []int{0, 32 * 8} {
		rem, err := local.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		opt := remote.Options{TempDir: st.TempDir(), SortBudget: budget}
		for _, part := range [][]objects.ID{ids[:50], ids[40:], ids} {
			res, err := remote.Push(ctx, rem, st, append(part, part[:5]...), opt)
			if err != nil {
				t.Fatal(err)
			}
			results[k] = append(results[k], res)
		}
		var missing *objects.MissingError
		if _, err := remote.Push(ctx, rem, st, []objects.ID{objects.Hash([]byte("absent"))}, opt); !errors.As(err, &missing) {
			t.Fatalf("push of an absent chunk: %v, want a MissingError", err)
		}
	}
	if fmt.Sprint(results[0]) != fmt.Sprint(results[1]) {
		t.Fatalf("with spilling %v, without %v", results[1], results[0])
	}
	if r := results[0][2]; r.Packs != 0 || r.SkippedPacks == 0 {
		t.Fatalf("third push %+v: want every pack skipped", r)
	}
}

// TestFetchWithSpilling fetches the same chunks into two empty stores, one
// with a sort budget so small that the remote's index and the wanted chunks
// spill: same results, every chunk readable, and a chunk the remote lacks is
// reported before anything is fetched.
func TestFetchWithSpilling(t *testing.T) {
	ctx := context.Background()
	src, err := objects.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	src.SetPackSize(8 << 10)
	var ids []objects.ID
	for i := range 300 {
		b := []byte(fmt.Sprintf("chunk %d %0700d", i, i))
		id := objects.Hash(b)
		if _, err := src.Put(id, b); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := src.Flush(); err != nil {
		t.Fatal(err)
	}
	rem, err := local.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := remote.Push(ctx, rem, src, ids, remote.Options{}); err != nil {
		t.Fatal(err)
	}
	// Every other chunk of the first half (ranged reads), all of the second
	// (whole packs), some twice.
	var want []objects.ID
	for i, id := range ids {
		if i >= 150 || i%2 == 0 {
			want = append(want, id)
		}
	}
	want = append(want, want[:10]...)
	var results []remote.FetchResult
	for _, budget := range []int{0, 48 * 8} {
		dst, err := objects.OpenStore(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		defer dst.Close()
		opt := remote.Options{TempDir: dst.TempDir(), SortBudget: budget}
		absent := objects.Hash([]byte("absent"))
		var nr *remote.NotOnRemoteError
		if _, err := remote.Fetch(ctx, rem, dst, append(want[:3:3], absent), opt); !errors.As(err, &nr) || nr.ID != absent {
			t.Fatalf("fetch of an absent chunk: %v", err)
		}
		if dst.Has(want[0]) {
			t.Fatal("fetched something before reporting an absent chunk")
		}
		res, err := remote.Fetch(ctx, rem, dst, want, opt)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range want {
			if _, err := dst.ReadChunk(id, nil); err != nil {
				t.Fatal(err)
			}
		}
		if again, err := remote.Fetch(ctx, rem, dst, want, opt); err != nil || again.Chunks != 0 {
			t.Fatalf("second fetch: %+v, %v", again, err)
		}
		results = append(results, res)
	}
	if results[0] != results[1] {
		t.Fatalf("with spilling %+v, without %+v", results[1], results[0])
	}
	if results[0].Chunks != len(want)-10 {
		t.Fatalf("fetched %d chunks, want %d", results[0].Chunks, len(want)-10)
	}
}

// TestCheckWithSpilling checks chunks (some absent, some twice) against a
// remote with a sort budget so small that everything spills, and without:
// the same chunks, the same missing ones in the order given, deep reads of
// the same bytes.
func TestCheckWithSpilling(t *testing.T) {
	ctx := context.Background()
	st, err := objects.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	st.SetPackSize(8 << 10)
	var ids []objects.ID
	for i := range 200 {
		b := []byte(fmt.Sprintf("chunk %d %0600d", i, i))
		id := objects.Hash(b)
		if _, err := st.Put(id, b); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := st.Flush(); err != nil {
		t.Fatal(err)
	}
	rem, err := local.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := remote.Push(ctx, rem, st, ids, remote.Options{}); err != nil {
		t.Fatal(err)
	}
	var absent []objects.ID
	for i := range 30 {
		absent = append(absent, objects.Hash([]byte(fmt.Sprint("absent ", i))))
	}
	var check []objects.ID
	for i := range ids {
		check = append(check, ids[i])
		if i < len(absent) {
			check = append(check, absent[i])
		}
	}
	var results []string
	for _, budget := range []int{0, 48 * 8} {
		opt := remote.Options{TempDir: st.TempDir(), SortBudget: budget}
		for _, deep := range []bool{false, true} {
			res, err := remote.Check(ctx, rem, check, deep, opt)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Problems) != len(absent) {
				t.Fatalf("budget %d deep %v: %d problems, want %d", budget, deep, len(res.Problems), len(absent))
			}
			for i, p := range res.Problems {
				if p.ID != absent[i] || p.Kind != "missing" {
					t.Fatalf("budget %d deep %v: problem %d is %+v, want %s missing", budget, deep, i, p, absent[i].Short())
				}
			}
			results = append(results, fmt.Sprintf("deep %v: %d chunks, %d read", deep, res.Chunks, res.Read))
		}
	}
	if fmt.Sprint(results[:2]) != fmt.Sprint(results[2:]) {
		t.Fatalf("with spilling %v, without %v", results[2:], results[:2])
	}
}
