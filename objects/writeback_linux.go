package objects

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to start writing a range of f to disk now,
// without waiting for it, so that the fsync that seals a pack finds most of the
// pack already on disk instead of writing 64 MiB while the pipeline waits.
func startWriteback(f *os.File, off, n int64) {
	_ = unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}
