package objects

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
)

// removeStaleRuns removes sort runs and spooled recipes left in tmp/. They are
// unlinked as soon as they are made, so only a process killed in between, or a
// system that cannot unlink open files, leaves one; removing one still in use
// fails on such a system and is harmless elsewhere (the open file lives on).
func (s *Store) removeStaleRuns() {
	ents, err := os.ReadDir(s.TempDir())
	if err != nil {
		return
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "sort-") || strings.HasPrefix(e.Name(), "recipe-") {
			_ = os.Remove(filepath.Join(s.TempDir(), e.Name()))
		}
	}
}

// SetSortBudget changes the memory a set or marks made by NewIDSet and
// NewLiveMarks hold before spilling (DefaultSortBudget; tests and benchmarks).
func (s *Store) SetSortBudget(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sortBudget = n
}

func (s *Store) budget() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.sortBudget
}

// TempDir is where the store keeps temporary files (packs being written, sort
// runs); they are never needed after the process that made them ends.
func (s *Store) TempDir() string { return filepath.Join(s.dir, "tmp") }

// NewIDSet returns an empty IDSet that spills to the store's tmp directory.
func (s *Store) NewIDSet() *IDSet { return NewIDSet(s.TempDir(), s.budget()) }

// NewLiveMarks returns empty LiveMarks that spill to the store's tmp directory.
func (s *Store) NewLiveMarks() *LiveMarks {
	return NewLiveMarks(s.TempDir(), s.budget())
}

// EachMissing calls fn, in ascending order, for each member of set that is
// neither stored nor waiting in the pack being written: like Missing, but for a
// set that need not fit in memory (see EachLoc). fn must not call the Store.
func (s *Store) EachMissing(set *IDSet, fn func(ID) error) error {
	return s.eachLoc(set, func(id ID, _ Loc, ok, pending bool) error {
		if ok || pending {
			return nil
		}
		return fn(id)
	})
}

// EachLoc calls fn, in ascending order, for each member of set with where it
// is stored (ok false: it is not, as for LookupMany): a join of the set with
// the store's index. Each midx file that is large next to the set is read
// once, sequentially, alongside it; for a smaller set its members are looked
// up. fn must not call the Store.
func (s *Store) EachLoc(set *IDSet, fn func(id ID, loc Loc, ok bool) error) error {
	return s.eachLoc(set, func(id ID, l Loc, ok, _ bool) error { return fn(id, l, ok) })
}

func (s *Store) eachLoc(set *IDSet, fn func(id ID, loc Loc, ok, pending bool) error) error {
	n, err := set.Len()
	if err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	type cursor struct {
		m    *midxFile
		src  *fileSource
		head midxRec
		more bool
	}
	var curs []*cursor
	for k := len(s.midx) - 1; k >= 0; k-- {
		c := &cursor{m: s.midx[k]}
		if n*midxScanRatio >= c.m.n {
			c.src = c.m.source()
			if c.head, c.more, err = c.src.next(); err != nil {
				c.src = nil // read it by lookups, which pass over what cannot be read
			}
		}
		curs = append(curs, c)
	}
	find := func(id ID) (Loc, bool) {
		if l, ok := s.recent[id]; ok {
			if _, live := s.livePack(l.Pack); live {
				return l, true
			}
		}
		for _, c := range curs {
			if c.src == nil {
				if l, ok, err := c.m.lookup(id, s.livePack); err == nil && ok {
					return l, true
				}
				continue
			}
			var hit Loc
			found := false
			for c.more && bytes.Compare(c.head.ID[:], id[:]) <= 0 {
				if h := c.head; h.ID == id && !found {
					if size, ok := s.livePack(h.Pack); ok && h.Offset >= uint64(len(packMagic)) && h.Offset <= uint64(size) && uint64(h.Length) <= uint64(size)-h.Offset {
						hit, found = Loc{Pack: h.Pack, Offset: h.Offset, Length: h.Length}, true
					}
				}
				var err error
				if c.head, c.more, err = c.src.next(); err != nil {
					c.src = nil
					if !found {
						hit, found, _ = c.m.lookup(id, s.livePack)
					}
					break
				}
			}
			if found {
				return hit, true
			}
		}
		return Loc{}, false
	}
	it := set.Iter()
	for id, ok := it.Next(); ok; id, ok = it.Next() {
		l, found := find(id)
		pending := false
		if !found {
			_, pending = s.pending[id]
		}
		if err := fn(id, l, found, pending); err != nil {
			return err
		}
	}
	return it.Err()
}
