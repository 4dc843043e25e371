package remote_test

import (
	"context"

	"github.com/trove-dev/trove/objects"
	"github.com/trove-dev/trove/remote"
)

// The benchmark pushes a set, as trove push does, rather than a list.
func init() {
	pushAll = func(ctx context.Context, rem remote.Remote, st *objects.Store, gen func(func(objects.ID) error) error, opt remote.Options) (remote.PushResult, error) {
		set := st.NewIDSet()
		defer set.Close()
		if err := gen(set.Add); err != nil {
			return remote.PushResult{}, err
		}
		return remote.PushSet(ctx, rem, st, set, opt)
	}
}
