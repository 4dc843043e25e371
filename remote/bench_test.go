package remote_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trove-dev/trove/objects"
	"github.com/trove-dev/trove/remote"
	"github.com/trove-dev/trove/remote/local"
)

// BenchmarkPushBigStore pushes TROVE_BENCH_CHUNKS chunks (default 2 million,
// index entries in sparse packs) to a directory remote that already has every
// pack's index, so Push reads the remote's index and joins it with the needed
// chunks but uploads nothing, with a sort budget of TROVE_BENCH_BUDGET bytes
// (default 8 MiB), and reports the peak heap in use per chunk (the list of
// chunks passed in included). Only API older trees have is required.
//
//	go test ./remote -run X -bench PushBigStore -benchtime 1x
func BenchmarkPushBigStore(b *testing.B) {
	n := benchEnv("TROVE_BENCH_CHUNKS", 2_000_000)
	budget := benchEnv("TROVE_BENCH_BUDGET", 8<<20)
	dir := b.TempDir()
	remDir := b.TempDir()
	rng := rand.New(rand.NewPCG(uint64(n), 5))
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
	st, err := objects.OpenStore(dir)
	if err != nil {
		b.Fatal(err)
	}
	const perPack = 4096
	for p := 0; p*perPack < n; p++ {
		part := ids[p*perPack : min(n, (p+1)*perPack)]
		entries := make([]objects.IndexEntry, len(part))
		for i, id := range part {
			entries[i] = objects.IndexEntry{ID: id, Offset: uint64(8 + 64*i), Length: 64}
		}
		slices.SortFunc(entries, func(a, b objects.IndexEntry) int { return bytes.Compare(a.ID[:], b.ID[:]) })
		pid := randID()
		os.MkdirAll(filepath.Dir(st.PackPath(pid)), 0o755)
		f, err := os.Create(st.PackPath(pid))
		if err != nil {
			b.Fatal(err)
		}
		f.Truncate(int64(8 + 64*len(part) + 1<<20))
		f.Close()
		idx := objects.EncodeIndexFile(pid, entries)
		if err := os.WriteFile(st.IndexPath(pid), idx, 0o644); err != nil {
			b.Fatal(err)
		}
		os.MkdirAll(filepath.Join(remDir, "index"), 0o755)
		if err := os.WriteFile(filepath.Join(remDir, "index", pid.Hex()+".idx"), idx, 0o644); err != nil {
			b.Fatal(err)
		}
		if (p+1)%64 == 0 {
			s, err := objects.OpenStore(dir)
			if err != nil {
				b.Fatal(err)
			}
			s.Close()
		}
	}
	st.Close()
	if st, err = objects.OpenStore(dir); err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if s, ok := any(st).(interface{ SetSortBudget(int) }); ok {
		s.SetSortBudget(budget)
	}
	rem, err := local.New(remDir)
	if err != nil {
		b.Fatal(err)
	}
	opt := remote.Options{}
	setTemp(&opt, filepath.Join(dir, "tmp"), budget)
	var peak uint64
	for range b.N {
		peak = benchPeak(func() {
			res, err := remote.Push(context.Background(), rem, st, ids, opt)
			if err != nil {
				b.Fatal(err)
			}
			if res.Packs != 0 || res.SkippedPacks == 0 {
				b.Fatalf("push: %+v", res)
			}
		})
	}
	b.ReportMetric(float64(peak), "peak-heap-B")
	b.ReportMetric(float64(peak)/float64(n), "peak-heap-B/chunk")
}

// setTemp sets Options.TempDir and SortBudget where they exist.
func setTemp(o *remote.Options, dir string, budget int) {
	v := reflect.ValueOf(o).Elem()
	if f := v.FieldByName("TempDir"); f.IsValid() {
		f.SetString(dir)
	}
	if f := v.FieldByName("SortBudget"); f.IsValid() {
		f.SetInt(int64(budget))
	}
}

func benchEnv(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// benchPeak runs fn and returns the largest HeapInuse seen while it ran.
func benchPeak(fn func()) uint64 {
	runtime.GC()
	var peak atomic.Uint64
	stop, done := make(chan struct{}), make(chan struct{})
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		if ms.HeapInuse > peak.Load() {
			peak.Store(ms.HeapInuse)
		}
	}
	go func() {
		defer close(done)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				sample()
			}
		}
	}()
	fn()
	close(stop)
	<-done
	sample()
	return peak.Load()
}
