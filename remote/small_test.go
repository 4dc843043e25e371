package remote_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trove-dev/trove/objects"
	"github.com/trove-dev/trove/remote"
	"github.com/trove-dev/trove/remote/local"
)

// flaky fails the first calls of each kind, like a network in trouble: an
// error answer, then a body cut short.
type flaky struct {
	remote.Remote
	mu          sync.Mutex
	gets, lists int
}

var errTransient = errors.New("503 slow down")

func (f *flaky) Get(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	f.mu.Lock()
	f.gets++
	g := f.gets
	f.mu.Unlock()
	switch g {
	case 1:
		return nil, errTransient
	case 2:
		rc, err := f.Remote.Get(ctx, key, off, n)
		if err != nil {
			return nil, err
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		return io.NopCloser(io.MultiReader(bytes.NewReader(b[:len(b)/2]), errReader{io.ErrUnexpectedEOF})), nil
	}
	return f.Remote.Get(ctx, key, off, n)
}

func (f *flaky) List(ctx context.Context, prefix string, fn func(remote.Info) error) error {
	f.mu.Lock()
	f.lists++
	l := f.lists
	f.mu.Unlock()
	first := true
	return f.Remote.List(ctx, prefix, func(i remote.Info) error {
		if l == 1 && !first {
			return errTransient // fails half-way through the first listing
		}
		first = false
		return fn(i)
	})
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestFilesRetry(t *testing.T) {
	ctx := context.Background()
	dir, err := local.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f := remote.Files{Remote: &flaky{Remote: dir}, Opt: remote.Options{Backoff: func(int) time.Duration { return 0 }}}
	for _, k := range []string{"monitor/a.json", "monitor/b.json", "monitor/c.json"} {
		if err := f.Put(ctx, k, []byte(strings.Repeat(k, 10))); err != nil {
			t.Fatal(err)
		}
	}
	var keys []string
	if err := f.List(ctx, "monitor/", func(k string) error { keys = append(keys, k); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 3 {
		t.Fatalf("a listing retried after a fault reports %v, want each of 3 keys once", keys)
	}
	b, err := f.Get(ctx, "monitor/b.json")
	if err != nil || string(b) != strings.Repeat("monitor/b.json", 10) {
		t.Fatalf("get through an error and a truncated body: %q %v", b, err)
	}
	// A missing key is not retried, and says so.
	if _, err := f.Get(ctx, "monitor/none.json"); !errors.Is(err, remote.ErrNotFound) {
		t.Fatalf("missing key: %v", err)
	}
	// Larger than the limit: corrupt, not retried.
	small := remote.Files{Remote: dir, Limit: 10}
	if _, err := small.Get(ctx, "monitor/a.json"); !errors.Is(err, objects.ErrCorrupt) {
		t.Fatalf("over the limit: %v", err)
	}
	// A fault that persists is given up on after the retries.
	d := &down{Remote: dir}
	gone := remote.Files{Remote: d, Opt: remote.Options{Retries: 2, Backoff: func(int) time.Duration { return 0 }}}
	if _, err := gone.Get(ctx, "monitor/a.json"); !errors.Is(err, errTransient) || d.calls != 3 {
		t.Fatalf("persistent fault: %v after %d calls, want 3", err, d.calls)
	}
}

type down struct {
	remote.Remote
	calls int
}

func (d *down) Get(context.Context, string, int64, int64) (io.ReadCloser, error) {
	d.calls++
	return nil, errTransient
}
