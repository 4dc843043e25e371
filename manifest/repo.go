package manifest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5"

	"github.com/trove-dev/trove/objects"
)

var (
	// ErrNotGitRepo: trove works inside a git working tree.
	ErrNotGitRepo = errors.New("not a git repository")
	// ErrNotInitialized: the repository has no .trove directory yet.
	ErrNotInitialized = errors.New("trove is not initialized in this repository")
	// ErrOutsideRepo: a path resolves outside the working tree.
	ErrOutsideRepo = errors.New("path is outside the repository")
	// ErrNoSuchPath: a path given by the user does not exist.
	ErrNoSuchPath = errors.New("no such file or directory")
	// ErrNotTracked: a path has no manifest.
	ErrNotTracked = errors.New("not tracked by trove")
	// ErrUnsupported: a path trove refuses to track (special file, symlink escaping
	// the repository, trove's or git's own files).
	ErrUnsupported = errors.New("cannot track this path")
)

// Dir is the name of trove's directory at the top of the working tree.
const Dir = ".trove"

// Repo is a git working tree with trove initialized.
type Repo struct {
	Root  string // absolute, symlinks resolved
	trove string

	mu    sync.Mutex // guards the lazy opening of store and cache
	store *objects.Store
	cache *StatCache
	// Now is the clock used for timestamps; tests and replays set it.
	Now func() time.Time
}

// FindRoot returns the top of the git working tree containing dir. It understands
// worktrees and submodules (where .git is a file).
func FindRoot(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		abs = r
	}
	r, err := git.PlainOpenWithOptions(abs, &git.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true})
	if err != nil {
		if errors.Is(err, git.ErrRepositoryNotExists) {
			return "", fmt.Errorf("%s: %w", abs, ErrNotGitRepo)
		}
		return "", fmt.Errorf("open git repository: %w", err)
	}
	wt, err := r.Worktree()
	if err != nil {
		return "", fmt.Errorf("%s: %w (bare repository)", abs, ErrNotGitRepo)
	}
	root := wt.Filesystem.Root()
	if rr, err := filepath.EvalSymlinks(root); err == nil {
		root = rr
	}
	return root, nil
}

// Open finds the repository containing dir; trove must be initialized there.
func Open(dir string) (*Repo, error) {
	root, err := FindRoot(dir)
	if err != nil {
		return nil, err
	}
	r := &Repo{Root: root, trove: filepath.Join(root, Dir), Now: time.Now}
	if fi, err := os.Stat(r.trove); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("%s: %w", root, ErrNotInitialized)
	}
	return r, nil
}

// InitResult says what Init did.
type InitResult struct {
	Root    string `json:"root"`
	Created bool   `json:"created"`
}

const troveGitignore = `# trove's local store and caches are not committed; config, policy.yaml and
# allowed_signers are.
/store/
/cache/
/tmp/
/lock
`

// Init sets up trove in the git working tree containing dir. It is idempotent.
func Init(dir string) (*Repo, InitResult, error) {
	root, err := FindRoot(dir)
	if err != nil {
		return nil, InitResult{}, err
	}
	r := &Repo{Root: root, trove: filepath.Join(root, Dir), Now: time.Now}
	res := InitResult{Root: root}
	if _, err := os.Stat(r.trove); errors.Is(err, fs.ErrNotExist) {
		res.Created = true
	}
	for _, d := range []string{r.trove, filepath.Join(r.trove, "store"), filepath.Join(r.trove, "cache")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, res, fmt.Errorf("init: %w", err)
		}
	}
	gi := filepath.Join(r.trove, ".gitignore")
	if _, err := os.Stat(gi); errors.Is(err, fs.ErrNotExist) {
		if err := objects.WriteFileAtomic(gi, []byte(troveGitignore), 0o644); err != nil {
			return nil, res, fmt.Errorf("init: %w", err)
		}
	}
	cfg := filepath.Join(r.trove, "config")
	if _, err := os.Stat(cfg); errors.Is(err, fs.ErrNotExist) {
		if err := objects.WriteFileAtomic(cfg, []byte(defaultConfig), 0o644); err != nil {
			return nil, res, fmt.Errorf("init: %w", err)
		}
	}
	return r, res, nil
}

// TroveDir returns the absolute path of .trove.
func (r *Repo) TroveDir() string { return r.trove }

// Store opens the local content store on first use.
func (r *Repo) Store() (*objects.Store, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.store == nil {
		s, err := objects.OpenStore(filepath.Join(r.trove, "store"))
		if err != nil {
			return nil, err
		}
		r.store = s
	}
	return r.store, nil
}

// statCache opens the stat cache on first use. Add, Status and Checkout call it
// from several goroutines at once.
func (r *Repo) statCache() *StatCache {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cache == nil {
		r.cache = OpenStatCache(filepath.Join(r.trove, "cache", "stat"), r.Now)
	}
	return r.cache
}

// Close flushes caches and releases the store.
func (r *Repo) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var err error
	if r.cache != nil {
		err = r.cache.Save()
		r.cache.Close()
		r.cache = nil
	}
	if r.store != nil {
		if cerr := r.store.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// Rel turns a user-supplied path (relative to cwd, or absolute) into a clean
// repository-relative slash path. The parent directory's symlinks are resolved,
// the last element is not (so a symlink can be refused rather than followed).
func (r *Repo) Rel(cwd, p string) (string, error) {
	if !filepath.IsAbs(p) {
		p = filepath.Join(cwd, p)
	}
	p = filepath.Clean(p)
	parent, base := filepath.Dir(p), filepath.Base(p)
	if rp, err := filepath.EvalSymlinks(parent); err == nil {
		parent = rp
	}
	full := filepath.Join(parent, base)
	if full == r.Root {
		return "", fmt.Errorf("%s: %w (track a file or a subdirectory, not the whole repository)", p, ErrUnsupported)
	}
	rel, err := filepath.Rel(r.Root, full)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%s: %w", p, ErrOutsideRepo)
	}
	rel = filepath.ToSlash(rel)
	segs := strings.Split(rel, "/")
	if segs[0] == Dir {
		return "", fmt.Errorf("%s: %w (it belongs to %s)", rel, ErrUnsupported, Dir)
	}
	for _, s := range segs {
		if isGitName(s) {
			return "", fmt.Errorf("%s: %w (it belongs to git)", rel, ErrUnsupported)
		}
	}
	return rel, nil
}

// Abs returns the absolute path of a repository-relative slash path.
func (r *Repo) Abs(rel string) string { return filepath.Join(r.Root, filepath.FromSlash(rel)) }
