package objects_test

import (
	"context"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"github.com/trove-dev/trove/objects"
	"github.com/trove-dev/trove/objects/heappeak"
)

// BenchmarkWriteContentManyChunks writes one stream of TROVE_BENCH_CHUNKS
// chunks (default 1 million, with 256-byte chunks so the data stays small)
// with a sort budget of TROVE_BENCH_BUDGET bytes (default 8 MiB) and reports
// the peak heap in use per chunk: what a file's recipe costs while it is
// added. Only API older trees have is required.
//
//	go test ./objects -run X -bench WriteContentManyChunks -benchtime 1x
func BenchmarkWriteContentManyChunks(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("TROVE_BENCH_CHUNKS")); err == nil && v > 0 {
		n = v
	}
	budget := 8 << 20
	if v, err := strconv.Atoi(os.Getenv("TROVE_BENCH_BUDGET")); err == nil && v > 0 {
		budget = v
	}
	// Small chunks keep the data small; a Max above 16 KiB keeps recipe pieces
	// at their usual 1/4/16 KiB (about 100 entries each), as for real data.
	p := objects.ChunkerParams{Min: 64, Avg: 256, Max: 32 << 10}
	for range b.N {
		st, err := objects.OpenStore(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		st.SetPackSize(256 << 10) // about 1000 chunks a pack, as 64 MiB packs of 64 KiB chunks
		if s, ok := any(st).(interface{ SetSortBudget(int) }); ok {
			s.SetSortBudget(budget)
		}
		size := int64(n) * 256
		src := io.LimitReader(rand.NewChaCha8([32]byte{7}), size)
		var c objects.Content
		peak, _ := heappeak.Measure(func() {
			if c, err = st.WriteContent(context.Background(), src, size, objects.WriteOptions{Params: p}); err != nil {
				b.Fatal(err)
			}
		})
		st.Close()
		b.ReportMetric(float64(peak), "peak-heap-B")
		b.ReportMetric(float64(peak)/float64(c.Chunks), "peak-heap-B/chunk")
	}
}
