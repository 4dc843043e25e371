// Package remotetest is the conformance suite for remote.Remote. Every implementation
// runs it from its own tests, the S3 one against a real server:
//
//	func TestConformance(t *testing.T) {
//		remotetest.Run(t, func(t *testing.T) remote.Remote { return newEmptyRemote(t) })
//	}
//
// Each sub-test checks one promise of the interface's doc comment, so a failure names
// the promise that broke.
package remotetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/trove-dev/trove/remote"
)

// BigSize is the size of the large objects the suite writes: above 16 MiB, so that the
// S3 remote uploads them in more than one part.
const BigSize = 20<<20 + 12345

// Run runs the conformance suite. newRemote must return a new, empty remote each time
// it is called, and arrange its cleanup with t.Cleanup.
func Run(t *testing.T, newRemote func(t *testing.T) remote.Remote) {
	t.Run("PutGet", func(t *testing.T) { testPutGet(t, newRemote) })
	t.Run("Overwrite", func(t *testing.T) { testOverwrite(t, newRemote) })
	t.Run("GetRange", func(t *testing.T) { testGetRange(t, newRemote) })
	t.Run("GetRangeEmptyObject", func(t *testing.T) { testGetRangeEmpty(t, newRemote) })
	t.Run("Missing", func(t *testing.T) { testMissing(t, newRemote) })
	t.Run("Delete", func(t *testing.T) { testDelete(t, newRemote) })
	t.Run("List", func(t *testing.T) { testList(t, newRemote) })
	t.Run("ListStopsOnCallbackError", func(t *testing.T) { testListStop(t, newRemote) })
	t.Run("BadKeys", func(t *testing.T) { testBadKeys(t, newRemote) })
	t.Run("KeyCharacters", func(t *testing.T) { testKeyCharacters(t, newRemote) })
	t.Run("ShortReaderLeavesNoObject", func(t *testing.T) { testShortReader(t, newRemote) })
	t.Run("ReaderErrorLeavesNoObject", func(t *testing.T) { testReaderError(t, newRemote) })
	t.Run("FailedOverwriteKeepsOldObject", func(t *testing.T) { testFailedOverwrite(t, newRemote) })
	t.Run("ReadsNoMoreThanSize", func(t *testing.T) { testReadsNoMore(t, newRemote) })
	t.Run("ConcurrentPuts", func(t *testing.T) { testConcurrentPuts(t, newRemote) })
	t.Run("ConcurrentPutsSameKey", func(t *testing.T) { testConcurrentSameKey(t, newRemote) })
	t.Run("CancelledContext", func(t *testing.T) { testCancelled(t, newRemote) })
	t.Run("CancelDuringPut", func(t *testing.T) { testCancelDuringPut(t, newRemote) })
	t.Run("CancelDuringGet", func(t *testing.T) { testCancelDuringGet(t, newRemote) })
	t.Run("String", func(t *testing.T) { testString(t, newRemote) })
}

// Data returns n pseudo-random bytes, the same for the same seed.
func Data(seed uint64, n int) []byte {
	b := make([]byte, n)
	rng := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), byte(seed >> 24)})
	rng.Read(b)
	return b
}

func testPutGet(t *testing.T, newRemote func(*testing.T) remote.Remote) {
	for _, tc := range []struct {
		name string
		size int
	}{
		{"Empty", 0},
		{"OneByte", 1},
		{"64KiB", 64 << 10},
		{"Big", BigSize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRemote(t)
			ctx := t.Context()
			key := "packs/ab/" + strings.ToLower(tc.name) + ".pack"
			data := Data(uint64(tc.size), tc.size)
			mustPut(t, r, key, data)
			if got := mustGet(t, r, key, 0, -1); !bytes.Equal(got, data) {
				t.Fatalf("Get(%q) returned %d bytes that differ from the %d put", key, len(got), len(data))
			}
			info, err := r.Stat(ctx, key)
			if err != nil {
				t.Fatalf("Stat(%q): %v", key, err)
			}
			if info.Key != key || info.Size != int64(tc.size) {
				t.Errorf("Stat(%q) = key %q size %d, want key %q size %d", key, info.Key, info.Size, key, tc.size)
			}
			if info.ModTime.IsZero() {
				t.Errorf("Stat(%q).ModTime is zero", key)
			}
		})
	}
}

func testOverwrite(t *testing.T, newRemote func(*testing.T) remote.Remote) {
	r := newRemote(t)
	key := "index/current"
	mustPut(t, r, key, []byte("first version, longer"))
	mustPut(t, r, key, []byte("second"))
	if got := mustGet(t, r, key, 0, -1); string(got) != "second" {
		t.Fatalf("after overwrite Get = %q, want %q", got, "second")
	}
	info, err := r.Stat(t.Context(), key)
	if err != nil || info.Size != 6 {
		t.Fatalf("after overwrite Stat = %+v, %v; want size 6", info, err)
	}
	// Re-putting identical content, what callers actually do, is idempotent.
	mustPut(t, r, key, []byte("second"))
	if got := mustGet(t, r, key, 0, -1); string(got) != "second" {
		t.Fatalf("after identical re-put Get = %q", got)
	}
}

func testGetRange(t *testing.T, newRemote func(*testing.T) remote.Remote) {
	r := newRemote(t)
	const size = 1000
	data := Data(7, size)
	key := "packs/range.pack"
	mustPut(t, r, key, data)
	for _, tc := range []struct {
		name           string
		offset, length int64
		want           []byte
	}{
		{"WholeObject", 0, -1, data},
		{"Prefix", 0, 10, data[:10]},
		{"Middle", 100, 200, data[100:300]},
		{"ToEnd", 990, -1, data[990:]},
		{"ExactlyToEnd", 900, 100, data[900:]},
		{"OneByte", 500, 1, data[500:501]},
		{"LastByte", size - 1, -1, data[size-1:]},
		{"ZeroLength", 10, 0, nil},
		{"LengthPastEndIsCutShort", 995, 10, data[995:]},
		{"WholeObjectLengthPastEnd", 0, size + 1, data},
		{"OffsetAtEndToEnd", size, -1, nil},
		{"OffsetAtEndWithLength", size, 5, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := mustGet(t, r, key, tc.offset, tc.length)
			if !bytes.Equal(got, tc.want) {
				t.Fatalf("Get(%d, %d) returned %d bytes, want %d bytes (data[%d:%d])",
					tc.offset, tc.length, len(got), len(tc.want), tc.offset, tc.offset+int64(len(tc.want)))
			}
		})
	}
	for _, tc := range []struct {
		name           string
		offset, length int64
	}{
		{"OffsetPastEnd", size + 1, -1},
		{"OffsetFarPastEnd", size + 1000, 10},
		{"NegativeOffset", -1, 10},
		{"LengthBelowMinusOne", 0, -2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc, err := r.Get(t.Context(), key, tc.offset, tc.length)
			if err == nil {
				rc.Close()
				t.Fatalf("Get(%d, %d) succeeded, want ErrInvalidRange", tc.offset, tc.length)
			}
			if !errors.Is(err, remote.ErrInvalidRange) {
				t.Fatalf("Get(%d, %d) = %v, want ErrInvalidRange", tc.offset, tc.length, err)
			}
		})
	}
}

func testGetRangeEmpty(t *testing.T, newRemote func(*testing.T) remote.Remote) {
	r := newRemote(t)
	key := "empty"
	mustPut(t, r, key, nil)
	for _, tc := range []struct{ offset, length int64 }{{0, -1}, {0, 0}, {0, 10}} {
		if got := mustGet(t, r, key, tc.offset, tc.length); len(got) != 0 {
			t.Errorf("Get(empty, %d, %d) returned %d bytes", tc.offset, tc.length, len(got))
		}
	}
	rc, err := r.Get(t.Context(), key, 1, -1)
	if err == nil {
		rc.Close()
	}
	if !errors.Is(err, remote.ErrInvalidRange) {
		t.Errorf("Get(empty, 1, -1) = %v, want ErrInvalidRange", err)
	}
}

func testMissing(t *testing.T, newRemote func(*testing.T) remote.Remote) {
	r := newRemote(t)
	ctx := t.Context()
	mustPut(t, r, "packs/present", []byte("x"))
	for _, key := range []string{"packs/absent", "absent", "packs/present/below", "packs"} {
		t.Run(strings.ReplaceAll(key, "/", "_"), func(t *testing.T) {
			if _, err := r.Stat(ctx, key); !errors.Is(err, remote.ErrNotFound) {
				t.Errorf("Stat(%q) = %v, want ErrNotFound", key, err)
			}
			for _, rng := range [][2]int64{{0, -1}, {5, 10}, {0, 0}} {
				rc, err := r.Get(ctx, key, rng[0], rng[1])
				if err == nil {
					rc.Close()
				}
				if !errors.Is(err, remote.ErrNotFound) {
					t.Errorf("Get(%q, %d, %d) = %v, want ErrNotFound from Get itself", key, rng[0], rng[1], err)
				}
			}
		})
	}
}

func testDelete(t *testing.T, newRemote func(*testing.T) remote.Remote) {
	r := newRemote(t)
	ctx := t.Context()
	if err := r.Delete(ctx, "never/existed"); err != nil {
		t.Fatalf("Delete of a missing key = %v, want nil", err)
	}
	key := "packs/cd/gone.pack"
	mustPut(t, r, key, []byte("short-lived"))
	mustPut(t, r, "packs/cd/kept.pack", []byte("stays"))
	if err := r.Delete(ctx, key); err != nil {
		t.Fatalf("Delete(%q): %v", key, err)
	}
	if _, err := r.Stat(ctx, key); !errors.Is(err, remote.ErrNotFound) {
		t.Fatalf("Stat after Delete = %v, want ErrNotFound", err)
	}
	if err := r.Delete(ctx, key); err != nil {
		t.Fatalf("second Delete(%q) = %v, want nil", key, err)
	}
	if got := listKeys(t, r, ""); !slices.Equal(got, []string{"packs/cd/kept.pack"}) {
		t.Fatalf("List after Delete = %q, want only the kept key", got)
	}
	mustPut(t, r, key, []byte("back"))
	if got := mustGet(t, r, key, 0, -1); string(got) != "back" {
		t.Fatalf("Get after re-put of deleted key = %q", got)
	}
}

func testList(t *testing.T, newRemote func(*testing.T) remote.Remote) {
	r := newRemote(t)
	sizes := map[string]int{
		"packs/aa/1.pack":   1,
		"packs/aa/2.pack":   22,
		"packs/bb/3.pack":   333,
		"packs/top.pack":    4,
		"packsX/other.pack": 5,
		"packs.txt":         6,
		"index/aa.idx":      7,
		"config":            8,
	}
	for key, n := range sizes {
		mustPut(t, r, key, Data(uint64(n), n))
	}
	all := slices.Sorted(maps.Keys(sizes))
	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"", all},
		{"packs/", []string{"packs/aa/1.pack", "packs/aa/2.pack", "packs/bb/3.pack", "packs/top.pack"}},
		{"packs", []string{"packs.txt", "packs/aa/1.pack", "packs/aa/2.pack", "packs/bb/3.pack", "packs/top.pack", "packsX/other.pack"}},
		{"packs/aa/", []string{"packs/aa/1.pack", "packs/aa/2.pack"}},
		{"packs/a", []string{"packs/aa/1.pack", "packs/aa/2.pack"}},
		{"packs/aa/2", []string{"packs/aa/2.pack"}},
		{"packs/top.pack", []string{"packs/top.pack"}},
		{"index/", []string{"index/aa.idx"}},
		{"nothing/", nil},
		{"nothing", nil},
		{"packs/zz/", nil},
	} {
		t.Run("prefix="+tc.prefix, func(t *testing.T) {
			var got []string
			err := r.List(t.Context(), tc.prefix, func(info remote.Info) error {
				got = append(got, info.Key)
				if want, ok := sizes[info.Key]; !ok || info.Size != int64(want) {
					t.Errorf("List gave %q size %d, want size %d", info.Key, info.Size, want)
				}
				if info.ModTime.IsZero() {
					t.Errorf("List gave %q with a zero ModTime", info.Key)
				}
				return nil
			})
			if err != nil {
				t.Fatalf("List(%q): %v", tc.prefix, err)
			}
			sort.Strings(got)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("List(%q) = %q, want %q", tc.prefix, got, tc.want)
			}
		})
	}
}

func testListStop(t *testing.T, newRemote func(*testing.T) remote.Remote) {
	r := newRemote(t)
	for i := range 5 {
		mustPut(t, r, fmt.Sprintf("k/%d", i), []byte{byte(i)})
	}
	stop := errors.New("stop here")
	calls := 0
	err := r.List(t.Context(), "k/", func(remote.Info) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) {
		t.Fatalf("List = %v, want the callback's error", err)
	}
	if calls != 1 {
		t.Fatalf("callback called %d times after returning an error, want 1", calls)
	}
}

func testBadKeys(t *testing.T, newRemote func(*testing.T) remote.Remote) {
	r := newRemote(t)
	ctx := t.Context()
	for _, key := range []string{"", "/abs", "a/../b", "..", "a/..", "a\\b", "a//b", "a/", "./a", "a\x00b"} {
		t.Run(fmt.Sprintf("%q", key), func(t *testing.T) {
			if err := r.Put(ctx, key, strings.NewReader("x"), 1); !errors.Is(err, remote.ErrBadKey) {
				t.Errorf("Put(%q) = %v, want ErrBadKey", key, err)
			}
			rc, err := r.Get(ctx, key, 0, -1)
			if err == nil {
				rc.Close()
			}
			if !errors.Is(err, remote.ErrBadKey) {
				t.Errorf("Get(%q) = %v, want ErrBadKey", key, err)
			}
			if _, err := r.Stat(ctx, key); !errors.Is(err, remote.ErrBadKey) {
				t.Errorf("Stat(%q) = %v, want ErrBadKey", key, err)
			}
			if err := r.Delete(ctx, key); !errors.Is(err, remote.ErrBadKey) {
				t.Errorf("Delete(%q) = %v, want ErrBadKey", key, err)
			}
		})
	}
	for _, prefix := range []string{"/", "/abs", "../", "a/../", "a//"} {
		err := r.List(ctx, prefix, func(remote.Info) error { return nil })
		if !errors.Is(err, remote.ErrBadKey) {
			t.Errorf("List(%q) = %v, want ErrBadKey", prefix, err)
		}
	}
	if keys := listKeys(t, r, ""); len(keys) != 0 {
		t.Errorf("bad keys left objects: %q", keys)
	}
}

// testKeyCharacters checks keys that need escaping in a URL.
func testKeyCharacters(t *testing.T, newRemote func(*testing.T) remote.Remote) {
	r := newRemote(t)
	keys := []string{"odd/with space", "odd/plus+sign", "odd/percent%20", "odd/q?x=1&y#z", "odd/ünïcødé", "odd/-dash_under~tilde.x"}
	for i, key := range keys {
		mustPut(t, r, key, []byte{byte(i)})
	}
	for i, key := range keys {
		if got := mustGet(t, r, key, 0, -1); !bytes.Equal(got, []byte{byte(i)}) {
			t.Errorf("Get(%q) = %v, want [%d]", key, got, i)
		}
	}
	got := listKeys(t, r, "odd/")
	want := slices.Sorted(slices.Values(keys))
	if !slices.Equal(got, want) {
		t.Errorf("List = %q, want %q", got, want)
	}
}

// shortReader yields n bytes and then EOF.
func shortReader(data []byte, n int) io.Reader { return bytes.NewReader(data[:n]) }

var errBroken = errors.New("remotetest: reader broke")

// brokenReader yields n bytes and then fails with errBroken.
type brokenReader struct {
	r io.Reader
}

func newBrokenReader(data []byte, n int) *brokenReader {
	return &brokenReader{r: bytes.NewReader(data[:n])}
}

func (b *brokenReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		return n, errBroken
	}
	return n, err
}

func testShortReader(t *testing.T, newRemote func(*testing.T) remote.Remote) {
	for _, tc := range []struct {
		name       string
		size, have int
	}{
		{"NothingOfOneByte", 1, 0},
		{"HalfOfSmall", 1000, 500},
		{"AllButOneOfSmall", 1000, 999},
		{"BigStopsInLastPart", BigSize, BigSize - 1},
		{"BigStopsInFirstPart", BigSize, 1 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRemote(t)
			key := "packs/short.pack"
			data := Data(3, tc.size)
			err := r.Put(t.Context(), key, shortReader(data, tc.have), int64(tc.size))
			if err == nil {
				t.Fatalf("Put of %d bytes from a reader with %d succeeded", tc.size, tc.have)
			}
			t.Logf("Put error: %v", err)
			assertAbsent(t, r, key)
		})
	}
}

func testReaderError(t *testing.T, newRemote func(*testing.T) remote.Remote) {
	for _, tc := range []struct {
		name       string
		size, have int
	}{
		{"Immediately", 100, 0},
		{"Small", 1000, 500},
		{"BigInFirstPart", BigSize, 1 << 20},
		{"BigInLastPart", BigSize, BigSize - 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRemote(t)
			key := "packs/broken.pack"
			data := Data(4, tc.size)
			err := r.Put(t.Context(), key, newBrokenReader(data, tc.have), int64(tc.size))
			if !errors.Is(err, errBroken) {
				t.Fatalf("Put with a reader failing after %d of %d bytes = %v, want the reader's error", tc.have, tc.size, err)
			}
			assertAbsent(t, r, key)
		})
	}
}

// testFailedOverwrite checks atomicity from the other side: a failed Put over an
// existing object leaves the old object whole.
func testFailedOverwrite(t *testing.T, newRemote func(*testing.T) remote.Remote) {
	r := newRemote(t)
	key := "index/current"
	old := []byte("the old object")
	mustPut(t, r, key, old)
	data := Data(5, 4096)
	if err := r.Put(t.Context(), key, newBrokenReader(data, 2048), int64(len(data))); err == nil {
		t.Fatal("Put from a failing reader succeeded")
	}
	if got := mustGet(t, r, key, 0, -1); !bytes.Equal(got, old) {
		t.Fatalf("after a failed overwrite Get = %q, want the old %q", got, old)
	}
}

// testReadsNoMoreThanSize checks that Put stores size bytes of a longer reader and
// leaves the rest unread.
func testReadsNoMore(t *testing.T, newRemote func(*testing.T) remote.Remote) {
	r := newRemote(t)
	data := Data(6, 100)
	rd := bytes.NewReader(data)
	if err := r.Put(t.Context(), "part", rd, 60); err != nil {
		t.Fatalf("Put of 60 bytes from a 100-byte reader: %v", err)
	}
	if got := mustGet(t, r, "part", 0, -1); !bytes.Equal(got, data[:60]) {
		t.Fatalf("stored %d bytes, want the first 60", len(got))
	}
	if rd.Len() != 40 {
		t.Fatalf("Put left %d bytes unread, want 40", rd.Len())
	}
}

func testConcurrentPuts(t *testing.T, newRemote func(*testing.T) remote.Remote) {
	r := newRemote(t)
	const workers, perWorker = 8, 4
	g, ctx := errgroup.WithContext(t.Context())
	for w := range workers {
		g.Go(func() error {
			for i := range perWorker {
				key := fmt.Sprintf("packs/%02d/%d.pack", w, i)
				data := Data(uint64(w*100+i), 1000+w*4096+i)
				if err := r.Put(ctx, key, bytes.NewReader(data), int64(len(data))); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatalf("concurrent Put: %v", err)
	}
	keys := listKeys(t, r, "packs/")
	if len(keys) != workers*perWorker {
		t.Fatalf("List found %d keys, want %d", len(keys), workers*perWorker)
	}
	// Concurrent reads too, checking every byte.
	g, ctx = errgroup.WithContext(t.Context())
	for w := range workers {
		g.Go(func() error {
			for i := range perWorker {
				key := fmt.Sprintf("packs/%02d/%d.pack", w, i)
				want := Data(uint64(w*100+i), 1000+w*4096+i)
				rc, err := r.Get(ctx, key, 0, -1)
				if err != nil {
					return err
				}
				got, err := io.ReadAll(rc)
				rc.Close()
				if err != nil {
					return fmt.Errorf("read %s: %w", key, err)
				}
				if !bytes.Equal(got, want) {
					return fmt.Errorf("%s: content differs", key)
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatalf("concurrent Get: %v", err)
	}
}

// testConcurrentSameKey puts the same content under one key from several goroutines,
// as two pushes of the same pack do: all succeed and the object is whole.
func testConcurrentSameKey(t *testing.T, newRemote func(*testing.T) remote.Remote) {
	r := newRemote(t)
	const workers = 8
	key := "packs/same.pack"
	data := Data(10, 256<<10)
	g, ctx := errgroup.WithContext(t.Context())
	for range workers {
		g.Go(func() error {
			return r.Put(ctx, key, bytes.NewReader(data), int64(len(data)))
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatalf("concurrent Put of one key: %v", err)
	}
	if got := mustGet(t, r, key, 0, -1); !bytes.Equal(got, data) {
		t.Fatalf("after concurrent Puts the object has %d bytes that differ from the %d put", len(got), len(data))
	}
	if keys := listKeys(t, r, ""); !slices.Equal(keys, []string{key}) {
		t.Fatalf("List = %q, want only %q", keys, key)
	}
}

func testCancelled(t *testing.T, newRemote func(*testing.T) remote.Remote) {
	r := newRemote(t)
	mustPut(t, r, "present", []byte("here"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := r.Put(ctx, "new", strings.NewReader("data"), 4); !errors.Is(err, context.Canceled) {
		t.Errorf("Put with a cancelled context = %v, want context.Canceled", err)
	}
	rc, err := r.Get(ctx, "present", 0, -1)
	if err == nil {
		rc.Close()
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Get with a cancelled context = %v, want context.Canceled", err)
	}
	if _, err := r.Stat(ctx, "present"); !errors.Is(err, context.Canceled) {
		t.Errorf("Stat with a cancelled context = %v, want context.Canceled", err)
	}
	called := false
	err = r.List(ctx, "", func(remote.Info) error { called = true; return nil })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("List with a cancelled context = %v, want context.Canceled", err)
	}
	if called {
		t.Errorf("List with a cancelled context called fn")
	}
	if err := r.Delete(ctx, "present"); !errors.Is(err, context.Canceled) {
		t.Errorf("Delete with a cancelled context = %v, want context.Canceled", err)
	}
	assertAbsent(t, r, "new")
	if got := mustGet(t, r, "present", 0, -1); string(got) != "here" {
		t.Errorf("object changed by cancelled calls: %q", got)
	}
}

// cancellingReader yields its data in small reads and cancels after the first.
type cancellingReader struct {
	r      io.Reader
	cancel func()
	once   sync.Once
}

func (c *cancellingReader) Read(p []byte) (int, error) {
	if len(p) > 4096 {
		p = p[:4096]
	}
	n, err := c.r.Read(p)
	c.once.Do(c.cancel)
	return n, err
}

func testCancelDuringPut(t *testing.T, newRemote func(*testing.T) remote.Remote) {
	for _, tc := range []struct {
		name string
		size int
	}{
		{"Small", 1 << 20},
		{"Big", BigSize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRemote(t)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			data := Data(8, tc.size)
			start := time.Now()
			err := r.Put(ctx, "cancelled", &cancellingReader{r: bytes.NewReader(data), cancel: cancel}, int64(len(data)))
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Put cancelled midway = %v, want context.Canceled", err)
			}
			if d := time.Since(start); d > 30*time.Second {
				t.Errorf("cancelled Put took %v to return", d)
			}
			assertAbsent(t, r, "cancelled")
		})
	}
}

func testCancelDuringGet(t *testing.T, newRemote func(*testing.T) remote.Remote) {
	r := newRemote(t)
	data := Data(9, 4<<20)
	mustPut(t, r, "big", data)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	rc, err := r.Get(ctx, "big", 0, -1)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	defer rc.Close()
	if _, err := io.ReadFull(rc, make([]byte, 1)); err != nil {
		t.Fatalf("read first byte: %v", err)
	}
	cancel()
	n, err := io.Copy(io.Discard, rc)
	if err == nil {
		t.Fatalf("reading after cancel returned the remaining %d bytes without error", n)
	}
}

func testString(t *testing.T, newRemote func(*testing.T) remote.Remote) {
	r := newRemote(t)
	if r.String() == "" {
		t.Fatal("String() is empty")
	}
	t.Logf("String() = %s", r.String())
}

// assertAbsent fails t if key is visible through Stat, Get or List.
func assertAbsent(t *testing.T, r remote.Remote, key string) {
	t.Helper()
	ctx := t.Context()
	if info, err := r.Stat(ctx, key); !errors.Is(err, remote.ErrNotFound) {
		t.Errorf("Stat(%q) after failed Put = %+v, %v; want ErrNotFound", key, info, err)
	}
	rc, err := r.Get(ctx, key, 0, -1)
	if err == nil {
		rc.Close()
	}
	if !errors.Is(err, remote.ErrNotFound) {
		t.Errorf("Get(%q) after failed Put = %v, want ErrNotFound", key, err)
	}
	if keys := listKeys(t, r, ""); slices.Contains(keys, key) {
		t.Errorf("List after failed Put = %q, want no %q", keys, key)
	}
}

func mustPut(t *testing.T, r remote.Remote, key string, data []byte) {
	t.Helper()
	if err := r.Put(t.Context(), key, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("Put(%q, %d bytes): %v", key, len(data), err)
	}
}

func mustGet(t *testing.T, r remote.Remote, key string, offset, length int64) []byte {
	t.Helper()
	rc, err := r.Get(t.Context(), key, offset, length)
	if err != nil {
		t.Fatalf("Get(%q, %d, %d): %v", key, offset, length, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("Get(%q, %d, %d): read: %v", key, offset, length, err)
	}
	if err := rc.Close(); err != nil {
		t.Fatalf("Get(%q): close: %v", key, err)
	}
	return b
}

func listKeys(t *testing.T, r remote.Remote, prefix string) []string {
	t.Helper()
	var keys []string
	err := r.List(t.Context(), prefix, func(info remote.Info) error {
		keys = append(keys, info.Key)
		return nil
	})
	if err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	sort.Strings(keys)
	return keys
}
