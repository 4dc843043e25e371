package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/trove-dev/trove/remote"
)

// tmpDir is the directory under the root that holds Put's temporary files. Keeping
// them in one place, on the same file system, makes the rename atomic and keeps them
// out of List without a naming convention that a real key could collide with.
const tmpDir = ".tmp"

// Local is a remote.Remote stored in a directory. It is safe for concurrent use,
// also by several processes sharing the directory.
type Local struct {
	dir string // absolute and clean
}

var _ remote.Remote = (*Local)(nil)

// New returns the directory remote rooted at dir. A relative dir is made absolute
// against the working directory. New fails if dir exists and is not a directory; it
// creates nothing.
func New(dir string) (*Local, error) {
	if dir == "" {
		return nil, errors.New("local remote: empty directory")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("local remote %s: %w", dir, err)
	}
	fi, err := os.Stat(abs)
	switch {
	case err == nil && !fi.IsDir():
		return nil, fmt.Errorf("local remote %s: not a directory", abs)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("local remote: %w", err)
	}
	return &Local{dir: abs}, nil
}

// Dir returns the absolute directory the remote is rooted at.
func (l *Local) Dir() string { return l.dir }

// String returns the remote as a file URL.
func (l *Local) String() string {
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(l.dir)}).String()
}

// path checks key and returns the file it maps to.
func (l *Local) path(key string) (string, error) {
	if err := remote.CheckKey(key); err != nil {
		return "", err
	}
	if key == tmpDir || strings.HasPrefix(key, tmpDir+"/") {
		return "", fmt.Errorf("%w %q: %q is reserved for temporary files", remote.ErrBadKey, key, tmpDir)
	}
	return filepath.Join(l.dir, filepath.FromSlash(key)), nil
}

// notExist reports whether err means that no file exists at a path: either the file
// is missing or one of its parents is a file rather than a directory.
func notExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// Put implements remote.Remote.
func (l *Local) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	p, err := l.path(key)
	if err != nil {
		return fmt.Errorf("put: %w", err)
	}
	if size < 0 {
		return fmt.Errorf("put %s: negative size %d", key, size)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := l.put(ctx, p, r, size); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

func (l *Local) put(ctx context.Context, p string, r io.Reader, size int64) (err error) {
	tmp := filepath.Join(l.dir, tmpDir)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(tmp, "put-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	// ctxReader also hides any WriterTo of r, so the copy goes through the
	// cancellation check on every read.
	n, err := io.Copy(f, &ctxReader{ctx: ctx, r: io.LimitReader(r, size)})
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("read %d of %d bytes: %w", n, size, io.ErrUnexpectedEOF)
	}
	// CreateTemp makes the file 0600; objects get the usual mode of a shared store.
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	parent := filepath.Dir(p)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), p); err != nil {
		return err
	}
	// The rename is durable only once the directory holding the new entry is.
	return syncDir(parent)
}

// syncDir flushes a directory's entries to disk.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	// Some file systems (and Windows) cannot sync a directory; the rename itself has
	// happened, so that is not a failure of Put.
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP) {
		return nil
	}
	return err
}

// Get implements remote.Remote.
func (l *Local) Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	p, err := l.path(key)
	if err != nil {
		return nil, fmt.Errorf("get: %w", err)
	}
	if err := remote.CheckRange(offset, length); err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	f, err := os.Open(p)
	if err != nil {
		if notExist(err) {
			return nil, fmt.Errorf("get %s: %w", key, remote.ErrNotFound)
		}
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("get %s: %w", key, remote.ErrNotFound)
	}
	size := fi.Size()
	if offset > size {
		f.Close()
		return nil, fmt.Errorf("get %s: %w: offset %d is past the end (size %d)", key, remote.ErrInvalidRange, offset, size)
	}
	var rd io.Reader = io.NewSectionReader(f, offset, size-offset)
	if length >= 0 {
		rd = io.LimitReader(rd, length)
	}
	return &readCloser{ctxReader: ctxReader{ctx: ctx, r: rd}, f: f}, nil
}

// Stat implements remote.Remote.
func (l *Local) Stat(ctx context.Context, key string) (remote.Info, error) {
	p, err := l.path(key)
	if err != nil {
		return remote.Info{}, fmt.Errorf("stat: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return remote.Info{}, fmt.Errorf("stat %s: %w", key, err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		if notExist(err) {
			return remote.Info{}, fmt.Errorf("stat %s: %w", key, remote.ErrNotFound)
		}
		return remote.Info{}, fmt.Errorf("stat %s: %w", key, err)
	}
	if !fi.Mode().IsRegular() {
		return remote.Info{}, fmt.Errorf("stat %s: %w", key, remote.ErrNotFound)
	}
	return remote.Info{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// List implements remote.Remote. It walks only the directory that the prefix names
// up to its last slash, and below it only the subdirectories that can hold a match.
func (l *Local) List(ctx context.Context, prefix string, fn func(remote.Info) error) error {
	if err := remote.CheckPrefix(prefix); err != nil {
		return fmt.Errorf("list: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list %q: %w", prefix, err)
	}
	base := prefix[:strings.LastIndex(prefix, "/")+1] // "" or "a/b/"
	root := filepath.Join(l.dir, filepath.FromSlash(base))
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if notExist(err) {
				return nil // the root does not exist yet, or an entry vanished meanwhile
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(l.dir, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if d.IsDir() {
			if p == root {
				return nil
			}
			if key == tmpDir {
				return filepath.SkipDir
			}
			// Descend only where keys can start with prefix.
			dirPrefix := key + "/"
			if !strings.HasPrefix(dirPrefix, prefix) && !strings.HasPrefix(prefix, dirPrefix) {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !strings.HasPrefix(key, prefix) {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			if notExist(err) {
				return nil // deleted while listing
			}
			return err
		}
		return fn(remote.Info{Key: key, Size: fi.Size(), ModTime: fi.ModTime()})
	})
	if err != nil {
		return fmt.Errorf("list %q: %w", prefix, err)
	}
	return nil
}

// Delete implements remote.Remote. Directories left empty are kept.
func (l *Local) Delete(ctx context.Context, key string) error {
	p, err := l.path(key)
	if err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	fi, err := os.Lstat(p)
	if err != nil {
		if notExist(err) {
			return nil
		}
		return fmt.Errorf("delete %s: %w", key, err)
	}
	if fi.IsDir() {
		return nil // a directory is not an object, so the key is missing
	}
	if err := os.Remove(p); err != nil && !notExist(err) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	if err := syncDir(filepath.Dir(p)); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

// ctxReader fails reads once ctx is done, so a long copy stops soon after
// cancellation.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

type readCloser struct {
	ctxReader
	f *os.File
}

func (rc *readCloser) Close() error { return rc.f.Close() }
