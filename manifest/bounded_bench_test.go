package manifest

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/trove-dev/trove/objects"
	"github.com/trove-dev/trove/objects/heappeak"
)

// BenchmarkGCVerifyBigStore builds a synthetic store of TROVE_BENCH_CHUNKS
// chunks (default 2 million; a quarter of them garbage) referenced by one
// directory artifact, then runs a dry-run GC and a Verify with a sort budget of
// TROVE_BENCH_BUDGET bytes (default 8 MiB), and reports the peak heap in use
// (sampled) per chunk. Data chunks are index entries pointing into sparse pack
// files: GC and a shallow Verify never read them. Only public API is used, so
// the same file measures older trees too.
//
//	go test ./manifest -run X -bench GCVerifyBigStore -benchtime 1x
func BenchmarkGCVerifyBigStore(b *testing.B) {
	n := envInt("TROVE_BENCH_CHUNKS", 2_000_000)
	budget := envInt("TROVE_BENCH_BUDGET", 8<<20)
	ctx := context.Background()
	r := tRepo(b)
	st, err := r.Store()
	if err != nil {
		b.Fatal(err)
	}
	tracked := bigArtifact(b, r, st, n)
	r.Close()
	if r, err = Open(r.Root); err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	if st, err = r.Store(); err != nil {
		b.Fatal(err)
	}
	if s, ok := any(st).(interface{ SetSortBudget(int) }); ok {
		s.SetSortBudget(budget)
	}
	for _, op := range []string{"gc", "verify"} {
		var peak, before uint64
		b.Run(op, func(b *testing.B) {
			for range b.N {
				peak, before = heappeak.Measure(func() {
					switch op {
					case "gc":
						res, err := r.GC(ctx, &History{Manifests: tracked}, GCOptions{DryRun: true})
						if err != nil {
							b.Fatal(err)
						}
						if want := n / 4 * 3; res.Reachable < want {
							b.Fatalf("%d reachable chunks, want at least %d", res.Reachable, want)
						}
					case "verify":
						res, err := r.Verify(ctx, tracked, false)
						if err != nil {
							b.Fatal(err)
						}
						if len(res.Problems) != 0 || res.Chunks < n/4*3 {
							b.Fatalf("verify: %d chunks, problems %v", res.Chunks, res.Problems)
						}
					}
				})
			}
			b.ReportMetric(float64(before), "heap-before-B")
			b.ReportMetric(float64(peak), "peak-heap-B")
			b.ReportMetric(float64(peak)/float64(n), "peak-heap-B/chunk")
		})
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// bigArtifact writes n data chunks as index entries of sparse packs (4096 a
// pack), and one directory artifact whose files' level-0 recipes list the first
// three quarters of them; the rest is garbage.
func bigArtifact(b testing.TB, r *Repo, st *objects.Store, n int) []Tracked {
	const perPack, perFile = 4096, 400
	rng := rand.New(rand.NewPCG(uint64(n), 9))
	randID := func() objects.ID {
		var id objects.ID
		for i := 0; i < 32; i += 8 {
			binary.LittleEndian.PutUint64(id[i:], rng.Uint64())
		}
		return id
	}
	ids := make([]objects.ID, n)
	for i := range ids {
		ids[i] = randID()
	}
	dir := st.Dir()
	for p := 0; p*perPack < n; p++ {
		chunk := ids[p*perPack : min(n, (p+1)*perPack)]
		entries := make([]objects.IndexEntry, len(chunk))
		for i, id := range chunk {
			entries[i] = objects.IndexEntry{ID: id, Offset: uint64(8 + 64*i), Length: 64}
		}
		bytesSort(entries)
		pid := randID()
		pp := st.PackPath(pid)
		if err := os.MkdirAll(filepath.Dir(pp), 0o755); err != nil {
			b.Fatal(err)
		}
		f, err := os.Create(pp)
		if err != nil {
			b.Fatal(err)
		}
		f.Truncate(int64(8 + 64*len(chunk) + 1<<20))
		f.Close()
		if err := os.WriteFile(st.IndexPath(pid), objects.EncodeIndexFile(pid, entries), 0o644); err != nil {
			b.Fatal(err)
		}
		// Merge into midx files as we go, as a store that grew would have.
		if (p+1)%64 == 0 {
			s, err := objects.OpenStore(dir)
			if err != nil {
				b.Fatal(err)
			}
			s.Close()
		}
	}
	var tree []objects.TreeEntry
	live := ids[:n/4*3]
	for i := 0; i < len(live); i += perFile {
		part := live[i:min(len(live), i+perFile)]
		node := []byte("TRVRCP\x01\x00")
		var size int64
		for _, id := range part {
			node = append(node, id[:]...)
			node = binary.LittleEndian.AppendUint64(node, 64)
			size += 64
		}
		rid := objects.Hash(node)
		if _, err := st.Put(rid, node); err != nil {
			b.Fatal(err)
		}
		tree = append(tree, objects.TreeEntry{Path: fmt.Sprintf("f%08d", i/perFile), Mode: objects.ModeFile, Size: size, Digest: randID(), Recipe: rid})
	}
	objects.SortTree(tree)
	c, err := st.WriteContent(context.Background(), bytes.NewReader(objects.EncodeTree(tree)), -1, objects.WriteOptions{Params: objects.DefaultChunkerParams()})
	if err != nil {
		b.Fatal(err)
	}
	if err := st.Flush(); err != nil {
		b.Fatal(err)
	}
	m := &Manifest{Type: TypeDir, Object: c.Recipe, Digest: objects.TreeDigest(tree), Files: int64(len(tree))}
	for _, e := range tree {
		m.Size += e.Size
	}
	return []Tracked{{Path: "big", Manifest: m}}
}

func bytesSort(es []objects.IndexEntry) {
	slices.SortFunc(es, func(a, b objects.IndexEntry) int { return bytes.Compare(a.ID[:], b.ID[:]) })
}
