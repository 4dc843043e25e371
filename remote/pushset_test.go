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
