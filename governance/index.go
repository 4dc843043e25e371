package governance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/trove-dev/trove/manifest"
	"github.com/trove-dev/trove/objects"
)

// Location is one version of one artifact: a manifest at a path, and the commit
// that first recorded it.
type Location struct {
	Path     string
	Manifest *manifest.Manifest
	// Commit is the oldest commit of HEAD's history with this manifest version;
	// empty when it is only in the working tree.
	Commit string
	Author string // the commit's author: "Name <email>"
	Time   time.Time
}

// blobKey is one manifest version: a git blob at a path.
type blobKey struct {
	blob plumbing.Hash
	path string
}

// Index finds artifact versions: every version of every manifest in HEAD's
// history, plus the working tree's. It is built once per command and answers
// "which manifest has this digest?" for the lineage graph, exactly (the
// manifest at the commit a step ran from) where it can.
type Index struct {
	g        *git.Repository // nil for a synthetic index
	byBlob   map[blobKey]*Location
	byDigest map[objects.ID][]*Location // the first version per (digest, path)
	all      []*Location
	working  map[string]*Location // the working tree's version of each path
	// Warnings are manifests that could not be read, and a shallow history.
	Warnings []string
}

// NewIndex builds an index from locations (tests build synthetic ones). For
// lookups by digest, the first location of a (digest, path) wins: give the
// oldest first.
func NewIndex(locs []Location) *Index {
	idx := newIndex(nil)
	for i := range locs {
		idx.add(locs[i], plumbing.ZeroHash)
	}
	return idx
}

func newIndex(g *git.Repository) *Index {
	return &Index{g: g, byBlob: map[blobKey]*Location{}, byDigest: map[objects.ID][]*Location{}, working: map[string]*Location{}}
}

// add records a version; blob is its git blob (zero when unknown).
func (idx *Index) add(l Location, blob plumbing.Hash) {
	p := &l
	if !blob.IsZero() {
		k := blobKey{blob, l.Path}
		if idx.byBlob[k] != nil {
			return
		}
		idx.byBlob[k] = p
	}
	idx.all = append(idx.all, p)
	d := l.Manifest.Digest
	for _, have := range idx.byDigest[d] {
		if have.Path == l.Path {
			return
		}
	}
	idx.byDigest[d] = append(idx.byDigest[d], p)
}

// Find returns a version with this digest, preferring one at path (an input
// records where it was read), then the oldest committed one, then the working
// tree's.
func (idx *Index) Find(d objects.ID, path string) (*Location, bool) {
	ls := idx.byDigest[d]
	if len(ls) == 0 {
		return nil, false
	}
	for _, l := range ls {
		if l.Path == path {
			return l, true
		}
	}
	best := ls[0]
	for _, l := range ls[1:] {
		if best.Commit == "" && l.Commit != "" {
			best = l
		}
	}
	return best, true
}

// FindAt returns the version of the artifact at path as commit had it, when
// that version has digest d: the exact manifest a step saw, since `trove run`
// requires its inputs committed and unchanged. Otherwise (no commit, a dirty
// run, a synthetic index) it falls back to Find.
func (idx *Index) FindAt(d objects.ID, path, commit string) (*Location, bool) {
	if l := idx.atCommit(path, commit); l != nil && l.Manifest.Digest == d {
		return l, true
	}
	return idx.Find(d, path)
}

func (idx *Index) atCommit(path, commit string) *Location {
	if idx.g == nil || commit == "" || !plumbing.IsHash(commit) {
		return nil
	}
	c, err := idx.g.CommitObject(plumbing.NewHash(commit))
	if err != nil {
		return nil
	}
	t, err := c.Tree()
	if err != nil {
		return nil
	}
	e, err := t.FindEntry(manifest.ManifestPath(path))
	if err != nil {
		return nil
	}
	return idx.byBlob[blobKey{e.Hash, path}]
}

// ofManifest returns the indexed version whose manifest is exactly m at path
// (the same bytes), if there is one.
func (idx *Index) ofManifest(path string, m *manifest.Manifest) *Location {
	b, err := manifest.Encode(m)
	if err != nil {
		return nil
	}
	return idx.byBlob[blobKey{plumbing.ComputeHash(plumbing.BlobObject, b), path}]
}

// All returns every indexed version, oldest commit first, working tree last.
func (idx *Index) All() []*Location { return idx.all }

// BuildIndex reads every manifest version in HEAD's history (all parents, not
// only the first) and the working tree. Each manifest blob is read once, and a
// git subtree already seen at the same place is skipped, so the cost grows with
// the number of distinct manifest versions, not with commits times manifests.
// Manifests that cannot be read are listed in Warnings, not fatal; so is a
// shallow history, whose older versions cannot be found.
func BuildIndex(ctx context.Context, r *manifest.Repo) (*Index, error) {
	g, err := openGit(r.Root)
	if err != nil {
		return nil, err
	}
	idx := newIndex(g)
	head, err := headHash(g)
	if err != nil {
		return nil, err
	}
	if !head.IsZero() {
		if err := indexHistory(ctx, g, head, idx); err != nil {
			return nil, err
		}
	}
	ts, err := r.List(ctx, nil)
	if err != nil {
		return nil, err
	}
	for _, t := range ts {
		if t.Err != nil {
			idx.Warnings = append(idx.Warnings, t.Err.Error())
			continue
		}
		if l := idx.ofManifest(t.Path, t.Manifest); l != nil {
			idx.working[t.Path] = l // committed as it is
			continue
		}
		idx.add(Location{Path: t.Path, Manifest: t.Manifest}, plumbing.ZeroHash)
		idx.working[t.Path] = idx.all[len(idx.all)-1]
	}
	return idx, nil
}

func indexHistory(ctx context.Context, g *git.Repository, head plumbing.Hash, idx *Index) error {
	commits, shallow, err := topoOrder(ctx, g, head)
	if err != nil {
		return err
	}
	if shallow {
		idx.Warnings = append(idx.Warnings, "the git history is shallow: older versions cannot be found (`git fetch --unshallow` fetches them)")
	}
	w := &historyWalker{g: g, idx: idx, seenTree: map[string]bool{}, blobs: map[plumbing.Hash]*manifest.Manifest{}, bad: map[plumbing.Hash]bool{}}
	for _, c := range commits {
		if err := ctx.Err(); err != nil {
			return err
		}
		t, err := c.Tree()
		if err != nil {
			return fmt.Errorf("read tree of commit %s: %w", c.Hash.String()[:12], err)
		}
		w.commit = c
		if err := w.walk(ctx, "", t); err != nil {
			return err
		}
	}
	return nil
}

// topoOrder lists the commits of head's history with every commit after its
// parents (first parents first), so each manifest version is attributed to the
// commit that introduced it whatever the commit dates say. Parents missing from
// a shallow clone are skipped and reported.
func topoOrder(ctx context.Context, g *git.Repository, head plumbing.Hash) ([]*object.Commit, bool, error) {
	c, err := g.CommitObject(head)
	if err != nil {
		return nil, false, fmt.Errorf("read commit %s: %w", head.String()[:12], err)
	}
	type frame struct {
		c    *object.Commit
		next int
	}
	var order []*object.Commit
	shallow := false
	seen := map[plumbing.Hash]bool{head: true}
	stack := []frame{{c: c}}
	for len(stack) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, false, err
		}
		f := &stack[len(stack)-1]
		if f.next < len(f.c.ParentHashes) {
			ph := f.c.ParentHashes[f.next]
			f.next++
			if seen[ph] {
				continue
			}
			seen[ph] = true
			p, err := g.CommitObject(ph)
			if errors.Is(err, plumbing.ErrObjectNotFound) {
				shallow = true
				continue
			}
			if err != nil {
				return nil, false, fmt.Errorf("read commit %s: %w", ph.String()[:12], err)
			}
			stack = append(stack, frame{c: p})
			continue
		}
		order = append(order, f.c)
		stack = stack[:len(stack)-1]
	}
	return order, shallow, nil
}

type historyWalker struct {
	g        *git.Repository
	idx      *Index
	commit   *object.Commit
	seenTree map[string]bool // tree hash + "\x00" + directory
	blobs    map[plumbing.Hash]*manifest.Manifest
	bad      map[plumbing.Hash]bool
}

func (w *historyWalker) walk(ctx context.Context, dir string, t *object.Tree) error {
	key := t.Hash.String() + "\x00" + dir
	if w.seenTree[key] {
		return nil
	}
	w.seenTree[key] = true
	if err := ctx.Err(); err != nil {
		return err
	}
	tracked := map[string]bool{}
	for _, e := range t.Entries {
		if isManifestEntry(e) {
			tracked[strings.TrimSuffix(e.Name, manifest.Ext)] = true
		}
	}
	for _, e := range t.Entries {
		rel := e.Name
		if dir != "" {
			rel = dir + "/" + e.Name
		}
		switch {
		case e.Mode == filemode.Dir:
			// Like manifest.List: skip .trove, and directories beside their own
			// manifest (tracked data committed by mistake).
			if (dir == "" && e.Name == manifest.Dir) || tracked[e.Name] {
				continue
			}
			sub, err := w.g.TreeObject(e.Hash)
			if err != nil {
				return fmt.Errorf("read git tree %s: %w", rel, err)
			}
			if err := w.walk(ctx, rel, sub); err != nil {
				return err
			}
		case isManifestEntry(e):
			m := w.manifest(rel, e.Hash)
			if m == nil {
				continue
			}
			w.idx.add(Location{
				Path: strings.TrimSuffix(rel, manifest.Ext), Manifest: m, Commit: w.commit.Hash.String(),
				Author: fmt.Sprintf("%s <%s>", w.commit.Author.Name, w.commit.Author.Email),
				Time:   w.commit.Author.When.UTC(),
			}, e.Hash)
		}
	}
	return nil
}

func isManifestEntry(e object.TreeEntry) bool {
	return (e.Mode == filemode.Regular || e.Mode == filemode.Executable) &&
		strings.HasSuffix(e.Name, manifest.Ext) && len(e.Name) > len(manifest.Ext)
}

// manifest decodes a manifest blob once; a bad one is warned about once.
func (w *historyWalker) manifest(rel string, h plumbing.Hash) *manifest.Manifest {
	if m, ok := w.blobs[h]; ok {
		return m
	}
	if w.bad[h] {
		return nil
	}
	m, err := w.decode(rel, h)
	if err != nil {
		w.bad[h] = true
		w.idx.Warnings = append(w.idx.Warnings, fmt.Sprintf("%s at %s: %v", rel, w.commit.Hash.String()[:10], err))
		return nil
	}
	w.blobs[h] = m
	return m
}

func (w *historyWalker) decode(rel string, h plumbing.Hash) (*manifest.Manifest, error) {
	b, err := w.g.BlobObject(h)
	if err != nil {
		return nil, err
	}
	if b.Size > manifest.MaxManifestSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", manifest.ErrInvalid, manifest.MaxManifestSize)
	}
	rd, err := b.Reader()
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	data, err := io.ReadAll(io.LimitReader(rd, manifest.MaxManifestSize+1))
	if err != nil {
		return nil, err
	}
	m, err := manifest.Decode(data)
	if err != nil {
		return nil, err
	}
	base := strings.TrimSuffix(rel, manifest.Ext)
	if i := strings.LastIndexByte(base, '/'); i >= 0 {
		base = base[i+1:]
	}
	if m.Path != base {
		return nil, fmt.Errorf("%w: path %q does not match the manifest's name", manifest.ErrInvalid, m.Path)
	}
	return m, nil
}
