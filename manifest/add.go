package manifest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
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
	if d, rec, ok := cache.Lookup(rel, fi); ok {
		have := false
		switch {
		case !rec.IsZero():
			have = st.Has(rec)
		case inline && fi.Size() == 0:
			have = true
		case inline:
			have = st.Has(d)
		}
		if have {
			if prog != nil {
				prog(fi.Size(), 1)
			}
			return objects.Content{Digest: d, Size: fi.Size(), Recipe: rec}, nil
		}
	}
	f, err := os.Open(r.Abs(rel))
	if err != nil {
		return objects.Content{}, err
	}
	defer f.Close()
	opt := objects.WriteOptions{Params: params, Inline: inline}
	if prog != nil {
		opt.Progress = func(n int64) { prog(n, 0) }
	}
	c, err := st.WriteContent(ctx, f, fi.Size(), opt)
	if err != nil {
		return c, fmt.Errorf("add %s: %w", rel, err)
	}
	if c.Size != fi.Size() {
		// The file changed while we read it; what we stored is consistent, but do not
		// cache it.
		return c, fmt.Errorf("add %s: file changed while it was read (%d bytes, then %d)", rel, fi.Size(), c.Size)
	}
	if prog != nil {
		prog(0, 1)
	}
	cache.Update(rel, fi, c.Digest, c.Recipe)
	return c, nil
}

type walkEntry struct {
	rel string // repository-relative
	fi  fs.FileInfo
}

// walkFiles lists the regular files and symlinks under the directory rel, sorted by
// path. It refuses special files and nested trove manifests.
func (r *Repo) walkFiles(rel string) ([]walkEntry, error) {
	files, _, err := r.walkFilesStale(rel)
	return files, err
}

// tmpMarker is in the name of every temporary file checkout writes beside the
// data; one left by a killed process is garbage, never data.
const tmpMarker = ".trove-tmp-"

// walkFilesStale is walkFiles that also returns the temporary files a killed
// checkout left behind (repository-relative), which it otherwise skips.
func (r *Repo) walkFilesStale(rel string) ([]walkEntry, []string, error) {
	// Directories are read in parallel: on a tree of many small files the cost is
	// the lstat of every file, which the kernel serves from its caches on all cores.
	root := r.Abs(rel)
	var (
		mu    sync.Mutex
		stale []string
		out   []walkEntry
		first error
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
	var walk func(dir, sub string)
	walk = func(dir, sub string) {
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
		sort.Slice(ents, func(i, j int) bool { return ents[i].Name() < ents[j].Name() })
		local := make([]walkEntry, 0, len(ents))
		var subdirs []fs.DirEntry
		for _, d := range ents {
			name := d.Name()
			s := name
			if sub != "" {
				s = sub + "/" + name
			}
			if strings.Contains(name, tmpMarker) && !d.IsDir() {
				mu.Lock()
				stale = append(stale, rel+"/"+s)
				mu.Unlock()
				continue
			}
			if isGitName(name) {
				// A directory or a file (as in a submodule or worktree): either makes
				// git treat the directory as a repository of its own.
				fail(fmt.Errorf("%s/%s: %w: a git repository inside a tracked directory", rel, s, ErrUnsupported))
				break
			}
			if d.IsDir() {
				subdirs = append(subdirs, d)
				continue
			}
			if err := objects.ValidPath(s); err != nil {
				fail(fmt.Errorf("%s/%s: %w: %v", rel, s, ErrUnsupported, err))
				break
			}
			if strings.HasSuffix(name, Ext) {
				fail(fmt.Errorf("%s/%s: %w: a trove manifest inside a tracked directory (remove it, or track the subdirectories separately)", rel, s, ErrUnsupported))
				break
			}
			fi, err := ds.lstat(name)
			if err != nil {
				fail(err)
				break
			}
			if !fi.Mode().IsRegular() && fi.Mode()&fs.ModeSymlink == 0 {
				fail(fmt.Errorf("%s/%s: %w: not a regular file, directory or symbolic link", rel, s, ErrUnsupported))
				break
			}
			local = append(local, walkEntry{rel: rel + "/" + s, fi: fi})
		}
		<-sem
		mu.Lock()
		out = append(out, local...)
		stop := first != nil
		mu.Unlock()
		if stop {
			return
		}
		for _, d := range subdirs {
			s := d.Name()
			if sub != "" {
				s = sub + "/" + s
			}
			wg.Add(1)
			go walk(dir+string(filepath.Separator)+d.Name(), s)
		}
	}
	wg.Add(1)
	walk(root, "")
	wg.Wait()
	if first != nil {
		return nil, nil, first
	}
	sort.Slice(out, func(i, j int) bool { return out[i].rel < out[j].rel })
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

func (r *Repo) addDir(ctx context.Context, st *objects.Store, rel string, m *Manifest, res *AddResult, params objects.ChunkerParams, opt AddOptions) error {
	files, err := r.walkFiles(rel)
	if err != nil {
		return err
	}
	var total int64
	for _, f := range files {
		total += f.fi.Size()
	}
	prog := progressFor(opt.Progress, rel, total, int64(len(files)))
	entries := make([]objects.TreeEntry, len(files))
	var newBytes atomic.Int64
	var newChunks atomic.Int64
	jobs := opt.Jobs
	if jobs <= 0 {
		jobs = runtime.GOMAXPROCS(0)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(jobs)
	for i, f := range files {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			if f.fi.Mode()&fs.ModeSymlink != 0 {
				e, err := r.linkEntry(st, f, rel)
				entries[i] = e
				if prog != nil {
					prog(0, 1)
				}
				return err
			}
			c, err := r.addFile(gctx, st, f.rel, f.fi, params, true, prog)
			if err != nil {
				return err
			}
			newBytes.Add(c.NewBytes)
			newChunks.Add(int64(c.NewChunks))
			entries[i] = objects.TreeEntry{
				Path: strings.TrimPrefix(f.rel, rel+"/"), Mode: fileMode(f.fi),
				Size: c.Size, Digest: c.Digest, Recipe: c.Recipe,
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	tree := objects.EncodeTree(entries)
	c, err := st.WriteContent(ctx, bytes.NewReader(tree), int64(len(tree)), objects.WriteOptions{Params: params})
	if err != nil {
		return fmt.Errorf("store tree of %s: %w", rel, err)
	}
	m.Digest, m.Object, m.Files, m.Size = objects.TreeDigest(entries), c.Recipe, int64(len(entries)), total
	res.NewBytes = newBytes.Load() + c.NewBytes
	res.NewChunks = int(newChunks.Load()) + c.NewChunks
	return nil
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
