// Package objects stores content: it names bytes, splits them into chunks, packs the
// chunks into files and keeps those files in a local store. It imports no other
// trove package.
//
// # Ids
//
// Every object is named by the BLAKE3-256 of its bytes, written "blake3:<64 hex>"
// (see ID). A file's digest is the BLAKE3 of its whole content, so b3sum prints the
// same hex and anyone can check a manifest without trove.
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
// # Recipes, trees and packs
//
// A file's recipe is its ordered list of chunks; a directory's tree lists its files.
// Both are stored as content themselves. Chunks are appended to immutable pack files
// named by their BLAKE3, with an index from chunk id to (pack, offset, length), so a
// gigabyte of data is a handful of files rather than tens of thousands. The local
// Store keeps packs and indexes under .trove/, writes atomically and verifies the
// BLAKE3 of everything it reads.
package objects
