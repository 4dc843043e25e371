package manifest

import (
	"context"

	"github.com/trove-dev/trove/objects"
)

// Needed is every chunk some artifacts need: recipe and tree chunks as well as data.
type Needed struct {
	Chunks    []objects.ID // unique, in first-seen order
	DataBytes int64        // bytes of unique data chunks
	Files     int64
}

// Needed walks the artifacts' recipes and trees and lists every chunk they need.
// Recipe and tree chunks the store lacks are obtained through ensure (nil: they
// must be present); data chunks are only listed. Pull passes a fetcher; push passes
// nil, since it can only send what is here.
func (r *Repo) Needed(ctx context.Context, tracked []Tracked, ensure objects.Ensure) (Needed, error) {
	st, err := r.Store()
	if err != nil {
		return Needed{}, err
	}
	var n Needed
	seen := map[objects.ID]bool{}
	add := func(id objects.ID, size int64, data bool) {
		if seen[id] {
			return
		}
		seen[id] = true
		n.Chunks = append(n.Chunks, id)
		if data {
			n.DataBytes += size
		}
	}
	fileTops, files, err := treeContents(ctx, st, tracked, ensure,
		func(id objects.ID) error { add(id, 0, false); return nil },
		func(e objects.TreeEntry) error { add(e.Digest, e.Size, true); return nil })
	if err != nil {
		return n, err
	}
	n.Files = files
	if len(fileTops) > 0 {
		meta, data, err := st.RecipeChunks(ctx, fileTops, ensure)
		if err != nil {
			return n, err
		}
		for _, id := range meta {
			add(id, 0, false)
		}
		for _, d := range data {
			add(d.ID, int64(d.Size), true)
		}
	}
	return n, nil
}

// treeContents is the part of a closure walk that Needed and walkChunks share:
// it passes the chunks of the directories' trees to treeChunk (fetching those
// the store lacks through ensure), streams the trees and passes every inline
// content (a file of one chunk) to inline, and returns the recipes of all other
// files, the file artifacts' and the trees' files', and the number of files.
func treeContents(ctx context.Context, st *objects.Store, tracked []Tracked, ensure objects.Ensure,
	treeChunk func(objects.ID) error, inline func(objects.TreeEntry) error) (fileTops []objects.ID, files int64, err error) {
	var treeTops []objects.ID
	subset := map[objects.ID][]string{}
	for _, t := range tracked {
		if t.Err != nil {
			return nil, 0, t.Err
		}
		files += t.Manifest.Files
		if t.Manifest.Type == TypeDir {
			treeTops = append(treeTops, t.Manifest.Object)
			if t.Only != nil {
				subset[t.Manifest.Object] = t.Only
			}
		} else {
			fileTops = append(fileTops, t.Manifest.Object)
		}
	}
	if len(treeTops) == 0 {
		return fileTops, files, nil
	}
	// Trees: their text is content too; fetch it, then read the entries.
	meta, data, err := st.RecipeChunks(ctx, treeTops, ensure)
	if err != nil {
		return nil, 0, err
	}
	ids := make([]objects.ID, 0, len(data))
	for _, d := range data {
		ids = append(ids, d.ID)
	}
	if err := ensureIDs(ctx, st, ensure, ids); err != nil {
		return nil, 0, err
	}
	for _, id := range append(meta, ids...) {
		if err := treeChunk(id); err != nil {
			return nil, 0, err
		}
	}
	for _, top := range treeTops {
		only, some := subset[top]
		err := WalkTree(ctx, st, top, func(e objects.TreeEntry) error {
			switch {
			case some && !selected(e.Path, only):
			case !e.Recipe.IsZero():
				fileTops = append(fileTops, e.Recipe)
			case e.Size > 0:
				return inline(e)
			}
			return nil
		})
		if err != nil {
			return nil, 0, err
		}
	}
	return fileTops, files, nil
}

func ensureIDs(ctx context.Context, st *objects.Store, ensure objects.Ensure, ids []objects.ID) error {
	var missing []objects.ID
	for _, id := range ids {
		if !st.Has(id) {
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if ensure == nil {
		return &objects.MissingError{ID: missing[0]}
	}
	return ensure(ctx, missing)
}

// Missing returns the chunks among ids that the local store lacks.
func (r *Repo) Missing(ids []objects.ID) ([]objects.ID, error) {
	st, err := r.Store()
	if err != nil {
		return nil, err
	}
	var out []objects.ID
	for _, id := range ids {
		if !st.Has(id) {
			out = append(out, id)
		}
	}
	return out, nil
}

// walkChunks calls fn for every chunk the artifacts need, like Needed, but
// without holding them: repeats are passed on (a set drops them), and only the
// trees' entries and the list of their files' recipes are held, not their
// chunks. The order is Needed's for every chunk that may be missing with a nil
// ensure (inline contents, then data chunks file by file); recipe chunks come
// with the data of their file. Recipe and tree chunks the store lacks are
// obtained through ensure, one batch per recipe level, as Needed does.
func (r *Repo) walkChunks(ctx context.Context, st *objects.Store, tracked []Tracked, ensure objects.Ensure, fn func(objects.ID) error) error {
	fileTops, _, err := treeContents(ctx, st, tracked, ensure, fn, func(e objects.TreeEntry) error { return fn(e.Digest) })
	if err != nil {
		return err
	}
	data := func(e objects.RecipeEntry) error { return fn(e.ID) }
	var ferr error
	meta := func(id objects.ID) {
		if ferr == nil {
			ferr = fn(id)
		}
	}
	if ensure != nil {
		if err := st.EnsureRecipes(ctx, fileTops, ensure); err != nil {
			return err
		}
	}
	for _, top := range fileTops {
		err := st.WalkRecipe(ctx, top, meta, data)
		if err == nil {
			err = ferr
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// NeededSet is Needed as a set, for artifacts whose chunks may not fit in
// memory: it spills to the store's tmp directory past the store's sort budget.
// The caller closes it.
func (r *Repo) NeededSet(ctx context.Context, tracked []Tracked, ensure objects.Ensure) (*objects.IDSet, error) {
	st, err := r.Store()
	if err != nil {
		return nil, err
	}
	set := st.NewIDSet()
	if err := r.walkChunks(ctx, st, tracked, ensure, set.Add); err != nil {
		set.Close()
		return nil, err
	}
	return set, nil
}

// WalkNeeded calls fn for every chunk the artifacts need, in Needed's order
// but with repeats, holding none of them (see NeededSet); recipe and tree
// chunks must be present.
func (r *Repo) WalkNeeded(ctx context.Context, tracked []Tracked, fn func(objects.ID) error) error {
	st, err := r.Store()
	if err != nil {
		return err
	}
	return r.walkChunks(ctx, st, tracked, nil, fn)
}
