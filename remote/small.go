package remote

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/trove-dev/trove/objects"
)

// Files gives whole-object access to small immutable files on a remote (the
// monitoring observations and events, under "monitor/"), with the same bounded
// retries and backoff as pack transfers: a transient error (5xx, a reset
// connection, a body cut short) is tried again, a missing key, a refused
// credential or a context cancellation is not. It verifies nothing: its caller
// names the files by their content and checks them.
type Files struct {
	Remote Remote
	Opt    Options
	// Limit caps the bytes read from one object; a larger object is an error
	// (0: 64 MiB).
	Limit int64
}

// Retry runs fn until it succeeds, fails with an error not worth retrying, or
// has been tried 1+opt.Retries times, sleeping opt.Backoff between attempts.
func Retry(ctx context.Context, opt Options, fn func() error) error {
	opt.defaults()
	return retry(ctx, &opt, fn)
}

// List calls fn with every key under prefix, after the whole listing
// succeeded, so that a listing retried after a fault reports each key once.
func (f Files) List(ctx context.Context, prefix string, fn func(key string) error) error {
	var keys []string
	err := Retry(ctx, f.Opt, func() error {
		keys = keys[:0]
		return f.Remote.List(ctx, prefix, func(i Info) error {
			keys = append(keys, i.Key)
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("list %s on %s: %w", prefix, f.Remote, err)
	}
	for _, k := range keys {
		if err := fn(k); err != nil {
			return err
		}
	}
	return nil
}

// Get reads a whole object; a body that ends early is retried.
func (f Files) Get(ctx context.Context, key string) ([]byte, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 64 << 20
	}
	var b []byte
	err := Retry(ctx, f.Opt, func() error {
		rc, err := f.Remote.Get(ctx, key, 0, -1)
		if err != nil {
			return err
		}
		defer rc.Close()
		b, err = io.ReadAll(io.LimitReader(rc, limit+1))
		if err != nil {
			return truncated(key, f.Remote, err)
		}
		if int64(len(b)) > limit {
			return fmt.Errorf("%s on %s: %w: larger than %d bytes", key, f.Remote, objects.ErrCorrupt, limit)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", key, err)
	}
	return b, nil
}

// Put stores data under key (atomic and idempotent on every remote), retried.
func (f Files) Put(ctx context.Context, key string, data []byte) error {
	return Retry(ctx, f.Opt, func() error {
		return f.Remote.Put(ctx, key, bytes.NewReader(data), int64(len(data)))
	})
}
