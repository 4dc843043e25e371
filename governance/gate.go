package governance

// The gate: the facts a policy decision depends on, gathered into the policy's
// input document (BuildInput); the Gate that `trove promote` installs
// (PolicyGate); the files it reads (ReadGateConfig); the staged manifests a
// pre-commit check evaluates (StagedArtifacts); and policy fixtures, input
// documents with the decision expected of them (ParsePolicyFixture).
//
// Evaluation itself is package policy's, and pure. Everything impure is here,
// and only what the repository holds: manifests, tags, approvals, git history.
// What lies outside it (whether the blobs are on the remote) comes in through
// BuildOptions, gathered by the caller.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"go.yaml.in/yaml/v3"

	"github.com/trove-dev/trove/governance/policy"
	tsign "github.com/trove-dev/trove/governance/sign"
	"github.com/trove-dev/trove/manifest"
	"github.com/trove-dev/trove/objects"
)

// gatePolicyFile is the policy, relative to the repository root. Like the
// trust files (AllowedSignersFile, RolesFile) it is committed: changing what is
// gated is a reviewed commit.
const gatePolicyFile = manifest.Dir + "/policy.yaml"

// DefaultProtectedBranches are the branches whose history counts as protected
// (lineage code.on_protected_branch) when none are configured.
var DefaultProtectedBranches = []string{"main", "master"}

// GateConfig is what a gate reads from the repository's .trove directory.
type GateConfig struct {
	// Policy is .trove/policy.yaml, parsed; nil when the file does not exist:
	// then nothing is gated.
	Policy *policy.Policy
	// PolicyFile is the policy's repository-relative path, for messages.
	PolicyFile string
	// Allowed is .trove/allowed_signers; nil when absent (no approval's
	// signature can be valid).
	Allowed *tsign.AllowedSigners
	// Roles is .trove/roles.yaml; nil when absent (no one holds a role).
	Roles *tsign.Roles
}

// ErrGateConfig: a policy or trust file that cannot be read as a plain,
// committed file (a symlink, too large, unreadable).
var ErrGateConfig = errors.New("cannot read the gate's configuration")

// ReadGateConfig reads the policy, the allowed signers and the roles of the
// working tree, each as a plain file (never through a symlink). A missing file
// is not an error (see GateConfig); a malformed one is: *policy.ParseError
// (errors.Is policy.ErrInvalid, every problem with its line and column),
// tsign.ErrAllowedSigners, tsign.ErrRoles, or ErrGateConfig.
func ReadGateConfig(r *manifest.Repo) (*GateConfig, error) {
	cfg := &GateConfig{PolicyFile: gatePolicyFile}
	b, err := readTrustFile(r, gatePolicyFile, policy.MaxFileSize)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrGateConfig, err)
	default:
		if cfg.Policy, err = policy.Parse(gatePolicyFile, b); err != nil {
			return nil, err
		}
	}
	cfg.Allowed, err = ReadAllowedSigners(r)
	switch {
	case errors.Is(err, ErrNoAllowedSigners):
		cfg.Allowed = nil
	case errors.Is(err, tsign.ErrAllowedSigners):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrGateConfig, err)
	}
	cfg.Roles, err = ReadRoles(r)
	switch {
	case errors.Is(err, tsign.ErrRoles):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrGateConfig, err)
	}
	if cfg.Allowed != nil {
		cfg.Allowed.Roles = cfg.Roles
	}
	return cfg, nil
}

// BuildOptions say which artifact version BuildInput gathers the facts about,
// and bring the facts that lie outside the repository.
type BuildOptions struct {
	// The subject: Name and Version, a registered version (its manifest at the
	// registered commit); or Path, a tracked artifact as the working tree has it
	// (repository-relative, or relative to Cwd).
	Name    string
	Version string
	Path    string
	Cwd     string
	// Manifest, with a repository-relative Path, is the subject's manifest as
	// given instead of the working tree's (the staged one, for a pre-commit
	// check: see StagedArtifacts).
	Manifest *manifest.Manifest
	// TargetStage is the stage promoted to; "" when this is not a promotion.
	TargetStage string
	// Stages are the configured stages (.trove/config) in promotion order; nil:
	// DefaultStages. The policy's own stages, when it lists them, decide which
	// stage is the subject's current one.
	Stages []string
	// RemotePresent says whether every chunk of the subject is on the remote;
	// nil: not checked (a remote_present rule is then an error).
	RemotePresent *bool
	// CheckRemote, when set and RemotePresent is nil, is called with the
	// subject's manifest to learn it: the caller's adapter, since governance
	// never touches the network. A nil result means not checked.
	CheckRemote func(ctx context.Context, subject manifest.Tracked) (*bool, error)
	// Allowed and Roles check the approvals' signatures and grant their roles
	// (LoadApprovals); nil: no signature is valid, no one holds a role.
	Allowed *tsign.AllowedSigners
	Roles   *tsign.Roles
	// Policy gives the policy digest (and its stage order); nil: no policy.
	Policy *policy.Policy
	// ProtectedBranches name the branches whose history is protected: the code
	// commit is on_protected_branch when a local or remote-tracking branch of
	// one of these names contains it. Empty: DefaultProtectedBranches.
	ProtectedBranches []string
	// Now is the evaluation time; zero: the World's clock. It is truncated to
	// the second: the document records it, so a decision can be replayed.
	Now time.Time
	// PendingAt is when inputs that are not committed yet count as added: the
	// commit being made, for a pre-commit check. Zero: their added_at is
	// unknown (absent).
	PendingAt time.Time
	// Index and Registry, when set, are reused (build them once per command);
	// nil: BuildInput reads them.
	Index    *Index
	Registry *Registry
	// Warn, when set, hears about facts that could not be gathered (an input
	// or a stage holder whose manifest is not found). They are absent from the
	// document, never guessed.
	Warn func(msg string)
}

// BuildInput gathers every fact a policy decision about one artifact version
// depends on into the policy's input document (see package policy, "The input
// document"):
//
//   - subject: the manifest of NAME@VERSION at its registered commit, or of a
//     PATH in the working tree (or as given, BuildOptions.Manifest): name,
//     version, path, kind, digest, size, meta, metrics and lineage. A path
//     whose digest is a registered version of a model is that version (its
//     name, version, stage and author); otherwise the manifest's name, no
//     version.
//   - each lineage input: its manifest's kind, meta and profile (the version
//     the step read, at its code commit) and added_at, the time of the commit
//     that introduced that digest at that path (the author date the lineage
//     index records), or PendingAt for an input not committed yet.
//   - code: the commit, whether the tree was dirty, and on_protected_branch.
//   - current_stage: the highest of the stages the version holds, in the
//     policy's stage order (else the configured one); "" for none.
//   - stage_holder: the version holding the target stage now, with its digest,
//     metrics, inputs and eval_digest (its one input with role eval).
//   - approvals: the committed approvals of NAME@VERSION, checked at now
//     (LoadApprovalsDetailed); none for a path that is no registered version.
//   - remote_present, now, policy_digest, and author: the identity that
//     registered the version ("Name <email>"), or for an unregistered path the
//     author of the commit that recorded its manifest.
//
// The same repository state and options give the same document: lists are
// sorted (policy.Normalize), and nothing reads the clock but through Now or
// the World.
func BuildInput(ctx context.Context, r *manifest.Repo, w World, opt BuildOptions) (policy.Input, error) {
	b, err := newBuilder(ctx, r, opt)
	if err != nil {
		return policy.Input{}, err
	}
	now := opt.Now
	if now.IsZero() {
		now = w.now()
	}
	in := policy.Input{
		Now:           now.UTC().Truncate(time.Second),
		TargetStage:   opt.TargetStage,
		RemotePresent: opt.RemotePresent,
		Approvals:     []policy.Approval{},
	}
	if opt.Policy != nil && !opt.Policy.Digest.IsZero() {
		in.PolicyDigest = opt.Policy.Digest.String()
	}
	var subj subjectVersion
	switch {
	case opt.Name != "" && opt.Path == "" && opt.Manifest == nil:
		subj, err = b.registered(opt.Name, opt.Version)
	case opt.Path != "" && opt.Name == "":
		subj, err = b.atPath(opt.Path, opt.Cwd, opt.Manifest)
	default:
		err = fmt.Errorf("%w: give NAME@VERSION or a path, not both", ErrBadRef)
	}
	if err != nil {
		return policy.Input{}, err
	}
	m := subj.manifest
	in.Subject = policy.Subject{
		Name: subj.name, Version: subj.version, Path: subj.path, Kind: m.Kind, Digest: m.Digest.String(),
		Size: m.Size, Meta: m.Meta, Metrics: m.Metrics, Lineage: b.lineage(m.Lineage, subj.path),
	}
	in.Author = subj.author
	if subj.model != nil {
		in.CurrentStage = b.currentStage(subj.model, subj.version)
		in.StageHolder = b.stageHolder(subj.model, opt.TargetStage)
	}
	if subj.version != "" {
		// At the evaluation time, so that an approval's own expiry is judged.
		st, err := LoadApprovalsDetailed(ctx, r, opt.Allowed, opt.Roles, subj.name, subj.version, in.Now)
		if err != nil {
			return policy.Input{}, fmt.Errorf("approvals of %s@%s: %w", subj.name, subj.version, err)
		}
		in.Approvals = append(in.Approvals, PolicyApprovals(st)...)
	}
	if in.RemotePresent == nil && opt.CheckRemote != nil {
		p, err := opt.CheckRemote(ctx, manifest.Tracked{Path: subj.path, Manifest: m})
		if err != nil {
			return policy.Input{}, err
		}
		in.RemotePresent = p
	}
	return policy.Normalize(in), nil
}

// builder holds what one BuildInput reads once.
type builder struct {
	ctx       context.Context
	r         *manifest.Repo
	g         *git.Repository
	idx       *Index
	reg       *Registry
	opt       BuildOptions
	stages    []string // the configured stages
	order     []string // the stage order for current_stage
	protected map[string]bool
	onBranch  map[string]bool // commit -> on a protected branch
	tips      []*object.Commit
}

func newBuilder(ctx context.Context, r *manifest.Repo, opt BuildOptions) (*builder, error) {
	g, err := openGit(r.Root)
	if err != nil {
		return nil, err
	}
	b := &builder{ctx: ctx, r: r, g: g, idx: opt.Index, reg: opt.Registry, opt: opt, onBranch: map[string]bool{}}
	if b.idx == nil {
		if b.idx, err = BuildIndex(ctx, r); err != nil {
			return nil, err
		}
	}
	if b.reg == nil {
		if b.reg, err = readRegistry(g); err != nil {
			return nil, err
		}
	}
	b.stages = opt.Stages
	if len(b.stages) == 0 {
		b.stages = DefaultStages
	}
	b.order = b.stages
	if opt.Policy != nil && len(opt.Policy.Stages) > 0 {
		b.order = opt.Policy.Stages
	}
	branches := opt.ProtectedBranches
	if len(branches) == 0 {
		branches = DefaultProtectedBranches
	}
	b.protected = map[string]bool{}
	for _, br := range branches {
		b.protected[br] = true
	}
	return b, nil
}

func (b *builder) warn(format string, args ...any) {
	if b.opt.Warn != nil {
		b.opt.Warn(fmt.Sprintf(format, args...))
	}
}

// subjectVersion is the artifact version being decided about.
type subjectVersion struct {
	name, version, path, author string
	manifest                    *manifest.Manifest
	model                       *Model // nil: not a registered model
}

// registered resolves NAME@VERSION to its manifest at the registered commit.
func (b *builder) registered(name, version string) (subjectVersion, error) {
	if version == "" {
		return subjectVersion{}, fmt.Errorf("%w %q: name the version, NAME@VERSION", ErrBadRef, name)
	}
	v, err := ParseVersion(version)
	if err != nil {
		return subjectVersion{}, err
	}
	m, vi, err := b.reg.Resolve(Ref{Name: name, Version: v}, b.stages)
	if err != nil {
		return subjectVersion{}, err
	}
	man, err := b.manifestOf(vi)
	if err != nil {
		return subjectVersion{}, err
	}
	return subjectVersion{name: name, version: vi.Version, path: vi.Artifact, author: vi.By, manifest: man, model: m}, nil
}

// manifestOf reads the manifest a registered version names, at its commit.
func (b *builder) manifestOf(v *VersionInfo) (*manifest.Manifest, error) {
	if v.Artifact == "" {
		return nil, fmt.Errorf("%w: version %s was registered without a trove record (by GTO?): its artifact is unknown", ErrNotFound, v.Version)
	}
	ts, err := b.r.ManifestsAt(b.ctx, v.Commit, []string{v.Artifact})
	if err != nil {
		return nil, err
	}
	for _, t := range ts {
		if t.Path != v.Artifact {
			continue
		}
		if t.Err != nil {
			return nil, t.Err
		}
		if v.Digest != "" && t.Manifest.Digest.String() != v.Digest {
			return nil, fmt.Errorf("%w: version %s says digest %s, but %s at %s has %s", ErrBadRecord, v.Version, v.Digest, v.Artifact, short(v.Commit), t.Manifest.Digest)
		}
		return t.Manifest, nil
	}
	return nil, fmt.Errorf("%w: %s at %s, which version %s names", ErrNotFound, v.Artifact, short(v.Commit), v.Version)
}

// atPath reads a tracked artifact (or takes the manifest given) and finds the
// registered model and version it is, if any.
func (b *builder) atPath(p, cwd string, given *manifest.Manifest) (subjectVersion, error) {
	var rel string
	var man *manifest.Manifest
	if given != nil {
		rel, man = p, given
	} else {
		var err error
		if rel, err = b.r.Rel(cwd, strings.TrimSuffix(p, manifest.Ext)); err != nil {
			return subjectVersion{}, err
		}
		if man, err = b.r.ReadManifest(rel); err != nil {
			return subjectVersion{}, err
		}
	}
	s := subjectVersion{name: man.Name, path: rel, manifest: man}
	if given == nil {
		if loc, err := ResolvePath(b.r, b.idx, rel); err == nil && loc.Commit != "" {
			s.author = loc.Author
		}
	}
	// The registered version with this very content, if there is one: then the
	// path is that version, with its stages and approvals.
	digest := man.Digest.String()
	var named, other []*Model
	for _, n := range b.reg.Names() {
		m, err := b.reg.Model(n, time.Time{}, b.stages)
		if err != nil {
			continue
		}
		has := false
		for _, v := range m.Versions {
			has = has || v.Artifact == rel
		}
		switch {
		case n == man.Name:
			named = append(named, m)
		case has:
			other = append(other, m)
		}
	}
	for _, m := range slices.Concat(named, other) {
		var best *VersionInfo
		for i := range m.Versions {
			v := &m.Versions[i]
			if v.Artifact == rel && v.Digest == digest && !v.Unregistered && !v.Deprecated {
				best = v // versions are sorted: the greatest wins
			}
		}
		if best != nil {
			s.name, s.version, s.author, s.model = m.Name, best.Version, best.By, m
			return s, nil
		}
	}
	// Not registered as it is: compare with the model it belongs to, if clear.
	switch {
	case len(named) == 1:
		s.model = named[0]
	case len(named) == 0 && len(other) == 1:
		s.model = other[0]
		s.name = other[0].Name
	}
	return s, nil
}

// currentStage is the highest stage the version holds, in the stage order;
// a stage outside the order only when it holds none inside it.
func (b *builder) currentStage(m *Model, version string) string {
	if version == "" {
		return ""
	}
	best, bestAt := "", -1
	var outside []string
	for _, h := range m.Stages {
		if h.Version != version {
			continue
		}
		if i := slices.Index(b.order, h.Stage); i >= 0 {
			if i > bestAt {
				best, bestAt = h.Stage, i
			}
		} else {
			outside = append(outside, h.Stage)
		}
	}
	if best == "" && len(outside) > 0 {
		sort.Strings(outside)
		best = outside[0]
	}
	return best
}

// stageHolder describes the version that holds the target stage now.
func (b *builder) stageHolder(m *Model, stage string) *policy.StageHolder {
	if stage == "" {
		return nil
	}
	var ver string
	for _, h := range m.Stages {
		if h.Stage == stage {
			ver = h.Version
		}
	}
	if ver == "" {
		return nil
	}
	var vi *VersionInfo
	for i := range m.Versions {
		if m.Versions[i].Version == ver {
			vi = &m.Versions[i]
		}
	}
	h := &policy.StageHolder{Version: ver, Metrics: map[string]float64{}, Inputs: []policy.InputRef{}}
	if vi == nil {
		return h
	}
	h.Digest = vi.Digest
	man, err := b.manifestOf(vi)
	if err != nil {
		b.warn("the %s holder %s@%s: %v; its metrics and inputs are unknown", stage, m.Name, ver, err)
		return h
	}
	h.Digest = man.Digest.String()
	h.Metrics = man.Metrics
	if lin := b.lineage(man.Lineage, vi.Artifact); lin != nil {
		h.Inputs = lin.Inputs
		var evals []string
		for _, in := range lin.Inputs {
			if in.Role == "eval" {
				evals = append(evals, in.Digest)
			}
		}
		// Only an unambiguous eval input names the data the holder was judged on.
		if len(evals) == 1 {
			h.EvalDigest = evals[0]
		}
	}
	return h
}

// lineage converts a manifest's lineage, looking up each input's manifest.
func (b *builder) lineage(l *manifest.Lineage, of string) *policy.Lineage {
	if l == nil {
		return nil
	}
	out := &policy.Lineage{Inputs: []policy.InputRef{}}
	commit := ""
	if l.Code != nil {
		commit = l.Code.Commit
		out.Code = &policy.Code{Commit: l.Code.Commit, Dirty: l.Code.Dirty, OnProtectedBranch: b.onProtectedBranch(l.Code.Commit)}
	}
	out.Started, _ = time.Parse(time.RFC3339, l.Started)
	out.Ended, _ = time.Parse(time.RFC3339, l.Ended)
	for _, in := range l.Inputs {
		ref := policy.InputRef{Role: in.Role, Path: in.Path, Digest: in.Digest.String(), Kind: in.Kind, Meta: map[string]string{}}
		// The manifest the step read: at its code commit when that is known.
		loc, ok := b.idx.FindAt(in.Digest, in.Path, commit)
		if !ok && IsObservationPath(in.Path) {
			// A production observation: never in git, so nothing to warn about.
			out.Inputs = append(out.Inputs, ref)
			continue
		}
		if !ok {
			b.warn("%s: input %s (%s) is in no manifest of HEAD's history or the working tree; its meta, profile and added_at are unknown", of, in.Path, in.Digest.Short())
			out.Inputs = append(out.Inputs, ref)
			continue
		}
		if ref.Kind == "" {
			ref.Kind = loc.Manifest.Kind
		}
		if loc.Manifest.Meta != nil {
			ref.Meta = loc.Manifest.Meta
		}
		if p := loc.Manifest.Profile; p != nil {
			cols := make([]policy.Column, 0, len(p.Columns))
			for _, c := range p.Columns {
				cols = append(cols, policy.Column{Name: c.Name, Type: c.Type, Nulls: c.Nulls})
			}
			ref.Profile = &policy.Profile{Rows: p.Rows, Columns: cols}
		}
		// When the digest arrived: the oldest commit with it at that path.
		if first, ok := b.idx.Find(in.Digest, in.Path); ok && first.Commit != "" {
			ref.AddedAt = first.Time.UTC()
		} else {
			ref.AddedAt = b.opt.PendingAt
		}
		out.Inputs = append(out.Inputs, ref)
	}
	return out
}

// onProtectedBranch reports whether a protected branch (local or
// remote-tracking) contains the commit. A commit the history cannot reach
// (shallow clone, another repository) is not on one.
func (b *builder) onProtectedBranch(commit string) bool {
	if v, ok := b.onBranch[commit]; ok {
		return v
	}
	res := false
	if plumbing.IsHash(commit) {
		if c, err := b.g.CommitObject(plumbing.NewHash(commit)); err == nil {
			for _, tip := range b.branchTips() {
				if tip.Hash == c.Hash {
					res = true
					break
				}
				if ok, err := c.IsAncestor(tip); err == nil && ok {
					res = true
					break
				}
			}
		}
	}
	b.onBranch[commit] = res
	return res
}

func (b *builder) branchTips() []*object.Commit {
	if b.tips != nil {
		return b.tips
	}
	b.tips = []*object.Commit{}
	refs, err := b.g.References()
	if err != nil {
		return b.tips
	}
	seen := map[plumbing.Hash]bool{}
	_ = refs.ForEach(func(ref *plumbing.Reference) error {
		n := ref.Name()
		var branch string
		switch {
		case n.IsBranch():
			branch = n.Short()
		case n.IsRemote():
			_, branch, _ = strings.Cut(n.Short(), "/") // origin/main -> main
		default:
			return nil
		}
		if !b.protected[branch] || ref.Type() != plumbing.HashReference || seen[ref.Hash()] {
			return nil
		}
		seen[ref.Hash()] = true
		if c, err := b.g.CommitObject(ref.Hash()); err == nil {
			b.tips = append(b.tips, c)
		}
		return nil
	})
	sort.Slice(b.tips, func(i, j int) bool { return b.tips[i].Hash.String() < b.tips[j].Hash.String() })
	return b.tips
}

// GateOptions configure PolicyGate.
type GateOptions struct {
	// Build brings the policy, the trust files and the facts from outside the
	// repository; the subject, target stage and time are the proposal's.
	Build BuildOptions
	// Evaluated, when set, is given every input document and decision, allowed
	// or denied (the CLI prints the rules).
	Evaluated func(in policy.Input, d policy.Decision)
}

// PolicyGate returns the Gate that evaluates Build.Policy on every promotion:
// BuildInput for the proposed version and stage, at the proposal's time, then
// policy.Evaluate. A denial names the rules that failed; an allowance carries
// the whole decision (policy digest, input digest, evaluation time, every
// result) as the record's decision, canonical JSON (policy.Decision.JSON).
// Without a policy every promotion is allowed and nothing is attached.
func PolicyGate(r *manifest.Repo, w World, opt GateOptions) Gate {
	return func(ctx context.Context, p Proposal) (Decision, error) {
		if opt.Build.Policy == nil {
			return Decision{Allow: true}, nil
		}
		bo := opt.Build
		bo.Name, bo.Version, bo.Path, bo.Manifest = p.Name, p.Version.Version, "", nil
		bo.TargetStage, bo.Now = p.Stage, p.At
		if len(bo.Stages) == 0 {
			bo.Stages = p.Stages
		}
		in, err := BuildInput(ctx, r, w, bo)
		if err != nil {
			return Decision{}, err
		}
		d := policy.Evaluate(bo.Policy, in)
		if opt.Evaluated != nil {
			opt.Evaluated(in, d)
		}
		rec, err := d.JSON()
		if err != nil {
			return Decision{}, fmt.Errorf("encode the policy decision: %w", err)
		}
		if !d.Allowed {
			// The document goes with the refusal too: the audit chain keeps it.
			return Decision{Allow: false, Reason: "policy rules not met: " + strings.Join(FailedRules(d), ", "), Record: rec}, nil
		}
		return Decision{Allow: true, Record: rec}, nil
	}
}

// FailedRules lists the ids of the rules that deny a decision (fail or error),
// in the decision's order.
func FailedRules(d policy.Decision) []string {
	var out []string
	for _, r := range d.Results {
		if r.Status == policy.StatusFail || r.Status == policy.StatusError {
			out = append(out, r.Rule)
		}
	}
	return out
}

// StagedArtifacts returns the artifacts whose manifests git's index would
// commit differently from HEAD (added or changed), as staged, sorted by path:
// what a pre-commit check evaluates. A staged manifest that cannot be read is
// returned with Err set.
func StagedArtifacts(ctx context.Context, r *manifest.Repo) ([]manifest.Tracked, error) {
	g, err := openGit(r.Root)
	if err != nil {
		return nil, err
	}
	idx, err := g.Storer.Index()
	if err != nil {
		return nil, fmt.Errorf("read git index: %w", err)
	}
	var headTree *object.Tree
	if h, err := headHash(g); err != nil {
		return nil, err
	} else if !h.IsZero() {
		c, err := g.CommitObject(h)
		if err != nil {
			return nil, fmt.Errorf("read HEAD: %w", err)
		}
		if headTree, err = c.Tree(); err != nil {
			return nil, fmt.Errorf("read HEAD's tree: %w", err)
		}
	}
	var out []manifest.Tracked
	for _, e := range idx.Entries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n := e.Name
		base := path.Base(n)
		if !strings.HasSuffix(base, manifest.Ext) || len(base) == len(manifest.Ext) || strings.HasPrefix(n, manifest.Dir+"/") {
			continue
		}
		if headTree != nil {
			if he, err := headTree.FindEntry(n); err == nil && he.Hash == e.Hash {
				continue // unchanged
			}
		}
		rel := strings.TrimSuffix(n, manifest.Ext)
		t := manifest.Tracked{Path: rel}
		t.Manifest, t.Err = stagedManifest(g, e.Hash, rel)
		if t.Err != nil {
			t.Manifest = nil
		}
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

func stagedManifest(g *git.Repository, h plumbing.Hash, rel string) (*manifest.Manifest, error) {
	blob, err := g.BlobObject(h)
	if err != nil {
		return nil, fmt.Errorf("%s: read staged manifest: %w", rel, err)
	}
	if blob.Size > manifest.MaxManifestSize {
		return nil, fmt.Errorf("%s: %w: larger than %d bytes", rel, manifest.ErrInvalid, manifest.MaxManifestSize)
	}
	rd, err := blob.Reader()
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	data, err := io.ReadAll(io.LimitReader(rd, manifest.MaxManifestSize+1))
	if err != nil {
		return nil, err
	}
	m, err := manifest.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%s (staged): %w", rel, err)
	}
	if m.Path != path.Base(rel) {
		return nil, fmt.Errorf("%s (staged): %w: path %q does not match the manifest's name", rel, manifest.ErrInvalid, m.Path)
	}
	return m, nil
}

// PolicyFixture is an input document with the decision expected of it: a test
// of a policy, run by `trove policy test`. Its file is YAML or JSON:
//
//	name: no eval data, no production     # optional; default: the file name
//	policy: ../policy.yaml                # optional; relative to this file
//	input: {...}                          # the input document (package policy)
//	expect:
//	  allowed: false
//	  results: {lineage: fail, accuracy-floor: pass}   # rules not named: not checked
//
// An input without policy_digest (or "") is taken to be under the policy being
// tested, and so is an approval without one: fixtures outlive policy edits.
type PolicyFixture struct {
	Name   string
	Policy string // the policy file it names, relative to the fixture; "" for none
	Input  policy.Input
	Expect FixtureExpect
}

// FixtureExpect is the decision a fixture expects.
type FixtureExpect struct {
	Allowed bool                     `json:"allowed"`
	Results map[string]policy.Status `json:"results,omitempty"`
}

// ErrFixture: a policy fixture that cannot be read.
var ErrFixture = errors.New("invalid policy fixture")

// ParsePolicyFixture reads a fixture file (YAML, of which JSON is a subset).
// Unknown keys, in the fixture and in its input document, are errors.
func ParsePolicyFixture(name string, data []byte) (*PolicyFixture, error) {
	bad := func(n *yaml.Node, format string, args ...any) error {
		at := name
		if n != nil && n.Line > 0 {
			at = fmt.Sprintf("%s:%d:%d", name, n.Line, n.Column)
		}
		return fmt.Errorf("%w: %s: %s", ErrFixture, at, fmt.Sprintf(format, args...))
	}
	if len(data) > policy.MaxFileSize {
		return nil, bad(nil, "larger than %d bytes", policy.MaxFileSize)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, bad(nil, "%s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, bad(nil, "want a mapping with input and expect")
	}
	fields, err := fixtureFields(doc.Content[0], "", []string{"name", "description", "policy", "input", "expect"}, bad)
	if err != nil {
		return nil, err
	}
	f := &PolicyFixture{Name: filepath.Base(name)}
	for _, k := range []string{"name", "policy"} {
		if n := fields[k]; n != nil {
			if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
				return nil, bad(n, "%s: want a string", k)
			}
			if k == "name" {
				f.Name = n.Value
			} else {
				f.Policy = n.Value
			}
		}
	}
	in := fields["input"]
	if in == nil {
		return nil, bad(doc.Content[0], "missing input (the input document, as `trove policy input` prints it)")
	}
	if in.Kind != yaml.MappingNode {
		return nil, bad(in, "input: want the input document, a mapping")
	}
	var raw any
	if err := in.Decode(&raw); err != nil {
		return nil, bad(in, "input: %v", err)
	}
	js, err := json.Marshal(jsonable(raw))
	if err != nil {
		return nil, bad(in, "input: %v", err)
	}
	jd := json.NewDecoder(bytes.NewReader(js))
	jd.DisallowUnknownFields()
	if err := jd.Decode(&f.Input); err != nil {
		msg := strings.TrimPrefix(err.Error(), "json: ")
		at := in
		if key, ok := strings.CutPrefix(msg, "unknown field "); ok {
			if k := findKey(in, strings.Trim(key, `"`)); k != nil {
				at = k
			}
		}
		return nil, bad(at, "input: %s", msg)
	}
	ex := fields["expect"]
	if ex == nil {
		return nil, bad(doc.Content[0], "missing expect (allowed: true or false; results: {RULE: STATUS})")
	}
	if ex.Kind != yaml.MappingNode {
		return nil, bad(ex, "expect: want a mapping with allowed and results")
	}
	ef, err := fixtureFields(ex, "expect: ", []string{"allowed", "results"}, bad)
	if err != nil {
		return nil, err
	}
	an := ef["allowed"]
	if an == nil || an.Kind != yaml.ScalarNode || an.Tag != "!!bool" {
		return nil, bad(ex, "expect.allowed: want true or false")
	}
	if err := an.Decode(&f.Expect.Allowed); err != nil {
		return nil, bad(an, "expect.allowed: %v", err)
	}
	f.Expect.Results = map[string]policy.Status{}
	if rn := ef["results"]; rn != nil {
		if rn.Kind != yaml.MappingNode {
			return nil, bad(rn, "expect.results: want a mapping of rule id to status")
		}
		for i := 0; i+1 < len(rn.Content); i += 2 {
			k, v := rn.Content[i], rn.Content[i+1]
			st := policy.Status(v.Value)
			switch st {
			case policy.StatusPass, policy.StatusFail, policy.StatusNotApplicable, policy.StatusWaived, policy.StatusError:
			default:
				return nil, bad(v, "expect.results.%s: status %q; want pass, fail, not_applicable, waived or error", k.Value, v.Value)
			}
			f.Expect.Results[k.Value] = st
		}
	}
	return f, nil
}

// findKey returns the first mapping key named key under n, depth first.
func findKey(n *yaml.Node, key string) *yaml.Node {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return n.Content[i]
			}
		}
	}
	for _, c := range n.Content {
		if k := findKey(c, key); k != nil {
			return k
		}
	}
	return nil
}

// fixtureFields returns a mapping's values by key, refusing unknown and
// repeated keys.
func fixtureFields(n *yaml.Node, what string, known []string, bad func(*yaml.Node, string, ...any) error) (map[string]*yaml.Node, error) {
	out := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if !slices.Contains(known, k.Value) {
			return nil, bad(k, "%sunknown key %q; want %s", what, k.Value, strings.Join(known, ", "))
		}
		if out[k.Value] != nil {
			return nil, bad(k, "%skey %q given twice", what, k.Value)
		}
		out[k.Value] = n.Content[i+1]
	}
	return out, nil
}

// jsonable turns what YAML decoded into what encoding/json can write: maps
// with string keys.
func jsonable(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = jsonable(e)
		}
		return x
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = jsonable(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = jsonable(e)
		}
		return x
	}
	return v
}

// FixtureResult is a fixture run: the decision, and how it differs from the
// expected one (Mismatches empty: the fixture passes).
type FixtureResult struct {
	Name       string          `json:"name"`
	File       string          `json:"file"`
	Pass       bool            `json:"pass"`
	Mismatches []string        `json:"mismatches"`
	Decision   policy.Decision `json:"decision"`
}

// Run evaluates p on the fixture's input and compares the decision with the
// expected one.
func (f *PolicyFixture) Run(p *policy.Policy) FixtureResult {
	in := f.Input
	pd := ""
	if !p.Digest.IsZero() {
		pd = p.Digest.String()
	}
	if in.PolicyDigest == "" {
		in.PolicyDigest = pd
	}
	in.Approvals = slices.Clone(in.Approvals)
	for i := range in.Approvals {
		if in.Approvals[i].PolicyDigest == "" {
			in.Approvals[i].PolicyDigest = pd
		}
	}
	d := policy.Evaluate(p, in)
	res := FixtureResult{Name: f.Name, Decision: d, Mismatches: []string{}}
	if d.Allowed != f.Expect.Allowed {
		res.Mismatches = append(res.Mismatches, fmt.Sprintf("allowed: got %v, want %v", d.Allowed, f.Expect.Allowed))
	}
	rules := make([]string, 0, len(f.Expect.Results))
	for rule := range f.Expect.Results {
		rules = append(rules, rule)
	}
	sort.Strings(rules)
	for _, rule := range rules {
		want := f.Expect.Results[rule]
		i := slices.IndexFunc(d.Results, func(r policy.Result) bool { return r.Rule == rule })
		switch {
		case i < 0:
			res.Mismatches = append(res.Mismatches, fmt.Sprintf("rule %s: the policy has no such rule (want %s)", rule, want))
		case d.Results[i].Status != want:
			got := d.Results[i]
			why := ""
			if got.Reason != "" {
				why = " (" + got.Reason + ")"
			} else if got.Observed != "" {
				why = fmt.Sprintf(" (observed %s, expected %s)", got.Observed, got.Expected)
			}
			res.Mismatches = append(res.Mismatches, fmt.Sprintf("rule %s: got %s, want %s%s", rule, got.Status, want, why))
		}
	}
	res.Pass = len(res.Mismatches) == 0
	return res
}

// InputDigest is the digest of an input document as a decision names it: the
// BLAKE3 of its canonical JSON.
func InputDigest(in policy.Input) (string, error) {
	b, err := policy.CanonicalJSON(in)
	if err != nil {
		return "", err
	}
	return objects.Hash(b).String(), nil
}
