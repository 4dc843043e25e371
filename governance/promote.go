package governance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"golang.org/x/crypto/ssh"

	"github.com/trove-dev/trove/manifest"
)

// DefaultStages are the stages, in promotion order, when .trove/config names
// none.
var DefaultStages = []string{"dev", "staging", "production"}

// Stages returns the configured stages (manifest.Config.Stages) or
// DefaultStages, checking each name.
func Stages(cfg *manifest.Config) ([]string, error) {
	if cfg == nil || len(cfg.Stages) == 0 {
		return append([]string(nil), DefaultStages...), nil
	}
	seen := map[string]bool{}
	for _, s := range cfg.Stages {
		if !ValidStage(s) {
			return nil, fmt.Errorf("%s/config: %w: stage %q: use lowercase letters, digits and '-'", manifest.Dir, manifest.ErrConfig, s)
		}
		if seen[s] {
			return nil, fmt.Errorf("%s/config: %w: stage %q is listed twice", manifest.Dir, manifest.ErrConfig, s)
		}
		seen[s] = true
	}
	return append([]string(nil), cfg.Stages...), nil
}

// Ref names a model, or one version of it: NAME (its latest version),
// NAME@vX.Y.Z (or NAME@X.Y.Z), NAME@latest, or NAME#STAGE (the version holding
// the stage now).
type Ref struct {
	Name    string
	Version string // "" with Stage set, or for the latest
	Stage   string
}

// ParseRef reads a model reference.
func ParseRef(s string) (Ref, error) {
	if name, st, ok := strings.Cut(s, "#"); ok {
		if !ValidModelName(name) || !ValidStage(st) {
			return Ref{}, fmt.Errorf("%w %q: want NAME#STAGE", ErrBadRef, s)
		}
		return Ref{Name: name, Stage: st}, nil
	}
	name, v, ok := strings.Cut(s, "@")
	if !ValidModelName(name) {
		return Ref{}, fmt.Errorf("%w %q: want NAME or NAME@VERSION", ErrBadRef, s)
	}
	if !ok || v == "latest" {
		return Ref{Name: name}, nil
	}
	ver, err := ParseVersion(v)
	if err != nil {
		return Ref{}, fmt.Errorf("%w %q: %v", ErrBadRef, s, err)
	}
	return Ref{Name: name, Version: ver}, nil
}

func (r Ref) String() string {
	switch {
	case r.Stage != "":
		return r.Name + "#" + r.Stage
	case r.Version != "":
		return r.Name + "@" + r.Version
	}
	return r.Name
}

// Resolve returns the version a reference names in the model as of now.
// Unknown models and versions are ErrUnknownModel and ErrUnknownVersion; a
// reference to a version GTO never registered is ErrUnknownVersion.
func (reg *Registry) Resolve(ref Ref, stages []string) (*Model, *VersionInfo, error) {
	m, err := reg.Model(ref.Name, time.Time{}, stages)
	if err != nil {
		return nil, nil, err
	}
	want := ref.Version
	switch {
	case ref.Stage != "":
		for _, h := range m.Stages {
			if h.Stage == ref.Stage {
				want = h.Version
			}
		}
		if want == "" {
			return m, nil, fmt.Errorf("%w: no version of %s is in %s", ErrUnknownVersion, ref.Name, ref.Stage)
		}
	case want == "":
		want = m.Latest
		if want == "" {
			return m, nil, fmt.Errorf("%w: %s has no version that is not deprecated", ErrUnknownVersion, ref.Name)
		}
	}
	for i := range m.Versions {
		if v := &m.Versions[i]; v.Version == want && !v.Unregistered {
			return m, v, nil
		}
	}
	return m, nil, fmt.Errorf("%w %s@%s", ErrUnknownVersion, ref.Name, want)
}

// TagResult is what a registry action created.
type TagResult struct {
	Tag    string `json:"tag"`
	Commit string `json:"commit"`
	Record Record `json:"record"`
	// SignedBy is the SHA256 fingerprint of the SSH key that signed the tag;
	// empty for an unsigned tag.
	SignedBy string `json:"signed_by,omitempty"`
	// Audit is the entry appended to the audit chain (AuditRef) for the tag.
	Audit *AuditAppended `json:"audit,omitempty"`
}

// RegisterOptions configure Register.
type RegisterOptions struct {
	Name    string // the model's registry name
	Version string // vX.Y.Z; empty: Bump from the greatest registered version
	Bump    string // major, minor or patch (default patch; a first version is v0.0.1)
	// Path selects the artifact (repository-relative, or relative to Cwd);
	// empty: the artifact whose manifest name is Name.
	Path    string
	Cwd     string
	Message string
}

// Register registers a version of a model: an annotated tag NAME@vX.Y.Z on
// HEAD, whose record names the artifact's path, digest and HEAD as the manifest
// commit. The artifact must be committed at HEAD as it is in the working tree
// (manifest unchanged, data not modified). A version that exists, or a HEAD
// already registered for the model, is ErrVersionExists.
func Register(ctx context.Context, r *manifest.Repo, w World, opt RegisterOptions) (*TagResult, error) {
	if !ValidModelName(opt.Name) {
		return nil, fmt.Errorf("%w %q: use letters, digits, '.', '_' and '-'", ErrBadRef, opt.Name)
	}
	g, err := openGit(r.Root)
	if err != nil {
		return nil, err
	}
	head, err := headHash(g)
	if err != nil {
		return nil, err
	}
	if head.IsZero() {
		return nil, fmt.Errorf("%w: %w", ErrNotRegistrable, ErrNoCommit)
	}
	rel, m, err := findAtHead(ctx, r, head.String(), opt)
	if err != nil {
		return nil, err
	}
	if err := checkCommitted(ctx, r, rel, m); err != nil {
		return nil, err
	}
	reg, err := readRegistry(g)
	if err != nil {
		return nil, err
	}
	var greatest string
	for _, e := range reg.Events {
		if e.Name != opt.Name || e.Action != ActionRegister {
			continue
		}
		if greatest == "" || CompareVersions(e.Version, greatest) > 0 {
			greatest = e.Version
		}
		if e.Commit == head.String() {
			return nil, fmt.Errorf("%w: HEAD (%s) is already registered as %s@%s", ErrVersionExists, short(head.String()), opt.Name, e.Version)
		}
	}
	version := opt.Version
	switch {
	case version != "" && opt.Bump != "":
		return nil, fmt.Errorf("%w: give a version or a bump, not both", ErrBadVersion)
	case version != "":
		if version, err = ParseVersion(version); err != nil {
			return nil, err
		}
	default:
		part := opt.Bump
		if part == "" {
			part = BumpPatch
		}
		if version, err = BumpVersion(greatest, part); err != nil {
			return nil, err
		}
	}
	tn := TagName{Name: opt.Name, Action: ActionRegister, Version: version}
	if reg.tags[tn.String()] {
		return nil, fmt.Errorf("%w: %s (the tag exists)", ErrVersionExists, tn)
	}
	for _, e := range reg.Events {
		if e.Name == opt.Name && e.Action == ActionRegister && e.Version == version {
			return nil, fmt.Errorf("%w: %s@%s", ErrVersionExists, opt.Name, version)
		}
	}
	id, err := identity(g, w)
	if err != nil {
		return nil, err
	}
	now := w.now()
	rec := Record{
		Trove: RecordFormat, Action: ActionRegister, Name: opt.Name, Version: version,
		Artifact: rel, Digest: m.Digest.String(), ManifestCommit: head.String(),
		At: stamp(now), By: id.String(), Message: opt.Message,
	}
	return createTag(ctx, r, g, w, tn, head, id, now, rec)
}

// findAtHead finds the artifact to register among HEAD's manifests.
func findAtHead(ctx context.Context, r *manifest.Repo, head string, opt RegisterOptions) (string, *manifest.Manifest, error) {
	ts, err := r.ManifestsAt(ctx, head, nil)
	if err != nil {
		return "", nil, err
	}
	if opt.Path != "" {
		rel, err := r.Rel(opt.Cwd, strings.TrimSuffix(opt.Path, manifest.Ext))
		if err != nil {
			return "", nil, err
		}
		for _, t := range ts {
			if t.Path == rel {
				if t.Err != nil {
					return "", nil, t.Err
				}
				return rel, t.Manifest, nil
			}
		}
		if _, err := r.ReadManifest(rel); err == nil {
			return "", nil, fmt.Errorf("%w: %s is tracked but its manifest is not committed: commit it first", ErrNotRegistrable, rel)
		}
		return "", nil, fmt.Errorf("%w: %s is not tracked at HEAD", ErrNotFound, rel)
	}
	var found []manifest.Tracked
	for _, t := range ts {
		if t.Err == nil && t.Manifest.Name == opt.Name {
			found = append(found, t)
		}
	}
	switch len(found) {
	case 0:
		if ws, err := r.List(ctx, nil); err == nil {
			for _, t := range ws {
				if t.Err == nil && t.Manifest.Name == opt.Name {
					return "", nil, fmt.Errorf("%w: %s (named %s) is not committed: commit its manifest first", ErrNotRegistrable, t.Path, opt.Name)
				}
			}
		}
		return "", nil, fmt.Errorf("%w: no artifact named %q is committed at HEAD", ErrNotFound, opt.Name)
	case 1:
		return found[0].Path, found[0].Manifest, nil
	}
	var paths []string
	for _, t := range found {
		paths = append(paths, t.Path)
	}
	return "", nil, fmt.Errorf("%w: %d artifacts are named %q (%s): choose one with --path", ErrNotRegistrable, len(found), opt.Name, strings.Join(paths, ", "))
}

// checkCommitted refuses an artifact whose working-tree manifest or data
// differs from what HEAD records: the registered version must be what the
// commit says. Data that is merely absent (not pulled) is fine.
func checkCommitted(ctx context.Context, r *manifest.Repo, rel string, atHead *manifest.Manifest) error {
	cur, err := r.ReadManifest(rel)
	if err != nil {
		return fmt.Errorf("%w: %s: its manifest in the working tree: %w", ErrNotRegistrable, rel, err)
	}
	a, errA := manifest.Encode(cur)
	b, errB := manifest.Encode(atHead)
	if errA != nil || errB != nil || !bytes.Equal(a, b) {
		return fmt.Errorf("%w: %s: its manifest differs from HEAD's (uncommitted): commit it first", ErrNotRegistrable, rel)
	}
	st, err := r.Status(ctx, manifest.StatusOptions{Cwd: r.Root, Paths: []string{rel}})
	if err != nil {
		return err
	}
	for _, e := range st {
		if e.Path == rel && e.State != manifest.StateOK && e.State != manifest.StateMissing {
			return fmt.Errorf("%w: %s is %s: add and commit it, or restore it with trove checkout", ErrNotRegistrable, rel, e.State)
		}
	}
	return nil
}

// createTag writes the annotated tag with the record as its message, SSH-signed
// when w says so (see signing.go).
func createTag(ctx context.Context, r *manifest.Repo, g *git.Repository, w World, tn TagName, target plumbing.Hash, id Identity, now time.Time, rec Record) (*TagResult, error) {
	msg, err := EncodeRecord(&rec)
	if err != nil {
		return nil, err
	}
	signer, done, err := tagSigner(ctx, g, w)
	if err != nil {
		return nil, fmt.Errorf("sign tag %s: %w", tn, err)
	}
	defer done()
	tagger := object.Signature{Name: id.Name, Email: id.Email, When: now}
	if signer != nil {
		err = writeSignedTag(g, tn.String(), target, tagger, string(msg), signer)
	} else {
		_, err = g.CreateTag(tn.String(), target, &git.CreateTagOptions{Tagger: &tagger, Message: string(msg)})
	}
	if errors.Is(err, git.ErrTagExists) {
		return nil, fmt.Errorf("%w: the tag %s exists", ErrVersionExists, tn)
	}
	if err != nil {
		return nil, fmt.Errorf("create tag %s: %w", tn, err)
	}
	res := &TagResult{Tag: tn.String(), Commit: target.String(), Record: rec}
	if signer != nil {
		res.SignedBy = ssh.FingerprintSHA256(signer.PublicKey())
	}
	// The tag and its audit entry are two writes: a tag without an entry is
	// what `trove audit verify` reports, so the error says so.
	if res.Audit, err = appendTagAudit(ctx, r, g, w, res, id, msg, signer); err != nil {
		return res, fmt.Errorf("the tag %s was written but not recorded in %s (trove audit verify will report it): %w", tn, AuditRef, err)
	}
	return res, nil
}

// Proposal is a promotion about to happen, as a Gate sees it.
type Proposal struct {
	Name    string
	Version *VersionInfo
	Stage   string
	Stages  []string // the configured stages, in order
	// Current holds the stage now (Version empty when no one does).
	Current StageHolder
	Model   *Model
	By      Identity
	At      time.Time
}

// Decision is a Gate's verdict. Record, when set, is written in the promotion's
// record as "decision" (the policy decision document); for a refusal, it is
// kept in the audit chain beside the denial's entry.
type Decision struct {
	Allow  bool
	Reason string
	Record json.RawMessage
}

// Gate decides whether a promotion may happen. It is the hook point of the
// governance policy: the evaluator runs here, after every registry check passed
// and before the tag is created. A nil Gate allows every promotion.
type Gate func(ctx context.Context, p Proposal) (Decision, error)

// PromoteOptions configure Promote.
type PromoteOptions struct {
	Ref     Ref      // NAME@VERSION
	Stage   string   // target stage
	Stages  []string // configured stages (Stages); the target must be one
	Message string
	// Gate is where a policy decision is attached (see Gate); nil: no gate.
	Gate Gate
}

// Promote assigns a stage to a version: an annotated tag NAME#STAGE#N on the
// version's commit, N one more than the greatest counter of the model's tags.
// The version must be registered and not deprecated, the stage configured and
// not already held by that version. Then the Gate, if any, decides: a denial is
// ErrDenied and no tag is written; an allowance's Record is kept in the
// promotion record.
func Promote(ctx context.Context, r *manifest.Repo, w World, opt PromoteOptions) (*TagResult, error) {
	if opt.Ref.Version == "" {
		return nil, fmt.Errorf("%w %q: name the version to promote, NAME@VERSION", ErrBadRef, opt.Ref)
	}
	known := false
	for _, s := range opt.Stages {
		known = known || s == opt.Stage
	}
	if !known {
		return nil, fmt.Errorf("%w %q: the stages are %s", ErrUnknownStage, opt.Stage, strings.Join(opt.Stages, ", "))
	}
	g, err := openGit(r.Root)
	if err != nil {
		return nil, err
	}
	reg, err := readRegistry(g)
	if err != nil {
		return nil, err
	}
	m, v, err := reg.Resolve(opt.Ref, opt.Stages)
	if err != nil {
		return nil, err
	}
	if v.Deprecated {
		return nil, fmt.Errorf("%s@%s is %w", opt.Ref.Name, v.Version, ErrDeprecated)
	}
	var cur StageHolder
	for _, h := range m.Stages {
		if h.Stage == opt.Stage {
			cur = h
		}
	}
	if cur.Version == v.Version {
		return nil, fmt.Errorf("%s@%s is %w %s (since %s)", opt.Ref.Name, v.Version, ErrAlreadyInStage, opt.Stage, cur.Since)
	}
	id, err := identity(g, w)
	if err != nil {
		return nil, err
	}
	now := w.now()
	rec := Record{
		Trove: RecordFormat, Action: ActionAssign, Name: opt.Ref.Name, Version: v.Version, Stage: opt.Stage,
		Artifact: v.Artifact, Digest: v.Digest, At: stamp(now), By: id.String(), Message: opt.Message,
	}
	if v.Artifact != "" {
		rec.ManifestCommit = v.Commit
	}
	// The hook point: a policy decision is taken, and attached, here.
	if opt.Gate != nil {
		d, err := opt.Gate(ctx, Proposal{Name: opt.Ref.Name, Version: v, Stage: opt.Stage, Stages: opt.Stages, Current: cur, Model: m, By: id, At: now})
		if err != nil {
			return nil, err
		}
		if !d.Allow {
			denied := fmt.Errorf("%w: %s@%s to %s: %s", ErrDenied, opt.Ref.Name, v.Version, opt.Stage, d.Reason)
			// A refusal is a governance act too: the chain keeps it, with the
			// decision, so that attempts are on the record.
			if len(d.Record) > 0 {
				p := Proposal{Name: opt.Ref.Name, Version: v, Stage: opt.Stage, By: id, At: now}
				if _, err := appendDenyAudit(ctx, r, g, w, p, d.Record); err != nil {
					return nil, fmt.Errorf("%w (and the denial was not recorded in %s: %v)", denied, AuditRef, err)
				}
			}
			return nil, denied
		}
		rec.Decision = d.Record
	}
	tn := TagName{Name: opt.Ref.Name, Action: ActionAssign, Stage: opt.Stage, Counter: reg.nextCounter(opt.Ref.Name)}
	return createTag(ctx, r, g, w, tn, plumbing.NewHash(v.Commit), id, now, rec)
}

// DeprecateOptions configure Deprecate.
type DeprecateOptions struct {
	Ref     Ref // NAME@VERSION deprecates one version; NAME the whole model
	Message string
}

// Deprecate marks a version deprecated (GTO's deregistration, NAME@vX.Y.Z!#N on
// the version's commit) or, for a reference without a version, the whole model
// (NAME@deprecated#N on its latest version's commit). A deprecated version
// leaves every stage it held and can no longer be promoted.
func Deprecate(ctx context.Context, r *manifest.Repo, w World, opt DeprecateOptions) (*TagResult, error) {
	g, err := openGit(r.Root)
	if err != nil {
		return nil, err
	}
	reg, err := readRegistry(g)
	if err != nil {
		return nil, err
	}
	m, err := reg.Model(opt.Ref.Name, time.Time{}, nil)
	if err != nil {
		return nil, err
	}
	id, err := identity(g, w)
	if err != nil {
		return nil, err
	}
	now := w.now()
	rec := Record{Trove: RecordFormat, Name: opt.Ref.Name, At: stamp(now), By: id.String(), Message: opt.Message}
	tn := TagName{Name: opt.Ref.Name, Counter: reg.nextCounter(opt.Ref.Name)}
	var target string
	switch {
	case opt.Ref.Stage != "":
		return nil, fmt.Errorf("%w %q: deprecate NAME@VERSION or NAME", ErrBadRef, opt.Ref)
	case opt.Ref.Version != "":
		_, v, err := reg.Resolve(opt.Ref, nil)
		if err != nil {
			return nil, err
		}
		if v.Deprecated {
			return nil, fmt.Errorf("%s@%s is already %w", opt.Ref.Name, v.Version, ErrDeprecated)
		}
		rec.Action, rec.Version, rec.Artifact, rec.Digest = ActionDeregister, v.Version, v.Artifact, v.Digest
		if v.Artifact != "" {
			rec.ManifestCommit = v.Commit
		}
		tn.Action, tn.Version, target = ActionDeregister, v.Version, v.Commit
	default:
		if m.Deprecated {
			return nil, fmt.Errorf("%s is already %w", opt.Ref.Name, ErrDeprecated)
		}
		rec.Action, tn.Action = ActionDeprecate, ActionDeprecate
		for _, v := range m.Versions {
			target = v.Commit // the greatest version's, sorted last
		}
	}
	return createTag(ctx, r, g, w, tn, plumbing.NewHash(target), id, now, rec)
}

// RegistryCommit returns the commit a registry reference names, for commands
// that take git revisions: NAME@vX.Y.Z, NAME@latest or NAME#STAGE gives the
// version's commit (git's own revision syntax cannot read these tag names). ok
// is false when arg is not such a reference; an unknown model or version is an
// error.
func RegistryCommit(root, arg string, stages []string) (commit string, ok bool, err error) {
	if !strings.ContainsAny(arg, "@#") {
		return "", false, nil
	}
	ref, perr := ParseRef(arg)
	if perr != nil {
		return "", false, nil
	}
	reg, err := ReadRegistry(root)
	if err != nil {
		return "", true, err
	}
	_, v, err := reg.Resolve(ref, stages)
	if err != nil {
		return "", true, err
	}
	return v.Commit, true, nil
}
