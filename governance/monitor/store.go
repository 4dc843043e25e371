package monitor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/trove-dev/trove/governance"
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
// to it (governance never imports remote), and the adapter retries transient
// errors as the pack transfers do (remote.Files). Keys are relative to the
// remote's root and always start with RemotePrefix.
type Blobs interface {
	// List calls fn with every key under prefix.
	List(ctx context.Context, prefix string, fn func(key string) error) error
	// Get returns the whole object (at most MaxObservationSize+1 bytes are
	// needed: a larger object is damaged).
	Get(ctx context.Context, key string) ([]byte, error)
	// Put stores the object atomically.
	Put(ctx context.Context, key string, data []byte) error
}

// SyncJobs is how many files a sync copies at once: they are small, so the
// cost is the round trip of each request.
const SyncJobs = 8

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
// is something local to send. Files are immutable and named by their content,
// so an interrupted push is finished by running it again.
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
	var sent atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(SyncJobs)
	for _, k := range keys {
		g.Go(func() error {
			data, err := s.read(k, local[k])
			if err != nil {
				return err
			}
			if err := b.Put(gctx, RemotePrefix+k, data); err != nil {
				return fmt.Errorf("push %s: %w", k, err)
			}
			sent.Add(1)
			return nil
		})
	}
	err = g.Wait()
	res.Sent = int(sent.Load())
	return res, err
}

// Pull fetches the observations of model ("" = every model) and every event
// that this store lacks, several at a time. Each file is verified against its
// name and decoded before it is kept (a damaged one is ErrCorrupt and never
// stored); what was kept stays kept when Pull fails, so running it again
// resumes.
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
	var got atomic.Int64
	// A damaged file is refused but does not stop the others: every good file
	// still arrives, whatever the order the workers meet them in.
	var badMu sync.Mutex
	var bad *fetchError
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(SyncJobs)
	for _, k := range want {
		g.Go(func() error {
			data, err := b.Get(gctx, RemotePrefix+k)
			if err != nil {
				return fmt.Errorf("fetch %s: %w", k, err)
			}
			if err := checkFetched(k, data); err != nil {
				badMu.Lock()
				if bad == nil || k < bad.key {
					bad = &fetchError{key: k, err: err}
				}
				badMu.Unlock()
				return nil
			}
			if err := s.write(k, data); err != nil {
				return err
			}
			got.Add(1)
			return nil
		})
	}
	err = g.Wait()
	if err == nil && bad != nil {
		err = fmt.Errorf("fetch from the remote: %w", bad)
	}
	res.Received = int(got.Load())
	return res, err
}

// fetchError is a fetched file refused as damaged; Pull reports the first by
// name so that the message does not depend on the workers' order.
type fetchError struct {
	key string
	err error
}

func (e *fetchError) Error() string { return e.err.Error() }
func (e *fetchError) Unwrap() error { return e.err }

// checkFetched accepts a fetched file only if its bytes match its name and it
// is what its place says: an event, or an observation of the model whose
// directory holds it.
func checkFetched(k string, data []byte) error {
	id, ok := parseKey(k)
	if !ok {
		return fmt.Errorf("%w: %s is not a monitoring file name", ErrCorrupt, k)
	}
	if len(data) > MaxObservationSize {
		return fmt.Errorf("%w: %s is larger than %d bytes", ErrCorrupt, k, MaxObservationSize)
	}
	if err := verify(k, id, data); err != nil {
		return err
	}
	if strings.HasPrefix(k, "events/") {
		return nil
	}
	o, err := Decode(data)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrCorrupt, k, err)
	}
	if "observations/"+o.Model+"/"+path.Base(k) != k {
		return fmt.Errorf("%w: %s holds an observation of %s", ErrCorrupt, k, o.Model)
	}
	return nil
}

// Errors of Find.
var (
	// ErrNoObservation: no stored observation has the id asked for.
	ErrNoObservation = errors.New("no such observation")
	// ErrAmbiguous: an id prefix that several observations share.
	ErrAmbiguous = errors.New("ambiguous observation id")
)

// MinPrefix is the fewest hex digits Find accepts (`trove observations`
// prints 12).
const MinPrefix = 8

// Find returns the stored observation (of any model) whose id is ref:
// "blake3:" and the 64 hex digits, or at least MinPrefix of them. A malformed
// ref is ErrInvalid, none ErrNoObservation, several ErrAmbiguous; the file is
// verified against its name (ErrCorrupt).
func (s *Store) Find(ref string) (Stored, error) {
	h, ok := strings.CutPrefix(ref, objects.IDPrefix)
	if !ok || len(h) < MinPrefix || len(h) > 64 || strings.Trim(h, "0123456789abcdef") != "" {
		return Stored{}, fmt.Errorf("%w: %q is not an observation id: want blake3: and at least %d lowercase hex digits, as `trove observations` prints it", ErrInvalid, ref, MinPrefix)
	}
	models, err := os.ReadDir(filepath.Join(s.dir, "observations"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Stored{}, err
	}
	var found []string
	for _, m := range models {
		if !m.IsDir() {
			continue
		}
		files, err := os.ReadDir(filepath.Join(s.dir, "observations", m.Name()))
		if err != nil {
			return Stored{}, err
		}
		for _, f := range files {
			if strings.HasPrefix(f.Name(), h) && strings.HasSuffix(f.Name(), ".json") {
				found = append(found, "observations/"+m.Name()+"/"+f.Name())
			}
		}
	}
	switch len(found) {
	case 0:
		return Stored{}, fmt.Errorf("%w %s in the local store", ErrNoObservation, ref)
	case 1:
	default:
		sort.Strings(found)
		return Stored{}, fmt.Errorf("%w %s: %d observations start with it (%s)", ErrAmbiguous, ref, len(found), strings.Join(found, ", "))
	}
	id, ok := parseKey(found[0])
	if !ok {
		return Stored{}, fmt.Errorf("%w %s in the local store", ErrNoObservation, ref)
	}
	b, err := s.read(found[0], id)
	if err != nil {
		return Stored{}, err
	}
	if err := checkFetched(found[0], b); err != nil {
		return Stored{}, err
	}
	o, _ := Decode(b)
	return Stored{ID: id, Observation: o}, nil
}

// LineagePath is where an observation is, relative to the top of the working
// tree: the path a lineage records for it (governance.ObservationDir).
func LineagePath(model string, id objects.ID) string {
	return governance.ObservationDir + model + "/" + id.Hex() + ".json"
}

// FromLineagePath reads a lineage input's path back into the observation's
// model and id.
func FromLineagePath(p string) (model string, id objects.ID, ok bool) {
	rest, ok := strings.CutPrefix(p, ".trove/store/monitor/")
	if !ok || !governance.IsObservationPath(p) {
		return "", objects.ID{}, false
	}
	id, ok = parseKey(rest)
	if !ok {
		return "", objects.ID{}, false
	}
	return strings.Split(rest, "/")[1], id, true
}

// Get reads a stored observation of model by id, verified against its name.
func (s *Store) Get(model string, id objects.ID) (*Observation, error) {
	k := obsKey(model, id)
	b, err := s.read(k, id)
	if err != nil {
		return nil, err
	}
	if err := checkFetched(k, b); err != nil {
		return nil, err
	}
	return Decode(b)
}
