package monitor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/trove-dev/trove/objects"
)

// Store keeps observations and events on this machine, as immutable files
// named by the BLAKE3 of their bytes, under a directory of the local store
// (.trove/store/monitor, which git ignores):
//
//	observations/<model>/<hex>.json    one observation
//	events/<hex>.json                  one monitoring event (CloudEvent)
//
// A remote holds the same files under the prefix "monitor/". Two machines that
// observe at the same time write different files, so nothing ever conflicts,
// and syncing is copying the names one side lacks. Writes are atomic (temp
// file, rename); every read checks the bytes against the name. A Store is safe
// for concurrent use by several processes.
type Store struct {
	dir string
}

// RemotePrefix is where a remote keeps the monitor files.
const RemotePrefix = "monitor/"

// OpenStore returns the store rooted at dir (created on first write).
func OpenStore(dir string) *Store { return &Store{dir: dir} }

func obsKey(model string, id objects.ID) string {
	return "observations/" + model + "/" + id.Hex() + ".json"
}

func eventKey(id objects.ID) string { return "events/" + id.Hex() + ".json" }

// Put stores an observation and returns its id. Putting the same observation
// again is a no-op.
func (s *Store) Put(o *Observation) (objects.ID, error) {
	b, err := o.Encode()
	if err != nil {
		return objects.ID{}, err
	}
	id := objects.Hash(b)
	return id, s.write(obsKey(o.Model, id), b)
}

// PutEvent stores an event, named by its id (the digest of its data), in its
// canonical encoding. Putting it again is a no-op.
func (s *Store) PutEvent(e *Event) error {
	id, err := objects.ParseID(e.ID)
	if err != nil {
		return fmt.Errorf("%w: id %q", ErrEvent, e.ID)
	}
	b, err := e.Encode()
	if err != nil {
		return err
	}
	if _, err := DecodeEvent(b); err != nil {
		return err
	}
	return s.write(eventKey(id), b)
}

func (s *Store) write(key string, b []byte) error {
	p := filepath.Join(s.dir, filepath.FromSlash(key))
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return objects.WriteFileAtomic(p, b, 0o644)
}

func (s *Store) read(key string, id objects.ID) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, filepath.FromSlash(key)))
	if err != nil {
		return nil, err
	}
	return b, verify(key, id, b)
}

// verify checks bytes against their name: an observation is named by the
// BLAKE3 of its bytes, an event by its id (the BLAKE3 of its data).
func verify(key string, id objects.ID, b []byte) error {
	if strings.HasPrefix(key, "events/") {
		e, err := DecodeEvent(b)
		if err != nil {
			return fmt.Errorf("%w: %s: %v", ErrCorrupt, key, err)
		}
		if e.ID != id.String() {
			return fmt.Errorf("%w: %s holds event %s", ErrCorrupt, key, e.ID)
		}
		return nil
	}
	if objects.Hash(b) != id {
		return fmt.Errorf("%w: %s does not hash to its name", ErrCorrupt, key)
	}
	return nil
}

// Stored is an observation with its id.
type Stored struct {
	ID objects.ID
	*Observation
}

// List returns the observations of model, oldest first by window end, then
// by recording time, then by id. A file that is corrupt or not an observation
// of model is an error naming it: monitoring must not judge on damaged data.
func (s *Store) List(model string) ([]Stored, error) {
	dir := filepath.Join(s.dir, "observations", model)
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Stored
	for _, e := range ents {
		h, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || e.IsDir() {
			continue
		}
		id, err := objects.ParseHex(h)
		if err != nil {
			continue // not ours (an editor's backup, a temp file)
		}
		b, err := s.read(obsKey(model, id), id)
		if err != nil {
			return nil, err
		}
		o, err := Decode(b)
		if err != nil {
			return nil, fmt.Errorf("observation %s: %w", id.Short(), err)
		}
		if o.Model != model {
			return nil, fmt.Errorf("%w: observation %s is of model %s, stored under %s", ErrCorrupt, id.Short(), o.Model, model)
		}
		out = append(out, Stored{ID: id, Observation: o})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Window.End != b.Window.End {
			return a.Window.End < b.Window.End
		}
		if a.RecordedAt != b.RecordedAt {
			return a.RecordedAt < b.RecordedAt
		}
		return bytes.Compare(a.ID[:], b.ID[:]) < 0
	})
	return out, nil
}

// Event reads a stored event by id.
func (s *Store) Event(id objects.ID) (*Event, error) {
	b, err := s.read(eventKey(id), id)
	if err != nil {
		return nil, err
	}
	return DecodeEvent(b)
}

// Blobs is what syncing needs from a remote: the CLI adapts a remote.Remote
// to it (governance never imports remote). Keys are relative to the remote's
// root and always start with RemotePrefix.
type Blobs interface {
	// List calls fn with every key under prefix.
	List(ctx context.Context, prefix string, fn func(key string) error) error
	// Get returns the whole object.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// Put stores the object atomically.
	Put(ctx context.Context, key string, data []byte) error
}

// SyncResult counts the files a sync copied.
type SyncResult struct {
	Sent     int `json:"sent"`
	Received int `json:"received"`
}

// localKeys lists the keys (relative to the store) of every file it holds.
func (s *Store) localKeys() (map[string]objects.ID, error) {
	out := map[string]objects.ID{}
	err := filepath.WalkDir(s.dir, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && p == s.dir {
			return fs.SkipAll
		}
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(s.dir, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if id, ok := parseKey(key); ok {
			out[key] = id
		}
		return nil
	})
	return out, err
}

// parseKey accepts only the two layouts above, so nothing else is ever sent
// or written.
func parseKey(key string) (objects.ID, bool) {
	parts := strings.Split(key, "/")
	var name string
	switch {
	case len(parts) == 3 && parts[0] == "observations" && parts[1] != "" && parts[1] != "." && parts[1] != "..":
		name = parts[2]
	case len(parts) == 2 && parts[0] == "events":
		name = parts[1]
	default:
		return objects.ID{}, false
	}
	h, ok := strings.CutSuffix(name, ".json")
	if !ok {
		return objects.ID{}, false
	}
	id, err := objects.ParseHex(h)
	return id, err == nil
}

// Push sends the files the remote lacks. It lists the remote only when there
// is something local to send.
func (s *Store) Push(ctx context.Context, b Blobs) (SyncResult, error) {
	var res SyncResult
	local, err := s.localKeys()
	if err != nil || len(local) == 0 {
		return res, err
	}
	have := map[string]bool{}
	if err := b.List(ctx, RemotePrefix, func(k string) error {
		have[strings.TrimPrefix(k, RemotePrefix)] = true
		return nil
	}); err != nil {
		return res, err
	}
	keys := make([]string, 0, len(local))
	for k := range local {
		if !have[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		data, err := s.read(k, local[k])
		if err != nil {
			return res, err
		}
		if err := b.Put(ctx, RemotePrefix+k, data); err != nil {
			return res, fmt.Errorf("push %s: %w", k, err)
		}
		res.Sent++
	}
	return res, nil
}

// Pull fetches the observations of model ("" = every model) and every event
// that this store lacks, verifying each against its name and decoding it
// before it is kept.
func (s *Store) Pull(ctx context.Context, b Blobs, model string) (SyncResult, error) {
	var res SyncResult
	local, err := s.localKeys()
	if err != nil {
		return res, err
	}
	var want []string
	prefixes := []string{RemotePrefix + "events/", RemotePrefix + "observations/"}
	if model != "" {
		prefixes[1] += model + "/"
	}
	for _, pre := range prefixes {
		if err := b.List(ctx, pre, func(k string) error {
			rel := strings.TrimPrefix(k, RemotePrefix)
			if _, ok := parseKey(rel); ok {
				if _, have := local[rel]; !have {
					want = append(want, rel)
				}
			}
			return nil
		}); err != nil {
			return res, err
		}
	}
	sort.Strings(want)
	for _, k := range want {
		id, _ := parseKey(k)
		rc, err := b.Get(ctx, RemotePrefix+k)
		if err != nil {
			return res, fmt.Errorf("fetch %s: %w", k, err)
		}
		data, err := io.ReadAll(io.LimitReader(rc, MaxObservationSize+1))
		rc.Close()
		if err != nil {
			return res, fmt.Errorf("fetch %s: %w", k, err)
		}
		if err := verify(k, id, data); err != nil {
			return res, fmt.Errorf("fetch from the remote: %w", err)
		}
		if !strings.HasPrefix(k, "events/") {
			var o *Observation
			if o, err = Decode(data); err == nil && "observations/"+o.Model+"/"+path.Base(k) != k {
				err = fmt.Errorf("%w: %s holds an observation of %s", ErrCorrupt, k, o.Model)
			}
		}
		if err != nil {
			return res, fmt.Errorf("fetch %s: %w", k, err)
		}
		if err := s.write(k, data); err != nil {
			return res, err
		}
		res.Received++
	}
	return res, nil
}
