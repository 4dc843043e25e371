package main

// trove audit sync: the way out when two clones both appended to the audit
// chain and the second push of refs/trove/audit is rejected as
// non-fast-forward. The work (fetch, re-append, verify, move the refs) is
// governance.SyncAudit; this renders it.

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/trove-dev/trove/governance"
)

func auditSyncCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "sync",
		Usage: "take the remote's audit chain and re-append this clone's own entries after it, so the push fast-forwards",
		Description: "When another clone pushed entries to refs/trove/audit while this one appended its own,\n" +
			"`git push origin refs/trove/audit` is rejected (non-fast-forward). trove audit sync fetches\n" +
			"the remote's chain (with its registry tags and branches, into refs/trove-sync/REMOTE/, never\n" +
			"over local refs), and builds the chain: the remote's entries, then this clone's entries\n" +
			"the remote lacks, re-appended with a new seq, prev and Merkle root and appended_at, their\n" +
			"content (kind, subject, record digests, at, commit) unchanged, and signed again with the\n" +
			"key that signed them: --key (repeatable: each key re-signs the entries it signed), else\n" +
			"TROVE_SIGNING_KEY, else git's user.signingKey with gpg.format ssh. trove never signs for\n" +
			"someone else: a local entry signed by a key not given stops the sync, changing nothing.\n" +
			"\n" +
			"That chain is verified as `trove audit verify` verifies one (chain, signatures, tags,\n" +
			"approvals, decisions, digests), and it must still hold the remote chain the last sync saw\n" +
			"and every entry this clone verified before. Any failure exits with 3 and changes nothing.\n" +
			"Then, under the repository lock, refs/trove/audit moves by compare-and-swap (the old head\n" +
			"kept in refs/trove-backup/audit/TIME until the sync is done), the registry tags the\n" +
			"remote's entries record are created when missing, and refs/trove-verified/audit moves to\n" +
			"the new head. Push it then: git push REMOTE refs/trove/audit.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "remote", Aliases: []string{"r"}, Usage: "the git remote (`GITREMOTE`) to sync with", Value: "origin"},
			&cli.StringSliceFlag{Name: "key", Usage: "an SSH signing key that re-signs the entries it signed (repeatable; default: TROVE_SIGNING_KEY, then git's user.signingKey)"},
			jsonFlag, quietFlag,
		},
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			w, err := e.world()
			if err != nil {
				return err
			}
			r, err := e.open()
			if err != nil {
				return err
			}
			defer r.Close()
			opt := governance.AuditSyncOptions{Remote: c.String("remote")}
			source := "TROVE_SIGNING_KEY or git's user.signingKey"
			for _, k := range c.StringSlice("key") {
				if !strings.HasPrefix(k, "ssh-") && !strings.HasPrefix(k, "key::") && !strings.HasPrefix(k, "~/") && !filepath.IsAbs(k) {
					k = filepath.Join(e.cwd, k)
				}
				signer, closer, err := governance.OpenSigningKey(c.Context, w, k)
				if err != nil {
					return keyErr(err, "--key")
				}
				defer closer.Close()
				opt.Signers, source = append(opt.Signers, signer), "--key"
			}
			res, err := governance.SyncAudit(c.Context, r, w, opt)
			if err != nil {
				if res != nil && res.Transcript != nil {
					if c.Bool("json") {
						if werr := writeJSON(e.stdout, res); werr != nil {
							return werr
						}
					} else if werr := governance.WriteAuditTranscript(e.stdout, res.Transcript); werr != nil {
						return werr
					}
				}
				return auditSyncErr(err, opt.Remote, source, res)
			}
			if c.Bool("json") {
				if err := writeJSON(e.stdout, res); err != nil {
					return err
				}
			} else if len(res.Reappended) > 0 {
				rows := make([][]string, 0, len(res.Reappended))
				for _, a := range res.Reappended {
					seq := fmt.Sprint(a.Seq)
					if a.Already {
						seq = "(already there)"
					}
					signed := "unsigned"
					if a.Signed {
						signed = "re-signed"
					}
					rows = append(rows, []string{fmt.Sprint(a.From), seq, a.Kind, a.Subject, signed})
				}
				if err := table(e.stdout, []string{"FROM", "SEQ", "KIND", "SUBJECT", "SIGNATURE"}, rows); err != nil {
					return err
				}
			}
			for _, t := range res.Tags {
				e.summary(c, "created tag %s from %s (recorded by the chain)", t, res.Remote)
			}
			push := fmt.Sprintf("push it with `git push %s %s`", res.Remote, governance.AuditRef)
			switch res.Result {
			case governance.SyncNoRemoteChain:
				e.summary(c, "%s has no audit chain yet: %s", res.Remote, push)
			case governance.SyncUpToDate:
				e.summary(c, "audit chain up to date with %s: %d entries", res.Remote, res.Entries)
			case governance.SyncAhead:
				e.summary(c, "audit chain extends %s's (%d entries, %d there): %s", res.Remote, res.Entries, res.RemoteEntries, push)
			case governance.SyncFastForward:
				e.summary(c, "audit chain fast-forwarded to %s's: %d entries", res.Remote, res.Entries)
			default:
				moved := 0
				for _, a := range res.Reappended {
					if !a.Already {
						moved++
					}
				}
				what := fmt.Sprintf("%d local entries", moved)
				if moved == 1 {
					what = "1 local entry"
				}
				e.summary(c, "audit chain synced with %s: %d of its entries, then %s re-appended; %d entries, verified: %s",
					res.Remote, res.RemoteEntries, what, res.Entries, push)
			}
			return nil
		},
	}
}

// auditSyncErr maps SyncAudit's errors to exit codes and hints.
func auditSyncErr(err error, remote, source string, res *governance.AuditSyncResult) error {
	if remote == "" {
		remote = "origin"
	}
	var fe *governance.ForeignSignerError
	switch {
	case errors.As(err, &fe):
		return &cliError{msg: err.Error(), code: exitRuntime, err: err, hints: []string{
			fmt.Sprintf("nothing was changed; the entry was signed by %s (%s): run `trove audit sync` with that key (--key, or TROVE_SIGNING_KEY), or in the clone of whoever holds it", fe.Principal, fe.Fingerprint),
			"the signing key here comes from " + source,
		}}
	case errors.Is(err, governance.ErrAuditSyncConflict):
		return &cliError{msg: err.Error() + "; nothing was changed", code: exitRuntime, err: err, hints: []string{
			"the registry cannot hold two acts under one tag name, and sync never drops an entry: settle which act stands with whoever made the other, by hand",
			"`trove audit log` lists this clone's entries; `git ls-remote " + remote + " 'refs/tags/*'` the remote's tags",
		}}
	case errors.Is(err, governance.ErrNoGitRemote):
		return &cliError{msg: err.Error(), code: exitUsage, err: err, hints: []string{"`git remote -v` lists the remotes; pass --remote NAME"}}
	case errors.Is(err, governance.ErrAuditSyncRejected):
		what := []string{}
		if res != nil && res.Transcript != nil {
			for i, f := range res.Transcript.Failed() {
				if i == 3 {
					what = append(what, fmt.Sprintf("and %d more", res.Transcript.Failures-3))
					break
				}
				what = append(what, fmt.Sprintf("%s: %s: %s", f.Check, f.Subject, f.Detail))
			}
		}
		msg := err.Error()
		if len(what) > 0 {
			msg += ": " + strings.Join(what, "; ")
		}
		hints := []string{"the transcript above names each check; this clone's chain is untouched"}
		if res != nil && res.RemoteEntries > 0 {
			hints = append(hints, fmt.Sprintf("entries 1 to %d are %s's, any after them this clone's, re-appended", res.RemoteEntries, remote))
		}
		hints = append(hints, fmt.Sprintf("a chain that does not verify on %s was tampered with or rewritten there: restore %s on %s from a clone or bundle that verified", remote, governance.AuditRef, remote))
		return &cliError{msg: msg, code: exitIntegrity, err: err, hints: hints}
	case errors.Is(err, governance.ErrBadAuditEntry), errors.Is(err, governance.ErrNewerAudit):
		return &cliError{msg: err.Error(), code: exitIntegrity, err: err, hints: []string{"`trove audit verify` checks the local chain"}}
	case errors.Is(err, governance.ErrSigning):
		return keyErr(err, source)
	case errors.Is(err, governance.ErrAuditSync):
		return &cliError{msg: err.Error(), code: exitRuntime, err: err}
	}
	return govErr(err)
}
