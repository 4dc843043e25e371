// Package manifest is trove's view of a git working tree: the small canonical JSON
// files (manifests, see SPEC.md) that describe each tracked file or directory, the
// stat cache that lets trove skip re-hashing unchanged data, and the operations a
// user runs in a repository — init, add, status, checkout, list.
//
// A manifest sits beside its data: data/train.csv is described by
// data/train.csv.trove, which is committed to git, while train.csv itself is listed
// in data/.gitignore and its bytes live, chunked and deduplicated, in the content
// store (package objects) under .trove/store.
//
// Repository layout:
//
//	.trove/config          settings (remotes, stages); may be committed, never secrets
//	.trove/.gitignore      keeps the store and caches out of git
//	.trove/store/          packs and indexes (package objects)
//	.trove/cache/stat      the stat cache
package manifest
