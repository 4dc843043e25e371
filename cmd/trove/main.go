// Command trove versions datasets and models beside git and gates what reaches
// production. See README.md and `trove help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"syscall"
	"time"
)

// minMemoryLimit is the least soft limit floatMemoryLimit sets, and
// memoryHeadroom what it allows above the live heap.
const (
	minMemoryLimit = 192 << 20
	memoryHeadroom = 128 << 20
)

// floatMemoryLimit keeps the Go heap's soft limit at the live heap plus
// memoryHeadroom, and at least minMemoryLimit: with GOGC=400 a small live heap
// (a big file's add) may grow to 192 MiB with garbage but no further, while a
// large one (a million-file tree) is collected whenever 128 MiB of garbage has
// piled up, rather than thrashing against a fixed limit it already exceeds or
// doubling as with GOGC=100.
func floatMemoryLimit(ctx context.Context) {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	limit := int64(minMemoryLimit)
	debug.SetMemoryLimit(limit)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return
		}
		want := max(int64(minMemoryLimit), int64(sample[0].Value.Uint64())+memoryHeadroom)
		if want != limit {
			limit = want
			debug.SetMemoryLimit(limit)
		}
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// A short-lived CLI: trade some memory for less GC work, but within a soft
	// limit, so that garbage never multiplies the peak RSS of big jobs (a
	// 20 GiB add, a million-file tree). GOGC and GOMEMLIMIT still override.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		go floatMemoryLimit(ctx)
	}
	// TROVE_CPUPROFILE=FILE writes a CPU profile, for `go tool pprof`.
	if p := os.Getenv("TROVE_CPUPROFILE"); p != "" {
		if f, err := os.Create(p); err == nil {
			pprof.StartCPUProfile(f)
			defer f.Close()
		}
	}
	code := run(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
	pprof.StopCPUProfile()
	// TROVE_MEMPROFILE=FILE writes a heap profile at exit (in-use and allocated).
	if p := os.Getenv("TROVE_MEMPROFILE"); p != "" {
		if f, err := os.Create(p); err == nil {
			pprof.Lookup("allocs").WriteTo(f, 0)
			f.Close()
		}
	}
	stop()
	os.Exit(code)
}
