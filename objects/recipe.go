package objects

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/zeebo/blake3"
)

// MissingError says which chunk is not in the store (and, when known, which pack
// should have held it). It matches ErrMissing.
type MissingError struct {
	ID   ID
	Pack ID
}

func (e *MissingError) Error() string {
	if !e.Pack.IsZero() {
		return fmt.Sprintf("chunk %s: pack %s is missing from the store", e.ID.Short(), e.Pack.Short())
	}
	return fmt.Sprintf("chunk %s is missing from the store", e.ID.Short())
}

// Is makes errors.Is(err, ErrMissing) true.
func (e *MissingError) Is(target error) bool { return target == ErrMissing }

// A recipe lists the chunks of one piece of content in order. It is stored as a
// chunk of its own, a recipe node:
//
//	"TRVRCP" 2 bytes: format 1, level L     header, 8 bytes
//	entries: chunk id (32) + length u64 LE  40 bytes each
//
// At level 0 the entries are the content's chunks. When the entries would not fit
// in one node of at most Max bytes, their serialized bytes are themselves split by
// the content-defined chunker and stored, and a node of level L+1 lists those
// pieces. Because the split is content-defined, a small edit to a huge file (or to
// a tree of a million entries) rewrites only a few recipe pieces.

const (
	recipeMagic    = "TRVRCP"
	recipeVersion  = 1
	recipeHeadLen  = 8
	recipeEntryLen = 40
	maxRecipeLevel = 8
)

// RecipeEntry is one chunk of a recipe.
type RecipeEntry struct {
	ID   ID
	Size uint64
}

// Content describes content written by WriteContent.
type Content struct {
	Digest    ID // BLAKE3 of the whole content, as b3sum prints it
	Size      int64
	Recipe    ID // top recipe node; zero when written Inline and at most one chunk long
	Chunks    int
	NewBytes  int64 // bytes of chunks (data and recipe) that the store did not have
	NewChunks int
}

// WriteOptions tune WriteContent.
type WriteOptions struct {
	Params ChunkerParams
	// Inline skips the recipe node for content of at most one chunk: such content
	// is the single chunk named by its digest (or nothing, when empty).
	Inline bool
	// Progress, if set, is called with the number of bytes consumed since the last
	// call. It is called from one goroutine at a time.
	Progress func(n int64)
}

// pipelineMin is the size below which WriteContent does not bother with a second
// goroutine.
const pipelineMin = 4 << 20

// WriteContent splits r into chunks, stores the chunks the store lacks and a recipe
// for them, and returns the content's description. sizeHint (or -1) picks the
// strategy: large content is chunked on one goroutine while another hashes and
// stores, so two cores overlap.
func (s *Store) WriteContent(ctx context.Context, r io.Reader, sizeHint int64, opt WriteOptions) (Content, error) {
	ch, err := s.chunker(r, opt.Params)
	if err != nil {
		return Content{}, err
	}
	defer s.releaseChunker(ch, opt.Params)
	var (
		c       Content
		entries = s.newEntrySpool()
		whole   = blake3.New()
	)
	defer entries.close()
	store := func(b []byte) error {
		id := Hash(b)
		added, err := s.Put(id, b)
		if err != nil {
			return err
		}
		if added {
			c.NewBytes += int64(len(b))
			c.NewChunks++
		}
		c.Size += int64(len(b))
		if err := entries.add(RecipeEntry{ID: id, Size: uint64(len(b))}); err != nil {
			return err
		}
		if opt.Progress != nil {
			opt.Progress(int64(len(b)))
		}
		return nil
	}
	if sizeHint >= 0 && sizeHint < pipelineMin {
		for {
			if err := ctx.Err(); err != nil {
				return Content{}, err
			}
			b, err := ch.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return Content{}, err
			}
			whole.Write(b)
			if err := store(b); err != nil {
				return Content{}, err
			}
		}
	} else if err := pipeline(ctx, ch, opt.Params.Max, whole.Write, store); err != nil {
		return Content{}, err
	}
	whole.Sum(c.Digest[:0])
	c.Chunks = int(entries.n)
	if opt.Inline && entries.n <= 1 {
		return c, nil
	}
	id, nb, nc, err := s.writeRecipe(entries, opt.Params)
	if err != nil {
		return Content{}, err
	}
	c.Recipe = id
	c.NewBytes += nb
	c.NewChunks += nc
	return c, nil
}

// pipeline runs the chunker and first (the whole-content hash) on this goroutine
// and fn (chunk hash and store) on another, passing copies of chunks through a
// small bounded queue: the two halves cost about the same, so two cores overlap. Once fn fails,
// chunking stops: there is no point reading the rest of a large input.
func pipeline(ctx context.Context, ch *Chunker, max int, first func([]byte) (int, error), fn func([]byte) error) error {
	const depth = 16
	pool := sync.Pool{New: func() any { b := make([]byte, 0, max); return &b }}
	queue := make(chan *[]byte, depth)
	failed := make(chan struct{}) // closed when fn has returned an error
	errc := make(chan error, 1)
	go func() {
		var err error
		for bp := range queue {
			if err == nil {
				if err = fn(*bp); err != nil {
					close(failed)
				}
			}
			pool.Put(bp)
		}
		errc <- err
	}()
	var rerr error
produce:
	for {
		if rerr = ctx.Err(); rerr != nil {
			break
		}
		select {
		case <-failed:
			break produce
		default:
		}
		b, err := ch.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			rerr = err
			break
		}
		first(b)
		bp := pool.Get().(*[]byte)
		*bp = append((*bp)[:0], b...)
		select {
		case queue <- bp:
		case <-failed:
			break produce
		}
	}
	close(queue)
	werr := <-errc
	if rerr != nil {
		return rerr
	}
	return werr
}

func encodeEntries(entries []RecipeEntry) []byte {
	b := make([]byte, len(entries)*recipeEntryLen)
	for i, e := range entries {
		o := b[i*recipeEntryLen:]
		copy(o[:32], e.ID[:])
		binary.LittleEndian.PutUint64(o[32:40], e.Size)
	}
	return b
}

// RecipeParams returns the chunker parameters for recipe nodes and pieces of
// content chunked with p: p itself when its Max is at most 16 KiB, else 1/4/16 KiB.
// Recipe pieces are small so that an edit to a huge file rewrites a few KiB of
// recipe, not a data-sized chunk of it (a 1 GiB file's recipe is 640 KiB of
// entries; eight scattered edits rewrite about 64 KiB of it instead of 512 KiB).
func RecipeParams(p ChunkerParams) ChunkerParams {
	if p.Max <= 16<<10 {
		return p
	}
	return ChunkerParams{Min: 1 << 10, Avg: 4 << 10, Max: 16 << 10}
}

// entrySpool holds a recipe's serialized entries as they are made: in memory
// up to the store's sort budget, past it in a temporary file (unlinked at once
// where the system allows), so that adding a file of tens of millions of
// chunks does not hold 40 bytes of each in memory.
type entrySpool struct {
	dir  string
	max  int
	buf  []byte
	f    *os.File
	name string // to remove at close, where unlinking an open file failed
	n    int64  // entries
	w    *bufio.Writer
}

func (s *Store) newEntrySpool() *entrySpool {
	b := s.budget()
	if b <= 0 {
		b = DefaultSortBudget
	}
	return &entrySpool{dir: s.TempDir(), max: b}
}

func (sp *entrySpool) add(e RecipeEntry) error {
	sp.n++
	var b [recipeEntryLen]byte
	copy(b[:32], e.ID[:])
	binary.LittleEndian.PutUint64(b[32:40], e.Size)
	if sp.w != nil {
		_, err := sp.w.Write(b[:])
		return err
	}
	sp.buf = append(sp.buf, b[:]...)
	if len(sp.buf) < sp.max {
		return nil
	}
	f, err := os.CreateTemp(sp.dir, "recipe-*")
	if err != nil {
		return fmt.Errorf("spool recipe: %w", err)
	}
	sp.f = f
	if os.Remove(f.Name()) != nil {
		sp.name = f.Name()
	}
	sp.w = bufio.NewWriterSize(f, 256<<10)
	_, err = sp.w.Write(sp.buf)
	sp.buf = nil
	return err
}

// reader returns the entries written so far and their length in bytes.
func (sp *entrySpool) reader() (io.Reader, int64, error) {
	if sp.w == nil {
		return bytes.NewReader(sp.buf), int64(len(sp.buf)), nil
	}
	if err := sp.w.Flush(); err != nil {
		return nil, 0, fmt.Errorf("spool recipe: %w", err)
	}
	size := sp.n * recipeEntryLen
	return bufio.NewReaderSize(io.NewSectionReader(sp.f, 0, size), 256<<10), size, nil
}

func (sp *entrySpool) close() {
	if sp.f != nil {
		sp.f.Close()
		if sp.name != "" {
			os.Remove(sp.name)
		}
	}
}

func (s *Store) writeRecipe(sp *entrySpool, p ChunkerParams) (ID, int64, int, error) {
	p = RecipeParams(p)
	var newBytes int64
	var newChunks int
	put := func(b []byte) (ID, error) {
		id := Hash(b)
		added, err := s.Put(id, b)
		if added {
			newBytes += int64(len(b))
			newChunks++
		}
		return id, err
	}
	// Level 0 is read from the spool; the levels above are a hundredth of the
	// size each and are held in memory.
	data, size, err := sp.reader()
	if err != nil {
		return ID{}, 0, 0, err
	}
	for level := 0; level <= maxRecipeLevel; level++ {
		if recipeHeadLen+size <= int64(p.Max) {
			node := make([]byte, recipeHeadLen+size)
			copy(node, recipeMagic)
			node[6], node[7] = recipeVersion, byte(level)
			if _, err := io.ReadFull(data, node[recipeHeadLen:]); err != nil {
				return ID{}, 0, 0, fmt.Errorf("spool recipe: %w", err)
			}
			id, err := put(node)
			return id, newBytes, newChunks, err
		}
		ch, err := NewChunker(data, p)
		if err != nil {
			return ID{}, 0, 0, err
		}
		var next []RecipeEntry
		for {
			b, err := ch.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return ID{}, 0, 0, err
			}
			id, err := put(b)
			if err != nil {
				return ID{}, 0, 0, err
			}
			next = append(next, RecipeEntry{ID: id, Size: uint64(len(b))})
		}
		enc := encodeEntries(next)
		data, size = bytes.NewReader(enc), int64(len(enc))
	}
	return ID{}, 0, 0, fmt.Errorf("recipe deeper than %d levels", maxRecipeLevel)
}

// ParseRecipeNode checks a recipe node's header and returns its level and the
// serialized entries.
func ParseRecipeNode(b []byte) (level int, entries []byte, err error) {
	if len(b) < recipeHeadLen || string(b[:6]) != recipeMagic {
		return 0, nil, fmt.Errorf("%w: not a recipe node", ErrCorrupt)
	}
	if b[6] != recipeVersion {
		return 0, nil, fmt.Errorf("%w: recipe node format %d is not supported", ErrCorrupt, b[6])
	}
	level = int(b[7])
	if level > maxRecipeLevel {
		return 0, nil, fmt.Errorf("%w: recipe node level %d", ErrCorrupt, level)
	}
	entries = b[recipeHeadLen:]
	// At every level a node's own body is whole entries; only the pieces it lists
	// (at level 1 and up) are arbitrary slices of serialized entries.
	if len(entries)%recipeEntryLen != 0 {
		return 0, nil, fmt.Errorf("%w: recipe node has a partial entry", ErrCorrupt)
	}
	// writeRecipe only adds a level when the entries do not fit in one node, so an
	// upper-level node always lists something; empty content is an empty level 0.
	if level > 0 && len(entries) == 0 {
		return 0, nil, fmt.Errorf("%w: recipe node of level %d lists nothing", ErrCorrupt, level)
	}
	return level, entries, nil
}

// entryReader decodes 40-byte recipe entries from a byte stream.
type entryReader struct {
	r   io.Reader
	buf [recipeEntryLen]byte
}

func (er *entryReader) next() (RecipeEntry, error) {
	_, err := io.ReadFull(er.r, er.buf[:])
	if err == io.ErrUnexpectedEOF {
		return RecipeEntry{}, fmt.Errorf("%w: recipe ends inside an entry", ErrCorrupt)
	}
	if err != nil {
		return RecipeEntry{}, err
	}
	var e RecipeEntry
	copy(e.ID[:], er.buf[:32])
	e.Size = binary.LittleEndian.Uint64(er.buf[32:])
	if e.Size == 0 || e.Size > 64<<20 {
		return RecipeEntry{}, fmt.Errorf("%w: recipe entry of %d bytes", ErrCorrupt, e.Size)
	}
	return e, nil
}

// chunkStream concatenates the chunks listed by an entry stream, reading each from
// the store (verified) and reporting it to visit.
type chunkStream struct {
	s     *Store
	src   *entryReader
	visit func(RecipeEntry)
	buf   []byte
	rest  []byte
}

func (cs *chunkStream) Read(p []byte) (int, error) {
	for len(cs.rest) == 0 {
		e, err := cs.src.next()
		if err != nil {
			return 0, err
		}
		if cs.visit != nil {
			cs.visit(e)
		}
		b, err := cs.s.ReadChunk(e.ID, cs.buf)
		if err != nil {
			return 0, err
		}
		if uint64(len(b)) != e.Size {
			return 0, fmt.Errorf("%w: chunk %s has %d bytes, recipe says %d", ErrCorrupt, e.ID.Short(), len(b), e.Size)
		}
		cs.buf = b
		cs.rest = b
	}
	n := copy(p, cs.rest)
	cs.rest = cs.rest[n:]
	return n, nil
}

// WalkRecipe calls meta for the recipe's own chunks (the node and any intermediate
// pieces) and data for each content chunk, in order. It needs the recipe's own
// chunks in the store (a missing one gives a *MissingError) but not the data
// chunks.
func (s *Store) WalkRecipe(ctx context.Context, recipe ID, meta func(ID), data func(RecipeEntry) error) error {
	node, err := s.ReadChunk(recipe, nil)
	if err != nil {
		return err
	}
	if meta != nil {
		meta(recipe)
	}
	level, body, err := ParseRecipeNode(node)
	if err != nil {
		return fmt.Errorf("recipe %s: %w", recipe.Short(), err)
	}
	var r io.Reader = bytes.NewReader(body)
	for l := level; l > 0; l-- {
		r = &chunkStream{s: s, src: &entryReader{r: r}, visit: func(e RecipeEntry) {
			if meta != nil {
				meta(e.ID)
			}
		}}
	}
	er := &entryReader{r: r}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		e, err := er.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("recipe %s: %w", recipe.Short(), err)
		}
		if err := data(e); err != nil {
			return err
		}
	}
}

// ReadContent writes the content named by recipe to w, verifying every chunk, and
// returns the number of bytes written. For inline content (zero recipe) pass the
// digest and size instead via ReadInline.
func (s *Store) ReadContent(ctx context.Context, recipe ID, w io.Writer) (int64, error) {
	return s.readContent(ctx, recipe, w, true)
}

// ReadContentUnverified is ReadContent without checking each data chunk against
// its id: for callers that hash the whole content and compare it with a known
// digest anyway (checkout), which saves one BLAKE3 pass over the data. On a
// mismatch they call ReadContent to find the damaged chunk. Recipe chunks are
// still verified.
func (s *Store) ReadContentUnverified(ctx context.Context, recipe ID, w io.Writer) (int64, error) {
	return s.readContent(ctx, recipe, w, false)
}

func (s *Store) readContent(ctx context.Context, recipe ID, w io.Writer, verify bool) (int64, error) {
	var n int64
	var buf []byte
	err := s.WalkRecipe(ctx, recipe, nil, func(e RecipeEntry) error {
		b, err := s.readChunk(e.ID, buf, verify)
		if err != nil {
			return err
		}
		if uint64(len(b)) != e.Size {
			return fmt.Errorf("%w: chunk %s has %d bytes, recipe says %d", ErrCorrupt, e.ID.Short(), len(b), e.Size)
		}
		buf = b
		m, err := w.Write(b)
		n += int64(m)
		return err
	})
	return n, err
}

// ReadInline writes inline content (one chunk named by its digest, or nothing when
// size is 0) to w.
func (s *Store) ReadInline(digest ID, size int64, w io.Writer) (int64, error) {
	if size == 0 {
		if digest != Hash(nil) {
			return 0, fmt.Errorf("%w: empty content with digest %s", ErrCorrupt, digest.Short())
		}
		return 0, nil
	}
	b, err := s.ReadChunk(digest, nil)
	if err != nil {
		return 0, err
	}
	if int64(len(b)) != size {
		return 0, fmt.Errorf("%w: chunk %s has %d bytes, expected %d", ErrCorrupt, digest.Short(), len(b), size)
	}
	n, err := w.Write(b)
	return int64(n), err
}
