package manifest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// History is every manifest that git can reach, for garbage collection.
type History struct {
	Refs      int       // refs walked (branches, tags, remote-tracking refs, HEAD)
	Commits   int       // commits walked
	Manifests []Tracked // distinct manifests: every version of every artifact, plus the working tree's
	Skipped   []string  // manifests in history that cannot be read (conflict markers...), with why
	Shallow   bool      // the clone is shallow: older versions cannot be seen
}

// AllManifests walks every commit reachable from any ref (branches, tags,
// remote-tracking refs, stash, HEAD) and collects every distinct manifest, plus
// the manifests in the working tree (which may not be committed yet). Each commit
// is compared with its first parent, so a long history costs one tree diff per
// commit, not one full tree walk. A manifest from a newer trove is an error: its
// objects cannot be known, so nothing may be collected.
func (r *Repo) AllManifests(ctx context.Context) (*History, error) {
	h, err := r.openHistory()
	if err != nil {
		return nil, err
	}
	out := &History{Shallow: len(h.shallow) > 0}
	blobs := map[plumbing.Hash]string{}
	var starts []plumbing.Hash
	refs, err := h.git.References()
	if err != nil {
		return nil, fmt.Errorf("list refs: %w", err)
	}
	err = refs.ForEach(func(ref *plumbing.Reference) error {
		if ref.Type() != plumbing.HashReference {
			return nil
		}
		out.Refs++
		starts = append(starts, ref.Hash())
		return nil
	})
	if err != nil {
		return nil, err
	}
	if head, err := h.git.Head(); err == nil {
		starts = append(starts, head.Hash())
	}
	seen := map[plumbing.Hash]bool{}
	queue := []plumbing.Hash{}
	for _, s := range starts {
		c, err := peelCommit(h, s)
		if err != nil || c == nil {
			continue // a ref to a blob or tree, or a dangling ref
		}
		if !seen[c.Hash] {
			seen[c.Hash] = true
			queue = append(queue, c.Hash)
		}
	}
	for len(queue) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		id := queue[0]
		queue = queue[1:]
		c, err := h.git.CommitObject(id)
		if err != nil {
			if h.shallow[id] {
				continue
			}
			return nil, fmt.Errorf("read commit %s: %w", id.String()[:12], err)
		}
		out.Commits++
		var parentTree *object.Tree
		if len(c.ParentHashes) > 0 && !h.shallow[id] {
			if p, err := h.git.CommitObject(c.ParentHashes[0]); err == nil {
				parentTree, _ = p.Tree()
			}
		}
		t, err := c.Tree()
		if err != nil {
			return nil, fmt.Errorf("read tree of %s: %w", id.String()[:12], err)
		}
		err = h.walkPair(ctx, "", parentTree, t, func(rel string, _, hb plumbing.Hash) {
			if !hb.IsZero() {
				if _, ok := blobs[hb]; !ok {
					blobs[hb] = rel
				}
			}
		})
		if err != nil {
			return nil, err
		}
		if h.shallow[id] {
			continue
		}
		for _, p := range c.ParentHashes {
			if !seen[p] {
				seen[p] = true
				queue = append(queue, p)
			}
		}
	}
	keys := make([]plumbing.Hash, 0, len(blobs))
	for k := range blobs {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	digests := map[string]bool{}
	for _, k := range keys {
		t := h.tracked(found{path: blobs[k], blob: k})
		if t.Err != nil {
			if errors.Is(t.Err, ErrNewerFormat) {
				return nil, t.Err
			}
			out.Skipped = append(out.Skipped, t.Err.Error())
			continue
		}
		key := t.Manifest.Object.String() + t.Manifest.Digest.String()
		if !digests[key] {
			digests[key] = true
			out.Manifests = append(out.Manifests, t)
		}
	}
	wt, err := r.List(ctx, nil)
	if err != nil {
		return nil, err
	}
	for _, t := range wt {
		if t.Err != nil {
			if errors.Is(t.Err, ErrNewerFormat) {
				return nil, t.Err
			}
			out.Skipped = append(out.Skipped, t.Err.Error())
			continue
		}
		key := t.Manifest.Object.String() + t.Manifest.Digest.String()
		if !digests[key] {
			digests[key] = true
			out.Manifests = append(out.Manifests, t)
		}
	}
	return out, nil
}

// peelCommit follows annotated tags to the commit they name; other objects give nil.
func peelCommit(h *history, id plumbing.Hash) (*object.Commit, error) {
	for i := 0; i < 10; i++ {
		obj, err := h.git.Object(plumbing.AnyObject, id)
		if err != nil {
			return nil, err
		}
		switch o := obj.(type) {
		case *object.Commit:
			return o, nil
		case *object.Tag:
			id = o.Target
		default:
			return nil, nil
		}
	}
	return nil, fmt.Errorf("tag chain too long at %s", strings.TrimSpace(id.String()))
}
