package report

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/trove-dev/trove/governance"
	"github.com/trove-dev/trove/governance/policy"
	"github.com/trove-dev/trove/manifest"
	"github.com/trove-dev/trove/objects"
)

// Files of .trove read by the report.
const (
	PolicyFile         = manifest.Dir + "/policy.yaml"
	AllowedSignersFile = manifest.Dir + "/allowed_signers"
	RolesFile          = manifest.Dir + "/roles.yaml"
)

// Meta keys a model's manifest may carry for the report's "intended use and
// limitations" section (trove add --meta intended_use=...).
const (
	MetaIntendedUse = "intended_use"
	MetaLimitations = "limitations"
)

// Options configure Build.
type Options struct {
	// Ref names the model version: NAME (its latest version), NAME@VERSION,
	// NAME@STAGE or NAME#STAGE (the version holding the stage now).
	Ref string
	// Stages are the configured stages, in promotion order (governance.Stages).
	Stages []string
	// Now is the report's time: GeneratedAt, and whether waivers have expired.
	Now time.Time
	// Generator names the program, "trove v1.2.3".
	Generator string
	// Rehash re-reads the bytes for the SHA-256 even when it is cached, which
	// also re-checks them against their BLAKE3.
	Rehash bool
	// InputSHA256 also computes the SHA-256 of the subject's direct inputs,
	// when their bytes are local.
	InputSHA256 bool
	// Audit is the transcript of `trove audit verify` on the repository
	// (governance.VerifyAuditEvidence and the content and lineage checks):
	// its checks close the report's verification transcript, so the report
	// and the verifier never disagree. nil: the transcript says it was not run.
	Audit *governance.AuditTranscript
}

// ParseRef reads NAME, NAME@VERSION, NAME@latest, NAME#STAGE and NAME@STAGE,
// where STAGE is one of stages (a version, v1.2.0 or 1.2.0, is never a stage
// name).
func ParseRef(s string, stages []string) (governance.Ref, error) {
	if name, st, ok := strings.Cut(s, "@"); ok && slices.Contains(stages, st) && st != "latest" {
		if _, err := governance.ParseVersion(st); err != nil {
			return governance.ParseRef(name + "#" + st)
		}
	}
	return governance.ParseRef(s)
}

// Build gathers the report of a registered model version from the repository:
// the registry tags, the manifests in HEAD's history, the local store (for the
// SHA-256), .trove/policy.yaml, approvals, and the decisions recorded in the
// promotion tags. It reads, never writes, except the SHA-256 cache.
//
// What it checks on the way is in Report.Verification; a failed check does not
// stop the report (an auditor wants to see it), the caller decides what a
// failure means (the CLI exits with status 3). Unknown models and versions are
// governance.ErrUnknownModel and ErrUnknownVersion; a version registered
// without a trove record (by GTO) is governance.ErrNotFound.
func Build(ctx context.Context, r *manifest.Repo, opt Options) (*Report, error) {
	ref, err := ParseRef(opt.Ref, opt.Stages)
	if err != nil {
		return nil, err
	}
	reg, err := governance.ReadRegistry(r.Root)
	if err != nil {
		return nil, err
	}
	model, v, err := reg.Resolve(ref, opt.Stages)
	if err != nil {
		return nil, err
	}
	if v.Artifact == "" {
		return nil, fmt.Errorf("%w: %s@%s was registered without a trove record (by GTO?): there is no manifest to report on", governance.ErrNotFound, ref.Name, v.Version)
	}
	gi, err := openGit(r.Root)
	if err != nil {
		return nil, err
	}
	idx, err := governance.BuildIndex(ctx, r)
	if err != nil {
		return nil, err
	}
	b := &builder{
		ctx: ctx, r: r, opt: opt, reg: reg, model: model, v: v, idx: idx, gi: gi,
		rep: &Report{
			Schema: SchemaID, Format: Format, FormatVersion: FormatVersion,
			GeneratedAt: stamp(opt.Now), Generator: opt.Generator, Query: opt.Ref,
			Repository: Repository{Name: filepath.Base(r.Root), Remote: gi.remote()},
			Authors:    []Person{}, Times: []Time{}, Data: []Data{},
			Environment: map[string]string{}, Parameters: map[string]string{}, Metrics: []Metric{},
			Approvals: Approvals{Items: []Approval{}}, Decisions: []Decision{}, Waivers: []Waiver{},
			StageHistory: []StageSpan{}, Verification: []Check{}, Warnings: []string{},
			Lineage: Lineage{Nodes: []Node{}, Edges: []Edge{}, Runs: []Run{}},
		},
	}
	b.rep.Warnings = append(b.rep.Warnings, reg.Warnings...)
	b.rep.Warnings = append(b.rep.Warnings, model.Warnings...)
	b.rep.Warnings = append(b.rep.Warnings, idx.Warnings...)
	if err := b.subject(); err != nil {
		return nil, err
	}
	b.content()
	b.lineage()
	b.data()
	b.policy()
	b.comparison()
	b.metrics()
	b.approvals()
	b.decisions()
	b.history()
	b.people()
	b.times()
	b.audit()
	return b.rep, nil
}

// audit appends the audit verifier's checks to the transcript.
func (b *builder) audit() {
	t := b.opt.Audit
	if t == nil {
		b.check("audit", "trove audit verify: the signed, hash-chained record of registrations, promotions and approvals", CheckSkip, "not run for this report")
		return
	}
	for i, c := range t.Checks {
		status := CheckPass
		switch c.Status {
		case governance.CheckFail:
			status = CheckFail
		case governance.CheckWarn, governance.CheckEvent:
			status = CheckWarn
		case governance.CheckSkip:
			status = CheckSkip
		}
		b.check(fmt.Sprintf("audit-%d", i+1), "audit "+c.Check+": "+c.Subject, status, c.Detail)
	}
	verdict, status := "verified", CheckPass
	if !t.OK {
		verdict, status = fmt.Sprintf("%d check(s) failed", t.Failures), CheckFail
	}
	b.check("audit", "trove audit verify", status, fmt.Sprintf("%s at %s: %d entries, tree %s: %s", t.Ref, t.Head, t.Entries, t.TreeHash, verdict))
}

type builder struct {
	ctx   context.Context
	r     *manifest.Repo
	opt   Options
	reg   *governance.Registry
	model *governance.Model
	v     *governance.VersionInfo
	idx   *governance.Index
	gi    *gitInfo
	rep   *Report

	m    *manifest.Manifest   // the subject's manifest at the registered commit
	loc  *governance.Location // its indexed version (graph root)
	pol  *policy.Policy
	prev *manifest.Manifest // the comparison version's manifest
	// locs maps graph node ids to the versions they stand for.
	locs map[string]*governance.Location
}

func (b *builder) check(id, what, status, detail string) {
	b.rep.Verification = append(b.rep.Verification, Check{ID: id, Check: what, Status: status, Detail: detail})
}

func (b *builder) warn(format string, args ...any) {
	b.rep.Warnings = append(b.rep.Warnings, fmt.Sprintf(format, args...))
}

// events returns the model's events about the subject version.
func (b *builder) events() []governance.Event {
	var out []governance.Event
	for _, e := range b.model.Events {
		switch {
		case e.Version == b.v.Version:
		case e.Record == nil && e.Commit == b.v.Commit && (e.Action == governance.ActionAssign || e.Action == governance.ActionUnassign):
		default:
			continue
		}
		out = append(out, e)
	}
	return out
}

func (b *builder) subject() error {
	v := b.v
	name := b.model.Name
	tag := v.Tag
	b.check("registry.record", fmt.Sprintf("registration tag %s is an annotated tag whose trove record agrees with its name", tag), CheckPass,
		fmt.Sprintf("record: artifact %s, digest %s, manifest_commit %s", v.Artifact, v.Digest, short(v.Commit)))
	b.check("registry.target", fmt.Sprintf("the record's manifest_commit is the commit %s points to", tag), CheckPass, v.Commit)
	ts, err := b.r.ManifestsAt(b.ctx, v.Commit, []string{v.Artifact})
	if err != nil {
		return err
	}
	for _, t := range ts {
		if t.Path != v.Artifact {
			continue
		}
		if t.Err != nil {
			b.check("manifest.decode", fmt.Sprintf("the manifest %s at %s decodes (canonical, valid)", manifest.ManifestPath(v.Artifact), short(v.Commit)), CheckFail, t.Err.Error())
			return fmt.Errorf("%s at %s: %w", v.Artifact, short(v.Commit), t.Err)
		}
		b.m = t.Manifest
	}
	if b.m == nil {
		b.check("manifest.decode", fmt.Sprintf("the manifest %s exists at %s", manifest.ManifestPath(v.Artifact), short(v.Commit)), CheckFail, "not found")
		return fmt.Errorf("%w: %s at %s, which %s@%s names", governance.ErrNotFound, v.Artifact, short(v.Commit), name, v.Version)
	}
	b.check("manifest.decode", fmt.Sprintf("the manifest %s at %s decodes (canonical encoding, valid fields)", manifest.ManifestPath(v.Artifact), short(v.Commit)), CheckPass, "")
	m := b.m
	if m.Digest.String() == v.Digest {
		b.check("manifest.digest", "the manifest's digest is the digest the registration record names", CheckPass, v.Digest)
	} else {
		b.check("manifest.digest", "the manifest's digest is the digest the registration record names", CheckFail,
			fmt.Sprintf("record %s, manifest %s", v.Digest, m.Digest))
	}
	loc, err := governance.FindArtifact(b.ctx, b.r, b.idx, b.r.Root, name+"@"+v.Version, b.opt.Stages)
	if err != nil || loc.Manifest.Digest != m.Digest {
		loc = &governance.Location{Path: v.Artifact, Manifest: m, Commit: v.Commit}
	}
	b.loc = loc
	s := &b.rep.Subject
	*s = Subject{
		Name: name, Version: v.Version, Path: v.Artifact, Kind: m.Kind, Type: m.Type, Size: m.Size, Files: m.Files,
		Digests: Digests{BLAKE3: m.Digest.String()}, Object: m.Object.String(),
		ManifestCommit: v.Commit, RecordedIn: loc.Commit, Tag: tag, RegisteredAt: v.RegisteredAt, RegisteredBy: v.By,
		Message: v.Message, Deprecated: v.Deprecated, Stages: append([]string{}, v.Stages...), Meta: mapOrEmpty(m.Meta),
	}
	b.rep.IntendedUse = m.Meta[MetaIntendedUse]
	b.rep.Limitations = m.Meta[MetaLimitations]
	if m.Kind != manifest.KindModel {
		b.warn("%s is a %s, not a model (kind %q in its manifest)", v.Artifact, m.Kind, m.Kind)
	}
	lin := m.Lineage
	p := &b.rep.Producer
	p.Command = []string{}
	switch {
	case lin == nil:
		p.Tool = "trove add"
	case len(lin.Command) > 0:
		p.Tool, p.Command, p.Trigger = "trove run", append([]string{}, lin.Command...), lin.Trigger
	default:
		p.Tool, p.Trigger = "trove add --input", lin.Trigger
	}
	if lin != nil {
		b.rep.Environment = mapOrEmpty(lin.Environment)
		b.rep.Parameters = mapOrEmpty(lin.Params)
		if lin.Code != nil {
			b.rep.Code = b.code(lin.Code)
		}
	}
	return nil
}

func (b *builder) code(c *manifest.Code) *Code {
	ci := b.gi.commit(c.Commit)
	return &Code{Commit: c.Commit, Dirty: c.Dirty, Remote: c.Remote, InRepository: ci.Found}
}

// content checks the bytes in the local store and computes the SHA-256.
func (b *builder) content() {
	s := &b.rep.Subject
	st, err := b.r.Store()
	if err != nil {
		s.SHA256Source, s.SHA256Note = SHA256Unavailable, fmt.Sprintf("the local store cannot be opened: %v", err)
		b.check("store.object", "the recipe or tree object is in the local store", CheckSkip, s.SHA256Note)
		return
	}
	what := "recipe"
	if b.m.Type == manifest.TypeDir {
		what = "tree"
	}
	if st.Has(b.m.Object) {
		b.check("store.object", fmt.Sprintf("the %s object %s is in the local store", what, b.m.Object.Short()), CheckPass, "")
	} else {
		b.check("store.object", fmt.Sprintf("the %s object %s is in the local store", what, b.m.Object.Short()), CheckSkip,
			"not in the local store: `trove pull "+b.m.Path+"` fetches it")
	}
	sum, src, err := SHA256(b.ctx, b.r, st, b.m, b.opt.Rehash)
	switch {
	case err == nil:
		s.Digests.SHA256, s.SHA256Source = "sha256:"+sum, src
		if src == SHA256Computed {
			b.check("content.blake3", "the bytes in the local store hash to the manifest's BLAKE3 digest", CheckPass, fmt.Sprintf("%d bytes re-read", b.m.Size))
			b.check("content.sha256", "SHA-256 computed from the same bytes", CheckPass, sum)
		} else {
			b.check("content.blake3", "the bytes in the local store hash to the manifest's BLAKE3 digest", CheckSkip,
				"not re-read: the SHA-256 is from the cache, written after an earlier check of the bytes; --rehash re-reads them")
			b.check("content.sha256", "SHA-256 taken from .trove/"+SHA256CacheDir+" (keyed by the BLAKE3 digest)", CheckPass, sum)
		}
	case notLocal(err):
		s.SHA256Source = SHA256Unavailable
		s.SHA256Note = "the bytes are not in the local store, so no SHA-256 was computed: `trove pull " + b.m.Path + "` fetches them"
		b.check("content.blake3", "the bytes in the local store hash to the manifest's BLAKE3 digest", CheckSkip, "the bytes are not in the local store")
		b.check("content.sha256", "SHA-256 computed from the local bytes", CheckSkip, "the bytes are not in the local store")
	case errors.Is(err, objects.ErrCorrupt):
		s.SHA256Source, s.SHA256Note = SHA256Unavailable, "the stored bytes do not match the manifest: "+err.Error()
		b.check("content.blake3", "the bytes in the local store hash to the manifest's BLAKE3 digest", CheckFail, err.Error())
		b.check("content.sha256", "SHA-256 computed from the local bytes", CheckSkip, "not computed from bytes that fail their BLAKE3")
	default:
		s.SHA256Source, s.SHA256Note = SHA256Unavailable, err.Error()
		b.check("content.sha256", "SHA-256 computed from the local bytes", CheckSkip, err.Error())
	}
}

// data lists the subject's direct inputs.
func (b *builder) data() {
	lin := b.m.Lineage
	if lin == nil {
		return
	}
	for _, in := range lin.Inputs {
		d := Data{Role: in.Role, Path: in.Path, Name: in.Name, Kind: in.Kind, Digest: in.Digest.String()}
		if id := b.inputNode(b.rep.Lineage.Root, in); id != "" {
			if l := b.locs[id]; l != nil {
				m := l.Manifest
				d.Resolved, d.Version, d.Size = true, l.Commit, m.Size
				if d.Name == "" {
					d.Name = m.Name
				}
				if d.Kind == "" {
					d.Kind = m.Kind
				}
				if p := m.Profile; p != nil {
					rows := p.Rows
					d.Rows, d.Format, d.Schema = &rows, p.Format, columns(p)
				}
				d.License, d.Classification, d.Owner = m.Meta["license"], m.Meta["classification"], m.Meta["owner"]
				if len(m.Meta) > 0 {
					d.Meta = maps.Clone(m.Meta)
				}
				if b.opt.InputSHA256 {
					b.inputSHA256(&d, m)
				}
			}
		}
		for _, e := range b.reg.Events {
			if e.Action == governance.ActionRegister && e.Record != nil && e.Record.Digest == d.Digest {
				d.Registered = append(d.Registered, e.Name+"@"+e.Version)
			}
		}
		b.rep.Data = append(b.rep.Data, d)
	}
}

func (b *builder) inputSHA256(d *Data, m *manifest.Manifest) {
	st, err := b.r.Store()
	if err != nil {
		return
	}
	sum, _, err := SHA256(b.ctx, b.r, st, m, b.opt.Rehash)
	switch {
	case err == nil:
		d.SHA256 = "sha256:" + sum
	case errors.Is(err, objects.ErrCorrupt):
		b.check("content.input:"+d.Path, "the bytes of input "+d.Path+" in the local store hash to its BLAKE3 digest", CheckFail, err.Error())
	default:
		b.warn("no SHA-256 for input %s: %v", d.Path, err)
	}
}

func mapOrEmpty[V any](m map[string]V) map[string]V {
	if m == nil {
		return map[string]V{}
	}
	return maps.Clone(m)
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func short(h string) string { return h[:min(len(h), 10)] }

func shortDigest(d string) string {
	if len(d) > len(objects.IDPrefix)+12 {
		return d[:len(objects.IDPrefix)+12]
	}
	return d
}
