package objects

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"slices"
)

// External sorting: the sets that gc, verify and transfers build (every chunk
// that history reaches, every chunk of an artifact) can have tens of millions of
// members, more than a map of them may hold in memory. A sorter collects
// fixed-width records in memory up to a budget, sorts that run and spills it to
// a temporary file, and then streams all runs merged, in order and without
// repeats. Below the budget nothing touches the disk. Sorted streams are then
// joined with other sorted data (the store's midx files, a pack's entries) in
// one sequential pass instead of a lookup per member.
//
// Run files are unlinked as soon as they are created (where the system allows
// it), so a process killed at any point leaves nothing behind; elsewhere they
// are removed by Close.

// DefaultSortBudget is the memory a sorter holds before it spills to disk.
const DefaultSortBudget = 64 << 20

// maxRuns bounds the runs merged at once: past it, the runs are merged into one
// first, so that a tiny budget does not open thousands of files.
const maxRuns = 64

// codec reads and writes one fixed-width record.
type codec[T any] struct {
	width int
	put   func(b []byte, v T)
	get   func(b []byte) T
	cmp   func(a, b T) int
}

// sorter is the generic external sort behind IDSet and LiveMarks.
type sorter[T any] struct {
	c      codec[T]
	dir    string // "" keeps everything in memory
	max    int    // records per run
	buf    []T
	sorted bool // buf is sorted and without repeats
	runs   []*run
}

// run is one sorted temporary file of records.
type run struct {
	f    *os.File
	n    int64
	name string // still to remove, where unlinking an open file failed
}

func newSorter[T any](c codec[T], dir string, budget int) *sorter[T] {
	return &sorter[T]{c: c, dir: dir, max: max(16, budget/c.width)}
}

func (s *sorter[T]) add(v T) error {
	s.buf = append(s.buf, v)
	s.sorted = false
	if s.dir != "" && len(s.buf) >= s.max {
		return s.spill()
	}
	return nil
}

// sortBuf sorts the in-memory run and drops repeats.
func (s *sorter[T]) sortBuf() {
	if s.sorted {
		return
	}
	slices.SortFunc(s.buf, s.c.cmp)
	s.buf = slices.CompactFunc(s.buf, func(a, b T) bool { return s.c.cmp(a, b) == 0 })
	s.sorted = true
}

func (s *sorter[T]) spill() error {
	s.sortBuf()
	r, err := s.writeRun(func(yield func(T) error) error {
		for _, v := range s.buf {
			if err := yield(v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.runs = append(s.runs, r)
	s.buf, s.sorted = s.buf[:0], true
	if len(s.runs) >= maxRuns {
		return s.compact()
	}
	return nil
}

// compact merges all runs into one.
func (s *sorter[T]) compact() error {
	it := s.mergeRuns(s.runs, nil)
	r, err := s.writeRun(func(yield func(T) error) error {
		for {
			v, ok := it.next()
			if !ok {
				return it.err
			}
			if err := yield(v); err != nil {
				return err
			}
		}
	})
	if err != nil {
		return err
	}
	for _, old := range s.runs {
		old.close()
	}
	s.runs = []*run{r}
	return nil
}

func (s *sorter[T]) writeRun(each func(yield func(T) error) error) (*run, error) {
	f, err := os.CreateTemp(s.dir, "sort-*")
	if err != nil {
		return nil, fmt.Errorf("sort: %w", err)
	}
	r := &run{f: f}
	if os.Remove(f.Name()) != nil {
		r.name = f.Name()
	}
	w := bufio.NewWriterSize(f, 256<<10)
	rec := make([]byte, s.c.width)
	err = each(func(v T) error {
		s.c.put(rec, v)
		r.n++
		_, err := w.Write(rec)
		return err
	})
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		r.close()
		return nil, fmt.Errorf("sort: write run: %w", err)
	}
	return r, nil
}

func (r *run) close() {
	r.f.Close()
	if r.name != "" {
		os.Remove(r.name)
	}
}

// close removes the runs and drops the records.
func (s *sorter[T]) close() {
	for _, r := range s.runs {
		r.close()
	}
	s.runs, s.buf = nil, nil
}

// iter streams every record added so far, sorted, without repeats. It may be
// called again (after more adds too); an iterator must not outlive the sorter.
func (s *sorter[T]) iter() *mergeIter[T] {
	s.sortBuf()
	return s.mergeRuns(s.runs, s.buf)
}

// mergeIter merges sorted sources, dropping repeats.
type mergeIter[T any] struct {
	cmp   func(a, b T) int
	srcs  []recSource[T]
	heap  []int // indexes of srcs with a head, as a min-heap
	heads []T
	last  T
	any   bool
	err   error
}

type recSource[T any] interface {
	next() (T, bool, error)
}

type memSource[T any] struct {
	recs []T
	i    int
}

func (m *memSource[T]) next() (T, bool, error) {
	if m.i >= len(m.recs) {
		var zero T
		return zero, false, nil
	}
	m.i++
	return m.recs[m.i-1], true, nil
}

type runSource[T any] struct {
	c    codec[T]
	r    *bufio.Reader
	left int64
	rec  []byte
}

func (rs *runSource[T]) next() (T, bool, error) {
	var zero T
	if rs.left == 0 {
		return zero, false, nil
	}
	if _, err := io.ReadFull(rs.r, rs.rec); err != nil {
		return zero, false, fmt.Errorf("sort: read run: %w", err)
	}
	rs.left--
	return rs.c.get(rs.rec), true, nil
}

func (s *sorter[T]) mergeRuns(runs []*run, mem []T) *mergeIter[T] {
	it := &mergeIter[T]{cmp: s.c.cmp}
	// The read buffers share a budget of about one run's memory.
	bufSize := min(256<<10, max(4<<10, s.max*s.c.width/(len(runs)+1)))
	for _, r := range runs {
		it.srcs = append(it.srcs, &runSource[T]{c: s.c, r: bufio.NewReaderSize(io.NewSectionReader(r.f, 0, r.n*int64(s.c.width)), bufSize), left: r.n, rec: make([]byte, s.c.width)})
	}
	if len(mem) > 0 {
		it.srcs = append(it.srcs, &memSource[T]{recs: mem})
	}
	it.heads = make([]T, len(it.srcs))
	for i, src := range it.srcs {
		v, ok, err := src.next()
		if err != nil {
			it.err = err
			return it
		}
		if ok {
			it.heads[i] = v
			it.push(i)
		}
	}
	return it
}

func (it *mergeIter[T]) less(a, b int) bool {
	return it.cmp(it.heads[it.heap[a]], it.heads[it.heap[b]]) < 0
}

func (it *mergeIter[T]) push(i int) {
	it.heap = append(it.heap, i)
	for j := len(it.heap) - 1; j > 0; {
		p := (j - 1) / 2
		if !it.less(j, p) {
			break
		}
		it.heap[j], it.heap[p] = it.heap[p], it.heap[j]
		j = p
	}
}

func (it *mergeIter[T]) down() {
	n := len(it.heap)
	for j := 0; ; {
		l := 2*j + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && it.less(r, l) {
			m = r
		}
		if !it.less(m, j) {
			return
		}
		it.heap[j], it.heap[m] = it.heap[m], it.heap[j]
		j = m
	}
}

// next returns the next record; at the end (or on an error, kept in err) ok is false.
func (it *mergeIter[T]) next() (v T, ok bool) {
	for it.err == nil && len(it.heap) > 0 {
		i := it.heap[0]
		v = it.heads[i]
		nv, more, err := it.srcs[i].next()
		if err != nil {
			it.err = err
			break
		}
		if more {
			it.heads[i] = nv
		} else {
			it.heap[0] = it.heap[len(it.heap)-1]
			it.heap = it.heap[:len(it.heap)-1]
		}
		it.down()
		if it.any && it.cmp(v, it.last) == 0 {
			continue
		}
		it.last, it.any = v, true
		return v, true
	}
	var zero T
	return zero, false
}

var idCodec = codec[ID]{
	width: len(ID{}),
	put:   func(b []byte, v ID) { copy(b, v[:]) },
	get:   func(b []byte) ID { return ID(b) },
	cmp:   func(a, b ID) int { return bytes.Compare(a[:], b[:]) },
}

// IDSet is a set of chunk ids that may be larger than memory: ids are added in
// any order, with repeats, and read back sorted and distinct. It holds about its
// budget in memory and spills the rest to temporary files in its directory. It
// is not safe for concurrent use; Close releases its files.
type IDSet struct {
	s      *sorter[ID]
	budget int
	n      int64 // distinct members, once counted; -1 before
}

// NewIDSet returns an empty set that spills to dir past budget bytes of ids
// (dir "" or budget <= 0: DefaultSortBudget; dir "" never spills).
func NewIDSet(dir string, budget int) *IDSet {
	if budget <= 0 {
		budget = DefaultSortBudget
	}
	return &IDSet{s: newSorter(idCodec, dir, budget), budget: budget, n: -1}
}

// Add adds id to the set.
func (x *IDSet) Add(id ID) error {
	x.n = -1
	return x.s.add(id)
}

// Len returns how many distinct ids the set holds (one pass over it when it
// has spilled).
func (x *IDSet) Len() (int64, error) {
	if x.n >= 0 {
		return x.n, nil
	}
	var n int64
	it := x.Iter()
	for _, ok := it.Next(); ok; _, ok = it.Next() {
		n++
	}
	if err := it.Err(); err != nil {
		return 0, err
	}
	x.n = n
	return n, nil
}

// Close removes the set's temporary files.
func (x *IDSet) Close() { x.s.close() }

// Iter streams the set's members in ascending order. Adding to the set while
// an iterator is in use is not allowed.
func (x *IDSet) Iter() *IDIter { return &IDIter{it: x.s.iter()} }

// IDIter streams a set's members in ascending order.
type IDIter struct{ it *mergeIter[ID] }

// Next returns the next id; ok is false at the end or after an error (Err).
func (i *IDIter) Next() (ID, bool) { return i.it.next() }

// Err returns the error that stopped the iteration, if any.
func (i *IDIter) Err() error { return i.it.err }

// markRec is one entry of one pack, to be joined with a set of live ids.
type markRec struct {
	ID     ID
	Pack   uint32
	Entry  uint32
	Length uint32
}

var markCodec = codec[markRec]{
	width: 32 + 4 + 4 + 4,
	put: func(b []byte, v markRec) {
		copy(b, v.ID[:])
		binary.BigEndian.PutUint32(b[32:], v.Pack)
		binary.BigEndian.PutUint32(b[36:], v.Entry)
		binary.BigEndian.PutUint32(b[40:], v.Length)
	},
	get: func(b []byte) markRec {
		return markRec{ID: ID(b[:32]), Pack: binary.BigEndian.Uint32(b[32:]), Entry: binary.BigEndian.Uint32(b[36:]), Length: binary.BigEndian.Uint32(b[40:])}
	},
	cmp: func(a, b markRec) int {
		if c := bytes.Compare(a.ID[:], b.ID[:]); c != 0 {
			return c
		}
		if a.Pack != b.Pack {
			return int(int64(a.Pack) - int64(b.Pack))
		}
		return int(int64(a.Entry) - int64(b.Entry))
	},
}

// LiveMarks says which entries of many packs are in a set of live chunks,
// without a map of either: the packs' entries are external-sorted by chunk id
// and joined with the set's sorted stream, leaving one bit per entry. It is what
// gc uses to decide, pack by pack, what to keep.
type LiveMarks struct {
	s     *sorter[markRec]
	packs []packMarks
}

type packMarks struct {
	n       int
	live    int
	garbage int64
	bits    []uint64
}

// NewLiveMarks returns marks that spill to dir past budget bytes (as NewIDSet).
func NewLiveMarks(dir string, budget int) *LiveMarks {
	if budget <= 0 {
		budget = DefaultSortBudget
	}
	return &LiveMarks{s: newSorter(markCodec, dir, budget)}
}

// AddPack adds the entries of one pack and returns its number (0, 1, ...), by
// which Pack and Live answer once Mark has run.
func (m *LiveMarks) AddPack(entries []IndexEntry) (int, error) {
	p := len(m.packs)
	m.packs = append(m.packs, packMarks{n: len(entries), bits: make([]uint64, (len(entries)+63)/64)})
	for i, e := range entries {
		if err := m.s.add(markRec{ID: e.ID, Pack: uint32(p), Entry: uint32(i), Length: e.Length}); err != nil {
			return p, err
		}
	}
	return p, nil
}

// Mark joins the packs' entries with live.
func (m *LiveMarks) Mark(live *IDSet) error {
	ents := m.s.iter()
	ids := live.Iter()
	id, more := ids.Next()
	for {
		e, ok := ents.next()
		if !ok {
			break
		}
		for more && bytes.Compare(id[:], e.ID[:]) < 0 {
			id, more = ids.Next()
		}
		p := &m.packs[e.Pack]
		if more && id == e.ID {
			p.live++
			p.bits[e.Entry/64] |= 1 << (e.Entry % 64)
		} else {
			p.garbage += int64(e.Length)
		}
	}
	if ents.err != nil {
		return ents.err
	}
	return ids.Err()
}

// Pack returns how many of pack p's entries are live and the bytes of the others.
func (m *LiveMarks) Pack(p int) (live int, garbage int64) {
	return m.packs[p].live, m.packs[p].garbage
}

// AllLive reports whether every entry of pack p is live.
func (m *LiveMarks) AllLive(p int) bool { return m.packs[p].live == m.packs[p].n }

// Live reports whether entry i (in the order given to AddPack) of pack p is live.
func (m *LiveMarks) Live(p, i int) bool {
	return m.packs[p].bits[i/64]&(1<<(i%64)) != 0
}

// Close removes the temporary files.
func (m *LiveMarks) Close() { m.s.close() }

// Sorter is the external sort behind IDSet, for other fixed-width records:
// records are added in any order and read back sorted by cmp, records that
// compare equal kept once. It holds about budget bytes in memory and spills
// the rest to temporary files in dir ("" never spills). Not safe for
// concurrent use; Close releases its files.
type Sorter[T any] struct{ s *sorter[T] }

// NewSorter returns a Sorter of records width bytes long on disk, written by
// put and read by get.
func NewSorter[T any](dir string, budget, width int, put func([]byte, T), get func([]byte) T, cmp func(a, b T) int) *Sorter[T] {
	if budget <= 0 {
		budget = DefaultSortBudget
	}
	return &Sorter[T]{s: newSorter(codec[T]{width: width, put: put, get: get, cmp: cmp}, dir, budget)}
}

// Add adds a record.
func (s *Sorter[T]) Add(v T) error { return s.s.add(v) }

// Iter streams the records sorted. Adding while an iterator is in use is not
// allowed.
func (s *Sorter[T]) Iter() *SortIter[T] { return &SortIter[T]{it: s.s.iter()} }

// Close removes the temporary files.
func (s *Sorter[T]) Close() { s.s.close() }

// SortIter streams a Sorter's records.
type SortIter[T any] struct{ it *mergeIter[T] }

// Next returns the next record; ok is false at the end or after an error (Err).
func (i *SortIter[T]) Next() (T, bool) { return i.it.next() }

// Err returns the error that stopped the iteration, if any.
func (i *SortIter[T]) Err() error { return i.it.err }
