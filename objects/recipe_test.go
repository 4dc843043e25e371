package objects_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/trove-dev/trove/objects"
)

// tinyParams make recipes deep on small inputs: a 1 MiB input has about 4096
// chunks, whose 40-byte entries (160 KiB) are far more than fit in one 1 KiB node.
var tinyParams = objects.ChunkerParams{Min: 64, Avg: 256, Max: 1024}

// recipeNode builds a recipe node by hand, following the format comment in
// recipe.go: "TRVRCP", format 1, level, then (id, u64 size) entries.
func recipeNode(level byte, entries ...objects.RecipeEntry) []byte {
	b := append([]byte("TRVRCP"), 1, level)
	return appendRecipeEntries(b, entries...)
}

func appendRecipeEntries(b []byte, entries ...objects.RecipeEntry) []byte {
	for _, e := range entries {
		b = append(b, e.ID[:]...)
		b = binary.LittleEndian.AppendUint64(b, e.Size)
	}
	return b
}

// chunkSizes chunks data directly with the chunker, as the reference for what
// WriteContent must record.
func chunkSizes(t testing.TB, data []byte, p objects.ChunkerParams) []objects.RecipeEntry {
	t.Helper()
	ch, err := objects.NewChunker(bytes.NewReader(data), p)
	if err != nil {
		t.Fatal(err)
	}
	var out []objects.RecipeEntry
	for {
		b, err := ch.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, objects.RecipeEntry{ID: objects.Hash(b), Size: uint64(len(b))})
	}
}

// walk returns the meta ids and data entries of a recipe.
func walk(t testing.TB, s *objects.Store, recipe ID) (meta []ID, data []objects.RecipeEntry) {
	t.Helper()
	err := s.WalkRecipe(context.Background(), recipe, func(id ID) { meta = append(meta, id) },
		func(e objects.RecipeEntry) error { data = append(data, e); return nil })
	if err != nil {
		t.Fatal(err)
	}
	return meta, data
}

func topLevel(t testing.TB, s *objects.Store, recipe ID) int {
	t.Helper()
	node, err := s.ReadChunk(recipe, nil)
	if err != nil {
		t.Fatal(err)
	}
	level, _, err := objects.ParseRecipeNode(node)
	if err != nil {
		t.Fatal(err)
	}
	return level
}

func writeContent(t testing.TB, s *objects.Store, data []byte, hint int64, opt objects.WriteOptions) objects.Content {
	t.Helper()
	c, err := s.WriteContent(context.Background(), bytes.NewReader(data), hint, opt)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestWriteContentRoundTrip(t *testing.T) {
	t.Parallel()
	def := objects.DefaultChunkerParams()
	tests := []struct {
		name      string
		size      int
		hint      int64 // -1, or the size
		params    objects.ChunkerParams
		wantLevel int // -1: do not check; otherwise the top node's level must be >= this
	}{
		{"empty", 0, 0, def, 0},
		{"empty, no hint", 0, -1, def, 0},
		{"one byte", 1, 1, def, 0},
		{"min-1", def.Min - 1, int64(def.Min - 1), def, 0},
		{"max", def.Max, int64(def.Max), def, 0},
		{"max+1, no hint", def.Max + 1, -1, def, 0},
		{"1 MiB, serial", 1 << 20, 1 << 20, def, 0},
		{"1 MiB, no hint (pipeline)", 1 << 20, -1, def, 0},
		{"5 MiB (pipeline)", 5 << 20, 5 << 20, def, 0},
		{"1 MiB, tiny chunks: multi-level", 1 << 20, 1 << 20, tinyParams, 1},
	}
	recipes := map[string]ID{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTestStore(t, t.TempDir())
			data := testBytes(uint64(tt.size)+7, tt.size)
			var progress int64
			c := writeContent(t, s, data, tt.hint, objects.WriteOptions{Params: tt.params, Progress: func(n int64) { progress += n }})

			if c.Digest != objects.Hash(data) {
				t.Fatalf("Digest = %v, want BLAKE3 of the content %v", c.Digest, objects.Hash(data))
			}
			if c.Size != int64(len(data)) || progress != c.Size {
				t.Fatalf("Size = %d, progress reported %d, want %d", c.Size, progress, len(data))
			}
			if c.Recipe.IsZero() {
				t.Fatal("no recipe written without Inline")
			}
			want := chunkSizes(t, data, tt.params)
			if c.Chunks != len(want) {
				t.Fatalf("Chunks = %d, the chunker cuts %d", c.Chunks, len(want))
			}

			meta, got := walk(t, s, c.Recipe)
			if !slices.Equal(got, want) {
				t.Fatalf("recipe lists %d entries that differ from the chunker's %d", len(got), len(want))
			}
			if meta[0] != c.Recipe {
				t.Fatalf("first meta id %v is not the top node %v", meta[0], c.Recipe)
			}
			level := topLevel(t, s, c.Recipe)
			if level < tt.wantLevel {
				t.Fatalf("top node level %d, want >= %d", level, tt.wantLevel)
			}
			if (level == 0) != (len(meta) == 1) {
				t.Fatalf("level %d recipe has %d meta chunks", level, len(meta))
			}
			// Every recipe chunk obeys the size limit and is in the store; content
			// with distinct chunks stores each byte once plus its recipe.
			metaBytes := int64(0)
			for _, id := range meta {
				b, err := s.ReadChunk(id, nil)
				if err != nil {
					t.Fatal(err)
				}
				if len(b) > tt.params.Max {
					t.Fatalf("recipe chunk of %d bytes exceeds Max %d", len(b), tt.params.Max)
				}
				metaBytes += int64(len(b))
			}
			if c.NewBytes != c.Size+metaBytes || c.NewChunks != c.Chunks+len(meta) {
				t.Fatalf("NewBytes, NewChunks = %d, %d; want %d, %d", c.NewBytes, c.NewChunks, c.Size+metaBytes, c.Chunks+len(meta))
			}

			var out bytes.Buffer
			n, err := s.ReadContent(context.Background(), c.Recipe, &out)
			if err != nil {
				t.Fatal(err)
			}
			if n != int64(len(data)) || !bytes.Equal(out.Bytes(), data) {
				t.Fatalf("ReadContent returned %d bytes that differ from the %d written", n, len(data))
			}

			// The same content again stores nothing and names the same recipe.
			if tt.size > 1<<20 {
				return
			}
			again := writeContent(t, s, data, -1, objects.WriteOptions{Params: tt.params})
			if again.Recipe != c.Recipe || again.Digest != c.Digest || again.NewBytes != 0 || again.NewChunks != 0 {
				t.Fatalf("rewrite: %+v, first write %+v", again, c)
			}
			recipes[tt.name] = c.Recipe
		})
	}
	// The serial and pipelined paths write identical recipes.
	if recipes["1 MiB, serial"] != recipes["1 MiB, no hint (pipeline)"] {
		t.Error("serial and pipelined writes of the same content differ")
	}
}

func TestWriteContentMultiLevel(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	data := testBytes(42, 1<<20)
	c := writeContent(t, s, data, -1, objects.WriteOptions{Params: tinyParams})
	level := topLevel(t, s, c.Recipe)
	if level < 1 {
		t.Fatalf("1 MiB of %d-byte chunks gave a level %d recipe", tinyParams.Avg, level)
	}
	meta, _ := walk(t, s, c.Recipe)
	t.Logf("%d chunks, recipe level %d, %d recipe chunks", c.Chunks, level, len(meta))

	// A small edit in the middle rewrites one data chunk or two and, thanks to
	// content-defined splitting of the recipe itself, a few recipe pieces per level
	// rather than the whole recipe.
	edit := bytes.Clone(data)
	copy(edit[512<<10:], "a small edit in the middle of the file")
	c2 := writeContent(t, s, edit, -1, objects.WriteOptions{Params: tinyParams})
	meta2, _ := walk(t, s, c2.Recipe)
	newMeta := 0
	for _, id := range meta2 {
		if !slices.Contains(meta, id) {
			newMeta++
		}
	}
	// Per level, the piece holding the edit and the next few (until a shifted
	// boundary is found again) change: at most 4 per level, plus the top node.
	if maxNew := 1 + 4*level; newMeta > maxNew {
		t.Fatalf("a 38-byte edit rewrote %d of %d recipe chunks, want at most %d", newMeta, len(meta2), maxNew)
	}
	if c2.NewChunks-newMeta > 3 {
		t.Fatalf("a 38-byte edit stored %d new data chunks", c2.NewChunks-newMeta)
	}
	t.Logf("edit: %d new recipe chunks of %d, %d new data chunks, %d new bytes", newMeta, len(meta2), c2.NewChunks-newMeta, c2.NewBytes)
	var out bytes.Buffer
	if _, err := s.ReadContent(context.Background(), c2.Recipe, &out); err != nil || !bytes.Equal(out.Bytes(), edit) {
		t.Fatalf("ReadContent of the edited version: %v", err)
	}
}

func TestWriteContentInline(t *testing.T) {
	def := objects.DefaultChunkerParams()
	tests := []struct {
		name   string
		size   int
		inline bool // whether the content is one chunk or less
	}{
		{"empty", 0, true},
		{"one byte", 1, true},
		{"min-1", def.Min - 1, true},
		{"min", def.Min, true},
		{"1 MiB", 1 << 20, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTestStore(t, t.TempDir())
			data := testBytes(5, tt.size)
			c := writeContent(t, s, data, int64(tt.size), objects.WriteOptions{Params: def, Inline: true})
			if c.Digest != objects.Hash(data) || c.Size != int64(tt.size) {
				t.Fatalf("content %+v", c)
			}
			if !tt.inline {
				if c.Recipe.IsZero() {
					t.Fatal("multi-chunk content written without a recipe")
				}
				return
			}
			if !c.Recipe.IsZero() {
				t.Fatalf("Recipe = %v, want zero for inline content", c.Recipe)
			}
			wantChunks := 1
			if tt.size == 0 {
				wantChunks = 0
			}
			if c.Chunks != wantChunks || c.NewChunks != wantChunks || c.NewBytes != int64(tt.size) {
				t.Fatalf("Chunks, NewChunks, NewBytes = %d, %d, %d", c.Chunks, c.NewChunks, c.NewBytes)
			}
			var out bytes.Buffer
			n, err := s.ReadInline(c.Digest, c.Size, &out)
			if err != nil || n != int64(tt.size) || !bytes.Equal(out.Bytes(), data) {
				t.Fatalf("ReadInline = %d, %v", n, err)
			}
		})
	}

	s := openTestStore(t, t.TempDir())
	small := []byte("inline content")
	c := writeContent(t, s, small, -1, objects.WriteOptions{Params: def, Inline: true})
	for _, tt := range []struct {
		name   string
		digest ID
		size   int64
		want   error
	}{
		{"wrong size", c.Digest, c.Size + 1, objects.ErrCorrupt},
		{"empty with a non-empty digest", c.Digest, 0, objects.ErrCorrupt},
		{"not stored", objects.Hash([]byte("other")), 5, objects.ErrMissing},
	} {
		if _, err := s.ReadInline(tt.digest, tt.size, io.Discard); !errors.Is(err, tt.want) {
			t.Errorf("ReadInline, %s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
}

// Dedup across versions of a 32 MiB file with the default parameters.
func TestWriteContentDedup(t *testing.T) {
	if testing.Short() {
		t.Skip("writes about 100 MiB")
	}
	t.Parallel()
	p := objects.DefaultChunkerParams()
	s := openTestStore(t, t.TempDir())
	base := testBytes(1000, 32<<20)
	c1 := writeContent(t, s, base, int64(len(base)), objects.WriteOptions{Params: p})
	baseMeta, baseEntries := walk(t, s, c1.Recipe)
	have := map[ID]bool{}
	for _, e := range baseEntries {
		have[e.ID] = true
	}
	for _, id := range baseMeta {
		have[id] = true
	}
	// newDataBytes recomputes the new data bytes from the recipes, independently
	// of WriteContent's own count.
	newDataBytes := func(c objects.Content) int64 {
		_, entries := walk(t, s, c.Recipe)
		var n int64
		seen := map[ID]bool{}
		for _, e := range entries {
			if !have[e.ID] && !seen[e.ID] {
				n += int64(e.Size)
				seen[e.ID] = true
			}
		}
		return n
	}
	// The recipe (its node and the small pieces it is split into: see
	// RecipeParams) contributes the bytes of its pieces that are new; an upper bound
	// is the whole recipe.
	nodeSize := func(c objects.Content) int64 { return int64(8 + 40*c.Chunks) }
	// newMetaBytes recomputes the new recipe bytes from the recipe itself.
	newMetaBytes := func(c objects.Content) int64 {
		meta, _ := walk(t, s, c.Recipe)
		var n int64
		for _, id := range meta {
			if !have[id] {
				b, err := s.ReadChunk(id, nil)
				if err != nil {
					t.Fatal(err)
				}
				n += int64(len(b))
				have[id] = true
			}
		}
		return n
	}

	t.Run("insert 1 MiB in the middle", func(t *testing.T) {
		const ins = 1 << 20
		at := 16<<20 + 12345
		v2 := slices.Concat(base[:at], testBytes(1001, ins), base[at:])
		c2 := writeContent(t, s, v2, int64(len(v2)), objects.WriteOptions{Params: p})
		// Chunks wholly before the insertion point are cut exactly as before; the
		// chunk holding the insertion point is rewritten (at most Max bytes before it
		// are stored again); the inserted bytes are new; after them the cut points
		// fall back onto the old ones within a chunk on random data (at most Max
		// bytes more). Plus the new recipe node:
		//   NewBytes <= 1 MiB + 2*Max + node = 1 MiB + 512 KiB + ~21 KiB ~ 1.52 MiB,
		// against 33 MiB for a store without chunking.
		limit := ins + 2*int64(p.Max) + nodeSize(c2)
		t.Logf("insert: NewBytes %d (%.2f MiB), NewChunks %d, limit %d", c2.NewBytes, float64(c2.NewBytes)/(1<<20), c2.NewChunks, limit)
		if c2.NewBytes > limit {
			t.Fatalf("NewBytes = %d, want <= %d", c2.NewBytes, limit)
		}
		if c2.NewBytes < ins {
			t.Fatalf("NewBytes = %d, less than the %d inserted random bytes", c2.NewBytes, ins)
		}
		if got := newDataBytes(c2) + newMetaBytes(c2); got != c2.NewBytes {
			t.Fatalf("NewBytes = %d, recipes say %d", c2.NewBytes, got)
		}
		h, n := hashContent(t, s, c2.Recipe)
		if h != objects.Hash(v2) || n != int64(len(v2)) || c2.Digest != h {
			t.Fatal("version 2 does not read back")
		}
	})

	t.Run("eight scattered 4 KiB overwrites", func(t *testing.T) {
		v3 := bytes.Clone(base)
		for i := range 8 {
			at := i*(4<<20) + 1<<20 + 777*i
			copy(v3[at:at+4096], testBytes(2000+uint64(i), 4096))
		}
		c3 := writeContent(t, s, v3, int64(len(v3)), objects.WriteOptions{Params: p})
		// An overwrite changes cut decisions only within its 4 KiB plus the 64-byte
		// hash window, so each rewrites the chunk holding it, or two when it moves a
		// cut: on average well under Max each.
		limit := 8*int64(p.Max) + nodeSize(c3)
		t.Logf("overwrites: NewBytes %d (%.2f MiB), NewChunks %d, limit %d", c3.NewBytes, float64(c3.NewBytes)/(1<<20), c3.NewChunks, limit)
		if c3.NewBytes > limit {
			t.Fatalf("NewBytes = %d, want <= %d", c3.NewBytes, limit)
		}
		if c3.NewChunks < 8+1 {
			t.Fatalf("NewChunks = %d: each overwrite must store a chunk", c3.NewChunks)
		}
		if got := newDataBytes(c3) + newMetaBytes(c3); got != c3.NewBytes {
			t.Fatalf("NewBytes = %d, recipes say %d", c3.NewBytes, got)
		}
		if c3.Size != int64(len(base)) || c3.Digest != objects.Hash(v3) {
			t.Fatalf("content %+v", c3)
		}
	})
}

func hashContent(t testing.TB, s *objects.Store, recipe ID) (ID, int64) {
	t.Helper()
	pr, pw := io.Pipe()
	go func() {
		_, err := s.ReadContent(context.Background(), recipe, pw)
		pw.CloseWithError(err)
	}()
	id, n, err := objects.HashReader(pr)
	if err != nil {
		t.Fatal(err)
	}
	return id, n
}

// loopReader yields a 1 MiB block over and over, up to limit bytes, then fails
// with errTooFar; it calls hook (if set) with the running total.
type loopReader struct {
	block []byte
	n     int64
	limit int64
	hook  func(n int64)
}

var errTooFar = errors.New("read past the point where the writer should have stopped")

func (r *loopReader) Read(p []byte) (int, error) {
	if r.n >= r.limit {
		return 0, errTooFar
	}
	off := int(r.n % int64(len(r.block)))
	m := copy(p, r.block[off:])
	r.n += int64(m)
	if r.hook != nil {
		r.hook(r.n)
	}
	return m, nil
}

func TestWriteContentCancel(t *testing.T) {
	block := testBytes(77, 1<<20)
	for _, hint := range []int64{1 << 10, -1} { // a (lying) small hint: serial path
		t.Run(fmt.Sprintf("hint %d", hint), func(t *testing.T) {
			t.Run("before", func(t *testing.T) {
				s := openTestStore(t, t.TempDir())
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				r := &loopReader{block: block, limit: 64 << 20}
				_, err := s.WriteContent(ctx, r, hint, objects.WriteOptions{Params: objects.DefaultChunkerParams()})
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("err = %v, want context.Canceled", err)
				}
			})
			t.Run("during", func(t *testing.T) {
				s := openTestStore(t, t.TempDir())
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				r := &loopReader{block: block, limit: 64 << 20, hook: func(n int64) {
					if n >= 2<<20 {
						cancel()
					}
				}}
				_, err := s.WriteContent(ctx, r, hint, objects.WriteOptions{Params: objects.DefaultChunkerParams()})
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("err = %v, want context.Canceled", err)
				}
				// The chunker buffers 2*Max and the pipeline 16 chunks: the writer
				// stops within a few MiB of the cancellation.
				if r.n > 8<<20 {
					t.Fatalf("read %d bytes after cancelling at 2 MiB", r.n)
				}
			})
		})
	}
}

func TestWriteContentStoreError(t *testing.T) {
	for _, hint := range []int64{1 << 10, -1} {
		t.Run(fmt.Sprintf("hint %d", hint), func(t *testing.T) {
			dir := t.TempDir()
			s := openTestStore(t, dir)
			// Without tmp/ the store cannot start a pack, so the first Put fails.
			must(t, os.RemoveAll(filepath.Join(dir, "tmp")))
			r := &loopReader{block: testBytes(78, 1<<20), limit: 64 << 20}
			_, err := s.WriteContent(context.Background(), r, hint, objects.WriteOptions{Params: objects.DefaultChunkerParams()})
			if !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("err = %v, want the store's error (no tmp directory)", err)
			}
			if r.n > 8<<20 {
				t.Fatalf("read %d bytes after the store failed on the first chunk", r.n)
			}
		})
	}
}

func TestWriteContentBadParams(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	_, err := s.WriteContent(context.Background(), strings.NewReader("x"), 1, objects.WriteOptions{})
	if !errors.Is(err, objects.ErrChunkerParams) {
		t.Fatalf("zero params: err = %v, want ErrChunkerParams", err)
	}
}

func TestWriteContentReadError(t *testing.T) {
	boom := errors.New("disk on fire")
	for _, hint := range []int64{1 << 10, -1} {
		s := openTestStore(t, t.TempDir())
		r := io.MultiReader(bytes.NewReader(testBytes(3, 600<<10)), errReader{boom})
		if _, err := s.WriteContent(context.Background(), r, hint, objects.WriteOptions{Params: objects.DefaultChunkerParams()}); !errors.Is(err, boom) {
			t.Fatalf("hint %d: err = %v, want the reader's error", hint, err)
		}
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func TestWalkRecipe(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	data := testBytes(60, 256<<10)
	c := writeContent(t, s, data, -1, objects.WriteOptions{Params: tinyParams})
	level := topLevel(t, s, c.Recipe)
	if level < 1 {
		t.Fatalf("level %d, want a multi-level recipe", level)
	}
	meta, entries := walk(t, s, c.Recipe)
	if len(meta) < 2 || meta[0] != c.Recipe {
		t.Fatalf("meta = %d ids, want the top node first and intermediate pieces after", len(meta))
	}
	// Intermediate pieces are raw slices of serialized entries, not nodes.
	for _, id := range meta[1:] {
		b, err := s.ReadChunk(id, nil)
		must(t, err)
		if bytes.HasPrefix(b, []byte("TRVRCP")) {
			t.Fatalf("intermediate piece %v starts with a node header", id.Short())
		}
		if slices.ContainsFunc(entries, func(e objects.RecipeEntry) bool { return e.ID == id }) {
			t.Fatalf("meta id %v is also a data chunk", id.Short())
		}
	}

	t.Run("data error stops the walk", func(t *testing.T) {
		stop := errors.New("stop here")
		calls := 0
		err := s.WalkRecipe(context.Background(), c.Recipe, nil, func(objects.RecipeEntry) error {
			calls++
			if calls == 3 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || calls != 3 {
			t.Fatalf("err = %v after %d calls, want %v after 3", err, calls, stop)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		calls := 0
		err := s.WalkRecipe(ctx, c.Recipe, nil, func(objects.RecipeEntry) error {
			calls++
			cancel()
			return nil
		})
		if !errors.Is(err, context.Canceled) || calls != 1 {
			t.Fatalf("err = %v after %d calls, want context.Canceled after 1", err, calls)
		}
	})
	t.Run("missing recipe", func(t *testing.T) {
		err := s.WalkRecipe(context.Background(), objects.Hash([]byte("nope")), nil, func(objects.RecipeEntry) error { return nil })
		var me *objects.MissingError
		if !errors.As(err, &me) {
			t.Fatalf("err = %v, want *MissingError", err)
		}
	})
}

// A recipe needs its own chunks but not its data chunks to be walked; reading the
// content needs both.
func TestWalkRecipeWithoutData(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	a, b := testBytes(1, 3000), testBytes(2, 4000)
	putChunks(t, s, [][]byte{a, b})
	must(t, s.Flush())
	dataPack := onlyPack(t, s)
	node := recipeNode(0, objects.RecipeEntry{ID: objects.Hash(a), Size: 3000}, objects.RecipeEntry{ID: objects.Hash(b), Size: 4000})
	rid := objects.Hash(node)
	putChunks(t, s, [][]byte{node})
	must(t, s.Flush())

	var out bytes.Buffer
	if _, err := s.ReadContent(context.Background(), rid, &out); err != nil || !bytes.Equal(out.Bytes(), slices.Concat(a, b)) {
		t.Fatalf("ReadContent of a hand-made recipe: %v", err)
	}
	s.Close()
	must(t, os.Remove(s.PackPath(dataPack)))

	s2 := openTestStore(t, dir)
	_, entries := walk(t, s2, rid)
	if len(entries) != 2 {
		t.Fatalf("walk without data: %d entries", len(entries))
	}
	_, err := s2.ReadContent(context.Background(), rid, io.Discard)
	var me *objects.MissingError
	if !errors.As(err, &me) || me.ID != objects.Hash(a) {
		t.Fatalf("ReadContent without data: err = %v, want *MissingError for the first chunk", err)
	}
}

func TestParseRecipeNode(t *testing.T) {
	e := objects.RecipeEntry{ID: objects.Hash([]byte("x")), Size: 1}
	one := recipeNode(0, e)
	tests := []struct {
		name  string
		b     []byte
		level int // -1: must be rejected
	}{
		{"empty level 0", recipeNode(0), 0},
		{"one entry", one, 0},
		{"level 1", recipeNode(1, e, e), 1},
		{"level 8", recipeNode(8, e), 8},
		{"nil", nil, -1},
		{"header cut", one[:7], -1},
		{"bad magic", append([]byte("TRVRCQ"), one[6:]...), -1},
		{"lowercase magic", append([]byte("trvrcp"), one[6:]...), -1},
		{"format 0", append([]byte("TRVRCP\x00\x00"), one[8:]...), -1},
		{"format 2", append([]byte("TRVRCP\x02\x00"), one[8:]...), -1},
		{"level 9", recipeNode(9, e), -1},
		{"level 255", recipeNode(255, e), -1},
		{"partial entry", one[:len(one)-1], -1},
		{"entry and a byte", append(slices.Clone(one), 0), -1},
		{"partial entry at level 1", append(recipeNode(1, e), 0), -1},
		{"level 1 listing nothing", recipeNode(1), -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			level, entries, err := objects.ParseRecipeNode(tt.b)
			if tt.level < 0 {
				if !errors.Is(err, objects.ErrCorrupt) {
					t.Fatalf("ParseRecipeNode = %d, %d bytes, %v; want ErrCorrupt", level, len(entries), err)
				}
				return
			}
			if err != nil || level != tt.level || !bytes.Equal(entries, tt.b[8:]) {
				t.Fatalf("ParseRecipeNode = %d, %x, %v; want level %d", level, entries, err, tt.level)
			}
		})
	}
}

func FuzzParseRecipeNode(f *testing.F) {
	e := objects.RecipeEntry{ID: objects.Hash([]byte("x")), Size: 1}
	f.Add(recipeNode(0))
	f.Add(recipeNode(0, e, e))
	f.Add(recipeNode(3, e))
	f.Add(recipeNode(9, e))
	f.Add([]byte("TRVRCP\x02\x00"))
	f.Add([]byte("TRVRCP\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		level, entries, err := objects.ParseRecipeNode(b)
		if err != nil {
			if !errors.Is(err, objects.ErrCorrupt) {
				t.Fatalf("error does not match ErrCorrupt: %v", err)
			}
			return
		}
		if level < 0 || level > 8 {
			t.Fatalf("accepted level %d", level)
		}
		if len(entries)%40 != 0 || (level > 0 && len(entries) == 0) {
			t.Fatalf("accepted %d bytes of entries at level %d", len(entries), level)
		}
		if !bytes.Equal(recipeNode(byte(level)), b[:8]) || !bytes.Equal(entries, b[8:]) {
			t.Fatalf("accepted a node with a different header, or lost bytes")
		}
	})
}

// storeCorrupt flips a byte in the middle of chunk id in its pack.
func storeCorrupt(t testing.TB, s *objects.Store, id ID) {
	t.Helper()
	loc, ok := s.Lookup(id)
	if !ok {
		t.Fatalf("chunk %v not stored", id.Short())
	}
	flipFileByte(t, s.PackPath(loc.Pack), int64(loc.Offset+uint64(loc.Length)/2))
}

func TestReadContentCorrupt(t *testing.T) {
	data := testBytes(90, 200<<10)
	setup := func(t *testing.T) (*objects.Store, objects.Content, []ID, []objects.RecipeEntry) {
		s := openTestStore(t, t.TempDir())
		c := writeContent(t, s, data, -1, objects.WriteOptions{Params: tinyParams})
		meta, entries := walk(t, s, c.Recipe)
		return s, c, meta, entries
	}
	check := func(t *testing.T, s *objects.Store, recipe ID, name ID, want error) {
		t.Helper()
		_, err := s.ReadContent(context.Background(), recipe, io.Discard)
		if !errors.Is(err, want) {
			t.Fatalf("ReadContent: err = %v, want %v", err, want)
		}
		if !strings.Contains(err.Error(), name.Short()) {
			t.Fatalf("error %q does not name %s", err, name.Short())
		}
	}

	t.Run("top node", func(t *testing.T) {
		s, c, _, _ := setup(t)
		storeCorrupt(t, s, c.Recipe)
		check(t, s, c.Recipe, c.Recipe, objects.ErrCorrupt)
		if err := s.WalkRecipe(context.Background(), c.Recipe, nil, func(objects.RecipeEntry) error { return nil }); !errors.Is(err, objects.ErrCorrupt) {
			t.Fatalf("WalkRecipe: %v", err)
		}
	})
	t.Run("intermediate piece", func(t *testing.T) {
		s, c, meta, _ := setup(t)
		storeCorrupt(t, s, meta[len(meta)/2])
		check(t, s, c.Recipe, meta[len(meta)/2], objects.ErrCorrupt)
	})
	t.Run("data chunk", func(t *testing.T) {
		s, c, _, entries := setup(t)
		storeCorrupt(t, s, entries[len(entries)/2].ID)
		check(t, s, c.Recipe, entries[len(entries)/2].ID, objects.ErrCorrupt)
	})

	// Well-formed chunks whose recipe content lies.
	s := openTestStore(t, t.TempDir())
	a := testBytes(91, 500)
	ida := objects.Hash(a)
	putChunks(t, s, [][]byte{a})
	hand := func(node []byte) ID {
		id := objects.Hash(node)
		if _, err := s.Put(id, node); err != nil {
			t.Fatal(err)
		}
		return id
	}
	piece := appendRecipeEntries(nil, objects.RecipeEntry{ID: ida, Size: 500})
	cases := []struct {
		name   string
		recipe ID
	}{
		{"data chunk as recipe", ida},
		{"size larger than the chunk", hand(recipeNode(0, objects.RecipeEntry{ID: ida, Size: 501}))},
		{"size smaller than the chunk", hand(recipeNode(0, objects.RecipeEntry{ID: ida, Size: 499}))},
		{"size zero", hand(recipeNode(0, objects.RecipeEntry{ID: ida, Size: 0}))},
		{"size absurd", hand(recipeNode(0, objects.RecipeEntry{ID: ida, Size: 1 << 40}))},
		{"piece with a partial entry", hand(recipeNode(1, objects.RecipeEntry{ID: hand(piece[:39]), Size: 39}))},
		{"piece size lies", hand(recipeNode(1, objects.RecipeEntry{ID: hand(slices.Clone(piece)), Size: 41}))},
	}
	must(t, s.Flush())
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.ReadContent(context.Background(), tt.recipe, io.Discard)
			if !errors.Is(err, objects.ErrCorrupt) {
				t.Fatalf("err = %v, want ErrCorrupt", err)
			}
		})
	}
	// The control: a correct two-level recipe over the same chunk reads.
	var out bytes.Buffer
	good := hand(recipeNode(1, objects.RecipeEntry{ID: hand(slices.Clone(piece)), Size: 40}))
	must(t, s.Flush())
	if _, err := s.ReadContent(context.Background(), good, &out); err != nil || !bytes.Equal(out.Bytes(), a) {
		t.Fatalf("hand-made two-level recipe: %v", err)
	}
}

// Several goroutines writing content into one store share its packs safely.
func TestWriteContentConcurrent(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	s.SetPackSize(256 << 10)
	var wg sync.WaitGroup
	contents := make([]objects.Content, 4)
	errs := make([]error, 4)
	for i := range contents {
		wg.Go(func() {
			// Overlapping content: all share the first 64 KiB.
			data := slices.Concat(testBytes(1, 64<<10), testBytes(uint64(10+i), 128<<10))
			contents[i], errs[i] = s.WriteContent(context.Background(), bytes.NewReader(data), -1, objects.WriteOptions{Params: tinyParams})
		})
	}
	wg.Wait()
	for _, err := range errs {
		must(t, err)
	}
	must(t, s.Flush())
	for i, c := range contents {
		h, n := hashContent(t, s, c.Recipe)
		if h != c.Digest || n != c.Size {
			t.Fatalf("content %d does not read back", i)
		}
	}
}
