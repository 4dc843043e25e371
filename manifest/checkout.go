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
		if err := r.checkout1(ctx, st, t.Manifest, t.Path, &e, opt); err != nil {
			return out, err
		}
		for _, p := range e.Problems {
			if first == nil {
				first = p.err
			}
		}
		out = append(out, e)
	}
	if err := r.statCache().Save(r.Now()); err != nil {
		return out, err
	}
	if first != nil {
		return out, fmt.Errorf("%w: %w", ErrIncomplete, first)
	}
	return out, nil
}

func (r *Repo) checkout1(ctx context.Context, st *objects.Store, m *Manifest, rel string, e *CheckoutEntry, opt CheckoutOptions) error {
	if m.Type == TypeFile {
		fe := objects.TreeEntry{Path: path.Base(rel), Mode: objects.ModeFile, Size: m.Size, Digest: m.Digest, Recipe: m.Object}
		prog := progressFor(opt.Progress, rel, m.Size, 1)
		if fi, err := os.Lstat(r.Abs(rel)); err == nil && fi.IsDir() {
			return fmt.Errorf("%s: %w: a directory is where the file should be", rel, ErrConflict)
		}
		if err := os.MkdirAll(r.Abs(path.Dir(rel)), 0o755); err != nil {
			return err
		}
		wrote, err := r.restore(ctx, st, rel, fe, true, opt.Force, prog)
		tally(e, fe, wrote, err)
		return ctx.Err()
	}
	dirAbs := r.Abs(rel)
	if fi, err := os.Lstat(dirAbs); err == nil && !fi.IsDir() {
		return fmt.Errorf("%s: %w: a file is where the directory should be", rel, ErrConflict)
	}
	entries, err := LoadTree(ctx, st, m.Object)
	if err != nil {
		e.Problems = append(e.Problems, FileProblem{Path: rel, Error: fmt.Sprintf("read tree: %v", err), err: err})
		return nil
	}
	want := make(map[string]bool, len(entries))
	for _, fe := range entries {
		want[fe.Path] = true
	}
	// Files in the directory that the tree lacks: remove those whose content the
	// store holds (nothing is lost), keep the rest and say so.
	if existing, err := r.walkFiles(rel); err == nil {
		for _, f := range existing {
			sub := f.rel[len(rel)+1:]
			if want[sub] {
				continue
			}
			if opt.Force || r.safeToReplace(st, f.rel, f.fi) {
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
			err := os.MkdirAll(r.Abs(path.Dir(frel)), 0o755)
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

// safeToReplace reports whether the file's current content is known (stat cache)
// and held by the store, so that overwriting it loses nothing.
func (r *Repo) safeToReplace(st *objects.Store, rel string, fi fs.FileInfo) bool {
	if fi.Mode()&fs.ModeSymlink != 0 {
		return true // a link's target text is recorded wherever it was tracked
	}
	d, rec, ok := r.statCache().Lookup(rel, fi)
	if !ok {
		return fi.Size() == 0
	}
	if !rec.IsZero() {
		return st.Has(rec)
	}
	return fi.Size() == 0 || st.Has(d)
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
		} else if fi.Mode().IsRegular() {
			if d, _, ok := r.statCache().Lookup(rel, fi); ok && d == fe.Digest && fi.Size() == fe.Size {
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
		if !force && !r.safeToReplace(st, rel, fi) {
			// Unknown content: hash it; if it is what we want, nothing to do.
			if fi.Mode().IsRegular() {
				if d, err := r.digest(rel, fi); err == nil && d == fe.Digest {
					if fileMode(fi) != fe.Mode {
						return true, os.Chmod(abs, perm(fe.Mode))
					}
					return false, nil
				}
			}
			return false, fmt.Errorf("%w (add them with trove add, or use --force to discard them)", ErrConflict)
		}
	}
	dir := filepath.Dir(abs)
	if fe.Mode == objects.ModeSymlink {
		b, err := st.ReadChunk(fe.Digest, nil)
		if err != nil {
			return false, err
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
	w := io.MultiWriter(f, h)
	var pw io.Writer = w
	if prog != nil {
		pw = progressWriter{w, prog}
	}
	var n int64
	if fe.Recipe.IsZero() {
		n, err = st.ReadInline(fe.Digest, fe.Size, pw)
	} else {
		n, err = st.ReadContent(ctx, fe.Recipe, pw)
	}
	if err != nil {
		return false, err
	}
	var got objects.ID
	h.Sum(got[:0])
	if got != fe.Digest || n != fe.Size {
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
