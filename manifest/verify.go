package manifest

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/zeebo/blake3"

	"github.com/trove-dev/trove/objects"
)

// Problem is one thing wrong with a stored artifact.
type Problem struct {
	Artifact string     `json:"artifact"`
	File     string     `json:"file,omitempty"` // inside a directory artifact
	Object   objects.ID `json:"object,omitempty"`
	Kind     string     `json:"kind"` // missing, corrupt, mismatch, invalid
	Detail   string     `json:"detail"`
}

// VerifyResult summarizes Verify.
type VerifyResult struct {
	Artifacts int       `json:"artifacts"`
	Chunks    int       `json:"chunks"`
	Bytes     int64     `json:"bytes"` // content bytes re-hashed (deep only)
	Problems  []Problem `json:"problems"`
}

// Verify checks that the local store holds everything the artifacts need. With
// deep, it also reads every byte back: each chunk must match its id, each file
// its digest, each directory its tree digest, so the manifests' claims are checked
// end to end. Problems are collected per artifact; the error is only for failures
// to run at all.
func (r *Repo) Verify(ctx context.Context, tracked []Tracked, deep bool) (VerifyResult, error) {
	res := VerifyResult{Problems: []Problem{}}
	st, err := r.Store()
	if err != nil {
		return res, err
	}
	if deep {
		// The store's midx files are a cache of the packs' index files: a damaged
		// one is replaced from them, not reported against an artifact.
		if _, err := st.CheckIndex(); err != nil {
			return res, fmt.Errorf("check store index: %w", err)
		}
	}
	for _, t := range tracked {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		res.Artifacts++
		if t.Err != nil {
			res.Problems = append(res.Problems, Problem{Artifact: t.Path, Kind: "invalid", Detail: t.Err.Error()})
			continue
		}
		n, lost, missing, err := r.missingChunks(ctx, st, t)
		if err != nil {
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			res.Problems = append(res.Problems, problemFor(t.Path, "", err))
			continue
		}
		res.Chunks += int(n)
		for _, id := range lost {
			res.Problems = append(res.Problems, Problem{Artifact: t.Path, Object: id, Kind: "missing", Detail: "chunk " + id.Short() + " is not in the local store"})
		}
		if missing > 20 {
			res.Problems = append(res.Problems, Problem{Artifact: t.Path, Kind: "missing", Detail: fmt.Sprintf("and %d more missing chunks", missing-20)})
		}
		if !deep || missing > 0 {
			continue
		}
		n, probs := r.deepCheck(ctx, st, t)
		res.Bytes += n
		res.Problems = append(res.Problems, probs...)
	}
	return res, nil
}

// missingShown is how many missing chunks Verify names per artifact;
// missingHeld is how many it holds in memory to find them in their order.
const (
	missingShown = 20
	missingHeld  = 1 << 16
)

// missingChunks counts the distinct chunks artifact t needs and those of them
// the local store lacks, and names the first missingShown of these in the order
// Needed lists them. The chunks go through a set that spills to disk and is
// joined with the store's index in one pass; only when some are missing is the
// artifact walked again to name them.
func (r *Repo) missingChunks(ctx context.Context, st *objects.Store, t Tracked) (n int64, lost []objects.ID, missing int, err error) {
	set := st.NewIDSet()
	defer set.Close()
	if err := r.walkChunks(ctx, st, []Tracked{t}, nil, set.Add); err != nil {
		return 0, nil, 0, err
	}
	if n, err = set.Len(); err != nil {
		return 0, nil, 0, err
	}
	gone := map[objects.ID]bool{}
	err = st.EachMissing(set, func(id objects.ID) error {
		if missing < missingHeld {
			gone[id] = true
		}
		missing++
		return nil
	})
	if err != nil || missing == 0 {
		return n, nil, missing, err
	}
	named := map[objects.ID]bool{}
	errEnough := errors.New("enough")
	err = r.walkChunks(ctx, st, []Tracked{t}, nil, func(id objects.ID) error {
		if named[id] {
			return nil
		}
		// Past missingHeld the store is asked: so many chunks are missing that
		// the first few come early in the walk.
		if gone[id] || (missing > missingHeld && !st.Has(id)) {
			named[id] = true
			lost = append(lost, id)
			if len(lost) == missingShown {
				return errEnough
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errEnough) {
		return n, nil, missing, err
	}
	return n, lost, missing, nil
}

func problemFor(artifact, file string, err error) Problem {
	p := Problem{Artifact: artifact, File: file, Kind: "corrupt", Detail: err.Error()}
	var me *objects.MissingError
	if errors.As(err, &me) {
		p.Kind, p.Object = "missing", me.ID
	}
	return p
}

// contentDigest re-reads content from the store and hashes it.
func contentDigest(ctx context.Context, st *objects.Store, e objects.TreeEntry) (objects.ID, int64, error) {
	h := blake3.New()
	var n int64
	var err error
	if e.Recipe.IsZero() {
		n, err = st.ReadInline(e.Digest, e.Size, h)
	} else {
		n, err = st.ReadContent(ctx, e.Recipe, io.Writer(h))
	}
	var id objects.ID
	h.Sum(id[:0])
	return id, n, err
}

func (r *Repo) deepCheck(ctx context.Context, st *objects.Store, t Tracked) (int64, []Problem) {
	m := t.Manifest
	var probs []Problem
	if m.Type == TypeFile {
		d, n, err := contentDigest(ctx, st, objects.TreeEntry{Digest: m.Digest, Size: m.Size, Recipe: m.Object})
		switch {
		case err != nil:
			probs = append(probs, problemFor(t.Path, "", err))
		case d != m.Digest || n != m.Size:
			probs = append(probs, Problem{Artifact: t.Path, Kind: "mismatch", Detail: fmt.Sprintf("stored content hashes to %s (%d bytes), the manifest says %s (%d bytes)", d.Short(), n, m.Digest.Short(), m.Size)})
		}
		return n, probs
	}
	// The tree streams: a million entries are checked as they are read.
	var total, size, files int64
	tw := objects.NewTreeWriter(nil) // checks and digest only
	werr := WalkTree(ctx, st, m.Object, func(e objects.TreeEntry) error {
		if err := tw.Add(e); err != nil {
			return err
		}
		files++
		size += e.Size
		if e.Mode == objects.ModeSymlink {
			b, err := st.ReadChunk(e.Digest, nil)
			if err != nil {
				probs = append(probs, problemFor(t.Path, e.Path, err))
			} else if int64(len(b)) != e.Size {
				probs = append(probs, Problem{Artifact: t.Path, File: e.Path, Kind: "mismatch", Detail: "link target size differs"})
			}
			return nil
		}
		d, n, err := contentDigest(ctx, st, e)
		total += n
		switch {
		case err != nil:
			probs = append(probs, problemFor(t.Path, e.Path, err))
		case d != e.Digest || n != e.Size:
			probs = append(probs, Problem{Artifact: t.Path, File: e.Path, Kind: "mismatch", Detail: fmt.Sprintf("content hashes to %s, the tree says %s", d.Short(), e.Digest.Short())})
		}
		return nil
	})
	if werr != nil {
		return total, append([]Problem{problemFor(t.Path, "", werr)}, probs...)
	}
	if d := tw.Digest(); d != m.Digest {
		probs = append([]Problem{{Artifact: t.Path, Kind: "mismatch", Detail: fmt.Sprintf("tree digest is %s, the manifest says %s", d.Short(), m.Digest.Short())}}, probs...)
	}
	if size != m.Size || files != m.Files {
		probs = append(probs, Problem{Artifact: t.Path, Kind: "mismatch", Detail: fmt.Sprintf("tree has %d files and %d bytes, the manifest says %d and %d", files, size, m.Files, m.Size)})
	}
	return total, probs
}
