package manifest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrLocked is returned (wrapped) when another trove process holds the
// repository's lock for longer than the caller was willing to wait.
var ErrLocked = errors.New("another trove process is using this repository")

// Lock takes the repository's write lock (.trove/lock), waiting up to wait for
// another process to release it. The lock is an flock(2) on the file, so a process
// that dies releases it: there are no stale locks to clean up. The holder's pid is
// written in the file for the error message.
func (r *Repo) Lock(ctx context.Context, wait time.Duration) (unlock func(), err error) {
	p := filepath.Join(r.trove, "lock")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock repository: %w", err)
	}
	deadline := r.Now().Add(wait)
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock repository: %w", err)
		}
		if r.Now().After(deadline) {
			b, _ := os.ReadFile(p)
			f.Close()
			holder := strings.TrimSpace(string(b))
			if _, err := strconv.Atoi(holder); err == nil {
				return nil, fmt.Errorf("%w (pid %s)", ErrLocked, holder)
			}
			return nil, ErrLocked
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	f.Truncate(0)
	f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return func() {
		f.Truncate(0)
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
