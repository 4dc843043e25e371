package objects

import (
	"fmt"
	"os"
	"time"
)

// PackInfo describes a complete pack in the local store.
type PackInfo struct {
	ID      ID
	Size    int64
	ModTime time.Time
	Entries []IndexEntry
}

// PackInfos lists the complete packs with their entries (all of them in memory:
// WalkPacks holds one pack's at a time).
func (s *Store) PackInfos() ([]PackInfo, error) {
	var out []PackInfo
	err := s.WalkPacks(func(p PackInfo) error {
		out = append(out, p)
		return nil
	})
	return out, err
}

// WalkPacks calls fn for each complete pack present when it starts, in id
// order, with its entries read from its index file; fn may remove or repack the
// pack it is given.
func (s *Store) WalkPacks(fn func(PackInfo) error) error {
	for _, pid := range SortedIDs(s.Packs()) {
		fi, err := os.Stat(s.PackPath(pid))
		if err != nil {
			continue
		}
		entries, err := s.PackEntries(pid)
		if err != nil {
			return fmt.Errorf("pack %s: %w", pid.Short(), err)
		}
		if err := fn(PackInfo{ID: pid, Size: fi.Size(), ModTime: fi.ModTime(), Entries: entries}); err != nil {
			return err
		}
	}
	return nil
}

// RemovePack deletes a pack and its index: the index first, so that a crash in
// between leaves a pack that the next open re-indexes (kept, never half-gone).
func (s *Store) RemovePack(pid ID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fmu.Lock()
	if h, ok := s.files[pid]; ok {
		delete(s.files, pid)
		s.releaseLocked(h) // closed once its last reader is done
	}
	s.fmu.Unlock()
	if err := os.Remove(s.IndexPath(pid)); err != nil && !os.IsNotExist(err) {
		return err
	}
	if err := os.Remove(s.PackPath(pid)); err != nil && !os.IsNotExist(err) {
		return err
	}
	// Its entries in midx files and in recent no longer count (see livePack);
	// merges leave them out.
	delete(s.packs, pid)
	delete(s.retiring, pid)
	return nil
}

// Repack copies the chunks of pack pid that keep says to keep into new packs,
// makes them durable, and then removes pid. It returns the bytes copied.
func (s *Store) Repack(pid ID, keep func(ID) bool) (int64, error) {
	entries, err := s.PackEntries(pid)
	if err != nil {
		return 0, err
	}
	type chunk struct {
		id   ID
		data []byte
	}
	var kept []chunk
	for _, e := range entries {
		if !keep(e.ID) {
			continue
		}
		b, err := s.ReadChunk(e.ID, nil)
		if err != nil {
			return 0, fmt.Errorf("repack %s: %w", pid.Short(), err)
		}
		kept = append(kept, chunk{e.ID, b})
	}
	// Forget the old locations so Put stores the chunks again, in a new pack.
	s.mu.Lock()
	s.retiring[pid] = true
	s.mu.Unlock()
	var n int64
	for _, c := range kept {
		if _, err := s.Put(c.id, c.data); err != nil {
			return n, err
		}
		n += int64(len(c.data))
	}
	if err := s.Flush(); err != nil {
		return n, err
	}
	return n, s.RemovePack(pid)
}
