// Package objects stores content: it names bytes, splits them into chunks, packs the
// chunks into files and keeps those files in a local store. It imports no other
// trove package.
//
// # Ids
//
// Every object is named by the BLAKE3-256 of its bytes, written "blake3:<64 hex>"
// (see ID, Hash, ParseID; the hex is lowercase and there is exactly one way to write
// an id). A file's digest is the BLAKE3 of its whole content, so b3sum prints the
// same hex and anyone can check a manifest without trove. Chunks, recipe nodes and
// packs are named the same way, so anything read back can be checked against its
// name.
//
// # Chunks
//
// Content is split by content-defined chunking (fastcdc-gear-v1: FastCDC with a gear
// hash and normalized chunking; see Chunker and Cut). Boundaries depend only on the
// bytes near them, so inserting or deleting bytes changes the chunks around the edit
// and no others, and a new version of a file stores only what changed. Chunks are
// 16 KiB to 256 KiB, 64 KiB on average, by default (DefaultChunkerParams). The
// chunker's name and parameters are recorded in each manifest, and stability vectors
// in testdata/chunker_vectors.json pin the boundaries: changing them is a format
// change.
//
// # Packs
//
// Chunks are appended to pack files rather than stored one file per chunk: a
// gigabyte at 64 KiB a chunk is a handful of packs instead of 16k files (or S3
// objects). A pack is
//
//	"TRVPACK1" | chunk bytes, back to back | index | footer
//
// where the index lists (chunk id, offset, length) for every chunk, sorted by id, and
// the 20-byte footer holds the index offset, the entry count and "TRVPEND1". A pack
// is immutable and named by the BLAKE3 of all its bytes, and it describes itself:
// ReadPackIndex recovers its index from the pack alone, rejecting truncated packs,
// inconsistent footers, unsorted or duplicate entries and entries that point outside
// the chunk area. PackWriter builds one.
//
// # Index files
//
// The same entries are also written to a small index file per pack
// (EncodeIndexFile: "TRVIDX01", pack id, count, entries, then a BLAKE3 checksum of
// all that), so that opening a store, or learning what a remote holds, reads a few
// bytes per pack instead of the packs. An index file is a cache: when it is missing
// or damaged it is rebuilt from its pack.
//
// # The local store
//
// A Store lives in a directory, .trove/store in a repository:
//
//	packs/<first 2 hex>/<pack hex>.pack   complete packs
//	index/<pack hex>.idx                  one index file per pack
//	midx/<checksum>.midx                  the index files of many packs, merged
//	tmp/                                  the pack being written, sort runs
//
// Put appends a chunk to the pack being written (and reports false, storing nothing,
// when the chunk is already stored or pending). The pack is closed when it reaches
// the target size (DefaultPackSize, 64 MiB) or on Flush: it is finished, fsynced,
// renamed into packs/ under its BLAKE3, and then its index file is written, again
// through a temp file, fsync and rename (WriteFileAtomic). Chunks become readable
// only then. Abort, or Close without Flush, discards the chunks put since the last
// Flush and nothing else. AddPack installs a pack obtained elsewhere after checking
// its bytes against its name and its embedded index.
//
// # The chunk index
//
// The store does not hold a map of every chunk. The entries of the packs' index
// files are merged into multi-pack index (midx) files: fixed-width entries
// sorted by chunk id, with a fanout table and a Bloom filter that OpenStore reads
// into memory (about 2 bytes a chunk), while the entries themselves are read with
// pread when a chunk is looked up (a few dozen bytes; the filter answers most
// lookups of chunks the store lacks without a read; the entries of a small midx
// file that is read often are held in memory, up to 32 MiB a file). So a store of tens of
// millions of chunks opens in milliseconds and in tens of megabytes, and a short
// command that looks up a few chunks pays for those few. The packs added since the
// last merge are held in a small map, and Flush merges them into a new midx file
// once they hold DefaultIndexMergeAt chunks; files are merged geometrically, so
// there are few. A midx file is a cache, like the index files: written whole
// (temp file, fsync, rename), never changed, covering a pack only while the pack
// and its index file exist (gc removes a pack's index file and the midx files
// need no rewrite); a missing or damaged one is ignored and its packs' index files
// read again. Store.CheckIndex reads the large ones whole (OpenStore checks only
// small ones whole; every lookup bounds-checks its entry, and every chunk read is
// checked against its id anyway).
//
// # Sets larger than memory
//
// What gc, verify, push and pull compute over every chunk (the chunks history
// reaches, an artifact's chunks, the remote's index) is never a map of them.
// IDSet (and Sorter, for other fixed-width records) is an external sort:
// members are added in any order, held up to a budget (DefaultSortBudget,
// 64 MiB; SetSortBudget), spilled past it as sorted runs to temporary files in
// tmp/ (unlinked as soon as they are created, so a killed process leaves
// nothing), and read back merged, sorted and distinct. Sorted streams are then
// joined with sorted data in one pass: EachLoc and EachMissing with the midx
// files, LiveMarks with the packs' entries (one bit per entry, for gc). Below
// the budget nothing touches the disk. WriteContent spools a file's recipe
// entries the same way, so adding a huge file holds a few megabytes of them.
//
// OpenStore lists the packs and their index files. A pack without an index file
// (a crash between the rename and the index write) is indexed from the pack; an
// index file of a pack no midx file covers that is damaged, names another pack or
// points outside its pack is rebuilt from the pack; an index file whose pack is
// gone is ignored; leftover temp files are ignored.
//
// # Recipes
//
// WriteContent chunks a stream, stores the chunks the store lacks and writes a
// recipe: a node of at most Max bytes,
//
//	"TRVRCP" | format 1 | level | entries of (chunk id, u64 size)
//
// listing the content's chunks in order (level 0). When the entries do not fit in
// one node, their serialized bytes are themselves split by the chunker and stored,
// and a node one level up lists those pieces, and so on (at most 8 levels). Because
// that split is content-defined too, a small edit to a huge file rewrites one data
// chunk or two and a few recipe pieces per level, not the whole recipe. Content of
// at most one chunk may be written Inline, without a recipe: it is then the chunk
// named by its digest (ReadInline). WriteContent returns the content's Digest (the
// BLAKE3 of all of it), its size and how many bytes were new to the store; large
// inputs are chunked on one goroutine while another hashes and stores. It does not
// Flush.
//
// ReadContent streams content back; WalkRecipe lists a recipe's own chunks (the
// top node and intermediate pieces) and its data chunks without reading the data.
//
// # Trees
//
// A directory is a tree: a text listing, "trove-tree 1" and then one line per file,
//
//	<mode> <size> <digest hex> <recipe hex or -> <path>
//
// sorted by path bytes, stored as content like any file. DecodeTree accepts exactly
// one encoding of each tree and rejects unsafe paths (absolute, "..", empty or "."
// segments, backslashes, NUL, CR, invalid UTF-8: see ValidPath) and paths below
// another entry, which would make one name both a file and a directory. The
// directory's digest, TreeDigest, is the BLAKE3 of the listing
// b3sum prints for the same files, so it too can be checked without trove.
//
// # Guarantees
//
//   - Atomicity: a pack, an index file, a midx file or any file written with WriteFileAtomic is
//     either absent or complete, whatever the moment of a crash; a crash loses at
//     most the chunks put since the last Flush.
//   - Verification on read: ReadChunk checks the BLAKE3 of every chunk it returns,
//     and every read goes through it (recipe nodes and pieces included); ReadContent
//     also checks each chunk's size against its recipe. Bytes that do not match
//     give an error matching ErrCorrupt that names the chunk.
//     A chunk that is not stored, or whose pack is gone, gives a *MissingError
//     matching ErrMissing. Every parser (ReadPackIndex, DecodeIndexFile,
//     ParseRecipeNode, DecodeTree) reports malformed input as ErrCorrupt and is
//     fuzzed.
//   - Bounded memory: the chunker buffers 2*Max bytes, WriteContent queues at most
//     16 chunks and ReadContent holds one chunk at a time, whatever the size of the
//     content. WriteContent does keep the recipe's entries, 40 bytes per chunk
//     (about 640 KiB per GiB at the default sizes), until it writes the recipe.
//   - Concurrency: a Store is safe for use by many goroutines.
package objects
