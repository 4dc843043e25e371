package manifest

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/trove-dev/trove/objects"
)

// StatCache remembers, per repository-relative path, the file's size, mtime and
// inode together with its digest and recipe, like git's index. When all three
// still match, trove trusts the digest without reading the file.
//
// Each entry also records when the file was hashed. An entry is trusted only if
// the file's mtime is safely older than that moment (by racyWindow): a file
// modified within the timestamp's granularity of being hashed could have changed
// again without its mtime showing it ("racily clean", in git's words), so such an
// entry is re-hashed the next time, which refreshes the moment and makes it
// trustworthy from then on. Untrusted entries are kept, so the recipe recorded for
// a digest is never forgotten.
//
// The cache lives on disk, sorted by path, in checksummed blocks with an index
// of their first paths (see the file format below), and is never loaded whole: a
// million entries would cost hundreds of megabytes of heap. A single path is
// found by reading one block; a directory is matched against its walk (also
// sorted) by a cursor that reads the blocks once, in order (cursor). Updates of
// single paths are kept in memory; a whole directory's new entries stream to a
// temporary file (beginRun). Save merges all three into a new file.
//
// It is safe for concurrent use.
type StatCache struct {
	path string
	now  func() time.Time

	mu      sync.Mutex
	file    *statFile            // the cache as last saved; nil when absent or damaged
	overlay map[string]statEntry // Update since the last Save
	runs    []*statRun           // directory replacements since the last Save
	dirty   bool
}

type statEntry struct {
	Size   int64
	Mtime  int64
	Ino    uint64
	Hashed int64 // unix ns when the digest was computed
	Digest objects.ID
	Recipe objects.ID
}

// racyWindow is how much older than the hashing an mtime must be to be trusted.
const racyWindow = 2 * time.Second

// The file (little-endian integers):
//
//	"TRVSTAT4"
//	blocks:  records, then the BLAKE3 of those records (32 bytes)
//	footer:  uvarint block count; per block uvarint records length, uvarint
//	         first path length, first path; then the BLAKE3 of the footer so far
//	trailer: u64 footer offset, "TRVSTAT4"
//
// A record is uvarint length of the prefix shared with the previous path of its
// block (0 for a block's first), uvarint length of the rest, the rest, then
// size, mtime, inode and hash time (u64 each), digest and recipe (32 bytes
// each). Paths are sorted by bytes and unique across the file. A damaged footer
// makes the cache empty; a damaged block loses its own entries only: damage is
// noticed and ignored, never trusted.
const (
	statMagic            = "TRVSTAT4"
	statRecLen           = 4*8 + 32 + 32
	statBlockSize        = 64 << 10
	statTrailerLen int64 = 8 + int64(len(statMagic))
	statLRU              = 8 // decoded blocks kept for single-path lookups
)

// OpenStatCache opens the cache at path; a missing, unreadable or corrupt cache
// is empty. now is the clock (nil: time.Now).
func OpenStatCache(path string, now func() time.Time) *StatCache {
	if now == nil {
		now = time.Now
	}
	c := &StatCache{path: path, now: now, overlay: map[string]statEntry{}}
	c.file, _ = openStatFile(path)
	return c
}

// fileKey returns what the cache compares: size, mtime and inode.
func fileKey(fi fs.FileInfo) (size, mtime int64, ino uint64) {
	size, mtime = fi.Size(), fi.ModTime().UnixNano()
	switch x := fi.(type) {
	case interface{ inode() uint64 }: // statInfo, from a directory walk
		ino = x.inode()
	default:
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			ino = st.Ino
		}
	}
	return
}

// trusted reports whether e vouches for a file that now has the attributes fi.
func trusted(e statEntry, fi fs.FileInfo) bool {
	size, mtime, ino := fileKey(fi)
	return e.Size == size && e.Mtime == mtime && e.Ino == ino && mtime <= e.Hashed-int64(racyWindow)
}

// get returns the entry recorded for rel, whatever the file's attributes.
func (c *StatCache) get(rel string) (statEntry, bool) {
	c.mu.Lock()
	e, ok := c.overlay[rel]
	f := c.file
	for _, r := range c.runs {
		if strings.HasPrefix(rel, r.prefix) {
			// Replaced by a directory's new entries, not yet saved: a miss, which
			// is always safe (the file is hashed again).
			c.mu.Unlock()
			return e, ok
		}
	}
	c.mu.Unlock()
	if ok || f == nil {
		return e, ok
	}
	return f.lookup(rel)
}

// Lookup returns the cached digest and recipe of rel if fi still matches and the
// entry is not racy.
func (c *StatCache) Lookup(rel string, fi fs.FileInfo) (digest, recipe objects.ID, ok bool) {
	e, found := c.get(rel)
	if !found || !trusted(e, fi) {
		return digest, recipe, false
	}
	return e.Digest, e.Recipe, true
}

// recipeFor returns the recipe recorded for rel if the recorded digest is digest,
// whatever the file's attributes now (the caller has hashed the file): content
// known by its hash is known. It returns the zero id otherwise.
func (c *StatCache) recipeFor(rel string, digest objects.ID) objects.ID {
	if e, ok := c.get(rel); ok && e.Digest == digest {
		return e.Recipe
	}
	return objects.ID{}
}

// updated returns the entry to record for a file with attributes fi that hashed
// to digest (with recipe, or zero if hashing alone learned none), given the
// previous entry, and whether it differs from that entry.
func (c *StatCache) updated(old statEntry, had bool, fi fs.FileInfo, digest, recipe objects.ID) (statEntry, bool) {
	size, mtime, ino := fileKey(fi)
	if had && recipe.IsZero() && old.Digest == digest {
		// Hashing alone (status) learns no recipe; keep the one add or checkout
		// recorded for the same content, so it stays known to be in the store.
		recipe = old.Recipe
	}
	if had && old.Size == size && old.Mtime == mtime && old.Ino == ino && old.Digest == digest &&
		old.Recipe == recipe && mtime <= old.Hashed-int64(racyWindow) {
		return old, false // already trusted; keep the file unchanged
	}
	return statEntry{Size: size, Mtime: mtime, Ino: ino, Hashed: c.now().UnixNano(), Digest: digest, Recipe: recipe}, true
}

// Update records what rel hashed to when it had the attributes in fi. Call it
// with fi as it was before the file was read.
func (c *StatCache) Update(rel string, fi fs.FileInfo, digest, recipe objects.ID) {
	old, had := c.get(rel)
	e, changed := c.updated(old, had, fi, digest, recipe)
	if changed {
		c.put(rel, e)
	}
}

// overlaySpill bounds the single updates kept in memory: past it they go, sorted,
// to a run (a checkout of a million files updates a million entries).
const overlaySpill = 1 << 16

// spillPrefix is the prefix of spilled runs: no key has it, so they replace
// nothing; their entries just win over older ones at Save. Until then a lookup
// finds the older entry, which is still safe: an entry vouches for a file only
// if its size, mtime and inode match.
const spillPrefix = "\x00spill\x00"

// put records e for key as a single update.
func (c *StatCache) put(key string, e statEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.overlay[key] = e
	c.dirty = true
	if len(c.overlay) >= overlaySpill {
		c.spillLocked()
	}
}

func (c *StatCache) spillLocked() {
	r, err := c.beginRun(spillPrefix)
	if err != nil {
		return // keep them in memory
	}
	keys := make([]string, 0, len(c.overlay))
	for k := range c.overlay {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		r.add(k, c.overlay[k], true)
	}
	if r.err == nil {
		r.err = r.w.Flush()
	}
	if r.err != nil {
		r.f.Close()
		return
	}
	c.runs = append(c.runs, r)
	c.overlay = map[string]statEntry{}
}

// Directory fingerprints share the cache under keys no path can have (NUL): the
// tree object a directory was last found clean against, and the fingerprint of
// its paths and modes then.
const treeKeyPrefix = "\x00tree:"

func (c *StatCache) cleanTree(rel string, object, modes objects.ID) bool {
	e, ok := c.get(treeKeyPrefix + rel)
	return ok && e.Digest == object && e.Recipe == modes
}

func (c *StatCache) setCleanTree(rel string, object, modes objects.ID) {
	k := treeKeyPrefix + rel
	if e, ok := c.get(k); ok && e.Digest == object && e.Recipe == modes {
		return
	}
	c.put(k, statEntry{Digest: object, Recipe: modes})
}

// --- the file -------------------------------------------------------------------

type statBlock struct {
	off   int64 // of the records
	n     int   // length of the records (the checksum follows)
	first string
}

type statFile struct {
	f      *os.File
	blocks []statBlock

	mu  sync.Mutex
	lru []*statDecoded // most recently used last
}

type statDecoded struct {
	i    int
	keys []string
	ents []statEntry
}

func openStatFile(path string) (*statFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	sf, err := readStatFooter(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return sf, nil
}

var errBadStatCache = errors.New("bad stat cache")

func readStatFooter(f *os.File) (*statFile, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := fi.Size()
	if !fi.Mode().IsRegular() || size < int64(len(statMagic))+statTrailerLen+1+32 {
		return nil, errBadStatCache
	}
	var head [len(statMagic)]byte
	var tr [8 + len(statMagic)]byte
	if _, err := f.ReadAt(head[:], 0); err != nil {
		return nil, err
	}
	if _, err := f.ReadAt(tr[:], size-statTrailerLen); err != nil {
		return nil, err
	}
	if string(head[:]) != statMagic || string(tr[8:]) != statMagic {
		return nil, errBadStatCache
	}
	foot := int64(binary.LittleEndian.Uint64(tr[:8]))
	end := size - statTrailerLen
	if foot < int64(len(statMagic)) || foot > end-33 || end-foot > 64<<20 {
		return nil, errBadStatCache
	}
	b := make([]byte, end-foot)
	if _, err := f.ReadAt(b, foot); err != nil {
		return nil, err
	}
	body, sum := b[:len(b)-32], b[len(b)-32:]
	if objects.Hash(body) != objects.ID(sum) {
		return nil, errBadStatCache
	}
	r := bytes.NewReader(body)
	nb, err := binary.ReadUvarint(r)
	if err != nil || nb > uint64(len(body)) {
		return nil, errBadStatCache
	}
	sf := &statFile{f: f, blocks: make([]statBlock, 0, nb)}
	off := int64(len(statMagic))
	for range nb {
		n, err1 := binary.ReadUvarint(r)
		kl, err2 := binary.ReadUvarint(r)
		if err1 != nil || err2 != nil || n == 0 || n > 1<<30 || kl > uint64(objects.MaxPathLen+len(treeKeyPrefix)) || kl > uint64(r.Len()) {
			return nil, errBadStatCache
		}
		k := make([]byte, kl)
		r.Read(k)
		if len(sf.blocks) > 0 && sf.blocks[len(sf.blocks)-1].first >= string(k) {
			return nil, errBadStatCache
		}
		sf.blocks = append(sf.blocks, statBlock{off: off, n: int(n), first: string(k)})
		off += int64(n) + 32
	}
	if r.Len() != 0 || off != foot {
		return nil, errBadStatCache
	}
	return sf, nil
}

// block reads and checks block i's records; nil if it is damaged.
func (sf *statFile) block(i int, buf []byte) []byte {
	b := sf.blocks[i]
	buf = slices.Grow(buf[:0], b.n+32)[:b.n+32]
	if _, err := sf.f.ReadAt(buf, b.off); err != nil {
		return nil
	}
	if objects.Hash(buf[:b.n]) != objects.ID(buf[b.n:]) {
		return nil
	}
	return buf[:b.n]
}

// statRecords decodes the records of one block in order.
type statRecords struct {
	b   []byte
	key []byte // the current path; valid until the next call of next
	e   statEntry
	bad bool
}

func (r *statRecords) next() bool {
	if len(r.b) == 0 || r.bad {
		return false
	}
	shared, n := binary.Uvarint(r.b)
	if n <= 0 || shared > uint64(len(r.key)) {
		r.bad = true
		return false
	}
	r.b = r.b[n:]
	rest, n := binary.Uvarint(r.b)
	if n <= 0 || rest > uint64(len(r.b)-n) || uint64(len(r.b)-n)-rest < statRecLen {
		r.bad = true
		return false
	}
	r.b = r.b[n:]
	r.key = append(r.key[:shared], r.b[:rest]...)
	rec := r.b[rest : rest+statRecLen]
	r.b = r.b[rest+statRecLen:]
	r.e.Size = int64(binary.LittleEndian.Uint64(rec[0:]))
	r.e.Mtime = int64(binary.LittleEndian.Uint64(rec[8:]))
	r.e.Ino = binary.LittleEndian.Uint64(rec[16:])
	r.e.Hashed = int64(binary.LittleEndian.Uint64(rec[24:]))
	copy(r.e.Digest[:], rec[32:64])
	copy(r.e.Recipe[:], rec[64:96])
	return true
}

// findBlock returns the index of the block that would hold key, or -1.
func (sf *statFile) findBlock(key string) int {
	return sort.Search(len(sf.blocks), func(i int) bool { return sf.blocks[i].first > key }) - 1
}

func (sf *statFile) lookup(key string) (statEntry, bool) {
	i := sf.findBlock(key)
	if i < 0 {
		return statEntry{}, false
	}
	d := sf.decoded(i)
	if d == nil {
		return statEntry{}, false
	}
	j, ok := slices.BinarySearch(d.keys, key)
	if !ok {
		return statEntry{}, false
	}
	return d.ents[j], true
}

func (sf *statFile) decoded(i int) *statDecoded {
	sf.mu.Lock()
	for k, d := range sf.lru {
		if d.i == i {
			sf.lru = append(append(sf.lru[:k:k], sf.lru[k+1:]...), d)
			sf.mu.Unlock()
			return d
		}
	}
	sf.mu.Unlock()
	b := sf.block(i, nil)
	if b == nil {
		return nil
	}
	d := &statDecoded{i: i}
	recs := statRecords{b: b}
	for recs.next() {
		d.keys = append(d.keys, string(recs.key))
		d.ents = append(d.ents, recs.e)
	}
	if recs.bad || !slices.IsSorted(d.keys) {
		return nil
	}
	sf.mu.Lock()
	if len(sf.lru) >= statLRU {
		sf.lru = append(sf.lru[:0], sf.lru[1:]...)
	}
	sf.lru = append(sf.lru, d)
	sf.mu.Unlock()
	return d
}

// statIter walks the file's records in order from a starting path, skipping
// damaged blocks.
type statIter struct {
	sf   *statFile
	bi   int
	buf  []byte
	recs statRecords
	ok   bool
}

func (sf *statFile) iter(from string) *statIter {
	it := &statIter{sf: sf}
	if sf == nil {
		return it
	}
	it.bi = max(sf.findBlock(from), 0) - 1
	it.nextBlock()
	for it.ok && string(it.recs.key) < from {
		it.next()
	}
	return it
}

func (it *statIter) nextBlock() {
	it.ok = false
	for it.bi+1 < len(it.sf.blocks) {
		it.bi++
		b := it.sf.block(it.bi, it.buf)
		if b == nil {
			continue
		}
		it.buf = b
		it.recs = statRecords{b: b, key: it.recs.key[:0]}
		if it.recs.next() {
			it.ok = true
			return
		}
	}
}

// next moves to the next record; it.ok reports whether there is one.
func (it *statIter) next() {
	if it.sf == nil {
		return
	}
	if it.recs.next() {
		return
	}
	it.nextBlock()
}

// --- cursors: a directory's entries in the order of its walk ----------------------

// statCursor returns the entries of paths asked for in increasing order, reading
// the file once. It also counts the file's entries under its prefix that were
// never asked for (the files since deleted).
type statCursor struct {
	c       *StatCache
	prefix  string
	it      *statIter
	overlay bool
	skipped int // entries under prefix passed without being asked for
}

// cursor starts a cursor at prefix (a directory path followed by "/").
func (c *StatCache) cursor(prefix string) *statCursor {
	c.mu.Lock()
	f, overlay := c.file, len(c.overlay) > 0
	for _, r := range c.runs {
		if r.prefix != spillPrefix && (strings.HasPrefix(prefix, r.prefix) || strings.HasPrefix(r.prefix, prefix)) {
			f = nil // overlapping replacement not yet saved: all misses (safe)
		}
	}
	c.mu.Unlock()
	return &statCursor{c: c, prefix: prefix, it: f.iter(prefix), overlay: overlay}
}

// find returns the entry recorded for rel; calls must come in increasing order
// of rel, all under the cursor's prefix.
func (cur *statCursor) find(rel string) (statEntry, bool) {
	if cur.overlay {
		cur.c.mu.Lock()
		e, ok := cur.c.overlay[rel]
		cur.c.mu.Unlock()
		if ok {
			cur.advance(rel)
			return e, true
		}
	}
	if cur.advance(rel) {
		e := cur.it.recs.e
		cur.it.next()
		return e, true
	}
	return statEntry{}, false
}

// advance skips the file's entries before rel and reports whether the next one
// is rel.
func (cur *statCursor) advance(rel string) bool {
	it := cur.it
	for it.ok && string(it.recs.key) < rel {
		cur.skipped++
		it.next()
	}
	return it.ok && string(it.recs.key) == rel
}

// finish counts the remaining entries under the prefix; afterwards skipped is
// the number of entries for paths no longer there.
func (cur *statCursor) finish() {
	it := cur.it
	for it.ok && strings.HasPrefix(string(it.recs.key), cur.prefix) {
		cur.skipped++
		it.next()
	}
}

// --- runs: a directory's new entries, streamed to a temporary file ----------------

// statRun replaces every entry under prefix with the entries added to it, which
// must come in increasing order of path. It lives in an unlinked temporary file
// until Save merges it.
type statRun struct {
	prefix  string
	f       *os.File
	w       *bufio.Writer
	last    string
	n       int
	changed bool
	err     error
}

func (c *StatCache) beginRun(prefix string) (*statRun, error) {
	dir := filepath.Dir(c.path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, ".run-*")
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name()) // the open file is enough, and nothing is left behind
	return &statRun{prefix: prefix, f: f, w: bufio.NewWriterSize(f, 256<<10)}, nil
}

// add appends the entry for key; changed says whether it differs from the one
// recorded before.
func (r *statRun) add(key string, e statEntry, changed bool) {
	if r.err != nil {
		return
	}
	if r.n > 0 && key <= r.last {
		r.err = fmt.Errorf("stat cache: %q after %q", key, r.last)
		return
	}
	r.last = key
	r.n++
	r.changed = r.changed || changed
	var vb [binary.MaxVarintLen64]byte
	r.w.Write(vb[:binary.PutUvarint(vb[:], uint64(len(key)))])
	r.w.WriteString(key)
	var rec [statRecLen]byte
	putStatRec(rec[:], e)
	if _, err := r.w.Write(rec[:]); err != nil {
		r.err = err
	}
}

func putStatRec(rec []byte, e statEntry) {
	binary.LittleEndian.PutUint64(rec[0:], uint64(e.Size))
	binary.LittleEndian.PutUint64(rec[8:], uint64(e.Mtime))
	binary.LittleEndian.PutUint64(rec[16:], e.Ino)
	binary.LittleEndian.PutUint64(rec[24:], uint64(e.Hashed))
	copy(rec[32:64], e.Digest[:])
	copy(rec[64:96], e.Recipe[:])
}

// endRun keeps the run for the next Save if it changes anything: an entry that
// differs, or entries of files that are gone (removed > 0). It discards it
// otherwise, or on error (the cache is only an accelerator).
func (c *StatCache) endRun(r *statRun, removed int) {
	if r.err == nil {
		r.err = r.w.Flush()
	}
	if r.err != nil || (!r.changed && removed == 0) {
		r.f.Close()
		return
	}
	c.mu.Lock()
	c.runs = append(c.runs, r)
	c.dirty = true
	c.mu.Unlock()
}

// discard drops a run that was not ended (an error stopped the work).
func (r *statRun) discard() { r.f.Close() }

type runReader struct {
	r   *bufio.Reader
	key []byte
	e   statEntry
	ok  bool
}

func (rr *runReader) next() {
	rr.ok = false
	n, err := binary.ReadUvarint(rr.r)
	if err != nil || n > objects.MaxPathLen+uint64(len(treeKeyPrefix)) {
		return
	}
	rr.key = slices.Grow(rr.key[:0], int(n))[:n]
	var rec [statRecLen]byte
	if _, err := io.ReadFull(rr.r, rr.key); err != nil {
		return
	}
	if _, err := io.ReadFull(rr.r, rec[:]); err != nil {
		return
	}
	rr.e = statEntry{
		Size: int64(binary.LittleEndian.Uint64(rec[0:])), Mtime: int64(binary.LittleEndian.Uint64(rec[8:])),
		Ino: binary.LittleEndian.Uint64(rec[16:]), Hashed: int64(binary.LittleEndian.Uint64(rec[24:])),
	}
	copy(rr.e.Digest[:], rec[32:64])
	copy(rr.e.Recipe[:], rec[64:96])
	rr.ok = true
}

// --- Save ---------------------------------------------------------------------------

// Save writes the cache atomically if it changed: the last saved file, the
// directories' runs and the single updates merged in one pass.
func (c *StatCache) Save() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.dirty {
		return nil
	}
	// Sources by priority: the file (0), each run in order (1..), the single
	// updates (last). For each path the highest wins; an entry under the prefix
	// of a run of higher priority than its own source is dropped (that run
	// replaced the directory and the file is gone).
	type source struct {
		key  func() []byte
		e    func() statEntry
		ok   func() bool
		next func()
	}
	var srcs []source
	if c.file != nil {
		it := c.file.iter("")
		srcs = append(srcs, source{key: func() []byte { return it.recs.key }, e: func() statEntry { return it.recs.e }, ok: func() bool { return it.ok }, next: it.next})
	} else {
		srcs = append(srcs, source{key: func() []byte { return nil }, e: func() statEntry { return statEntry{} }, ok: func() bool { return false }, next: func() {}})
	}
	prefixes := make([][]byte, len(c.runs))
	for i, r := range c.runs {
		prefixes[i] = []byte(r.prefix)
		if _, err := r.f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		rr := &runReader{r: bufio.NewReaderSize(r.f, 256<<10)}
		rr.next()
		srcs = append(srcs, source{key: func() []byte { return rr.key }, e: func() statEntry { return rr.e }, ok: func() bool { return rr.ok }, next: rr.next})
	}
	keys := make([]string, 0, len(c.overlay))
	for k := range c.overlay {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	oi := 0
	srcs = append(srcs, source{
		key: func() []byte { return []byte(keys[oi]) }, e: func() statEntry { return c.overlay[keys[oi]] },
		ok: func() bool { return oi < len(keys) }, next: func() { oi++ },
	})
	if err := os.MkdirAll(filepath.Dir(c.path), 0o755); err != nil {
		return err
	}
	// The cache is only an accelerator: no fsync needed, a torn write is caught by
	// the checksums and costs one re-hash.
	tmp := c.path + ".tmp" // two saves at once may mix their bytes: the checksums catch it
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	w := newStatWriter(f)
	same := make([]int, 0, len(srcs))
	for {
		best := -1
		var bk []byte
		same = same[:0]
		for i, s := range srcs {
			if !s.ok() {
				continue
			}
			k := s.key()
			switch c := bytes.Compare(k, bk); {
			case best < 0 || c < 0:
				best, bk, same = i, k, append(same[:0], i)
			case c == 0:
				best, same = i, append(same, i) // the later source has priority
			}
		}
		if best < 0 {
			break
		}
		replaced := false
		for ri := best; ri < len(c.runs); ri++ { // runs of higher priority than the source
			if bytes.HasPrefix(bk, prefixes[ri]) {
				replaced = true
				break
			}
		}
		if !replaced {
			w.add(bk, srcs[best].e())
		}
		for _, i := range same {
			srcs[i].next()
		}
	}
	err = w.close()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, c.path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if c.file != nil {
		c.file.f.Close()
	}
	c.file, _ = openStatFile(c.path)
	for _, r := range c.runs {
		r.f.Close()
	}
	c.runs, c.overlay, c.dirty = nil, map[string]statEntry{}, false
	return nil
}

// Close releases the cache file (after Save, if the caller wants it saved).
func (c *StatCache) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.file != nil {
		c.file.f.Close()
		c.file = nil
	}
	for _, r := range c.runs {
		r.f.Close()
	}
	c.runs = nil
}

// statWriter writes the file format from records in increasing order.
type statWriter struct {
	w      *bufio.Writer
	off    int64
	blocks []statBlock
	blk    []byte
	first  string
	prev   []byte
}

func newStatWriter(f io.Writer) *statWriter {
	w := &statWriter{w: bufio.NewWriterSize(f, 256<<10), blk: make([]byte, 0, statBlockSize+4096)}
	w.w.WriteString(statMagic)
	w.off = int64(len(statMagic))
	return w
}

func (w *statWriter) add(key []byte, e statEntry) {
	if len(w.blk) == 0 {
		w.first = string(key)
		w.prev = w.prev[:0]
	}
	shared := 0
	for shared < len(w.prev) && shared < len(key) && w.prev[shared] == key[shared] {
		shared++
	}
	w.blk = binary.AppendUvarint(w.blk, uint64(shared))
	w.blk = binary.AppendUvarint(w.blk, uint64(len(key)-shared))
	w.blk = append(w.blk, key[shared:]...)
	var rec [statRecLen]byte
	putStatRec(rec[:], e)
	w.blk = append(w.blk, rec[:]...)
	w.prev = append(w.prev[:0], key...)
	if len(w.blk) >= statBlockSize {
		w.flush()
	}
}

func (w *statWriter) flush() {
	if len(w.blk) == 0 {
		return
	}
	sum := objects.Hash(w.blk)
	w.w.Write(w.blk)
	w.w.Write(sum[:])
	w.blocks = append(w.blocks, statBlock{off: w.off, n: len(w.blk), first: w.first})
	w.off += int64(len(w.blk)) + 32
	w.blk = w.blk[:0]
}

func (w *statWriter) close() error {
	w.flush()
	foot := binary.AppendUvarint(nil, uint64(len(w.blocks)))
	for _, b := range w.blocks {
		foot = binary.AppendUvarint(foot, uint64(b.n))
		foot = binary.AppendUvarint(foot, uint64(len(b.first)))
		foot = append(foot, b.first...)
	}
	sum := objects.Hash(foot)
	foot = append(foot, sum[:]...)
	foot = binary.LittleEndian.AppendUint64(foot, uint64(w.off))
	foot = append(foot, statMagic...)
	w.w.Write(foot)
	return w.w.Flush()
}
