package governance

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"golang.org/x/crypto/ssh"

	tsign "github.com/trove-dev/trove/governance/sign"
)

func testSigner(t *testing.T, seed byte) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{seed}, 64)))
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func approveEntry(n int, at string) AuditEntry {
	return AuditEntry{
		Kind: AuditApprove, Name: "m", Version: "v0.0.1", Stage: "production",
		Digest: "blake3:" + strings.Repeat("ab", 32), File: fmt.Sprintf(".trove/approvals/m/v0.0.1/production/%d.json", n),
		At: at, By: "Reg Tester <reg@example.com>", Principal: "reg@example.com",
		RecordDigest: fmt.Sprintf("blake3:%064x", n),
	}
}

// forkedChains appends entry 1, then entry 2 on one side (the remote's) and
// entries 12 and 13 on the other (the local one, which AuditRef is left at):
// 12 signed by a, made before the remote's entry 2; 13 an unsigned refusal,
// with its decision document.
//
// trusted: a is in .trove/allowed_signers, and signs 13 too, so that the
// chains verify.
func forkedChains(t *testing.T, a ssh.Signer, trusted bool) (tr *testRepo, remote, local *AuditLog) {
	t.Helper()
	ctx := context.Background()
	tr = newTestRepo(t)
	if trusted {
		if err := os.WriteFile(filepath.Join(tr.dir, AllowedSignersFile), []byte(AllowedSignersLine("reg@example.com", a.PublicKey())+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		tr.commitModel("v2")
	}
	app := func(e AuditEntry, s ssh.Signer) {
		t.Helper()
		var record []byte
		if e.Kind == AuditDeny {
			record = []byte(`{"allowed": false}`)
			e.RecordDigest = EntryDigest(record)
		}
		if _, err := appendAudit(ctx, tr.r, tr.g, tr.w, e, s, record); err != nil {
			t.Fatal(err)
		}
	}
	head := func() plumbing.Hash {
		ref, err := tr.g.Reference(plumbing.ReferenceName(AuditRef), true)
		if err != nil {
			t.Fatal(err)
		}
		return ref.Hash()
	}
	app(approveEntry(1, "2026-03-01T10:00:00Z"), a)
	base := head()
	app(approveEntry(2, "2026-03-02T10:00:00Z"), a)
	remoteHead := head()
	if err := tr.g.Storer.SetReference(plumbing.NewHashReference(plumbing.ReferenceName(AuditRef), base)); err != nil {
		t.Fatal(err)
	}
	app(approveEntry(12, "2026-03-02T09:00:00Z"), a)
	deny := approveEntry(13, "2026-03-02T11:00:00Z")
	deny.Kind, deny.File, deny.Principal = AuditDeny, "", ""
	if trusted {
		deny.Principal = "reg@example.com"
		app(deny, a)
	} else {
		app(deny, nil)
	}
	var err error
	if remote, err = readAuditLog(tr.g, remoteHead); err != nil {
		t.Fatal(err)
	}
	if local, err = readAuditLog(tr.g, head()); err != nil {
		t.Fatal(err)
	}
	return tr, remote, local
}

func TestPlanAuditSync(t *testing.T) {
	a := testSigner(t, 1)
	tr, remote, local := forkedChains(t, a, false)
	p, err := planAuditSync(local.Files, remote.Files)
	if err != nil {
		t.Fatal(err)
	}
	if p.common != 1 || fmt.Sprint(p.moved) != "[1 2]" || len(p.skipped) != 0 {
		t.Errorf("fork: %+v", p)
	}
	// The remote's chain as it is after a sync: the same acts re-appended
	// are not appended twice.
	head, _, err := reappendAudit(tr.g, plumbing.NewHash(remote.Head), remote.Files, local.Files[1:], func() ([]ssh.Signer, error) { return []ssh.Signer{a}, nil }, tr.now)
	if err != nil {
		t.Fatal(err)
	}
	synced, err := readAuditLog(tr.g, head)
	if err != nil {
		t.Fatal(err)
	}
	if p, err = planAuditSync(local.Files, synced.Files); err != nil || p.common != 1 || len(p.moved) != 0 || fmt.Sprint(p.skipped) != "[1 2]" {
		t.Errorf("already synced: %+v %v", p, err)
	}
	for name, c := range map[string]struct {
		local, remote []AuditFile
		common        int
		moved         string
	}{
		"same":           {local.Files, local.Files, 3, "[]"},
		"local behind":   {local.Files[:1], local.Files, 1, "[]"},
		"local ahead":    {local.Files, local.Files[:1], 1, "[1 2]"},
		"no remote":      {local.Files, nil, 0, "[0 1 2]"},
		"no local chain": {nil, remote.Files, 0, "[]"},
	} {
		p, err := planAuditSync(c.local, c.remote)
		if err != nil || p.common != c.common || fmt.Sprint(append([]int{}, p.moved...)) != c.moved {
			t.Errorf("%s: %+v %v", name, p, err)
		}
	}
	bad := append([]AuditFile{}, local.Files...)
	bad[2].Data = []byte("{}")
	if _, err := planAuditSync(bad, remote.Files); !errors.Is(err, ErrBadAuditEntry) {
		t.Errorf("an undecodable local entry: %v", err)
	}
}

// Re-appended entries get the seq, prev and root of their new place and
// appended_at, keep everything else, and are signed again by the key that
// signed them; the chain links and verifies.
func TestReappendAudit(t *testing.T) {
	a, b := testSigner(t, 1), testSigner(t, 2)
	tr, remote, local := forkedChains(t, a, false)
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	opened := 0
	signers := func() ([]ssh.Signer, error) { opened++; return []ssh.Signer{b, a}, nil }
	head, out, err := reappendAudit(tr.g, plumbing.NewHash(remote.Head), remote.Files, local.Files[1:], signers, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 || out[0].Seq != 3 || !out[0].Signed || out[1].Seq != 4 || out[1].Signed {
		t.Errorf("reappended: %+v", out)
	}
	if opened != 1 {
		t.Errorf("the keys were asked for %d times, want once (for the one signed entry)", opened)
	}
	n, err := readAuditLog(tr.g, head)
	if err != nil {
		t.Fatal(err)
	}
	if len(n.Files) != 4 || !bytes.Equal(n.Files[1].Data, remote.Files[1].Data) {
		t.Fatalf("the new chain does not start with the remote's: %d entries", len(n.Files))
	}
	for i, want := range []*AuditFile{&local.Files[1], &local.Files[2]} {
		got := n.Files[2+i]
		ge, err := DecodeAuditEntry(got.Data)
		if err != nil {
			t.Fatal(err)
		}
		we, _ := DecodeAuditEntry(want.Data)
		if ge.AppendedAt != "2026-03-02T12:00:00Z" || ge.At != we.At || ge.Seq != 3+i || ge.Prev != EntryDigest(n.Files[1+i].Data) {
			t.Errorf("entry %d: seq %d at %s appended_at %s prev %s", 3+i, ge.Seq, ge.At, ge.AppendedAt, ge.Prev)
		}
		gk, _ := auditContentKey(got.Data)
		wk, _ := auditContentKey(want.Data)
		if gk != wk {
			t.Errorf("entry %d: content changed:\n%s\nwant\n%s", 3+i, gk, wk)
		}
		if !bytes.Equal(got.Record, want.Record) {
			t.Errorf("entry %d: the decision document was not carried over", 3+i)
		}
		if (got.Sig != nil) != (want.Sig != nil) {
			t.Errorf("entry %d: signed %v, was %v", 3+i, got.Sig != nil, want.Sig != nil)
		}
		if got.Sig != nil {
			s, err := tsign.ParseSignature(got.Sig)
			if err != nil || !bytes.Equal(s.PublicKey.Marshal(), a.PublicKey().Marshal()) {
				t.Errorf("entry %d: re-signed by another key than a: %v", 3+i, err)
			}
			if bytes.Equal(got.Sig, want.Sig) {
				t.Errorf("entry %d: the old signature was kept", 3+i)
			}
		}
	}
	ev, err := collectAuditEvidence(context.Background(), tr.g, n)
	if err != nil {
		t.Fatal(err)
	}
	tx := VerifyAuditEvidence(ev, nil)
	for _, c := range tx.Checks {
		if c.Check == "chain" && c.Status != CheckOK {
			t.Errorf("chain: %+v", c)
		}
	}
	if missing := missingByContent(local.Files, n.Files); missing != "" {
		t.Errorf("the local entries are not all in the synced chain: %s", missing)
	}
	if missing := missingByContent(remote.Files, n.Files); missing != "" {
		t.Errorf("the remote entries are not all in the synced chain: %s", missing)
	}
	if missing := missingByContent(n.Files, remote.Files); !strings.Contains(missing, "entry 3 verified before") {
		t.Errorf("a chain without the re-appended entries: %q", missing)
	}
}

// An entry signed by a key not given is never re-signed.
func TestReappendAuditForeignSigner(t *testing.T) {
	a, b := testSigner(t, 1), testSigner(t, 2)
	tr, remote, local := forkedChains(t, a, false)
	for name, keys := range map[string][]ssh.Signer{"another key": {b}, "no key": nil} {
		_, _, err := reappendAudit(tr.g, plumbing.NewHash(remote.Head), remote.Files, local.Files[1:], func() ([]ssh.Signer, error) { return keys, nil }, tr.now)
		var fe *ForeignSignerError
		if !errors.As(err, &fe) || fe.Seq != 2 || fe.Fingerprint != ssh.FingerprintSHA256(a.PublicKey()) || fe.Principal != "reg@example.com" {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Unsigned entries need no key.
	if _, _, err := reappendAudit(tr.g, plumbing.NewHash(remote.Head), remote.Files, local.Files[2:], func() ([]ssh.Signer, error) { return nil, nil }, tr.now); err != nil {
		t.Errorf("an unsigned entry: %v", err)
	}
}

// appended_at is never before at, nor before the entry before it, whatever
// the clock says.
func TestReappendAuditClockBehind(t *testing.T) {
	a := testSigner(t, 1)
	tr, remote, local := forkedChains(t, a, false)
	head, _, err := reappendAudit(tr.g, plumbing.NewHash(remote.Head), remote.Files, local.Files[1:], func() ([]ssh.Signer, error) { return []ssh.Signer{a}, nil }, time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	n, err := readAuditLog(tr.g, head)
	if err != nil {
		t.Fatal(err)
	}
	e3, _ := DecodeAuditEntry(n.Files[2].Data)
	e4, _ := DecodeAuditEntry(n.Files[3].Data)
	if e3.AppendedAt != "2026-03-02T10:00:00Z" || e4.AppendedAt != "2026-03-02T11:00:00Z" {
		t.Errorf("appended_at %s, %s", e3.AppendedAt, e4.AppendedAt)
	}
}

func TestAppendedAtDecoding(t *testing.T) {
	e := sampleEntry()
	e.AppendedAt = "2026-03-01T11:00:00Z" // before at
	if _, err := EncodeAuditEntry(e); !errors.Is(err, ErrBadAuditEntry) {
		t.Errorf("appended_at before at: %v", err)
	}
	e.AppendedAt = "2026-03-02T11:00:00Z"
	b, err := EncodeAuditEntry(e)
	if err != nil {
		t.Fatal(err)
	}
	if d, err := DecodeAuditEntry(b); err != nil || d.AppendedAt != e.AppendedAt {
		t.Errorf("round trip: %v", err)
	}
}

func TestTagConflicts(t *testing.T) {
	mk := func(seq int, tag string) AuditFile {
		e := sampleEntry()
		e.Seq, e.TreeSize, e.Tag = seq, seq-1, tag
		if seq == 1 {
			e.Prev = ""
		}
		b, err := EncodeAuditEntry(e)
		if err != nil {
			t.Fatal(err)
		}
		return AuditFile{Name: auditFileName(seq), Data: b}
	}
	remote := []AuditFile{mk(1, "churn#production#1"), mk(2, "churn#production#2")}
	local := []AuditFile{mk(1, "churn#production#1"), mk(2, "churn#production#3")}
	p := &syncPlan{common: 1, moved: []int{1}}
	if err := tagConflicts(local, remote, p, "origin"); err != nil {
		t.Errorf("distinct tags: %v", err)
	}
	local[1] = mk(2, "churn#production#2")
	local[1].Data = bytes.Replace(local[1].Data, []byte(`"at": "2026-03-01T12:00:00Z"`), []byte(`"at": "2026-03-01T12:00:01Z"`), 1)
	if err := tagConflicts(local, remote, p, "origin"); !errors.Is(err, ErrAuditSyncConflict) {
		t.Errorf("the same tag: %v", err)
	}
}

// gitRunner runs git for real.
type gitRunner struct{}

func (gitRunner) Run(ctx context.Context, c Cmd) (int, error) {
	cmd := exec.CommandContext(ctx, c.Args[0], c.Args[1:]...)
	cmd.Dir, cmd.Stdin, cmd.Stdout, cmd.Stderr = c.Dir, c.Stdin, c.Stdout, c.Stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), nil
	}
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrNotStarted, err)
	}
	return 0, nil
}

// Two syncs at once in a forked clone: they take turns under the lock, each
// fetching to its own refs, and the chain ends with every entry once.
func TestSyncAuditConcurrent(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	a := testSigner(t, 1)
	tr, remote, local := forkedChains(t, a, true)
	origin := t.TempDir()
	ctx := context.Background()
	git := func(args ...string) {
		t.Helper()
		var out bytes.Buffer
		if code, err := (gitRunner{}).Run(ctx, Cmd{Args: append([]string{"git"}, args...), Dir: tr.dir, Stdout: &out, Stderr: &out}); err != nil || code != 0 {
			t.Fatalf("git %v: %d %v: %s", args, code, err, out.String())
		}
	}
	git("init", "-q", "--bare", origin)
	git("remote", "add", "origin", origin)
	git("push", "-q", "origin", remote.Head+":"+AuditRef)
	tr.w.Runner, tr.w.LockWait = gitRunner{}, time.Minute
	results := make([]*AuditSyncResult, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = SyncAudit(ctx, tr.r, tr.w, AuditSyncOptions{Signers: []ssh.Signer{a}})
		}()
	}
	wg.Wait()
	kinds := map[string]bool{}
	for i := range results {
		if errs[i] != nil {
			if results[i] != nil && results[i].Transcript != nil {
				t.Logf("%+v", results[i].Transcript.Failed())
			}
			t.Fatalf("sync %d: %v", i, errs[i])
		}
		kinds[results[i].Result] = true
	}
	if !kinds[SyncReappended] || !kinds[SyncAhead] {
		t.Errorf("results %v, want one re-append and one finding the chain ahead", kinds)
	}
	n, err := readAuditLog(tr.g, plumbing.ZeroHash)
	if err != nil {
		t.Fatal(err)
	}
	if len(n.Files) != 4 || missingByContent(local.Files, n.Files) != "" || missingByContent(remote.Files, n.Files) != "" {
		t.Errorf("%d entries; local entries missing: %q", len(n.Files), missingByContent(local.Files, n.Files))
	}
	refs, err := tr.g.References()
	if err != nil {
		t.Fatal(err)
	}
	refs.ForEach(func(ref *plumbing.Reference) error {
		if name := ref.Name().String(); strings.HasPrefix(name, "refs/trove-sync/origin/fetched/") || strings.HasPrefix(name, AuditBackupPrefix) {
			t.Errorf("left behind: %s", name)
		}
		return nil
	})
	for _, name := range []string{AuditVerifiedRef, AuditRemoteRef("origin")} {
		ref, err := tr.g.Reference(plumbing.ReferenceName(name), true)
		want := n.Head
		if name != AuditVerifiedRef {
			want = remote.Head
		}
		if err != nil || ref.Hash().String() != want {
			t.Errorf("%s: %v %v, want %s", name, ref, err, want)
		}
	}
}
