package objects

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/zeebo/blake3"
)

// A pack file holds many chunks back to back, so that a gigabyte of data is a
// handful of files (and S3 objects) rather than tens of thousands. Layout, all
// integers little-endian:
//
//	header   "TRVPACK1"                          8 bytes
//	chunks   raw chunk bytes, back to back
//	index    count x IndexEntry (44 bytes each)  sorted by chunk id
//	footer   index offset u64, count u32, "TRVPEND1"   20 bytes
//
// A pack is immutable and named by the BLAKE3 of all its bytes. The index inside the
// pack makes every pack self-describing; the same entries are also written to a
// separate index file (see IndexFile) so readers can learn where chunks are without
// touching packs.

const (
	packMagic     = "TRVPACK1"
	packEndMagic  = "TRVPEND1"
	packFooterLen = 20
	indexEntryLen = 44
	idxMagic      = "TRVIDX01"
)

// ErrCorrupt is returned (wrapped) when stored bytes do not match their name or
// their format.
var ErrCorrupt = errors.New("corrupt object")

// ErrMissing is returned (wrapped) when a chunk is not in the store.
var ErrMissing = errors.New("object missing from store")

// IndexEntry locates one chunk inside a pack.
type IndexEntry struct {
	ID     ID
	Offset uint64 // from the start of the pack file
	Length uint32
}

func putEntries(buf *bytes.Buffer, entries []IndexEntry) {
	var b [indexEntryLen]byte
	for _, e := range entries {
		copy(b[:32], e.ID[:])
		binary.LittleEndian.PutUint64(b[32:40], e.Offset)
		binary.LittleEndian.PutUint32(b[40:44], e.Length)
		buf.Write(b[:])
	}
}

func parseEntries(b []byte, count int, packSize uint64) ([]IndexEntry, error) {
	if len(b) != count*indexEntryLen {
		return nil, fmt.Errorf("%w: index of %d entries has %d bytes", ErrCorrupt, count, len(b))
	}
	out := make([]IndexEntry, count)
	for i := range out {
		e := b[i*indexEntryLen:]
		copy(out[i].ID[:], e[:32])
		out[i].Offset = binary.LittleEndian.Uint64(e[32:40])
		out[i].Length = binary.LittleEndian.Uint32(e[40:44])
		// Written so that a lying offset cannot wrap offset+length around 2^64.
		if out[i].Offset < uint64(len(packMagic)) || out[i].Offset > packSize || uint64(out[i].Length) > packSize-out[i].Offset {
			return nil, fmt.Errorf("%w: index entry %d points outside the pack", ErrCorrupt, i)
		}
		if i > 0 && bytes.Compare(out[i-1].ID[:], out[i].ID[:]) >= 0 {
			return nil, fmt.Errorf("%w: index entries not sorted or duplicated", ErrCorrupt)
		}
	}
	return out, nil
}

// PackWriter builds one pack in w. It is not safe for concurrent use.
type PackWriter struct {
	w       io.Writer
	h       *blake3.Hasher // nil when sink hashes
	sink    *packSink
	off     uint64
	entries []IndexEntry
}

// newPackFileWriter writes a pack to f through a packSink, which hashes and
// writes on a goroutine of its own.
func newPackFileWriter(f *os.File) (*PackWriter, error) {
	sink := newPackSink(f)
	p := &PackWriter{w: sink, sink: sink}
	if err := p.write([]byte(packMagic)); err != nil {
		sink.abort()
		return nil, err
	}
	return p, nil
}

// abort stops the sink's goroutine, if any.
func (p *PackWriter) abort() {
	if p.sink != nil {
		p.sink.abort()
	}
}

// NewPackWriter writes a pack header to w.
func NewPackWriter(w io.Writer) (*PackWriter, error) {
	p := &PackWriter{w: w, h: blake3.New()}
	if err := p.write([]byte(packMagic)); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *PackWriter) write(b []byte) error {
	n, err := p.w.Write(b)
	if p.h != nil {
		p.h.Write(b[:n])
	}
	p.off += uint64(n)
	return err
}

// Add appends a chunk whose id the caller has computed.
func (p *PackWriter) Add(id ID, data []byte) error {
	e := IndexEntry{ID: id, Offset: p.off, Length: uint32(len(data))}
	if err := p.write(data); err != nil {
		return err
	}
	p.entries = append(p.entries, e)
	return nil
}

// Size returns the bytes written so far.
func (p *PackWriter) Size() uint64 { return p.off }

// Len returns the number of chunks added.
func (p *PackWriter) Len() int { return len(p.entries) }

// Finish writes the index and footer and returns the pack's id and its entries,
// sorted by chunk id.
func (p *PackWriter) Finish() (ID, []IndexEntry, error) {
	sort.Slice(p.entries, func(i, j int) bool { return bytes.Compare(p.entries[i].ID[:], p.entries[j].ID[:]) < 0 })
	var buf bytes.Buffer
	putEntries(&buf, p.entries)
	indexOff := p.off
	var f [packFooterLen]byte
	binary.LittleEndian.PutUint64(f[0:8], indexOff)
	binary.LittleEndian.PutUint32(f[8:12], uint32(len(p.entries)))
	copy(f[12:], packEndMagic)
	buf.Write(f[:])
	if err := p.write(buf.Bytes()); err != nil {
		p.abort()
		return ID{}, nil, err
	}
	var id ID
	if p.sink != nil {
		var err error
		if id, err = p.sink.close(); err != nil {
			return ID{}, nil, err
		}
		return id, p.entries, nil
	}
	p.h.Sum(id[:0])
	return id, p.entries, nil
}

// ReadPackIndex reads the index embedded at the end of a pack of the given size.
func ReadPackIndex(r io.ReaderAt, size int64) ([]IndexEntry, error) {
	if size < int64(len(packMagic)+packFooterLen) {
		return nil, fmt.Errorf("%w: pack of %d bytes is too short", ErrCorrupt, size)
	}
	var head [8]byte
	if err := readFullAt(r, head[:], 0); err != nil {
		return nil, err
	}
	if string(head[:]) != packMagic {
		return nil, fmt.Errorf("%w: not a trove pack (bad magic)", ErrCorrupt)
	}
	var f [packFooterLen]byte
	if err := readFullAt(r, f[:], size-packFooterLen); err != nil {
		return nil, err
	}
	if string(f[12:]) != packEndMagic {
		return nil, fmt.Errorf("%w: pack footer missing (truncated pack?)", ErrCorrupt)
	}
	off := binary.LittleEndian.Uint64(f[0:8])
	count := int(binary.LittleEndian.Uint32(f[8:12]))
	end := uint64(size - packFooterLen)
	if off > end || (end-off) != uint64(count)*indexEntryLen {
		return nil, fmt.Errorf("%w: pack footer is inconsistent", ErrCorrupt)
	}
	b := make([]byte, end-off)
	if err := readFullAt(r, b, int64(off)); err != nil {
		return nil, err
	}
	return parseEntries(b, count, off)
}

// readFullAt fills b from r at off. A ReaderAt may return io.EOF along with a full
// read at the end of its input, which is success; a short read means the pack is
// shorter than its stated size.
func readFullAt(r io.ReaderAt, b []byte, off int64) error {
	n, err := r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("%w: pack is shorter than its size (read %d of %d bytes at %d)", ErrCorrupt, n, len(b), off)
	}
	return fmt.Errorf("read pack: %w", err)
}

// EncodeIndexFile serializes the index of one pack:
//
//	"TRVIDX01", pack id (32), count u32, count x IndexEntry, BLAKE3 of all before (32)
func EncodeIndexFile(pack ID, entries []IndexEntry) []byte {
	var buf bytes.Buffer
	buf.WriteString(idxMagic)
	buf.Write(pack[:])
	var n [4]byte
	binary.LittleEndian.PutUint32(n[:], uint32(len(entries)))
	buf.Write(n[:])
	putEntries(&buf, entries)
	sum := blake3.Sum256(buf.Bytes())
	buf.Write(sum[:])
	return buf.Bytes()
}

// maxIndexEntries bounds what a hostile index file can make us allocate
// (a 64 MiB pack of minimum-size chunks has 4096 entries).
const maxIndexEntries = 1 << 22

// DecodeIndexFile parses and checks an index file.
func DecodeIndexFile(b []byte) (ID, []IndexEntry, error) {
	const head = len(idxMagic) + 32 + 4
	if len(b) < head+32 || string(b[:len(idxMagic)]) != idxMagic {
		return ID{}, nil, fmt.Errorf("%w: not a trove index file", ErrCorrupt)
	}
	body, sum := b[:len(b)-32], b[len(b)-32:]
	if blake3.Sum256(body) != [32]byte(sum) {
		return ID{}, nil, fmt.Errorf("%w: index file checksum mismatch", ErrCorrupt)
	}
	var pack ID
	copy(pack[:], b[len(idxMagic):])
	count := int(binary.LittleEndian.Uint32(b[len(idxMagic)+32:]))
	if count > maxIndexEntries {
		return ID{}, nil, fmt.Errorf("%w: index file claims %d entries", ErrCorrupt, count)
	}
	entries, err := parseEntries(body[head:], count, 1<<62)
	if err != nil {
		return ID{}, nil, err
	}
	return pack, entries, nil
}
