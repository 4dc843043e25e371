package governance

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
)

// Event is one registry tag, read: an action on a model at a time by someone.
type Event struct {
	Tag     string `json:"tag"`
	Action  Action `json:"action"`
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	Stage   string `json:"stage,omitempty"`
	Counter int    `json:"counter,omitempty"`
	// Commit is the commit the tag points to.
	Commit string `json:"commit"`
	// At is the record's time, or the tagger date of a tag without a record.
	At      time.Time `json:"at"`
	By      string    `json:"by"`
	Message string    `json:"message,omitempty"`
	// Record is the trove record in the tag message; nil for tags GTO wrote.
	Record *Record `json:"record,omitempty"`
}

// Registry is every registry event of a repository, oldest first, with the
// warnings about tags that were ignored.
type Registry struct {
	Events []Event
	// Warnings name the tags that were ignored and why: tags in neither trove's
	// nor GTO's format, lightweight tags, records that are malformed or
	// contradict their tag. Such a tag is never guessed at.
	Warnings []string
	// counters is the greatest #N of each model over every tag whose name
	// parses, including ignored ones: a new tag must not reuse a number.
	counters map[string]int
	// tags is every tag name in the repository.
	tags map[string]bool
}

// NewRegistry orders events as ReadRegistry does (tests build registries from
// synthetic events).
func NewRegistry(events []Event) *Registry {
	reg := &Registry{Events: append([]Event(nil), events...), counters: map[string]int{}, tags: map[string]bool{}}
	for _, e := range reg.Events {
		reg.counters[e.Name] = max(reg.counters[e.Name], e.Counter)
		reg.tags[e.Tag] = true
	}
	sortEvents(reg.Events)
	return reg
}

// sortEvents orders by time, then counter (an untagged registration before the
// numbered assignments of the same second), then tag name.
func sortEvents(es []Event) {
	sort.SliceStable(es, func(i, j int) bool {
		a, b := es[i], es[j]
		if !a.At.Equal(b.At) {
			return a.At.Before(b.At)
		}
		if a.Counter != b.Counter {
			return a.Counter < b.Counter
		}
		return a.Tag < b.Tag
	})
}

// ReadRegistry reads the registry from the tags of the git repository at root
// (go-git; no git binary). Only annotated tags whose name is in GTO's format
// count; of those, a tag whose message is a trove record is read from the
// record, one whose message is free text (as GTO writes it) from its name,
// target and tagger.
func ReadRegistry(root string) (*Registry, error) {
	g, err := openGit(root)
	if err != nil {
		return nil, err
	}
	return readRegistry(g)
}

func readRegistry(g *git.Repository) (*Registry, error) {
	reg := &Registry{counters: map[string]int{}, tags: map[string]bool{}}
	iter, err := g.Tags()
	if err != nil {
		return nil, fmt.Errorf("list git tags: %w", err)
	}
	err = iter.ForEach(func(ref *plumbing.Reference) error {
		name := ref.Name().Short()
		reg.tags[name] = true
		tn, err := ParseTagName(name)
		if err != nil {
			reg.Warnings = append(reg.Warnings, fmt.Sprintf("tag %s ignored: not a registry tag (NAME@vX.Y.Z or NAME#STAGE#N)", name))
			return nil
		}
		reg.counters[tn.Name] = max(reg.counters[tn.Name], tn.Counter)
		if tn.Action == ActionCreate {
			return nil
		}
		ev, warn := readTag(g, ref, tn)
		if warn != "" {
			reg.Warnings = append(reg.Warnings, fmt.Sprintf("tag %s ignored: %s", name, warn))
			return nil
		}
		reg.Events = append(reg.Events, ev)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read git tags: %w", err)
	}
	sort.Strings(reg.Warnings)
	sortEvents(reg.Events)
	return reg, nil
}

// readTag reads one registry tag; a non-empty warning says why it is ignored.
func readTag(g *git.Repository, ref *plumbing.Reference, tn TagName) (Event, string) {
	tag, err := g.TagObject(ref.Hash())
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return Event{}, "a lightweight tag (registry tags are annotated: they carry who, when and why)"
	}
	if err != nil {
		return Event{}, fmt.Sprintf("cannot read the tag object: %v", err)
	}
	if tag.TargetType != plumbing.CommitObject {
		return Event{}, fmt.Sprintf("it points to a %s, not a commit", tag.TargetType)
	}
	ev := Event{
		Tag: ref.Name().Short(), Action: tn.Action, Name: tn.Name, Version: tn.Version, Stage: tn.Stage,
		Counter: tn.Counter, Commit: tag.Target.String(), At: tag.Tagger.When.UTC(),
		By: fmt.Sprintf("%s <%s>", tag.Tagger.Name, tag.Tagger.Email), Message: strings.TrimSpace(tag.Message),
	}
	rec, err := DecodeRecord(tag.Message)
	switch {
	case errors.Is(err, ErrNotRecord):
		return ev, "" // GTO's tag: the name, target and tagger say it all
	case err != nil:
		return Event{}, err.Error()
	}
	if err := rec.agrees(tn); err != nil {
		return Event{}, err.Error()
	}
	if rec.Action == ActionRegister && rec.ManifestCommit != ev.Commit {
		return Event{}, fmt.Sprintf("the record's manifest_commit %s is not the tagged commit %s", short(rec.ManifestCommit), short(ev.Commit))
	}
	at, _ := time.Parse(time.RFC3339, rec.At)
	ev.At, ev.By, ev.Message, ev.Record = at.UTC(), rec.By, rec.Message, rec
	if rec.Version != "" {
		ev.Version = rec.Version
	}
	return ev, ""
}

func short(h string) string { return h[:min(len(h), 10)] }

// Names returns the models that have registry events, sorted.
func (reg *Registry) Names() []string {
	seen := map[string]bool{}
	var out []string
	for _, e := range reg.Events {
		if !seen[e.Name] {
			seen[e.Name] = true
			out = append(out, e.Name)
		}
	}
	sort.Strings(out)
	return out
}

// nextCounter is the #N of the next tag of a model: one more than the greatest
// of any of its tags, as GTO numbers them.
func (reg *Registry) nextCounter(name string) int { return reg.counters[name] + 1 }

// VersionInfo is one version of a model.
type VersionInfo struct {
	Version string `json:"version"`
	Tag     string `json:"tag"`
	Commit  string `json:"commit"`
	// Artifact, Digest: what the trove record says was registered; empty for
	// a version GTO registered.
	Artifact     string   `json:"artifact,omitempty"`
	Digest       string   `json:"digest,omitempty"`
	RegisteredAt string   `json:"registered_at"`
	By           string   `json:"by"`
	Message      string   `json:"message,omitempty"`
	Deprecated   bool     `json:"deprecated,omitempty"`
	Stages       []string `json:"stages,omitempty"`
	// Unregistered: a commit that GTO assigned a stage without registering a
	// version; its "version" is the commit hash, as in GTO.
	Unregistered bool `json:"unregistered,omitempty"`
}

// StageSpan is one holding of a stage: Version held Stage from From until Until
// (empty: still holds it), assigned by Tag.
type StageSpan struct {
	Stage   string `json:"stage"`
	Version string `json:"version"`
	From    string `json:"from"`
	Until   string `json:"until,omitempty"`
	Tag     string `json:"tag"`
	By      string `json:"by"`
	Message string `json:"message,omitempty"`
	// EndedBy is the tag that ended the holding (the next assignment of the
	// stage, an unassignment or a deprecation).
	EndedBy string `json:"ended_by,omitempty"`

	from, until time.Time
}

// StageHolder is who held a stage at a moment; Version is empty when no one did.
type StageHolder struct {
	Stage   string `json:"stage"`
	Version string `json:"version,omitempty"`
	Since   string `json:"since,omitempty"`
	Tag     string `json:"tag,omitempty"`
	By      string `json:"by,omitempty"`
}

// Model is the registry's view of one model as of a moment.
type Model struct {
	Name string `json:"name"`
	// AsOf is the moment of the view (RFC 3339); events after it are ignored.
	AsOf       string        `json:"as_of"`
	Deprecated bool          `json:"deprecated,omitempty"`
	Latest     string        `json:"latest,omitempty"` // greatest version not deprecated
	Versions   []VersionInfo `json:"versions"`         // by semantic version
	Stages     []StageHolder `json:"stages"`           // configured order, then others
	History    []StageSpan   `json:"history"`          // by start time
	Events     []Event       `json:"events"`
	Warnings   []string      `json:"warnings,omitempty"`
}

// Model replays the events of one model up to asOf (inclusive) and returns the
// model as it was then: versions, stage holders, the history of every stage
// holding. stages gives the order of the stages to list (they are listed even
// when empty); stages seen in tags but not configured follow, sorted. The zero
// asOf means "everything". An unknown model is ErrUnknownModel.
//
// The rules, GTO's: a stage is held by one version at a time, the one most
// recently assigned; a version may hold several stages. Unassigning a stage
// empties it. Deprecating a version (NAME@vX.Y.Z!) removes it from every stage
// it holds and from "latest"; deprecating the model (NAME@deprecated) removes all.
func (reg *Registry) Model(name string, asOf time.Time, stages []string) (*Model, error) {
	var evs []Event
	for _, e := range reg.Events {
		if e.Name == name {
			evs = append(evs, e)
		}
	}
	if len(evs) == 0 {
		return nil, fmt.Errorf("%w %q", ErrUnknownModel, name)
	}
	m := &Model{Name: name, Versions: []VersionInfo{}, Stages: []StageHolder{}, History: []StageSpan{}, Events: []Event{}}
	if !asOf.IsZero() {
		m.AsOf = stamp(asOf)
	}
	versions := map[string]*VersionInfo{}
	byCommit := map[string]string{} // commit -> the version registered there last
	var order []string
	holders := map[string]int{} // stage -> index of its open span in m.History
	seenStage := map[string]bool{}
	closeSpan := func(stage string, e Event) {
		if i, ok := holders[stage]; ok {
			sp := &m.History[i]
			sp.until, sp.Until, sp.EndedBy = e.At, stamp(e.At), e.Tag
			delete(holders, stage)
		}
	}
	// Registrations by version, whenever they happened: a promotion names a
	// version that exists, even if the registering machine's clock was ahead.
	regs := map[string]Event{}
	regAt := map[string]string{} // commit -> version, from every registration
	for _, e := range evs {
		if e.Action == ActionRegister {
			if _, ok := regs[e.Version]; !ok {
				regs[e.Version] = e
				regAt[e.Commit] = e.Version
			}
		}
	}
	register := func(e Event) {
		v := &VersionInfo{Version: e.Version, Tag: e.Tag, Commit: e.Commit, RegisteredAt: stamp(e.At), By: e.By, Message: e.Message}
		if e.Record != nil {
			v.Artifact, v.Digest = e.Record.Artifact, e.Record.Digest
		}
		versions[e.Version] = v
		byCommit[e.Commit] = e.Version
		order = append(order, e.Version)
	}
	versionAt := func(e Event) (string, bool) {
		want := ""
		switch {
		case e.Record != nil && e.Record.Version != "":
			want = e.Record.Version
		default:
			if v, ok := byCommit[e.Commit]; ok {
				return v, true
			}
			want = regAt[e.Commit]
		}
		if _, ok := versions[want]; !ok && want != "" {
			if r, ok := regs[want]; ok {
				register(r)
			}
		}
		if e.Record != nil && e.Record.Version != "" {
			v, ok := versions[e.Record.Version]
			if !ok {
				m.Warnings = append(m.Warnings, fmt.Sprintf("tag %s ignored: version %s is not registered", e.Tag, e.Record.Version))
				return "", false
			}
			if v.Commit != e.Commit {
				m.Warnings = append(m.Warnings, fmt.Sprintf("tag %s ignored: it points to %s, but %s is registered at %s", e.Tag, short(e.Commit), v.Version, short(v.Commit)))
				return "", false
			}
			return v.Version, true
		}
		if v, ok := byCommit[e.Commit]; ok {
			return v, true
		}
		// GTO assigns stages to commits it never registered: the commit is the version.
		if _, ok := versions[e.Commit]; !ok {
			versions[e.Commit] = &VersionInfo{Version: e.Commit, Tag: e.Tag, Commit: e.Commit, RegisteredAt: stamp(e.At), By: e.By, Unregistered: true}
			order = append(order, e.Commit)
		}
		return e.Commit, true
	}
	for _, e := range evs {
		if !asOf.IsZero() && e.At.After(asOf) {
			break
		}
		m.Events = append(m.Events, e)
		switch e.Action {
		case ActionRegister:
			if v, dup := versions[e.Version]; dup {
				if v.Tag != e.Tag {
					m.Warnings = append(m.Warnings, fmt.Sprintf("tag %s ignored: %s is already registered", e.Tag, e.Version))
				}
				continue
			}
			register(e)
		case ActionDeregister:
			if r, ok := regs[e.Version]; ok && versions[e.Version] == nil {
				register(r) // registered by a machine whose clock ran ahead
			}
			v, ok := versions[e.Version]
			if !ok {
				m.Warnings = append(m.Warnings, fmt.Sprintf("tag %s ignored: %s is not registered", e.Tag, e.Version))
				continue
			}
			v.Deprecated = true
			for st, i := range holders {
				if m.History[i].Version == v.Version {
					closeSpan(st, e)
				}
			}
		case ActionDeprecate:
			m.Deprecated = true
			for _, v := range versions {
				v.Deprecated = true
			}
			for st := range holders {
				closeSpan(st, e)
			}
		case ActionAssign:
			ver, ok := versionAt(e)
			if !ok {
				continue
			}
			if versions[ver].Deprecated {
				m.Warnings = append(m.Warnings, fmt.Sprintf("tag %s ignored: %s is deprecated", e.Tag, ver))
				continue
			}
			closeSpan(e.Stage, e)
			m.History = append(m.History, StageSpan{Stage: e.Stage, Version: ver, From: stamp(e.At), Tag: e.Tag, By: e.By, Message: e.Message, from: e.At})
			holders[e.Stage] = len(m.History) - 1
			seenStage[e.Stage] = true
		case ActionUnassign:
			ver, ok := versionAt(e)
			if !ok {
				continue
			}
			if i, ok := holders[e.Stage]; ok && m.History[i].Version == ver {
				closeSpan(e.Stage, e)
			}
		}
	}
	for _, v := range order {
		m.Versions = append(m.Versions, *versions[v])
	}
	sort.SliceStable(m.Versions, func(i, j int) bool {
		a, b := m.Versions[i], m.Versions[j]
		if a.Unregistered != b.Unregistered {
			return a.Unregistered // GTO's commit "versions" before real ones
		}
		return CompareVersions(a.Version, b.Version) < 0
	})
	for _, v := range m.Versions {
		if !v.Deprecated && !v.Unregistered {
			m.Latest = v.Version
		}
	}
	// Holders at the end of the replay.
	open := map[string]StageSpan{}
	for _, sp := range m.History {
		if sp.Until == "" {
			open[sp.Stage] = sp
		}
	}
	var names []string
	listed := map[string]bool{}
	for _, s := range stages {
		if !listed[s] {
			listed[s] = true
			names = append(names, s)
		}
	}
	var extra []string
	for s := range seenStage {
		if !listed[s] {
			extra = append(extra, s)
		}
	}
	sort.Strings(extra)
	names = append(names, extra...)
	for _, s := range names {
		h := StageHolder{Stage: s}
		if sp, ok := open[s]; ok {
			h.Version, h.Since, h.Tag, h.By = sp.Version, sp.From, sp.Tag, sp.By
		}
		m.Stages = append(m.Stages, h)
	}
	for i := range m.Versions {
		for _, h := range m.Stages {
			if h.Version == m.Versions[i].Version {
				m.Versions[i].Stages = append(m.Versions[i].Stages, h.Stage)
			}
		}
	}
	return m, nil
}

// HoldersAt returns who held each stage at t, from a full history: the spans
// with From <= t < Until.
func HoldersAt(m *Model, t time.Time) []StageHolder {
	out := make([]StageHolder, 0, len(m.Stages))
	for _, s := range m.Stages {
		h := StageHolder{Stage: s.Stage}
		for _, sp := range m.History {
			if sp.Stage != s.Stage || sp.from.After(t) || (!sp.until.IsZero() && !t.Before(sp.until)) {
				continue
			}
			h.Version, h.Since, h.Tag, h.By = sp.Version, sp.From, sp.Tag, sp.By
		}
		out = append(out, h)
	}
	return out
}
