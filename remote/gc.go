package remote

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/trove-dev/trove/objects"
)

// GCOptions configure GC on a remote.
type GCOptions struct {
	Options
	DryRun bool
	// Grace keeps packs younger than this whatever they hold: a push from another
	// clone (whose commits this repository has not seen) is never collected.
	Grace time.Duration
	Now   time.Time
	// TempDir is where the join of the packs' entries with the live set spills
	// past SortBudget bytes (default objects.DefaultSortBudget); "" keeps it in
	// memory.
	TempDir    string
	SortBudget int
}

// RemotePackFate says what GC did (or would do) with one pack on the remote.
type RemotePackFate struct {
	Pack    objects.ID `json:"pack"`
	Action  string     `json:"action"` // keep, delete
	Why     string     `json:"why"`
	Size    int64      `json:"size"`
	Garbage int64      `json:"garbage_bytes"`
}

// GCResult summarizes GC on a remote.
type GCResult struct {
	Packs []RemotePackFate `json:"packs"`
	Freed int64            `json:"freed_bytes"`
}

// KeepPrefix holds keep-lists: any object under keep/ lists pack ids (hex, with or
// without "blake3:", one per line) that GC must never delete, whatever this repository's history says. Teams
// sharing one remote between several git repositories put there the packs their
// other repositories need (or rely on the grace period).
const KeepPrefix = "keep/"

// GC deletes the packs on the remote that hold no live chunk, are older than the
// grace period and are not on a keep-list, index first (so no reader ever sees an
// index without its pack), and packs without an index (left by an interrupted
// push) older than the grace period. Packs that are partly live are kept. live
// is joined with the packs' sorted entries (see objects.LiveMarks), so neither
// needs to fit in memory. Every index file is read before anything is deleted.
func GC(ctx context.Context, rem Remote, live *objects.IDSet, opt GCOptions) (GCResult, error) {
	opt.defaults()
	var res GCResult
	indexes := map[objects.ID]Info{}
	packs := map[objects.ID]Info{}
	keep := map[objects.ID]bool{}
	err := rem.List(ctx, "", func(info Info) error {
		switch {
		case strings.HasPrefix(info.Key, "index/") && strings.HasSuffix(info.Key, ".idx"):
			if id, err := objects.ParseHex(strings.TrimSuffix(strings.TrimPrefix(info.Key, "index/"), ".idx")); err == nil {
				indexes[id] = info
			}
		case strings.HasPrefix(info.Key, "packs/") && strings.HasSuffix(info.Key, ".pack"):
			base := info.Key[strings.LastIndex(info.Key, "/")+1:]
			if id, err := objects.ParseHex(strings.TrimSuffix(base, ".pack")); err == nil && info.Key == PackKey(id) {
				packs[id] = info
			}
		case strings.HasPrefix(info.Key, KeepPrefix):
			rc, err := rem.Get(ctx, info.Key, 0, -1)
			if err != nil {
				return err
			}
			defer rc.Close()
			sc := bufio.NewScanner(io.LimitReader(rc, 64<<20))
			for sc.Scan() {
				line := strings.TrimPrefix(strings.TrimSpace(sc.Text()), objects.IDPrefix)
				if id, err := objects.ParseHex(line); err == nil {
					keep[id] = true
				}
			}
			return sc.Err()
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("list %s: %w", rem, err)
	}
	ids := make([]objects.ID, 0, len(packs))
	for id := range packs {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return string(ids[i][:]) < string(ids[j][:]) })
	marks := objects.NewLiveMarks(opt.TempDir, opt.SortBudget)
	defer marks.Close()
	type fate struct {
		f        RemotePackFate
		indexed  bool
		ord, len int // in marks, when the index decides
	}
	fates := make([]fate, 0, len(ids))
	for _, pid := range ids {
		info := packs[pid]
		f := RemotePackFate{Pack: pid, Size: info.Size}
		idx, indexed := indexes[pid]
		newest := info.ModTime
		if indexed && idx.ModTime.After(newest) {
			newest = idx.ModTime
		}
		young := opt.Now.Sub(newest) < opt.Grace
		fa := fate{indexed: indexed, ord: -1}
		switch {
		case keep[pid]:
			f.Action, f.Why = "keep", "on a keep-list"
		case young:
			f.Action, f.Why = "keep", fmt.Sprintf("younger than the grace period (%s)", opt.Grace)
		case !indexed:
			f.Action, f.Why, f.Garbage = "delete", "no index: left by an interrupted push", info.Size
		default:
			entries, err := readIndexFile(ctx, rem, pid, &opt.Options)
			if err != nil {
				return res, err
			}
			if fa.ord, err = marks.AddPack(entries); err != nil {
				return res, err
			}
			fa.len = len(entries)
		}
		fa.f = f
		fates = append(fates, fa)
	}
	if err := marks.Mark(live); err != nil {
		return res, fmt.Errorf("mark reachable chunks: %w", err)
	}
	for _, fa := range fates {
		f, pid, indexed := fa.f, fa.f.Pack, fa.indexed
		info := packs[pid]
		if fa.ord >= 0 {
			liveN, garbage := marks.Pack(fa.ord)
			f.Garbage = garbage
			if liveN == 0 {
				f.Action, f.Why = "delete", "no chunk is reachable"
			} else {
				f.Action, f.Why = "keep", fmt.Sprintf("%d of %d chunks reachable", liveN, fa.len)
			}
		}
		if f.Action == "delete" {
			res.Freed += info.Size
			if !opt.DryRun {
				if indexed {
					if err := rem.Delete(ctx, IndexKey(pid)); err != nil {
						return res, fmt.Errorf("delete %s: %w", IndexKey(pid), err)
					}
				}
				if err := rem.Delete(ctx, PackKey(pid)); err != nil {
					return res, fmt.Errorf("delete %s: %w", PackKey(pid), err)
				}
			}
		}
		res.Packs = append(res.Packs, f)
	}
	return res, nil
}
