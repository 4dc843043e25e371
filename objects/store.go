package objects

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"github.com/zeebo/blake3"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
)

// writebackStep is how much of a pack is written before the kernel is asked to
// start writing it to disk.
const writebackStep = 8 << 20

// DefaultPackSize is the size at which the store closes a pack and starts another.
const DefaultPackSize = 64 << 20

// Loc says where a chunk lives in the local store.
type Loc struct {
	Pack   ID
	Offset uint64
	Length uint32
}

// Store is the local content store under .trove/store:
//
//	packs/<first 2 hex>/<pack hex>.pack   immutable packs, named by their BLAKE3
//	index/<pack hex>.idx                  the index of each pack (see EncodeIndexFile)
//	midx/<checksum>.midx                  the index of many packs (see midx.go)
//	tmp/                                  packs being written
//
// Chunks become visible only when their pack is complete: Flush writes the pack,
// fsyncs it, renames it into place and then writes its index file, so a crash at any
// point leaves either a complete pack (whose index can be rebuilt from the pack
// itself) or an orphan temp file, never a damaged object. Every read verifies the
// BLAKE3 of what it read.
//
// A Store is safe for concurrent use by multiple goroutines.
type Store struct {
	dir        string
	packSize   uint64
	sortBudget int // see SetSortBudget

	mu sync.RWMutex
	// Where chunks are: the midx files, plus the packs they do not cover (added
	// in this session, or found uncovered at open) in recent, every entry of
	// them in recentRecs (a chunk in two packs has two), until they are merged
	// into a midx file. A pack's chunks count only while it is in packs and not
	// retiring.
	midx       []*midxFile
	recent     map[ID]Loc
	recentRecs []midxRec
	recentPack map[ID]bool
	retiring   map[ID]bool
	mergeAt    int          // merge recent into a midx file at Flush from this many entries
	packs      map[ID]int64 // pack id -> size, every complete pack
	pending    map[ID]struct{}
	cur        *PackWriter
	curFile    *os.File // written by cur's sink, in large segments

	// chunkers recycles chunkers (and their 2 x Max buffers): adding many small
	// files would otherwise allocate and clear half a megabyte per file.
	cmu      sync.Mutex
	chunkers map[ChunkerParams][]*Chunker

	fmu   sync.Mutex
	files map[ID]*packHandle // open packs, at most maxOpenPacks
}

// maxOpenPacks bounds the pack files a Store keeps open for reading.
const maxOpenPacks = 64

// packHandle is an open pack file shared by concurrent readers. It is closed when
// it has left the cache and its last reader is done, never under a reader.
type packHandle struct {
	f    *os.File
	refs int // readers using f, plus one while the cache holds it
}

// OpenStore opens (creating if needed) the store in dir and loads its index.
func OpenStore(dir string) (*Store, error) {
	for _, d := range []string{"packs", "index", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
	}
	s := &Store{
		dir: dir, packSize: DefaultPackSize, mergeAt: DefaultIndexMergeAt,
		recent: map[ID]Loc{}, recentPack: map[ID]bool{}, retiring: map[ID]bool{},
		packs: map[ID]int64{}, pending: map[ID]struct{}{},
		files: map[ID]*packHandle{},
	}
	if err := s.load(); err != nil {
		s.closeMidx()
		return nil, err
	}
	s.removeStaleRuns()
	if len(s.recentRecs) >= s.mergeAt {
		// Packs left uncovered by a crash or by an older trove: merge them now,
		// so the next open does not read their index files again. A failure
		// (read-only store, disk full) only costs speed.
		s.mu.Lock()
		_ = s.mergeLocked()
		s.mu.Unlock()
	}
	return s, nil
}

// DefaultIndexMergeAt is how many chunks from pack index files the store holds
// in memory before it merges them into a midx file (at Flush, or when opened).
// Below it, reading the index files is about as fast as reading a midx file.
const DefaultIndexMergeAt = 4096

// recentMax bounds the entries held in memory between merges (about 180 bytes
// each): past it, a merge happens when a pack is sealed, not only at Flush.
const recentMax = 1 << 18

// SetIndexMergeAt changes DefaultIndexMergeAt for this store (tests).
func (s *Store) SetIndexMergeAt(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mergeAt = max(1, n)
}

// SetPackSize changes the target pack size (for tests and benchmarks).
func (s *Store) SetPackSize(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.packSize = uint64(n)
}

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

// PackPath returns where pack id is (or would be) stored.
func (s *Store) PackPath(id ID) string {
	h := id.Hex()
	return filepath.Join(s.dir, "packs", h[:2], h+".pack")
}

// IndexPath returns where the index of pack id is stored.
func (s *Store) IndexPath(id ID) string {
	return filepath.Join(s.dir, "index", id.Hex()+".idx")
}

func (s *Store) load() error {
	mids, err := openMidxFiles(filepath.Join(s.dir, midxDir))
	if err != nil {
		return err
	}
	s.midx = mids
	// The packs present, by name (their sizes come from the indexes).
	present := map[ID]bool{}
	err = filepath.WalkDir(filepath.Join(s.dir, "packs"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if h, ok := strings.CutSuffix(d.Name(), ".pack"); ok {
			if pid, err := ParseHex(h); err == nil {
				present[pid] = true
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read store packs: %w", err)
	}
	covered := map[ID]int64{}
	for _, m := range mids {
		for _, p := range m.packs {
			covered[p.ID] = p.Size
		}
	}
	idxDir := filepath.Join(s.dir, "index")
	ents, err := os.ReadDir(idxDir)
	if err != nil {
		return fmt.Errorf("read store index: %w", err)
	}
	have := map[ID]bool{}
	for _, e := range ents {
		name := e.Name()
		h, ok := strings.CutSuffix(name, ".idx")
		if !ok {
			continue
		}
		pid, err := ParseHex(h)
		if err != nil {
			continue
		}
		if !present[pid] {
			continue // index without pack: the pack was removed; ignore the index
		}
		have[pid] = true
		if size, ok := covered[pid]; ok {
			s.packs[pid] = size // its entries are in a midx file
			continue
		}
		b, err := os.ReadFile(filepath.Join(idxDir, name))
		if err != nil {
			return fmt.Errorf("read index %s: %w", name, err)
		}
		fi, serr := os.Stat(s.PackPath(pid))
		if serr != nil {
			delete(have, pid)
			continue
		}
		got, entries, err := DecodeIndexFile(b)
		if err == nil && got != pid {
			err = fmt.Errorf("%w: index names pack %s", ErrCorrupt, got.Short())
		}
		if err == nil && !entriesFit(entries, fi.Size()) {
			err = fmt.Errorf("%w: index entries point outside the pack", ErrCorrupt)
		}
		if err != nil {
			// A damaged index is rebuilt from its pack, which carries the same entries.
			if rerr := s.reindexPack(pid); rerr != nil {
				return fmt.Errorf("index %s is damaged (%v) and its pack cannot be read: %w", name, err, rerr)
			}
			continue
		}
		s.addEntries(pid, fi.Size(), entries)
	}
	// Packs without an index (crash between pack rename and index write) are indexed now.
	for _, pid := range SortedIDs(boolKeys(present)) {
		if !have[pid] {
			if err := s.reindexPack(pid); err != nil {
				return err
			}
		}
	}
	return nil
}

func boolKeys(m map[ID]bool) map[ID]int64 {
	out := make(map[ID]int64, len(m))
	for k := range m {
		out[k] = 0
	}
	return out
}

// entriesFit reports whether entries (as DecodeIndexFile returns them) all lie in
// the chunk area of a pack of size bytes, before its embedded index.
func entriesFit(entries []IndexEntry, size int64) bool {
	end := size - packFooterLen - int64(len(entries))*indexEntryLen
	if end < int64(len(packMagic)) {
		return false
	}
	for _, e := range entries {
		if e.Offset > uint64(end) || uint64(e.Length) > uint64(end)-e.Offset {
			return false
		}
	}
	return true
}

func (s *Store) reindexPack(pid ID) error {
	f, err := os.Open(s.PackPath(pid))
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	entries, err := ReadPackIndex(f, fi.Size())
	if err != nil {
		return fmt.Errorf("pack %s: %w", pid.Short(), err)
	}
	if err := WriteFileAtomic(s.IndexPath(pid), EncodeIndexFile(pid, entries), 0o644); err != nil {
		return err
	}
	s.addEntries(pid, fi.Size(), entries)
	return nil
}

func (s *Store) addEntries(pid ID, size int64, entries []IndexEntry) {
	s.packs[pid] = size
	if s.recentPack[pid] {
		return
	}
	s.recentPack[pid] = true
	for _, e := range entries {
		if _, ok := s.recent[e.ID]; !ok {
			s.recent[e.ID] = Loc{Pack: pid, Offset: e.Offset, Length: e.Length}
		}
		s.recentRecs = append(s.recentRecs, midxRec{ID: e.ID, Pack: pid, Offset: e.Offset, Length: e.Length})
	}
}

// livePack reports whether pack pid counts, and its size.
func (s *Store) livePack(pid ID) (int64, bool) {
	size, ok := s.packs[pid]
	return size, ok && !s.retiring[pid]
}

// lookupLocked finds chunk id in recent packs, then in the midx files, newest
// first. A midx file that cannot be read is passed over: the chunk is then
// reported missing, which is what a read of it would find.
func (s *Store) lookupLocked(id ID) (Loc, bool) {
	if l, ok := s.recent[id]; ok {
		if _, live := s.livePack(l.Pack); live {
			return l, true
		}
	}
	for i := len(s.midx) - 1; i >= 0; i-- {
		if l, ok, err := s.midx[i].lookup(id, s.livePack); err == nil && ok {
			return l, true
		}
	}
	return Loc{}, false
}

// Has reports whether chunk id is stored (or waiting in the pack being written).
func (s *Store) Has(id ID) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if _, ok := s.lookupLocked(id); ok {
		return true
	}
	_, ok := s.pending[id]
	return ok
}

// Lookup returns where a stored chunk is.
func (s *Store) Lookup(id ID) (Loc, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.lookupLocked(id)
}

// Packs returns the ids and sizes of all complete packs (see SortedIDs for an
// ordered list).
func (s *Store) Packs() map[ID]int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make(map[ID]int64, len(s.packs))
	for k, v := range s.packs {
		out[k] = v
	}
	return out
}

// PackEntries returns the chunks stored in pack pid, sorted by chunk id.
func (s *Store) PackEntries(pid ID) ([]IndexEntry, error) {
	b, err := os.ReadFile(s.IndexPath(pid))
	if err != nil {
		return nil, err
	}
	got, entries, err := DecodeIndexFile(b)
	if err != nil {
		return nil, err
	}
	if got != pid {
		return nil, fmt.Errorf("%w: index of pack %s names pack %s", ErrCorrupt, pid.Short(), got.Short())
	}
	return entries, nil
}

// Put stores data under id = Hash(data), which the caller has computed. It returns
// false when the chunk was already stored. The chunk is durable after Flush.
func (s *Store) Put(id ID, data []byte) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.lookupLocked(id); ok {
		return false, nil
	}
	if _, ok := s.pending[id]; ok {
		return false, nil
	}
	if s.cur == nil {
		f, err := os.CreateTemp(filepath.Join(s.dir, "tmp"), "pack-*")
		if err != nil {
			return false, fmt.Errorf("create pack: %w", err)
		}
		pw, err := newPackFileWriter(f)
		if err != nil {
			f.Close()
			os.Remove(f.Name())
			return false, fmt.Errorf("write pack: %w", err)
		}
		s.cur, s.curFile = pw, f
	}
	if err := s.cur.Add(id, data); err != nil {
		return false, fmt.Errorf("write pack: %w", err)
	}
	s.pending[id] = struct{}{}
	if s.cur.Size() >= s.packSize {
		if err := s.flushLocked(); err != nil {
			return false, err
		}
	}
	return true, nil
}

// Flush completes the pack being written, if any, and makes its chunks durable and
// visible.
//
// When enough chunks have been added since the last merge (SetIndexMergeAt), it
// also merges their index into a midx file, so that the next open of the store
// reads one file instead of many and holds little of it in memory; and it
// rewrites a midx file a quarter of whose packs gc has removed.
func (s *Store) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.flushLocked(); err != nil {
		return err
	}
	if len(s.recentRecs) >= s.mergeAt || s.anyStaleLocked() {
		return s.mergeLocked()
	}
	return nil
}

func (s *Store) flushLocked() error {
	if s.cur == nil {
		return nil
	}
	pw, f := s.cur, s.curFile
	s.cur, s.curFile = nil, nil
	s.pending = map[ID]struct{}{}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("write pack: %w", err)
	}
	pid, entries, err := pw.Finish()
	if err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		return fail(err)
	}
	dst := s.PackPath(pid)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fail(err)
	}
	if err := SyncDir(filepath.Dir(dst)); err != nil {
		return err
	}
	if err := WriteFileAtomic(s.IndexPath(pid), EncodeIndexFile(pid, entries), 0o644); err != nil {
		return fmt.Errorf("write pack index: %w", err)
	}
	s.addEntries(pid, int64(pw.Size()), entries)
	if len(s.recentRecs) >= recentMax {
		return s.mergeLocked()
	}
	return nil
}

// Abort discards the pack being written. Chunks Put since the last Flush are lost;
// nothing already stored is touched.
func (s *Store) Abort() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != nil {
		s.cur.abort()
		s.curFile.Close()
		os.Remove(s.curFile.Name())
		s.cur, s.curFile = nil, nil
		s.pending = map[ID]struct{}{}
	}
}

// AddPack installs a complete pack file (for example one downloaded from a remote)
// after checking that its bytes match pid and its index is sound. src is moved.
func (s *Store) AddPack(pid ID, src string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	got, n, err := HashReader(f)
	if err != nil {
		f.Close()
		return err
	}
	if got != pid {
		f.Close()
		return fmt.Errorf("%w: pack %s has the bytes of %s", ErrCorrupt, pid.Short(), got.Short())
	}
	entries, err := ReadPackIndex(f, n)
	f.Close()
	if err != nil {
		return err
	}
	dst := s.PackPath(pid)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if err := os.Rename(src, dst); err != nil {
		return err
	}
	if err := SyncDir(filepath.Dir(dst)); err != nil {
		return err
	}
	if err := WriteFileAtomic(s.IndexPath(pid), EncodeIndexFile(pid, entries), 0o644); err != nil {
		return err
	}
	s.mu.Lock()
	s.addEntries(pid, n, entries)
	s.mu.Unlock()
	return nil
}

// packFile returns an open handle on pack pid; the caller must release it.
func (s *Store) packFile(pid ID) (*packHandle, error) {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	if h, ok := s.files[pid]; ok {
		h.refs++
		return h, nil
	}
	if len(s.files) >= maxOpenPacks {
		for k, h := range s.files {
			delete(s.files, k)
			s.releaseLocked(h)
		}
	}
	f, err := os.Open(s.PackPath(pid))
	if err != nil {
		return nil, err
	}
	h := &packHandle{f: f, refs: 2} // the cache's reference and the caller's
	s.files[pid] = h
	return h, nil
}

func (s *Store) release(h *packHandle) {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	s.releaseLocked(h)
}

func (s *Store) releaseLocked(h *packHandle) {
	h.refs--
	if h.refs == 0 {
		h.f.Close()
	}
}

// ReadChunk returns the bytes of chunk id, appended to buf[:0], after checking
// their BLAKE3. A chunk that is not stored gives ErrMissing; one whose bytes do not
// match gives ErrCorrupt.
func (s *Store) ReadChunk(id ID, buf []byte) ([]byte, error) {
	return s.readChunk(id, buf, true)
}

func (s *Store) readChunk(id ID, buf []byte, verify bool) ([]byte, error) {
	loc, ok := s.Lookup(id)
	if !ok {
		return nil, &MissingError{ID: id}
	}
	h, err := s.packFile(loc.Pack)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &MissingError{ID: id, Pack: loc.Pack}
		}
		return nil, fmt.Errorf("chunk %s: %w", id.Short(), err)
	}
	if cap(buf) < int(loc.Length) {
		buf = make([]byte, loc.Length)
	}
	buf = buf[:loc.Length]
	_, err = h.f.ReadAt(buf, int64(loc.Offset))
	s.release(h)
	if err != nil {
		return nil, fmt.Errorf("chunk %s in pack %s: %w (%v)", id.Short(), loc.Pack.Short(), ErrCorrupt, err)
	}
	if verify && Hash(buf) != id {
		return nil, fmt.Errorf("chunk %s in pack %s: %w: bytes do not match their id", id.Short(), loc.Pack.Short(), ErrCorrupt)
	}
	return buf, nil
}

// Close releases open pack and index files and discards an unfinished pack.
func (s *Store) Close() error {
	s.Abort()
	s.fmu.Lock()
	for k, h := range s.files {
		delete(s.files, k)
		s.releaseLocked(h)
	}
	s.fmu.Unlock()
	s.mu.Lock()
	s.closeMidx()
	s.mu.Unlock()
	return nil
}

func (s *Store) closeMidx() {
	for _, m := range s.midx {
		m.close()
	}
	s.midx = nil
}

// SortedIDs returns ids sorted bytewise; handy for deterministic output.
func SortedIDs(m map[ID]int64) []ID {
	out := make([]ID, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return string(out[i][:]) < string(out[j][:]) })
	return out
}

func (s *Store) chunker(r io.Reader, p ChunkerParams) (*Chunker, error) {
	s.cmu.Lock()
	if free := s.chunkers[p]; len(free) > 0 {
		c := free[len(free)-1]
		s.chunkers[p] = free[:len(free)-1]
		s.cmu.Unlock()
		c.Reset(r)
		return c, nil
	}
	s.cmu.Unlock()
	return NewChunker(r, p)
}

func (s *Store) releaseChunker(c *Chunker, p ChunkerParams) {
	c.Reset(nil)
	s.cmu.Lock()
	defer s.cmu.Unlock()
	if s.chunkers == nil {
		s.chunkers = map[ChunkerParams][]*Chunker{}
	}
	if len(s.chunkers[p]) < 16 {
		s.chunkers[p] = append(s.chunkers[p], c)
	}
}

// AddPackFrom installs a whole pack read from r (a download), hashing it as it is
// written: one pass over the bytes. The pack is installed only if its bytes hash
// to pid and its embedded index is sound; otherwise nothing is left behind. Each
// chunk is still verified against its id whenever it is read.
func (s *Store) AddPackFrom(pid ID, r io.Reader) (int64, error) {
	f, err := os.CreateTemp(filepath.Join(s.dir, "tmp"), "fetch-*")
	if err != nil {
		return 0, err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	h := blake3.New()
	n, err := io.Copy(io.MultiWriter(f, h), r)
	if err != nil {
		return n, err
	}
	var got ID
	h.Sum(got[:0])
	if got != pid {
		return n, fmt.Errorf("%w: pack %s does not match its id: its %d bytes hash to %s (altered or truncated)", ErrCorrupt, pid.Short(), n, got.Short())
	}
	entries, err := ReadPackIndex(f, n)
	if err != nil {
		return n, fmt.Errorf("pack %s: %w", pid.Short(), err)
	}
	if err := f.Sync(); err != nil {
		return n, err
	}
	if err := f.Close(); err != nil {
		return n, err
	}
	dst := s.PackPath(pid)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return n, err
	}
	if err := os.Rename(tmp, dst); err != nil {
		return n, err
	}
	ok = true
	if err := SyncDir(filepath.Dir(dst)); err != nil {
		return n, err
	}
	if err := WriteFileAtomic(s.IndexPath(pid), EncodeIndexFile(pid, entries), 0o644); err != nil {
		return n, err
	}
	s.mu.Lock()
	s.addEntries(pid, n, entries)
	s.mu.Unlock()
	return n, nil
}

// staleLocked reports whether at least a quarter of the packs midx file m
// covers have been removed (by gc): it is then worth rewriting without them.
func (s *Store) staleLocked(m *midxFile) bool {
	dead := 0
	for _, p := range m.packs {
		if _, ok := s.packs[p.ID]; !ok {
			dead++
		}
	}
	return dead > 0 && dead*4 >= len(m.packs)
}

func (s *Store) anyStaleLocked() bool {
	return slices.ContainsFunc(s.midx, s.staleLocked)
}

// mergeLocked writes the entries of the recent packs, together with those of
// the smaller midx files as the geometric rule requires (each file at least
// twice the size of all smaller ones together) and of stale ones, into one new
// midx file, and then removes the files it replaces. Entries of packs removed or
// retiring are left out.
func (s *Store) mergeLocked() error {
	olds := slices.Clone(s.midx)
	slices.SortFunc(olds, func(a, b *midxFile) int { return cmp.Compare(a.n, b.n) })
	total := int64(len(s.recentRecs))
	var inputs []*midxFile
	k := 0
	if total > 0 {
		for _, m := range olds {
			if m.n >= 2*total {
				break
			}
			total += m.n
			k++
		}
		inputs = olds[:k]
	}
	for _, m := range olds[k:] {
		if s.staleLocked(m) {
			inputs = append(inputs, m)
			total += m.n
		}
	}
	if len(s.recentRecs) == 0 && len(inputs) == 0 {
		return nil
	}
	slices.SortFunc(s.recentRecs, func(a, b midxRec) int { return recLess(&a, &b) })
	srcs := []midxSource{&sliceSource{recs: s.recentRecs}}
	var packs []packSize
	seen := map[ID]bool{}
	cover := func(pid ID) {
		if seen[pid] {
			return
		}
		seen[pid] = true
		if size, ok := s.livePack(pid); ok {
			packs = append(packs, packSize{pid, size})
		}
	}
	for pid := range s.recentPack {
		cover(pid)
	}
	for _, m := range inputs {
		srcs = append(srcs, m.source())
		for _, p := range m.packs {
			cover(p.ID)
		}
	}
	var out *midxFile
	if len(packs) > 0 {
		var err error
		if out, err = writeMidx(filepath.Join(s.dir, midxDir), packs, srcs, total); err != nil {
			return fmt.Errorf("merge store index: %w", err)
		}
	}
	merged := map[*midxFile]bool{}
	for _, m := range inputs {
		merged[m] = true
	}
	var keep []*midxFile
	for _, m := range s.midx {
		if !merged[m] {
			keep = append(keep, m)
		}
	}
	if out != nil {
		keep = append(keep, out)
	}
	s.midx = keep
	for _, m := range inputs {
		m.close()
		if out == nil || m.path != out.path {
			_ = os.Remove(m.path) // another process may have merged it already
		}
	}
	s.recent, s.recentRecs, s.recentPack = map[ID]Loc{}, nil, map[ID]bool{}
	return nil
}

// CheckIndex reads the store's midx files whole and checks their checksums and
// order (opening the store checks only small ones whole). A damaged file is
// removed and the packs it covered are read from their own index files again
// (rebuilt from the packs if need be), so lookups stay right; it returns how many
// files it replaced that way. The error is for failures to check or repair.
func (s *Store) CheckIndex() (repaired int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var keep []*midxFile
	for i, m := range s.midx {
		err := m.check()
		if err == nil {
			keep = append(keep, m)
			continue
		}
		if !errors.Is(err, ErrCorrupt) {
			s.midx = append(keep, s.midx[i:]...)
			return repaired, err
		}
		m.close()
		if err := os.Remove(m.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.midx = append(keep, s.midx[i+1:]...)
			return repaired, err
		}
		repaired++
		for _, p := range m.packs {
			size, live := s.livePack(p.ID)
			if !live {
				continue
			}
			entries, err := s.PackEntries(p.ID)
			if err == nil && entriesFit(entries, size) {
				s.addEntries(p.ID, size, entries)
				continue
			}
			if err := s.reindexPack(p.ID); err != nil {
				s.midx = append(keep, s.midx[i+1:]...)
				return repaired, fmt.Errorf("pack %s: %w", p.ID.Short(), err)
			}
		}
	}
	s.midx = keep
	return repaired, nil
}

// HasPack reports whether pack pid is in the store.
func (s *Store) HasPack(pid ID) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.packs[pid]
	return ok
}

// LookupMany says where each of ids is, like Lookup for each (found[i] reports
// whether ids[i] is stored), but reads a midx file sequentially, once, when the
// batch is large next to it instead of looking each id up in it: checking the
// millions of chunks of a large artifact then costs one pass over the index
// rather than a read per chunk.
func (s *Store) LookupMany(ids []ID) (locs []Loc, found []bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	locs, found = make([]Loc, len(ids)), make([]bool, len(ids))
	var todo []int // indexes of ids not found yet, sorted by id
	for i, id := range ids {
		if l, ok := s.recent[id]; ok {
			if _, live := s.livePack(l.Pack); live {
				locs[i], found[i] = l, true
				continue
			}
		}
		todo = append(todo, i)
	}
	slices.SortFunc(todo, func(a, b int) int { return bytes.Compare(ids[a][:], ids[b][:]) })
	for k := len(s.midx) - 1; k >= 0 && len(todo) > 0; k-- {
		m := s.midx[k]
		if int64(len(todo))*midxScanRatio < m.n {
			for _, i := range todo {
				if l, ok, err := m.lookup(ids[i], s.livePack); err == nil && ok {
					locs[i], found[i] = l, true
				}
			}
		} else if err := m.scan(ids, todo, s.livePack, locs, found); err != nil {
			// Fall back to lookups, which pass over what cannot be read.
			for _, i := range todo {
				if l, ok, err := m.lookup(ids[i], s.livePack); err == nil && ok {
					locs[i], found[i] = l, true
				}
			}
		}
		rest := todo[:0]
		for _, i := range todo {
			if !found[i] {
				rest = append(rest, i)
			}
		}
		todo = rest
	}
	return locs, found
}

// Missing returns the ids (in their order) that are neither stored nor waiting
// in the pack being written; see LookupMany.
func (s *Store) Missing(ids []ID) []ID {
	_, found := s.LookupMany(ids)
	var out []ID
	s.mu.RLock()
	defer s.mu.RUnlock()
	for i, ok := range found {
		if !ok {
			if _, pending := s.pending[ids[i]]; !pending {
				out = append(out, ids[i])
			}
		}
	}
	return out
}
