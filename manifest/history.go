package manifest

// Reading manifests from git history.
//
// Manifests are small files committed to git, so every version of every artifact
// is a blob in some commit. This file reads them with go-git (never the git
// binary): the manifests at a revision (ManifestsAt, which `trove checkout --rev`
// feeds to Checkout), the differences between two revisions or a revision and the
// working tree (Diff), and the versions of one artifact along HEAD's history (Log).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/trove-dev/trove/objects"
)

var (
	// ErrUnknownRevision: a revision names no commit in the repository.
	ErrUnknownRevision = errors.New("unknown revision")
	// ErrShallow: a commit that is needed is missing because the clone is shallow.
	ErrShallow = errors.New("the git history is shallow: `git fetch --unshallow` fetches the rest")
)

// Changes reported by Diff and Log.
const (
	ChangeAdded    = "added"
	ChangeRemoved  = "removed"
	ChangeModified = "modified"
	ChangeMode     = "mode" // a file's mode changed, not its content
)

// conflictMarker starts the first line of a conflicted region that git writes.
var conflictMarker = []byte("<<<<<<<")

// history is an open git repository plus what the history functions need.
type history struct {
	git     *git.Repository
	shallow map[plumbing.Hash]bool
}

func (r *Repo) openHistory() (*history, error) {
	g, err := git.PlainOpenWithOptions(r.Root, &git.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true})
	if err != nil {
		if errors.Is(err, git.ErrRepositoryNotExists) {
			return nil, fmt.Errorf("%s: %w", r.Root, ErrNotGitRepo)
		}
		return nil, fmt.Errorf("open git repository: %w", err)
	}
	h := &history{git: g, shallow: map[plumbing.Hash]bool{}}
	if s, err := g.Storer.Shallow(); err == nil {
		for _, c := range s {
			h.shallow[c] = true
		}
	}
	return h, nil
}

// resolve finds the commit a revision names: a branch, a tag, a short or full
// hash, HEAD, and the suffixes ~N and ^N.
func (h *history) resolve(rev string) (*object.Commit, error) {
	if rev == "" {
		return nil, fmt.Errorf("%w: empty revision", ErrUnknownRevision)
	}
	id, err := h.git.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		switch {
		case errors.Is(err, plumbing.ErrObjectNotFound) && len(h.shallow) > 0:
			// Walking ~N or ^N reached past the shallow boundary.
			return nil, fmt.Errorf("%s: %w", rev, ErrShallow)
		case len(h.shallow) > 0:
			return nil, fmt.Errorf("%w %q (the history is shallow; `git fetch --unshallow` may bring it)", ErrUnknownRevision, rev)
		}
		return nil, fmt.Errorf("%w %q", ErrUnknownRevision, rev)
	}
	c, err := h.git.CommitObject(*id)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v", ErrUnknownRevision, rev, err)
	}
	return c, nil
}

// ResolveRevision returns the full hash of the commit rev names, or an error
// wrapping ErrUnknownRevision or ErrShallow.
func (r *Repo) ResolveRevision(rev string) (string, error) {
	h, err := r.openHistory()
	if err != nil {
		return "", err
	}
	c, err := h.resolve(rev)
	if err != nil {
		return "", err
	}
	return c.Hash.String(), nil
}

// found is a manifest blob in a git tree.
type found struct {
	path string // data path: the manifest's path without Ext
	blob plumbing.Hash
}

// manifestEntry reports whether a tree entry is a manifest file.
func manifestEntry(e *object.TreeEntry) bool {
	return (e.Mode == filemode.Regular || e.Mode == filemode.Executable) &&
		strings.HasSuffix(e.Name, Ext) && len(e.Name) > len(Ext)
}

// walkPair compares two git trees (either may be nil, meaning empty) and calls fn
// for every manifest whose blob differs, with the zero hash for the side that
// lacks it. Identical subtrees are skipped without being read, so two commits
// that differ in a few places cost a few tree reads whatever the repository's
// size. Like List it skips .trove at the top and directories beside their own
// manifest (tracked data that was committed by mistake).
func (h *history) walkPair(ctx context.Context, dir string, a, b *object.Tree, fn func(rel string, ha, hb plumbing.Hash)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	type pair struct{ a, b *object.TreeEntry }
	names := map[string]*pair{}
	tracked := map[string]bool{}
	add := func(t *object.Tree, isA bool) {
		if t == nil {
			return
		}
		for i := range t.Entries {
			e := &t.Entries[i]
			p := names[e.Name]
			if p == nil {
				p = &pair{}
				names[e.Name] = p
			}
			if isA {
				p.a = e
			} else {
				p.b = e
			}
			if manifestEntry(e) {
				tracked[strings.TrimSuffix(e.Name, Ext)] = true
			}
		}
	}
	add(a, true)
	add(b, false)
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	join := func(n string) string {
		if dir == "" {
			return n
		}
		return dir + "/" + n
	}
	for _, n := range sorted {
		p := names[n]
		if p.a != nil && p.b != nil && p.a.Hash == p.b.Hash && p.a.Mode == p.b.Mode {
			continue
		}
		var ha, hb plumbing.Hash
		var ta, tb *object.Tree
		for _, s := range []struct {
			e    *object.TreeEntry
			hash *plumbing.Hash
			tree **object.Tree
		}{{p.a, &ha, &ta}, {p.b, &hb, &tb}} {
			switch {
			case s.e == nil:
			case s.e.Mode == filemode.Dir:
				if (dir == "" && n == Dir) || tracked[n] {
					continue
				}
				t, err := h.git.TreeObject(s.e.Hash)
				if err != nil {
					return fmt.Errorf("read git tree %s: %w", join(n), err)
				}
				*s.tree = t
			case manifestEntry(s.e):
				*s.hash = s.e.Hash
			}
		}
		if ha != hb {
			fn(strings.TrimSuffix(join(n), Ext), ha, hb)
		}
		if ta != nil || tb != nil {
			if err := h.walkPair(ctx, join(n), ta, tb, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// commitTree returns a commit's root tree; a nil commit has none.
func commitTree(c *object.Commit) (*object.Tree, error) {
	if c == nil {
		return nil, nil
	}
	t, err := c.Tree()
	if err != nil {
		return nil, fmt.Errorf("read tree of commit %s: %w", c.Hash.String()[:12], err)
	}
	return t, nil
}

// manifestsIn lists the manifests in a commit, sorted by path, filtered by only.
func (h *history) manifestsIn(ctx context.Context, c *object.Commit, only []string) ([]found, error) {
	t, err := commitTree(c)
	if err != nil {
		return nil, err
	}
	var out []found
	err = h.walkPair(ctx, "", nil, t, func(rel string, _, hb plumbing.Hash) {
		if selected(rel, only) {
			out = append(out, found{path: rel, blob: hb})
		}
	})
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out, err
}

// readBlob reads a manifest blob (at most MaxManifestSize bytes).
func (h *history) readBlob(id plumbing.Hash) ([]byte, error) {
	b, err := h.git.BlobObject(id)
	if err != nil {
		return nil, err
	}
	if b.Size > MaxManifestSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrInvalid, MaxManifestSize)
	}
	rd, err := b.Reader()
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	return io.ReadAll(io.LimitReader(rd, MaxManifestSize+1))
}

// decodeAt decodes the manifest of the data at rel with the same checks as
// ReadManifest, and explains merge conflict markers, which otherwise read as a
// JSON syntax error.
func decodeAt(rel string, b []byte) (*Manifest, error) {
	mp := ManifestPath(rel)
	m, err := Decode(b)
	if err != nil {
		if bytes.HasPrefix(b, conflictMarker) || bytes.Contains(b, append([]byte("\n"), conflictMarker...)) {
			return nil, fmt.Errorf("%s: %w: it contains git merge conflict markers; resolve the conflict: keep one side with `git checkout --ours/--theirs %s` then `trove checkout`, or re-add the data", mp, ErrInvalid, mp)
		}
		return nil, fmt.Errorf("%s: %w", mp, err)
	}
	if m.Path != path.Base(rel) {
		return nil, fmt.Errorf("%s: %w: path %q does not match the manifest's name", mp, ErrInvalid, m.Path)
	}
	return m, nil
}

// tracked reads and decodes one manifest blob; problems are kept in Err.
func (h *history) tracked(f found) Tracked {
	b, err := h.readBlob(f.blob)
	if err != nil {
		return Tracked{Path: f.path, Err: fmt.Errorf("%s: read blob %s: %w", ManifestPath(f.path), f.blob.String()[:12], err)}
	}
	m, err := decodeAt(f.path, b)
	return Tracked{Path: f.path, Manifest: m, Err: err}
}

// ManifestsAt returns the manifests committed at rev (a branch, tag, short or full
// hash, HEAD, or any of these with ~N or ^N), sorted by data path. When only is
// non-empty it returns just the artifacts at or under those repository-relative
// paths, like List. A manifest that cannot be decoded (merge conflict markers, a
// newer format) is returned with Err set. An unknown revision gives an error
// wrapping ErrUnknownRevision; a commit cut off by a shallow clone, ErrShallow.
func (r *Repo) ManifestsAt(ctx context.Context, rev string, only []string) ([]Tracked, error) {
	h, err := r.openHistory()
	if err != nil {
		return nil, err
	}
	c, err := h.resolve(rev)
	if err != nil {
		return nil, err
	}
	fs, err := h.manifestsIn(ctx, c, only)
	if err != nil {
		return nil, err
	}
	out := make([]Tracked, 0, len(fs))
	for _, f := range fs {
		out = append(out, h.tracked(f))
	}
	return out, nil
}

// ArtifactVersion is what a manifest says about its data, as Diff shows it.
type ArtifactVersion struct {
	Name   string     `json:"name"`
	Kind   string     `json:"kind"`
	Type   string     `json:"type"`
	Digest objects.ID `json:"digest"`
	Size   int64      `json:"size"`
	Files  int64      `json:"files"`
}

func versionOf(m *Manifest) *ArtifactVersion {
	if m == nil {
		return nil
	}
	return &ArtifactVersion{Name: m.Name, Kind: m.Kind, Type: m.Type, Digest: m.Digest, Size: m.Size, Files: m.Files}
}

// FileVersion is one file of a tracked directory.
type FileVersion struct {
	Digest objects.ID `json:"digest"`
	Size   int64      `json:"size"`
	Mode   string     `json:"mode"` // 100644, 100755 or 120000, as git writes them
}

// FileDiff is one changed file inside a modified directory.
type FileDiff struct {
	Path   string       `json:"path"`
	Change string       `json:"change"` // added, removed, modified, mode
	Old    *FileVersion `json:"old,omitempty"`
	New    *FileVersion `json:"new,omitempty"`
}

// ArtifactDiff is one artifact that differs between the two sides.
type ArtifactDiff struct {
	Path   string           `json:"path"`
	Change string           `json:"change"` // added, removed, modified
	Old    *ArtifactVersion `json:"old,omitempty"`
	New    *ArtifactVersion `json:"new,omitempty"`
	// Fields lists the manifest fields that differ (for example digest, size,
	// meta, metrics); a change to metadata alone leaves the data as it was.
	Fields []string `json:"fields,omitempty"`
	// Files lists the changed files of a modified directory, sorted by path.
	Files         []FileDiff `json:"files,omitempty"`
	FilesAdded    int        `json:"files_added,omitempty"`
	FilesRemoved  int        `json:"files_removed,omitempty"`
	FilesModified int        `json:"files_modified,omitempty"`
	// NewBytes estimates what the new version adds over the old one (see Diff).
	NewBytes int64 `json:"new_bytes"`
	// NewBytesEstimated is set when the objects needed for an exact count are not
	// in the local store and NewBytes is the growth in size instead.
	NewBytesEstimated bool `json:"new_bytes_estimated,omitempty"`
	// DetailUnavailable says why a modified directory lists no files.
	DetailUnavailable string `json:"detail_unavailable,omitempty"`
	// Error is set when either side's manifest cannot be read.
	Error string `json:"error,omitempty"`
}

// DiffResult is what changed between two revisions, or a revision and the working
// tree.
type DiffResult struct {
	From       string `json:"from"`                  // revision as given ("HEAD" by default)
	FromCommit string `json:"from_commit,omitempty"` // empty when the repository has no commit yet
	To         string `json:"to"`                    // revision as given; empty: the working tree
	ToCommit   string `json:"to_commit,omitempty"`   // empty for the working tree
	// Artifacts that differ, sorted by path. Unchanged artifacts are not listed.
	Artifacts []ArtifactDiff `json:"artifacts"`
	Added     int            `json:"added"`
	Removed   int            `json:"removed"`
	Modified  int            `json:"modified"`
	Errors    int            `json:"errors,omitempty"`
	NewBytes  int64          `json:"new_bytes"`
}

// detailUnavailable is DetailUnavailable when a tree object is not here.
const detailUnavailable = "tree not in the local store; run trove fetch"

// Diff compares the manifests at revision from with those at revision to. An
// empty from means HEAD (an empty set when the repository has no commit yet); an
// empty to means the manifests in the working tree (as List finds them), so that
// `trove diff` shows what `git commit` would record. It compares manifests, not
// data: data changed but not yet added is what Status reports. When only is
// non-empty, just the artifacts at or under those paths are compared; a path that
// selects no artifact on either side is an error wrapping ErrNotTracked.
//
// An artifact is identified by its path: a moved artifact is removed at one path
// and added at the other. For a modified directory both trees are read from the
// local store and compared file by file; when either is missing the entry says so
// in DetailUnavailable instead of failing.
//
// NewBytes counts what the new version brings that the old one does not: for a
// file, the bytes of the data chunks in the new recipe that the old recipe lacks;
// for a directory, the sizes of the files added or modified; for an added
// artifact, its size; for a removed one, nothing. It is measured against the same
// artifact's old version only, not the whole store, so it is an upper bound on what
// a push would send. When the recipes or trees are not in the local store, it is
// the growth in size (at least 0) and NewBytesEstimated is set.
//
// Between two commits, only manifests whose git blobs differ are read; identical
// git subtrees are skipped.
func (r *Repo) Diff(ctx context.Context, from, to string, only []string) (DiffResult, error) {
	res := DiffResult{From: from, To: to, Artifacts: []ArtifactDiff{}}
	h, err := r.openHistory()
	if err != nil {
		return res, err
	}
	var fromC, toC *object.Commit
	if from == "" {
		res.From = "HEAD"
		if _, err := h.git.Head(); err == nil {
			if fromC, err = h.resolve("HEAD"); err != nil {
				return res, err
			}
		} else if !errors.Is(err, plumbing.ErrReferenceNotFound) {
			return res, fmt.Errorf("read HEAD: %w", err)
		}
	} else if fromC, err = h.resolve(from); err != nil {
		return res, err
	}
	if fromC != nil {
		res.FromCommit = fromC.Hash.String()
	}

	// Pairs of manifest blobs (or working-tree manifests) that differ.
	type side struct {
		blob plumbing.Hash
		t    Tracked
	}
	type change struct {
		path string
		a, b *side
	}
	var changes []change
	if to != "" {
		if toC, err = h.resolve(to); err != nil {
			return res, err
		}
		res.ToCommit = toC.Hash.String()
		ta, err := commitTree(fromC)
		if err != nil {
			return res, err
		}
		tb, err := commitTree(toC)
		if err != nil {
			return res, err
		}
		var fs []found
		var fsA []plumbing.Hash
		err = h.walkPair(ctx, "", ta, tb, func(rel string, ha, hb plumbing.Hash) {
			if selected(rel, only) {
				fs = append(fs, found{path: rel, blob: hb})
				fsA = append(fsA, ha)
			}
		})
		if err != nil {
			return res, err
		}
		for i, f := range fs {
			ch := change{path: f.path}
			if !fsA[i].IsZero() {
				ch.a = &side{blob: fsA[i], t: h.tracked(found{path: f.path, blob: fsA[i]})}
			}
			if !f.blob.IsZero() {
				ch.b = &side{blob: f.blob, t: h.tracked(f)}
			}
			changes = append(changes, ch)
		}
		if len(only) > 0 {
			// A path that selects nothing changed may still be tracked: check that
			// it names something on either side before calling it an error.
			if err := h.checkSelected(ctx, only, fs, fromC, toC); err != nil {
				return res, err
			}
		}
	} else {
		var old []found
		if fromC != nil {
			if old, err = h.manifestsIn(ctx, fromC, only); err != nil {
				return res, err
			}
		}
		cur, err := r.List(ctx, only)
		if err != nil {
			return res, err
		}
		byPath := map[string]*change{}
		var order []string
		get := func(p string) *change {
			if c := byPath[p]; c != nil {
				return c
			}
			c := &change{path: p}
			byPath[p] = c
			order = append(order, p)
			return c
		}
		for _, f := range old {
			get(f.path).a = &side{blob: f.blob}
		}
		for _, t := range cur {
			b, err := readManifestFile(r.Abs(ManifestPath(t.Path)))
			s := &side{t: t}
			if err == nil {
				s.blob = plumbing.ComputeHash(plumbing.BlobObject, b)
				if t.Err != nil {
					// Explain conflict markers the way ManifestsAt does.
					if _, derr := decodeAt(t.Path, b); derr != nil {
						s.t.Err = derr
					}
				}
			}
			get(t.Path).b = s
		}
		if len(only) > 0 {
			var fs []found
			for _, p := range order {
				fs = append(fs, found{path: p})
			}
			if err := h.checkSelected(ctx, only, fs, nil, nil); err != nil {
				return res, err
			}
		}
		for _, p := range order {
			c := byPath[p]
			if c.a != nil && c.b != nil && c.a.blob == c.b.blob {
				continue
			}
			if c.a != nil {
				c.a.t = h.tracked(found{path: p, blob: c.a.blob})
			}
			changes = append(changes, *c)
		}
	}

	for _, c := range changes {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		d := ArtifactDiff{Path: c.path}
		var ma, mb *Manifest
		var errs []string
		if c.a != nil {
			ma = c.a.t.Manifest
			if c.a.t.Err != nil {
				errs = append(errs, c.a.t.Err.Error())
			}
		}
		if c.b != nil {
			mb = c.b.t.Manifest
			if c.b.t.Err != nil {
				errs = append(errs, c.b.t.Err.Error())
			}
		}
		switch {
		case c.a == nil:
			d.Change = ChangeAdded
		case c.b == nil:
			d.Change = ChangeRemoved
		default:
			d.Change = ChangeModified
		}
		d.Old, d.New = versionOf(ma), versionOf(mb)
		if len(errs) > 0 {
			d.Error = strings.Join(errs, "; ")
			res.Errors++
		}
		switch {
		case d.Error != "":
		case d.Change == ChangeAdded:
			d.NewBytes = mb.Size
		case d.Change == ChangeModified:
			d.Fields = changedFields(ma, mb)
			if len(d.Fields) == 0 {
				continue // same content, different bytes: cannot happen with canonical manifests
			}
			// The store is opened only here: reading its index is most of the cost
			// of a diff that has content to compare.
			st, err := r.Store()
			if err != nil {
				return res, err
			}
			diffContent(ctx, st, ma, mb, &d)
		}
		switch d.Change {
		case ChangeAdded:
			res.Added++
		case ChangeRemoved:
			res.Removed++
		case ChangeModified:
			res.Modified++
		}
		res.NewBytes += d.NewBytes
		res.Artifacts = append(res.Artifacts, d)
	}
	sort.Slice(res.Artifacts, func(i, j int) bool { return res.Artifacts[i].Path < res.Artifacts[j].Path })
	return res, ctx.Err()
}

// checkSelected returns ErrNotTracked for the first path in only that selects no
// artifact among fs, nor in commits a or b.
func (h *history) checkSelected(ctx context.Context, only []string, fs []found, a, b *object.Commit) error {
	for _, o := range only {
		hit := false
		for _, f := range fs {
			if selected(f.path, []string{o}) {
				hit = true
				break
			}
		}
		for _, c := range []*object.Commit{a, b} {
			if hit || c == nil {
				continue
			}
			in, err := h.manifestsIn(ctx, c, []string{o})
			if err != nil {
				return err
			}
			hit = len(in) > 0
		}
		if !hit {
			return fmt.Errorf("%s: %w on either side of the diff", o, ErrNotTracked)
		}
	}
	return nil
}

// changedFields names the top-level manifest fields that differ.
func changedFields(a, b *Manifest) []string {
	var out []string
	add := func(name string, differ bool) {
		if differ {
			out = append(out, name)
		}
	}
	add("chunker", a.Chunker != b.Chunker)
	add("digest", a.Digest != b.Digest)
	add("files", a.Files != b.Files)
	add("kind", a.Kind != b.Kind)
	add("lineage", !reflect.DeepEqual(a.Lineage, b.Lineage))
	add("meta", !reflect.DeepEqual(a.Meta, b.Meta))
	add("metrics", !reflect.DeepEqual(a.Metrics, b.Metrics))
	add("name", a.Name != b.Name)
	add("object", a.Object != b.Object)
	add("path", a.Path != b.Path)
	add("profile", !reflect.DeepEqual(a.Profile, b.Profile))
	add("size", a.Size != b.Size)
	add("trove", a.Trove != b.Trove)
	add("type", a.Type != b.Type)
	return out
}

// diffContent fills the file changes and NewBytes of a modified artifact.
func diffContent(ctx context.Context, st *objects.Store, a, b *Manifest, d *ArtifactDiff) {
	estimate := func() {
		d.NewBytes, d.NewBytesEstimated = max(0, b.Size-a.Size), true
	}
	switch {
	case a.Digest == b.Digest && a.Type == b.Type:
		if a.Type == TypeDir && a.Object != b.Object {
			// Same files, different tree: only modes can differ.
			break
		}
		return
	case a.Type != b.Type:
		d.NewBytes = b.Size
		return
	case b.Type == TypeFile:
		_, old, err1 := st.RecipeChunks(ctx, []objects.ID{a.Object}, nil)
		_, cur, err2 := st.RecipeChunks(ctx, []objects.ID{b.Object}, nil)
		if err1 != nil || err2 != nil {
			estimate()
			return
		}
		have := make(map[objects.ID]bool, len(old))
		for _, e := range old {
			have[e.ID] = true
		}
		for _, e := range cur {
			if !have[e.ID] {
				have[e.ID] = true
				d.NewBytes += int64(e.Size)
			}
		}
		return
	}
	var err error
	if d.Files, err = diffTreeObjects(ctx, st, a.Object, b.Object); err != nil {
		d.DetailUnavailable = detailUnavailable
		if !errors.Is(err, objects.ErrMissing) {
			d.DetailUnavailable = fmt.Sprintf("read tree: %v", err)
		}
		estimate()
		return
	}
	for _, f := range d.Files {
		switch f.Change {
		case ChangeAdded:
			d.FilesAdded++
			d.NewBytes += f.New.Size
		case ChangeRemoved:
			d.FilesRemoved++
		default:
			d.FilesModified++
			if f.Change == ChangeModified {
				d.NewBytes += f.New.Size
			}
		}
	}
}

func fileVersion(e objects.TreeEntry) *FileVersion {
	return &FileVersion{Digest: e.Digest, Size: e.Size, Mode: fmt.Sprintf("%06o", e.Mode)}
}

// maxTreeLine bounds the length of one line of an encoded tree: mode, size,
// digest, recipe, path, four spaces and the newline.
const maxTreeLine = 6 + 19 + 64 + 64 + objects.MaxPathLen + 5

// diffTreeObjects lists the files that differ between two trees (stored under these
// recipe ids), reading as little of them as it can.
//
// A tree is text (objects.EncodeTree): a header line, then one line per file,
// sorted by path, stored as content-defined chunks. Two versions of a large
// directory share most chunks, and a line that is whole inside a chunk both trees
// have, or that straddles a pair of chunks both trees have side by side, is the
// same line in both: the other tree has the same bytes around it, and paths are
// unique. Only the other lines can differ; they are found in the chunks one tree
// lacks and at the boundaries between chunks that are not neighbours in the other
// tree, so only those chunks are read. This needs every chunk but the last to be
// longer than any line (so that a line spans at most two chunks), which the
// default chunker sizes guarantee; otherwise both trees are read whole. Either
// way, the lines that may differ are then merged by path, and only those are
// parsed, strictly, by objects.DecodeTree.
func diffTreeObjects(ctx context.Context, st *objects.Store, a, b objects.ID) ([]FileDiff, error) {
	ca, err := recipeData(ctx, st, a)
	if err != nil {
		return nil, err
	}
	cb, err := recipeData(ctx, st, b)
	if err != nil {
		return nil, err
	}
	// Both sides read the shared chunks next to the ones that changed: read each
	// once.
	sharedRead := map[objects.ID][]byte{}
	ha, la, errA := changedLines(st, ca, cb, sharedRead)
	hb, lb, errB := changedLines(st, cb, ca, sharedRead)
	if errors.Is(errA, errShortChunk) || errors.Is(errB, errShortChunk) {
		ha, la, errA = allLines(ctx, st, a)
		hb, lb, errB = allLines(ctx, st, b)
	}
	if err := errors.Join(errA, errB); err != nil {
		return nil, err
	}
	if !bytes.Equal(ha, hb) {
		// Different (or broken) formats: let the decoder say what is wrong.
		ta, err := LoadTree(ctx, st, a)
		if err != nil {
			return nil, err
		}
		tb, err := LoadTree(ctx, st, b)
		if err != nil {
			return nil, err
		}
		return diffEntries(ta, tb), nil
	}
	return mergeTreeLines(ha, la, lb)
}

// errShortChunk: a tree has a chunk that a line could span; read it whole.
var errShortChunk = errors.New("tree chunk shorter than a line")

// recipeData lists the data chunks of content, reading only its recipe.
func recipeData(ctx context.Context, st *objects.Store, id objects.ID) ([]objects.RecipeEntry, error) {
	var out []objects.RecipeEntry
	err := st.WalkRecipe(ctx, id, nil, func(e objects.RecipeEntry) error {
		out = append(out, e)
		return nil
	})
	return out, err
}

// changedLines returns the header of the tree made of chunks mine and the lines
// of it that may differ from the tree made of chunks other (see diffTreeObjects),
// reading only the chunks those lines are in.
//
// Chunks both trees have are kept in cache, for the other side's call.
func changedLines(st *objects.Store, mine, other []objects.RecipeEntry, cache map[objects.ID][]byte) (header []byte, lines [][]byte, err error) {
	n := len(mine)
	if n == 0 {
		return nil, nil, fmt.Errorf("%w: empty tree", objects.ErrCorrupt)
	}
	for _, c := range [][]objects.RecipeEntry{mine, other} {
		for _, e := range c[:len(c)-1] {
			if e.Size <= maxTreeLine {
				return nil, nil, errShortChunk
			}
		}
	}
	type pair [2]objects.ID
	shared := make(map[objects.ID]bool, len(other))
	pairs := make(map[pair]bool, len(other))
	for i, e := range other {
		shared[e.ID] = true
		if i > 0 {
			pairs[pair{other[i-1].ID, e.ID}] = true
		}
	}
	need := make([]bool, n)
	need[0] = true // for the header
	for i, e := range mine {
		if !shared[e.ID] {
			need[i] = true
		}
		if i > 0 && !pairs[pair{mine[i-1].ID, e.ID}] {
			need[i-1], need[i] = true, true
		}
	}
	// Each needed chunk is read once and its lines looked at in place; only the
	// header and a line cut by a chunk boundary are copied. A line is the same in the other tree when the
	// chunk it lies in is in the other tree, or, when it starts a chunk or
	// straddles two, when the other tree has that pair of chunks side by side.
	var buf, carry []byte
	for i := 0; i < n; {
		if !need[i] {
			i++
			continue
		}
		j := i
		for j < n && need[j] {
			j++
		}
		// The run of chunks i..j-1. At its edges the boundary lines are shared
		// (else the neighbours would be in the run): start after the first
		// newline, stop after the last.
		carry = carry[:0]
		inLine := false // carry holds the start of a line cut at the previous chunk's end
		for k := i; k < j; k++ {
			sharedChunk := shared[mine[k].ID]
			if b, ok := cache[mine[k].ID]; ok {
				buf = b
			} else if buf, err = st.ReadChunk(mine[k].ID, nil); err != nil {
				return nil, nil, err
			} else if sharedChunk {
				cache[mine[k].ID] = buf
			}
			if uint64(len(buf)) != mine[k].Size {
				return nil, nil, fmt.Errorf("%w: chunk %s has %d bytes, recipe says %d", objects.ErrCorrupt, mine[k].ID.Short(), len(buf), mine[k].Size)
			}
			nl := bytes.IndexByte(buf, '\n')
			if nl < 0 {
				return nil, nil, errShortChunk
			}
			pos := nl + 1
			switch {
			case inLine:
				if !pairs[pair{mine[k-1].ID, mine[k].ID}] {
					lines = append(lines, append(bytes.Clone(carry), buf[:pos]...))
				}
			case k == i && i == 0:
				header = bytes.Clone(buf[:pos])
			case k == i:
				// the run's first boundary line: shared
			default:
				// The previous chunk ended with a newline: this line starts the chunk.
				if !pairs[pair{mine[k-1].ID, mine[k].ID}] {
					lines = append(lines, bytes.Clone(buf[:pos]))
				}
			}
			if sharedChunk {
				// Its whole lines are the same in the other tree: only the line cut
				// at its end matters.
				pos = max(pos, bytes.LastIndexByte(buf, '\n')+1)
			}
			for pos < len(buf) {
				e := bytes.IndexByte(buf[pos:], '\n')
				if e < 0 {
					break
				}
				lines = append(lines, buf[pos:pos+e+1:pos+e+1])
				pos += e + 1
			}
			carry, inLine = append(carry[:0], buf[pos:]...), pos < len(buf)
			if k == j-1 && j == n && inLine {
				// No newline at the end of the tree: the parser says what is wrong.
				lines = append(lines, bytes.Clone(carry))
			}
		}
		i = j
	}
	return header, lines, nil
}

// allLines reads a tree whole and returns its header and its lines.
func allLines(ctx context.Context, st *objects.Store, id objects.ID) (header []byte, lines [][]byte, err error) {
	var buf treeBuf
	if _, err := st.ReadContent(ctx, id, &buf); err != nil {
		return nil, nil, err
	}
	b := buf.b
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return nil, nil, fmt.Errorf("%w: not a trove tree", objects.ErrCorrupt)
	}
	header, b = b[:i+1], b[i+1:]
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			i = len(b) - 1 // no newline: the parser reports it
		}
		lines, b = append(lines, b[:i+1]), b[i+1:]
	}
	return header, lines, nil
}

// mergeTreeLines merges the lines of two trees that may differ, both in path
// order, and parses those that do.
func mergeTreeLines(header []byte, a, b [][]byte) ([]FileDiff, error) {
	parse := func(line []byte) (objects.TreeEntry, error) {
		one := make([]byte, 0, len(header)+len(line))
		one = append(append(one, header...), line...)
		es, err := objects.DecodeTree(one)
		if err != nil {
			return objects.TreeEntry{}, err
		}
		if len(es) != 1 {
			return objects.TreeEntry{}, fmt.Errorf("%w: tree line %q", objects.ErrCorrupt, line)
		}
		return es[0], nil
	}
	// The path is the fifth field; fields are separated by single spaces.
	pathOf := func(line []byte) []byte {
		p := line
		for range 4 {
			i := bytes.IndexByte(p, ' ')
			if i < 0 {
				return line
			}
			p = p[i+1:]
		}
		return bytes.TrimSuffix(p, []byte("\n"))
	}
	var out []FileDiff
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		if i < len(a) && j < len(b) && bytes.Equal(a[i], b[j]) {
			i++
			j++
			continue
		}
		var c int
		switch {
		case i >= len(a):
			c = 1
		case j >= len(b):
			c = -1
		default:
			c = bytes.Compare(pathOf(a[i]), pathOf(b[j]))
		}
		switch {
		case c < 0:
			ea, err := parse(a[i])
			if err != nil {
				return nil, err
			}
			out = append(out, FileDiff{Path: ea.Path, Change: ChangeRemoved, Old: fileVersion(ea)})
			i++
		case c > 0:
			eb, err := parse(b[j])
			if err != nil {
				return nil, err
			}
			out = append(out, FileDiff{Path: eb.Path, Change: ChangeAdded, New: fileVersion(eb)})
			j++
		default:
			ea, err := parse(a[i])
			if err != nil {
				return nil, err
			}
			eb, err := parse(b[j])
			if err != nil {
				return nil, err
			}
			if f, ok := diffEntry(ea, eb); ok {
				out = append(out, f)
			}
			i++
			j++
		}
	}
	for k := 1; k < len(out); k++ {
		if out[k-1].Path >= out[k].Path {
			return nil, fmt.Errorf("%w: tree entries %q and %q are out of order or duplicated", objects.ErrCorrupt, out[k-1].Path, out[k].Path)
		}
	}
	return out, nil
}

// diffEntry compares two versions of one file.
func diffEntry(a, b objects.TreeEntry) (FileDiff, bool) {
	switch {
	case a.Digest != b.Digest || a.Size != b.Size:
		return FileDiff{Path: b.Path, Change: ChangeModified, Old: fileVersion(a), New: fileVersion(b)}, true
	case a.Mode != b.Mode:
		return FileDiff{Path: b.Path, Change: ChangeMode, Old: fileVersion(a), New: fileVersion(b)}, true
	}
	return FileDiff{}, false
}

// diffEntries merges two decoded, sorted trees.
func diffEntries(old, cur []objects.TreeEntry) []FileDiff {
	var out []FileDiff
	i, j := 0, 0
	for i < len(old) || j < len(cur) {
		switch {
		case j >= len(cur) || (i < len(old) && old[i].Path < cur[j].Path):
			out = append(out, FileDiff{Path: old[i].Path, Change: ChangeRemoved, Old: fileVersion(old[i])})
			i++
		case i >= len(old) || cur[j].Path < old[i].Path:
			out = append(out, FileDiff{Path: cur[j].Path, Change: ChangeAdded, New: fileVersion(cur[j])})
			j++
		default:
			if f, ok := diffEntry(old[i], cur[j]); ok {
				out = append(out, f)
			}
			i++
			j++
		}
	}
	return out
}

// LogEntry is one version of an artifact: a commit that changed its manifest.
type LogEntry struct {
	Commit  string `json:"commit"`
	Author  string `json:"author"`
	Email   string `json:"email"`
	Date    string `json:"date"` // author date, RFC 3339 in UTC
	Subject string `json:"subject"`
	Change  string `json:"change"` // added, modified, removed
	// What the manifest says at this commit; empty when removed or unreadable.
	Digest string `json:"digest,omitempty"`
	Size   int64  `json:"size"`
	Files  int64  `json:"files"`
	Kind   string `json:"kind,omitempty"`
	Type   string `json:"type,omitempty"`
	// ShallowBoundary marks a commit whose parents are not in this (shallow)
	// clone: the artifact may be older than this entry says.
	ShallowBoundary bool   `json:"shallow_boundary,omitempty"`
	Error           string `json:"error,omitempty"`
}

// Log lists the versions of one artifact along HEAD's history, newest first: every
// commit whose manifest blob differs from the one in its first parent (so a change
// merged from a branch shows as the merge commit, like `git log --first-parent`).
// path is the data path or the manifest path, repository-relative or absolute. An
// artifact that no commit on that line has is an error wrapping ErrNotTracked. In a
// shallow clone the walk stops at the shallow boundary, whose entry says so.
func (r *Repo) Log(ctx context.Context, p string) ([]LogEntry, error) {
	only, err := r.Resolve(r.Root, []string{p})
	if err != nil {
		return nil, err
	}
	if len(only) != 1 {
		return nil, fmt.Errorf("%s: %w (name a tracked file or directory)", p, ErrNotTracked)
	}
	rel := only[0]
	mp := ManifestPath(rel)
	h, err := r.openHistory()
	if err != nil {
		return nil, err
	}
	if _, err := h.git.Head(); err != nil {
		if errors.Is(err, plumbing.ErrReferenceNotFound) {
			return nil, fmt.Errorf("%s: %w (the repository has no commit yet)", rel, ErrNotTracked)
		}
		return nil, fmt.Errorf("read HEAD: %w", err)
	}
	c, err := h.resolve("HEAD")
	if err != nil {
		return nil, err
	}
	blobAt := func(c *object.Commit) (plumbing.Hash, error) {
		t, err := commitTree(c)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		e, err := t.FindEntry(mp)
		switch {
		case errors.Is(err, object.ErrEntryNotFound), errors.Is(err, object.ErrDirectoryNotFound):
			return plumbing.ZeroHash, nil
		case err != nil:
			return plumbing.ZeroHash, fmt.Errorf("find %s in commit %s: %w", mp, c.Hash.String()[:12], err)
		case !manifestEntry(e):
			return plumbing.ZeroHash, nil
		}
		return e.Hash, nil
	}
	out := []LogEntry{}
	seen := false
	cur, err := blobAt(c)
	if err != nil {
		return nil, err
	}
	for c != nil {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		var parent *object.Commit
		boundary := h.shallow[c.Hash]
		if c.NumParents() > 0 && !boundary {
			if parent, err = c.Parent(0); err != nil {
				if errors.Is(err, plumbing.ErrObjectNotFound) {
					return out, fmt.Errorf("parent of %s: %w", c.Hash.String()[:12], ErrShallow)
				}
				return out, fmt.Errorf("parent of %s: %w", c.Hash.String()[:12], err)
			}
		}
		var prev plumbing.Hash
		if parent != nil {
			if prev, err = blobAt(parent); err != nil {
				return out, err
			}
		}
		if cur != prev {
			seen = seen || !cur.IsZero()
			e := LogEntry{
				Commit: c.Hash.String(), Author: c.Author.Name, Email: c.Author.Email,
				Date:    c.Author.When.UTC().Format(time.RFC3339),
				Subject: subject(c.Message), ShallowBoundary: boundary,
			}
			switch {
			case cur.IsZero():
				e.Change = ChangeRemoved
			case prev.IsZero():
				e.Change = ChangeAdded
			default:
				e.Change = ChangeModified
			}
			if !cur.IsZero() {
				t := h.tracked(found{path: rel, blob: cur})
				if t.Err != nil {
					e.Error = t.Err.Error()
				} else {
					m := t.Manifest
					e.Digest, e.Size, e.Files, e.Kind, e.Type = m.Digest.String(), m.Size, m.Files, m.Kind, m.Type
				}
			}
			out = append(out, e)
		}
		c, cur = parent, prev
	}
	if !seen {
		return nil, fmt.Errorf("%s: %w in HEAD's history (was its manifest committed?)", rel, ErrNotTracked)
	}
	return out, nil
}

// subject is the first line of a commit message.
func subject(msg string) string {
	s, _, _ := strings.Cut(strings.TrimLeft(msg, "\n"), "\n")
	return strings.TrimSpace(s)
}

// treeBuf collects a tree read whole (allLines), refusing one over 1 GiB.
type treeBuf struct{ b []byte }

func (t *treeBuf) Write(p []byte) (int, error) {
	if len(t.b)+len(p) > 1<<30 {
		return 0, fmt.Errorf("%w: tree larger than 1 GiB", objects.ErrCorrupt)
	}
	t.b = append(t.b, p...)
	return len(p), nil
}
