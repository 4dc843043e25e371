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
	// Chunks is sorted and may live partly on disk: it is joined with the
	// packs' sorted entries, never looked up one chunk at a time.
	Chunks   *objects.IDSet
	Problems []string // manifests whose objects could not all be listed
}

// Close releases the set's temporary files.
func (x *Reachable) Close() { x.Chunks.Close() }

// Reachable lists every chunk the manifests need. A manifest whose recipe or tree
// objects cannot be read (not here and not fetchable) is reported, not fatal: what
// it would reach cannot be in the store either, except through other manifests.
// The set spills to the store's tmp directory past the store's sort budget, so
// memory stays bounded however many chunks history reaches; Close removes it.
func (r *Repo) Reachable(ctx context.Context, ms []Tracked, ensure objects.Ensure) (*Reachable, error) {
	st, err := r.Store()
	if err != nil {
		return nil, err
	}
	out := &Reachable{Chunks: st.NewIDSet()}
	for _, t := range ms {
		err := r.walkChunks(ctx, st, []Tracked{t}, ensure, out.Chunks.Add)
		if err != nil {
			if ctx.Err() != nil {
				out.Close()
				return nil, ctx.Err()
			}
			var me *objects.MissingError
			if !errors.As(err, &me) && !errors.Is(err, objects.ErrCorrupt) {
				out.Close()
				return nil, err
			}
			out.Problems = append(out.Problems, fmt.Sprintf("%s (%s): %v", t.Path, t.Manifest.Digest.Short(), err))
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
	defer reach.Close()
	n, err := reach.Chunks.Len()
	if err != nil {
		return res, err
	}
	res.Reachable = int(n)
	res.Problems = append(append(res.Problems, hist.Skipped...), reach.Problems...)
	now := r.Now()
	// First every pack's entries, one pack in memory at a time, into marks that
	// are joined with the reachable set; then the decisions, pack by pack.
	marks := st.NewLiveMarks()
	defer marks.Close()
	type pack struct {
		info objects.PackInfo
		ord  int
	}
	var packs []pack
	err = st.WalkPacks(func(p objects.PackInfo) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		ord, err := marks.AddPack(p.Entries)
		p.Entries = nil
		packs = append(packs, pack{p, ord})
		return err
	})
	if err != nil {
		return res, err
	}
	if err := marks.Mark(reach.Chunks); err != nil {
		return res, fmt.Errorf("mark reachable chunks: %w", err)
	}
	for _, pk := range packs {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		p := pk.info
		f := PackFate{Pack: p.ID, Size: p.Size}
		live, garbage := marks.Pack(pk.ord)
		f.Live, f.Garbage = live, garbage
		switch {
		case now.Sub(p.ModTime) < opt.Grace:
			f.Action, f.Why = "keep", fmt.Sprintf("younger than the grace period (%s)", opt.Grace)
		case marks.AllLive(pk.ord):
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
					return res, err
				}
			case "repack":
				// The pack's entries again, in the order marked: its live ones.
				entries, err := st.PackEntries(p.ID)
				if err != nil {
					return res, fmt.Errorf("pack %s: %w", p.ID.Short(), err)
				}
				keep := map[objects.ID]bool{}
				for i, e := range entries {
					if marks.Live(pk.ord, i) {
						keep[e.ID] = true
					}
				}
				if _, err := st.Repack(p.ID, func(id objects.ID) bool { return keep[id] }); err != nil {
					return res, err
				}
			}
		}
		if f.Action != "keep" {
			res.Freed += garbage
		}
		res.Packs = append(res.Packs, f)
	}
	return res, nil
}
