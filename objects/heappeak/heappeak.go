// Package heappeak measures the peak heap of a piece of work, for the
// benchmarks that check trove's memory bounds.
package heappeak

import (
	"runtime"
	"sync/atomic"
	"time"
)

// Measure runs fn after a collection and returns the largest HeapInuse seen
// while it ran (sampled every 5 ms, and once at the end) and the HeapInuse
// before it started.
func Measure(fn func()) (peak, before uint64) {
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var max atomic.Uint64
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		if ms.HeapInuse > max.Load() {
			max.Store(ms.HeapInuse)
		}
	}
	stop, done := make(chan struct{}), make(chan struct{})
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
	return max.Load(), base.HeapInuse
}
