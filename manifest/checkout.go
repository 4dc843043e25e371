package manifest

import (
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

	"github.com/zeebo/blake3"
	"golang.org/x/sync/errgroup"

	"github.com/trove-dev/trove/objects"
)

// ErrIncomplete is returned (wrapped) when checkout could not restore some files;
// the others are restored.
var ErrIncomplete = errors.New("checkout incomplete")

// ErrConflict is returned (wrapped) when checkout would overwrite changes that are
// not saved in the store.
var ErrConflict = errors.New("local changes would be overwritten")

// CheckoutOptions configure Checkout.
type CheckoutOptions struct {
	Cwd   string
	Paths []string
	// Force overwrites files whose current content trove has never stored.
	Force    bool
	Jobs     int
	Progress func(Event)
	// Manifests, if set, are checked out instead of the ones in the working tree
	// (checkout of another revision), keyed by repository-relative data path.
	Manifests []Tracked
}

// FileProblem is a file checkout could not restore.
type FileProblem struct {
	Path  string `json:"path"`
	Error string `json:"error"`
	err   error
}

// CheckoutEntry summarizes one artifact.
type CheckoutEntry struct {
	Path     string        `json:"path"`
	Restored int64         `json:"restored"`
	Bytes    int64         `json:"bytes"`
	Current  int64         `json:"current"` // files already right
	Removed  int64         `json:"removed"` // stale files removed from a tracked directory
	Kept     []string      `json:"kept,omitempty"`
	Problems []FileProblem `json:"problems,omitempty"`
}

// Checkout makes the data match the manifests, restoring files from the local store
// byte for byte (verified) with their modes. Files already right are not written.
// Problems with single files (missing or corrupt objects, local changes) are
// reported per file while the rest is restored; the error then wraps
// ErrIncomplete and the first problem's cause.
func (r *Repo) Checkout(ctx context.Context, opt CheckoutOptions) ([]CheckoutEntry, error) {
	tracked := opt.Manifests
	if tracked == nil {
		only, err := r.Resolve(opt.Cwd, opt.Paths)
		if err != nil {
			return nil, err
		}
		tracked, err = r.List(ctx, only)
		if err != nil {
			return nil, err
		}
		if len(opt.Paths) > 0 && len(tracked) == 0 {
			return nil, fmt.Errorf("%s: %w", opt.Paths[0], ErrNotTracked)
		}
	}
	st, err := r.Store()
	if err != nil {
		return nil, err
	}
	var out []CheckoutEntry
	var first error
	for _, t := range tracked {
		if t.Err != nil {
			return out, t.Err
		}
		e := CheckoutEntry{Path: t.Path}
		if err := r.checkout1(ctx, st, t.Manifest, t.Path, t.Only, &e, opt); err != nil {
			return out, err
		}
		for _, p := range e.Problems {
			if first == nil {
				first = p.err
			}
		}
		out = append(out, e)
	}
	if err := r.statCache().Save(); err != nil {
		return out, err
	}
	if first != nil {
		return out, fmt.Errorf("%w: %w", ErrIncomplete, first)
	}
	return out, nil
}

func (r *Repo) checkout1(ctx context.Context, st *objects.Store, m *Manifest, rel string, only []string, e *CheckoutEntry, opt CheckoutOptions) error {
	dirs := &dirGuard{r: r, ok: map[string]bool{}}
	if m.Type == TypeFile {
		fe := objects.TreeEntry{Path: path.Base(rel), Mode: objects.ModeFile, Size: m.Size, Digest: m.Digest, Recipe: m.Object}
		prog := progressFor(opt.Progress, rel, m.Size, 1)
		if fi, err := os.Lstat(r.Abs(rel)); err == nil && fi.IsDir() {
			return fmt.Errorf("%s: %w: a directory is where the file should be", rel, ErrConflict)
		}
		// Temporary files a killed checkout left beside this one are garbage.
		if olds, _ := filepath.Glob(filepath.Join(filepath.Dir(r.Abs(rel)), "."+globEscape(path.Base(rel))+tmpMarker+"*")); len(olds) > 0 {
			for _, o := range olds {
				os.Remove(o)
			}
		}
		wrote, err := false, dirs.ensure(path.Dir(rel))
		if err == nil {
			wrote, err = r.restore(ctx, st, rel, fe, true, opt.Force, prog)
		}
		tally(e, fe, wrote, err)
		return ctx.Err()
	}
	dirAbs := r.Abs(rel)
	if fi, err := os.Lstat(dirAbs); err == nil && !fi.IsDir() {
		return fmt.Errorf("%s: %w: a file is where the directory should be", rel, ErrConflict)
	}
	entries, err := LoadTree(ctx, st, m.Object)
	if err != nil {
		err = fmt.Errorf("read tree: %w", err)
	} else if err = checkTree(entries); err == nil {
		if err = dirs.ensure(rel); err == nil && caseInsensitive(dirAbs) {
			err = checkCaseCollisions(entries)
		}
	}
	if err != nil {
		e.Problems = append(e.Problems, FileProblem{Path: rel, Error: err.Error(), err: err})
		return nil
	}
	// The tree is sorted by path: what it lists is found by binary search, not a
	// map of a million paths.
	all := entries
	want := func(p string) bool {
		_, ok := slices.BinarySearchFunc(all, p, func(e objects.TreeEntry, p string) int { return strings.Compare(e.Path, p) })
		return ok
	}
	if only != nil {
		entries = FilterEntries(entries, only)
	}
	// Files in the directory that the tree lacks: remove those whose content the
	// store holds (nothing is lost), keep the rest and say so. A partial checkout
	// (only some files of the directory) leaves the rest of the directory alone.
	existing, stale, werr := r.walkFilesStale(rel)
	for _, p := range stale {
		os.Remove(r.Abs(p))
	}
	if err := werr; err == nil && only == nil {
		for i := range existing {
			f := &existing[i]
			sub := f.rel[len(rel)+1:]
			if want(sub) {
				continue
			}
			if opt.Force || r.safeToReplace(st, f.rel, f.info()) {
				if err := os.Remove(r.Abs(f.rel)); err == nil {
					e.Removed++
				}
			} else {
				e.Kept = append(e.Kept, sub)
			}
		}
	}
	prog := progressFor(opt.Progress, rel, m.Size, m.Files)
	jobs := opt.Jobs
	if jobs <= 0 {
		jobs = runtime.GOMAXPROCS(0)
	}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(jobs)
	for _, fe := range entries {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			frel := rel + "/" + fe.Path
			var wrote bool
			err := dirs.ensure(path.Dir(frel))
			if err == nil {
				wrote, err = r.restore(gctx, st, frel, fe, false, opt.Force, prog)
			}
			mu.Lock()
			tally(e, fe, wrote, err)
			mu.Unlock()
			return nil
		})
	}
	g.Wait()
	return ctx.Err()
}

func tally(e *CheckoutEntry, fe objects.TreeEntry, wrote bool, err error) {
	switch {
	case err != nil:
		e.Problems = append(e.Problems, FileProblem{Path: fe.Path, Error: err.Error(), err: err})
	case wrote:
		e.Restored++
		e.Bytes += fe.Size
	default:
		e.Current++
	}
}

// safeToReplace reports whether overwriting or removing the file loses nothing:
// a symbolic link (its target text is recorded wherever it was tracked), an empty
// file, or a regular file whose content is known (from the stat cache, or by
// hashing it) and held by the store.
func (r *Repo) safeToReplace(st *objects.Store, rel string, fi fs.FileInfo) bool {
	if fi.Mode()&fs.ModeSymlink != 0 || fi.Size() == 0 {
		return true
	}
	if !fi.Mode().IsRegular() {
		return false
	}
	d, err := r.digest(rel, fi)
	return err == nil && r.stored(st, rel, d)
}

// stored reports whether the store holds the content with digest d that was at
// rel: through the recipe the stat cache recorded for that digest (whatever the
// file's attributes now: content known by its hash is known), or as a single
// chunk named by the digest.
func (r *Repo) stored(st *objects.Store, rel string, d objects.ID) bool {
	if rec := r.statCache().recipeFor(rel, d); !rec.IsZero() && st.Has(rec) {
		return true
	}
	return st.Has(d)
}

// restore writes one file (or link) if it differs from fe. It reports whether it
// wrote anything. The new content goes to a temporary file beside the target, is
// verified, and replaces the target by rename, so an interrupted checkout never
// leaves a half-written file in place of a good one.
func (r *Repo) restore(ctx context.Context, st *objects.Store, rel string, fe objects.TreeEntry, topFile, force bool, prog progressFn) (bool, error) {
	abs := r.Abs(rel)
	fi, err := os.Lstat(abs)
	if err == nil {
		if fi.IsDir() {
			return false, fmt.Errorf("%w: a directory is in the way", ErrConflict)
		}
		if fe.Mode == objects.ModeSymlink {
			if t, err := os.Readlink(abs); err == nil && objects.Hash([]byte(t)) == fe.Digest {
				return false, nil
			}
		}
		// The current content, from the stat cache or by hashing: either it is
		// already right, or it decides whether replacing it loses anything.
		var d objects.ID
		known := false
		if fi.Mode().IsRegular() {
			var err error
			d, err = r.digest(rel, fi)
			known = err == nil
			if known && fe.Mode != objects.ModeSymlink && d == fe.Digest && fi.Size() == fe.Size {
				if fileMode(fi) != fe.Mode {
					if err := os.Chmod(abs, perm(fe.Mode)); err != nil {
						return false, err
					}
					return true, nil
				}
				if prog != nil {
					prog(fe.Size, 1)
				}
				return false, nil
			}
		}
		safe := fi.Mode()&fs.ModeSymlink != 0 || fi.Size() == 0 || (known && r.stored(st, rel, d))
		if !force && !safe {
			return false, fmt.Errorf("%w (add them with trove add, or use --force to discard them)", ErrConflict)
		}
	}
	dir := filepath.Dir(abs)
	if fe.Mode == objects.ModeSymlink {
		b, err := st.ReadChunk(fe.Digest, nil)
		if err != nil {
			return false, err
		}
		if !r.linkInside(rel, string(b)) {
			return false, fmt.Errorf("%w: symbolic link to %q would point outside the repository (not created)", ErrUnsupported, b)
		}
		tmp := filepath.Join(dir, fmt.Sprintf(".%s.trove-tmp-link", filepath.Base(abs)))
		os.Remove(tmp)
		if err := os.Symlink(string(b), tmp); err != nil {
			return false, err
		}
		if err := os.Rename(tmp, abs); err != nil {
			os.Remove(tmp)
			return false, err
		}
		return true, nil
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(abs)+".trove-tmp-*")
	if err != nil {
		return false, err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	h := blake3.New()
	// The limit stops a hostile recipe that expands to more than the manifest's
	// size before it fills the disk.
	w := &limitWriter{w: io.MultiWriter(f, h), n: fe.Size}
	var pw io.Writer = w
	if prog != nil {
		pw = progressWriter{w, prog}
	}
	var n int64
	if fe.Recipe.IsZero() {
		n, err = st.ReadInline(fe.Digest, fe.Size, pw)
	} else {
		// The whole file is hashed and compared with its digest below, so the chunks
		// need not each be hashed too.
		n, err = st.ReadContentUnverified(ctx, fe.Recipe, pw)
	}
	if err != nil {
		return false, err
	}
	var got objects.ID
	h.Sum(got[:0])
	if got != fe.Digest || n != fe.Size {
		// Find the damaged chunk, to name it.
		if !fe.Recipe.IsZero() {
			if _, verr := st.ReadContent(ctx, fe.Recipe, io.Discard); verr != nil {
				return false, verr
			}
		}
		return false, fmt.Errorf("%w: restored bytes do not match the manifest digest", objects.ErrCorrupt)
	}
	if err := f.Chmod(perm(fe.Mode)); err != nil {
		return false, err
	}
	if err := f.Close(); err != nil {
		return false, err
	}
	if err := os.Rename(tmp, abs); err != nil {
		return false, err
	}
	ok = true
	if prog != nil {
		prog(0, 1)
	}
	if nfi, err := os.Lstat(abs); err == nil {
		r.statCache().Update(rel, nfi, fe.Digest, fe.Recipe)
	}
	_ = topFile
	return true, nil
}

func perm(mode uint32) os.FileMode {
	if mode == objects.ModeExec {
		return 0o755
	}
	return 0o644
}

type progressWriter struct {
	w    io.Writer
	prog progressFn
}

func (p progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.prog(int64(n), 0)
	return n, err
}

// limitWriter passes on at most n bytes and fails, wrapping objects.ErrCorrupt,
// when given more.
type limitWriter struct {
	w io.Writer
	n int64
}

func (l *limitWriter) Write(b []byte) (int, error) {
	if int64(len(b)) > l.n {
		return 0, fmt.Errorf("%w: content is longer than the size the manifest records", objects.ErrCorrupt)
	}
	n, err := l.w.Write(b)
	l.n -= int64(n)
	return n, err
}

// checkTree refuses trees that cannot be written safely, whatever their digest
// says (a manifest may come from someone else): an entry that is also the parent
// directory of another entry (a symbolic link "a" followed by "a/x" would write
// through the link), and any path segment naming git's directory.
func checkTree(entries []objects.TreeEntry) error {
	paths := make(map[string]bool, len(entries))
	for _, e := range entries {
		paths[e.Path] = true
	}
	for _, e := range entries {
		for i := 0; i < len(e.Path); i++ {
			if e.Path[i] != '/' {
				continue
			}
			if paths[e.Path[:i]] {
				return fmt.Errorf("%w: tree has %s both as a file and as a directory", ErrUnsupported, e.Path[:i])
			}
		}
		for _, seg := range strings.Split(e.Path, "/") {
			if isGitName(seg) {
				return fmt.Errorf("%w: tree entry %s is inside a git directory", ErrUnsupported, e.Path)
			}
		}
	}
	return nil
}

// checkCaseCollisions refuses a tree holding two paths that differ only in case
// (Data.csv and data.csv, or X/a and x/b): a case-insensitive file system (the
// default on macOS and Windows, ext4 casefold directories) holds only one of
// them, so writing both would silently leave one file's bytes under both names.
func checkCaseCollisions(entries []objects.TreeEntry) error {
	seen := make(map[string]string, len(entries))
	check := func(p string) error {
		k := strings.ToLower(p)
		if prev, ok := seen[k]; ok && prev != p {
			return fmt.Errorf("%w: tree has both %s and %s, which differ only in case and cannot both exist on this case-insensitive file system; check it out on a case-sensitive one, or rename one of them there and add again", ErrUnsupported, prev, p)
		}
		seen[k] = p
		return nil
	}
	for _, e := range entries {
		for i := 0; i < len(e.Path); i++ {
			if e.Path[i] == '/' {
				if err := check(e.Path[:i]); err != nil {
					return err
				}
			}
		}
		if err := check(e.Path); err != nil {
			return err
		}
	}
	return nil
}

// caseInsensitive reports whether the file system directory dir is on treats
// names that differ only in case as one name. It creates, looks up in upper
// case, and removes a probe file; when unsure it answers false.
func caseInsensitive(dir string) bool {
	f, err := os.CreateTemp(dir, ".trove-case-probe-")
	if err != nil {
		return false
	}
	name := f.Name()
	f.Close()
	defer os.Remove(name)
	base := filepath.Base(name)
	up := strings.ToUpper(base)
	if up == base {
		return false
	}
	a, err1 := os.Lstat(name)
	b, err2 := os.Lstat(filepath.Join(dir, up))
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}

// dirGuard creates the directories checkout writes into and makes sure that none
// of them, from the top of the working tree down, is a symbolic link: a link
// planted in the working tree (or restored from a tree) must never redirect a
// write outside the repository. It remembers the directories it has checked. It
// is safe for concurrent use.
type dirGuard struct {
	r  *Repo
	mu sync.Mutex
	ok map[string]bool
}

// ensure checks, and creates where missing, the repository-relative directory dir.
func (g *dirGuard) ensure(dir string) error {
	if dir == "." || dir == "" {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ok[dir] {
		return nil
	}
	cur := ""
	for _, seg := range strings.Split(dir, "/") {
		cur = path.Join(cur, seg)
		if g.ok[cur] {
			continue
		}
		abs := g.r.Abs(cur)
		fi, err := os.Lstat(abs)
		if errors.Is(err, fs.ErrNotExist) {
			if err := os.Mkdir(abs, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
			fi, err = os.Lstat(abs)
		}
		if err != nil {
			return err
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			return fmt.Errorf("%w: %s is a symbolic link where a directory should be (not followed)", ErrConflict, cur)
		case !fi.IsDir():
			return fmt.Errorf("%w: %s is a file where a directory should be", ErrConflict, cur)
		}
		g.ok[cur] = true
	}
	return nil
}

// globEscape quotes the characters filepath.Match treats specially.
func globEscape(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c == '*' || c == '?' || c == '[' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}
