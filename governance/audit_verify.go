package governance

// Verifying the audit chain. The evidence (AuditEvidence: the chain's files,
// the allowed-signers file as of each commit an entry names, the registry
// tags, the manifests the entries name, the committed approvals, and the
// history of the allowed-signers file) is gathered from git once
// (CollectAuditEvidence); VerifyAuditEvidence checks it without git, so the
// same code checks a repository and a bundle (audit_bundle.go) outside any
// repository.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"golang.org/x/crypto/ssh"

	"github.com/trove-dev/trove/governance/policy"
	tsign "github.com/trove-dev/trove/governance/sign"
	"github.com/trove-dev/trove/manifest"
	"github.com/trove-dev/trove/objects"
)

// Check statuses. Only CheckFail makes verification fail.
const (
	CheckOK    = "ok"
	CheckFail  = "FAIL"
	CheckWarn  = "warn"
	CheckSkip  = "skip"
	CheckEvent = "event"
)

// AuditCheck is one line of a verification transcript.
type AuditCheck struct {
	// Check is what was checked: chain, signature, tag, digest, approval,
	// head, trust, content, lineage.
	Check string `json:"check"`
	// Subject is what it was checked on: "entry 3 (promote churn#production#3)".
	Subject string `json:"subject"`
	Status  string `json:"status"`
	Detail  string `json:"detail"`
}

// AuditTranscript is the result of verifying the chain: every check with its
// result, in order. OK is false when any check failed.
type AuditTranscript struct {
	Ref      string       `json:"ref"`
	Head     string       `json:"head"`
	Entries  int          `json:"entries"`
	TreeHash string       `json:"tree_hash"` // RFC 6962 root over every entry
	LastSeq  int          `json:"last_seq"`
	Last     string       `json:"last_digest,omitempty"`
	Checks   []AuditCheck `json:"checks"`
	Failures int          `json:"failures"`
	OK       bool         `json:"ok"`
}

// Add appends a check, counting failures.
func (t *AuditTranscript) Add(check, subject, status, format string, args ...any) {
	t.Checks = append(t.Checks, AuditCheck{Check: check, Subject: subject, Status: status, Detail: fmt.Sprintf(format, args...)})
	if status == CheckFail {
		t.Failures++
	}
	t.OK = t.Failures == 0
}

// Failed returns the failed checks.
func (t *AuditTranscript) Failed() []AuditCheck {
	var out []AuditCheck
	for _, c := range t.Checks {
		if c.Status == CheckFail {
			out = append(out, c)
		}
	}
	return out
}

// WriteAuditTranscript writes the transcript as text, one check a line.
func WriteAuditTranscript(w io.Writer, t *AuditTranscript) error {
	head := t.Head
	if head == "" {
		head = "(none)"
	}
	if _, err := fmt.Fprintf(w, "audit chain %s at %s: %d entries, tree %s\n", t.Ref, short(head), t.Entries, t.TreeHash); err != nil {
		return err
	}
	for _, c := range t.Checks {
		if _, err := fmt.Fprintf(w, "%-5s %-9s %s: %s\n", c.Status, c.Check, c.Subject, c.Detail); err != nil {
			return err
		}
	}
	verdict := "verified"
	if !t.OK {
		verdict = fmt.Sprintf("FAILED: %d check(s) failed", t.Failures)
	}
	_, err := fmt.Fprintf(w, "result: %s\n", verdict)
	return err
}

// CommitEvidence is what the verifier needs of a commit an entry names.
type CommitEvidence struct {
	Time time.Time `json:"time"`
	// Signers is .trove/allowed_signers in that commit's tree; HasSigners is
	// false when it has none.
	Signers    string `json:"signers,omitempty"`
	HasSigners bool   `json:"has_signers"`
}

// TagEvidence is one registry tag with a trove record.
type TagEvidence struct {
	Target string `json:"target"`
	Record string `json:"record"` // the record as EncodeRecord writes it
	Signed bool   `json:"signed"`
}

// SignersChange is a commit that changed .trove/allowed_signers: a governance
// event, reported and never applied to records made before it.
type SignersChange struct {
	Commit  string    `json:"commit"`
	Time    time.Time `json:"time"`
	Author  string    `json:"author"`
	Added   []string  `json:"added,omitempty"`   // "principals key-fingerprint"
	Removed []string  `json:"removed,omitempty"` // same
	Signers string    `json:"signers"`           // the file after the change
}

// KnownHead is a chain head verified before: the chain must still contain
// that entry, unchanged.
type KnownHead struct {
	Seq    int    `json:"seq"`
	Digest string `json:"digest"`
	From   string `json:"from"` // where it comes from, for messages
}

// AuditEvidence is everything the chain's verification reads.
type AuditEvidence struct {
	Format  int         `json:"trove_audit_evidence"`
	Ref     string      `json:"ref"`
	Head    string      `json:"head"`
	Entries []AuditFile `json:"entries"`
	Stray   []string    `json:"stray,omitempty"`
	// Commits are the commits entries name.
	Commits map[string]CommitEvidence `json:"commits"`
	// Tags are the registry tags that carry a trove record, by name.
	Tags map[string]TagEvidence `json:"tags"`
	// Manifests are the manifests entries name, "commit:path" -> the file.
	Manifests map[string]string `json:"manifests"`
	// Approvals are the approval records committed at HEAD: path -> digest.
	Approvals map[string]string `json:"approvals"`
	// SignersHistory are the changes of .trove/allowed_signers in HEAD's
	// history, oldest first.
	SignersHistory []SignersChange `json:"signers_history"`
	// RepoHead is the repository's HEAD when the evidence was collected.
	RepoHead string `json:"repo_head"`
}

// CollectAuditEvidence reads the chain at AuditRef and what verifying it needs
// from the repository at root.
func CollectAuditEvidence(ctx context.Context, root string) (*AuditEvidence, error) {
	g, err := openGit(root)
	if err != nil {
		return nil, err
	}
	log, err := readAuditLog(g, plumbing.ZeroHash)
	if err != nil {
		return nil, err
	}
	return collectAuditEvidence(ctx, g, log)
}

// collectAuditEvidence gathers the evidence for the chain log, which need not
// be AuditRef's (`trove audit sync` checks the chain it is about to write).
func collectAuditEvidence(ctx context.Context, g *git.Repository, log *AuditLog) (*AuditEvidence, error) {
	ev := &AuditEvidence{Format: 1, Ref: AuditRef, Head: log.Head, Entries: log.Files, Stray: log.Stray,
		Commits: map[string]CommitEvidence{}, Tags: map[string]TagEvidence{}, Manifests: map[string]string{}, Approvals: map[string]string{}}
	head, err := headHash(g)
	if err != nil {
		return nil, err
	}
	ev.RepoHead = head.String()
	for _, f := range log.Files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		e, err := DecodeAuditEntry(f.Data)
		if err != nil {
			continue // the verifier reports it
		}
		if _, ok := ev.Commits[e.Commit]; !ok {
			if c, err := g.CommitObject(plumbing.NewHash(e.Commit)); err == nil {
				ce := CommitEvidence{Time: c.Committer.When.UTC()}
				if b, ok, err := fileAt(g, e.Commit, AllowedSignersFile, tsign.MaxAllowedSignersSize); err == nil && ok {
					ce.Signers, ce.HasSigners = string(b), true
				}
				ev.Commits[e.Commit] = ce
			}
		}
		if e.ManifestCommit != "" && e.Artifact != "" {
			key := e.ManifestCommit + ":" + e.Artifact
			if _, ok := ev.Manifests[key]; !ok {
				if b, ok, err := fileAt(g, e.ManifestCommit, e.Artifact+manifest.Ext, manifest.MaxManifestSize); err == nil && ok {
					ev.Manifests[key] = string(b)
				}
			}
		}
	}
	if err := collectTags(g, ev); err != nil {
		return nil, err
	}
	if !head.IsZero() {
		if err := collectApprovals(g, head, ev); err != nil {
			return nil, err
		}
		if ev.SignersHistory, err = signersHistory(ctx, g, head); err != nil {
			return nil, err
		}
	}
	return ev, nil
}

func collectTags(g *git.Repository, ev *AuditEvidence) error {
	refs, err := g.Tags()
	if err != nil {
		return err
	}
	defer refs.Close()
	return refs.ForEach(func(ref *plumbing.Reference) error {
		name := ref.Name().Short()
		if te, ok := tagEvidence(g, name, ref.Hash()); ok {
			ev.Tags[name] = te
		}
		return nil
	})
}

// tagEvidence reads the registry tag name (the tag object h), ok false when
// it is not one with a trove record.
func tagEvidence(g *git.Repository, name string, h plumbing.Hash) (TagEvidence, bool) {
	tn, err := ParseTagName(name)
	if err != nil || tn.Action == ActionCreate {
		return TagEvidence{}, false
	}
	tag, err := g.TagObject(h)
	if err != nil {
		return TagEvidence{}, false // lightweight: the registry ignores it too
	}
	if _, err := DecodeRecord(tag.Message); errors.Is(err, ErrNotRecord) {
		return TagEvidence{}, false // GTO's own tags carry no record to chain
	}
	// The record as written, the message's first line (EncodeRecord writes
	// one line), not a re-encoding, which would hide an edit that decodes
	// to the same fields.
	line, _, _ := strings.Cut(tag.Message, "\n")
	return TagEvidence{Target: tag.Target.String(), Signed: tag.PGPSignature != "", Record: line + "\n"}, true
}

func collectApprovals(g *git.Repository, head plumbing.Hash, ev *AuditEvidence) error {
	c, err := g.CommitObject(head)
	if err != nil {
		return err
	}
	t, err := c.Tree()
	if err != nil {
		return err
	}
	sub, err := t.Tree(ApprovalsDir)
	if errors.Is(err, object.ErrDirectoryNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return sub.Files().ForEach(func(f *object.File) error {
		if !strings.HasSuffix(f.Name, ".json") {
			return nil
		}
		b, err := readBlob(g, f.Hash, MaxApprovalSize)
		if err != nil {
			return nil
		}
		ev.Approvals[path.Join(ApprovalsDir, f.Name)] = objects.Hash(b).String()
		return nil
	})
}

// signersHistory lists the commits of HEAD's history that changed
// .trove/allowed_signers, oldest first.
func signersHistory(ctx context.Context, g *git.Repository, head plumbing.Hash) ([]SignersChange, error) {
	commits, _, err := topoOrder(ctx, g, head)
	if err != nil {
		return nil, err
	}
	blobOf := func(c *object.Commit) plumbing.Hash {
		t, err := c.Tree()
		if err != nil {
			return plumbing.ZeroHash
		}
		e, err := t.FindEntry(AllowedSignersFile)
		if err != nil {
			return plumbing.ZeroHash
		}
		return e.Hash
	}
	var out []SignersChange
	for _, c := range commits {
		cur := blobOf(c)
		prev := plumbing.ZeroHash
		var prevText string
		if len(c.ParentHashes) > 0 {
			if p, err := g.CommitObject(c.ParentHashes[0]); err == nil {
				prev = blobOf(p)
			}
		}
		if cur == prev {
			continue
		}
		if !prev.IsZero() {
			if b, err := readBlob(g, prev, tsign.MaxAllowedSignersSize); err == nil {
				prevText = string(b)
			}
		}
		var curText string
		if !cur.IsZero() {
			if b, err := readBlob(g, cur, tsign.MaxAllowedSignersSize); err == nil {
				curText = string(b)
			}
		}
		ch := SignersChange{Commit: c.Hash.String(), Time: c.Committer.When.UTC(), Author: c.Author.Name + " <" + c.Author.Email + ">", Signers: curText}
		before, after := signerKeys(prevText), signerKeys(curText)
		for k := range after {
			if !before[k] {
				ch.Added = append(ch.Added, k)
			}
		}
		for k := range before {
			if !after[k] {
				ch.Removed = append(ch.Removed, k)
			}
		}
		sort.Strings(ch.Added)
		sort.Strings(ch.Removed)
		out = append(out, ch)
	}
	// topoOrder gives parents before children.
	return out, nil
}

// signerKeys lists an allowed-signers file's entries as "principals fingerprint".
func signerKeys(text string) map[string]bool {
	out := map[string]bool{}
	if text == "" {
		return out
	}
	as, err := tsign.ParseAllowedSigners(AllowedSignersFile, []byte(text))
	if err != nil {
		out["(unparseable file)"] = true
		return out
	}
	for _, e := range as.Entries {
		out[strings.Join(e.Principals, ",")+" "+ssh.FingerprintSHA256(e.Key)] = true
	}
	return out
}

// VerifyAuditEvidence checks the chain in ev:
//
//   - chain: every entry decodes strictly, sits at its position (no gap: a
//     deleted entry; no swap: reordered entries), names the digest of the one
//     before it (prev: a rewritten entry breaks it) and the RFC 6962 root of
//     all before it; times do not go backwards;
//   - signature: every entry is signed, by a key that .trove/allowed_signers
//     as of the commit the entry names accepts for its principal at its time
//     (a key admitted by a later commit does not count for it); the entry is
//     not dated before that commit;
//   - tag: every registry tag an entry names exists, points where it did and
//     carries the record it did; every tag with a trove record is in the chain;
//   - digest: every registration's and promotion's digest is the one in the
//     manifest at its manifest commit;
//   - approval: every approval committed at HEAD is in the chain, unchanged;
//   - head: the chain still holds the entry known (a head verified before);
//   - trust: each change of .trove/allowed_signers is reported (event).
func VerifyAuditEvidence(ev *AuditEvidence, known *KnownHead) *AuditTranscript {
	t := &AuditTranscript{Ref: ev.Ref, Head: ev.Head, Entries: len(ev.Entries), Checks: []AuditCheck{}, OK: true}
	if ev.Head == "" {
		t.Add("chain", AuditRef, CheckWarn, "no audit chain yet (no promotion, registration or approval was recorded)")
	}
	for _, s := range ev.Stray {
		t.Add("chain", s, CheckFail, "a file in the chain's tree that is not an entry: the chain was edited by hand")
	}
	entries := make([]*AuditEntry, len(ev.Entries))
	leaves := make([][32]byte, 0, len(ev.Entries))
	var lastAt time.Time
	chainOK := true
	for i, f := range ev.Entries {
		pos := i + 1
		subj := "entry " + strings.TrimSuffix(f.Name, ".json")
		e, err := DecodeAuditEntry(f.Data)
		if err != nil {
			t.Add("chain", subj, CheckFail, "does not decode: %v (the entry was edited)", err)
			leaves = append(leaves, leafHash(f.Data))
			chainOK = false
			continue
		}
		entries[i] = e
		subj = fmt.Sprintf("entry %d (%s %s)", pos, e.Kind, auditSubject(e))
		var probs []string
		if n := auditSeqOf(f.Name); n != pos {
			probs = append(probs, fmt.Sprintf("file %s is at position %d: entry %d is missing (deleted)", f.Name, pos, pos))
		}
		if e.Seq != pos {
			probs = append(probs, fmt.Sprintf("it says seq %d at position %d: entries were reordered or one was deleted", e.Seq, pos))
		}
		switch {
		case i == 0 && e.Prev != "":
			probs = append(probs, "the first entry names a previous one: earlier entries were deleted")
		case i > 0 && e.Prev != EntryDigest(ev.Entries[i-1].Data):
			probs = append(probs, fmt.Sprintf("prev %s is not the digest of the entry before it (%s): an entry was deleted, reordered or rewritten", digestShort(e.Prev), digestShort(EntryDigest(ev.Entries[i-1].Data))))
		}
		if want := treeHashString(merkleRoot(leaves)); e.TreeHash != want || e.TreeSize != len(leaves) {
			probs = append(probs, fmt.Sprintf("tree %d %s is not the root of the entries before it (%d %s)", e.TreeSize, digestShort(e.TreeHash), len(leaves), digestShort(want)))
		}
		at := appendedTime(e)
		if at.Before(lastAt) {
			probs = append(probs, fmt.Sprintf("at %s is before the entry before it: entries were reordered", e.At))
		}
		lastAt = at
		leaves = append(leaves, leafHash(f.Data))
		if len(probs) > 0 {
			chainOK = false
			t.Add("chain", subj, CheckFail, "%s", strings.Join(probs, "; "))
		} else {
			t.Add("chain", subj, CheckOK, "at %s by %s, linked to %s", e.At, e.By, prevLabel(e))
		}
	}
	t.TreeHash = treeHashString(merkleRoot(leaves))
	if n := len(ev.Entries); n > 0 {
		t.LastSeq, t.Last = n, EntryDigest(ev.Entries[n-1].Data)
	}
	if chainOK && len(ev.Entries) > 0 {
		t.Add("chain", AuditRef, CheckOK, "%d entries, no gap, no reordering, every link intact; root %s", len(ev.Entries), t.TreeHash)
	}

	// Signatures, against the trust of each entry's own time.
	for i, e := range entries {
		if e == nil {
			continue
		}
		verifyEntrySignature(t, ev, e, ev.Entries[i])
	}

	// Tags.
	inChain := map[string]int{}
	for _, e := range entries {
		if e == nil || e.Tag == "" {
			continue
		}
		subj := fmt.Sprintf("entry %d (%s %s)", e.Seq, e.Kind, e.Tag)
		inChain[e.Tag] = e.Seq
		te, ok := ev.Tags[e.Tag]
		switch {
		case !ok:
			t.Add("tag", subj, CheckFail, "the tag %s is missing: it was deleted", e.Tag)
		case te.Target != e.TagTarget:
			t.Add("tag", subj, CheckFail, "the tag %s points to %s, the entry recorded %s: the tag was moved", e.Tag, short(te.Target), short(e.TagTarget))
		case objects.Hash([]byte(te.Record)).String() != e.RecordDigest:
			t.Add("tag", subj, CheckFail, "the record in the tag %s is not the one the entry recorded (%s): the tag's record was edited", e.Tag, digestShort(e.RecordDigest))
		case tagDisagrees(te, e) != "":
			t.Add("tag", subj, CheckFail, "%s: the entry or the tag was edited", tagDisagrees(te, e))
		default:
			t.Add("tag", subj, CheckOK, "the tag's record is the one recorded")
			for _, w := range e.Waivers {
				t.Add("waiver", subj, CheckOK, "%s (under policy %s)", w, digestShort(e.PolicyDigest))
			}
		}
	}
	var names []string
	for n := range ev.Tags {
		names = append(names, n)
	}
	sort.Strings(names)
	// When the chain began: acts recorded before it (by a trove without the
	// audit chain) cannot be in it, and are reported as such, not as tampering.
	var began time.Time
	if len(entries) > 0 && entries[0] != nil {
		began = auditTime(entries[0].At)
	}
	for _, n := range names {
		if _, ok := inChain[n]; ok {
			continue
		}
		if rec, err := DecodeRecord(ev.Tags[n].Record); err == nil && (began.IsZero() || auditTime(rec.At).Before(began)) {
			t.Add("tag", "tag "+n, CheckWarn, "recorded at %s, before the audit chain began: not covered by it (git verify-tag checks its signature)", rec.At)
			continue
		}
		t.Add("tag", "tag "+n, CheckFail, "a registry tag with a trove record that is not in the audit chain: made outside trove, or its entry was removed")
	}

	// Refusals: the decision kept beside the entry is the one it names.
	for i, e := range entries {
		if e == nil {
			continue
		}
		f := ev.Entries[i]
		subj := fmt.Sprintf("entry %d (%s %s)", e.Seq, e.Kind, auditSubject(e))
		if e.Kind != AuditDeny {
			if f.Record != nil {
				t.Add("decision", subj, CheckFail, "a document is kept beside an entry that records none: the chain was edited")
			}
			continue
		}
		if f.Record == nil {
			t.Add("decision", subj, CheckFail, "the decision document of the denial is missing: it was deleted")
			continue
		}
		if objects.Hash(f.Record).String() != e.RecordDigest {
			t.Add("decision", subj, CheckFail, "the decision document is not the one the entry names (%s): it was edited", digestShort(e.RecordDigest))
			continue
		}
		var d policy.Decision
		if err := json.Unmarshal(f.Record, &d); err != nil || d.Allowed {
			t.Add("decision", subj, CheckFail, "the decision document is not a denial (%v)", err)
			continue
		}
		var failing []string
		for _, r := range d.Results {
			if r.Status == policy.StatusFail || r.Status == policy.StatusError {
				failing = append(failing, r.Rule)
			}
		}
		t.Add("decision", subj, CheckOK, "denied under policy %s: %s", digestShort(d.PolicyDigest), strings.Join(failing, ", "))
	}

	// Promotions and registrations: the digest is the manifest's.
	for _, e := range entries {
		if e == nil || e.Digest == "" || e.ManifestCommit == "" || e.Artifact == "" {
			continue
		}
		subj := fmt.Sprintf("entry %d (%s %s)", e.Seq, e.Kind, auditSubject(e))
		text, ok := ev.Manifests[e.ManifestCommit+":"+e.Artifact]
		if !ok {
			t.Add("digest", subj, CheckFail, "no manifest %s%s at commit %s", e.Artifact, manifest.Ext, short(e.ManifestCommit))
			continue
		}
		m, err := manifest.Decode([]byte(text))
		switch {
		case err != nil:
			t.Add("digest", subj, CheckFail, "the manifest %s%s at %s: %v", e.Artifact, manifest.Ext, short(e.ManifestCommit), err)
		case m.Digest.String() != e.Digest:
			t.Add("digest", subj, CheckFail, "the model digest %s is not the manifest's %s (%s at %s)", digestShort(e.Digest), digestShort(m.Digest.String()), e.Artifact, short(e.ManifestCommit))
		default:
			t.Add("digest", subj, CheckOK, "%s is the digest of %s%s at %s", digestShort(e.Digest), e.Artifact, manifest.Ext, short(e.ManifestCommit))
		}
	}

	// Approvals.
	chained := map[string]bool{}
	for _, e := range entries {
		if e == nil || e.Kind != AuditApprove {
			continue
		}
		chained[e.File] = true
		subj := fmt.Sprintf("entry %d (approve %s)", e.Seq, auditSubject(e))
		d, ok := ev.Approvals[e.File]
		switch {
		case !ok:
			t.Add("approval", subj, CheckWarn, "%s is not committed at HEAD (not yet committed, or removed)", e.File)
		case d != e.RecordDigest:
			t.Add("approval", subj, CheckFail, "%s is not the record the entry recorded: the approval was edited", e.File)
		default:
			t.Add("approval", subj, CheckOK, "%s is the record signed and chained", e.File)
		}
	}
	var files []string
	for f := range ev.Approvals {
		files = append(files, f)
	}
	sort.Strings(files)
	for _, f := range files {
		if chained[f] {
			continue
		}
		// Approval files are named by their time: <20060102T150405Z>-<key>.json.
		if at, err := time.Parse("20060102T150405Z", strings.SplitN(path.Base(f), "-", 2)[0]); err == nil && (began.IsZero() || at.Before(began)) {
			t.Add("approval", f, CheckWarn, "made before the audit chain began: not covered by it (its own signature still counts)")
			continue
		}
		t.Add("approval", f, CheckFail, "an approval committed at HEAD that is not in the audit chain: written outside trove, or its entry was removed")
	}

	// The head verified before must still be there.
	if known != nil && known.Seq > 0 {
		subj := fmt.Sprintf("entry %d verified before (%s)", known.Seq, known.From)
		switch {
		case known.Seq > len(ev.Entries):
			t.Add("head", subj, CheckFail, "the chain has only %d entries now: history was rewritten (entries removed, force-pushed)", len(ev.Entries))
		case EntryDigest(ev.Entries[known.Seq-1].Data) != known.Digest:
			t.Add("head", subj, CheckFail, "entry %d is now %s, not %s: history was rewritten (force-pushed)", known.Seq, digestShort(EntryDigest(ev.Entries[known.Seq-1].Data)), digestShort(known.Digest))
		default:
			t.Add("head", subj, CheckOK, "still in the chain, unchanged; %d entries since", len(ev.Entries)-known.Seq)
		}
	}

	// Governance events: who changed the trust file.
	for _, ch := range ev.SignersHistory {
		what := []string{}
		for _, a := range ch.Added {
			what = append(what, "admitted "+a)
		}
		for _, r := range ch.Removed {
			what = append(what, "removed "+r)
		}
		if len(what) == 0 {
			what = append(what, "edited (no key added or removed)")
		}
		t.Add("trust", "commit "+short(ch.Commit), CheckEvent, "%s changed at %s by %s: %s; it counts for records made from that commit on, never for earlier ones",
			AllowedSignersFile, ch.Time.Format(time.RFC3339), ch.Author, strings.Join(what, "; "))
	}
	t.OK = t.Failures == 0
	return t
}

func prevLabel(e *AuditEntry) string {
	if e.Prev == "" {
		return "the start"
	}
	return "entry " + fmt.Sprint(e.Seq-1) + " " + digestShort(e.Prev)
}

func verifyEntrySignature(t *AuditTranscript, ev *AuditEvidence, e *AuditEntry, f AuditFile) {
	subj := fmt.Sprintf("entry %d (%s %s)", e.Seq, e.Kind, auditSubject(e))
	ce, ok := ev.Commits[e.Commit]
	if !ok {
		t.Add("signature", subj, CheckFail, "it names commit %s, which is not in the repository: its trust cannot be known", short(e.Commit))
		return
	}
	at := auditTime(e.At)
	if at.Before(ce.Time) {
		// Commit dates are self-asserted too: a skewed clock, or a back-dated entry.
		t.Add("signature", subj, CheckWarn, "dated %s, before the commit it names (%s, committed %s): a skewed clock, or a back-dated entry", e.At, short(e.Commit), ce.Time.Format(time.RFC3339))
	}
	if f.Sig == nil {
		if ce.HasSigners {
			t.Add("signature", subj, CheckFail, "unsigned, although %s exists at %s: the signature was removed, or the entry was made without a signing key", AllowedSignersFile, short(e.Commit))
		} else {
			t.Add("signature", subj, CheckWarn, "unsigned (no %s at %s)", AllowedSignersFile, short(e.Commit))
		}
		return
	}
	fp := "an unreadable key"
	if s, err := tsign.ParseSignature(f.Sig); err == nil {
		fp = ssh.FingerprintSHA256(s.PublicKey)
	}
	if !ce.HasSigners {
		// As with an unsigned entry: before anyone declared who may sign, a
		// signature proves nothing either way (the key could be anyone's).
		t.Add("signature", subj, CheckWarn, "signed by %s, but there is no %s at %s to check it against: not verified", fp, AllowedSignersFile, short(e.Commit))
		return
	}
	if d := objects.Hash([]byte(ce.Signers)).String(); d != e.SignersDigest {
		t.Add("signature", subj, CheckFail, "%s at %s is %s, the entry recorded %s", AllowedSignersFile, short(e.Commit), digestShort(d), digestShort(e.SignersDigest))
		return
	}
	as, err := tsign.ParseAllowedSigners(AllowedSignersFile, []byte(ce.Signers))
	if err != nil {
		t.Add("signature", subj, CheckFail, "%s at %s: %v", AllowedSignersFile, short(e.Commit), err)
		return
	}
	if e.Principal == "" {
		t.Add("signature", subj, CheckFail, "signed by %s but names no principal", fp)
		return
	}
	v, err := as.Verify(f.Sig, f.Data, tsign.Namespace, e.Principal, at)
	if err != nil {
		msg := fmt.Sprintf("signature by %s for %s is not accepted by %s as of commit %s: %v", fp, e.Principal, AllowedSignersFile, short(e.Commit), err)
		if later := admittedLater(ev, f.Sig, e); later != "" {
			msg += "; " + later
		} else if errors.Is(err, tsign.ErrUnknownSigner) {
			msg += " (re-signed with a key that is not an allowed signer)"
		} else if errors.Is(err, tsign.ErrBadSignature) {
			msg += " (the entry was changed after it was signed)"
		}
		t.Add("signature", subj, CheckFail, "%s", msg)
		return
	}
	t.Add("signature", subj, CheckOK, "signed by %s (%s), allowed by %s as of %s", e.Principal, v.Fingerprint, AllowedSignersFile, short(e.Commit))
}

// admittedLater says which later commit's allowed-signers file accepts the
// signature's key, if one does: trust granted later never covers an earlier
// record.
func admittedLater(ev *AuditEvidence, sig []byte, e *AuditEntry) string {
	at := auditTime(e.At)
	for _, ch := range ev.SignersHistory {
		if ch.Signers == "" {
			continue
		}
		as, err := tsign.ParseAllowedSigners(AllowedSignersFile, []byte(ch.Signers))
		if err != nil {
			continue
		}
		if _, err := as.Verify(sig, mustData(ev, e), tsign.Namespace, e.Principal, at); err == nil {
			return fmt.Sprintf("that key was admitted later, by commit %s (%s): a later change of the trust file does not cover earlier records", short(ch.Commit), ch.Time.Format(time.RFC3339))
		}
	}
	return ""
}

func mustData(ev *AuditEvidence, e *AuditEntry) []byte {
	if e.Seq >= 1 && e.Seq <= len(ev.Entries) {
		return ev.Entries[e.Seq-1].Data
	}
	return nil
}

// KnownHeadOf returns the chain head this clone verified last
// (AuditVerifiedRef), or nil when it never verified one.
func KnownHeadOf(root string) (*KnownHead, error) {
	g, err := openGit(root)
	if err != nil {
		return nil, err
	}
	ref, err := g.Storer.Reference(plumbing.ReferenceName(AuditVerifiedRef))
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	log, err := readAuditLog(g, ref.Hash())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", AuditVerifiedRef, err)
	}
	if len(log.Files) == 0 {
		return nil, nil
	}
	last := log.Files[len(log.Files)-1]
	return &KnownHead{Seq: len(log.Files), Digest: EntryDigest(last.Data), From: AuditVerifiedRef + " " + short(ref.Hash().String())}, nil
}

// MarkAuditVerified records head (a commit of AuditRef that verified) as the
// head this clone knows, in AuditVerifiedRef.
func MarkAuditVerified(root, head string) error {
	if head == "" {
		return nil
	}
	g, err := openGit(root)
	if err != nil {
		return err
	}
	return g.Storer.SetReference(plumbing.NewHashReference(plumbing.ReferenceName(AuditVerifiedRef), plumbing.NewHash(head)))
}

// AuditArtifacts returns the model versions the chain names (the manifests
// at their manifest commits), for the content and lineage checks.
func AuditArtifacts(ev *AuditEvidence) []manifest.Tracked {
	var keys []string
	for k := range ev.Manifests {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []manifest.Tracked
	seen := map[string]bool{}
	for _, k := range keys {
		_, p, _ := strings.Cut(k, ":")
		m, err := manifest.Decode([]byte(ev.Manifests[k]))
		if err != nil || seen[m.Digest.String()+p] {
			continue
		}
		seen[m.Digest.String()+p] = true
		out = append(out, manifest.Tracked{Path: p, Manifest: m})
	}
	return out
}

// VerifyAuditLineage checks that every lineage input of the model versions
// the chain names, all the way up, resolves to a manifest in HEAD's history
// (or the working tree), adding one check per model version to t. It returns
// the manifests of those inputs, for the content checks.
func VerifyAuditLineage(ctx context.Context, r *manifest.Repo, ev *AuditEvidence, t *AuditTranscript) ([]manifest.Tracked, error) {
	if len(ev.Manifests) == 0 {
		return nil, nil
	}
	idx, err := BuildIndex(ctx, r)
	if err != nil {
		return nil, err
	}
	var inputs []manifest.Tracked
	seen := map[string]bool{}
	var keys []string
	for k := range ev.Manifests {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		commit, p, _ := strings.Cut(k, ":")
		m, err := manifest.Decode([]byte(ev.Manifests[k]))
		if err != nil {
			continue // the digest check reported it
		}
		subj := fmt.Sprintf("%s at %s", p, short(commit))
		loc, ok := idx.FindAt(m.Digest, p, commit)
		if !ok {
			t.Add("lineage", subj, CheckFail, "the manifest is not in HEAD's history")
			continue
		}
		g := BuildUpstream(idx, loc, 0)
		var missing []string
		for i, n := range g.Nodes {
			if n.Unresolved {
				missing = append(missing, fmt.Sprintf("%s (%s)", n.Path, digestShort(n.Digest)))
				continue
			}
			if i == 0 || seen[n.Digest+" "+n.Path] {
				continue // the model itself is checked as such
			}
			seen[n.Digest+" "+n.Path] = true
			if id, err := objects.ParseID(n.Digest); err == nil {
				if l, ok := idx.Find(id, n.Path); ok {
					inputs = append(inputs, manifest.Tracked{Path: l.Path, Manifest: l.Manifest})
				}
			}
		}
		switch {
		case len(missing) > 0:
			t.Add("lineage", subj, CheckFail, "input(s) %s resolve to no manifest in history", strings.Join(missing, ", "))
		case len(g.Nodes) == 1 && (m.Lineage == nil || len(m.Lineage.Inputs) == 0):
			t.Add("lineage", subj, CheckWarn, "no lineage recorded")
		default:
			t.Add("lineage", subj, CheckOK, "%d input(s) upstream, each resolves to a manifest in history", len(g.Nodes)-1)
		}
	}
	return inputs, nil
}

// digestShort abbreviates "algo:hex" to its first 12 hex digits.
func digestShort(d string) string {
	if i := strings.IndexByte(d, ':'); i >= 0 && len(d) > i+13 {
		return d[:i+13]
	}
	return d
}

// ForModel returns ev with only the manifests of the entries about name (and
// version, when not empty): the content and lineage checks' scope.
func (ev *AuditEvidence) ForModel(name, version string) *AuditEvidence {
	out := *ev
	out.Manifests = map[string]string{}
	for _, f := range ev.Entries {
		e, err := DecodeAuditEntry(f.Data)
		if err != nil || e.Name != name || (version != "" && e.Version != version) {
			continue
		}
		key := e.ManifestCommit + ":" + e.Artifact
		if m, ok := ev.Manifests[key]; ok {
			out.Manifests[key] = m
		}
	}
	return &out
}

// tagDisagrees says where an entry and the record of its tag differ.
func tagDisagrees(te TagEvidence, e *AuditEntry) string {
	rec, err := DecodeRecord(te.Record)
	if err != nil {
		return fmt.Sprintf("the record in the tag %s does not decode: %v", e.Tag, err)
	}
	for _, f := range [][3]string{
		{"name", rec.Name, e.Name}, {"version", rec.Version, e.Version}, {"stage", rec.Stage, e.Stage},
		{"digest", rec.Digest, e.Digest}, {"manifest_commit", rec.ManifestCommit, e.ManifestCommit},
		{"artifact", rec.Artifact, e.Artifact}, {"at", rec.At, e.At},
	} {
		if f[1] != f[2] {
			return fmt.Sprintf("the entry says %s %q, the record of the tag %s %q", f[0], f[2], e.Tag, f[1])
		}
	}
	pd, ws := decisionFacts(rec.Decision)
	if pd != e.PolicyDigest || strings.Join(ws, "\n") != strings.Join(e.Waivers, "\n") {
		return fmt.Sprintf("the entry's policy decision (policy %s, %d waiver(s)) is not the one in the record of the tag %s (policy %s, %d waiver(s))",
			digestShort(e.PolicyDigest), len(e.Waivers), e.Tag, digestShort(pd), len(ws))
	}
	return ""
}
