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

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// A short-lived CLI with a bounded heap: trade some memory for less GC work.
	debug.SetGCPercent(400)
	// TROVE_CPUPROFILE=FILE writes a CPU profile, for `go tool pprof`.
	if p := os.Getenv("TROVE_CPUPROFILE"); p != "" {
		if f, err := os.Create(p); err == nil {
			pprof.StartCPUProfile(f)
			defer f.Close()
		}
	}
	code := run(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
	pprof.StopCPUProfile()
	stop()
	os.Exit(code)
}
