package objects

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
	"sync/atomic"

	"github.com/zeebo/blake3"
)

// A multi-pack index file ("midx", under midx/ in the store) lists the chunks of
// many packs in one sorted, fixed-width table, so that a store with tens of
// millions of chunks can answer "where is chunk X" without holding a map of them
// all: a lookup reads a few dozen bytes of the file with pread. It is the
// store's equivalent of git's multi-pack-index. Layout, integers little-endian:
//
//	"TRVMIDX1"                                          8 bytes
//	entries  n x (chunk id 32, pack u32, length u32, offset u64)   sorted by id, then pack
//	packs    p x (pack id 32, size u64)                 sorted by id; "pack" above indexes it
//	fanout   2^bits x u32: entries whose id's first bits are <= i (cumulative)
//	filter   words x u64: a blocked Bloom filter of the ids
//	footer   n u64, p u32, bits u32, words u64, BLAKE3 of the entries (32),
//	         BLAKE3 of packs|fanout|filter|footer up to here (32), "TRVMEND1"
//
// Only the footer, the pack table, the fanout and the filter are read into memory
// (about 1.9 bytes a chunk); the entries stay on disk (in the page cache, not in
// the process), except those of a file small enough to be worth holding once it
// is read often (midxMemMax). The filter answers most lookups of chunks the store lacks (what
// add asks about new data) without any read. A chunk stored in two packs has two
// entries, so removing one pack never hides the other copy.
//
// A midx file is a cache, like the per-pack index files: it is written whole (temp
// file, fsync, rename, named by its checksum) and never changed; the pack index
// files stay the source of truth. A pack counts as covered by a midx file only
// while its own index file exists, so a pack removed by gc simply stops counting,
// and a midx file that is missing or damaged is ignored and its packs are read
// from their index files again (and merged into a new midx file).
//
// Files are merged geometrically (each at least twice the size of all newer ones
// together), so a store has O(log n) of them and every entry is rewritten
// O(log n) times over the store's life.

const (
	midxMagic     = "TRVMIDX1"
	midxEndMagic  = "TRVMEND1"
	midxEntryLen  = 48
	midxPackLen   = 40
	midxFooterLen = 8 + 4 + 4 + 8 + 32 + 32 + 8
	midxDir       = "midx"
	midxExt       = ".midx"

	// bloomBitsPerEntry and bloomProbes give about 1% false positives with
	// 512-bit blocks.
	bloomBitsPerEntry = 12
	bloomProbes       = 7

	// midxMaxBucket is the average number of entries per fanout bucket the
	// fanout is sized for; midxMaxBits caps the fanout at 64 MiB.
	midxMaxBucket = 16
	midxMaxBits   = 24

	// midxVerifyMax: the entries of a midx file up to this size (about 5k
	// chunks) are checked against their checksum whenever it is opened; a larger
	// one's entries are checked by Store.CheckIndex (trove verify --deep), and
	// bounds-checked at every lookup (and every chunk read is checked against
	// its id, so a damaged entry cannot return wrong bytes).
	midxVerifyMax = 256 << 10
)

// midxRec is one entry as the writer sees it: with the pack's id, not its number.
type midxRec struct {
	ID     ID
	Pack   ID
	Offset uint64
	Length uint32
}

func recLess(a, b *midxRec) int {
	if c := bytes.Compare(a.ID[:], b.ID[:]); c != 0 {
		return c
	}
	return bytes.Compare(a.Pack[:], b.Pack[:])
}

// midxFile is an open midx file. Its methods are safe for concurrent use.
type midxFile struct {
	path  string
	f     *os.File
	n     int64
	packs []packSize
	bits  uint
	fan   []uint32
	bloom []uint64

	// A file of at most midxMemMax bytes of entries that is looked up often
	// (midxMemAfter lookups that reached the entries) has its entries read into
	// mem once, and looked up there instead of with a pread each: a command
	// that looks up every file of a large checkout should not pay a system call
	// per file. The files of a store grow geometrically, so those held total at
	// most twice midxMemMax; the largest ones stay on disk.
	reads   atomic.Int64
	memOnce sync.Once
	mem     atomic.Pointer[[]byte]
}

const (
	midxMemAfter = 1024
	midxMemMax   = 32 << 20
)

// readEntries reads entry bytes at off (relative to the file) from memory once
// they are there, else from the file.
func (m *midxFile) readEntries(b []byte, off int64) error {
	if mem := m.mem.Load(); mem != nil {
		start := off - int64(len(midxMagic))
		if start < 0 || start+int64(len(b)) > int64(len(*mem)) {
			return fmt.Errorf("%w: midx %s: read outside the entries", ErrCorrupt, filepath.Base(m.path))
		}
		copy(b, (*mem)[start:])
		return nil
	}
	if m.n*midxEntryLen <= midxMemMax && m.reads.Add(1) >= midxMemAfter {
		m.memOnce.Do(m.loadEntries)
	}
	return readFullAt(m.f, b, off)
}

// loadEntries reads the entries into memory if they match their checksum (else
// lookups keep reading the file, and CheckIndex reports it).
func (m *midxFile) loadEntries() {
	b := make([]byte, m.n*midxEntryLen)
	if err := readFullAt(m.f, b, int64(len(midxMagic))); err != nil {
		return
	}
	var foot [midxFooterLen]byte
	if err := readFullAt(m.f, foot[:], m.entryOff(m.n)+int64(len(m.packs))*midxPackLen+int64(len(m.fan))*4+int64(len(m.bloom))*8); err != nil {
		return
	}
	if blake3.Sum256(b) != [32]byte(foot[24:56]) {
		return
	}
	m.mem.Store(&b)
}

type packSize struct {
	ID   ID
	Size int64
}

func midxPrefix(id ID, bits uint) uint64 {
	if bits == 0 {
		return 0
	}
	return binary.BigEndian.Uint64(id[:8]) >> (64 - bits)
}

func midxBits(n int64) uint {
	var b uint
	for b < midxMaxBits && n>>b > midxMaxBucket {
		b++
	}
	return b
}

func bloomWords(n int64) int64 {
	w := (n*bloomBitsPerEntry + 63) / 64
	return max(8, (w+7)/8*8)
}

// bloomPos returns the first word of id's 512-bit block and the bits to probe in it.
func bloomPos(id ID, words int) (base int, h uint64) {
	blocks := uint64(words / 8)
	return int(binary.LittleEndian.Uint64(id[8:16])%blocks) * 8, binary.LittleEndian.Uint64(id[16:24])
}

func bloomAdd(w []uint64, id ID) {
	base, h := bloomPos(id, len(w))
	for i := range bloomProbes {
		bit := (h >> (9 * i)) & 511
		w[base+int(bit/64)] |= 1 << (bit % 64)
	}
}

func bloomHas(w []uint64, id ID) bool {
	base, h := bloomPos(id, len(w))
	for i := range bloomProbes {
		bit := (h >> (9 * i)) & 511
		if w[base+int(bit/64)]&(1<<(bit%64)) == 0 {
			return false
		}
	}
	return true
}

// openMidx opens a midx file and reads its pack table, fanout and filter,
// checking their checksum and that the sizes in the footer agree with the file's.
func openMidx(path string) (*midxFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	m, err := readMidx(f, path)
	if err != nil {
		f.Close()
		return nil, err
	}
	return m, nil
}

func readMidx(f *os.File, path string) (*midxFile, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := fi.Size()
	bad := func(what string) error { return fmt.Errorf("%w: midx %s: %s", ErrCorrupt, filepath.Base(path), what) }
	if size < int64(len(midxMagic)+midxFooterLen) {
		return nil, bad("too short")
	}
	var head [8]byte
	if err := readFullAt(f, head[:], 0); err != nil {
		return nil, err
	}
	var foot [midxFooterLen]byte
	if err := readFullAt(f, foot[:], size-midxFooterLen); err != nil {
		return nil, err
	}
	if string(head[:]) != midxMagic || string(foot[88:]) != midxEndMagic {
		return nil, bad("bad magic")
	}
	n := binary.LittleEndian.Uint64(foot[0:8])
	p := uint64(binary.LittleEndian.Uint32(foot[8:12]))
	bits := uint64(binary.LittleEndian.Uint32(foot[12:16]))
	words := binary.LittleEndian.Uint64(foot[16:24])
	if n > 1<<40 || bits > midxMaxBits || words > 1<<36 || words%8 != 0 || words == 0 {
		return nil, bad("impossible sizes")
	}
	metaLen := p*midxPackLen + (uint64(1)<<bits)*4 + words*8
	if uint64(size) != uint64(len(midxMagic))+n*midxEntryLen+metaLen+midxFooterLen {
		return nil, bad("size does not match its footer")
	}
	meta := make([]byte, metaLen)
	if err := readFullAt(f, meta, int64(len(midxMagic))+int64(n)*midxEntryLen); err != nil {
		return nil, err
	}
	h := blake3.New()
	h.Write(meta)
	h.Write(foot[:56])
	var sum [32]byte
	h.Sum(sum[:0])
	if !bytes.Equal(sum[:], foot[56:88]) {
		return nil, bad("checksum mismatch")
	}
	if n*midxEntryLen <= midxVerifyMax {
		// Small enough to check whole at every open: a flipped bit in an entry
		// would otherwise hide a chunk until it is looked for.
		eh := blake3.New()
		if _, err := io.Copy(eh, io.NewSectionReader(f, int64(len(midxMagic)), int64(n)*midxEntryLen)); err != nil {
			return nil, err
		}
		eh.Sum(sum[:0])
		if !bytes.Equal(sum[:], foot[24:56]) {
			return nil, bad("entries checksum mismatch")
		}
	}
	m := &midxFile{path: path, f: f, n: int64(n), bits: uint(bits)}
	m.packs = make([]packSize, p)
	for i := range m.packs {
		b := meta[i*midxPackLen:]
		copy(m.packs[i].ID[:], b[:32])
		m.packs[i].Size = int64(binary.LittleEndian.Uint64(b[32:40]))
	}
	meta = meta[p*midxPackLen:]
	m.fan = make([]uint32, 1<<bits)
	var prev uint32
	for i := range m.fan {
		m.fan[i] = binary.LittleEndian.Uint32(meta[i*4:])
		if m.fan[i] < prev {
			return nil, bad("fanout not monotonic")
		}
		prev = m.fan[i]
	}
	if uint64(prev) != n {
		return nil, bad("fanout does not add up")
	}
	meta = meta[len(m.fan)*4:]
	m.bloom = make([]uint64, words)
	for i := range m.bloom {
		m.bloom[i] = binary.LittleEndian.Uint64(meta[i*8:])
	}
	return m, nil
}

func (m *midxFile) close() { m.f.Close() }

// lookupWindow is how many entries a lookup reads at once once the binary search
// has narrowed the range that far (3 KiB).
const lookupWindow = 64

// lookup returns the location of id in the first pack for which live is true.
func (m *midxFile) lookup(id ID, live func(ID) (int64, bool)) (Loc, bool, error) {
	if !bloomHas(m.bloom, id) {
		return Loc{}, false, nil
	}
	p := midxPrefix(id, m.bits)
	var lo int64
	if p > 0 {
		lo = int64(m.fan[p-1])
	}
	hi := int64(m.fan[p])
	if mem := m.mem.Load(); mem != nil {
		return m.lookupMem(*mem, id, lo, hi, live)
	}
	var key [32]byte
	for hi-lo > lookupWindow {
		mid := lo + (hi-lo)/2
		if err := m.readEntries(key[:], m.entryOff(mid)); err != nil {
			return Loc{}, false, err
		}
		if bytes.Compare(key[:], id[:]) < 0 {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	// Read the window [lo, hi) and, if id's entries run past it, the rest of them.
	var win [lookupWindow * midxEntryLen]byte
	for lo < m.n {
		k := min(max(hi-lo, 1), lookupWindow, m.n-lo)
		b := win[:k*midxEntryLen]
		if err := m.readEntries(b, m.entryOff(lo)); err != nil {
			return Loc{}, false, err
		}
		for i := range k {
			l, ok, done, err := m.entryLoc(b[i*midxEntryLen:(i+1)*midxEntryLen], id, live)
			if ok || done || err != nil {
				return l, ok, err
			}
		}
		lo += k
		hi = lo + lookupWindow
	}
	return Loc{}, false, nil
}

// lookupMem is lookup in entries held in memory, between lo and hi.
func (m *midxFile) lookupMem(mem []byte, id ID, lo, hi int64, live func(ID) (int64, bool)) (Loc, bool, error) {
	i := lo + int64(sort.Search(int(hi-lo), func(k int) bool {
		off := (lo + int64(k)) * midxEntryLen
		return bytes.Compare(mem[off:off+32], id[:]) >= 0
	}))
	for ; i < m.n; i++ {
		l, ok, done, err := m.entryLoc(mem[i*midxEntryLen:(i+1)*midxEntryLen], id, live)
		if ok || done || err != nil {
			return l, ok, err
		}
	}
	return Loc{}, false, nil
}

// entryLoc looks at entry e on the way to id's entries: done once past them;
// ok with the location when e is id's in a live pack.
func (m *midxFile) entryLoc(e []byte, id ID, live func(ID) (int64, bool)) (l Loc, ok, done bool, err error) {
	switch c := bytes.Compare(e[:32], id[:]); {
	case c < 0:
		return Loc{}, false, false, nil
	case c > 0:
		return Loc{}, false, true, nil
	}
	pi := binary.LittleEndian.Uint32(e[32:36])
	if int(pi) >= len(m.packs) {
		return Loc{}, false, true, fmt.Errorf("%w: midx %s: entry names pack %d of %d", ErrCorrupt, filepath.Base(m.path), pi, len(m.packs))
	}
	pid := m.packs[pi].ID
	size, live2 := live(pid)
	if !live2 {
		return Loc{}, false, false, nil
	}
	l = Loc{Pack: pid, Length: binary.LittleEndian.Uint32(e[36:40]), Offset: binary.LittleEndian.Uint64(e[40:48])}
	if l.Offset < uint64(len(packMagic)) || l.Offset > uint64(size) || uint64(l.Length) > uint64(size)-l.Offset {
		return Loc{}, false, true, fmt.Errorf("%w: midx %s: entry of chunk %s points outside pack %s", ErrCorrupt, filepath.Base(m.path), id.Short(), pid.Short())
	}
	return l, true, true, nil
}

func (m *midxFile) entryOff(i int64) int64 { return int64(len(midxMagic)) + i*midxEntryLen }

// midxSource yields entries in (id, pack) order.
type midxSource interface {
	next() (midxRec, bool, error)
}

// sliceSource yields a sorted slice.
type sliceSource struct {
	recs []midxRec
	i    int
}

func (s *sliceSource) next() (midxRec, bool, error) {
	if s.i >= len(s.recs) {
		return midxRec{}, false, nil
	}
	s.i++
	return s.recs[s.i-1], true, nil
}

// fileSource reads the entries of a midx file sequentially.
type fileSource struct {
	m    *midxFile
	r    *bufio.Reader
	left int64
	prev ID
	b    [midxEntryLen]byte // read into here: a local array would escape, one allocation per entry
}

func (m *midxFile) source() *fileSource {
	sr := io.NewSectionReader(m.f, int64(len(midxMagic)), m.n*midxEntryLen)
	return &fileSource{m: m, r: bufio.NewReaderSize(sr, 256<<10), left: m.n}
}

func (s *fileSource) next() (midxRec, bool, error) {
	if s.left == 0 {
		return midxRec{}, false, nil
	}
	b := &s.b
	if _, err := io.ReadFull(s.r, b[:]); err != nil {
		return midxRec{}, false, fmt.Errorf("read midx %s: %w", filepath.Base(s.m.path), err)
	}
	s.left--
	var r midxRec
	copy(r.ID[:], b[:32])
	if bytes.Compare(r.ID[:], s.prev[:]) < 0 {
		return midxRec{}, false, fmt.Errorf("%w: midx %s: entries not sorted", ErrCorrupt, filepath.Base(s.m.path))
	}
	s.prev = r.ID
	pi := binary.LittleEndian.Uint32(b[32:36])
	if int(pi) >= len(s.m.packs) {
		return midxRec{}, false, fmt.Errorf("%w: midx %s: entry names pack %d of %d", ErrCorrupt, filepath.Base(s.m.path), pi, len(s.m.packs))
	}
	r.Pack = s.m.packs[pi].ID
	r.Length = binary.LittleEndian.Uint32(b[36:40])
	r.Offset = binary.LittleEndian.Uint64(b[40:48])
	return r, true, nil
}

// writeMidx merges sources (each in (id, pack) order, together at most nmax
// entries) into a new midx file in dir that covers the given packs: entries of
// other packs are left out, and so are repeats of the same (id, pack). It returns
// the new file, open.
func writeMidx(dir string, packs []packSize, srcs []midxSource, nmax int64) (*midxFile, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	slices.SortFunc(packs, func(a, b packSize) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	num := make(map[ID]uint32, len(packs))
	for i, p := range packs {
		num[p.ID] = uint32(i)
	}
	f, err := os.CreateTemp(dir, ".tmp-midx-*")
	if err != nil {
		return nil, err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o644); err != nil {
		return nil, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	bits := midxBits(nmax)
	counts := make([]uint32, 1<<bits)
	bloom := make([]uint64, bloomWords(nmax))
	eh := blake3.New()
	w.WriteString(midxMagic)

	heads := make([]midxRec, len(srcs))
	live := make([]bool, len(srcs))
	for i, s := range srcs {
		if heads[i], live[i], err = s.next(); err != nil {
			return nil, err
		}
	}
	var n int64
	var last midxRec
	var b [midxEntryLen]byte
	for {
		best := -1
		for i := range srcs {
			if live[i] && (best < 0 || recLess(&heads[i], &heads[best]) < 0) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		r := heads[best]
		if heads[best], live[best], err = srcs[best].next(); err != nil {
			return nil, err
		}
		pi, ok := num[r.Pack]
		if !ok || (n > 0 && r.ID == last.ID && r.Pack == last.Pack) {
			continue
		}
		if n >= nmax {
			return nil, fmt.Errorf("write midx: more than the %d entries announced", nmax)
		}
		last = r
		copy(b[:32], r.ID[:])
		binary.LittleEndian.PutUint32(b[32:36], pi)
		binary.LittleEndian.PutUint32(b[36:40], r.Length)
		binary.LittleEndian.PutUint64(b[40:48], r.Offset)
		w.Write(b[:])
		eh.Write(b[:])
		counts[midxPrefix(r.ID, bits)]++
		bloomAdd(bloom, r.ID)
		n++
	}
	mh := blake3.New()
	mw := io.MultiWriter(w, mh)
	var pb [midxPackLen]byte
	for _, p := range packs {
		copy(pb[:32], p.ID[:])
		binary.LittleEndian.PutUint64(pb[32:], uint64(p.Size))
		mw.Write(pb[:])
	}
	var acc uint32
	var u4 [4]byte
	for _, c := range counts {
		acc += c
		binary.LittleEndian.PutUint32(u4[:], acc)
		mw.Write(u4[:])
	}
	var u8 [8]byte
	for _, x := range bloom {
		binary.LittleEndian.PutUint64(u8[:], x)
		mw.Write(u8[:])
	}
	var foot [midxFooterLen]byte
	binary.LittleEndian.PutUint64(foot[0:8], uint64(n))
	binary.LittleEndian.PutUint32(foot[8:12], uint32(len(packs)))
	binary.LittleEndian.PutUint32(foot[12:16], uint32(bits))
	binary.LittleEndian.PutUint64(foot[16:24], uint64(len(bloom)))
	eh.Sum(foot[24:24])
	mh.Write(foot[:56])
	mh.Sum(foot[56:56])
	copy(foot[88:], midxEndMagic)
	w.Write(foot[:])
	if err := w.Flush(); err != nil {
		return nil, fmt.Errorf("write midx: %w", err)
	}
	if err := f.Sync(); err != nil {
		return nil, fmt.Errorf("sync midx: %w", err)
	}
	dst := filepath.Join(dir, fmt.Sprintf("%x%s", foot[56:72], midxExt))
	if err := os.Rename(tmp, dst); err != nil {
		return nil, err
	}
	ok = true
	if err := SyncDir(dir); err != nil {
		f.Close()
		return nil, err
	}
	m, err := readMidx(f, dst)
	if err != nil {
		f.Close()
		return nil, err
	}
	return m, nil
}

// openMidxFiles opens the store's midx files. A damaged one is skipped (its packs
// are then read from their index files); one that vanishes while they are being
// opened (merged away by another process) makes it list them again.
func openMidxFiles(dir string) ([]*midxFile, error) {
	for attempt := 0; ; attempt++ {
		ents, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read store midx: %w", err)
		}
		var out []*midxFile
		retry := false
		for _, e := range ents {
			if !strings.HasSuffix(e.Name(), midxExt) || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			m, err := openMidx(filepath.Join(dir, e.Name()))
			if errors.Is(err, fs.ErrNotExist) && attempt < 10 {
				retry = true
				break
			}
			if err != nil {
				continue // a cache: what it covered is read from the index files
			}
			out = append(out, m)
		}
		if !retry {
			return out, nil
		}
		for _, m := range out {
			m.close()
		}
	}
}

// check reads all of the file's entries and checks their checksum and order.
func (m *midxFile) check() error {
	var foot [midxFooterLen]byte
	if err := readFullAt(m.f, foot[:], m.entryOff(m.n)+int64(len(m.packs))*midxPackLen+int64(len(m.fan))*4+int64(len(m.bloom))*8); err != nil {
		return err
	}
	h := blake3.New()
	src := m.source()
	for {
		r, ok, err := src.next()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		var b [midxEntryLen]byte
		copy(b[:32], r.ID[:])
		i, _ := slices.BinarySearchFunc(m.packs, r.Pack, func(p packSize, id ID) int { return bytes.Compare(p.ID[:], id[:]) })
		binary.LittleEndian.PutUint32(b[32:36], uint32(i))
		binary.LittleEndian.PutUint32(b[36:40], r.Length)
		binary.LittleEndian.PutUint64(b[40:48], r.Offset)
		h.Write(b[:])
	}
	var sum [32]byte
	h.Sum(sum[:0])
	if !bytes.Equal(sum[:], foot[24:56]) {
		return fmt.Errorf("%w: midx %s: entries checksum mismatch", ErrCorrupt, filepath.Base(m.path))
	}
	return nil
}

// midxScanRatio: a batch of lookups reads the whole file sequentially when it
// has at least one id for every midxScanRatio entries (a pread of a bucket costs
// about as much as reading that many entries in sequence).
const midxScanRatio = 64

// scan resolves ids[todo] (todo sorted by id) in one sequential pass over the
// file's entries, setting locs and found for those with an entry in a live pack.
func (m *midxFile) scan(ids []ID, todo []int, live func(ID) (int64, bool), locs []Loc, found []bool) error {
	src := m.source()
	t := 0
	for t < len(todo) {
		r, ok, err := src.next()
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		for t < len(todo) && bytes.Compare(ids[todo[t]][:], r.ID[:]) < 0 {
			t++
		}
		// Equal ids may repeat in todo; give each the first live entry.
		for u := t; u < len(todo) && ids[todo[u]] == r.ID; u++ {
			i := todo[u]
			if found[i] {
				continue
			}
			size, ok := live(r.Pack)
			if !ok {
				continue
			}
			l := Loc{Pack: r.Pack, Offset: r.Offset, Length: r.Length}
			if l.Offset < uint64(len(packMagic)) || l.Offset > uint64(size) || uint64(l.Length) > uint64(size)-l.Offset {
				return fmt.Errorf("%w: midx %s: entry of chunk %s points outside pack %s", ErrCorrupt, filepath.Base(m.path), r.ID.Short(), r.Pack.Short())
			}
			locs[i], found[i] = l, true
		}
	}
	return nil
}
