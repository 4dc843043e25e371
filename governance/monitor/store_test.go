package monitor

import (
	"context"
	"errors"
	"os"
	"path/filepath"
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

func TestFind(t *testing.T) {
	s := OpenStore(t.TempDir())
	a := sample()
	idA, err := s.Put(a)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Find(idA.String())
	if err != nil || got.ID != idA || got.Model != "churn" {
		t.Fatalf("full id: %+v %v", got, err)
	}
	if got, err := s.Find("blake3:" + idA.Hex()[:12]); err != nil || got.ID != idA {
		t.Fatalf("prefix: %+v %v", got, err)
	}
	// Another model's observation whose id shares a first digit, maybe.
	b := sample()
	b.Model = "fraud"
	idB, err := s.Put(b)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Find("blake3:" + idB.Hex()[:8]); err != nil || got.ID != idB || got.Model != "fraud" {
		t.Fatalf("other model: %+v %v", got, err)
	}
	for ref, want := range map[string]error{
		"blake3:" + idA.Hex()[:7]: ErrInvalid,
		idA.Hex():                 ErrInvalid,
		"blake3:" + strings.ToUpper(idA.Hex()[:12]): ErrInvalid,
		"blake3:0123456789abcdef0":                  ErrNoObservation,
		"blake3:" + idA.Hex() + "00":                ErrInvalid,
	} {
		if _, err := s.Find(ref); !errors.Is(err, want) {
			t.Errorf("Find(%q) = %v, want %v", ref, err, want)
		}
	}
	// Two observations under one prefix: ambiguous. Made by hand: the same
	// bytes under two model directories is also refused as misplaced.
	p := LineagePath("churn", idA)
	if m, id, ok := FromLineagePath(p); !ok || m != "churn" || id != idA {
		t.Fatalf("FromLineagePath(%q) = %q %v %v", p, m, id, ok)
	}
	for _, bad := range []string{".trove/store/monitor/events/" + idA.Hex() + ".json", "data/x.json", ".trove/store/monitor/observations/churn/x.json"} {
		if _, _, ok := FromLineagePath(bad); ok {
			t.Errorf("FromLineagePath(%q) accepted", bad)
		}
	}
}

// Two names sharing a prefix (made by hand: a real collision of 8 hex digits
// is rare) make the prefix ambiguous, and Find says which files share it.
func TestFindAmbiguous(t *testing.T) {
	dir := t.TempDir()
	s := OpenStore(dir)
	for _, h := range []string{"abcdef01" + strings.Repeat("0", 56), "abcdef01" + strings.Repeat("1", 56)} {
		p := filepath.Join(dir, "observations", "churn", h+".json")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err := s.Find("blake3:abcdef01")
	if !errors.Is(err, ErrAmbiguous) || !strings.Contains(err.Error(), "2 observations") {
		t.Fatalf("ambiguous: %v", err)
	}
	// A longer prefix picks one, whose damage is then found.
	if _, err := s.Find("blake3:abcdef010"); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("damaged: %v", err)
	}
}
