package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
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
// its BLAKE3, storing nothing.
func Check(ctx context.Context, rem Remote, ids []objects.ID, deep bool, opt Options) (CheckResult, error) {
	opt.defaults()
	res := CheckResult{Chunks: len(ids), Problems: []CheckProblem{}}
	x, err := LoadIndex(ctx, rem, opt)
	if err != nil {
		return res, err
	}
	byPack := map[objects.ID][]objects.IndexEntry{}
	for _, id := range ids {
		loc, ok := x.Lookup(id)
		if !ok {
			res.Problems = append(res.Problems, CheckProblem{ID: id, Kind: "missing", Detail: fmt.Sprintf("chunk %s is not on %s", id.Short(), rem)})
			continue
		}
		byPack[loc.Pack] = append(byPack[loc.Pack], objects.IndexEntry{ID: id, Offset: loc.Offset, Length: loc.Length})
	}
	if !deep {
		return res, nil
	}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opt.Jobs)
	for pid, es := range byPack {
		sort.Slice(es, func(i, j int) bool { return es[i].Offset < es[j].Offset })
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
	err = g.Wait()
	return res, err
}
