package objects

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/zeebo/blake3"
)

// A tree lists the files of a tracked directory. It is stored as content (chunked
// like any file, see WriteContent) in a line-oriented text form:
//
//	trove-tree 1
//	<mode> <size> <digest hex> <recipe hex or -> <path>
//	...
//
// one line per entry, sorted by path bytes, paths unique, slash-separated and
// relative (see ValidPath), and no path below another entry's path (a name is a
// file or a directory, not both). mode is 100644, 100755 (executable) or 120000
// (symbolic link, whose "content" is its target). size is decimal without leading
// zeros. A recipe of "-" means the content is the single chunk named by the digest,
// or nothing when size is 0. Each tree has exactly one encoding.
//
// The directory's digest (TreeDigest) is the BLAKE3 of the listing that b3sum
// prints for the same files, so it can be checked without trove (with GNU find and
// xargs; -r and -- keep an empty directory and names starting with "-" right):
//
//	cd DIR && find . -type f -printf '%P\n' | LC_ALL=C sort | xargs -r -d '\n' b3sum -- | b3sum
//
// That listing covers regular files only, as find -type f does: a tree holding
// symbolic links has a digest that includes them, which this pipeline does not
// reproduce.

const treeHeader = "trove-tree 1\n"

// File modes recorded in trees, as git writes them.
const (
	ModeFile    uint32 = 0o100644
	ModeExec    uint32 = 0o100755
	ModeSymlink uint32 = 0o120000
)

// MaxPathLen bounds a path in a tree.
const MaxPathLen = 4096

// TreeEntry is one file of a tree.
type TreeEntry struct {
	Path   string
	Mode   uint32
	Size   int64
	Digest ID
	Recipe ID // zero: inline content (see WriteOptions.Inline)
}

// ValidPath checks that p is a clean, relative, slash-separated path that stays
// inside its directory and that trove can record unambiguously.
func ValidPath(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("empty path")
	case len(p) > MaxPathLen:
		return fmt.Errorf("path longer than %d bytes", MaxPathLen)
	case !utf8.ValidString(p):
		return fmt.Errorf("path %q is not valid UTF-8", p)
	case strings.ContainsAny(p, "\x00\n\r\\"):
		return fmt.Errorf("path %q contains NUL, newline, carriage return or backslash", p)
	case strings.HasPrefix(p, "/"):
		return fmt.Errorf("path %q is absolute", p)
	}
	for rest := p; ; {
		seg, after, more := strings.Cut(rest, "/")
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("path %q has an empty, . or .. segment", p)
		}
		if !more {
			return nil
		}
		rest = after
	}
}

// SortTree sorts entries by path bytes.
func SortTree(entries []TreeEntry) {
	sort.Slice(entries, func(i, j int) bool { return entries[i].Path < entries[j].Path })
}

// EncodeTree serializes sorted, valid entries (as they are: it checks nothing,
// see TreeWriter).
func EncodeTree(entries []TreeEntry) []byte {
	b := make([]byte, 0, len(treeHeader)+len(entries)*160)
	b = append(b, treeHeader...)
	for _, e := range entries {
		b = appendTreeLine(b, e)
	}
	return b
}

func appendTreeLine(l []byte, e TreeEntry) []byte {
	l = strconv.AppendUint(l, uint64(e.Mode), 8)
	l = append(l, ' ')
	l = strconv.AppendInt(l, e.Size, 10)
	l = append(l, ' ')
	l = hex.AppendEncode(l, e.Digest[:])
	l = append(l, ' ')
	if e.Recipe.IsZero() {
		l = append(l, '-')
	} else {
		l = hex.AppendEncode(l, e.Recipe[:])
	}
	l = append(l, ' ')
	l = append(l, e.Path...)
	return append(l, '\n')
}

// TreeWriter encodes a tree entry by entry, as EncodeTree does, and computes its
// TreeDigest on the way: a directory of a million files never has its listing in
// memory. Entries must come sorted and valid; the first that is not is an error
// (returned by Add and Close).
type TreeWriter struct {
	w      io.Writer
	h      *blake3.Hasher
	line   []byte
	dig    []byte
	last   string
	files  []string // chain of earlier paths, each a prefix of the next (see Add)
	n      int64
	err    error
	header bool
}

// NewTreeWriter returns a writer of a tree to w; with a nil w it only checks the
// entries and computes the digest (no listing is formatted).
func NewTreeWriter(w io.Writer) *TreeWriter {
	return &TreeWriter{w: w, h: blake3.New(), line: make([]byte, 0, 256), dig: make([]byte, 0, 4096)}
}

// Add writes one entry.
func (t *TreeWriter) Add(e TreeEntry) error {
	if t.err != nil {
		return t.err
	}
	if !t.header && t.w != nil {
		t.header = true
		if _, err := io.WriteString(t.w, treeHeader); err != nil {
			t.err = err
			return err
		}
	}
	if t.n > 0 && e.Path <= t.last {
		t.err = fmt.Errorf("tree: %q after %q: entries out of order or duplicated", e.Path, t.last)
		return t.err
	}
	// No path below a file: an earlier path that is a directory of this one is
	// still on the chain (everything between them starts with it).
	for len(t.files) > 0 && !strings.HasPrefix(e.Path, t.files[len(t.files)-1]) {
		t.files = t.files[:len(t.files)-1]
	}
	if n := len(t.files); n > 0 && strings.HasPrefix(e.Path, t.files[n-1]+"/") {
		t.err = fmt.Errorf("tree: %q is below the file %q", e.Path, t.files[n-1])
		return t.err
	}
	t.files = append(t.files, e.Path)
	t.last = e.Path
	t.n++
	if t.w != nil {
		t.line = appendTreeLine(t.line[:0], e)
		if _, err := t.w.Write(t.line); err != nil {
			t.err = err
			return err
		}
	}
	t.dig = hex.AppendEncode(t.dig, e.Digest[:])
	t.dig = append(t.dig, ' ', ' ')
	t.dig = append(t.dig, e.Path...)
	t.dig = append(t.dig, '\n')
	if len(t.dig) > 3072 {
		t.h.Write(t.dig)
		t.dig = t.dig[:0]
	}
	return nil
}

// Close finishes the tree (an empty tree is its header alone).
func (t *TreeWriter) Close() error {
	if t.err == nil && !t.header && t.w != nil {
		t.header = true
		_, t.err = io.WriteString(t.w, treeHeader)
	}
	return t.err
}

// Digest returns the TreeDigest of the entries added so far.
func (t *TreeWriter) Digest() ID {
	h := t.h.Clone()
	h.Write(t.dig)
	var id ID
	h.Sum(id[:0])
	return id
}

// Len returns the number of entries added.
func (t *TreeWriter) Len() int64 { return t.n }

// DecodeTree parses a tree strictly: any malformed line, unsafe path, unknown mode,
// unsorted or duplicate entry is an error wrapping ErrCorrupt.
func DecodeTree(b []byte) ([]TreeEntry, error) {
	tr := NewTreeReader(bytes.NewReader(b))
	var out []TreeEntry
	for {
		e, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
}

// TreeReader decodes a tree entry by entry, as strictly as DecodeTree, so that a
// directory of a million files is read without holding its listing.
type TreeReader struct {
	r      *bufio.Reader
	line   int
	last   string
	files  []string // chain of earlier paths, each a prefix of the next
	header bool
	err    error
}

// NewTreeReader returns a reader of the tree in r.
func NewTreeReader(r io.Reader) *TreeReader {
	return &TreeReader{r: bufio.NewReaderSize(r, MaxPathLen+512)}
}

// Next returns the next entry, or io.EOF after the last. Malformed input is an
// error wrapping ErrCorrupt; a read error is returned as it is.
func (t *TreeReader) Next() (TreeEntry, error) {
	if t.err != nil {
		return TreeEntry{}, t.err
	}
	e, err := t.next()
	if err != nil {
		t.err = err
	}
	return e, err
}

func (t *TreeReader) next() (TreeEntry, error) {
	if !t.header {
		h, err := t.r.Peek(len(treeHeader))
		if string(h) != treeHeader {
			if err != nil && err != io.EOF {
				return TreeEntry{}, err
			}
			return TreeEntry{}, fmt.Errorf("%w: not a trove tree", ErrCorrupt)
		}
		t.r.Discard(len(treeHeader))
		t.header, t.line = true, 1
	}
	raw, err := t.r.ReadSlice('\n')
	switch {
	case err == io.EOF && len(raw) == 0:
		return TreeEntry{}, io.EOF
	case err == io.EOF:
		return TreeEntry{}, fmt.Errorf("%w: tree line %d has no newline", ErrCorrupt, t.line+1)
	case errors.Is(err, bufio.ErrBufferFull):
		return TreeEntry{}, fmt.Errorf("%w: tree line %d is too long", ErrCorrupt, t.line+1)
	case err != nil:
		return TreeEntry{}, err
	}
	t.line++
	line := t.line
	e, err := parseTreeLine(raw[:len(raw)-1])
	if err != nil {
		return TreeEntry{}, fmt.Errorf("%w: tree line %d: %v", ErrCorrupt, line, err)
	}
	if line > 2 && t.last >= e.Path {
		return TreeEntry{}, fmt.Errorf("%w: tree line %d: %q is out of order or duplicated", ErrCorrupt, line, e.Path)
	}
	// A parent directory listed as a file is still on the chain: everything
	// between it and its children starts with it (see TreeWriter.Add).
	for len(t.files) > 0 && !strings.HasPrefix(e.Path, t.files[len(t.files)-1]) {
		t.files = t.files[:len(t.files)-1]
	}
	if n := len(t.files); n > 0 && strings.HasPrefix(e.Path, t.files[n-1]+"/") {
		return TreeEntry{}, fmt.Errorf("%w: tree line %d: %q is below the file %q", ErrCorrupt, line, e.Path, t.files[n-1])
	}
	t.files = append(t.files, e.Path)
	t.last = e.Path
	return e, nil
}

// parseTreeLine parses "<mode> <size> <digest> <recipe or -> <path>" without
// the allocations of splitting it (a million-line tree is read in a second).
func parseTreeLine(l []byte) (TreeEntry, error) {
	var e TreeEntry
	field := func() []byte {
		i := bytes.IndexByte(l, ' ')
		if i < 0 {
			return nil
		}
		f := l[:i]
		l = l[i+1:]
		return f
	}
	mode, size, dig, rec := field(), field(), field(), field()
	if rec == nil {
		return e, errors.New("want 5 fields")
	}
	switch string(mode) { // exact strings: "0100644" would decode but not re-encode alike
	case "100644":
		e.Mode = ModeFile
	case "100755":
		e.Mode = ModeExec
	case "120000":
		e.Mode = ModeSymlink
	default:
		return e, fmt.Errorf("bad mode %q", mode)
	}
	if len(size) == 0 || len(size) > 18 || (size[0] == '0' && len(size) > 1) {
		return e, fmt.Errorf("bad size %q", size)
	}
	for _, c := range size {
		if c < '0' || c > '9' {
			return e, fmt.Errorf("bad size %q", size)
		}
		e.Size = e.Size*10 + int64(c-'0')
	}
	var ok bool
	if e.Digest, ok = parseHexBytes(dig); !ok {
		return e, fmt.Errorf("%w %q: want 64 lowercase hex digits", ErrBadID, dig)
	}
	if string(rec) != "-" {
		if e.Recipe, ok = parseHexBytes(rec); !ok {
			return e, fmt.Errorf("%w %q: want 64 lowercase hex digits", ErrBadID, rec)
		}
		if e.Recipe.IsZero() {
			return e, errors.New("zero recipe must be written -")
		}
	}
	e.Path = string(l)
	if err := ValidPath(e.Path); err != nil {
		return e, err
	}
	return e, nil
}

// parseHexBytes decodes 64 lowercase hex digits.
func parseHexBytes(b []byte) (ID, bool) {
	var id ID
	if len(b) != 64 {
		return id, false
	}
	for i := range 32 {
		hi, ok1 := unhex(b[2*i])
		lo, ok2 := unhex(b[2*i+1])
		if !ok1 || !ok2 {
			return id, false
		}
		id[i] = hi<<4 | lo
	}
	return id, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// TreeDigest returns the digest of a directory with these (sorted) entries: the
// BLAKE3 of the lines "<digest hex>  <path>\n", exactly what b3sum prints.
func TreeDigest(entries []TreeEntry) ID {
	h := blake3.New()
	buf := make([]byte, 0, 4096)
	var hx [64]byte
	for _, e := range entries {
		hex.Encode(hx[:], e.Digest[:])
		buf = append(buf, hx[:]...)
		buf = append(buf, ' ', ' ')
		buf = append(buf, e.Path...)
		buf = append(buf, '\n')
		if len(buf) > 3072 {
			h.Write(buf)
			buf = buf[:0]
		}
	}
	h.Write(buf)
	var id ID
	h.Sum(id[:0])
	return id
}
