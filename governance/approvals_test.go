package governance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	tsign "github.com/trove-dev/trove/governance/sign"
	"github.com/trove-dev/trove/objects"
)

// These tests make keys with the real ssh-keygen and check what trove signs with
// it too: an approval is only worth something if stock OpenSSH agrees.

func needSSHKeygen(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("ssh-keygen is not installed; CI must run the signing tests")
		}
		t.Skip("ssh-keygen is not installed")
	}
}

// sshKey makes an ed25519 key with ssh-keygen in dir and returns its private
// key path and signer.
func sshKey(t *testing.T, dir, name string) (string, ssh.Signer) {
	t.Helper()
	p := filepath.Join(dir, name)
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", p).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	s, err := tsign.LoadPrivateKey(p)
	if err != nil {
		t.Fatal(err)
	}
	return p, s
}

func pubOf(s ssh.Signer) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.PublicKey())))
}

// approvalFixture is a repository with m@v0.0.1 registered and two keys.
type approvalFixture struct {
	*testRepo
	keys         string
	alice, bob   ssh.Signer
	alicePath    string
	digest       string
	allowedLines string
}

func newApprovalFixture(t *testing.T) *approvalFixture {
	t.Helper()
	needSSHKeygen(t)
	tr := newTestRepo(t)
	res, err := Register(context.Background(), tr.r, tr.w, RegisterOptions{Name: "m", Cwd: tr.dir})
	if err != nil {
		t.Fatal(err)
	}
	f := &approvalFixture{testRepo: tr, keys: t.TempDir(), digest: res.Record.Digest}
	f.alicePath, f.alice = sshKey(t, f.keys, "alice")
	_, f.bob = sshKey(t, f.keys, "bob")
	f.allowedLines = "alice@example.com " + pubOf(f.alice) + "\nbob@example.com " + pubOf(f.bob) + "\n"
	return f
}

func (f *approvalFixture) allowed(t *testing.T, text string) *tsign.AllowedSigners {
	t.Helper()
	as, err := tsign.ParseAllowedSigners(AllowedSignersFile, []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return as
}

func (f *approvalFixture) roles(t *testing.T, text string) *tsign.Roles {
	t.Helper()
	r, err := tsign.ParseRoles(RolesFile, []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

const aliceRiskRoles = "version: 1\nroles:\n  model-risk: [alice@example.com]\n  ml-lead: [bob@example.com]\n"

// approve makes one approval by alice for production.
func (f *approvalFixture) approve(t *testing.T, mod func(*ApproveOptions)) *ApproveResult {
	t.Helper()
	opt := ApproveOptions{
		Ref: Ref{Name: "m", Version: "v0.0.1"}, Stage: "production", Stages: DefaultStages, Comment: "looks good",
		Principal: "alice@example.com", Signer: f.alice, Allowed: f.allowed(t, f.allowedLines), RoleFile: f.roles(t, aliceRiskRoles),
	}
	if mod != nil {
		mod(&opt)
	}
	res, err := Approve(context.Background(), f.r, f.w, opt)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func (f *approvalFixture) load(t *testing.T, allowed *tsign.AllowedSigners, roles *tsign.Roles, now time.Time) []ApprovalStatus {
	t.Helper()
	st, err := LoadApprovalsDetailed(context.Background(), f.r, allowed, roles, "m", "v0.0.1", now)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestApproveRoundTrip(t *testing.T) {
	f := newApprovalFixture(t)
	ctx := context.Background()
	policyBytes := []byte("version: 1\nrules: []\n")
	os.WriteFile(filepath.Join(f.dir, ".trove", "policy.yaml"), policyBytes, 0o644)

	res := f.approve(t, nil)
	wantDir := ".trove/approvals/m/v0.0.1/production/"
	if !strings.HasPrefix(res.File, wantDir+"20260301T120000Z-") || !strings.HasSuffix(res.File, ".json") || res.SignatureFile != res.File+".sig" {
		t.Errorf("files %s, %s", res.File, res.SignatureFile)
	}
	if res.Record.Digest != f.digest || res.Record.PolicyDigest != objects.Hash(policyBytes).String() || res.Record.At != "2026-03-01T12:00:00Z" ||
		!slices.Equal(res.Record.Roles, []string{"model-risk"}) || !slices.Equal(res.RolesGranted, []string{"model-risk"}) || res.OwnRegistration {
		t.Errorf("result %+v", res)
	}
	if res.Fingerprint != ssh.FingerprintSHA256(f.alice.PublicKey()) {
		t.Errorf("fingerprint %s", res.Fingerprint)
	}
	data, err := os.ReadFile(filepath.Join(f.dir, res.File))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := DecodeApproval(data)
	if err != nil || rec.Comment != "looks good" {
		t.Fatalf("decode: %+v, %v", rec, err)
	}

	// ssh-keygen agrees, in namespace "trove" only.
	allowedPath := filepath.Join(f.keys, "allowed_signers")
	os.WriteFile(allowedPath, []byte(f.allowedLines), 0o644)
	verify := func(ns, principal string) error {
		cmd := exec.Command("ssh-keygen", "-Y", "verify", "-f", allowedPath, "-I", principal, "-n", ns, "-s", filepath.Join(f.dir, res.SignatureFile))
		cmd.Stdin = bytes.NewReader(data)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	}
	if err := verify("trove", "alice@example.com"); err != nil {
		t.Errorf("ssh-keygen -Y verify: %v", err)
	}
	if verify("git", "alice@example.com") == nil || verify("trove", "bob@example.com") == nil {
		t.Error("ssh-keygen accepted another namespace or principal")
	}

	// The loader gives the policy exactly this approval.
	aps, err := LoadApprovals(ctx, f.r, f.allowed(t, f.allowedLines), f.roles(t, aliceRiskRoles), "m", "v0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if len(aps) != 1 {
		t.Fatalf("approvals %+v", aps)
	}
	a := aps[0]
	if !a.ValidSignature || a.Signer != "alice@example.com" || a.Stage != "production" || a.Digest != f.digest ||
		a.PolicyDigest != res.Record.PolicyDigest || !a.At.Equal(f.now) || !slices.Equal(a.Roles, []string{"model-risk"}) {
		t.Errorf("approval %+v", a)
	}
	// Another version has none; a missing directory is no approvals.
	if aps, err := LoadApprovals(ctx, f.r, nil, nil, "m", "v9.0.0"); err != nil || len(aps) != 0 {
		t.Errorf("other version: %+v, %v", aps, err)
	}
	if _, err := LoadApprovals(ctx, f.r, nil, nil, "../m", "v0.0.1"); !errors.Is(err, ErrBadRef) {
		t.Errorf("bad name: %v", err)
	}

	// Two approvals by one key in the same second get distinct files.
	res2 := f.approve(t, nil)
	if res2.File == res.File || !strings.HasSuffix(res2.File, "-2.json") {
		t.Errorf("second file %s", res2.File)
	}
}

func TestEncodeDecodeApproval(t *testing.T) {
	rec := &ApprovalRecord{
		At: "2026-03-01T12:00:00Z", Comment: "<ok> & fine", Digest: "blake3:" + strings.Repeat("ab", 32), Name: "churn",
		Principal: "alice@example.com", Roles: []string{"ml-lead", "model-risk"}, Stage: "production", Trove: 1, Version: "v1.2.0",
	}
	b, err := EncodeApproval(rec)
	if err != nil {
		t.Fatal(err)
	}
	want := `{
  "at": "2026-03-01T12:00:00Z",
  "comment": "<ok> & fine",
  "digest": "blake3:` + strings.Repeat("ab", 32) + `",
  "name": "churn",
  "policy_digest": "",
  "principal": "alice@example.com",
  "roles": [
    "ml-lead",
    "model-risk"
  ],
  "stage": "production",
  "trove": 1,
  "version": "v1.2.0"
}
`
	if string(b) != want {
		t.Fatalf("encoding:\n%s\nwant:\n%s", b, want)
	}
	if got, err := DecodeApproval(b); err != nil || got.Comment != rec.Comment {
		t.Fatalf("decode: %+v, %v", got, err)
	}
	s := string(b)
	for _, c := range []struct {
		name, data string
		want       error
		msg        string
	}{
		{"unknown field", strings.Replace(s, `"trove": 1,`, `"trove": 1, "x": 1,`, 1), ErrBadApproval, `unknown field "x"`},
		{"newer format", strings.Replace(s, `"trove": 1,`, `"trove": 2,`, 1), ErrNewerApproval, "format 2"},
		{"no format", strings.Replace(s, `"trove": 1,`, ``, 1), ErrBadApproval, `no "trove"`},
		{"format 0", strings.Replace(s, `"trove": 1,`, `"trove": 0,`, 1), ErrBadApproval, "trove format 0"},
		{"trailing data", s + "{}", ErrBadApproval, ""},
		{"duplicate key", strings.Replace(s, `"name": "churn",`, `"name": "churn", "name": "churn",`, 1), ErrBadApproval, "canonical"},
		{"compact", strings.Join(strings.Fields(s), ""), ErrBadApproval, "canonical"},
		{"no newline", strings.TrimSuffix(s, "\n"), ErrBadApproval, "canonical"},
		{"roles unsorted", strings.Replace(s, `"ml-lead",
    "model-risk"`, `"model-risk",
    "ml-lead"`, 1), ErrBadApproval, "sorted"},
		{"local time", strings.Replace(s, `12:00:00Z`, `12:00:00+01:00`, 1), ErrBadApproval, "RFC 3339 time in UTC"},
		{"bad digest", strings.Replace(s, `"blake3:ab`, `"sha256:ab`, 1), ErrBadApproval, "digest"},
		{"pattern principal", strings.Replace(s, `alice@example.com`, `*@example.com`, 1), ErrBadApproval, "principal"},
		{"bad stage", strings.Replace(s, `"production"`, `"Prod"`, 1), ErrBadApproval, "stage"},
		{"bad version", strings.Replace(s, `"v1.2.0"`, `"1.2"`, 1), ErrBadApproval, "version"},
		{"not an object", `[1,2]`, ErrBadApproval, "not a JSON object"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeApproval([]byte(c.data))
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("err = %v, want %v containing %q", err, c.want, c.msg)
			}
		})
	}
	if _, err := EncodeApproval(&ApprovalRecord{At: rec.At, Digest: rec.Digest, Name: "m", Principal: "a@b", Stage: "dev", Trove: 1, Version: "v1.0.0", Expires: rec.At}); !errors.Is(err, ErrBadApproval) {
		t.Errorf("expires not after at: %v", err)
	}
}

func TestLoadApprovalsSignatureProblems(t *testing.T) {
	f := newApprovalFixture(t)
	res := f.approve(t, nil)
	recPath, sigPath := filepath.Join(f.dir, res.File), filepath.Join(f.dir, res.SignatureFile)
	data, _ := os.ReadFile(recPath)
	sig, _ := os.ReadFile(sigPath)
	roles := f.roles(t, aliceRiskRoles)
	restore := func() {
		os.WriteFile(recPath, data, 0o644)
		os.WriteFile(sigPath, sig, 0o644)
	}
	for _, c := range []struct {
		name    string
		setup   func(t *testing.T)
		allowed string // allowed-signers text; "-" for nil
		want    string // the problem, "" for valid
	}{
		{"valid", nil, f.allowedLines, ""},
		{"tampered record", func(t *testing.T) {
			// Still canonical, so only the signature can tell.
			os.WriteFile(recPath, bytes.Replace(data, []byte("looks good"), []byte("looks bad!"), 1), 0o644)
		}, f.allowedLines, "SSH signature does not verify"},
		{"tampered signature", func(t *testing.T) {
			other, err := tsign.Sign(f.alice, tsign.Namespace, []byte("something else"))
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(sigPath, other, 0o644)
		}, f.allowedLines, "SSH signature does not verify"},
		{"wrong namespace", func(t *testing.T) {
			gitSig, err := tsign.SignTagPayload(f.alice, data)
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(sigPath, gitSig, 0o644)
		}, f.allowedLines, `made for namespace "git", want "trove"`},
		{"garbage signature", func(t *testing.T) { os.WriteFile(sigPath, []byte("not a signature"), 0o644) }, f.allowedLines, "malformed SSH signature"},
		{"unknown key", nil, "bob@example.com " + pubOf(f.bob) + "\n", "is not in the allowed-signers file"},
		{"key allowed for another principal", nil, "bob@example.com " + pubOf(f.alice) + "\n", `for principal "alice@example.com"`},
		{"key allowed only for git", nil, `alice@example.com namespaces="git" ` + pubOf(f.alice) + "\n", `in namespace "trove"`},
		{"valid-before passed at the record's time", nil, `alice@example.com valid-before="20260201Z" ` + pubOf(f.alice) + "\n", "at 2026-03-01T12:00:00Z"},
		{"valid-after not reached", nil, `alice@example.com valid-after="20260302Z" ` + pubOf(f.alice) + "\n", "no allowed-signers entry accepts"},
		{"valid window", nil, `alice@example.com valid-after="20260201Z",valid-before="20260401Z" ` + pubOf(f.alice) + "\n", ""},
		{"pattern principal", nil, `*@example.com ` + pubOf(f.alice) + "\n", ""},
		{"negated principal", nil, `*@example.com,!alice@example.com ` + pubOf(f.alice) + "\n", "no allowed-signers entry accepts"},
		{"no allowed signers", nil, "-", "no .trove/allowed_signers"},
		{"filed under another stage", func(t *testing.T) {
			dir := filepath.Join(f.dir, ".trove/approvals/m/v0.0.1/staging")
			os.MkdirAll(dir, 0o755)
			os.Rename(recPath, filepath.Join(dir, "x.json"))
			os.Rename(sigPath, filepath.Join(dir, "x.json.sig"))
			t.Cleanup(func() { os.RemoveAll(dir) })
		}, f.allowedLines, "filed under m@v0.0.1/staging"},
		{"not canonical", func(t *testing.T) {
			os.WriteFile(recPath, append(bytes.TrimSuffix(data, []byte("\n")), ' ', '\n'), 0o644)
		}, f.allowedLines, "canonical"},
	} {
		t.Run(c.name, func(t *testing.T) {
			restore()
			if c.setup != nil {
				c.setup(t)
			}
			var allowed *tsign.AllowedSigners
			if c.allowed != "-" {
				allowed = f.allowed(t, c.allowed)
			}
			st := f.load(t, allowed, roles, f.now)
			if len(st) != 1 {
				t.Fatalf("%d approvals: %+v", len(st), st)
			}
			s := st[0]
			if s.Approval.ValidSignature != (c.want == "") || s.Valid() != (c.want == "") || !strings.Contains(s.Problem, c.want) {
				t.Fatalf("problem %q (valid %v), want %q", s.Problem, s.Approval.ValidSignature, c.want)
			}
			if c.want != "" && len(s.Approval.Roles) != 0 {
				t.Errorf("an invalid approval carries roles %v", s.Approval.Roles)
			}
			// Never dropped: the policy sees the invalid one too.
			aps, err := LoadApprovals(context.Background(), f.r, allowed, roles, "m", "v0.0.1")
			if err != nil || len(aps) != 1 || aps[0].ValidSignature != (c.want == "") {
				t.Errorf("LoadApprovals: %+v, %v", aps, err)
			}
		})
	}
}

func TestApprovalRolesAndExpiry(t *testing.T) {
	f := newApprovalFixture(t)
	allowed := f.allowed(t, f.allowedLines)
	// Alice claims two roles; roles.yaml gives her one.
	f.approve(t, func(o *ApproveOptions) { o.Roles = []string{"ml-lead", "model-risk"} })
	for _, c := range []struct {
		name        string
		roles       *tsign.Roles
		granted     []string
		notGranted  []string
		withAllowed bool
	}{
		{"per roles.yaml", f.roles(t, aliceRiskRoles), []string{"model-risk"}, []string{"ml-lead"}, false},
		{"no roles file", nil, []string{}, []string{"ml-lead", "model-risk"}, false},
		{"roles given to others", f.roles(t, "version: 1\nroles:\n  model-risk: [bob@example.com]\n  ml-lead: [alice@example.org]\n"), []string{}, []string{"ml-lead", "model-risk"}, false},
		// A roles file attached to the allowed signers does not add roles either:
		// only the roles argument grants.
		{"allowed.Roles is not a grant", nil, []string{}, []string{"ml-lead", "model-risk"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			as := allowed
			if c.withAllowed {
				as = f.allowed(t, f.allowedLines)
				as.Roles = f.roles(t, "version: 1\nroles:\n  ml-lead: [alice@example.com]\n  model-risk: [alice@example.com]\n")
			}
			st := f.load(t, as, c.roles, f.now)
			if len(st) != 1 || !st[0].Valid() {
				t.Fatalf("approvals %+v", st)
			}
			if !slices.Equal(st[0].Approval.Roles, c.granted) || !slices.Equal(st[0].RolesNotGranted, c.notGranted) {
				t.Errorf("granted %v, not granted %v; want %v, %v", st[0].Approval.Roles, st[0].RolesNotGranted, c.granted, c.notGranted)
			}
		})
	}

	// An approval that expires counts until then, and not without a clock.
	os.RemoveAll(filepath.Join(f.dir, ApprovalsDir))
	exp := f.now.Add(7 * 24 * time.Hour)
	res := f.approve(t, func(o *ApproveOptions) { o.Expires = exp; o.Stage = "staging" })
	if res.Record.Expires != "2026-03-08T12:00:00Z" {
		t.Errorf("expires %q", res.Record.Expires)
	}
	roles := f.roles(t, aliceRiskRoles)
	if st := f.load(t, allowed, roles, exp.Add(-time.Second)); !st[0].Valid() || st[0].Expired {
		t.Errorf("before expiry: %+v", st[0])
	}
	if st := f.load(t, allowed, roles, exp); st[0].Valid() || !st[0].Expired || !strings.Contains(st[0].Problem, "expired at 2026-03-08T12:00:00Z") {
		t.Errorf("at expiry: %+v", st[0])
	}
	if st := f.load(t, allowed, roles, time.Time{}); st[0].Valid() || !strings.Contains(st[0].Problem, "evaluation time is not known") {
		t.Errorf("without a clock: %+v", st[0])
	}
	aps, err := LoadApprovals(context.Background(), f.r, allowed, roles, "m", "v0.0.1")
	if err != nil || len(aps) != 1 || aps[0].ValidSignature {
		t.Errorf("LoadApprovals counts an approval whose expiry it cannot check: %+v, %v", aps, err)
	}
}

func TestApproveRefuses(t *testing.T) {
	f := newApprovalFixture(t)
	ctx := context.Background()
	base := func() ApproveOptions {
		return ApproveOptions{
			Ref: Ref{Name: "m", Version: "v0.0.1"}, Stage: "production", Stages: DefaultStages,
			Principal: "alice@example.com", Signer: f.alice, Allowed: f.allowed(t, f.allowedLines),
		}
	}
	// A key the file does not accept for the principal: the line that would.
	opt := base()
	opt.Allowed = f.allowed(t, "bob@example.com "+pubOf(f.bob)+"\n")
	_, err := Approve(ctx, f.r, f.w, opt)
	var na *SignerNotAllowedError
	if !errors.As(err, &na) || !errors.Is(err, tsign.ErrUnknownSigner) || na.Principal != "alice@example.com" ||
		na.Line != `alice@example.com namespaces="git,trove" `+pubOf(f.alice) {
		t.Fatalf("err = %v (%+v)", err, na)
	}
	// The line it suggests is one the parser, and then Verify, accept.
	opt.Allowed = f.allowed(t, na.Line+"\n")
	if _, err := Approve(ctx, f.r, f.w, opt); err != nil {
		t.Errorf("with the suggested line: %v", err)
	}
	os.RemoveAll(filepath.Join(f.dir, ApprovalsDir))

	for _, c := range []struct {
		name string
		mod  func(*ApproveOptions)
		want error
	}{
		{"bob's key as alice", func(o *ApproveOptions) { o.Signer = f.bob }, tsign.ErrUnknownSigner},
		{"unknown stage", func(o *ApproveOptions) { o.Stage = "prod" }, ErrUnknownStage},
		{"unknown version", func(o *ApproveOptions) { o.Ref.Version = "v1.0.0" }, ErrUnknownVersion},
		{"unknown model", func(o *ApproveOptions) { o.Ref = Ref{Name: "x", Version: "v1.0.0"} }, ErrUnknownModel},
		{"no version", func(o *ApproveOptions) { o.Ref.Version = "" }, ErrBadRef},
		{"no signer", func(o *ApproveOptions) { o.Signer = nil }, ErrBadApproval},
		{"no allowed signers", func(o *ApproveOptions) { o.Allowed = nil }, ErrNoAllowedSigners},
		{"expired already", func(o *ApproveOptions) { o.Expires = f.now }, ErrBadApproval},
		{"bad role", func(o *ApproveOptions) { o.Roles = []string{"Risk"} }, ErrBadApproval},
		{"pattern principal", func(o *ApproveOptions) { o.Principal = "*@example.com" }, ErrBadApproval},
		{"long comment", func(o *ApproveOptions) { o.Comment = strings.Repeat("x", 5000) }, ErrBadApproval},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := base()
			c.mod(&o)
			if _, err := Approve(ctx, f.r, f.w, o); !errors.Is(err, c.want) {
				t.Errorf("err = %v, want %v", err, c.want)
			}
			if _, err := os.Stat(filepath.Join(f.dir, ApprovalsDir)); !errors.Is(err, os.ErrNotExist) {
				t.Error("a refused approval wrote files")
			}
		})
	}

	// A deprecated version cannot be approved.
	if _, err := Deprecate(ctx, f.r, f.w, DeprecateOptions{Ref: Ref{Name: "m", Version: "v0.0.1"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := Approve(ctx, f.r, f.w, base()); !errors.Is(err, ErrNotApprovable) {
		t.Errorf("deprecated: %v", err)
	}
}

func TestApproveOwnRegistrationAndIdentity(t *testing.T) {
	f := newApprovalFixture(t)
	// Without a principal, git's identity (here GIT_COMMITTER_EMAIL) approves:
	// the registrant, which the policy's distinct_from_author will not count.
	res := f.approve(t, func(o *ApproveOptions) {
		o.Principal = ""
		o.Allowed = f.allowed(t, "reg@example.com "+pubOf(f.alice)+"\n")
	})
	if res.Record.Principal != "reg@example.com" || !res.OwnRegistration {
		t.Errorf("result %+v", res)
	}
}

func TestLoadApprovalsHostile(t *testing.T) {
	f := newApprovalFixture(t)
	res := f.approve(t, nil)
	allowed, roles := f.allowed(t, f.allowedLines), f.roles(t, aliceRiskRoles)
	prod := filepath.Join(f.dir, ".trove/approvals/m/v0.0.1/production")
	good, _ := os.ReadFile(filepath.Join(f.dir, res.File))
	goodSig, _ := os.ReadFile(filepath.Join(f.dir, res.SignatureFile))
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "a.json"), good, 0o644)
	os.WriteFile(filepath.Join(outside, "a.json.sig"), goodSig, 0o644)

	write := func(name string, b []byte) { os.WriteFile(filepath.Join(prod, name), b, 0o644) }
	write("huge.json", bytes.Repeat([]byte(" "), MaxApprovalSize+1))
	write("huge.json.sig", goodSig)
	write("bigsig.json", good)
	write("bigsig.json.sig", bytes.Repeat([]byte("A"), MaxApprovalSize+1))
	write("junk.json", []byte("\x00\xff{{{"))
	write("junk.json.sig", goodSig)
	os.Symlink(filepath.Join(outside, "a.json"), filepath.Join(prod, "link.json"))
	write("link.json.sig", goodSig)
	write("linksig.json", good)
	os.Symlink(filepath.Join(outside, "a.json.sig"), filepath.Join(prod, "linksig.json.sig"))
	if err := syscall.Mkfifo(filepath.Join(prod, "fifo.json"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(filepath.Join(prod, "dir.json"), 0o755)
	write("README.md", []byte("not a record"))
	write(".tmp-x.json-123", []byte("a temp file"))
	os.Symlink(outside, filepath.Join(f.dir, ".trove/approvals/m/v0.0.1/staging"))

	done := make(chan []ApprovalStatus)
	go func() { done <- f.load(t, allowed, roles, f.now) }()
	var st []ApprovalStatus
	select {
	case st = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the loader blocked (on the FIFO?)")
	}
	got := map[string]string{}
	for _, s := range st {
		got[path.Base(s.File)] = s.Problem
		if s.File != res.File && (s.Valid() || s.Approval.ValidSignature) {
			t.Errorf("%s counts: %+v", s.File, s)
		}
	}
	want := map[string]string{
		path.Base(res.File): "",
		"huge.json":         "the record is 65537 bytes; the limit is 65536",
		"bigsig.json":       "the signature is 65537 bytes",
		"junk.json":         "not a JSON object",
		"link.json":         "the record is a symlink",
		"linksig.json":      "the signature is a symlink",
		"fifo.json":         "the record is not a regular file",
		"dir.json":          "the record is not a regular file",
		"staging":           "not a stage directory",
	}
	for name, problem := range want {
		p, ok := got[name]
		if !ok {
			t.Errorf("%s not reported", name)
			continue
		}
		if (problem == "") != (p == "") || !strings.Contains(p, problem) {
			t.Errorf("%s: problem %q, want %q", name, p, problem)
		}
	}
	if len(got) != len(want) {
		t.Errorf("reported %v", got)
	}

	// A symlinked version or approvals directory is an error, not a silent
	// read of something else.
	ctx := context.Background()
	vdir := filepath.Join(f.dir, ".trove/approvals/m/v0.0.1")
	os.Rename(vdir, vdir+".real")
	os.Symlink("v0.0.1.real", vdir)
	if _, err := LoadApprovals(ctx, f.r, allowed, roles, "m", "v0.0.1"); !errors.Is(err, ErrApprovals) {
		t.Errorf("symlinked version directory: %v", err)
	}
	os.Remove(vdir)
	os.Rename(vdir+".real", vdir)
	adir := filepath.Join(f.dir, ApprovalsDir)
	os.Rename(adir, adir+".real")
	os.Symlink("approvals.real", adir)
	if _, err := LoadApprovals(ctx, f.r, allowed, roles, "m", "v0.0.1"); !errors.Is(err, ErrApprovals) {
		t.Errorf("symlinked approvals directory: %v", err)
	}
	// Approve refuses to write through it too.
	if _, err := Approve(ctx, f.r, f.w, ApproveOptions{Ref: Ref{Name: "m", Version: "v0.0.1"}, Stage: "dev", Stages: DefaultStages,
		Principal: "alice@example.com", Signer: f.alice, Allowed: allowed}); !errors.Is(err, ErrApprovals) {
		t.Errorf("Approve through a symlink: %v", err)
	}
	os.Remove(adir)
	os.Rename(adir+".real", adir)

	// More files than the bound is an error, whatever they are.
	many := filepath.Join(f.dir, ".trove/approvals/m/v0.0.1/dev")
	os.MkdirAll(many, 0o755)
	for i := 0; i <= MaxApprovalFiles; i++ {
		if err := os.WriteFile(filepath.Join(many, fmt.Sprintf("%05d", i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := LoadApprovals(ctx, f.r, allowed, roles, "m", "v0.0.1"); !errors.Is(err, ErrApprovals) || !strings.Contains(err.Error(), "more than 10000 files") {
		t.Errorf("too many files: %v", err)
	}
}

func TestReadTrustFiles(t *testing.T) {
	tr := newTestRepo(t)
	if _, err := ReadAllowedSigners(tr.r); !errors.Is(err, ErrNoAllowedSigners) {
		t.Errorf("missing allowed signers: %v", err)
	}
	if r, err := ReadRoles(tr.r); err != nil || r != nil {
		t.Errorf("missing roles: %v, %v", r, err)
	}
	trove := filepath.Join(tr.dir, ".trove")
	os.WriteFile(filepath.Join(trove, "roles.yaml"), []byte("version: 2\n"), 0o644)
	if _, err := ReadRoles(tr.r); !errors.Is(err, tsign.ErrRoles) {
		t.Errorf("bad roles: %v", err)
	}
	os.WriteFile(filepath.Join(trove, "allowed_signers"), []byte("ssh-ed25519 AAAA\n"), 0o644)
	if _, err := ReadAllowedSigners(tr.r); !errors.Is(err, tsign.ErrAllowedSigners) {
		t.Errorf("bad allowed signers: %v", err)
	}
	// Trust comes from the committed file itself, never through a symlink.
	elsewhere := filepath.Join(t.TempDir(), "signers")
	os.WriteFile(elsewhere, []byte("# anyone\n"), 0o644)
	os.Remove(filepath.Join(trove, "allowed_signers"))
	os.Symlink(elsewhere, filepath.Join(trove, "allowed_signers"))
	if _, err := ReadAllowedSigners(tr.r); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("symlinked allowed signers: %v", err)
	}
}
