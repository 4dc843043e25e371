package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/trove-dev/trove/objects"
)

// CheckProblem is a chunk the remote lacks or holds damaged.
type CheckProblem struct {
	ID     objects.ID `json:"object"`
	Key    string     `json:"key,omitempty"`
	Kind   string     `json:"kind"` // missing, corrupt
	Detail string     `json:"detail"`
}

// CheckResult says what Check found.
type CheckResult struct {
	Chunks   int            `json:"chunks"`
	Read     int64          `json:"read"` // bytes read back (deep only)
	Problems []CheckProblem `json:"problems"`
}

// Check tells whether the remote holds every given chunk (by its index). With
// deep, it also reads each chunk back, with ranged reads as Fetch does, and checks
// its BLAKE3, storing nothing. See CheckSet.
func Check(ctx context.Context, rem Remote, ids []objects.ID, deep bool, opt Options) (CheckResult, error) {
	set := objects.NewIDSet(opt.TempDir, opt.SortBudget)
	defer set.Close()
	for _, id := range ids {
		if err := set.Add(id); err != nil {
			return CheckResult{Chunks: len(ids), Problems: []CheckProblem{}}, err
		}
	}
	res, err := CheckSet(ctx, rem, set, deep, opt, func(fn func(objects.ID) error) error {
		for _, id := range ids {
			if err := fn(id); err != nil {
				return err
			}
		}
		return nil
	})
	res.Chunks = len(ids)
	return res, err
}

// CheckSet is Check for a set of chunks, which need not fit in memory: the
// remote's index is external-sorted and joined with the set, and for deep the
// chunks found are sorted by pack and offset and read back a pack at a time.
// Missing chunks are reported in the order order calls its function with them
// (repeats ignored), when order is not nil; else in id order.
func CheckSet(ctx context.Context, rem Remote, ids *objects.IDSet, deep bool, opt Options, order func(func(objects.ID) error) error) (CheckResult, error) {
	opt.defaults()
	res := CheckResult{Problems: []CheckProblem{}}
	n, err := ids.Len()
	if err != nil {
		return res, err
	}
	res.Chunks = int(n)
	packs, _, locs, err := remoteLocations(ctx, rem, &opt)
	if err != nil {
		return res, err
	}
	defer locs.Close()
	want := newWantRecs(&opt)
	defer want.Close()
	// The missing chunks are as many as the problems reported: held.
	missing := map[objects.ID]bool{}
	var missingSorted []objects.ID
	it := locs.Iter()
	head, more := it.Next()
	all := ids.Iter()
	for id, ok := all.Next(); ok; id, ok = all.Next() {
		for more && bytes.Compare(head.ID[:], id[:]) < 0 {
			head, more = it.Next()
		}
		if !more || head.ID != id {
			missing[id] = true
			missingSorted = append(missingSorted, id)
			continue
		}
		if deep {
			if err := want.Add(wantRec{Pack: head.Pack, Offset: head.Offset, Length: head.Length, ID: id}); err != nil {
				return res, err
			}
		}
	}
	if err := errors.Join(all.Err(), it.Err()); err != nil {
		return res, err
	}
	report := func(id objects.ID) error {
		res.Problems = append(res.Problems, CheckProblem{ID: id, Kind: "missing", Detail: fmt.Sprintf("chunk %s is not on %s", id.Short(), rem)})
		return nil
	}
	if order != nil && len(missing) > 0 {
		err := order(func(id objects.ID) error {
			if missing[id] {
				delete(missing, id)
				return report(id)
			}
			return nil
		})
		if err != nil {
			return res, err
		}
	} else {
		for _, id := range missingSorted {
			report(id)
		}
	}
	if !deep {
		return res, nil
	}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opt.Jobs)
	check := func(pid objects.ID, es []objects.IndexEntry) {
		g.Go(func() error {
			key := PackKey(pid)
			off, end := es[0].Offset, es[len(es)-1].Offset+uint64(es[len(es)-1].Length)
			var probs []CheckProblem
			var read int64
			err := retry(gctx, &opt, func() error {
				probs, read = probs[:0], 0
				rc, err := rem.Get(gctx, key, int64(off), int64(end-off))
				if errors.Is(err, ErrInvalidRange) {
					return &truncatedError{msg: fmt.Sprintf("%s on %s is shorter than its index says (truncated?)", key, rem)}
				}
				if err != nil {
					return err
				}
				defer rc.Close()
				pos := off
				buf := make([]byte, 0, 256<<10)
				for _, e := range es {
					if e.Offset < pos {
						continue // duplicate entry
					}
					if n, err := io.CopyN(io.Discard, rc, int64(e.Offset-pos)); err != nil {
						read += n
						return truncated(key, rem, err)
					}
					if cap(buf) < int(e.Length) {
						buf = make([]byte, e.Length)
					}
					b := buf[:e.Length]
					n, err := io.ReadFull(rc, b)
					read += int64(n) + int64(e.Offset-pos)
					if err != nil {
						return truncated(key, rem, err)
					}
					pos = e.Offset + uint64(e.Length)
					if objects.Hash(b) != e.ID {
						probs = append(probs, CheckProblem{ID: e.ID, Key: key, Kind: "corrupt", Detail: fmt.Sprintf("chunk %s at offset %d of %s does not match its id", e.ID.Short(), e.Offset, key)})
					}
				}
				return nil
			})
			mu.Lock()
			defer mu.Unlock()
			res.Read += read
			if err != nil {
				var te *truncatedError
				if errors.As(err, &te) {
					res.Problems = append(res.Problems, CheckProblem{ID: es[0].ID, Key: key, Kind: "corrupt", Detail: err.Error()})
					return nil
				}
				return err
			}
			res.Problems = append(res.Problems, probs...)
			return nil
		})
	}
	wit := want.Iter()
	var es []objects.IndexEntry
	var ord uint32
	for w, ok := wit.Next(); ok && gctx.Err() == nil; w, ok = wit.Next() {
		if len(es) > 0 && w.Pack != ord {
			check(packs[ord], es)
			es = nil // the worker holds the last slice
		}
		ord = w.Pack
		es = append(es, objects.IndexEntry{ID: w.ID, Offset: w.Offset, Length: w.Length})
	}
	if len(es) > 0 && gctx.Err() == nil {
		check(packs[ord], es)
	}
	err = g.Wait()
	if err == nil {
		err = wit.Err()
	}
	return res, err
}
