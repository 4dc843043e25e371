package governance

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

func sampleEntry() *AuditEntry {
	return &AuditEntry{
		Trove: AuditFormat, Seq: 2, Prev: "blake3:" + strings.Repeat("ab", 32),
		TreeSize: 1, TreeHash: "sha256:" + strings.Repeat("01", 32),
		Commit: strings.Repeat("c", 40), Kind: AuditPromote, Name: "churn", Version: "v1.2.0", Stage: "production",
		Tag: "churn#production#3", TagTarget: strings.Repeat("d", 40), Artifact: "models/m.bin",
		Digest: "blake3:" + strings.Repeat("ee", 32), ManifestCommit: strings.Repeat("d", 40),
		At: "2026-03-01T12:00:00Z", By: "Ada <ada@example.com>", Principal: "ada@example.com",
		RecordDigest: "blake3:" + strings.Repeat("ff", 32), SignersDigest: "blake3:" + strings.Repeat("12", 32),
		PolicyDigest: "blake3:" + strings.Repeat("34", 32),
		Waivers:      []string{"fresh-data waived by alice@example.com until 2027-01-15T00:00:00Z: vendor delay"},
	}
}

func TestAuditEntryCanonical(t *testing.T) {
	b, err := EncodeAuditEntry(sampleEntry())
	if err != nil {
		t.Fatal(err)
	}
	e, err := DecodeAuditEntry(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(e, sampleEntry()) {
		t.Errorf("round trip: %+v", e)
	}
	for name, bad := range map[string][]byte{
		"no trailing newline": bytes.TrimSuffix(b, []byte("\n")),
		"compact":             []byte(strings.ReplaceAll(strings.ReplaceAll(string(b), "\n  ", ""), ": ", ":")),
		"unknown field":       bytes.Replace(b, []byte("{\n"), []byte("{\n  \"zzz\": 1,\n"), 1),
		"trailing data":       append(append([]byte(nil), b...), []byte("{}")...),
		"seq 1 with prev":     bytes.Replace(b, []byte(`"seq": 2`), []byte(`"seq": 1`), 1),
		"bad kind":            bytes.Replace(b, []byte(`"kind": "promote"`), []byte(`"kind": "promotes"`), 1),
		"tag of another name": bytes.Replace(b, []byte(`"tag": "churn#`), []byte(`"tag": "other#`), 1),
		"local time":          bytes.Replace(b, []byte(`2026-03-01T12:00:00Z`), []byte(`2026-03-01T12:00:00+01:00`), 1),
	} {
		if _, err := DecodeAuditEntry(bad); !errors.Is(err, ErrBadAuditEntry) {
			t.Errorf("%s: %v, want ErrBadAuditEntry", name, err)
		}
	}
	newer := bytes.Replace(b, []byte(`"trove_audit": 1`), []byte(`"trove_audit": 2`), 1)
	if _, err := DecodeAuditEntry(newer); !errors.Is(err, ErrNewerAudit) {
		t.Errorf("newer format: %v", err)
	}
}

// The tree hash is RFC 6962's: the empty tree is SHA-256 of nothing, a leaf is
// SHA-256(0x00 || data), and the split is at the largest power of two below
// the size.
func TestMerkleRoot(t *testing.T) {
	empty := sha256.Sum256(nil)
	if merkleRoot(nil) != empty {
		t.Error("empty tree")
	}
	// RFC 6962's leaf hash of the empty entry, as Certificate Transparency logs
	// compute it.
	if got := hex.EncodeToString(func() []byte { h := leafHash(nil); return h[:] }()); got != "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d" {
		t.Errorf("leaf hash of the empty entry: %s", got)
	}
	l := make([][32]byte, 5)
	for i := range l {
		l[i] = leafHash([]byte{byte(i)})
	}
	if merkleRoot(l[:1]) != l[0] {
		t.Error("one leaf")
	}
	if merkleRoot(l[:3]) != nodeHash(nodeHash(l[0], l[1]), l[2]) {
		t.Error("three leaves")
	}
	if merkleRoot(l) != nodeHash(nodeHash(nodeHash(l[0], l[1]), nodeHash(l[2], l[3])), l[4]) {
		t.Error("five leaves")
	}
}

// Writers that append at the same time, each with its own handle on the
// repository (as separate processes would), lose no entry: the ref moves by
// compare-and-swap and a writer that lost the race chains onto the winner.
func TestAppendAuditConcurrent(t *testing.T) {
	tr := newTestRepo(t)
	ctx := context.Background()
	const writers = 8
	tr.w.LockWait = time.Minute
	_, priv, err := ed25519.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{9}, 64)))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g, err := openGit(tr.dir)
			if err != nil {
				errs[i] = err
				return
			}
			_, errs[i] = appendAudit(ctx, tr.r, g, tr.w, AuditEntry{
				Kind: AuditApprove, Name: "m", Version: "v0.0.1", Stage: "production",
				Digest: "blake3:" + strings.Repeat("ab", 32), File: fmt.Sprintf(".trove/approvals/m/v0.0.1/production/%d.json", i),
				At: "2026-03-01T12:00:00Z", By: "Reg Tester <reg@example.com>", Principal: "reg@example.com",
				RecordDigest: "blake3:" + strings.Repeat("cd", 32),
			}, signer, nil)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("writer %d: %v", i, err)
		}
	}
	ev, err := CollectAuditEvidence(ctx, tr.dir)
	if err != nil {
		t.Fatal(err)
	}
	tx := VerifyAuditEvidence(ev, nil)
	chainOK := true
	for _, c := range tx.Failed() {
		chainOK = chainOK && c.Check != "chain" // signatures fail: no allowed signers here
	}
	if len(ev.Entries) != writers || !chainOK {
		var b strings.Builder
		WriteAuditTranscript(&b, tx)
		t.Fatalf("%d entries, want %d:\n%s", len(ev.Entries), writers, b.String())
	}
	files := map[string]bool{}
	for _, f := range ev.Entries {
		e, err := DecodeAuditEntry(f.Data)
		if err != nil {
			t.Fatal(err)
		}
		files[e.File] = true
	}
	if len(files) != writers {
		t.Errorf("%d distinct entries, want %d", len(files), writers)
	}
}

// The chain of a real registration and promotion verifies, and a known head
// that is no longer in it is reported.
func TestAuditChainOfRegistry(t *testing.T) {
	ctx := context.Background()
	tr := newTestRepo(t)
	if _, err := Register(ctx, tr.r, tr.w, RegisterOptions{Name: "m", Cwd: tr.dir}); err != nil {
		t.Fatal(err)
	}
	res, err := Promote(ctx, tr.r, tr.w, PromoteOptions{Ref: Ref{Name: "m", Version: "v0.0.1"}, Stage: "staging", Stages: DefaultStages})
	if err != nil {
		t.Fatal(err)
	}
	if res.Audit == nil || res.Audit.Seq != 2 || res.Audit.Signed {
		t.Fatalf("audit: %+v", res.Audit)
	}
	ev, err := CollectAuditEvidence(ctx, tr.dir)
	if err != nil {
		t.Fatal(err)
	}
	tx := VerifyAuditEvidence(ev, &KnownHead{Seq: 2, Digest: res.Audit.Digest, From: "test"})
	if !tx.OK || tx.Entries != 2 {
		var b strings.Builder
		WriteAuditTranscript(&b, tx)
		t.Fatalf("transcript:\n%s", b.String())
	}
	tx = VerifyAuditEvidence(ev, &KnownHead{Seq: 2, Digest: "blake3:" + strings.Repeat("0", 64), From: "test"})
	if tx.OK || len(tx.Failed()) != 1 || tx.Failed()[0].Check != "head" {
		t.Errorf("a rewritten head: %+v", tx.Failed())
	}
}

func FuzzDecodeAuditEntry(f *testing.F) {
	b, err := EncodeAuditEntry(sampleEntry())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	first := *sampleEntry()
	first.Seq, first.Prev, first.TreeSize = 1, "", 0
	if b, err := EncodeAuditEntry(&first); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"trove_audit": 1}`))
	f.Add([]byte(`{"trove_audit": 99}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := DecodeAuditEntry(data)
		if err != nil {
			if !errors.Is(err, ErrBadAuditEntry) && !errors.Is(err, ErrNewerAudit) {
				t.Fatalf("error %v wraps neither sentinel", err)
			}
			return
		}
		// One valid form: what decodes re-encodes to the same bytes.
		again, err := EncodeAuditEntry(e)
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("re-encoding differs: %v\n%q\n%q", err, data, again)
		}
	})
}

// The entry format is pinned byte for byte: a change here is a format change
// (bump AuditFormat), never a silent one.
func TestAuditEntryGolden(t *testing.T) {
	b, err := EncodeAuditEntry(sampleEntry())
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("testdata/audit-entry-v1.golden.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, want) {
		t.Errorf("encoding changed:\n%s\nwant:\n%s", b, want)
	}
	if _, err := DecodeAuditEntry(want); err != nil {
		t.Errorf("the golden entry does not decode: %v", err)
	}
}
