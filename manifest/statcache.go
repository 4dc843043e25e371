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
// It is safe for concurrent use.
type StatCache struct {
	path    string
	now     func() time.Time
	mu      sync.Mutex
	entries map[string]statEntry
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

// The file: statMagic, then per entry a uvarint path length, the path, size,
// mtime, inode and hash time (u64 LE each), digest and recipe (32 bytes each);
// last, the BLAKE3 of everything before it, so that a damaged cache is noticed
// (and ignored) rather than trusted.
const (
	statMagic  = "TRVSTAT3"
	statRecLen = 4*8 + 32 + 32
)

// OpenStatCache loads the cache at path; a missing, unreadable or corrupt cache is
// empty. now is the clock (nil: time.Now).
func OpenStatCache(path string, now func() time.Time) *StatCache {
	if now == nil {
		now = time.Now
	}
	c := &StatCache{path: path, now: now, entries: map[string]statEntry{}}
	b, err := os.ReadFile(path)
	if err != nil {
		return c
	}
	if err := c.decode(b); err != nil {
		c.entries = map[string]statEntry{}
	}
	return c
}

func (c *StatCache) decode(b []byte) error {
	if len(b) < len(statMagic)+32 || string(b[:len(statMagic)]) != statMagic {
		return errors.New("bad stat cache")
	}
	b, sum := b[:len(b)-32], b[len(b)-32:]
	if objects.Hash(b) != objects.ID(sum) {
		return errors.New("stat cache checksum mismatch")
	}
	r := bytes.NewReader(b[len(statMagic):])
	c.entries = make(map[string]statEntry, len(b)/(statRecLen+40))
	var rec [statRecLen]byte
	for r.Len() > 0 {
		n, err := binary.ReadUvarint(r)
		if err != nil || n > objects.MaxPathLen {
			return errors.New("bad stat cache")
		}
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
		e.Hashed = int64(binary.LittleEndian.Uint64(rec[24:]))
		copy(e.Digest[:], rec[32:64])
		copy(e.Recipe[:], rec[64:96])
		c.entries[string(p)] = e
	}
	return nil
}

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

// Lookup returns the cached digest and recipe of rel if fi still matches and the
// entry is not racy.
func (c *StatCache) Lookup(rel string, fi fs.FileInfo) (digest, recipe objects.ID, ok bool) {
	size, mtime, ino := fileKey(fi)
	c.mu.Lock()
	e, found := c.entries[rel]
	c.mu.Unlock()
	if !found || e.Size != size || e.Mtime != mtime || e.Ino != ino {
		return digest, recipe, false
	}
	if mtime > e.Hashed-int64(racyWindow) {
		return digest, recipe, false
	}
	return e.Digest, e.Recipe, true
}

// recipeFor returns the recipe recorded for rel if the recorded digest is digest,
// whatever the file's attributes now (the caller has hashed the file): content
// known by its hash is known. It returns the zero id otherwise.
func (c *StatCache) recipeFor(rel string, digest objects.ID) objects.ID {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[rel]; ok && e.Digest == digest {
		return e.Recipe
	}
	return objects.ID{}
}

// Update records what rel hashed to when it had the attributes in fi. Call it
// with fi as it was before the file was read.
func (c *StatCache) Update(rel string, fi fs.FileInfo, digest, recipe objects.ID) {
	size, mtime, ino := fileKey(fi)
	now := c.now().UnixNano()
	c.mu.Lock()
	defer c.mu.Unlock()
	old, had := c.entries[rel]
	if had && recipe.IsZero() && old.Digest == digest {
		// Hashing alone (status) learns no recipe; keep the one add or checkout
		// recorded for the same content, so it stays known to be in the store.
		recipe = old.Recipe
	}
	e := statEntry{Size: size, Mtime: mtime, Ino: ino, Hashed: now, Digest: digest, Recipe: recipe}
	if had && old.Size == e.Size && old.Mtime == e.Mtime && old.Ino == e.Ino && old.Digest == e.Digest &&
		old.Recipe == e.Recipe && mtime <= old.Hashed-int64(racyWindow) {
		return // already trusted; keep the file unchanged
	}
	c.entries[rel] = e
	c.dirty = true
}

// Save writes the cache atomically if it changed.
func (c *StatCache) Save() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.dirty {
		return nil
	}
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	w.WriteString(statMagic)
	var rec [statRecLen]byte
	var vb [binary.MaxVarintLen64]byte
	for p, e := range c.entries {
		w.Write(vb[:binary.PutUvarint(vb[:], uint64(len(p)))])
		w.WriteString(p)
		binary.LittleEndian.PutUint64(rec[0:], uint64(e.Size))
		binary.LittleEndian.PutUint64(rec[8:], uint64(e.Mtime))
		binary.LittleEndian.PutUint64(rec[16:], e.Ino)
		binary.LittleEndian.PutUint64(rec[24:], uint64(e.Hashed))
		copy(rec[32:64], e.Digest[:])
		copy(rec[64:96], e.Recipe[:])
		w.Write(rec[:])
	}
	w.Flush()
	sum := objects.Hash(buf.Bytes())
	buf.Write(sum[:])
	if err := os.MkdirAll(filepath.Dir(c.path), 0o755); err != nil {
		return err
	}
	// The cache is only an accelerator: no fsync needed, a torn write is caught by
	// the checksum and costs one re-hash.
	tmp := c.path + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, c.path); err != nil {
		return err
	}
	c.dirty = false
	return nil
}

// Directory fingerprints share the cache under keys no path can have (NUL): the
// tree object a directory was last found clean against, and the fingerprint of
// its paths and modes then.
const treeKeyPrefix = "\x00tree:"

func (c *StatCache) cleanTree(rel string, object, modes objects.ID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[treeKeyPrefix+rel]
	return ok && e.Digest == object && e.Recipe == modes
}

func (c *StatCache) setCleanTree(rel string, object, modes objects.ID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := treeKeyPrefix + rel
	if e, ok := c.entries[k]; ok && e.Digest == object && e.Recipe == modes {
		return
	}
	c.entries[k] = statEntry{Digest: object, Recipe: modes}
	c.dirty = true
}
