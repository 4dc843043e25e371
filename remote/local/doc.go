// Package local implements remote.Remote on a directory: a mounted disk, a network
// share, or a temporary directory in tests.
//
// A key maps to a file under the directory, "packs/ab/abcd.pack" to
// DIR/packs/ab/abcd.pack, so the remote can be read, copied or backed up with ordinary
// tools. Keys are checked by remote.CheckKey, so none can escape the directory.
//
// Put writes the bytes to a temporary file under DIR/.tmp/, flushes it to disk, renames
// it into place and flushes the parent directory: readers see no object or the whole
// object, even after a crash or a power cut. A crash can leave files in DIR/.tmp/; they
// are never listed and may be removed while no trove process writes to the remote. For
// the same reason the first segment ".tmp" is reserved and such keys are rejected with
// remote.ErrBadKey.
//
// Unlike S3, a file system cannot hold both "a" and "a/b": putting one when the other
// exists fails. trove's layout never does this.
//
// New creates nothing: the directory, and the subdirectories keys need, are made by the
// first Put. Listing or reading a directory that does not exist yet finds no objects.
package local
