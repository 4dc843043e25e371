package remote

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/trove-dev/trove/objects"
)

// A remote holds the same two kinds of object as the local store:
//
//	packs/<first 2 hex>/<pack hex>.pack   packs, byte-identical to local ones
//	index/<pack hex>.idx                  their index files
//
// A pack counts as present on the remote only once its index file is there: push
// uploads the pack first and the index last, so an interrupted push leaves at
// worst an unindexed pack that the next push uploads again (puts are atomic and
// idempotent), never an index that points to nothing.

// PackKey is the remote key of a pack.
func PackKey(id objects.ID) string {
	h := id.Hex()
	return "packs/" + h[:2] + "/" + h + ".pack"
}

// IndexKey is the remote key of a pack's index file.
func IndexKey(id objects.ID) string { return "index/" + id.Hex() + ".idx" }

// Progress reports a transfer's counts; they are cumulative.
type Progress struct {
	Op           string // "push", "fetch", "index"
	Bytes        int64
	TotalBytes   int64
	Objects      int64
	TotalObjects int64
}

// Options tune Push and Fetch.
type Options struct {
	Jobs     int            // parallel requests; default 4 x GOMAXPROCS, at least 8
	Retries  int            // attempts per request after the first; default 4
	CacheDir string         // where index files from the remote are kept; "" keeps none
	Progress func(Progress) // called from several goroutines, never concurrently
	Backoff  func(int) time.Duration
	// Force makes Push upload every pack holding a needed chunk, even those the
	// remote has (to repair damaged objects there).
	Force bool
	// TempDir is where sets of chunk ids too large for SortBudget bytes of
	// memory (default objects.DefaultSortBudget) spill; "" keeps them in memory.
	TempDir    string
	SortBudget int
}

func (o *Options) defaults() {
	if o.Jobs <= 0 {
		o.Jobs = max(8, 4*runtime.GOMAXPROCS(0))
	}
	if o.Retries <= 0 {
		o.Retries = 5
	}
	if o.Backoff == nil {
		o.Backoff = func(attempt int) time.Duration {
			d := 100 * time.Millisecond << attempt
			return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
		}
	}
}

// retryable reports whether trying again may help.
func retryable(err error) bool {
	var te *truncatedError
	if errors.As(err, &te) {
		return true // a body cut short in transit is worth another read
	}
	switch {
	case err == nil,
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, ErrNotFound), errors.Is(err, ErrAccessDenied), errors.Is(err, ErrNoBucket),
		errors.Is(err, ErrBadKey), errors.Is(err, ErrInvalidRange), errors.Is(err, objects.ErrCorrupt):
		return false
	}
	return true
}

func retry(ctx context.Context, o *Options, fn func() error) error {
	var err error
	for attempt := 0; ; attempt++ {
		if err = fn(); !retryable(err) || attempt >= o.Retries {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(o.Backoff(attempt)):
		}
	}
}

// meter aggregates progress from many goroutines.
type meter struct {
	mu sync.Mutex
	p  Progress
	fn func(Progress)
}

func (m *meter) add(bytes, objs int64) {
	if m.fn == nil {
		return
	}
	m.mu.Lock()
	m.p.Bytes += bytes
	m.p.Objects += objs
	p := m.p
	m.fn(p)
	m.mu.Unlock()
}

// Index is what a remote holds: its packs and where each chunk is in them. It
// holds every chunk in a map, about 100 bytes each; push, fetch and check use
// sorted sets that spill to disk instead (PushSet, FetchSet, CheckSet).
type Index struct {
	Packs  map[objects.ID]bool
	chunks map[objects.ID]objects.Loc
	bytes  map[objects.ID]int64 // chunk bytes in each pack
}

// Has reports whether the remote holds chunk id.
func (x *Index) Has(id objects.ID) bool { _, ok := x.chunks[id]; return ok }

// Lookup says where chunk id is on the remote.
func (x *Index) Lookup(id objects.ID) (objects.Loc, bool) { l, ok := x.chunks[id]; return l, ok }

// Chunks returns how many chunks the remote holds.
func (x *Index) Chunks() int { return len(x.chunks) }

// LoadIndex lists the remote's index files and reads them, downloading only those
// not already cached in opt.CacheDir (index files are immutable, named by their
// pack). Each is checked (checksum, and that it names the pack its key says).
func LoadIndex(ctx context.Context, rem Remote, opt Options) (*Index, error) {
	opt.defaults()
	x := &Index{Packs: map[objects.ID]bool{}, chunks: map[objects.ID]objects.Loc{}, bytes: map[objects.ID]int64{}}
	err := eachIndex(ctx, rem, &opt, func(pid objects.ID, entries []objects.IndexEntry) error {
		x.Packs[pid] = true
		for _, e := range entries {
			x.bytes[pid] += int64(e.Length)
			if _, ok := x.chunks[e.ID]; !ok {
				x.chunks[e.ID] = objects.Loc{Pack: pid, Offset: e.Offset, Length: e.Length}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return x, nil
}

// eachIndex lists the remote's index files and reads them in parallel as
// LoadIndex does, calling fn (never concurrently) with each pack's entries.
func eachIndex(ctx context.Context, rem Remote, opt *Options, fn func(pid objects.ID, entries []objects.IndexEntry) error) error {
	var packs []objects.ID
	err := retry(ctx, opt, func() error {
		packs = packs[:0]
		return rem.List(ctx, "index/", func(info Info) error {
			h, ok := strings.CutSuffix(strings.TrimPrefix(info.Key, "index/"), ".idx")
			if !ok {
				return nil
			}
			if id, err := objects.ParseHex(h); err == nil {
				packs = append(packs, id)
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("list %s: %w", rem, err)
	}
	var mu sync.Mutex
	if opt.CacheDir != "" {
		if err := os.MkdirAll(opt.CacheDir, 0o755); err != nil {
			return err
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opt.Jobs)
	for _, pid := range packs {
		g.Go(func() error {
			entries, err := readIndexFile(gctx, rem, pid, opt)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			return fn(pid, entries)
		})
	}
	return g.Wait()
}

// chunkSet is what Push needs to know of a remote: its packs, and the ids of
// its chunks as a set that may spill to disk (an Index holds a map of them).
type chunkSet struct {
	packs map[objects.ID]bool
	ids   *objects.IDSet
}

func loadChunkSet(ctx context.Context, rem Remote, opt *Options) (*chunkSet, error) {
	x := &chunkSet{packs: map[objects.ID]bool{}, ids: objects.NewIDSet(opt.TempDir, opt.SortBudget)}
	err := eachIndex(ctx, rem, opt, func(pid objects.ID, entries []objects.IndexEntry) error {
		x.packs[pid] = true
		for _, e := range entries {
			if err := x.ids.Add(e.ID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		x.ids.Close()
		return nil, err
	}
	return x, nil
}

func readIndexFile(ctx context.Context, rem Remote, pid objects.ID, opt *Options) ([]objects.IndexEntry, error) {
	cached := ""
	if opt.CacheDir != "" {
		cached = filepath.Join(opt.CacheDir, pid.Hex()+".idx")
		if b, err := os.ReadFile(cached); err == nil {
			if got, entries, err := objects.DecodeIndexFile(b); err == nil && got == pid {
				return entries, nil
			}
		}
	}
	var b []byte
	err := retry(ctx, opt, func() error {
		rc, err := rem.Get(ctx, IndexKey(pid), 0, -1)
		if err != nil {
			return err
		}
		defer rc.Close()
		b, err = io.ReadAll(io.LimitReader(rc, 256<<20))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read %s on %s: %w", IndexKey(pid), rem, err)
	}
	got, entries, err := objects.DecodeIndexFile(b)
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w", IndexKey(pid), rem, err)
	}
	if got != pid {
		return nil, fmt.Errorf("%s on %s: %w: it indexes pack %s", IndexKey(pid), rem, objects.ErrCorrupt, got.Short())
	}
	if cached != "" {
		_ = objects.WriteFileAtomic(cached, b, 0o644)
	}
	return entries, nil
}

// PushResult says what Push did.
type PushResult struct {
	Chunks       int   `json:"chunks"`        // chunks the artifacts need
	Packs        int   `json:"packs"`         // packs uploaded
	Bytes        int64 `json:"bytes"`         // bytes uploaded
	SkippedPacks int   `json:"skipped_packs"` // packs the remote already had
	SkippedBytes int64 `json:"skipped_bytes"`
}

// Push uploads the local packs holding the given chunks that the remote lacks,
// largest first, each pack before its index, with bounded retries, and checks the
// size of every object it wrote. A pack is skipped when the remote has it, or has
// every needed chunk of it in other packs. See PushSet.
func Push(ctx context.Context, rem Remote, st *objects.Store, chunks []objects.ID, opt Options) (PushResult, error) {
	set := objects.NewIDSet(opt.TempDir, opt.SortBudget)
	defer set.Close()
	for _, id := range chunks {
		if err := set.Add(id); err != nil {
			return PushResult{Chunks: len(chunks)}, err
		}
	}
	res, err := PushSet(ctx, rem, st, set, opt)
	res.Chunks = len(chunks)
	return res, err
}

// PushSet is Push for a set of chunks, which need not fit in memory: the set is
// joined with the store's index and with the remote's chunks (read into a set
// that spills to opt.TempDir) in sorted passes; only the packs involved are
// held. A chunk the store lacks gives a *objects.MissingError (the first in id
// order) before the remote is read.
func PushSet(ctx context.Context, rem Remote, st *objects.Store, chunks *objects.IDSet, opt Options) (PushResult, error) {
	opt.defaults()
	var res PushResult
	n, err := chunks.Len()
	if err != nil {
		return res, err
	}
	res.Chunks = int(n)
	// Each pack holding a needed chunk, and whether the remote has all its
	// needed chunks (in any pack).
	need := map[objects.ID]bool{}
	err = st.EachLoc(chunks, func(id objects.ID, l objects.Loc, ok bool) error {
		if !ok {
			return &objects.MissingError{ID: id}
		}
		need[l.Pack] = true
		return nil
	})
	if err != nil {
		return res, err
	}
	x, err := loadChunkSet(ctx, rem, &opt)
	if err != nil {
		return res, err
	}
	defer x.ids.Close()
	if !opt.Force {
		// Which packs the remote lacks though it may have their needed chunks.
		var open []objects.ID
		for pid := range need {
			if !x.packs[pid] {
				open = append(open, pid)
			}
		}
		if len(open) > 0 {
			remote := x.ids.Iter()
			rid, more := remote.Next()
			err = st.EachLoc(chunks, func(id objects.ID, l objects.Loc, _ bool) error {
				if x.packs[l.Pack] || !need[l.Pack] {
					return nil
				}
				for more && bytes.Compare(rid[:], id[:]) < 0 {
					rid, more = remote.Next()
				}
				if !more || rid != id {
					need[l.Pack] = false // a chunk only this pack can give
				}
				return nil
			})
			if err == nil {
				err = remote.Err()
			}
			if err != nil {
				return res, err
			}
		}
	}
	sizes := st.Packs()
	var todo []objects.ID
	var total int64
	for pid, all := range need {
		all = (x.packs[pid] || all) && !opt.Force
		if all {
			res.SkippedPacks++
			res.SkippedBytes += sizes[pid]
			continue
		}
		todo = append(todo, pid)
		total += sizes[pid]
	}
	sort.Slice(todo, func(i, j int) bool { return sizes[todo[i]] > sizes[todo[j]] })
	m := &meter{fn: opt.Progress, p: Progress{Op: "push", TotalBytes: total, TotalObjects: int64(len(todo))}}
	var sent atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opt.Jobs)
	for _, pid := range todo {
		g.Go(func() error {
			n, err := pushPack(gctx, rem, st, pid, sizes[pid], m, &opt)
			if err != nil {
				return err
			}
			sent.Add(n)
			if opt.CacheDir != "" {
				if b, err := os.ReadFile(st.IndexPath(pid)); err == nil {
					_ = os.MkdirAll(opt.CacheDir, 0o755)
					_ = objects.WriteFileAtomic(filepath.Join(opt.CacheDir, pid.Hex()+".idx"), b, 0o644)
				}
			}
			m.add(0, 1)
			return nil
		})
	}
	err = g.Wait()
	res.Bytes = sent.Load()
	if err == nil {
		res.Packs = len(todo)
	}
	return res, err
}

// countingReader reports bytes read to a meter and remembers how many, so a retry
// can take them back.
type countingReader struct {
	r io.Reader
	m *meter
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.m.add(int64(n), 0)
	return n, err
}

func pushPack(ctx context.Context, rem Remote, st *objects.Store, pid objects.ID, size int64, m *meter, opt *Options) (int64, error) {
	err := retry(ctx, opt, func() error {
		f, err := os.Open(st.PackPath(pid))
		if err != nil {
			return fmt.Errorf("%w: pack %s: %v", objects.ErrMissing, pid.Short(), err)
		}
		defer f.Close()
		cr := &countingReader{r: f, m: m}
		err = rem.Put(ctx, PackKey(pid), cr, size)
		if err == nil {
			var info Info
			if info, err = rem.Stat(ctx, PackKey(pid)); err == nil && info.Size != size {
				err = fmt.Errorf("%s on %s has %d bytes after upload, want %d", PackKey(pid), rem, info.Size, size)
			}
		}
		if err != nil {
			m.add(-cr.n, 0)
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("push pack %s: %w", pid.Short(), err)
	}
	idx, err := os.ReadFile(st.IndexPath(pid))
	if err != nil {
		return 0, fmt.Errorf("push pack %s: read index: %w", pid.Short(), err)
	}
	err = retry(ctx, opt, func() error {
		return rem.Put(ctx, IndexKey(pid), strings.NewReader(string(idx)), int64(len(idx)))
	})
	if err != nil {
		return 0, fmt.Errorf("push index %s: %w", pid.Short(), err)
	}
	return size + int64(len(idx)), nil
}

// FetchResult says what Fetch did.
type FetchResult struct {
	Chunks   int   `json:"chunks"`   // chunks fetched
	Bytes    int64 `json:"bytes"`    // their bytes
	Read     int64 `json:"read"`     // bytes read from the remote, gaps included
	Requests int   `json:"requests"` // ranged reads
}

// NotOnRemoteError names a chunk the remote does not have.
type NotOnRemoteError struct {
	ID     objects.ID
	Remote string
}

func (e *NotOnRemoteError) Error() string {
	return fmt.Sprintf("chunk %s is not on %s", e.ID.Short(), e.Remote)
}

// Is makes errors.Is(err, ErrNotFound) true.
func (e *NotOnRemoteError) Is(target error) bool { return target == ErrNotFound }

// maxGap is how many unwanted bytes between two wanted chunks of a pack are read
// rather than starting another request; maxRange caps one request.
const (
	maxGap   = 256 << 10
	maxRange = 32 << 20
	// wholePackRatio: when at least this fraction of a pack's chunk bytes is
	// wanted, the pack is downloaded whole.
	wholePackRatio = 0.8
)

type span struct {
	pack    objects.ID
	off     uint64
	end     uint64
	entries []objects.IndexEntry // sorted by offset
}

// Fetch downloads the given chunks into the local store with ranged reads
// coalesced per pack, in parallel, verifying each chunk's BLAKE3 before storing it.
// What was verified is kept even when Fetch fails, so a rerun resumes. See
// FetchSet.
func Fetch(ctx context.Context, rem Remote, st *objects.Store, ids []objects.ID, opt Options) (FetchResult, error) {
	set := objects.NewIDSet(opt.TempDir, opt.SortBudget)
	defer set.Close()
	for _, id := range ids {
		if err := set.Add(id); err != nil {
			return FetchResult{}, err
		}
	}
	return FetchSet(ctx, rem, st, set, opt)
}

// remoteRec is one entry of the remote's index; wantRec one chunk to fetch.
// Packs are numbered in the order their index files were read.
type (
	remoteRec struct {
		ID     objects.ID
		Pack   uint32
		Offset uint64
		Length uint32
	}
	wantRec struct {
		Pack   uint32
		Offset uint64
		Length uint32
		ID     objects.ID
	}
)

// remoteLocations reads every index on the remote into a sorter of chunk
// locations (which spills to disk past the budget); packs[i] is the pack of
// ordinal i and packBytes[i] the chunk bytes it holds. The caller closes locs.
func remoteLocations(ctx context.Context, rem Remote, opt *Options) (packs []objects.ID, packBytes []int64, locs *objects.Sorter[remoteRec], err error) {
	locs = newRemoteRecs(opt)
	err = eachIndex(ctx, rem, opt, func(pid objects.ID, entries []objects.IndexEntry) error {
		ord := uint32(len(packs))
		packs = append(packs, pid)
		packBytes = append(packBytes, 0)
		for _, e := range entries {
			packBytes[ord] += int64(e.Length)
			if err := locs.Add(remoteRec{ID: e.ID, Pack: ord, Offset: e.Offset, Length: e.Length}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		locs.Close()
		return nil, nil, nil, err
	}
	return packs, packBytes, locs, nil
}

func newRemoteRecs(opt *Options) *objects.Sorter[remoteRec] {
	return objects.NewSorter(opt.TempDir, opt.SortBudget, 48,
		func(b []byte, r remoteRec) {
			copy(b, r.ID[:])
			binary.BigEndian.PutUint32(b[32:], r.Pack)
			binary.BigEndian.PutUint64(b[36:], r.Offset)
			binary.BigEndian.PutUint32(b[44:], r.Length)
		},
		func(b []byte) remoteRec {
			return remoteRec{ID: objects.ID(b[:32]), Pack: binary.BigEndian.Uint32(b[32:]), Offset: binary.BigEndian.Uint64(b[36:]), Length: binary.BigEndian.Uint32(b[44:])}
		},
		func(a, b remoteRec) int {
			if c := bytes.Compare(a.ID[:], b.ID[:]); c != 0 {
				return c
			}
			return cmp.Compare(a.Pack, b.Pack)
		})
}

func newWantRecs(opt *Options) *objects.Sorter[wantRec] {
	return objects.NewSorter(opt.TempDir, opt.SortBudget, 48,
		func(b []byte, r wantRec) {
			binary.BigEndian.PutUint32(b, r.Pack)
			binary.BigEndian.PutUint64(b[4:], r.Offset)
			binary.BigEndian.PutUint32(b[12:], r.Length)
			copy(b[16:], r.ID[:])
		},
		func(b []byte) wantRec {
			return wantRec{Pack: binary.BigEndian.Uint32(b), Offset: binary.BigEndian.Uint64(b[4:]), Length: binary.BigEndian.Uint32(b[12:]), ID: objects.ID(b[16:48])}
		},
		func(a, b wantRec) int {
			if c := cmp.Compare(a.Pack, b.Pack); c != 0 {
				return c
			}
			if c := cmp.Compare(a.Offset, b.Offset); c != 0 {
				return c
			}
			return bytes.Compare(a.ID[:], b.ID[:])
		})
}

// FetchSet is Fetch for a set of chunks, which need not fit in memory: the
// remote's index is external-sorted and joined with the chunks the store lacks,
// those are sorted by pack and offset, and each pack's ranges are sent to the
// workers as the sorted stream reaches them. A chunk the remote lacks gives a
// *NotOnRemoteError (the first in id order) before anything is downloaded.
func FetchSet(ctx context.Context, rem Remote, st *objects.Store, ids *objects.IDSet, opt Options) (FetchResult, error) {
	opt.defaults()
	var res FetchResult
	packs, packBytes, locs, err := remoteLocations(ctx, rem, &opt)
	if err != nil {
		return res, err
	}
	defer locs.Close()
	want := newWantRecs(&opt)
	defer want.Close()
	var total, count int64
	it := locs.Iter()
	head, more := it.Next()
	err = st.EachMissing(ids, func(id objects.ID) error {
		for more && bytes.Compare(head.ID[:], id[:]) < 0 {
			head, more = it.Next()
		}
		if !more || head.ID != id {
			return &NotOnRemoteError{ID: id, Remote: rem.String()}
		}
		total += int64(head.Length)
		count++
		return want.Add(wantRec{Pack: head.Pack, Offset: head.Offset, Length: head.Length, ID: id})
	})
	if err == nil {
		err = it.Err()
	}
	if err != nil {
		return res, err
	}
	m := &meter{fn: opt.Progress, p: Progress{Op: "fetch", TotalBytes: total, TotalObjects: count}}
	var chunks, nbytes, read atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opt.Jobs)
	requests := 0
	// dispatch sends one pack's wanted chunks (sorted by offset) to the workers.
	dispatch := func(ord uint32, es []objects.IndexEntry) {
		pid := packs[ord]
		// Most of a pack wanted: download it whole and install it as it is (one
		// pass, hashed against its name), rather than re-packing its chunks.
		var wantBytes int64
		for _, e := range es {
			wantBytes += int64(e.Length)
		}
		if float64(wantBytes) >= wholePackRatio*float64(packBytes[ord]) && !st.HasPack(pid) {
			requests++
			g.Go(func() error {
				return retry(gctx, &opt, func() error {
					rc, err := rem.Get(gctx, PackKey(pid), 0, -1)
					if err != nil {
						return fmt.Errorf("fetch %s: %w", PackKey(pid), err)
					}
					defer rc.Close()
					cr := &countingReader{r: rc, m: m}
					n, err := st.AddPackFrom(pid, cr)
					read.Add(n)
					if err != nil {
						m.add(-cr.n, 0)
						if errors.Is(err, objects.ErrCorrupt) {
							if n < packBytes[ord] {
								return &truncatedError{msg: fmt.Sprintf("%s on %s: %v: it ends early (truncated object?)", PackKey(pid), rem, objects.ErrCorrupt)}
							}
							return fmt.Errorf("%s on %s: %w", PackKey(pid), rem, err)
						}
						return err
					}
					chunks.Add(int64(len(es)))
					nbytes.Add(wantBytes)
					m.add(0, int64(len(es)))
					return nil
				})
			})
			return
		}
		var cur *span
		flush := func() {
			if cur == nil {
				return
			}
			sp := cur
			requests++
			g.Go(func() error {
				return retry(gctx, &opt, func() error {
					n, c, b, err := fetchSpan(gctx, rem, st, sp, m)
					read.Add(n)
					chunks.Add(c)
					nbytes.Add(b)
					return err
				})
			})
		}
		for _, e := range es {
			end := e.Offset + uint64(e.Length)
			if cur != nil && e.Offset >= cur.end && e.Offset-cur.end <= maxGap && end-cur.off <= maxRange {
				cur.end = end
				cur.entries = append(cur.entries, e)
				continue
			}
			flush()
			cur = &span{pack: pid, off: e.Offset, end: end, entries: []objects.IndexEntry{e}}
		}
		flush()
	}
	wit := want.Iter()
	var es []objects.IndexEntry
	var ord uint32
	for w, ok := wit.Next(); ok && gctx.Err() == nil; w, ok = wit.Next() {
		if len(es) > 0 && w.Pack != ord {
			dispatch(ord, es)
			es = nil // the workers hold the last slice
		}
		ord = w.Pack
		es = append(es, objects.IndexEntry{ID: w.ID, Offset: w.Offset, Length: w.Length})
	}
	if len(es) > 0 && gctx.Err() == nil {
		dispatch(ord, es)
	}
	err = g.Wait()
	if err == nil {
		err = wit.Err()
	}
	res.Chunks, res.Bytes, res.Read, res.Requests = int(chunks.Load()), nbytes.Load(), read.Load(), requests
	if ferr := st.Flush(); err == nil {
		err = ferr
	}
	return res, err
}

// fetchSpan streams one range of a pack, storing the wanted chunks it contains.
func fetchSpan(ctx context.Context, rem Remote, st *objects.Store, sp *span, m *meter) (read, chunks, bytes int64, err error) {
	key := PackKey(sp.pack)
	rc, err := rem.Get(ctx, key, int64(sp.off), int64(sp.end-sp.off))
	if errors.Is(err, ErrInvalidRange) {
		return 0, 0, 0, fmt.Errorf("%s on %s: %w: the object is shorter than its index says (truncated?): %v", key, rem, objects.ErrCorrupt, err)
	}
	if err != nil {
		return 0, 0, 0, fmt.Errorf("fetch %s: %w", key, err)
	}
	defer rc.Close()
	pos := sp.off
	buf := make([]byte, 0, 256<<10)
	for _, e := range sp.entries {
		if st.Has(e.ID) { // fetched by an earlier attempt
			continue
		}
		if gap := e.Offset - pos; gap > 0 {
			n, err := io.CopyN(io.Discard, rc, int64(gap))
			read += n
			if err != nil {
				return read, chunks, bytes, truncated(key, rem, err)
			}
		}
		if cap(buf) < int(e.Length) {
			buf = make([]byte, e.Length)
		}
		b := buf[:e.Length]
		n, err := io.ReadFull(rc, b)
		read += int64(n)
		pos = e.Offset + uint64(n)
		if err != nil {
			return read, chunks, bytes, truncated(key, rem, err)
		}
		if objects.Hash(b) != e.ID {
			return read, chunks, bytes, fmt.Errorf("%s on %s: %w: chunk %s at offset %d does not match its id (the object was altered)", key, rem, objects.ErrCorrupt, e.ID.Short(), e.Offset)
		}
		if _, err := st.Put(e.ID, b); err != nil {
			return read, chunks, bytes, err
		}
		chunks++
		bytes += int64(e.Length)
		m.add(int64(e.Length), 1)
	}
	return read, chunks, bytes, nil
}

// truncatedError is a body that ended before the range did: retried, since it may
// be the network, and reported as corruption when it persists.
type truncatedError struct{ msg string }

func (e *truncatedError) Error() string        { return e.msg }
func (e *truncatedError) Is(target error) bool { return target == objects.ErrCorrupt }

func truncated(key string, rem Remote, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &truncatedError{msg: fmt.Sprintf("%s on %s: %v: it ends early (truncated object?)", key, rem, objects.ErrCorrupt)}
	}
	return fmt.Errorf("read %s on %s: %w", key, rem, err)
}
