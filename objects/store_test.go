package objects_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/trove-dev/trove/objects"
)

// testBytes returns n deterministic pseudo-random bytes for seed (ChaCha8, whose
// stream is fixed by its specification).
func testBytes(seed uint64, n int) []byte {
	var s [32]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	b := make([]byte, n)
	rand.NewChaCha8(s).Read(b)
	return b
}

func openTestStore(t testing.TB, dir string) *objects.Store {
	t.Helper()
	s, err := objects.OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// putChunks stores chunks and returns their ids, in order.
func putChunks(t testing.TB, s *objects.Store, chunks [][]byte) []ID {
	t.Helper()
	ids := make([]ID, len(chunks))
	for i, c := range chunks {
		ids[i] = objects.Hash(c)
		added, err := s.Put(ids[i], c)
		if err != nil {
			t.Fatal(err)
		}
		if !added {
			t.Fatalf("Put of new chunk %d returned false", i)
		}
	}
	return ids
}

func manyChunks(seed uint64, n, size int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = testBytes(seed+uint64(i), size+i%17)
	}
	return out
}

// checkChunks reads every chunk back and compares it.
func checkChunks(t testing.TB, s *objects.Store, chunks [][]byte) {
	t.Helper()
	var buf []byte
	for i, c := range chunks {
		b, err := s.ReadChunk(objects.Hash(c), buf)
		if err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
		if !bytes.Equal(b, c) {
			t.Fatalf("chunk %d: read %d bytes that differ from the %d stored", i, len(b), len(c))
		}
		buf = b
	}
}

func listDir(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// onlyPack returns the single pack of s.
func onlyPack(t testing.TB, s *objects.Store) ID {
	t.Helper()
	packs := s.Packs()
	if len(packs) != 1 {
		t.Fatalf("store has %d packs, want 1", len(packs))
	}
	return objects.SortedIDs(packs)[0]
}

func TestStorePutFlushRead(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	chunks := manyChunks(1, 20, 3000)
	ids := putChunks(t, s, chunks)

	// Before Flush the chunks are pending: Has says yes, but nothing is readable or
	// in a pack yet.
	for _, id := range ids {
		if !s.Has(id) {
			t.Fatalf("Has(%v) = false for a pending chunk", id)
		}
		if _, ok := s.Lookup(id); ok {
			t.Fatalf("Lookup(%v) found a chunk before Flush", id)
		}
	}
	if _, err := s.ReadChunk(ids[0], nil); !errors.Is(err, objects.ErrMissing) {
		t.Fatalf("ReadChunk before Flush: err = %v, want ErrMissing", err)
	}
	if len(s.Packs()) != 0 {
		t.Fatalf("Packs() before Flush = %v", s.Packs())
	}

	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil { // nothing pending: a no-op
		t.Fatal(err)
	}
	checkChunks(t, s, chunks)
	pid := onlyPack(t, s)

	// The pack is named by its bytes, sits where PackPath says and is described by
	// its index file.
	pb, err := os.ReadFile(s.PackPath(pid))
	if err != nil {
		t.Fatal(err)
	}
	if objects.Hash(pb) != pid {
		t.Fatalf("pack %v has the BLAKE3 %v", pid, objects.Hash(pb))
	}
	if s.Packs()[pid] != int64(len(pb)) {
		t.Fatalf("Packs()[%v] = %d, file has %d bytes", pid, s.Packs()[pid], len(pb))
	}
	want := filepath.Join(dir, "packs", pid.Hex()[:2], pid.Hex()+".pack")
	if s.PackPath(pid) != want {
		t.Fatalf("PackPath = %s, want %s", s.PackPath(pid), want)
	}
	if s.IndexPath(pid) != filepath.Join(dir, "index", pid.Hex()+".idx") {
		t.Fatalf("IndexPath = %s", s.IndexPath(pid))
	}
	entries, err := s.PackEntries(pid)
	if err != nil {
		t.Fatal(err)
	}
	embedded, err := objects.ReadPackIndex(bytes.NewReader(pb), int64(len(pb)))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(entries, embedded) || len(entries) != len(chunks) {
		t.Fatalf("index file has %d entries, the pack %d, want %d", len(entries), len(embedded), len(chunks))
	}
	for _, e := range entries {
		loc, ok := s.Lookup(e.ID)
		if !ok || loc != (objects.Loc{Pack: pid, Offset: e.Offset, Length: e.Length}) {
			t.Fatalf("Lookup(%v) = %v, %v; index says %v", e.ID, loc, ok, e)
		}
	}
	if names := listDir(t, filepath.Join(dir, "tmp")); len(names) != 0 {
		t.Fatalf("tmp/ after Flush holds %v", names)
	}

	// ReadChunk appends to buf[:0] and reuses its storage when large enough.
	buf := make([]byte, 5, 1<<20)
	got, err := s.ReadChunk(ids[3], buf)
	if err != nil || !bytes.Equal(got, chunks[3]) || &got[0] != &buf[:1][0] {
		t.Fatalf("ReadChunk with a large buffer: equal=%v, reused=%v, err=%v", bytes.Equal(got, chunks[3]), err == nil && &got[0] == &buf[:1][0], err)
	}

	// An unknown chunk is missing.
	_, err = s.ReadChunk(objects.Hash([]byte("never stored")), nil)
	var me *objects.MissingError
	if !errors.Is(err, objects.ErrMissing) || !errors.As(err, &me) || me.ID != objects.Hash([]byte("never stored")) || !me.Pack.IsZero() {
		t.Fatalf("ReadChunk of an unknown chunk: %v", err)
	}
}

func TestStoreDedup(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	a, b := testBytes(1, 5000), testBytes(2, 7000)
	ida, idb := objects.Hash(a), objects.Hash(b)
	for _, step := range []struct {
		id    ID
		data  []byte
		added bool
	}{
		{ida, a, true},
		{ida, a, false}, // pending
		{idb, b, true},
	} {
		added, err := s.Put(step.id, step.data)
		if err != nil || added != step.added {
			t.Fatalf("Put(%v) = %v, %v; want %v", step.id.Short(), added, err, step.added)
		}
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, id := range []ID{ida, idb} {
		added, err := s.Put(id, nil) // already stored: the data is not even looked at
		if err != nil || added {
			t.Fatalf("Put of a stored chunk = %v, %v; want false", added, err)
		}
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	pid := onlyPack(t, s)
	entries, err := s.PackEntries(pid)
	if err != nil || len(entries) != 2 {
		t.Fatalf("pack has %d entries (%v), want 2", len(entries), err)
	}
	if fi, err := os.Stat(s.PackPath(pid)); err != nil || fi.Size() != int64(8+5000+7000+2*packEntryLen+packFooterLen) {
		t.Fatalf("pack size: %v, %v; each chunk should be stored once", fi.Size(), err)
	}
}

func TestStorePackRollover(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openTestStore(t, dir)
	const packSize = 4096
	s.SetPackSize(packSize)
	chunks := manyChunks(100, 200, 1000)
	putChunks(t, s, chunks)
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	packs := s.Packs()
	// Each pack closes once it reaches packSize: 4 or 5 chunks of ~1 KiB each.
	if len(packs) < 200*1000/(packSize+1024) || len(packs) > 200*1000/(packSize-1024) {
		t.Fatalf("%d packs for 200 KB at a pack size of %d", len(packs), packSize)
	}
	total := 0
	for pid, size := range packs {
		entries, err := s.PackEntries(pid)
		if err != nil {
			t.Fatal(err)
		}
		total += len(entries)
		// A pack stops taking chunks once it reaches the target size, so it is at most
		// one chunk (plus its index) over.
		if max := int64(packSize + 1100 + len(entries)*packEntryLen + packFooterLen); size > max {
			t.Fatalf("pack %v has %d bytes, more than %d", pid.Short(), size, max)
		}
	}
	if total != len(chunks) {
		t.Fatalf("packs hold %d chunks, want %d", total, len(chunks))
	}
	checkChunks(t, s, chunks)
	s.Close()

	// Reopening loads every index.
	s2 := openTestStore(t, dir)
	if !maps.Equal(s2.Packs(), packs) {
		t.Fatalf("reopened store has %d packs, want %d", len(s2.Packs()), len(packs))
	}
	checkChunks(t, s2, chunks)
}

// storeWithPack makes a store in a temp dir holding chunks in one pack, closes it
// and returns the dir and the pack id.
func storeWithPack(t *testing.T, chunks [][]byte) (string, ID) {
	t.Helper()
	dir := t.TempDir()
	s, err := objects.OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	putChunks(t, s, chunks)
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	pid := onlyPack(t, s)
	s.Close()
	return dir, pid
}

func TestStoreRecovery(t *testing.T) {
	t.Parallel()
	chunks := manyChunks(200, 10, 2000)
	tests := []struct {
		name  string
		crash func(t *testing.T, dir string, s *objects.Store, pid ID)
		// rebuilt: the index file must be rewritten from the pack.
		rebuilt bool
	}{
		{
			name: "index file missing (crash between pack rename and index write)",
			crash: func(t *testing.T, dir string, s *objects.Store, pid ID) {
				must(t, os.Remove(s.IndexPath(pid)))
			},
			rebuilt: true,
		},
		{
			name: "index file with a flipped byte",
			crash: func(t *testing.T, dir string, s *objects.Store, pid ID) {
				flipFileByte(t, s.IndexPath(pid), 100)
			},
			rebuilt: true,
		},
		{
			name: "index file empty",
			crash: func(t *testing.T, dir string, s *objects.Store, pid ID) {
				must(t, os.WriteFile(s.IndexPath(pid), nil, 0o644))
			},
			rebuilt: true,
		},
		{
			name: "index file of another pack",
			crash: func(t *testing.T, dir string, s *objects.Store, pid ID) {
				other := buildPack(t, []byte("other"))
				must(t, os.WriteFile(s.IndexPath(pid), objects.EncodeIndexFile(other.id, other.entries), 0o644))
			},
			rebuilt: true,
		},
		{
			name: "index file with a good checksum but entries beyond the pack",
			crash: func(t *testing.T, dir string, s *objects.Store, pid ID) {
				entries, err := s.PackEntries(pid)
				must(t, err)
				entries[0].Offset += 1 << 30
				must(t, os.WriteFile(s.IndexPath(pid), objects.EncodeIndexFile(pid, entries), 0o644))
			},
			rebuilt: true,
		},
		{
			name: "leftover temp files",
			crash: func(t *testing.T, dir string, s *objects.Store, pid ID) {
				// A pack being written when the process died, a half-written index
				// file, and stray names.
				must(t, os.WriteFile(filepath.Join(dir, "tmp", "pack-123456"), []byte("TRVPACK1partial"), 0o644))
				must(t, os.WriteFile(filepath.Join(dir, "index", ".tmp-"+pid.Hex()+".idx-99"), []byte("junk"), 0o644))
				must(t, os.WriteFile(filepath.Join(dir, "index", "README"), []byte("junk"), 0o644))
				must(t, os.WriteFile(filepath.Join(dir, "index", "zz.idx"), []byte("junk"), 0o644))
				must(t, os.WriteFile(filepath.Join(dir, "packs", "notes.txt"), []byte("junk"), 0o644))
			},
		},
		{
			name: "index file of a deleted pack",
			crash: func(t *testing.T, dir string, s *objects.Store, pid ID) {
				other := buildPack(t, []byte("gone"))
				must(t, os.WriteFile(s.IndexPath(other.id), objects.EncodeIndexFile(other.id, other.entries), 0o644))
			},
		},
		{
			name: "damaged index file of a deleted pack",
			crash: func(t *testing.T, dir string, s *objects.Store, pid ID) {
				other := buildPack(t, []byte("gone"))
				b := objects.EncodeIndexFile(other.id, other.entries)
				b[60] ^= 1
				must(t, os.WriteFile(s.IndexPath(other.id), b, 0o644))
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, pid := storeWithPack(t, chunks)
			s := openTestStore(t, dir)
			goodIdx, err := os.ReadFile(s.IndexPath(pid))
			must(t, err)
			tt.crash(t, dir, s, pid)
			s.Close()

			s2, err := objects.OpenStore(dir)
			if err != nil {
				t.Fatalf("reopen: %v", err)
			}
			defer s2.Close()
			checkChunks(t, s2, chunks)
			if len(s2.Packs()) != 1 {
				t.Fatalf("reopened store has packs %v", s2.Packs())
			}
			idx, err := os.ReadFile(s2.IndexPath(pid))
			must(t, err)
			if !bytes.Equal(idx, goodIdx) {
				t.Fatalf("index file after reopen differs from the one Flush wrote (rebuilt=%v)", tt.rebuilt)
			}
			// And it stays good: a third open finds nothing to repair.
			s3 := openTestStore(t, dir)
			checkChunks(t, s3, chunks)
		})
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func flipFileByte(t testing.TB, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	must(t, err)
	defer f.Close()
	var b [1]byte
	_, err = f.ReadAt(b[:], off)
	must(t, err)
	b[0] ^= 0xff
	_, err = f.WriteAt(b[:], off)
	must(t, err)
}

func TestStoreCorruptPack(t *testing.T) {
	chunks := manyChunks(300, 4, 2000)
	dir, pid := storeWithPack(t, chunks)
	s := openTestStore(t, dir)
	victim := objects.Hash(chunks[2])
	loc, ok := s.Lookup(victim)
	if !ok {
		t.Fatal("chunk not found")
	}
	flipFileByte(t, s.PackPath(pid), int64(loc.Offset+uint64(loc.Length)/2))

	_, err := s.ReadChunk(victim, nil)
	if !errors.Is(err, objects.ErrCorrupt) {
		t.Fatalf("ReadChunk of an altered chunk: err = %v, want ErrCorrupt", err)
	}
	if errors.Is(err, objects.ErrMissing) {
		t.Fatalf("a corrupt chunk is not a missing one: %v", err)
	}
	if !strings.Contains(err.Error(), victim.Short()) || !strings.Contains(err.Error(), pid.Short()) {
		t.Fatalf("error %q does not name chunk %s and pack %s", err, victim.Short(), pid.Short())
	}
	// The other chunks of the pack are still good.
	checkChunks(t, s, [][]byte{chunks[0], chunks[1], chunks[3]})

	// A pack cut short: the chunk near the end cannot be read whole.
	last := objects.IndexEntry{}
	for _, c := range chunks {
		l, _ := s.Lookup(objects.Hash(c))
		if l.Offset > last.Offset {
			last = objects.IndexEntry{ID: objects.Hash(c), Offset: l.Offset, Length: l.Length}
		}
	}
	must(t, os.Truncate(s.PackPath(pid), int64(last.Offset)+10))
	if _, err := s.ReadChunk(last.ID, nil); !errors.Is(err, objects.ErrCorrupt) || !strings.Contains(err.Error(), last.ID.Short()) {
		t.Fatalf("ReadChunk from a truncated pack: %v, want ErrCorrupt naming %s", err, last.ID.Short())
	}
}

func TestStoreMissingPack(t *testing.T) {
	chunks := manyChunks(400, 3, 1000)
	dir, pid := storeWithPack(t, chunks)
	id := objects.Hash(chunks[1])

	// Deleted while the store is open: the index still names the pack.
	s := openTestStore(t, dir)
	must(t, os.Remove(s.PackPath(pid)))
	_, err := s.ReadChunk(id, nil)
	var me *objects.MissingError
	if !errors.Is(err, objects.ErrMissing) || !errors.As(err, &me) {
		t.Fatalf("ReadChunk from a deleted pack: err = %v, want a *MissingError", err)
	}
	if me.ID != id || me.Pack != pid {
		t.Fatalf("MissingError = %+v, want chunk %v in pack %v", me, id.Short(), pid.Short())
	}
	if errors.Is(err, objects.ErrCorrupt) || errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a missing chunk must match ErrMissing only: %v", err)
	}
	if !strings.Contains(err.Error(), id.Short()) || !strings.Contains(err.Error(), pid.Short()) {
		t.Fatalf("error %q does not name the chunk and the pack", err)
	}
	s.Close()

	// Reopened: the index without its pack is ignored, so the chunk is unknown.
	s2 := openTestStore(t, dir)
	if s2.Has(id) || len(s2.Packs()) != 0 {
		t.Fatalf("reopened store still lists the deleted pack: %v", s2.Packs())
	}
	_, err = s2.ReadChunk(id, nil)
	me = nil
	if !errors.As(err, &me) || me.ID != id || !errors.Is(err, objects.ErrMissing) {
		t.Fatalf("ReadChunk after reopen: %v", err)
	}
}

func TestStoreAbort(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	kept := manyChunks(500, 3, 1500)
	lost := manyChunks(600, 3, 1500)
	putChunks(t, s, kept)
	must(t, s.Flush())
	putChunks(t, s, lost)
	if names := listDir(t, filepath.Join(dir, "tmp")); len(names) != 1 {
		t.Fatalf("tmp/ while a pack is being written holds %v, want one file", names)
	}
	s.Abort()
	s.Abort() // twice is fine

	if names := listDir(t, filepath.Join(dir, "tmp")); len(names) != 0 {
		t.Fatalf("tmp/ after Abort holds %v", names)
	}
	for _, c := range lost {
		if s.Has(objects.Hash(c)) {
			t.Fatal("an aborted chunk is still reported present")
		}
		if _, err := s.ReadChunk(objects.Hash(c), nil); !errors.Is(err, objects.ErrMissing) {
			t.Fatalf("ReadChunk of an aborted chunk: %v", err)
		}
	}
	checkChunks(t, s, kept)
	if len(s.Packs()) != 1 {
		t.Fatalf("packs after Abort: %v", s.Packs())
	}

	// The aborted chunks can be stored again, and are.
	putChunks(t, s, lost)
	must(t, s.Flush())
	checkChunks(t, s, lost)

	// Close without Flush discards too.
	extra := manyChunks(700, 2, 100)
	putChunks(t, s, extra)
	must(t, s.Close())
	s2 := openTestStore(t, dir)
	checkChunks(t, s2, kept)
	checkChunks(t, s2, lost)
	if s2.Has(objects.Hash(extra[0])) {
		t.Fatal("a chunk Put before Close without Flush survived")
	}
}

func TestStoreAddPack(t *testing.T) {
	p := buildPack(t, threeChunks()...)
	writeSrc := func(t *testing.T, b []byte) string {
		src := filepath.Join(t.TempDir(), "download")
		must(t, os.WriteFile(src, b, 0o644))
		return src
	}

	t.Run("good", func(t *testing.T) {
		dir := t.TempDir()
		s := openTestStore(t, dir)
		src := writeSrc(t, p.bytes)
		must(t, s.AddPack(p.id, src))
		if _, err := os.Stat(src); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("AddPack did not move its source: %v", err)
		}
		for id, c := range p.chunks {
			b, err := s.ReadChunk(id, nil)
			if err != nil || !bytes.Equal(b, c) {
				t.Fatalf("ReadChunk(%v) after AddPack: %v", id.Short(), err)
			}
		}
		entries, err := s.PackEntries(p.id)
		if err != nil || !slices.Equal(entries, p.entries) {
			t.Fatalf("PackEntries = %v, %v", entries, err)
		}
		s.Close()
		s2 := openTestStore(t, dir)
		if s2.Packs()[p.id] != int64(len(p.bytes)) {
			t.Fatalf("reopened store: packs %v", s2.Packs())
		}
	})

	bad := bytes.Clone(p.bytes)
	bad[10] ^= 1
	notPack := testBytes(9, 500)
	tests := []struct {
		name  string
		pid   ID
		bytes []byte
	}{
		{"bytes do not match the name", p.id, bad},
		{"name of other bytes", objects.Hash([]byte("x")), p.bytes},
		{"not a pack, correctly named", objects.Hash(notPack), notPack},
		{"truncated pack, correctly named", objects.Hash(p.bytes[:len(p.bytes)-5]), p.bytes[:len(p.bytes)-5]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openTestStore(t, dir)
			src := writeSrc(t, tt.bytes)
			err := s.AddPack(tt.pid, src)
			if !errors.Is(err, objects.ErrCorrupt) {
				t.Fatalf("AddPack = %v, want ErrCorrupt", err)
			}
			if len(s.Packs()) != 0 {
				t.Fatalf("a rejected pack was installed: %v", s.Packs())
			}
			if _, err := os.Stat(s.PackPath(tt.pid)); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("a rejected pack is in packs/: %v", err)
			}
			if _, err := os.Stat(src); err != nil {
				t.Fatalf("a rejected source was moved or removed: %v", err)
			}
		})
	}
}

func TestStoreConcurrentPut(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	s.SetPackSize(16 << 10)
	// 8 goroutines store overlapping sets: goroutine g puts chunks [g*25, g*25+100).
	chunks := manyChunks(800, 275, 700)
	const workers = 8
	var added [workers]int
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for g := range workers {
		wg.Go(func() {
			for i := g * 25; i < g*25+100; i++ {
				ok, err := s.Put(objects.Hash(chunks[i]), chunks[i])
				if err != nil {
					errc <- err
					return
				}
				if ok {
					added[g]++
				}
				if i%40 == 0 {
					if _, err := s.ReadChunk(objects.Hash(chunks[g*25]), nil); err != nil && !errors.Is(err, objects.ErrMissing) {
						errc <- err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	total := 0
	for _, n := range added {
		total += n
	}
	if total != len(chunks) {
		t.Fatalf("Put reported %d new chunks, want %d: each must be added exactly once", total, len(chunks))
	}
	must(t, s.Flush())
	n := 0
	for pid := range s.Packs() {
		entries, err := s.PackEntries(pid)
		must(t, err)
		n += len(entries)
	}
	if n != len(chunks) {
		t.Fatalf("packs hold %d entries, want %d", n, len(chunks))
	}
	checkChunks(t, s, chunks)
}

// More packs than the store keeps open at once, read from several goroutines: the
// store closes pack files to stay under its limit, which must not break a read in
// progress on another goroutine.
func TestStoreConcurrentReadManyPacks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openTestStore(t, dir)
	s.SetPackSize(1)                   // one chunk per pack
	chunks := manyChunks(900, 100, 64) // 100 packs, over the 64 kept open
	putChunks(t, s, chunks)
	must(t, s.Flush())
	if len(s.Packs()) != len(chunks) {
		t.Fatalf("%d packs, want %d", len(s.Packs()), len(chunks))
	}
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	for g := range 4 {
		wg.Go(func() {
			var buf []byte
			for round := range 4 {
				for i := range chunks {
					c := chunks[(i*7+g*13+round)%len(chunks)]
					b, err := s.ReadChunk(objects.Hash(c), buf)
					if err != nil {
						errc <- err
						return
					}
					if !bytes.Equal(b, c) {
						errc <- fmt.Errorf("chunk read back differs")
						return
					}
					buf = b
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
}

func TestOpenStoreLayout(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	s := openTestStore(t, dir)
	if s.Dir() != dir {
		t.Fatalf("Dir() = %s", s.Dir())
	}
	for _, d := range []string{"packs", "index", "tmp"} {
		if fi, err := os.Stat(filepath.Join(dir, d)); err != nil || !fi.IsDir() {
			t.Fatalf("%s: %v", d, err)
		}
	}
	// A file where the store should be is an error, not a panic.
	f := filepath.Join(t.TempDir(), "file")
	must(t, os.WriteFile(f, nil, 0o644))
	if _, err := objects.OpenStore(f); err == nil {
		t.Fatal("OpenStore on a regular file succeeded")
	}
}

// TestEachMissingMatchesMissing checks the streaming EachMissing against
// Missing on a store with midx files and recent packs, for sets small (looked
// up) and large (scanned) next to the index, with a budget small enough to spill.
func TestEachMissingMatchesMissing(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	s.SetIndexMergeAt(50)
	s.SetPackSize(64 << 10)
	s.SetSortBudget(32 * 64)
	stored := putChunks(t, s, manyChunks(1, 400, 1000))
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	recent := putChunks(t, s, manyChunks(2, 20, 1000))
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	absent := make([]ID, 300)
	for i := range absent {
		absent[i] = objects.Hash([]byte(fmt.Sprint("absent", i)))
	}
	for _, n := range []int{1, 3, 50, 400} {
		var ids []ID
		ids = append(ids, stored[:min(n, len(stored))]...)
		ids = append(ids, recent[:min(n, len(recent))]...)
		ids = append(ids, absent[:min(n, len(absent))]...)
		set := s.NewIDSet()
		for _, id := range ids {
			set.Add(id)
			set.Add(id)
		}
		want := slices.SortedFunc(slices.Values(s.Missing(ids)), func(a, b ID) int { return bytes.Compare(a[:], b[:]) })
		var got []ID
		if err := s.EachMissing(set, func(id ID) error { got = append(got, id); return nil }); err != nil {
			t.Fatal(err)
		}
		locs, found := s.LookupMany(ids)
		wantLoc := map[ID]objects.Loc{}
		for i, id := range ids {
			if found[i] {
				wantLoc[id] = locs[i]
			}
		}
		seen := 0
		err := s.EachLoc(set, func(id ID, l objects.Loc, ok bool) error {
			seen++
			if w, wok := wantLoc[id]; ok != wok || l != w {
				t.Errorf("n=%d: EachLoc(%s) = %v, %v; LookupMany says %v, %v", n, id.Short(), l, ok, w, wok)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if m, _ := set.Len(); int64(seen) != m {
			t.Fatalf("n=%d: EachLoc saw %d ids of %d", n, seen, m)
		}
		set.Close()
		if !slices.Equal(got, slices.Compact(want)) {
			t.Fatalf("n=%d: EachMissing gave %d ids, Missing %d", n, len(got), len(want))
		}
	}
}

// TestWriteContentSpoolsRecipe writes content of thousands of chunks with a
// budget so small that its recipe entries spill to a temporary file: the
// recipe (multi-level) is the same as with them in memory, it reads back, and
// no file is left in the store's tmp directory.
func TestWriteContentSpoolsRecipe(t *testing.T) {
	ctx := context.Background()
	data := testBytes(77, 2<<20)
	p := objects.ChunkerParams{Min: 64, Avg: 256, Max: 1024}
	var got []objects.Content
	for _, budget := range []int{0, 40 * 16} {
		s := openTestStore(t, t.TempDir())
		s.SetSortBudget(budget)
		c, err := s.WriteContent(ctx, bytes.NewReader(data), int64(len(data)), objects.WriteOptions{Params: p})
		if err != nil {
			t.Fatal(err)
		}
		if c.Chunks < 1000 {
			t.Fatalf("test setup: %d chunks", c.Chunks)
		}
		if err := s.Flush(); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if _, err := s.ReadContent(ctx, c.Recipe, &out); err != nil || !bytes.Equal(out.Bytes(), data) {
			t.Fatalf("read back: %v", err)
		}
		if ents, _ := os.ReadDir(filepath.Join(s.Dir(), "tmp")); len(ents) != 0 {
			t.Fatalf("budget %d: %d files left in tmp", budget, len(ents))
		}
		got = append(got, c)
	}
	if got[0] != got[1] {
		t.Fatalf("with a spooled recipe %+v, in memory %+v", got[1], got[0])
	}
}

// TestOpenRemovesStaleRuns: a sort run or spooled recipe left in tmp/ (by a
// process killed between creating and unlinking it) is removed at the next
// open; a pack being written there is not.
func TestOpenRemovesStaleRuns(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	tmp := s.TempDir()
	for _, name := range []string{"sort-123", "recipe-456", "pack-789"} {
		if err := os.WriteFile(filepath.Join(tmp, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	openTestStore(t, dir)
	ents, _ := os.ReadDir(tmp)
	var left []string
	for _, e := range ents {
		left = append(left, e.Name())
	}
	if !slices.Equal(left, []string{"pack-789"}) {
		t.Fatalf("left in tmp: %v, want only pack-789", left)
	}
}
