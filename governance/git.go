package governance

// Git access for lineage and the registry, with go-git (never the git binary):
// HEAD and whether the working tree is clean, the origin URL, the user's
// identity, and tags.

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/trove-dev/trove/manifest"
)

func openGit(root string) (*git.Repository, error) {
	g, err := git.PlainOpenWithOptions(root, &git.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true})
	if err != nil {
		if errors.Is(err, git.ErrRepositoryNotExists) {
			return nil, fmt.Errorf("%s: %w", root, manifest.ErrNotGitRepo)
		}
		return nil, fmt.Errorf("open git repository: %w", err)
	}
	return g, nil
}

// headHash returns HEAD's commit, or the zero hash when there is no commit yet.
func headHash(g *git.Repository) (plumbing.Hash, error) {
	ref, err := g.Head()
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return plumbing.ZeroHash, nil
	}
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("read HEAD: %w", err)
	}
	return ref.Hash(), nil
}

// CodeState is the state of the code in the git working tree.
type CodeState struct {
	Commit string   // HEAD's commit; empty when there is none
	Remote string   // origin's URL without credentials; empty when none
	Dirty  []string // changed, staged or untracked (not ignored) paths, sorted
}

// Code returns the lineage's description of the code, or nil with no commit.
func (s CodeState) Code() *manifest.Code {
	if s.Commit == "" {
		return nil
	}
	return &manifest.Code{Commit: s.Commit, Dirty: len(s.Dirty) > 0, Remote: s.Remote}
}

// ReadCodeState reads HEAD and the working tree's status. Paths for which
// ignore returns true do not make the tree dirty (trove's own output manifests,
// for one). Data trove tracks is gitignored, so it never shows.
func ReadCodeState(root string, ignore func(rel string) bool) (CodeState, error) {
	g, err := openGit(root)
	if err != nil {
		return CodeState{}, err
	}
	var s CodeState
	h, err := headHash(g)
	if err != nil {
		return s, err
	}
	if !h.IsZero() {
		s.Commit = h.String()
	}
	s.Remote = remoteURL(g)
	wt, err := g.Worktree()
	if err != nil {
		return s, fmt.Errorf("%s: %w (bare repository)", root, manifest.ErrNotGitRepo)
	}
	st, err := wt.Status()
	if err != nil {
		return s, fmt.Errorf("git status: %w", err)
	}
	for p, fs := range st {
		if fs.Staging == git.Unmodified && fs.Worktree == git.Unmodified {
			continue
		}
		if ignore != nil && ignore(p) {
			continue
		}
		s.Dirty = append(s.Dirty, p)
	}
	sort.Strings(s.Dirty)
	return s, nil
}

// remoteURL returns origin's first URL without user information (a token in an
// https URL must never reach a manifest).
func remoteURL(g *git.Repository) string {
	rem, err := g.Remote("origin")
	if err != nil || len(rem.Config().URLs) == 0 {
		return ""
	}
	raw := rem.Config().URLs[0]
	if u, err := url.Parse(raw); err == nil && u.Scheme != "" && u.Host != "" {
		u.User = nil
		return u.String()
	}
	return raw // scp-like (git@host:path) or a local path
}

// Identity is who takes a registry action.
type Identity struct {
	Name  string
	Email string
}

// String formats the identity as git does: "Name <email>".
func (id Identity) String() string { return fmt.Sprintf("%s <%s>", id.Name, id.Email) }

// identity returns git's user.name and user.email (the repository's config, then
// the user's global one), falling back to GIT_COMMITTER_NAME and
// GIT_COMMITTER_EMAIL from the World's environment.
func identity(g *git.Repository, w World) (Identity, error) {
	var id Identity
	cfg, err := g.ConfigScoped(config.GlobalScope)
	if err != nil {
		cfg, err = g.Config() // an unreadable ~/.gitconfig: the repository's alone
	}
	if err == nil {
		id.Name, id.Email = strings.TrimSpace(cfg.User.Name), strings.TrimSpace(cfg.User.Email)
	}
	if id.Name == "" {
		id.Name = strings.TrimSpace(w.getenv("GIT_COMMITTER_NAME"))
	}
	if id.Email == "" {
		id.Email = strings.TrimSpace(w.getenv("GIT_COMMITTER_EMAIL"))
	}
	if id.Name == "" || id.Email == "" || strings.ContainsAny(id.Name+id.Email, "<>\n") {
		return id, fmt.Errorf("%w: set git config user.name and user.email", ErrIdentity)
	}
	return id, nil
}
