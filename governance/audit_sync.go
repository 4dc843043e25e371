package governance

// Syncing the audit chain with a remote's. Two clones that both append fork
// the chain: each has entries the other lacks, and the second `git push
// origin refs/trove/audit` is rejected as non-fast-forward. SyncAudit is the
// way out: it fetches the remote's chain beside the local one, verifies the
// chain it would write, and re-appends this clone's own entries after the
// remote's (new seq, prev and Merkle root; the act's content unchanged; signed
// again by the same key), so that the push fast-forwards. Nothing is dropped:
// an entry is either the remote's, or re-appended, or already in the remote's
// chain by content; and nothing moves unless the new chain verifies.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"golang.org/x/crypto/ssh"

	tsign "github.com/trove-dev/trove/governance/sign"
	"github.com/trove-dev/trove/manifest"
)

const (
	// AuditBackupPrefix names the refs that keep the local chain's head while
	// a sync replaces it (refs/trove-backup/audit/<time>): until the sync has
	// moved every ref, the old entries stay reachable there. A successful sync
	// removes its backup; one left behind is from an interrupted sync, whose
	// entries are in the chain once `trove audit sync` ran again.
	AuditBackupPrefix = "refs/trove-backup/audit/"
	// auditSyncPrefix is where a sync keeps what it fetched (removed when it
	// ends) and the remote head it last verified.
	auditSyncPrefix = "refs/trove-sync/"
)

// Results of a sync (AuditSyncResult.Result).
const (
	SyncNoRemoteChain = "no-remote-chain" // the remote has no chain: push this one
	SyncUpToDate      = "up-to-date"      // both hold the same chain
	SyncAhead         = "ahead"           // the local chain extends the remote's: push it
	SyncFastForward   = "fast-forward"    // the remote's chain extends the local one: taken
	SyncReappended    = "reappended"      // local entries re-appended after the remote's
)

var (
	// ErrAuditSync: the sync could not be done (the remote cannot be
	// fetched, the chain moved meanwhile); nothing was changed.
	ErrAuditSync = errors.New("cannot sync the audit chain")
	// ErrAuditSyncRejected: the chain the sync would write does not verify
	// (a tampered or rewritten remote chain, or a local chain rewritten since
	// it was verified); nothing was changed.
	ErrAuditSyncRejected = errors.New("the synced audit chain does not verify")
	// ErrAuditSyncConflict: both chains record an act under the same registry
	// tag name (both clones promoted the model, so both took the same #N):
	// the registry cannot hold both, and sync changes nothing.
	ErrAuditSyncConflict = errors.New("both clones wrote the same registry tag")
	// ErrNoGitRemote: the remote named is not a git remote of the repository.
	ErrNoGitRemote = errors.New("no such git remote")
)

// AuditRemoteRef is the ref holding the head of remote's chain that the last
// sync with it verified and built on. The remote's chain must extend it: one
// that does not was rewritten (force-pushed) and is refused.
func AuditRemoteRef(remote string) string { return auditSyncPrefix + remote + "/audit" }

// auditFetchPrefix is where one sync fetches to: its own directory, so that
// two syncs at once do not remove each other's refs.
func auditFetchPrefix(remote string) (string, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return auditSyncPrefix + remote + "/fetched/" + hex.EncodeToString(b[:]) + "/", nil
}

// ForeignSignerError is SyncAudit's error when an entry that only this clone
// has was signed by another key than the one configured: trove never signs
// for someone else, so whoever holds that key runs the sync.
type ForeignSignerError struct {
	Seq         int    // in the local chain
	Subject     string // kind and subject
	Principal   string // the entry's principal
	Fingerprint string // of the key that signed it
	Configured  string // fingerprints of the keys given; "" when none is
}

func (e *ForeignSignerError) Error() string {
	have := "no signing key is configured"
	if e.Configured != "" {
		have = "the signing key(s) here: " + e.Configured
	}
	return fmt.Sprintf("local audit entry %d (%s) was signed by %s for %s and %s: re-appending it needs a new signature, and trove signs only with the key that signed it",
		e.Seq, e.Subject, e.Fingerprint, e.Principal, have)
}

// AuditSyncOptions says what to sync with and how to sign.
type AuditSyncOptions struct {
	// Remote is the git remote ("origin" when empty).
	Remote string
	// Signers re-sign this clone's entries, each the entries it signed;
	// empty: the configured key (SigningKey), opened only when an entry
	// needs it.
	Signers []ssh.Signer
}

// AuditSyncEntry is a local entry the remote lacked.
type AuditSyncEntry struct {
	From    int    `json:"from"` // its seq in the local chain
	Seq     int    `json:"seq"`  // its seq in the synced chain
	Kind    string `json:"kind"`
	Subject string `json:"subject"`
	Signed  bool   `json:"signed"`
	// Already is true when the remote's chain holds it already (the same act,
	// re-appended by an earlier sync): it is not appended twice.
	Already bool `json:"already,omitempty"`
}

// AuditSyncResult is what a sync did.
type AuditSyncResult struct {
	Remote        string           `json:"remote"`
	Result        string           `json:"result"`
	OldHead       string           `json:"old_head"`
	RemoteHead    string           `json:"remote_head,omitempty"`
	RemoteEntries int              `json:"remote_entries"`
	Head          string           `json:"head"`
	Entries       int              `json:"entries"`
	Reappended    []AuditSyncEntry `json:"reappended"`
	// Tags are the registry tags the remote's entries record that this clone
	// lacked, created from the remote's.
	Tags []string `json:"tags_created,omitempty"`
	// Transcript is the verification of the chain the sync wrote (or refused).
	Transcript *AuditTranscript `json:"transcript,omitempty"`
}

// SyncAudit brings the chain of the git remote opt.Remote into this clone's
// AuditRef:
//
//  1. fetch the remote's chain, registry tags and branches into
//     refs/trove-sync/REMOTE/fetched/ID/ (removed at the end), never into
//     AuditRef or refs/tags directly;
//  2. under the repository lock, find where the chains fork and build the new
//     chain: the remote's, then this clone's entries the remote lacks,
//     re-appended in their order with a new seq, prev, Merkle root and
//     appended_at, their content (kind, subject, record digests, at, commit)
//     unchanged, re-signed by the configured key when they were signed; an
//     entry signed by another key stops the sync (*ForeignSignerError);
//  3. verify that chain as `trove audit verify` does (the remote's tags
//     standing in for those this clone lacks), plus: the remote's chain
//     extends the one the last sync saw (AuditRemoteRef), and every entry this
//     clone verified before (AuditVerifiedRef) is in it, by content. A failure
//     returns the transcript and ErrAuditSyncRejected, and changes nothing;
//  4. keep the old head under AuditBackupPrefix, move AuditRef by
//     compare-and-swap, create the missing registry tags, move
//     AuditRemoteRef and AuditVerifiedRef to the new heads, then drop the
//     backup. Run again after an interruption: it finishes the job.
//
// The new chain then extends the remote's, so `git push REMOTE
// refs/trove/audit` fast-forwards.
func SyncAudit(ctx context.Context, r *manifest.Repo, w World, opt AuditSyncOptions) (*AuditSyncResult, error) {
	g, err := openGit(r.Root)
	if err != nil {
		return nil, err
	}
	remote := opt.Remote
	if remote == "" {
		remote = "origin"
	}
	if _, err := g.Remote(remote); err != nil || plumbing.ReferenceName(AuditRemoteRef(remote)).Validate() != nil {
		return nil, fmt.Errorf("%w %q", ErrNoGitRemote, remote)
	}
	res := &AuditSyncResult{Remote: remote, Reappended: []AuditSyncEntry{}}
	fetched, err := auditFetchPrefix(remote)
	if err != nil {
		return nil, err
	}
	defer removeRefs(g, fetched)
	found, err := fetchAuditChain(ctx, r.Root, w, remote, fetched)
	if err != nil {
		return nil, err
	}

	unlock, err := r.Lock(ctx, w.LockWait)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrAuditSync, err)
	}
	defer unlock()
	var old *plumbing.Reference
	if ref, err := g.Storer.Reference(plumbing.ReferenceName(AuditRef)); err == nil {
		old = ref
	} else if !errors.Is(err, plumbing.ErrReferenceNotFound) {
		return nil, err
	}
	local, err := readAuditLog(g, refHash(old))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrAuditSync, err)
	}
	res.OldHead, res.Head, res.Entries = local.Head, local.Head, len(local.Files)
	if !found {
		res.Result = SyncNoRemoteChain
		return res, nil
	}
	rref, err := g.Storer.Reference(plumbing.ReferenceName(fetched + "audit"))
	if err != nil {
		return nil, fmt.Errorf("%w: the fetched chain: %w", ErrAuditSync, err)
	}
	rlog, err := readAuditLog(g, rref.Hash())
	if err != nil {
		return nil, fmt.Errorf("%w: %s's chain: %w", ErrAuditSync, remote, err)
	}
	res.RemoteHead, res.RemoteEntries = rlog.Head, len(rlog.Files)

	plan, err := planAuditSync(local.Files, rlog.Files)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrAuditSync, err)
	}
	if err := tagConflicts(local.Files, rlog.Files, plan, remote); err != nil {
		return nil, err
	}
	newHead := rref.Hash()
	// Ahead only when the remote's head commit is in the local history: the
	// same entries in other commits (another signature, say) do not
	// fast-forward.
	ahead := false
	if plan.common == len(rlog.Files) && old != nil {
		if ahead, err = AuditExtends(r.Root, old.Hash().String(), rlog.Head); err != nil {
			return nil, err
		}
	}
	switch {
	case local.Head == rlog.Head:
		res.Result = SyncUpToDate
	case ahead:
		res.Result, newHead = SyncAhead, refHash(old)
	case len(plan.moved) == 0:
		res.Result = SyncFastForward
	default:
		res.Result = SyncReappended
		signer := func() ([]ssh.Signer, error) { return opt.Signers, nil }
		if len(opt.Signers) == 0 {
			var once []ssh.Signer
			var closer io.Closer
			defer func() {
				if closer != nil {
					closer.Close()
				}
			}()
			signer = func() ([]ssh.Signer, error) {
				if once != nil || closer != nil {
					return once, nil
				}
				key, _ := signingKey(g, w)
				if key == "" {
					return nil, nil
				}
				s, c, err := OpenSigningKey(ctx, w, key)
				if err != nil {
					return nil, fmt.Errorf("%w: %w", ErrSigning, err)
				}
				once, closer = []ssh.Signer{s}, c
				return once, nil
			}
		}
		var moved []AuditFile
		for _, i := range plan.moved {
			moved = append(moved, local.Files[i])
		}
		h, re, err := reappendAudit(g, rref.Hash(), rlog.Files, moved, signer, w.now())
		if err != nil {
			return nil, err
		}
		for k, i := range plan.moved {
			re[k].From = i + 1
		}
		res.Reappended = re
		newHead = h
	}
	for _, i := range plan.skipped {
		e, _ := DecodeAuditEntry(local.Files[i].Data)
		res.Reappended = append(res.Reappended, AuditSyncEntry{From: i + 1, Kind: e.Kind, Subject: auditSubject(e), Signed: local.Files[i].Sig != nil, Already: true})
	}

	// Verify the chain about to be written.
	nlog, err := readAuditLog(g, newHead)
	if err != nil {
		return nil, err
	}
	ev, err := collectAuditEvidence(ctx, g, nlog)
	if err != nil {
		return nil, err
	}
	remoteTags, err := addFetchedTags(g, fetched+"tags/", ev)
	if err != nil {
		return nil, err
	}
	t := VerifyAuditEvidence(ev, nil)
	if err := checkSyncHeads(g, t, remote, rlog, nlog); err != nil {
		return nil, err
	}
	res.Transcript, res.Head, res.Entries = t, nlog.Head, len(nlog.Files)
	if !t.OK {
		res.Head, res.Entries = local.Head, len(local.Files)
		return res, fmt.Errorf("%w: %d check(s) failed; nothing was changed", ErrAuditSyncRejected, t.Failures)
	}

	// Apply: the old head stays reachable until every ref has moved.
	backup := plumbing.ReferenceName("")
	if old != nil && old.Hash() != newHead {
		backup = plumbing.ReferenceName(AuditBackupPrefix + w.now().Format("20060102T150405Z"))
		for i := 2; ; i++ {
			if _, err := g.Storer.Reference(backup); errors.Is(err, plumbing.ErrReferenceNotFound) {
				break
			}
			backup = plumbing.ReferenceName(fmt.Sprintf("%s%s-%d", AuditBackupPrefix, w.now().Format("20060102T150405Z"), i))
		}
		if err := g.Storer.SetReference(plumbing.NewHashReference(backup, old.Hash())); err != nil {
			return nil, fmt.Errorf("%w: keep the old head in %s: %w", ErrAuditSync, backup, err)
		}
	}
	if old == nil || old.Hash() != newHead {
		if err := g.Storer.CheckAndSetReference(plumbing.NewHashReference(plumbing.ReferenceName(AuditRef), newHead), old); err != nil {
			return nil, fmt.Errorf("%w: %s moved during the sync (%v); the old head is kept in %s: run `trove audit sync` again", ErrAuditSync, AuditRef, err, orNone(backup.String()))
		}
	}
	for _, f := range nlog.Files {
		e, err := DecodeAuditEntry(f.Data)
		if err != nil || e.Tag == "" {
			continue
		}
		h, ok := remoteTags[e.Tag]
		if !ok {
			continue
		}
		name := plumbing.NewTagReferenceName(e.Tag)
		if _, err := g.Storer.Reference(name); errors.Is(err, plumbing.ErrReferenceNotFound) {
			if err := g.Storer.SetReference(plumbing.NewHashReference(name, h)); err != nil {
				return nil, fmt.Errorf("%w: create the tag %s: %w", ErrAuditSync, e.Tag, err)
			}
			res.Tags = append(res.Tags, e.Tag)
		}
	}
	for _, ref := range []*plumbing.Reference{
		plumbing.NewHashReference(plumbing.ReferenceName(AuditRemoteRef(remote)), rref.Hash()),
		plumbing.NewHashReference(plumbing.ReferenceName(AuditVerifiedRef), newHead),
	} {
		if err := g.Storer.SetReference(ref); err != nil {
			return nil, fmt.Errorf("%w: %s: %w (run `trove audit sync` again)", ErrAuditSync, ref.Name(), err)
		}
	}
	if backup != "" {
		if err := g.Storer.RemoveReference(backup); err != nil {
			return nil, fmt.Errorf("%w: remove %s: %w", ErrAuditSync, backup, err)
		}
	}
	return res, nil
}

func refHash(ref *plumbing.Reference) plumbing.Hash {
	if ref == nil {
		return plumbing.ZeroHash
	}
	return ref.Hash()
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// syncPlan says how a local chain and a remote one relate: they share their
// first common entries (byte for byte); of the local entries after those,
// moved must be re-appended and skipped are in the remote's chain already
// (the same act, by content).
type syncPlan struct {
	common  int
	moved   []int
	skipped []int
}

func planAuditSync(local, remote []AuditFile) (*syncPlan, error) {
	p := &syncPlan{}
	for p.common < len(local) && p.common < len(remote) && bytes.Equal(local[p.common].Data, remote[p.common].Data) {
		p.common++
	}
	theirs := map[string]bool{}
	for _, f := range remote[p.common:] {
		if k, err := auditContentKey(f.Data); err == nil {
			theirs[k] = true
		}
	}
	for i := p.common; i < len(local); i++ {
		k, err := auditContentKey(local[i].Data)
		if err != nil {
			return nil, fmt.Errorf("local entry %s: %w: run `trove audit verify`", local[i].Name, err)
		}
		if theirs[k] {
			p.skipped = append(p.skipped, i)
		} else {
			p.moved = append(p.moved, i)
		}
	}
	return p, nil
}

// tagConflicts says which registry tag both the remote's new entries and the
// local ones to re-append record.
func tagConflicts(local, remote []AuditFile, plan *syncPlan, name string) error {
	theirs := map[string]int{}
	for i := plan.common; i < len(remote); i++ {
		if e, err := DecodeAuditEntry(remote[i].Data); err == nil && e.Tag != "" {
			theirs[e.Tag] = i + 1
		}
	}
	for _, i := range plan.moved {
		e, err := DecodeAuditEntry(local[i].Data)
		if err != nil || e.Tag == "" {
			continue
		}
		if n, ok := theirs[e.Tag]; ok {
			return fmt.Errorf("%w %s: %s's audit entry %d and this clone's entry %d record different acts under that name", ErrAuditSyncConflict, e.Tag, name, n, i+1)
		}
	}
	return nil
}

// auditContentKey is what an entry records, without where it sits in a chain
// (seq, prev, Merkle root, appended_at): the same act re-appended has the
// same key.
func auditContentKey(data []byte) (string, error) {
	e, err := DecodeAuditEntry(data)
	if err != nil {
		return "", err
	}
	e.Seq, e.Prev, e.TreeHash, e.TreeSize, e.AppendedAt = 1, "", treeHashString(merkleRoot(nil)), 0, ""
	b, err := EncodeAuditEntry(e)
	return string(b), err
}

// reappendAudit writes, on top of the chain base (whose entries are
// baseFiles), the entries moved, in order: each with the seq, prev and Merkle
// root of its new place and appended_at set (now, or later when the chain's
// last entry is later), everything else unchanged; signed again when it was
// signed, by the one of signers() that signed it (none: *ForeignSignerError).
// It returns the new head.
func reappendAudit(g *git.Repository, base plumbing.Hash, baseFiles, moved []AuditFile, signers func() ([]ssh.Signer, error), now time.Time) (plumbing.Hash, []AuditSyncEntry, error) {
	leaves := make([][32]byte, 0, len(baseFiles)+len(moved))
	var last time.Time
	prev := ""
	for _, f := range baseFiles {
		leaves = append(leaves, leafHash(f.Data))
		if e, err := DecodeAuditEntry(f.Data); err == nil && appendedTime(e).After(last) {
			last = appendedTime(e)
		}
		prev = EntryDigest(f.Data)
	}
	head := base
	out := make([]AuditSyncEntry, 0, len(moved))
	for _, f := range moved {
		e, err := DecodeAuditEntry(f.Data)
		if err != nil {
			return plumbing.ZeroHash, nil, fmt.Errorf("%w: %s: %w", ErrAuditSync, f.Name, err)
		}
		var s ssh.Signer
		if f.Sig != nil {
			fp := "an unreadable key"
			var pub ssh.PublicKey
			if sig, err := tsign.ParseSignature(f.Sig); err == nil {
				pub, fp = sig.PublicKey, ssh.FingerprintSHA256(sig.PublicKey)
			}
			have, err := signers()
			if err != nil {
				return plumbing.ZeroHash, nil, err
			}
			var fps []string
			for _, k := range have {
				fps = append(fps, ssh.FingerprintSHA256(k.PublicKey()))
				if pub != nil && bytes.Equal(k.PublicKey().Marshal(), pub.Marshal()) {
					s = k
				}
			}
			if s == nil {
				return plumbing.ZeroHash, nil, &ForeignSignerError{Seq: e.Seq, Subject: e.Kind + " " + auditSubject(e), Principal: e.Principal, Fingerprint: fp, Configured: strings.Join(fps, ", ")}
			}
		}
		at := now.UTC().Truncate(time.Second)
		if last.After(at) {
			at = last
		}
		if t := auditTime(e.At); t.After(at) {
			at = t
		}
		e.Seq, e.Prev, e.TreeSize, e.TreeHash = len(leaves)+1, prev, len(leaves), treeHashString(merkleRoot(leaves))
		e.AppendedAt = stamp(at)
		data, err := EncodeAuditEntry(e)
		if err != nil {
			return plumbing.ZeroHash, nil, err
		}
		var sig []byte
		if s != nil {
			if sig, err = tsign.Sign(s, tsign.Namespace, data); err != nil {
				return plumbing.ZeroHash, nil, fmt.Errorf("%w: %w", ErrSigning, err)
			}
		}
		if head, err = writeAuditCommit(g, head, auditFileName(e.Seq), data, sig, f.Record, *e); err != nil {
			return plumbing.ZeroHash, nil, fmt.Errorf("%w: %w", ErrAuditSync, err)
		}
		leaves = append(leaves, leafHash(data))
		prev, last = EntryDigest(data), at
		out = append(out, AuditSyncEntry{Seq: e.Seq, Kind: e.Kind, Subject: auditSubject(e), Signed: sig != nil})
	}
	return head, out, nil
}

// checkSyncHeads adds to t the head checks of a sync: the remote's chain
// extends the one the last sync with it verified, and the chain about to be
// written holds, by content, every entry this clone verified before.
func checkSyncHeads(g *git.Repository, t *AuditTranscript, remote string, rlog, nlog *AuditLog) error {
	if ref, err := g.Storer.Reference(plumbing.ReferenceName(AuditRemoteRef(remote))); err == nil {
		seen, err := readAuditLog(g, ref.Hash())
		if err != nil {
			return fmt.Errorf("%s: %w", AuditRemoteRef(remote), err)
		}
		subj := fmt.Sprintf("%s's chain, %d entries at the last sync", remote, len(seen.Files))
		if n := len(seen.Files); n > 0 {
			switch {
			case n > len(rlog.Files):
				t.Add("head", subj, CheckFail, "%s's chain has only %d entries now: history was rewritten (entries removed, force-pushed)", remote, len(rlog.Files))
			case !bytes.Equal(rlog.Files[n-1].Data, seen.Files[n-1].Data):
				t.Add("head", subj, CheckFail, "entry %d of %s's chain is now %s, not %s: history was rewritten (force-pushed)", n, remote, digestShort(EntryDigest(rlog.Files[n-1].Data)), digestShort(EntryDigest(seen.Files[n-1].Data)))
			default:
				t.Add("head", subj, CheckOK, "%s's chain still holds them, unchanged; %d entries since", remote, len(rlog.Files)-n)
			}
		}
	} else if !errors.Is(err, plumbing.ErrReferenceNotFound) {
		return err
	}
	ref, err := g.Storer.Reference(plumbing.ReferenceName(AuditVerifiedRef))
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	known, err := readAuditLog(g, ref.Hash())
	if err != nil {
		return fmt.Errorf("%s: %w", AuditVerifiedRef, err)
	}
	if len(known.Files) == 0 {
		return nil
	}
	subj := fmt.Sprintf("%d entries verified before (%s %s)", len(known.Files), AuditVerifiedRef, short(ref.Hash().String()))
	if missing := missingByContent(known.Files, nlog.Files); missing != "" {
		t.Add("head", subj, CheckFail, "%s: the local chain was rewritten since it was verified", missing)
		return nil
	}
	t.Add("head", subj, CheckOK, "all in the synced chain: in place, or re-appended with their content unchanged")
	return nil
}

// missingByContent says which entry of known is not in chain: in place byte
// for byte, or, once they differ, later and in the same order by content.
func missingByContent(known, chain []AuditFile) string {
	j := 0
	for i, f := range known {
		if j < len(chain) && i == j && bytes.Equal(f.Data, chain[j].Data) {
			j++
			continue
		}
		k, err := auditContentKey(f.Data)
		if err != nil {
			return fmt.Sprintf("entry %d verified before does not decode", i+1)
		}
		for j < len(chain) {
			ck, err := auditContentKey(chain[j].Data)
			j++
			if err == nil && ck == k {
				k = ""
				break
			}
		}
		if k != "" {
			return fmt.Sprintf("entry %d verified before (%s) is not in the synced chain", i+1, digestShort(EntryDigest(f.Data)))
		}
	}
	return ""
}

// addFetchedTags adds to ev the registry tags fetched under prefix that this
// clone lacks, and returns them (name -> tag object).
func addFetchedTags(g *git.Repository, prefix string, ev *AuditEvidence) (map[string]plumbing.Hash, error) {
	out := map[string]plumbing.Hash{}
	refs, err := g.References()
	if err != nil {
		return nil, err
	}
	defer refs.Close()
	err = refs.ForEach(func(ref *plumbing.Reference) error {
		name, ok := strings.CutPrefix(ref.Name().String(), prefix)
		if !ok || ref.Type() != plumbing.HashReference {
			return nil
		}
		if _, have := ev.Tags[name]; have {
			return nil
		}
		if _, err := g.Storer.Reference(plumbing.NewTagReferenceName(name)); err == nil {
			return nil // a local tag of that name that is no registry tag
		}
		if te, ok := tagEvidence(g, name, ref.Hash()); ok {
			ev.Tags[name] = te
			out[name] = ref.Hash()
		}
		return nil
	})
	return out, err
}

// removeRefs deletes the refs under prefix.
func removeRefs(g *git.Repository, prefix string) {
	refs, err := g.References()
	if err != nil {
		return
	}
	var names []plumbing.ReferenceName
	_ = refs.ForEach(func(ref *plumbing.Reference) error {
		if strings.HasPrefix(ref.Name().String(), prefix) {
			names = append(names, ref.Name())
		}
		return nil
	})
	refs.Close()
	for _, n := range names {
		_ = g.Storer.RemoveReference(n)
	}
}

// fetchAuditChain fetches remote's chain, registry tags and branches under
// prefix with git (its transports, credentials and config), never touching
// AuditRef or refs/tags: --refmap= stops git from also updating the refs the
// configured refspecs map (refs/trove/audit:refs/trove/audit among them), and
// FETCH_HEAD is left alone.
// found is false when the remote has no chain.
func fetchAuditChain(ctx context.Context, root string, w World, remote, prefix string) (found bool, err error) {
	if w.Runner == nil {
		return false, fmt.Errorf("%w: git cannot be run here", ErrAuditSync)
	}
	run := func(args ...string) (int, string, error) {
		var out bytes.Buffer
		code, err := w.Runner.Run(ctx, Cmd{Args: append([]string{"git"}, args...), Dir: root, Stdout: &out, Stderr: &out})
		return code, strings.TrimSpace(out.String()), err
	}
	code, out, err := run("ls-remote", "--exit-code", remote, AuditRef)
	switch {
	case err != nil:
		return false, fmt.Errorf("%w: git ls-remote %s: %w", ErrAuditSync, remote, err)
	case code == 2:
		return false, nil
	case code != 0:
		return false, fmt.Errorf("%w: git ls-remote %s %s: exit %d: %s", ErrAuditSync, remote, AuditRef, code, out)
	}
	code, out, err = run("fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--refmap=", remote,
		"+"+AuditRef+":"+prefix+"audit", "+refs/tags/*:"+prefix+"tags/*", "+refs/heads/*:"+prefix+"heads/*")
	switch {
	case err != nil:
		return false, fmt.Errorf("%w: git fetch %s: %w", ErrAuditSync, remote, err)
	case code != 0:
		return false, fmt.Errorf("%w: git fetch %s: exit %d: %s", ErrAuditSync, remote, code, out)
	}
	return true, nil
}

// AuditExtends reports whether the chain commit head extends the chain commit
// base (base is head, or one of its ancestors): whether a push of head over a
// remote's base fast-forwards. A base this clone does not have is not
// extended: the remote holds entries this clone never saw.
func AuditExtends(root, head, base string) (bool, error) {
	g, err := openGit(root)
	if err != nil {
		return false, err
	}
	b, err := g.CommitObject(plumbing.NewHash(base))
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	h, err := g.CommitObject(plumbing.NewHash(head))
	if err != nil {
		return false, err
	}
	if b.Hash == h.Hash {
		return true, nil
	}
	return b.IsAncestor(h)
}
