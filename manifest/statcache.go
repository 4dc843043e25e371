package manifest

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/trove-dev/trove/objects"
)

// StatCache remembers, per repository-relative path, the file's size, mtime and
// inode together with its digest and recipe, like git's index. When all three
// still match, trove trusts the digest without reading the file. An entry whose
// mtime is not safely older than the moment the cache was written is "racy" (the
// file may have changed again within the timestamp's granularity) and is not
// trusted.
//
// It is safe for concurrent use.
type StatCache struct {
	path    string
	mu      sync.Mutex
	written int64 // unix ns when the loaded cache was saved
	entries map[string]statEntry
	dirty   bool
}

type statEntry struct {
	Size   int64
	Mtime  int64
	Ino    uint64
	Digest objects.ID
	Recipe objects.ID
}

// racyWindow is how much older than the cache an mtime must be to be trusted.
const racyWindow = 2 * time.Second

const statMagic = "TRVSTAT1"

// OpenStatCache loads the cache at path; a missing or unreadable cache is empty.
func OpenStatCache(path string) *StatCache {
	c := &StatCache{path: path, entries: map[string]statEntry{}}
	b, err := os.ReadFile(path)
	if err != nil {
		return c
	}
	if err := c.decode(b); err != nil {
		c.entries = map[string]statEntry{}
		c.written = 0
	}
	return c
}

func (c *StatCache) decode(b []byte) error {
	if len(b) < 16 || string(b[:8]) != statMagic {
		return errors.New("bad stat cache")
	}
	c.written = int64(binary.LittleEndian.Uint64(b[8:16]))
	r := bytes.NewReader(b[16:])
	for r.Len() > 0 {
		n, err := binary.ReadUvarint(r)
		if err != nil || n > objects.MaxPathLen {
			return errors.New("bad stat cache")
		}
		var rec [int(0) + 8 + 8 + 8 + 32 + 32]byte
		p := make([]byte, n)
		if _, err := io.ReadFull(r, p); err != nil {
			return err
		}
		if _, err := io.ReadFull(r, rec[:]); err != nil {
			return err
		}
		var e statEntry
		e.Size = int64(binary.LittleEndian.Uint64(rec[0:]))
		e.Mtime = int64(binary.LittleEndian.Uint64(rec[8:]))
		e.Ino = binary.LittleEndian.Uint64(rec[16:])
		copy(e.Digest[:], rec[24:56])
		copy(e.Recipe[:], rec[56:88])
		c.entries[string(p)] = e
	}
	return nil
}

func fileKey(fi fs.FileInfo) (size, mtime int64, ino uint64) {
	size, mtime = fi.Size(), fi.ModTime().UnixNano()
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		ino = st.Ino
	}
	return
}

// Lookup returns the cached digest and recipe of rel if fi still matches.
func (c *StatCache) Lookup(rel string, fi fs.FileInfo) (digest, recipe objects.ID, ok bool) {
	size, mtime, ino := fileKey(fi)
	c.mu.Lock()
	e, found := c.entries[rel]
	c.mu.Unlock()
	if !found || e.Size != size || e.Mtime != mtime || e.Ino != ino {
		return digest, recipe, false
	}
	if mtime > c.written-int64(racyWindow) {
		return digest, recipe, false
	}
	return e.Digest, e.Recipe, true
}

// Update records what rel hashed to when it had the attributes in fi.
func (c *StatCache) Update(rel string, fi fs.FileInfo, digest, recipe objects.ID) {
	size, mtime, ino := fileKey(fi)
	c.mu.Lock()
	defer c.mu.Unlock()
	e := statEntry{Size: size, Mtime: mtime, Ino: ino, Digest: digest, Recipe: recipe}
	if old, ok := c.entries[rel]; ok && old == e {
		return
	}
	c.entries[rel] = e
	c.dirty = true
}

// Save writes the cache atomically if it changed, or if it holds racy entries that a
// newer timestamp would make trustworthy.
func (c *StatCache) Save(now time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.dirty {
		racy := false
		for _, e := range c.entries {
			if e.Mtime > c.written-int64(racyWindow) {
				racy = true
				break
			}
		}
		if !racy {
			return nil
		}
	}
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	w.WriteString(statMagic)
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(now.UnixNano()))
	w.Write(n[:])
	var rec [88]byte
	var vb [binary.MaxVarintLen64]byte
	for p, e := range c.entries {
		w.Write(vb[:binary.PutUvarint(vb[:], uint64(len(p)))])
		w.WriteString(p)
		binary.LittleEndian.PutUint64(rec[0:], uint64(e.Size))
		binary.LittleEndian.PutUint64(rec[8:], uint64(e.Mtime))
		binary.LittleEndian.PutUint64(rec[16:], e.Ino)
		copy(rec[24:56], e.Digest[:])
		copy(rec[56:88], e.Recipe[:])
		w.Write(rec[:])
	}
	w.Flush()
	if err := os.MkdirAll(filepath.Dir(c.path), 0o755); err != nil {
		return err
	}
	if err := objects.WriteFileAtomic(c.path, buf.Bytes(), 0o644); err != nil {
		return err
	}
	c.written = now.UnixNano()
	c.dirty = false
	return nil
}
