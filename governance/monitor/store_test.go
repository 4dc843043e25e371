package monitor

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
)

// memBlobs is a remote in memory; failGets makes the Gets after the first n
// fail, like a connection that drops in the middle of a sync.
type memBlobs struct {
	mu       sync.Mutex
	m        map[string][]byte
	gets     int
	failFrom int // 0: never
}

func newMemBlobs() *memBlobs { return &memBlobs{m: map[string][]byte{}} }

func (b *memBlobs) List(_ context.Context, prefix string, fn func(string) error) error {
	b.mu.Lock()
	var keys []string
	for k := range b.m {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	b.mu.Unlock()
	for _, k := range keys {
		if err := fn(k); err != nil {
			return err
		}
	}
	return nil
}

var errDropped = errors.New("connection dropped")

func (b *memBlobs) Get(_ context.Context, key string) ([]byte, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.gets++
	if b.failFrom > 0 && b.gets >= b.failFrom {
		return nil, errDropped
	}
	d, ok := b.m[key]
	if !ok {
		return nil, errors.New("not found")
	}
	return append([]byte(nil), d...), nil
}

func (b *memBlobs) Put(_ context.Context, key string, data []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.m[key] = append([]byte(nil), data...)
	return nil
}

// An interrupted pull keeps what it verified, and the next one fetches only
// the rest.
func TestPullResumes(t *testing.T) {
	ctx := context.Background()
	a, b := OpenStore(t.TempDir()), OpenStore(t.TempDir())
	for i := 0; i < 20; i++ {
		o := sample()
		o.Metrics["accuracy"] = 0.5 + float64(i)/100
		if _, err := a.Put(o); err != nil {
			t.Fatal(err)
		}
	}
	rem := newMemBlobs()
	if res, err := a.Push(ctx, rem); err != nil || res.Sent != 20 {
		t.Fatalf("push: %+v %v", res, err)
	}
	rem.failFrom = 6
	res, err := b.Pull(ctx, rem, "")
	if !errors.Is(err, errDropped) {
		t.Fatalf("interrupted pull: %+v %v", res, err)
	}
	kept, err := b.List("churn")
	if err != nil || len(kept) != res.Received || res.Received == 0 || res.Received >= 20 {
		t.Fatalf("after the interruption: %d kept, %d reported, %v", len(kept), res.Received, err)
	}
	rem.failFrom, rem.gets = 0, 0
	res2, err := b.Pull(ctx, rem, "")
	if err != nil || res.Received+res2.Received != 20 || rem.gets != res2.Received {
		t.Fatalf("resumed pull: %+v after %+v, %d gets, %v", res2, res, rem.gets, err)
	}
	if res3, err := b.Pull(ctx, rem, ""); err != nil || res3.Received != 0 {
		t.Fatalf("third pull: %+v %v", res3, err)
	}
}

// A remote file that is not what its name says is refused and not stored,
// whatever the damage.
func TestPullRefusesMisplaced(t *testing.T) {
	ctx := context.Background()
	a := OpenStore(t.TempDir())
	id, err := a.Put(sample())
	if err != nil {
		t.Fatal(err)
	}
	rem := newMemBlobs()
	if _, err := a.Push(ctx, rem); err != nil {
		t.Fatal(err)
	}
	good := rem.m[RemotePrefix+"observations/churn/"+id.Hex()+".json"]
	for name, put := range map[string]func(){
		"under another model":        func() { rem.m[RemotePrefix+"observations/fraud/"+id.Hex()+".json"] = good },
		"an observation as an event": func() { rem.m[RemotePrefix+"events/"+id.Hex()+".json"] = good },
		"too large": func() {
			rem.m[RemotePrefix+"observations/churn/"+id.Hex()+".json"] = append(append([]byte(nil), good...), make([]byte, MaxObservationSize)...)
		},
	} {
		rem = newMemBlobs()
		put()
		c := OpenStore(t.TempDir())
		if _, err := c.Pull(ctx, rem, ""); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
		if keys, _ := c.localKeys(); len(keys) != 0 {
			t.Errorf("%s: stored %v", name, keys)
		}
	}
}
