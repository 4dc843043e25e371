package manifest

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"

	"github.com/zeebo/blake3"
	"golang.org/x/sync/errgroup"

	"github.com/trove-dev/trove/objects"
)

// States reported by Status.
const (
	StateOK       = "ok"       // the data matches its manifest
	StateModified = "modified" // the data differs from its manifest
	StateMissing  = "missing"  // the manifest exists, the data does not (run checkout)
	StateInvalid  = "invalid"  // the manifest cannot be read
)

// FileChange is one difference inside a tracked directory.
type FileChange struct {
	Path   string `json:"path"`
	Change string `json:"change"` // added, removed, modified, mode
}

// StatusEntry is the state of one artifact.
type StatusEntry struct {
	Path    string       `json:"path"`
	Name    string       `json:"name,omitempty"`
	Kind    string       `json:"kind,omitempty"`
	Type    string       `json:"type,omitempty"`
	State   string       `json:"state"`
	Changes []FileChange `json:"changes,omitempty"`
	Error   string       `json:"error,omitempty"`
}

// StatusOptions configure Status.
type StatusOptions struct {
	Cwd   string
	Paths []string
	Jobs  int
}

// Status compares every selected artifact with its data. Unchanged files are
// recognised by the stat cache, so a clean tree costs a directory walk.
func (r *Repo) Status(ctx context.Context, opt StatusOptions) ([]StatusEntry, error) {
	only, err := r.Resolve(opt.Cwd, opt.Paths)
	if err != nil {
		return nil, err
	}
	tracked, err := r.List(ctx, only)
	if err != nil {
		return nil, err
	}
	if len(opt.Paths) > 0 && len(tracked) == 0 {
		return nil, fmt.Errorf("%s: %w", opt.Paths[0], ErrNotTracked)
	}
	out := make([]StatusEntry, 0, len(tracked))
	for _, t := range tracked {
		e := StatusEntry{Path: t.Path}
		if t.Err != nil {
			e.State, e.Error = StateInvalid, t.Err.Error()
			out = append(out, e)
			continue
		}
		m := t.Manifest
		e.Name, e.Kind, e.Type = m.Name, m.Kind, m.Type
		if err := r.status1(ctx, m, t.Path, &e, opt.Jobs); err != nil {
			return out, err
		}
		out = append(out, e)
	}
	return out, r.statCache().Save()
}

func (r *Repo) status1(ctx context.Context, m *Manifest, rel string, e *StatusEntry, jobs int) error {
	fi, err := os.Lstat(r.Abs(rel))
	if err != nil {
		e.State = StateMissing
		return nil
	}
	switch m.Type {
	case TypeFile:
		if !fi.Mode().IsRegular() {
			e.State = StateModified
			return nil
		}
		d, err := r.digest(rel, fi)
		if err != nil {
			return err
		}
		e.State = StateOK
		if d != m.Digest {
			e.State = StateModified
		}
		return nil
	default:
		if !fi.IsDir() {
			e.State = StateModified
			return nil
		}
		scan, err := r.scanDir(ctx, rel, jobs)
		if err != nil {
			return err
		}
		e.State = StateOK
		digest, modes := scan.fingerprints()
		same := digest == m.Digest
		if !same {
			e.State = StateModified
		}
		// Content equal and modes as they were the last time the recorded tree was
		// compared: clean, without reading the tree.
		cache := r.statCache()
		if same && cache.cleanTree(rel, m.Object, modes) {
			return nil
		}
		// With the recorded tree at hand, name the files that differ (and catch mode
		// changes, which the digest does not cover).
		if changes, err := r.diffScan(ctx, m, scan); err == nil {
			e.Changes = changes
			if len(e.Changes) > 0 {
				e.State = StateModified
			} else if same {
				cache.setCleanTree(rel, m.Object, modes)
			}
		}
		return nil
	}
}

// digest returns a file's BLAKE3, from the stat cache when it can.
func (r *Repo) digest(rel string, fi fs.FileInfo) (objects.ID, error) {
	if fi.Mode()&fs.ModeSymlink != 0 {
		t, err := os.Readlink(r.Abs(rel))
		return objects.Hash([]byte(t)), err
	}
	cache := r.statCache()
	if d, _, ok := cache.Lookup(rel, fi); ok {
		return d, nil
	}
	f, err := os.Open(r.Abs(rel))
	if err != nil {
		return objects.ID{}, err
	}
	defer f.Close()
	d, n, err := objects.HashReader(f)
	if err != nil {
		return d, fmt.Errorf("hash %s: %w", rel, err)
	}
	if n == fi.Size() {
		// Keep the recipe recorded for this content, if any: Add and Checkout
		// use it to know the content is stored.
		cache.Update(rel, fi, d, cache.recipeFor(rel, d))
	}
	return d, nil
}

// dirScan is a directory as it is now: its files (from the walk) and their
// digests, in path order.
type dirScan struct {
	rel     string
	files   []walkEntry
	digests []objects.ID
}

// scanDir walks a directory and finds every file's digest. Files the stat cache
// vouches for cost a step of a cursor over the cache, which is sorted like the
// walk; only the others are hashed, in parallel, and what they hash to is
// recorded in the cache.
func (r *Repo) scanDir(ctx context.Context, rel string, jobs int) (*dirScan, error) {
	files, err := r.walkFiles(rel)
	if err != nil {
		return nil, err
	}
	if jobs <= 0 {
		jobs = runtime.GOMAXPROCS(0)
	}
	cache := r.statCache()
	s := &dirScan{rel: rel, files: files, digests: make([]objects.ID, len(files))}
	cur := cache.cursor(rel + "/")
	var todo []int
	for i := range files {
		f := &files[i]
		if f.st.Mode().IsRegular() {
			if old, ok := cur.find(f.rel); ok && trusted(old, f.info()) {
				s.digests[i] = old.Digest
				continue
			}
		}
		todo = append(todo, i)
	}
	cur.finish()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(jobs)
	hashed := make([]bool, len(todo)) // the file was read whole: worth caching
	for k, i := range todo {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			f := &files[i]
			if f.st.Mode()&fs.ModeSymlink != 0 {
				t, err := os.Readlink(r.Abs(f.rel))
				s.digests[i] = objects.Hash([]byte(t))
				return err
			}
			h, err := os.Open(r.Abs(f.rel))
			if err != nil {
				return err
			}
			defer h.Close()
			d, n, err := objects.HashReader(h)
			if err != nil {
				return fmt.Errorf("hash %s: %w", f.rel, err)
			}
			s.digests[i], hashed[k] = d, n == f.st.size
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r.cacheHashed(rel, files, s.digests, todo, hashed)
	return s, nil
}

// cacheHashed records in the stat cache what the files todo (indices into files,
// increasing) hashed to, where hashed says the whole file was read. A few are
// single updates; many (every file touched, say) stream into a run replacing the
// directory's entries, read once more from the cache in order.
func (r *Repo) cacheHashed(rel string, files []walkEntry, digests []objects.ID, todo []int, hashed []bool) {
	cache := r.statCache()
	if len(todo) <= 4096 {
		for k, i := range todo {
			if hashed[k] {
				cache.Update(files[i].rel, files[i].info(), digests[i], objects.ID{})
			}
		}
		return
	}
	run, err := cache.beginRun(rel + "/")
	if err != nil {
		return // only an accelerator
	}
	cur := cache.cursor(rel + "/")
	k := 0
	for i := range files {
		f := &files[i]
		if !f.st.Mode().IsRegular() {
			for k < len(todo) && todo[k] <= i {
				k++
			}
			continue
		}
		old, had := cur.find(f.rel)
		for k < len(todo) && todo[k] < i {
			k++
		}
		switch {
		case k < len(todo) && todo[k] == i && hashed[k]:
			e, changed := cache.updated(old, had, f.info(), digests[i], objects.ID{})
			run.add(f.rel, e, changed)
		case had:
			run.add(f.rel, old, false)
		}
	}
	cur.finish()
	cache.endRun(run, cur.skipped)
}

// fingerprints returns, in one pass, the directory's TreeDigest and the digest of
// its paths and modes (modesDigest).
func (s *dirScan) fingerprints() (digest, modes objects.ID) {
	tw := objects.NewTreeWriter(nil)
	var mh modesHasher
	for i := range s.files {
		e := s.entry(i)
		if tw.Add(e) != nil {
			return objects.ID{}, objects.ID{}
		}
		mh.add(e.Path, e.Mode)
	}
	return tw.Digest(), mh.sum()
}

// path returns file i's path relative to the directory.
func (s *dirScan) path(i int) string { return s.files[i].rel[len(s.rel)+1:] }

func (s *dirScan) entry(i int) objects.TreeEntry {
	f := &s.files[i]
	return objects.TreeEntry{Path: f.rel[len(s.rel)+1:], Mode: fileMode(f.info()), Size: f.st.size, Digest: s.digests[i]}
}

// modesHasher computes the fingerprint of paths (relative to the directory) and
// modes that the stat cache keeps for a directory found clean (cleanTree).
type modesHasher struct {
	h   *blake3.Hasher
	buf []byte
}

func (m *modesHasher) add(path string, mode uint32) {
	if m.h == nil {
		m.h, m.buf = blake3.New(), make([]byte, 0, 8192)
	}
	m.buf = append(m.buf, path...)
	m.buf = binary.LittleEndian.AppendUint32(m.buf, mode)
	if len(m.buf) > 4096 {
		m.h.Write(m.buf)
		m.buf = m.buf[:0]
	}
}

func (m *modesHasher) sum() objects.ID {
	if m.h == nil {
		m.h = blake3.New()
	}
	m.h.Write(m.buf)
	m.buf = m.buf[:0]
	var id objects.ID
	m.h.Sum(id[:0])
	return id
}

// loadTree reads the tree object a directory manifest names.
func (r *Repo) loadTree(ctx context.Context, m *Manifest) ([]objects.TreeEntry, error) {
	st, err := r.Store()
	if err != nil {
		return nil, err
	}
	return LoadTree(ctx, st, m.Object)
}

// LoadTree reads and decodes the tree stored under recipe id.
func LoadTree(ctx context.Context, st *objects.Store, id objects.ID) ([]objects.TreeEntry, error) {
	var out []objects.TreeEntry
	err := WalkTree(ctx, st, id, func(e objects.TreeEntry) error {
		out = append(out, e)
		return nil
	})
	return out, err
}

// WalkTree calls fn with each entry of the tree stored under recipe id, in path
// order, as the tree is read: a tree of a million files is never in memory. An
// error from fn stops the walk and is returned.
func WalkTree(ctx context.Context, st *objects.Store, id objects.ID, fn func(objects.TreeEntry) error) error {
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, err := st.ReadContent(ctx, id, pw)
		pw.CloseWithError(err)
	}()
	tr := objects.NewTreeReader(pr)
	var err error
	for {
		var e objects.TreeEntry
		if e, err = tr.Next(); err != nil {
			break
		}
		if err = fn(e); err != nil {
			break
		}
	}
	pr.CloseWithError(errWalkStopped) // a reader still writing returns
	<-done
	if err == io.EOF {
		return nil
	}
	return err
}

var errWalkStopped = errors.New("tree walk stopped")

// diffScan lists the differences from the recorded tree, read as a stream, to
// the directory as scanned.
func (r *Repo) diffScan(ctx context.Context, m *Manifest, s *dirScan) ([]FileChange, error) {
	st, err := r.Store()
	if err != nil {
		return nil, err
	}
	var out []FileChange
	j := 0
	err = WalkTree(ctx, st, m.Object, func(o objects.TreeEntry) error {
		for ; j < len(s.files) && s.path(j) < o.Path; j++ {
			out = append(out, FileChange{Path: s.path(j), Change: "added"})
		}
		if j == len(s.files) || s.path(j) != o.Path {
			out = append(out, FileChange{Path: o.Path, Change: "removed"})
			return nil
		}
		c := s.entry(j)
		j++
		if o.Digest != c.Digest || o.Size != c.Size {
			out = append(out, FileChange{Path: c.Path, Change: "modified"})
		} else if o.Mode != c.Mode {
			out = append(out, FileChange{Path: c.Path, Change: "mode"})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for ; j < len(s.files); j++ {
		out = append(out, FileChange{Path: s.path(j), Change: "added"})
	}
	return out, nil
}
