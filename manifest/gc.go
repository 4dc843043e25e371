package manifest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/trove-dev/trove/objects"
)

// Reachable is the set of chunks some manifest in history needs.
type Reachable struct {
	Chunks   map[objects.ID]bool
	Problems []string // manifests whose objects could not all be listed
}

// Reachable lists every chunk the manifests need. A manifest whose recipe or tree
// objects cannot be read (not here and not fetchable) is reported, not fatal: what
// it would reach cannot be in the store either, except through other manifests.
func (r *Repo) Reachable(ctx context.Context, ms []Tracked, ensure objects.Ensure) (*Reachable, error) {
	out := &Reachable{Chunks: map[objects.ID]bool{}}
	for _, t := range ms {
		need, err := r.Needed(ctx, []Tracked{t}, ensure)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			var me *objects.MissingError
			if !errors.As(err, &me) && !errors.Is(err, objects.ErrCorrupt) {
				return nil, err
			}
			out.Problems = append(out.Problems, fmt.Sprintf("%s (%s): %v", t.Path, t.Manifest.Digest.Short(), err))
		}
		for _, id := range need.Chunks {
			out.Chunks[id] = true
		}
	}
	return out, nil
}

// GCOptions configure GC.
type GCOptions struct {
	DryRun bool
	// Grace keeps packs younger than this whatever they hold, so data added by a
	// command still running (or a push from another clone) is never collected.
	Grace time.Duration
	// RepackRatio is the fraction of garbage above which a partly used pack is
	// rewritten with its live chunks only (default 0.5).
	RepackRatio float64
}

// PackFate says what GC did (or would do) with one pack.
type PackFate struct {
	Pack    objects.ID `json:"pack"`
	Action  string     `json:"action"` // keep, delete, repack
	Why     string     `json:"why"`
	Size    int64      `json:"size"`
	Live    int        `json:"live_chunks"`
	Garbage int64      `json:"garbage_bytes"`
}

// GCResult summarizes GC.
type GCResult struct {
	Commits   int        `json:"commits"`
	Refs      int        `json:"refs"`
	Manifests int        `json:"manifests"`
	Reachable int        `json:"reachable_chunks"`
	Packs     []PackFate `json:"packs"`
	Freed     int64      `json:"freed_bytes"`
	Problems  []string   `json:"problems,omitempty"`
	DryRun    bool       `json:"dry_run"`
}

// GC deletes from the local store what no manifest in any commit reachable from
// any ref (nor in the working tree) needs, keeping packs younger than the grace
// period, and repacks packs that are mostly garbage. With DryRun it only reports.
func (r *Repo) GC(ctx context.Context, hist *History, opt GCOptions) (GCResult, error) {
	if opt.RepackRatio <= 0 {
		opt.RepackRatio = 0.5
	}
	res := GCResult{Commits: hist.Commits, Refs: hist.Refs, Manifests: len(hist.Manifests), DryRun: opt.DryRun}
	st, err := r.Store()
	if err != nil {
		return res, err
	}
	reach, err := r.Reachable(ctx, hist.Manifests, nil)
	if err != nil {
		return res, err
	}
	res.Reachable = len(reach.Chunks)
	res.Problems = append(append(res.Problems, hist.Skipped...), reach.Problems...)
	now := r.Now()
	// One pack's entries in memory at a time, not the whole store's.
	err = st.WalkPacks(func(p objects.PackInfo) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		f := PackFate{Pack: p.ID, Size: p.Size}
		var garbage int64
		for _, e := range p.Entries {
			if reach.Chunks[e.ID] {
				f.Live++
			} else {
				garbage += int64(e.Length)
			}
		}
		f.Garbage = garbage
		switch {
		case now.Sub(p.ModTime) < opt.Grace:
			f.Action, f.Why = "keep", fmt.Sprintf("younger than the grace period (%s)", opt.Grace)
		case f.Live == len(p.Entries):
			f.Action, f.Why = "keep", "every chunk is reachable"
		case f.Live == 0:
			f.Action, f.Why = "delete", "no chunk is reachable"
		case float64(garbage) > opt.RepackRatio*float64(p.Size):
			f.Action, f.Why = "repack", fmt.Sprintf("%d%% garbage", garbage*100/max(p.Size, 1))
		default:
			f.Action, f.Why = "keep", fmt.Sprintf("mostly live (%d%% garbage)", garbage*100/max(p.Size, 1))
		}
		if !opt.DryRun {
			switch f.Action {
			case "delete":
				if err := st.RemovePack(p.ID); err != nil {
					return err
				}
			case "repack":
				if _, err := st.Repack(p.ID, func(id objects.ID) bool { return reach.Chunks[id] }); err != nil {
					return err
				}
			}
		}
		if f.Action != "keep" {
			res.Freed += garbage
		}
		res.Packs = append(res.Packs, f)
		return nil
	})
	return res, err
}
