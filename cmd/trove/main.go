// Command trove versions datasets and models beside git and gates what reaches
// production. See README.md and `trove help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"syscall"
)

// memoryLimit is the Go heap's soft limit: above it the collector runs more
// often rather than letting garbage pile up (it is not a cap on live data).
const memoryLimit = 192 << 20

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// A short-lived CLI: trade some memory for less GC work, but within a soft
	// limit, so that garbage never multiplies the peak RSS of big jobs (a
	// 20 GiB add, a million-file tree). GOGC and GOMEMLIMIT still override.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
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
