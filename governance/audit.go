package governance

// The audit chain: an append-only, hash-chained, signed log of every
// governance act (registrations, promotions, deprecations, approvals, and the
// policy decisions and waivers a promotion's record carries), kept in git
// under AuditRef so that it travels with git push and git fetch. doc.go
// describes it; audit_verify.go checks it.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"golang.org/x/crypto/ssh"

	"github.com/trove-dev/trove/governance/policy"
	tsign "github.com/trove-dev/trove/governance/sign"
	"github.com/trove-dev/trove/manifest"
	"github.com/trove-dev/trove/objects"
)

const (
	// AuditRef is the git ref whose commits hold the chain. Each commit adds
	// one entry to the tree of its parent. Push it with
	// `git push origin refs/trove/audit` and fetch it with the refspec
	// `refs/trove/audit:refs/trove/audit` (no '+': git then refuses a
	// rewritten chain instead of taking it).
	AuditRef = "refs/trove/audit"
	// AuditVerifiedRef marks, in this clone only, the chain head that
	// `trove audit verify` last found valid: a later chain that does not
	// extend it was rewritten. It is never pushed.
	AuditVerifiedRef = "refs/trove-verified/audit"
	// AuditFormat is the entry format trove writes and the newest it reads.
	AuditFormat = 1
	// auditDir is the directory of the ref's tree that holds the entries,
	// NNNNNNNN.json and, when signed, NNNNNNNN.json.sig.
	auditDir = "entries"
	// MaxAuditEntrySize bounds one entry or signature file.
	MaxAuditEntrySize = 64 << 10
	// MaxAuditRecordSize bounds a document kept beside an entry (a denial's
	// decision), and so any file of the chain's tree.
	MaxAuditRecordSize = 4 << 20
)

// Kinds of audit entries.
const (
	AuditRegister   = "register"
	AuditPromote    = "promote"
	AuditDeregister = "deregister"
	AuditDeprecate  = "deprecate"
	AuditApprove    = "approve"
	// AuditDeny is a promotion the policy gate refused: nothing was tagged,
	// and the decision document is kept beside the entry
	// (NNNNNNNN.decision.json), named by record_digest.
	AuditDeny = "deny"
)

var (
	// ErrBadAuditEntry: an entry that does not decode strictly.
	ErrBadAuditEntry = errors.New("invalid audit entry")
	// ErrNewerAudit: an entry in a format newer than AuditFormat.
	ErrNewerAudit = errors.New("audit entry format is newer than this trove reads")
	// ErrAuditAppend: the chain could not be extended (it kept moving, or it
	// is unreadable).
	ErrAuditAppend = errors.New("cannot append to the audit chain")
)

// AuditEntry is one record of the chain. Fields are in JSON key order, so the
// encoding is canonical; EncodeAuditEntry is the only valid form.
type AuditEntry struct {
	// AppendedAt is when the entry joined the chain, RFC 3339 UTC, when that
	// is not At: `trove audit sync` re-appends this clone's entries after the
	// ones another clone pushed meanwhile, keeping the act's own time in At
	// and saying here when it was re-appended (and re-signed). The chain's
	// order is checked on AppendedAt when present, At otherwise.
	AppendedAt string `json:"appended_at,omitempty"`
	// Artifact is the model's manifest path (tags).
	Artifact string `json:"artifact,omitempty"`
	// At is when, RFC 3339 UTC.
	At string `json:"at"`
	// By is who: "Name <email>".
	By string `json:"by"`
	// Commit is HEAD of the repository when the entry was made: the trust
	// files (.trove/allowed_signers) that check the signature are read there.
	Commit string `json:"commit"`
	// Digest is the model version's content digest (blake3:...).
	Digest string `json:"digest,omitempty"`
	// File is an approval's record file, repository-relative.
	File string `json:"file,omitempty"`
	// Kind is register, promote, deregister, deprecate or approve.
	Kind string `json:"kind"`
	// ManifestCommit is the commit whose manifest describes the version.
	ManifestCommit string `json:"manifest_commit,omitempty"`
	// Name is the model.
	Name string `json:"name"`
	// PolicyDigest is the policy a promotion's decision was taken under, or
	// an approval was made under.
	PolicyDigest string `json:"policy_digest,omitempty"`
	// Prev is the digest (blake3 of the bytes) of the previous entry; empty
	// for the first.
	Prev string `json:"prev,omitempty"`
	// Principal is who signed, as in .trove/allowed_signers; empty when the
	// entry is unsigned.
	Principal string `json:"principal,omitempty"`
	// RecordDigest is the blake3 of the act's own record: the tag's record
	// (EncodeRecord) or the approval file's bytes.
	RecordDigest string `json:"record_digest"`
	// Seq is the entry's position, from 1.
	Seq int `json:"seq"`
	// SignersDigest is the blake3 of .trove/allowed_signers at Commit; empty
	// when there was none.
	SignersDigest string `json:"signers_digest,omitempty"`
	// Stage is the stage promoted to or approved for.
	Stage string `json:"stage,omitempty"`
	// Tag is the registry tag the entry records.
	Tag string `json:"tag,omitempty"`
	// TagTarget is the commit the tag points to.
	TagTarget string `json:"tag_target,omitempty"`
	// TreeHash is the RFC 6962 Merkle tree hash (sha256:...) of the entries
	// before this one, TreeSize of them: an auditor who kept a root can check
	// that a later chain contains everything it committed to.
	TreeHash string `json:"tree_hash"`
	TreeSize int    `json:"tree_size"`
	// Trove is the entry format, AuditFormat.
	Trove int `json:"trove_audit"`
	// Version is the model version.
	Version string `json:"version,omitempty"`
	// Waivers are the waivers a promotion's decision applied, one line each:
	// "RULE waived by APPROVER until TIME: REASON".
	Waivers []string `json:"waivers,omitempty"`
}

var (
	hex40Re       = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9a-f]{40}$`) })
	auditDigestRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^blake3:[0-9a-f]{64}$`) })
	treeHashRe    = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^sha256:[0-9a-f]{64}$`) })
	auditNameRe   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^([0-9]{8})\.(json|json\.sig|decision\.json)$`) })
)

func (a *AuditEntry) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadAuditEntry, fmt.Sprintf(format, args...))
	}
	switch {
	case a.Trove != AuditFormat:
		return bad("trove_audit %d, want %d", a.Trove, AuditFormat)
	case a.Seq < 1:
		return bad("seq %d", a.Seq)
	case a.Seq == 1 && a.Prev != "":
		return bad("the first entry has a prev")
	case a.Seq > 1 && !auditDigestRe().MatchString(a.Prev):
		return bad("prev %q: want blake3: and 64 hex digits", a.Prev)
	case a.TreeSize != a.Seq-1:
		return bad("tree_size %d for seq %d", a.TreeSize, a.Seq)
	case !treeHashRe().MatchString(a.TreeHash):
		return bad("tree_hash %q", a.TreeHash)
	case !hex40Re().MatchString(a.Commit):
		return bad("commit %q", a.Commit)
	case !ValidModelName(a.Name):
		return bad("name %q", a.Name)
	case a.By == "" || len(a.By) > 512 || strings.ContainsAny(a.By, "\n\r"):
		return bad("by %q", a.By)
	case !auditDigestRe().MatchString(a.RecordDigest):
		return bad("record_digest %q", a.RecordDigest)
	case a.SignersDigest != "" && !auditDigestRe().MatchString(a.SignersDigest):
		return bad("signers_digest %q", a.SignersDigest)
	case a.Digest != "" && !auditDigestRe().MatchString(a.Digest):
		return bad("digest %q", a.Digest)
	case a.PolicyDigest != "" && !auditDigestRe().MatchString(a.PolicyDigest):
		return bad("policy_digest %q", a.PolicyDigest)
	case a.Principal != "" && !ValidPrincipal(a.Principal):
		return bad("principal %q", a.Principal)
	case a.Version != "" && !semverRe().MatchString(a.Version):
		return bad("version %q", a.Version)
	case a.Stage != "" && !ValidStage(a.Stage):
		return bad("stage %q", a.Stage)
	case a.ManifestCommit != "" && !hex40Re().MatchString(a.ManifestCommit):
		return bad("manifest_commit %q", a.ManifestCommit)
	case a.TagTarget != "" && !hex40Re().MatchString(a.TagTarget):
		return bad("tag_target %q", a.TagTarget)
	}
	at, ok := parseApprovalTime(a.At)
	if !ok {
		return bad("at %q: want an RFC 3339 time in UTC", a.At)
	}
	if a.AppendedAt != "" {
		ap, ok := parseApprovalTime(a.AppendedAt)
		if !ok {
			return bad("appended_at %q: want an RFC 3339 time in UTC", a.AppendedAt)
		}
		if ap.Before(at) {
			return bad("appended_at %s is before at %s", a.AppendedAt, a.At)
		}
	}
	for _, w := range a.Waivers {
		if w == "" || len(w) > 1024 || strings.ContainsAny(w, "\n\r") || !utf8.ValidString(w) {
			return bad("waiver %q", w)
		}
	}
	if a.Waivers != nil && len(a.Waivers) == 0 {
		return bad("waivers: empty list (omit it)")
	}
	switch a.Kind {
	case AuditRegister, AuditPromote, AuditDeregister, AuditDeprecate:
		tn, err := ParseTagName(a.Tag)
		if err != nil || tn.Name != a.Name || tn.Action != auditAction(a.Kind) || a.TagTarget == "" {
			return bad("%s entry: tag %q and tag_target must name a %s tag of %s", a.Kind, a.Tag, auditAction(a.Kind), a.Name)
		}
		if a.Kind == AuditPromote && (a.Stage == "" || a.Version == "") {
			return bad("a promote entry needs version and stage")
		}
	case AuditApprove:
		if a.File == "" || a.Tag != "" || a.Stage == "" || a.Version == "" || a.Digest == "" || a.Principal == "" {
			return bad("an approve entry needs file, version, stage, digest and principal, and no tag")
		}
	case AuditDeny:
		if a.File != "" || a.Tag != "" || a.TagTarget != "" || a.Stage == "" || a.Version == "" {
			return bad("a deny entry needs version and stage, and no tag or file")
		}
	default:
		return bad("kind %q", a.Kind)
	}
	return nil
}

// auditAction is the registry action of a tag entry's kind.
func auditAction(kind string) Action {
	switch kind {
	case AuditRegister:
		return ActionRegister
	case AuditPromote:
		return ActionAssign
	case AuditDeregister:
		return ActionDeregister
	case AuditDeprecate:
		return ActionDeprecate
	}
	return ""
}

func auditKind(a Action) string {
	switch a {
	case ActionRegister:
		return AuditRegister
	case ActionAssign:
		return AuditPromote
	case ActionDeregister:
		return AuditDeregister
	case ActionDeprecate:
		return AuditDeprecate
	}
	return ""
}

// EncodeAuditEntry returns an entry's canonical encoding, the bytes that are
// chained, signed and stored: JSON, keys sorted, two-space indent, no HTML
// escaping, a trailing newline.
func EncodeAuditEntry(a *AuditEntry) ([]byte, error) {
	if err := a.validate(); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(a); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// DecodeAuditEntry reads an entry strictly: one JSON object, no unknown
// fields, every field valid, and exactly the canonical encoding. Errors wrap
// ErrBadAuditEntry or ErrNewerAudit.
func DecodeAuditEntry(data []byte) (*AuditEntry, error) {
	if len(data) > MaxAuditEntrySize {
		return nil, fmt.Errorf("%w: %d bytes; the limit is %d", ErrBadAuditEntry, len(data), MaxAuditEntrySize)
	}
	return decodeCanonical(data, canonicalForm[AuditEntry]{
		versionKey: "trove_audit", newest: AuditFormat, what: "entry",
		errBad: ErrBadAuditEntry, errNewer: ErrNewerAudit, encode: EncodeAuditEntry,
	})
}

// EntryDigest is the digest that the next entry's prev names.
func EntryDigest(data []byte) string { return objects.Hash(data).String() }

// Merkle tree hashing as RFC 6962 (Certificate Transparency) defines it, so
// that any tlog tool can recompute a root: leaves are SHA-256(0x00 || entry),
// interior nodes SHA-256(0x01 || left || right), the split at the largest
// power of two below the size. SHA-256 because the RFC says so.

func leafHash(data []byte) [32]byte {
	return sha256.Sum256(append([]byte{0}, data...))
}

func nodeHash(l, r [32]byte) [32]byte {
	var b [65]byte
	b[0] = 1
	copy(b[1:], l[:])
	copy(b[33:], r[:])
	return sha256.Sum256(b[:])
}

// merkleRoot is the RFC 6962 tree hash of leaves (leaf hashes).
func merkleRoot(leaves [][32]byte) [32]byte {
	switch len(leaves) {
	case 0:
		return sha256.Sum256(nil)
	case 1:
		return leaves[0]
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	return nodeHash(merkleRoot(leaves[:k]), merkleRoot(leaves[k:]))
}

func treeHashString(h [32]byte) string { return "sha256:" + hex.EncodeToString(h[:]) }

// AuditFile is one stored entry: its file name, its bytes, its signature
// (nil when unsigned) and the document it records when the chain keeps it
// (a denial's decision).
type AuditFile struct {
	Name   string `json:"name"`
	Data   []byte `json:"data"`
	Sig    []byte `json:"sig,omitempty"`
	Record []byte `json:"record,omitempty"`
}

// addAuditPart files one member of the entries directory (NNNNNNNN.json,
// .json.sig or .decision.json) under its entry; false when the name is not
// one of those.
func addAuditPart(byName map[string]*AuditFile, name string, data []byte) bool {
	m := auditNameRe().FindStringSubmatch(name)
	if m == nil {
		return false
	}
	base := m[1] + ".json"
	f := byName[base]
	if f == nil {
		f = &AuditFile{Name: base}
		byName[base] = f
	}
	switch m[2] {
	case "json.sig":
		f.Sig = data
	case "decision.json":
		f.Record = data
	default:
		f.Data = data
	}
	return true
}

// AuditLog is the chain as stored at a commit of AuditRef.
type AuditLog struct {
	// Head is the commit of AuditRef; empty when there is no chain yet.
	Head  string
	Files []AuditFile
	// Stray are files in the tree that are not entries or signatures.
	Stray []string
}

// readAuditLog reads the chain at the commit h (the zero hash: AuditRef's).
func readAuditLog(g *git.Repository, h plumbing.Hash) (*AuditLog, error) {
	if h.IsZero() {
		ref, err := g.Storer.Reference(plumbing.ReferenceName(AuditRef))
		if errors.Is(err, plumbing.ErrReferenceNotFound) {
			return &AuditLog{}, nil
		}
		if err != nil {
			return nil, err
		}
		h = ref.Hash()
	}
	c, err := g.CommitObject(h)
	if err != nil {
		return nil, fmt.Errorf("%s at %s: %w", AuditRef, short(h.String()), err)
	}
	t, err := c.Tree()
	if err != nil {
		return nil, err
	}
	log := &AuditLog{Head: h.String()}
	for _, e := range t.Entries {
		if e.Name != auditDir {
			log.Stray = append(log.Stray, e.Name)
		}
	}
	sub, err := t.Tree(auditDir)
	if errors.Is(err, object.ErrDirectoryNotFound) {
		return log, nil
	}
	if err != nil {
		return nil, err
	}
	byName := map[string]*AuditFile{}
	for _, e := range sub.Entries {
		if !auditNameRe().MatchString(e.Name) || !e.Mode.IsFile() {
			log.Stray = append(log.Stray, auditDir+"/"+e.Name)
			continue
		}
		data, err := readBlob(g, e.Hash, MaxAuditRecordSize)
		if err != nil {
			return nil, fmt.Errorf("%s: %s/%s: %w", AuditRef, auditDir, e.Name, err)
		}
		addAuditPart(byName, e.Name, data)
	}
	for _, f := range byName {
		log.Files = append(log.Files, *f)
	}
	sort.Slice(log.Files, func(i, j int) bool { return log.Files[i].Name < log.Files[j].Name })
	return log, nil
}

func readBlob(g *git.Repository, h plumbing.Hash, limit int64) ([]byte, error) {
	b, err := g.BlobObject(h)
	if err != nil {
		return nil, err
	}
	if b.Size > limit {
		return nil, fmt.Errorf("%d bytes; the limit is %d", b.Size, limit)
	}
	rd, err := b.Reader()
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	return io.ReadAll(io.LimitReader(rd, limit))
}

// fileAt reads path in the tree of commit, ok false when it is not there.
func fileAt(g *git.Repository, commit, path string, limit int64) (data []byte, ok bool, err error) {
	c, err := g.CommitObject(plumbing.NewHash(commit))
	if err != nil {
		return nil, false, fmt.Errorf("commit %s: %w", short(commit), err)
	}
	t, err := c.Tree()
	if err != nil {
		return nil, false, err
	}
	e, err := t.FindEntry(path)
	if errors.Is(err, object.ErrEntryNotFound) || errors.Is(err, object.ErrDirectoryNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if !e.Mode.IsFile() {
		return nil, false, nil
	}
	b, err := readBlob(g, e.Hash, limit)
	return b, err == nil, err
}

// AuditAppended is what appending wrote.
type AuditAppended struct {
	Seq    int    `json:"seq"`
	Digest string `json:"digest"`
	Head   string `json:"head"`
	Signed bool   `json:"signed"`
	// Warning says why the entry will not verify as things stand (its key is
	// not in HEAD's allowed signers, say); empty when it will.
	Warning string `json:"warning,omitempty"`
}

// appendAudit adds e (Seq, Prev, TreeHash, TreeSize, Commit, SignersDigest
// filled in here) to the chain, signed by signer when not nil, as a new commit
// of AuditRef. Writers take the repository lock (manifest.Repo.Lock, waiting
// up to w.LockWait), so that trove processes append one at a time; the ref is
// also moved by compare-and-swap, so that a writer that raced another (or a
// `git update-ref`) rebuilds its entry on the new head instead of losing one.
func appendAudit(ctx context.Context, r *manifest.Repo, g *git.Repository, w World, e AuditEntry, signer ssh.Signer, record []byte) (*AuditAppended, error) {
	unlock, err := r.Lock(ctx, w.LockWait)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrAuditAppend, err)
	}
	defer unlock()
	head, err := headHash(g)
	if err != nil {
		return nil, err
	}
	if head.IsZero() {
		return nil, fmt.Errorf("%w: %w", ErrAuditAppend, ErrNoCommit)
	}
	e.Commit = head.String()
	e.Trove = AuditFormat
	signers, hasSigners, err := fileAt(g, e.Commit, AllowedSignersFile, tsign.MaxAllowedSignersSize)
	if err != nil {
		return nil, fmt.Errorf("%w: %s at HEAD: %w", ErrAuditAppend, AllowedSignersFile, err)
	}
	if hasSigners {
		e.SignersDigest = objects.Hash(signers).String()
	}
	if signer == nil {
		e.Principal = ""
	}
	for attempt := 0; attempt < 20; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var old *plumbing.Reference
		if ref, err := g.Storer.Reference(plumbing.ReferenceName(AuditRef)); err == nil {
			old = ref
		} else if !errors.Is(err, plumbing.ErrReferenceNotFound) {
			return nil, err
		}
		parent := plumbing.ZeroHash
		if old != nil {
			parent = old.Hash()
		}
		log := &AuditLog{}
		if !parent.IsZero() {
			if log, err = readAuditLog(g, parent); err != nil {
				return nil, fmt.Errorf("%w: %w", ErrAuditAppend, err)
			}
		}
		leaves := make([][32]byte, 0, len(log.Files))
		for _, f := range log.Files {
			leaves = append(leaves, leafHash(f.Data))
		}
		e.Seq = len(log.Files) + 1
		e.Prev = ""
		if n := len(log.Files); n > 0 {
			last := log.Files[n-1]
			if last.Name != auditFileName(n) {
				return nil, fmt.Errorf("%w: its last entry is %s, expected %s: run `trove audit verify`", ErrAuditAppend, last.Name, auditFileName(n))
			}
			e.Prev = EntryDigest(last.Data)
		}
		e.TreeSize = len(leaves)
		e.TreeHash = treeHashString(merkleRoot(leaves))
		data, err := EncodeAuditEntry(&e)
		if err != nil {
			return nil, err
		}
		var sig []byte
		if signer != nil {
			if sig, err = tsign.Sign(signer, tsign.Namespace, data); err != nil {
				return nil, err
			}
		}
		commit, err := writeAuditCommit(g, parent, auditFileName(e.Seq), data, sig, record, e)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrAuditAppend, err)
		}
		next := plumbing.NewHashReference(plumbing.ReferenceName(AuditRef), commit)
		if err := g.Storer.CheckAndSetReference(next, old); err != nil {
			continue // someone appended meanwhile: chain onto theirs
		}
		res := &AuditAppended{Seq: e.Seq, Digest: EntryDigest(data), Head: commit.String(), Signed: sig != nil}
		switch {
		case sig == nil && hasSigners:
			res.Warning = fmt.Sprintf("audit entry %d is unsigned and %s exists: `trove audit verify` will report it; configure a signing key", e.Seq, AllowedSignersFile)
		case sig != nil && !hasSigners:
			res.Warning = fmt.Sprintf("audit entry %d is signed but HEAD has no %s to check it against", e.Seq, AllowedSignersFile)
		case sig != nil:
			at, _ := parseApprovalTime(e.At)
			if as, err := tsign.ParseAllowedSigners(AllowedSignersFile, signers); err != nil {
				res.Warning = err.Error()
			} else if _, err := as.Verify(sig, data, tsign.Namespace, e.Principal, at); err != nil {
				res.Warning = fmt.Sprintf("audit entry %d will not verify against HEAD's %s: %v", e.Seq, AllowedSignersFile, err)
			}
		}
		return res, nil
	}
	return nil, fmt.Errorf("%w: %s kept moving", ErrAuditAppend, AuditRef)
}

func auditFileName(seq int) string { return fmt.Sprintf("%08d.json", seq) }

// writeAuditCommit writes the tree of parent's entries plus one, and a commit
// of it whose parent is parent.
func writeAuditCommit(g *git.Repository, parent plumbing.Hash, name string, data, sig, record []byte, e AuditEntry) (plumbing.Hash, error) {
	var entries []object.TreeEntry
	if !parent.IsZero() {
		c, err := g.CommitObject(parent)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		t, err := c.Tree()
		if err != nil {
			return plumbing.ZeroHash, err
		}
		if sub, err := t.Tree(auditDir); err == nil {
			entries = append(entries, sub.Entries...)
		} else if !errors.Is(err, object.ErrDirectoryNotFound) {
			return plumbing.ZeroHash, err
		}
	}
	add := func(n string, b []byte) error {
		h, err := writeBlob(g, b)
		if err != nil {
			return err
		}
		entries = append(entries, object.TreeEntry{Name: n, Mode: filemode.Regular, Hash: h})
		return nil
	}
	if err := add(name, data); err != nil {
		return plumbing.ZeroHash, err
	}
	if sig != nil {
		if err := add(name+".sig", sig); err != nil {
			return plumbing.ZeroHash, err
		}
	}
	if record != nil {
		if err := add(strings.TrimSuffix(name, ".json")+".decision.json", record); err != nil {
			return plumbing.ZeroHash, err
		}
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name < entries[j].Name })
	sub, err := writeTree(g, entries)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	root, err := writeTree(g, []object.TreeEntry{{Name: auditDir, Mode: filemode.Dir, Hash: sub}})
	if err != nil {
		return plumbing.ZeroHash, err
	}
	id, _ := parseIdentity(e.By)
	sigd := object.Signature{Name: id.Name, Email: id.Email, When: appendedTime(&e)} // when it joined the chain
	c := &object.Commit{
		Author: sigd, Committer: sigd, TreeHash: root,
		Message: fmt.Sprintf("trove audit %d: %s %s\n", e.Seq, e.Kind, auditSubject(&e)),
	}
	if !parent.IsZero() {
		c.ParentHashes = []plumbing.Hash{parent}
	}
	obj := g.Storer.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	return g.Storer.SetEncodedObject(obj)
}

func writeBlob(g *git.Repository, b []byte) (plumbing.Hash, error) {
	obj := g.Storer.NewEncodedObject()
	obj.SetType(plumbing.BlobObject)
	obj.SetSize(int64(len(b)))
	wr, err := obj.Writer()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if _, err := wr.Write(b); err != nil {
		return plumbing.ZeroHash, err
	}
	if err := wr.Close(); err != nil {
		return plumbing.ZeroHash, err
	}
	return g.Storer.SetEncodedObject(obj)
}

func writeTree(g *git.Repository, entries []object.TreeEntry) (plumbing.Hash, error) {
	t := &object.Tree{Entries: entries}
	obj := g.Storer.NewEncodedObject()
	if err := t.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	return g.Storer.SetEncodedObject(obj)
}

// parseIdentity splits "Name <email>".
func parseIdentity(s string) (Identity, bool) {
	i, j := strings.LastIndexByte(s, '<'), strings.LastIndexByte(s, '>')
	if i < 0 || j < i {
		return Identity{Name: s}, false
	}
	return Identity{Name: strings.TrimSpace(s[:i]), Email: strings.TrimSpace(s[i+1 : j])}, true
}

// auditSubject names what an entry is about, for messages.
func auditSubject(e *AuditEntry) string {
	switch {
	case e.Tag != "":
		return e.Tag
	case e.File != "":
		return fmt.Sprintf("%s@%s for %s by %s", e.Name, e.Version, e.Stage, e.Principal)
	case e.Kind == AuditDeny:
		return fmt.Sprintf("%s@%s to %s", e.Name, e.Version, e.Stage)
	}
	return e.Name
}

// appendTagAudit records a registry tag just written.
func appendTagAudit(ctx context.Context, r *manifest.Repo, g *git.Repository, w World, res *TagResult, id Identity, msg []byte, signer ssh.Signer) (*AuditAppended, error) {
	rec := res.Record
	e := AuditEntry{
		Kind: auditKind(rec.Action), Name: rec.Name, Version: rec.Version, Stage: rec.Stage,
		Artifact: rec.Artifact, Digest: rec.Digest, ManifestCommit: rec.ManifestCommit,
		Tag: res.Tag, TagTarget: res.Commit, At: rec.At, By: rec.By,
		Principal: id.Email, RecordDigest: objects.Hash(msg).String(),
	}
	if !ValidPrincipal(e.Principal) {
		e.Principal = ""
	}
	e.PolicyDigest, e.Waivers = decisionFacts(rec.Decision)
	return appendAudit(ctx, r, g, w, e, signer, nil)
}

// auditSeqOf reads a NNNNNNNN.json name's number.
func auditSeqOf(name string) int {
	m := auditNameRe().FindStringSubmatch(name)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// auditTime parses an entry's at.
func auditTime(s string) time.Time { t, _ := parseApprovalTime(s); return t }

// appendedTime is when e joined the chain: AppendedAt, or At when it was
// appended when it was made.
func appendedTime(e *AuditEntry) time.Time {
	if e.AppendedAt != "" {
		return auditTime(e.AppendedAt)
	}
	return auditTime(e.At)
}

// decisionFacts reads, from a promotion's decision document, the policy it
// was taken under and the waivers it applied, for the audit entry.
func decisionFacts(raw json.RawMessage) (policyDigest string, waivers []string) {
	if len(raw) == 0 {
		return "", nil
	}
	var d policy.Decision
	if err := json.Unmarshal(raw, &d); err != nil {
		return "", nil
	}
	if auditDigestRe().MatchString(d.PolicyDigest) {
		policyDigest = d.PolicyDigest
	}
	for _, r := range d.Results {
		if r.Waiver == nil {
			continue
		}
		line := fmt.Sprintf("%s waived by %s until %s: %s", r.Rule, r.Waiver.Approver, stamp(r.Waiver.Expires), r.Waiver.Reason)
		line = strings.Join(strings.Fields(line), " ")
		if len(line) > 1024 {
			line = strings.ToValidUTF8(line[:1024], "")
		}
		waivers = append(waivers, line)
	}
	return policyDigest, waivers
}

// appendDenyAudit records a promotion the gate refused, with its decision
// document. The tag signer signs it when one is configured; a key that cannot
// be used leaves it unsigned rather than hiding the denial.
func appendDenyAudit(ctx context.Context, r *manifest.Repo, g *git.Repository, w World, p Proposal, decision []byte) (*AuditAppended, error) {
	signer, done, err := tagSigner(ctx, g, w)
	if err != nil {
		signer, done = nil, func() {}
	}
	defer done()
	e := AuditEntry{
		Kind: AuditDeny, Name: p.Name, Version: p.Version.Version, Stage: p.Stage, Artifact: p.Version.Artifact,
		Digest: p.Version.Digest, At: stamp(p.At), By: p.By.String(), Principal: p.By.Email,
		RecordDigest: objects.Hash(decision).String(),
	}
	if p.Version.Artifact != "" {
		e.ManifestCommit = p.Version.Commit
	}
	if !ValidPrincipal(e.Principal) {
		e.Principal = ""
	}
	e.PolicyDigest, e.Waivers = decisionFacts(decision)
	return appendAudit(ctx, r, g, w, e, signer, decision)
}

// AuditLogEntry is one entry of the chain as `trove audit log` lists it.
type AuditLogEntry struct {
	Entry  *AuditEntry `json:"entry,omitempty"`
	File   string      `json:"file"`
	Digest string      `json:"digest"`
	Signed bool        `json:"signed"`
	// Problem says why the entry does not decode; Entry is then nil.
	Problem string `json:"problem,omitempty"`
}

// ReadAuditEntries lists the chain at AuditRef as stored, oldest first, each
// decoded (or with why not). It checks nothing else: VerifyAuditEvidence does.
func ReadAuditEntries(root string) (head string, out []AuditLogEntry, err error) {
	g, err := openGit(root)
	if err != nil {
		return "", nil, err
	}
	log, err := readAuditLog(g, plumbing.ZeroHash)
	if err != nil {
		return "", nil, err
	}
	out = []AuditLogEntry{}
	for _, f := range log.Files {
		le := AuditLogEntry{File: f.Name, Digest: EntryDigest(f.Data), Signed: f.Sig != nil}
		if e, err := DecodeAuditEntry(f.Data); err != nil {
			le.Problem = err.Error()
		} else {
			le.Entry = e
		}
		out = append(out, le)
	}
	return log.Head, out, nil
}

// AuditSubject names what an entry is about: its tag, or the approval, or
// the refused promotion.
func AuditSubject(e *AuditEntry) string { return auditSubject(e) }
