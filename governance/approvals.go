package governance

// Approvals: signed, committed statements that a person approves one model
// version (by digest) for one stage, under one policy. `trove approve` writes
// them (Approve); the policy gate reads them (LoadApprovals) and `trove
// approvals` lists them with their status (ListApprovals).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/ssh"

	"github.com/trove-dev/trove/governance/policy"
	tsign "github.com/trove-dev/trove/governance/sign"
	"github.com/trove-dev/trove/manifest"
	"github.com/trove-dev/trove/objects"
)

// ApprovalsDir is where approvals are committed, one directory per model version
// and stage: .trove/approvals/NAME/VERSION/STAGE/<time>-<key fingerprint>.json
// holds the canonical JSON record and the file beside it with ".sig" appended
// holds its SSHSIG signature (namespace tsign.Namespace), which
// `ssh-keygen -Y verify -n trove -f .trove/allowed_signers -I PRINCIPAL -s FILE.sig < FILE`
// checks without trove.
const ApprovalsDir = manifest.Dir + "/approvals"

// The files trust comes from, repository-relative. Both are committed and
// reviewed like code (see package sign).
const (
	// AllowedSignersFile lists who may sign, in OpenSSH's allowed-signers format
	// (the file `ssh-keygen -Y verify -f` and git's gpg.ssh.allowedSignersFile read).
	AllowedSignersFile = manifest.Dir + "/allowed_signers"
	// RolesFile maps roles to the principals that hold them (tsign.ParseRoles).
	RolesFile = manifest.Dir + "/roles.yaml"
)

// ApprovalFormat is the approval record format trove writes and the newest it
// reads.
const ApprovalFormat = 1

// Bounds on what the approvals loader reads: approvals are committed files,
// and a repository can be hostile.
const (
	// MaxApprovalFiles bounds the directory entries read under one model
	// version's approvals directory; more is an error (ErrApprovals).
	MaxApprovalFiles = 10_000
	// MaxApprovalSize bounds one record or signature file; a larger file is
	// reported as invalid and not read.
	MaxApprovalSize = 64 << 10
	// maxComment bounds an approval's comment, in bytes.
	maxComment = 4096
)

var (
	// ErrApprovals: the approvals directory of a model version cannot be read
	// safely (a symlink, not a directory, too many files).
	ErrApprovals = errors.New("cannot read the approvals")
	// ErrBadApproval: an approval record (or the options of one being made) is
	// not valid.
	ErrBadApproval = errors.New("invalid approval")
	// ErrNewerApproval: a record in a format newer than ApprovalFormat.
	ErrNewerApproval = errors.New("approval record format is newer than this trove reads")
	// ErrNoAllowedSigners: the repository has no .trove/allowed_signers.
	ErrNoAllowedSigners = errors.New("no allowed-signers file")
	// ErrNotApprovable: the version cannot be approved (a GTO registration
	// without a digest, a deprecated version).
	ErrNotApprovable = errors.New("cannot approve the version")
)

// ApprovalRecord is the signed statement of one approval. Fields are in JSON key
// order, so the encoding is canonical.
type ApprovalRecord struct {
	At           string   `json:"at"`                // RFC 3339 UTC, as asserted by the approver
	Comment      string   `json:"comment,omitempty"` // why
	Digest       string   `json:"digest"`            // the model version's content digest (blake3:...)
	Expires      string   `json:"expires,omitempty"` // RFC 3339 UTC; empty: the policy's max_age decides
	Name         string   `json:"name"`              // registry name
	PolicyDigest string   `json:"policy_digest"`     // digest of .trove/policy.yaml approved against
	Principal    string   `json:"principal"`         // who approves, as in allowed_signers
	Roles        []string `json:"roles,omitempty"`   // roles claimed; only those .trove/roles.yaml grants count
	Stage        string   `json:"stage"`
	Trove        int      `json:"trove"` // record format, 1
	Version      string   `json:"version"`
}

var (
	approvalDigestRe    = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^blake3:[0-9a-f]{64}$`) })
	approvalRoleRe      = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z][a-z0-9_.-]{0,63}$`) }) // as tsign.ParseRoles
	approvalPrincipalRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[^\s,"'*?!\\]{1,256}$`) })
)

// ValidPrincipal reports whether s can be an approval's principal: a literal
// allowed-signers principal (no spaces, commas, quotes or pattern characters).
func ValidPrincipal(s string) bool {
	return approvalPrincipalRe().MatchString(s) && utf8.ValidString(s)
}

// ValidRole reports whether s can name a role (as in .trove/roles.yaml).
func ValidRole(s string) bool { return approvalRoleRe().MatchString(s) }

func parseApprovalTime(s string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339, s)
	return t.UTC(), err == nil && strings.HasSuffix(s, "Z") && !t.IsZero()
}

// validate checks a record's fields one by one.
func (a *ApprovalRecord) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadApproval, fmt.Sprintf(format, args...))
	}
	switch {
	case a.Trove != ApprovalFormat:
		return bad("trove format %d, want %d", a.Trove, ApprovalFormat)
	case !ValidModelName(a.Name):
		return bad("name %q", a.Name)
	case !semverRe().MatchString(a.Version):
		return bad("version %q", a.Version)
	case !ValidStage(a.Stage):
		return bad("stage %q", a.Stage)
	case !approvalDigestRe().MatchString(a.Digest):
		return bad("digest %q: want blake3: and 64 hex digits", a.Digest)
	case a.PolicyDigest != "" && !approvalDigestRe().MatchString(a.PolicyDigest):
		return bad("policy_digest %q: want blake3: and 64 hex digits, or empty", a.PolicyDigest)
	case !ValidPrincipal(a.Principal):
		return bad("principal %q: want a literal allowed-signers principal such as alice@example.com", a.Principal)
	case len(a.Comment) > maxComment || !utf8.ValidString(a.Comment):
		return bad("comment: at most %d bytes of UTF-8", maxComment)
	}
	at, ok := parseApprovalTime(a.At)
	if !ok {
		return bad("at %q: want an RFC 3339 time in UTC", a.At)
	}
	if a.Expires != "" {
		exp, ok := parseApprovalTime(a.Expires)
		if !ok {
			return bad("expires %q: want an RFC 3339 time in UTC", a.Expires)
		}
		if !exp.After(at) {
			return bad("expires %s is not after at %s", a.Expires, a.At)
		}
	}
	for i, r := range a.Roles {
		if !ValidRole(r) {
			return bad("role %q: use lowercase letters, digits, '_', '.', '-'", r)
		}
		if i > 0 && a.Roles[i-1] >= r {
			return bad("roles: want sorted, each once")
		}
	}
	return nil
}

// EncodeApproval returns the canonical encoding of a record, the bytes that are
// signed and committed: JSON with keys sorted, two-space indent, no HTML
// escaping, a trailing newline. Roles must be sorted and distinct.
func EncodeApproval(a *ApprovalRecord) ([]byte, error) {
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

// DecodeApproval reads a record strictly: one JSON object, no unknown fields,
// format ApprovalFormat (a newer one is ErrNewerApproval), every field valid,
// and the bytes exactly the canonical encoding (EncodeApproval), so a record
// has one valid form. Errors wrap ErrBadApproval or ErrNewerApproval.
func DecodeApproval(data []byte) (*ApprovalRecord, error) {
	return decodeCanonical(data, canonicalForm[ApprovalRecord]{
		versionKey: "trove", newest: ApprovalFormat, what: "record",
		errBad: ErrBadApproval, errNewer: ErrNewerApproval, encode: EncodeApproval,
	})
}

// canonicalForm describes a JSON record that has exactly one valid encoding.
type canonicalForm[T any] struct {
	versionKey string // the key holding the format version
	newest     int    // the newest format this trove reads
	what       string // "record", "entry": for messages
	errBad     error  // wrapped by every error but a newer format
	errNewer   error  // wrapped when the format is newer than newest
	encode     func(*T) ([]byte, error)
}

// decodeCanonical reads data strictly: one JSON object, with a format version
// no newer than f.newest, no unknown fields, nothing after it, and exactly the
// bytes f.encode gives back, so a record has one valid form and an edit by hand
// is an error rather than a second meaning.
func decodeCanonical[T any](data []byte, f canonicalForm[T]) (*T, error) {
	var head map[string]json.RawMessage
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("%w: not a JSON object: %v", f.errBad, err)
	}
	var v int
	if raw := head[f.versionKey]; len(raw) == 0 || json.Unmarshal(raw, &v) != nil {
		return nil, fmt.Errorf("%w: no %q format version", f.errBad, f.versionKey)
	}
	if v > f.newest {
		return nil, fmt.Errorf("%w: format %d (this trove reads %d): upgrade trove", f.errNewer, v, f.newest)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var rec T
	if err := dec.Decode(&rec); err != nil {
		return nil, fmt.Errorf("%w: %v", f.errBad, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the %s", f.errBad, f.what)
	}
	canon, err := f.encode(&rec)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(canon, data) {
		return nil, fmt.Errorf("%w: not in canonical form (keys sorted, two-space indent, trailing newline)", f.errBad)
	}
	return &rec, nil
}

// ReadAllowedSigners reads .trove/allowed_signers. A missing file is
// ErrNoAllowedSigners; a malformed one wraps tsign.ErrAllowedSigners.
func ReadAllowedSigners(r *manifest.Repo) (*tsign.AllowedSigners, error) {
	b, err := readTrustFile(r, AllowedSignersFile, tsign.MaxAllowedSignersSize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s does not exist", ErrNoAllowedSigners, AllowedSignersFile)
	}
	if err != nil {
		return nil, err
	}
	return tsign.ParseAllowedSigners(AllowedSignersFile, b)
}

// ReadRoles reads .trove/roles.yaml; a missing file gives nil (nobody holds a
// role), a malformed one an error wrapping tsign.ErrRoles.
func ReadRoles(r *manifest.Repo) (*tsign.Roles, error) {
	b, err := readTrustFile(r, RolesFile, tsign.MaxRolesSize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return tsign.ParseRoles(RolesFile, b)
}

// readTrustFile reads a small committed file, refusing symlinks (trust must
// come from the reviewed file itself) and anything over limit.
func readTrustFile(r *manifest.Repo, rel string, limit int64) ([]byte, error) {
	p := filepath.Join(r.Root, filepath.FromSlash(rel))
	fi, err := os.Lstat(p)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (a symlink?): trust files are committed as plain files", rel)
	}
	b, err := readRegularFile(p, fi, limit)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", rel, err)
	}
	return b, nil
}

// readRegular opens p without following a symlink and without blocking on a
// FIFO, checks that it is still the regular file lstat saw, and reads at most
// limit bytes.
func readRegularFile(p string, lst fs.FileInfo, limit int64) ([]byte, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() || !os.SameFile(fi, lst) {
		return nil, errors.New("the file changed while it was read")
	}
	if fi.Size() > limit {
		return nil, fmt.Errorf("%d bytes; the limit is %d", fi.Size(), limit)
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("more than %d bytes", limit)
	}
	return b, nil
}

// ApprovalStatus is one approval file as the loader found it.
type ApprovalStatus struct {
	// File is the record's path, repository-relative with slashes.
	File string `json:"file"`
	// Record is the decoded record; nil when the file could not be decoded.
	Record *ApprovalRecord `json:"record,omitempty"`
	// Approval is what the policy input gets: ValidSignature is true only when
	// Problem is empty; Roles are the granted ones.
	Approval policy.Approval `json:"approval"`
	// Fingerprint is the signing key's SHA256 fingerprint, when the signature
	// could be parsed.
	Fingerprint string `json:"fingerprint,omitempty"`
	// Problem says why the approval does not count; empty when it is valid.
	Problem string `json:"problem,omitempty"`
	// Expired: the record's expires is before the evaluation time.
	Expired bool `json:"expired,omitempty"`
	// RolesNotGranted are roles the record claims that the roles file does not
	// give its principal: they do not count, the approval itself does.
	RolesNotGranted []string `json:"roles_not_granted,omitempty"`
	// Notes say why a valid approval may still not count for the current
	// version or policy (set by ListApprovals).
	Notes []string `json:"notes,omitempty"`
}

// Valid reports whether the approval's signature and record are valid (and it
// has not expired).
func (s *ApprovalStatus) Valid() bool { return s.Problem == "" }

// LoadApprovals reads the approvals committed in the working tree for a model
// version (all stages), verifies each signature against allowed (at the record's
// time) and grants roles from roles, and returns them as the policy input wants
// them. A record with a bad or unknown signature is returned with ValidSignature
// false (the policy then ignores it and says why), never dropped silently.
//
// LoadApprovals has no clock, so it cannot tell whether a record that sets
// "expires" has expired: such a record is returned with ValidSignature false.
// Callers that know the evaluation time use LoadApprovalsDetailed with it, which
// also says why each record does or does not count.
func LoadApprovals(ctx context.Context, r *manifest.Repo, allowed *tsign.AllowedSigners, roles *tsign.Roles, name, version string) ([]policy.Approval, error) {
	st, err := LoadApprovalsDetailed(ctx, r, allowed, roles, name, version, time.Time{})
	if err != nil {
		return nil, err
	}
	return PolicyApprovals(st), nil
}

// PolicyApprovals returns the policy input's view of loaded approvals.
func PolicyApprovals(st []ApprovalStatus) []policy.Approval {
	out := make([]policy.Approval, 0, len(st))
	for _, s := range st {
		out = append(out, s.Approval)
	}
	return out
}

// LoadApprovalsDetailed is LoadApprovals with the evaluation time and the
// reasons: every record file under ApprovalsDir/NAME/VERSION/*/ (*.json, its
// signature in *.json.sig beside it), sorted by path, each with the problem
// that makes it not count, if any:
//
//   - the file is not a regular file (a symlink, a FIFO), is over
//     MaxApprovalSize, or its signature file is missing;
//   - the record does not decode strictly (DecodeApproval), is in a newer format,
//     or names another model, version or stage than the directory it is in;
//   - the signature does not verify in namespace tsign.Namespace against allowed
//     for the record's principal at the record's time (allowed nil: no record is
//     valid);
//   - it has expired at now (now zero: a record that sets expires does not count,
//     since its expiry cannot be checked).
//
// Roles granted are the record's claimed roles that roles (nil: none) gives the
// principal. A directory in the path that is a symlink or not a directory, or
// more than MaxApprovalFiles entries, is an error wrapping ErrApprovals. A
// missing directory is no approvals.
func LoadApprovalsDetailed(ctx context.Context, r *manifest.Repo, allowed *tsign.AllowedSigners, roles *tsign.Roles, name, version string, now time.Time) ([]ApprovalStatus, error) {
	if !ValidModelName(name) || !semverRe().MatchString(version) {
		return nil, fmt.Errorf("%w %s@%s", ErrBadRef, name, version)
	}
	files, err := readApprovalFiles(ctx, r.Root, name, version)
	if err != nil {
		return nil, err
	}
	out := make([]ApprovalStatus, 0, len(files))
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		out = append(out, checkApproval(f, allowed, roles, name, version, now))
	}
	return out, nil
}

// approvalFile is one record file read from disk, with its signature.
type approvalFile struct {
	rel     string // repository-relative, slashes
	stage   string // the directory it is in
	data    []byte
	sig     []byte
	problem string // why the record could not be read
	// sigProblem says why the signature could not be read.
	sigProblem string
	noRecord   bool // not even a record file (a stage entry that is not a directory)
}

// readApprovalFiles lists and reads ApprovalsDir/NAME/VERSION/*/*.json and their
// signatures, never following a symlink and never reading more than the bounds.
func readApprovalFiles(ctx context.Context, root, name, version string) ([]approvalFile, error) {
	versionRel := path.Join(ApprovalsDir, name, version)
	// Every directory on the way must be a real directory: a symlink could point
	// anywhere, including at another version's approvals.
	p := root
	for _, part := range strings.Split(versionRel, "/") {
		p = filepath.Join(p, part)
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrApprovals, err)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("%w: %s is not a directory (a symlink?)", ErrApprovals, approvalRel(root, p))
		}
	}
	count := 0
	stages, err := readApprovalDir(p, &count)
	if err != nil {
		return nil, err
	}
	var out []approvalFile
	for _, st := range stages {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		stageRel := path.Join(versionRel, st.Name())
		if !st.IsDir() {
			if strings.HasPrefix(st.Name(), ".") {
				continue // editor and temp files
			}
			out = append(out, approvalFile{rel: stageRel, stage: st.Name(), noRecord: true, problem: "not a stage directory (a symlink or a file): ignored"})
			continue
		}
		stageDir := filepath.Join(p, st.Name())
		entries, err := readApprovalDir(stageDir, &count)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if !strings.HasSuffix(e.Name(), ".json") || strings.HasPrefix(e.Name(), ".") {
				continue // signatures are read with their record; temp files and others are not records
			}
			f := approvalFile{rel: path.Join(stageRel, e.Name()), stage: st.Name()}
			f.data, f.problem = readApprovalPart(filepath.Join(stageDir, e.Name()), "record")
			if f.problem == "" {
				f.sig, f.sigProblem = readApprovalPart(filepath.Join(stageDir, e.Name()+".sig"), "signature")
			}
			out = append(out, f)
		}
	}
	slices.SortFunc(out, func(a, b approvalFile) int { return strings.Compare(a.rel, b.rel) })
	return out, nil
}

// readApprovalDir reads a directory's entries, sorted by name, adding them to
// count and failing once it passes MaxApprovalFiles.
func readApprovalDir(dir string, count *int) ([]fs.DirEntry, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrApprovals, err)
	}
	defer f.Close()
	var all []fs.DirEntry
	for {
		es, err := f.ReadDir(256)
		all = append(all, es...)
		*count += len(es)
		if *count > MaxApprovalFiles {
			return nil, fmt.Errorf("%w: more than %d files under %s", ErrApprovals, MaxApprovalFiles, filepath.Base(filepath.Dir(dir))+"/"+filepath.Base(dir))
		}
		if errors.Is(err, io.EOF) || (err == nil && len(es) == 0) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrApprovals, err)
		}
	}
	slices.SortFunc(all, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return all, nil
}

// readApprovalPart reads a record or signature file, or says why not.
func readApprovalPart(p, what string) ([]byte, string) {
	fi, err := os.Lstat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Sprintf("no %s file (%s)", what, filepath.Base(p))
	case err != nil:
		return nil, fmt.Sprintf("%s: %v", what, err)
	case fi.Mode()&fs.ModeSymlink != 0:
		return nil, fmt.Sprintf("the %s is a symlink: approvals are plain committed files", what)
	case !fi.Mode().IsRegular():
		return nil, fmt.Sprintf("the %s is not a regular file", what)
	case fi.Size() > MaxApprovalSize:
		return nil, fmt.Sprintf("the %s is %d bytes; the limit is %d", what, fi.Size(), MaxApprovalSize)
	}
	b, err := readRegularFile(p, fi, MaxApprovalSize)
	if err != nil {
		return nil, fmt.Sprintf("%s: %v", what, err)
	}
	return b, ""
}

func approvalRel(root, p string) string {
	if rel, err := filepath.Rel(root, p); err == nil {
		return filepath.ToSlash(rel)
	}
	return p
}

// checkApproval decodes and verifies one record file.
func checkApproval(f approvalFile, allowed *tsign.AllowedSigners, roles *tsign.Roles, name, version string, now time.Time) ApprovalStatus {
	s := ApprovalStatus{File: f.rel, Approval: policy.Approval{Stage: f.stage, Roles: []string{}}}
	fail := func(format string, args ...any) ApprovalStatus {
		s.Problem = fmt.Sprintf(format, args...)
		s.Approval.Stage = f.stage // where it is filed, which it may contradict
		s.Approval.ValidSignature = false
		s.Approval.Roles = []string{}
		return s
	}
	if f.problem != "" {
		return fail("%s", f.problem)
	}
	rec, err := DecodeApproval(f.data)
	if err != nil {
		return fail("%v", err)
	}
	s.Record = rec
	at, _ := parseApprovalTime(rec.At)
	s.Approval = policy.Approval{At: at, Digest: rec.Digest, PolicyDigest: rec.PolicyDigest, Roles: []string{}, Signer: rec.Principal, Stage: rec.Stage}
	if f.sigProblem != "" {
		return fail("%s", f.sigProblem)
	}
	if sig, err := tsign.ParseSignature(f.sig); err == nil {
		s.Fingerprint = ssh.FingerprintSHA256(sig.PublicKey)
	}
	switch {
	case rec.Name != name || rec.Version != version || rec.Stage != f.stage:
		return fail("the record approves %s@%s for %s but is filed under %s@%s/%s", rec.Name, rec.Version, rec.Stage, name, version, f.stage)
	case allowed == nil:
		return fail("no %s to check the signature against", AllowedSignersFile)
	}
	if _, err := allowed.Verify(f.sig, f.data, tsign.Namespace, rec.Principal, at); err != nil {
		return fail("%v", err)
	}
	if rec.Expires != "" {
		exp, _ := parseApprovalTime(rec.Expires)
		if now.IsZero() {
			return fail("expires %s, and the evaluation time is not known", rec.Expires)
		}
		if !now.Before(exp) {
			s.Expired = true
			return fail("expired at %s", rec.Expires)
		}
	}
	held := roles.For(rec.Principal)
	for _, role := range rec.Roles {
		if slices.Contains(held, role) {
			s.Approval.Roles = append(s.Approval.Roles, role)
		} else {
			s.RolesNotGranted = append(s.RolesNotGranted, role)
		}
	}
	s.Approval.ValidSignature = true
	return s
}

// ApproveOptions configure Approve.
type ApproveOptions struct {
	Ref    Ref      // NAME@VERSION
	Stage  string   // the stage approved for
	Stages []string // the configured stages; Stage must be one
	// Roles are the roles claimed; nil claims every role RoleFile gives the
	// principal.
	Roles   []string
	Comment string
	// Expires, when not zero, is when the approval stops counting.
	Expires time.Time
	// Principal is who approves, as in the allowed-signers file; empty: git's
	// user.email.
	Principal string
	// Signer signs the record (tsign.OpenSigner, OpenSigningKey). Required.
	Signer ssh.Signer
	// Allowed is the repository's allowed-signers file (ReadAllowedSigners): the
	// signature is checked against it before anything is written. Required.
	Allowed *tsign.AllowedSigners
	// RoleFile is the repository's roles file (ReadRoles); nil grants no roles.
	RoleFile *tsign.Roles
}

// ApproveResult is what Approve wrote.
type ApproveResult struct {
	// File and SignatureFile are repository-relative: commit both.
	File          string         `json:"file"`
	SignatureFile string         `json:"signature_file"`
	Record        ApprovalRecord `json:"record"`
	Fingerprint   string         `json:"fingerprint"`
	// RolesGranted are the claimed roles the roles file gives the principal;
	// RolesNotGranted the others, which will not count.
	RolesGranted    []string `json:"roles_granted"`
	RolesNotGranted []string `json:"roles_not_granted,omitempty"`
	// Audit is the entry appended to the audit chain (AuditRef).
	Audit *AuditAppended `json:"audit,omitempty"`
	// OwnRegistration: the principal registered this version (the
	// registration's "by"). The record is written, but an approvals rule with
	// distinct_from_author does not count an approval by the author.
	OwnRegistration bool `json:"own_registration,omitempty"`
}

// SignerNotAllowedError is Approve's error when the allowed-signers file does
// not accept the signing key for the principal. Line is the allowed-signers line
// that would (for people to review and commit, never added automatically).
type SignerNotAllowedError struct {
	Principal   string
	Fingerprint string
	Line        string
	Err         error
}

func (e *SignerNotAllowedError) Error() string {
	return fmt.Sprintf("key %s is not an allowed signer for %s in %s: %v", e.Fingerprint, e.Principal, AllowedSignersFile, e.Err)
}

func (e *SignerNotAllowedError) Unwrap() error { return e.Err }

// Approve signs and writes an approval of a registered model version for a
// stage: the record (ApprovalRecord: the version's digest, the digest of
// .trove/policy.yaml if there is one, the principal, the time from w, the
// roles claimed) in ApprovalsDir/NAME/VERSION/STAGE/<time>-<key>.json and its
// SSH signature beside it, each written atomically. The signature is verified
// against opt.Allowed for the principal before anything is written: a key the
// file does not accept is *SignerNotAllowedError. Nothing is committed: the
// caller tells the user to commit the files.
func Approve(ctx context.Context, r *manifest.Repo, w World, opt ApproveOptions) (*ApproveResult, error) {
	if opt.Ref.Version == "" || opt.Ref.Stage != "" {
		return nil, fmt.Errorf("%w %q: name the version to approve, NAME@VERSION", ErrBadRef, opt.Ref)
	}
	if !slices.Contains(opt.Stages, opt.Stage) {
		return nil, fmt.Errorf("%w %q: the stages are %s", ErrUnknownStage, opt.Stage, strings.Join(opt.Stages, ", "))
	}
	if opt.Signer == nil {
		return nil, fmt.Errorf("%w: no signing key", ErrBadApproval)
	}
	if opt.Allowed == nil {
		return nil, fmt.Errorf("%w: %s does not exist", ErrNoAllowedSigners, AllowedSignersFile)
	}
	now := w.now().Truncate(time.Second)
	if !opt.Expires.IsZero() && !opt.Expires.After(now) {
		return nil, fmt.Errorf("%w: expires %s is not in the future", ErrBadApproval, stamp(opt.Expires))
	}
	g, err := openGit(r.Root)
	if err != nil {
		return nil, err
	}
	reg, err := readRegistry(g)
	if err != nil {
		return nil, err
	}
	_, v, err := reg.Resolve(opt.Ref, opt.Stages)
	if err != nil {
		return nil, err
	}
	if v.Deprecated {
		return nil, fmt.Errorf("%w: %s@%s is deprecated", ErrNotApprovable, opt.Ref.Name, v.Version)
	}
	if v.Digest == "" {
		return nil, fmt.Errorf("%w: %s@%s has no content digest (registered without a trove record): register it with trove", ErrNotApprovable, opt.Ref.Name, v.Version)
	}
	principal := opt.Principal
	if principal == "" {
		id, err := identity(g, w)
		if err != nil {
			return nil, err
		}
		principal = id.Email
	}
	if !ValidPrincipal(principal) {
		return nil, fmt.Errorf("%w: principal %q: want a literal allowed-signers principal such as alice@example.com", ErrBadApproval, principal)
	}
	claimed := slices.Clone(opt.Roles)
	if opt.Roles == nil {
		claimed = opt.RoleFile.For(principal)
	}
	slices.Sort(claimed)
	claimed = slices.Compact(claimed)
	policyDigest, err := policyFileDigest(r)
	if err != nil {
		return nil, err
	}
	rec := ApprovalRecord{
		At: stamp(now), Comment: opt.Comment, Digest: v.Digest, Name: opt.Ref.Name, PolicyDigest: policyDigest,
		Principal: principal, Roles: claimed, Stage: opt.Stage, Trove: ApprovalFormat, Version: v.Version,
	}
	if !opt.Expires.IsZero() {
		rec.Expires = stamp(opt.Expires)
	}
	data, err := EncodeApproval(&rec)
	if err != nil {
		return nil, err
	}
	sig, err := tsign.Sign(opt.Signer, tsign.Namespace, data)
	if err != nil {
		return nil, err
	}
	pub := opt.Signer.PublicKey()
	vf, err := opt.Allowed.Verify(sig, data, tsign.Namespace, principal, now)
	if err != nil {
		if errors.Is(err, tsign.ErrUnknownSigner) {
			return nil, &SignerNotAllowedError{Principal: principal, Fingerprint: ssh.FingerprintSHA256(pub), Line: AllowedSignersLine(principal, pub), Err: err}
		}
		return nil, err
	}
	res := &ApproveResult{Record: rec, Fingerprint: vf.Fingerprint, RolesGranted: []string{}}
	held := opt.RoleFile.For(principal)
	for _, role := range claimed {
		if slices.Contains(held, role) {
			res.RolesGranted = append(res.RolesGranted, role)
		} else {
			res.RolesNotGranted = append(res.RolesNotGranted, role)
		}
	}
	res.OwnRegistration = isPrincipalOf(principal, v.By)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	dirRel := path.Join(ApprovalsDir, rec.Name, rec.Version, rec.Stage)
	dir, err := ensureApprovalDir(r.Root, dirRel)
	if err != nil {
		return nil, err
	}
	base := now.Format("20060102T150405Z") + "-" + approvalKeyTag(pub)
	name := base + ".json"
	for i := 2; ; i++ {
		_, err1 := os.Lstat(filepath.Join(dir, name))
		_, err2 := os.Lstat(filepath.Join(dir, name+".sig"))
		if errors.Is(err1, fs.ErrNotExist) && errors.Is(err2, fs.ErrNotExist) {
			break
		}
		if i > 100 {
			return nil, fmt.Errorf("%w: too many approvals by this key at %s", ErrBadApproval, rec.At)
		}
		name = fmt.Sprintf("%s-%d.json", base, i)
	}
	// The signature first: a reader that sees the record sees its signature.
	if err := objects.WriteFileAtomic(filepath.Join(dir, name+".sig"), sig, 0o644); err != nil {
		return nil, fmt.Errorf("write approval signature: %w", err)
	}
	if err := objects.WriteFileAtomic(filepath.Join(dir, name), data, 0o644); err != nil {
		return nil, fmt.Errorf("write approval: %w", err)
	}
	res.File = path.Join(dirRel, name)
	res.SignatureFile = res.File + ".sig"
	by := principal
	if id, err := identity(g, w); err == nil {
		by = id.String()
	}
	res.Audit, err = appendAudit(ctx, r, g, w, AuditEntry{
		Kind: AuditApprove, Name: rec.Name, Version: rec.Version, Stage: rec.Stage, Digest: rec.Digest,
		File: res.File, At: rec.At, By: by, Principal: principal, RecordDigest: objects.Hash(data).String(),
		PolicyDigest: rec.PolicyDigest,
	}, opt.Signer, nil)
	if err != nil {
		return res, fmt.Errorf("the approval %s was written but not recorded in %s: %w", res.File, AuditRef, err)
	}
	return res, nil
}

// AllowedSignersLine is the allowed-signers line that lets pub sign as
// principal, for git tags and trove records alike.
func AllowedSignersLine(principal string, pub ssh.PublicKey) string {
	return fmt.Sprintf(`%s namespaces="git,%s" %s`, principal, tsign.Namespace, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))))
}

// approvalKeyTag is the first 12 characters of the key's SHA256 fingerprint
// as ssh-keygen -l prints it, made safe for file names ('+' and '/' become '-'
// and '_').
func approvalKeyTag(pub ssh.PublicKey) string {
	fp := strings.TrimPrefix(ssh.FingerprintSHA256(pub), "SHA256:")
	fp = strings.NewReplacer("+", "-", "/", "_").Replace(fp)
	return fp[:min(12, len(fp))]
}

// isPrincipalOf reports whether principal is the email of who ("Name <email>" or a
// bare email), case-insensitively, as the policy's author check compares them.
func isPrincipalOf(principal, who string) bool {
	if i, j := strings.LastIndexByte(who, '<'), strings.LastIndexByte(who, '>'); i >= 0 && j > i {
		who = strings.TrimSpace(who[i+1 : j])
	}
	return who != "" && strings.EqualFold(principal, who)
}

// ensureApprovalDir creates root/rel's directories as needed, refusing any that is
// a symlink, and returns the absolute path.
func ensureApprovalDir(root, rel string) (string, error) {
	p := root
	for _, part := range strings.Split(rel, "/") {
		p = filepath.Join(p, part)
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			if err := os.Mkdir(p, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
				return "", err
			}
			continue
		}
		if err != nil {
			return "", err
		}
		if !fi.IsDir() {
			return "", fmt.Errorf("%w: %s is not a directory (a symlink?)", ErrApprovals, approvalRel(root, p))
		}
	}
	return p, nil
}

// policyFileDigest is the digest of .trove/policy.yaml as policy.Parse computes
// it (BLAKE3 of the bytes), or "" when there is no policy.
func policyFileDigest(r *manifest.Repo) (string, error) {
	b, err := readTrustFile(r, approvalPolicyPath, policy.MaxFileSize)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return objects.Hash(b).String(), nil
}

// approvalPolicyPath is the policy file approvals are made under.
const approvalPolicyPath = manifest.Dir + "/policy.yaml"

// ListApprovalsOptions configure ListApprovals.
type ListApprovalsOptions struct {
	Ref    Ref    // NAME@VERSION
	Stage  string // only this stage; empty: all
	Stages []string
}

// ApprovalList is what ListApprovals found.
type ApprovalList struct {
	Name         string           `json:"name"`
	Version      string           `json:"version"`
	Digest       string           `json:"digest"`
	PolicyDigest string           `json:"policy_digest"`
	Approvals    []ApprovalStatus `json:"approvals"`
	// Warnings are about the trust files (no allowed-signers file, say).
	Warnings []string `json:"warnings,omitempty"`
}

// ListApprovals loads a registered version's approvals as LoadApprovalsDetailed
// does, at w's time, with the repository's allowed-signers and roles files, and
// notes on each valid approval that approves another digest or was made under
// another policy than the current one (the policy will not count those).
func ListApprovals(ctx context.Context, r *manifest.Repo, w World, opt ListApprovalsOptions) (*ApprovalList, error) {
	if opt.Ref.Version == "" || opt.Ref.Stage != "" {
		return nil, fmt.Errorf("%w %q: name the version, NAME@VERSION", ErrBadRef, opt.Ref)
	}
	reg, err := ReadRegistry(r.Root)
	if err != nil {
		return nil, err
	}
	_, v, err := reg.Resolve(opt.Ref, opt.Stages)
	if err != nil {
		return nil, err
	}
	out := &ApprovalList{Name: opt.Ref.Name, Version: v.Version, Digest: v.Digest, Approvals: []ApprovalStatus{}}
	allowed, err := ReadAllowedSigners(r)
	if errors.Is(err, ErrNoAllowedSigners) {
		out.Warnings = append(out.Warnings, fmt.Sprintf("%s does not exist: no approval can be verified", AllowedSignersFile))
	} else if err != nil {
		return nil, err
	}
	roles, err := ReadRoles(r)
	if err != nil {
		return nil, err
	}
	if out.PolicyDigest, err = policyFileDigest(r); err != nil {
		return nil, err
	}
	st, err := LoadApprovalsDetailed(ctx, r, allowed, roles, opt.Ref.Name, v.Version, w.now())
	if err != nil {
		return nil, err
	}
	for _, s := range st {
		if opt.Stage != "" && s.Approval.Stage != opt.Stage {
			continue
		}
		if s.Valid() {
			if s.Approval.Digest != v.Digest {
				s.Notes = append(s.Notes, fmt.Sprintf("approves digest %s, not the version's %s", s.Approval.Digest, v.Digest))
			}
			if s.Approval.PolicyDigest != out.PolicyDigest {
				s.Notes = append(s.Notes, "made under another policy than the current "+approvalPolicyPath)
			}
		}
		out.Approvals = append(out.Approvals, s)
	}
	return out, nil
}
