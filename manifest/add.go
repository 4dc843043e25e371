package manifest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/trove-dev/trove/objects"
)

// Event reports progress of a long operation. Counts are cumulative.
type Event struct {
	Op         string // "add", "checkout", "status"
	Path       string // the artifact being worked on
	Bytes      int64
	TotalBytes int64
	Files      int64
	TotalFiles int64
}

// AddOptions configure Add.
type AddOptions struct {
	Cwd     string            // paths are relative to this directory
	Kind    string            // dataset, model or artifact; "" keeps the previous kind (default dataset)
	Name    string            // artifact name; default: the file or directory name
	Meta    map[string]string // merged over the previous manifest's metadata
	Lineage *Lineage          // recorded as given (trove run, trove add --input)
	Metrics map[string]float64
	// Progress, if set, receives events; it may be called from several goroutines,
	// but never concurrently.
	Progress func(Event)
	Jobs     int // files hashed in parallel; default GOMAXPROCS
}

// AddResult describes one added path.
type AddResult struct {
	Path      string     `json:"path"`
	Manifest  string     `json:"manifest"`
	Kind      string     `json:"kind"`
	Name      string     `json:"name"`
	Type      string     `json:"type"`
	Digest    objects.ID `json:"digest"`
	Size      int64      `json:"size"`
	Files     int64      `json:"files"`
	NewBytes  int64      `json:"new_bytes"`
	NewChunks int        `json:"new_chunks"`
	Unchanged bool       `json:"unchanged"`
	Warnings  []string   `json:"warnings,omitempty"`
}

// ManifestPath returns the repository-relative manifest path for a data path.
func ManifestPath(rel string) string { return rel + Ext }

// ReadManifest reads and decodes the manifest of the data at rel.
func (r *Repo) ReadManifest(rel string) (*Manifest, error) {
	b, err := readManifestFile(r.Abs(ManifestPath(rel)))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: %w", rel, ErrNotTracked)
		}
		return nil, fmt.Errorf("%s: %w", ManifestPath(rel), err)
	}
	m, err := Decode(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ManifestPath(rel), err)
	}
	if m.Path != path.Base(rel) {
		return nil, fmt.Errorf("%s: %w: path %q does not match the manifest's name", ManifestPath(rel), ErrInvalid, m.Path)
	}
	return m, nil
}

// readManifestFile reads at most MaxManifestSize+1 bytes of a regular file. A
// manifest comes from git, possibly from someone else: a symbolic link (to
// /dev/zero, say), a FIFO or a huge file must not hang or exhaust memory.
func readManifestFile(abs string) ([]byte, error) {
	fi, err := os.Lstat(abs)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: not a regular file (%s)", ErrInvalid, fi.Mode().Type())
	}
	f, err := os.Open(abs)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, MaxManifestSize+1))
}

// Add tracks each path: it stores the content's new chunks and writes the manifest
// and the .gitignore entry. Paths are processed in order; the first error stops
// the work, leaving already-finished paths tracked and the store consistent.
func (r *Repo) Add(ctx context.Context, paths []string, opt AddOptions) ([]AddResult, error) {
	if opt.Name != "" && len(paths) != 1 {
		return nil, fmt.Errorf("--name needs exactly one path, got %d", len(paths))
	}
	st, err := r.Store()
	if err != nil {
		return nil, err
	}
	// Manifests are written only once the chunks they name are durable: all paths
	// share packs, flushed once at the end (or when one fills), then every finished
	// path gets its manifest. A failure keeps what finished before it.
	var out []AddResult
	var pending []*Manifest
	var ferr error
	for _, p := range paths {
		rel, err := r.Rel(opt.Cwd, p)
		if err != nil {
			ferr = err
			break
		}
		res, m, err := r.addOne(ctx, st, rel, opt)
		if err != nil {
			ferr = err
			break
		}
		out = append(out, res)
		pending = append(pending, m)
	}
	if len(pending) == 0 {
		st.Abort() // nothing finished: leave no orphan chunks behind
		return nil, ferr
	}
	if err := st.Flush(); err != nil {
		st.Abort()
		return nil, err
	}
	for i, m := range pending {
		if err := r.writeManifest(out[i].Path, m); err != nil {
			return out[:i], err
		}
	}
	if err := r.statCache().Save(); ferr == nil {
		ferr = err
	}
	return out, ferr
}

func (r *Repo) writeManifest(rel string, m *Manifest) error {
	b, err := Encode(m)
	if err != nil {
		return err
	}
	if err := objects.WriteFileAtomic(r.Abs(ManifestPath(rel)), b, 0o644); err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	return r.ignore(rel)
}

func (r *Repo) addOne(ctx context.Context, st *objects.Store, rel string, opt AddOptions) (AddResult, *Manifest, error) {
	res, m, err := r.addOne1(ctx, st, rel, opt)
	if err != nil {
		return res, nil, err
	}
	return res, m, nil
}

func (r *Repo) addOne1(ctx context.Context, st *objects.Store, rel string, opt AddOptions) (AddResult, *Manifest, error) {
	if strings.HasSuffix(rel, Ext) {
		return AddResult{}, nil, fmt.Errorf("%s: %w: it is a trove manifest; add the data path %s", rel, ErrUnsupported, strings.TrimSuffix(rel, Ext))
	}
	if owner := r.trackedAncestor(rel); owner != "" {
		return AddResult{}, nil, fmt.Errorf("%s: %w: it is inside the tracked directory %s; add that again instead", rel, ErrUnsupported, owner)
	}
	abs := r.Abs(rel)
	fi, err := os.Lstat(abs)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return AddResult{}, nil, fmt.Errorf("%s: %w", rel, ErrNoSuchPath)
		}
		return AddResult{}, nil, err
	}
	res := AddResult{Path: rel, Manifest: ManifestPath(rel), Kind: opt.Kind}
	old, oldErr := r.ReadManifest(rel)
	if oldErr != nil && !errors.Is(oldErr, ErrNotTracked) {
		res.Warnings = append(res.Warnings, fmt.Sprintf("previous manifest ignored: %v", oldErr))
		old = nil
	}
	m := &Manifest{
		Trove: FormatVersion, Kind: opt.Kind, Path: path.Base(rel), Chunker: DefaultChunker(),
		Name: opt.Name, Lineage: opt.Lineage, Metrics: opt.Metrics,
	}
	if old != nil {
		if m.Name == "" {
			m.Name = old.Name
		}
		if m.Kind == "" {
			m.Kind = old.Kind
		}
		if len(old.Meta) > 0 {
			m.Meta = map[string]string{}
			for k, v := range old.Meta {
				m.Meta[k] = v
			}
		}
	}
	if m.Name == "" {
		m.Name = defaultName(path.Base(rel))
	}
	if m.Kind == "" {
		m.Kind = KindDataset
	}
	res.Kind = m.Kind
	for k, v := range opt.Meta {
		if !ValidMetaKey(k) {
			return res, nil, fmt.Errorf("metadata key %q: use lowercase letters, digits, '_', '.', '-'", k)
		}
		if m.Meta == nil {
			m.Meta = map[string]string{}
		}
		if v == "" {
			delete(m.Meta, k)
		} else {
			m.Meta[k] = v
		}
	}
	if len(m.Meta) == 0 {
		m.Meta = nil
	}
	params := m.Chunker.Params()
	switch {
	case fi.Mode().IsRegular():
		m.Type, m.Files = TypeFile, 1
		c, err := r.addFile(ctx, st, rel, fi, params, false, progressFor(opt.Progress, rel, fi.Size(), 1))
		if err != nil {
			return res, nil, err
		}
		m.Digest, m.Object, m.Size = c.Digest, c.Recipe, c.Size
		res.NewBytes, res.NewChunks = c.NewBytes, c.NewChunks
	case fi.IsDir():
		m.Type = TypeDir
		if err := r.addDir(ctx, st, rel, m, &res, params, opt); err != nil {
			return res, nil, err
		}
	case fi.Mode()&fs.ModeSymlink != 0:
		target, _ := os.Readlink(abs)
		return res, nil, fmt.Errorf("%s: %w: it is a symbolic link (to %s); add the file it points to", rel, ErrUnsupported, target)
	default:
		return res, nil, fmt.Errorf("%s: %w: not a regular file or directory", rel, ErrUnsupported)
	}
	// Tabular datasets get a data profile (columns, types, nulls, rows), which the
	// policy's data-quality rules compare between versions.
	if m.Type == TypeFile && m.Kind == KindDataset && (old == nil || old.Digest != m.Digest || old.Profile == nil) {
		if format := ProfileFormat(rel); format != "" {
			if p, err := ProfileFile(abs, format); err == nil {
				m.Profile = p
			} else {
				res.Warnings = append(res.Warnings, fmt.Sprintf("no data profile: %v", err))
			}
		}
	}
	// Same bytes as before: what the manifest said about how they were made, and
	// how they scored, still holds (trove add --meta after trove run keeps both).
	if old != nil && old.Digest == m.Digest {
		if m.Lineage == nil {
			m.Lineage = old.Lineage
		}
		if m.Metrics == nil {
			m.Metrics = old.Metrics
		}
		if m.Profile == nil {
			m.Profile = old.Profile
		}
	}
	if err := m.Validate(); err != nil {
		return res, nil, fmt.Errorf("%s: %w", rel, err)
	}
	res.Name, res.Type, res.Digest, res.Size, res.Files = m.Name, m.Type, m.Digest, m.Size, m.Files
	res.Unchanged = old != nil && old.Digest == m.Digest
	return res, m, nil
}

func defaultName(base string) string {
	var b strings.Builder
	for _, c := range base {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
			b.WriteRune(c)
		default:
			b.WriteByte('-')
		}
	}
	s := strings.TrimLeft(b.String(), ".-_")
	if s == "" {
		s = "artifact"
	}
	if len(s) > 128 {
		s = s[:128]
	}
	return s
}

// trackedAncestor returns the tracked directory that contains rel, if any.
func (r *Repo) trackedAncestor(rel string) string {
	for d := path.Dir(rel); d != "." && d != "/"; d = path.Dir(d) {
		if _, err := os.Stat(r.Abs(ManifestPath(d))); err == nil {
			return d
		}
	}
	return ""
}

type progressFn func(bytes, files int64)

func progressFor(p func(Event), rel string, totalBytes, totalFiles int64) progressFn {
	if p == nil {
		return nil
	}
	var mu sync.Mutex
	var ev = Event{Op: "add", Path: rel, TotalBytes: totalBytes, TotalFiles: totalFiles}
	return func(b, f int64) {
		mu.Lock()
		ev.Bytes += b
		ev.Files += f
		e := ev
		p(e)
		mu.Unlock()
	}
}

// addFile stores one regular file, trusting the stat cache when it can.
func (r *Repo) addFile(ctx context.Context, st *objects.Store, rel string, fi fs.FileInfo, params objects.ChunkerParams, inline bool, prog progressFn) (objects.Content, error) {
	cache := r.statCache()
	old, had := cache.get(rel)
	c, e, changed, err := r.storeFile(ctx, st, rel, fi, params, inline, prog, old, had)
	if err == nil && changed {
		cache.put(rel, e)
	}
	return c, err
}

// storeFile stores one regular file unless old, its stat cache entry, vouches
// for it and its content is in the store. It returns the entry to record and
// whether it differs from old.
func (r *Repo) storeFile(ctx context.Context, st *objects.Store, rel string, fi fs.FileInfo, params objects.ChunkerParams, inline bool, prog progressFn, old statEntry, had bool) (objects.Content, statEntry, bool, error) {
	if had && trusted(old, fi) {
		have := false
		switch {
		case !old.Recipe.IsZero():
			have = st.Has(old.Recipe)
		case inline && fi.Size() == 0:
			have = true
		case inline:
			have = st.Has(old.Digest)
		}
		if have {
			if prog != nil {
				prog(fi.Size(), 1)
			}
			return objects.Content{Digest: old.Digest, Size: fi.Size(), Recipe: old.Recipe}, old, false, nil
		}
	}
	f, err := os.Open(r.Abs(rel))
	if err != nil {
		return objects.Content{}, old, false, err
	}
	defer f.Close()
	opt := objects.WriteOptions{Params: params, Inline: inline}
	if prog != nil {
		opt.Progress = func(n int64) { prog(n, 0) }
	}
	c, err := st.WriteContent(ctx, f, fi.Size(), opt)
	if err != nil {
		return c, old, false, fmt.Errorf("add %s: %w", rel, err)
	}
	if c.Size != fi.Size() {
		// The file changed while we read it; what we stored is consistent, but do not
		// cache it.
		return c, old, false, fmt.Errorf("add %s: file changed while it was read (%d bytes, then %d)", rel, fi.Size(), c.Size)
	}
	if prog != nil {
		prog(0, 1)
	}
	e, changed := r.statCache().updated(old, had, fi, c.Digest, c.Recipe)
	return c, e, changed, nil
}

// walkEntry is a file found by a directory walk, with what lstat said of it.
type walkEntry struct {
	rel string   // repository-relative
	st  statInfo // its name is the last element of rel
}

// info returns the entry's attributes (it points into the entry).
func (w *walkEntry) info() fs.FileInfo { return &w.st }

// walkFiles lists the regular files and symlinks under the directory rel, sorted by
// path. It refuses special files and nested trove manifests.
func (r *Repo) walkFiles(rel string) ([]walkEntry, error) {
	files, _, err := r.walkFilesStale(rel)
	return files, err
}

// tmpMarker is in the name of every temporary file checkout writes beside the
// data; one left by a killed process is garbage, never data.
const tmpMarker = ".trove-tmp-"

// walkDir is one directory of a walk: its files, and its subdirectories at the
// place their paths sort among the files.
type walkDir struct {
	files []walkEntry
	subs  []walkSub
}

type walkSub struct {
	at  int // the subdirectory's paths sort before files[at]
	dir *walkDir
}

// walkFilesStale is walkFiles that also returns the temporary files a killed
// checkout left behind (repository-relative), which it otherwise skips.
func (r *Repo) walkFilesStale(rel string) ([]walkEntry, []string, error) {
	// Directories are read in parallel: on a tree of many small files the cost is
	// the lstat of every file, which the kernel serves from its caches on all cores.
	// Each directory's entries are sorted by their key, the name for a file and the
	// name and "/" for a directory: in that order, listing the files depth first
	// gives all paths sorted by bytes, with no sort of the whole list.
	root := r.Abs(rel)
	var (
		mu    sync.Mutex
		stale []string
		first error
		count atomic.Int64
		wg    sync.WaitGroup
		sem   = make(chan struct{}, 4*runtime.GOMAXPROCS(0))
	)
	fail := func(err error) {
		mu.Lock()
		if first == nil {
			first = err
		}
		mu.Unlock()
	}
	failed := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return first != nil
	}
	var walk func(dir, prefix string, node *walkDir)
	walk = func(dir, prefix string, node *walkDir) {
		defer wg.Done()
		sem <- struct{}{}
		ds, err := openDirStatter(dir)
		if err != nil {
			<-sem
			fail(err)
			return
		}
		defer ds.close()
		ents, err := ds.f.ReadDir(-1)
		if err != nil {
			<-sem
			fail(err)
			return
		}
		key := func(d fs.DirEntry) string {
			if d.IsDir() {
				return d.Name() + "/"
			}
			return d.Name()
		}
		slices.SortFunc(ents, func(a, b fs.DirEntry) int { return strings.Compare(key(a), key(b)) })
		node.files = make([]walkEntry, 0, len(ents))
		for _, d := range ents {
			name := d.Name()
			p := prefix + name
			if strings.Contains(name, tmpMarker) && !d.IsDir() {
				mu.Lock()
				stale = append(stale, p)
				mu.Unlock()
				continue
			}
			s := p[len(rel)+1:]
			if isGitName(name) {
				// A directory or a file (as in a submodule or worktree): either makes
				// git treat the directory as a repository of its own.
				fail(fmt.Errorf("%s: %w: a git repository inside a tracked directory", p, ErrUnsupported))
				break
			}
			if d.IsDir() {
				node.subs = append(node.subs, walkSub{at: len(node.files), dir: &walkDir{}})
				continue
			}
			if err := objects.ValidPath(s); err != nil {
				fail(fmt.Errorf("%s: %w: %v", p, ErrUnsupported, err))
				break
			}
			if strings.HasSuffix(name, Ext) {
				fail(fmt.Errorf("%s: %w: a trove manifest inside a tracked directory (remove it, or track the subdirectories separately)", p, ErrUnsupported))
				break
			}
			node.files = append(node.files, walkEntry{rel: p})
			w := &node.files[len(node.files)-1]
			w.st.name = p[len(p)-len(name):]
			if err := ds.lstatInto(name, &w.st); err != nil {
				fail(err)
				break
			}
			if m := w.st.Mode(); !m.IsRegular() && m&fs.ModeSymlink == 0 {
				fail(fmt.Errorf("%s: %w: not a regular file, directory or symbolic link", p, ErrUnsupported))
				break
			}
		}
		<-sem
		count.Add(int64(len(node.files)))
		if failed() {
			return
		}
		si := 0
		for _, d := range ents {
			if !d.IsDir() {
				continue
			}
			sub := node.subs[si]
			si++
			wg.Add(1)
			go walk(dir+string(filepath.Separator)+d.Name(), prefix+d.Name()+"/", sub.dir)
		}
	}
	top := &walkDir{}
	wg.Add(1)
	walk(root, rel+"/", top)
	wg.Wait()
	if first != nil {
		return nil, nil, first
	}
	out := make([]walkEntry, 0, count.Load())
	var flatten func(d *walkDir)
	flatten = func(d *walkDir) {
		si := 0
		for i := range d.files {
			for si < len(d.subs) && d.subs[si].at == i {
				flatten(d.subs[si].dir)
				si++
			}
			out = append(out, d.files[i])
		}
		for ; si < len(d.subs); si++ {
			flatten(d.subs[si].dir)
		}
	}
	flatten(top)
	slices.Sort(stale)
	return out, stale, nil
}

func fileMode(fi fs.FileInfo) uint32 {
	if fi.Mode()&fs.ModeSymlink != 0 {
		return objects.ModeSymlink
	}
	if fi.Mode()&0o111 != 0 {
		return objects.ModeExec
	}
	return objects.ModeFile
}

// linkEntry records a symbolic link inside a tracked directory; links that lead
// outside the repository are refused, never followed.
func (r *Repo) linkEntry(st *objects.Store, e walkEntry, dirRel string) (objects.TreeEntry, error) {
	target, err := os.Readlink(r.Abs(e.rel))
	if err != nil {
		return objects.TreeEntry{}, err
	}
	if !r.linkInside(e.rel, target) {
		return objects.TreeEntry{}, fmt.Errorf("%s: %w: symbolic link to %s points outside the repository (not followed)", e.rel, ErrUnsupported, target)
	}
	b := []byte(target)
	id := objects.Hash(b)
	if _, err := st.Put(id, b); err != nil {
		return objects.TreeEntry{}, err
	}
	return objects.TreeEntry{Path: strings.TrimPrefix(e.rel, dirRel+"/"), Mode: objects.ModeSymlink, Size: int64(len(b)), Digest: id}, nil
}

// linkInside reports whether a symbolic link at rel with this target text is
// relative and, resolved lexically from the link's directory, stays inside the
// working tree.
func (r *Repo) linkInside(rel, target string) bool {
	if target == "" || filepath.IsAbs(target) {
		return false
	}
	resolved := filepath.Join(filepath.Dir(r.Abs(rel)), target)
	relTo, err := filepath.Rel(r.Root, resolved)
	return err == nil && relTo != ".." && !strings.HasPrefix(relTo, ".."+string(filepath.Separator))
}

// isGitName reports whether a path segment names git's own directory (or file).
// It ignores case, as case-insensitive file systems do.
func isGitName(seg string) bool { return strings.EqualFold(seg, ".git") }

// addDir stores a directory's files and its tree. Everything streams: files are
// stored in parallel but their entries are taken in path order, to be written
// straight into the tree object (which is chunked and stored as it grows) and
// into the stat cache (a run replacing the directory's entries), so memory does
// not grow with the number of files beyond the walk itself.
func (r *Repo) addDir(ctx context.Context, st *objects.Store, rel string, m *Manifest, res *AddResult, params objects.ChunkerParams, opt AddOptions) error {
	files, err := r.walkFiles(rel)
	if err != nil {
		return err
	}
	var total int64
	for i := range files {
		total += files[i].st.size
	}
	prog := progressFor(opt.Progress, rel, total, int64(len(files)))
	jobs := opt.Jobs
	if jobs <= 0 {
		jobs = runtime.GOMAXPROCS(0)
	}
	cache := r.statCache()
	cur := cache.cursor(rel + "/")
	run, err := cache.beginRun(rel + "/")
	if err != nil {
		return err
	}
	ended := false
	defer func() {
		if !ended {
			run.discard()
		}
	}()

	// The tree streams into the store through a pipe.
	pr, pw := io.Pipe()
	type stored struct {
		c   objects.Content
		err error
	}
	treeDone := make(chan stored, 1)
	go func() {
		c, err := st.WriteContent(ctx, pr, -1, objects.WriteOptions{Params: params})
		pr.CloseWithError(err) // a writer blocked on a failed store returns
		treeDone <- stored{c, err}
	}()
	bw := bufio.NewWriterSize(pw, 256<<10)
	tw := objects.NewTreeWriter(bw)

	var newBytes, newChunks int64
	var modes modesHasher
	g, gctx := errgroup.WithContext(ctx)
	work := make(chan *dirJob, 2*jobs)
	order := make(chan *dirJob, 256*jobs) // bounds the entries waiting for an earlier one
	g.Go(func() error {                   // hands out the files in order
		defer close(work)
		defer close(order)
		for _, f := range files {
			j := &dirJob{f: f, done: make(chan struct{})}
			if f.st.Mode().IsRegular() {
				j.old, j.had = cur.find(f.rel)
			}
			select {
			case order <- j:
			case <-gctx.Done():
				return gctx.Err()
			}
			select {
			case work <- j:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		cur.finish()
		return nil
	})
	for range jobs {
		g.Go(func() error {
			for j := range work {
				if gctx.Err() == nil {
					r.addDirFile(gctx, st, rel, params, prog, j)
				}
				close(j.done)
			}
			return nil
		})
	}
	g.Go(func() error { // takes the entries in order
		for j := range order {
			select {
			case <-j.done:
			case <-gctx.Done():
				return gctx.Err()
			}
			if j.err != nil {
				return j.err
			}
			newBytes += j.c.NewBytes
			newChunks += int64(j.c.NewChunks)
			if err := tw.Add(j.entry); err != nil {
				return fmt.Errorf("tree of %s: %w", rel, err)
			}
			modes.add(j.entry.Path, j.entry.Mode)
			if j.cached {
				run.add(j.f.rel, j.cent, j.changed)
			}
		}
		return nil
	})
	err = g.Wait()
	if err == nil {
		err = ctx.Err()
	}
	if err == nil {
		err = tw.Close()
	}
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		pw.CloseWithError(err)
		<-treeDone
		return err
	}
	pw.Close()
	t := <-treeDone
	if t.err != nil {
		return fmt.Errorf("store tree of %s: %w", rel, t.err)
	}
	ended = true
	cache.endRun(run, cur.skipped)
	// The tree is this directory as walked: status need not read it to know so.
	cache.setCleanTree(rel, t.c.Recipe, modes.sum())
	m.Digest, m.Object, m.Files, m.Size = tw.Digest(), t.c.Recipe, tw.Len(), total
	res.NewBytes = newBytes + t.c.NewBytes
	res.NewChunks = int(newChunks) + t.c.NewChunks
	return nil
}

// dirJob is one file of addDir.
type dirJob struct {
	f    walkEntry
	old  statEntry // its stat cache entry, if had
	had  bool
	done chan struct{}
	// Results.
	entry   objects.TreeEntry
	c       objects.Content
	cent    statEntry // the stat cache entry to record, if cached
	changed bool      // cent differs from old
	cached  bool
	err     error
}

// addDirFile stores one file of a directory (see addDir).
func (r *Repo) addDirFile(ctx context.Context, st *objects.Store, dirRel string, params objects.ChunkerParams, prog progressFn, j *dirJob) {
	if j.f.st.Mode()&fs.ModeSymlink != 0 {
		j.entry, j.err = r.linkEntry(st, j.f, dirRel)
		if prog != nil {
			prog(0, 1)
		}
		return
	}
	j.c, j.cent, j.changed, j.err = r.storeFile(ctx, st, j.f.rel, j.f.info(), params, true, prog, j.old, j.had)
	if j.err != nil {
		return
	}
	j.cached = true
	j.entry = objects.TreeEntry{
		Path: strings.TrimPrefix(j.f.rel, dirRel+"/"), Mode: fileMode(j.f.info()),
		Size: j.c.Size, Digest: j.c.Digest, Recipe: j.c.Recipe,
	}
}

// ignore adds "/<name>" to the .gitignore beside rel, unless already there.
func (r *Repo) ignore(rel string) error {
	dir, base := path.Dir(rel), path.Base(rel)
	gi := r.Abs(path.Join(dir, ".gitignore"))
	line := gitignoreLine(base)
	b, err := os.ReadFile(gi)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.TrimSuffix(l, "\r") == line {
			return nil
		}
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		b = append(b, '\n')
	}
	b = append(b, line+"\n"...)
	return objects.WriteFileAtomic(gi, b, 0o644)
}

// gitignoreLine returns the .gitignore pattern that matches exactly the file or
// directory called name beside the .gitignore: "/" + name, with the glob
// characters * ? [ and \ escaped by a backslash, as are trailing spaces (which git
// would otherwise drop). Without the escapes "/data[1].csv" would ignore
// data1.csv and leave data[1].csv to be committed.
func gitignoreLine(name string) string {
	var b strings.Builder
	b.WriteByte('/')
	trimmed := strings.TrimRight(name, " ")
	for _, c := range trimmed {
		if strings.ContainsRune(`*?[\`, c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	for range len(name) - len(trimmed) {
		b.WriteString(`\ `)
	}
	return b.String()
}
