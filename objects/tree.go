package objects

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"slices"
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
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("path %q has an empty, . or .. segment", p)
		}
	}
	return nil
}

// SortTree sorts entries by path bytes.
func SortTree(entries []TreeEntry) {
	sort.Slice(entries, func(i, j int) bool { return entries[i].Path < entries[j].Path })
}

// EncodeTree serializes sorted, valid entries.
func EncodeTree(entries []TreeEntry) []byte {
	var b bytes.Buffer
	b.Grow(len(treeHeader) + len(entries)*160)
	b.WriteString(treeHeader)
	for _, e := range entries {
		b.WriteString(strconv.FormatUint(uint64(e.Mode), 8))
		b.WriteByte(' ')
		b.WriteString(strconv.FormatInt(e.Size, 10))
		b.WriteByte(' ')
		b.WriteString(e.Digest.Hex())
		b.WriteByte(' ')
		if e.Recipe.IsZero() {
			b.WriteByte('-')
		} else {
			b.WriteString(e.Recipe.Hex())
		}
		b.WriteByte(' ')
		b.WriteString(e.Path)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// DecodeTree parses a tree strictly: any malformed line, unsafe path, unknown mode,
// unsorted or duplicate entry is an error wrapping ErrCorrupt.
func DecodeTree(b []byte) ([]TreeEntry, error) {
	rest, ok := bytes.CutPrefix(b, []byte(treeHeader))
	if !ok {
		return nil, fmt.Errorf("%w: not a trove tree", ErrCorrupt)
	}
	var out []TreeEntry
	line := 1
	for len(rest) > 0 {
		line++
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			return nil, fmt.Errorf("%w: tree line %d has no newline", ErrCorrupt, line)
		}
		l := string(rest[:i])
		rest = rest[i+1:]
		f := strings.SplitN(l, " ", 5)
		if len(f) != 5 {
			return nil, fmt.Errorf("%w: tree line %d: want 5 fields", ErrCorrupt, line)
		}
		var e TreeEntry
		switch f[0] { // exact strings: "0100644" would decode but not re-encode alike
		case "100644":
			e.Mode = ModeFile
		case "100755":
			e.Mode = ModeExec
		case "120000":
			e.Mode = ModeSymlink
		default:
			return nil, fmt.Errorf("%w: tree line %d: bad mode %q", ErrCorrupt, line, f[0])
		}
		var err error
		e.Size, err = strconv.ParseInt(f[1], 10, 64)
		if err != nil || e.Size < 0 || strconv.FormatInt(e.Size, 10) != f[1] {
			return nil, fmt.Errorf("%w: tree line %d: bad size %q", ErrCorrupt, line, f[1])
		}
		if e.Digest, err = ParseHex(f[2]); err != nil {
			return nil, fmt.Errorf("%w: tree line %d: %v", ErrCorrupt, line, err)
		}
		if f[3] != "-" {
			if e.Recipe, err = ParseHex(f[3]); err != nil {
				return nil, fmt.Errorf("%w: tree line %d: %v", ErrCorrupt, line, err)
			}
			if e.Recipe.IsZero() {
				return nil, fmt.Errorf("%w: tree line %d: zero recipe must be written -", ErrCorrupt, line)
			}
		}
		if err := ValidPath(f[4]); err != nil {
			return nil, fmt.Errorf("%w: tree line %d: %v", ErrCorrupt, line, err)
		}
		e.Path = f[4]
		if n := len(out); n > 0 && out[n-1].Path >= e.Path {
			return nil, fmt.Errorf("%w: tree line %d: %q is out of order or duplicated", ErrCorrupt, line, e.Path)
		}
		// A parent directory listed as a file sorts before its children, so it is
		// already in out, which is sorted: binary search finds it.
		for i := strings.IndexByte(e.Path, '/'); i >= 0; i = nextSlash(e.Path, i) {
			dir := e.Path[:i]
			if _, found := slices.BinarySearchFunc(out, dir, func(x TreeEntry, p string) int { return strings.Compare(x.Path, p) }); found {
				return nil, fmt.Errorf("%w: tree line %d: %q is below the file %q", ErrCorrupt, line, e.Path, dir)
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// nextSlash returns the index of the first '/' in p after index i, or -1.
func nextSlash(p string, i int) int {
	j := strings.IndexByte(p[i+1:], '/')
	if j < 0 {
		return -1
	}
	return i + 1 + j
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
