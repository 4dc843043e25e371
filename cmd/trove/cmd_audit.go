package main

// trove audit verify: check the tamper-evident audit chain (refs/trove/audit)
// and what it vouches for, in a repository or in a bundle that
// `trove report --bundle` wrote. The checks are in governance
// (audit_verify.go); the bytes on the local store and on a remote are checked
// here, with the manifest and remote packages, and added to the transcript.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/trove-dev/trove/governance"
	rpt "github.com/trove-dev/trove/governance/report"
	"github.com/trove-dev/trove/manifest"
	"github.com/trove-dev/trove/objects"
	"github.com/trove-dev/trove/remote"
)

func auditCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "audit",
		Usage: "verify the tamper-evident chain of promotions, approvals and policy decisions",
		Subcommands: []*cli.Command{
			auditVerifyCommand(e),
			auditLogCommand(e),
			auditSyncCommand(e),
		},
	}
}

func auditVerifyCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "verify",
		Usage: "check the audit chain, every signature, and what the records vouch for",
		Description: "Checks, offline, the audit chain in refs/trove/audit: no entry missing, reordered or\n" +
			"rewritten (each names the digest of the one before it and the Merkle root of all\n" +
			"before it); every entry signed by a key .trove/allowed_signers accepted as of the\n" +
			"commit the entry was made at (a key admitted later does not count, and each change of\n" +
			"the file is reported as a governance event); every registry tag and committed\n" +
			"approval in the chain, unchanged; every promotion's model digest the manifest's;\n" +
			"every lineage input resolving to a manifest in history; the model bytes, when the\n" +
			"local store has them, hashing to the manifests' digests (--deep: re-read from the\n" +
			"remote, --remote or the default one); and that the chain still holds the head this\n" +
			"clone verified last (refs/trove-verified/audit), so a force-pushed rewrite is caught.\n" +
			"NAME[@VERSION|@STAGE] limits the content and lineage checks to that model or version.\n" +
			"\n" +
			"--bundle FILE.tar checks a bundle written by `trove report --bundle`, outside any\n" +
			"repository; --since OLD.tar also checks that it extends an earlier bundle.\n" +
			"Each check is printed with its result; any failure exits with 3.",
		ArgsUsage: "[NAME[@VERSION|@STAGE]]",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "deep", Usage: "re-read the models' bytes from the remote and re-hash them"},
			&cli.StringFlag{Name: "remote", Aliases: []string{"r"}, Usage: "the remote for --deep (default: the default remote)"},
			&cli.StringFlag{Name: "bundle", Usage: "verify this bundle (`FILE.tar`) instead of the repository"},
			&cli.StringFlag{Name: "since", Usage: "with --bundle: an earlier bundle (`OLD.tar`) the chain must extend"},
			jsonFlag, quietFlag, jobsFlag,
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 1 {
				return usageErr("audit verify takes at most one NAME[@VERSION|@STAGE]", "e.g. trove audit verify churn@production")
			}
			if c.IsSet("since") && !c.IsSet("bundle") {
				return usageErr("--since needs --bundle", "e.g. trove audit verify --bundle new.tar --since old.tar")
			}
			if c.IsSet("remote") && !c.Bool("deep") {
				return usageErr("--remote is for --deep: the other checks are offline", "e.g. trove audit verify --deep --remote origin")
			}
			var t *governance.AuditTranscript
			if b := c.String("bundle"); b != "" {
				if c.NArg() > 0 || c.Bool("deep") {
					return usageErr("--bundle checks the whole bundle, offline: no NAME, no --deep")
				}
				var err error
				if t, err = e.verifyBundle(b, c.String("since")); err != nil {
					return err
				}
			} else {
				r, err := e.open()
				if err != nil {
					return err
				}
				defer r.Close()
				if t, _, err = e.auditTranscript(c, r, c.Args().First(), c.Bool("deep"), c.String("remote")); err != nil {
					return err
				}
				if t.OK {
					if err := governance.MarkAuditVerified(r.Root, t.Head); err != nil {
						return err
					}
				}
			}
			return e.auditDone(c, t)
		},
	}
}

// auditDone prints the transcript and the verdict: exit 3 naming what failed.
func (e *env) auditDone(c *cli.Context, t *governance.AuditTranscript) error {
	if c.Bool("json") {
		if err := writeJSON(e.stdout, t); err != nil {
			return err
		}
	} else if err := governance.WriteAuditTranscript(e.stdout, t); err != nil {
		return err
	}
	if !t.OK {
		var what []string
		for i, f := range t.Failed() {
			if i == 5 {
				what = append(what, fmt.Sprintf("and %d more", t.Failures-5))
				break
			}
			what = append(what, fmt.Sprintf("%s: %s: %s", f.Check, f.Subject, f.Detail))
		}
		hints := []string{"the transcript above names each check; a rewritten chain cannot be repaired here: restore refs/trove/audit from a clone or bundle that verified"}
		if c.String("bundle") == "" {
			for _, f := range t.Failed() {
				if f.Check == "head" {
					hints = append(hints, "after an interrupted `trove audit sync` (it leaves a refs/trove-backup/audit/ ref), run it again: it accepts the chain only if it holds every entry verified before, by content")
					break
				}
			}
		}
		return &cliError{code: exitIntegrity, msg: fmt.Sprintf("audit verification failed (%s): %s", plural(int64(t.Failures), "check"), strings.Join(what, "; ")),
			hints: hints}
	}
	e.summary(c, "audit chain verified: %d entries, %d checks, root %s", t.Entries, len(t.Checks), t.TreeHash)
	return nil
}

// auditTranscript runs the whole verification on the repository: the chain
// (governance), then the bytes and the lineage of the model versions it names,
// optionally only those of ref.
func (e *env) auditTranscript(c *cli.Context, r *manifest.Repo, ref string, deep bool, remoteName string) (*governance.AuditTranscript, *governance.AuditEvidence, error) {
	ev, err := governance.CollectAuditEvidence(c.Context, r.Root)
	if err != nil {
		return nil, nil, govErr(err)
	}
	known, err := governance.KnownHeadOf(r.Root)
	if err != nil {
		return nil, nil, govErr(err)
	}
	t := governance.VerifyAuditEvidence(ev, known)
	scope := ev
	if ref != "" {
		stages, err := configStages(r)
		if err != nil {
			return nil, nil, err
		}
		gr, err := rpt.ParseRef(ref, stages)
		if err != nil {
			return nil, nil, govErr(err)
		}
		version := gr.Version
		if gr.Stage != "" || gr.Version != "" {
			reg, err := e.readRegistry(r)
			if err != nil {
				return nil, nil, err
			}
			_, v, err := reg.Resolve(gr, stages)
			if err != nil {
				return nil, nil, govErr(err)
			}
			version = v.Version
		}
		scope = ev.ForModel(gr.Name, version)
	}
	inputs, err := governance.VerifyAuditLineage(c.Context, r, scope, t)
	if err != nil {
		return nil, nil, govErr(err)
	}
	if err := e.auditContent(c, r, append(governance.AuditArtifacts(scope), inputs...), t, deep, remoteName); err != nil {
		return nil, nil, err
	}
	return t, ev, nil
}

// auditContent checks that the bytes of the model versions the chain names,
// and of the data upstream of them, hash to their manifests' digests: from the
// local store when it has them, and with deep from the remote too.
func (e *env) auditContent(c *cli.Context, r *manifest.Repo, arts []manifest.Tracked, t *governance.AuditTranscript, deep bool, remoteName string) error {
	for _, a := range arts {
		subj := fmt.Sprintf("%s %s", a.Path, shortID(a.Manifest.Digest.String()))
		res, err := r.Verify(c.Context, []manifest.Tracked{a}, true)
		if err != nil {
			return err
		}
		missing, bad := 0, []string{}
		for _, p := range res.Problems {
			if p.Kind == "missing" {
				missing++
			} else {
				bad = append(bad, p.Kind+": "+p.Detail)
			}
		}
		switch {
		case len(bad) > 0:
			t.Add("content", subj, governance.CheckFail, "the local store's bytes do not hash to the manifest's digest: %s", strings.Join(bad, "; "))
		case missing > 0:
			t.Add("content", subj, governance.CheckSkip, "the bytes are not in the local store (`trove pull`, or --deep re-reads them from the remote)")
		default:
			t.Add("content", subj, governance.CheckOK, "%d bytes re-hashed from the local store: the digest is the manifest's", res.Bytes)
		}
	}
	if !deep || len(arts) == 0 {
		return nil
	}
	need, err := r.NeededSet(c.Context, arts, nil)
	if err != nil {
		return &cliError{msg: fmt.Sprintf("cannot list what the manifests need: %v", err), code: exitIntegrity, err: err,
			hints: []string{"the local store lacks recipe or tree objects; `trove fetch` first"}}
	}
	defer need.Close()
	rem, name, err := e.openRemote(c.Context, r, remoteName)
	if err != nil {
		return err
	}
	p := e.progress(c)
	inOrder := func(fn func(objects.ID) error) error { return r.WalkNeeded(c.Context, arts, fn) }
	cr, err := remote.CheckSet(c.Context, rem, need, true, e.transferOptions(c, r, name, p), inOrder)
	p.done()
	if err != nil {
		return remoteErr(err, rem)
	}
	if len(cr.Problems) == 0 {
		t.Add("content", "remote "+name, governance.CheckOK, "%d chunks of %d artifact version(s) re-read (%d bytes) and re-hashed: all intact", cr.Chunks, len(arts), cr.Read)
		return nil
	}
	for i, pr := range cr.Problems {
		if i == 10 {
			t.Add("content", "remote "+name, governance.CheckFail, "and %d more problems", len(cr.Problems)-10)
			break
		}
		where := pr.Key
		if where == "" {
			where = pr.ID.String()
		}
		t.Add("content", "remote "+name+" "+where, governance.CheckFail, "%s: %s (a pack was replaced or damaged on the remote)", pr.Kind, pr.Detail)
	}
	return nil
}

// verifyBundle checks a bundle (and, with since, that it extends an earlier
// one) without any repository.
func (e *env) verifyBundle(file, since string) (*governance.AuditTranscript, error) {
	b, err := e.readBundle(file)
	if err != nil {
		return nil, err
	}
	var known *governance.KnownHead
	if since != "" {
		old, err := e.readBundle(since)
		if err != nil {
			return nil, err
		}
		known = governance.BundleKnownHead(old, since)
	}
	t := governance.VerifyAuditEvidence(b.Evidence, known)
	t.Add("content", file, governance.CheckSkip, "a bundle holds no model bytes: transcript.txt has the repository's content and lineage checks")
	if raw, ok := b.Files["transcript.json"]; ok {
		var rec governance.AuditTranscript
		if err := jsonUnmarshal(raw, &rec); err != nil {
			t.Add("transcript", file, governance.CheckFail, "transcript.json: %v", err)
		} else if !rec.OK {
			t.Add("transcript", file, governance.CheckFail, "the verification recorded when the bundle was made failed %d check(s)", rec.Failures)
		} else if rec.Head != b.Evidence.Head || rec.TreeHash != t.TreeHash {
			t.Add("transcript", file, governance.CheckFail, "the recorded verification is of another chain (tree %s, not %s)", rec.TreeHash, t.TreeHash)
		} else {
			t.Add("transcript", file, governance.CheckOK, "the verification recorded in the repository passed, on this chain")
		}
	} else {
		t.Add("transcript", file, governance.CheckWarn, "no transcript.json in the bundle")
	}
	return t, nil
}

func (e *env) readBundle(file string) (*governance.AuditBundle, error) {
	p := file
	if !filepath.IsAbs(p) {
		p = filepath.Join(e.cwd, p)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, &cliError{msg: err.Error(), code: exitUsage, err: err,
			hints: []string{"give the path of a bundle that `trove report NAME --bundle FILE.tar` wrote"}}
	}
	b, err := governance.ReadAuditBundle(bytes.NewReader(data))
	if err != nil {
		return nil, &cliError{msg: fmt.Sprintf("%s: %v", file, err), code: exitIntegrity, err: err,
			hints: []string{"a bundle is written by `trove report NAME --bundle FILE.tar`"}}
	}
	return b, nil
}

// jsonUnmarshal decodes strictly: unknown fields are an error.
func jsonUnmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func auditLogCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "log",
		Usage: "list the entries of the audit chain (refs/trove/audit), oldest first; `trove audit verify` checks them",
		Flags: []cli.Flag{jsonFlag, quietFlag},
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			r, err := e.open()
			if err != nil {
				return err
			}
			defer r.Close()
			head, entries, err := governance.ReadAuditEntries(r.Root)
			if err != nil {
				return govErr(err)
			}
			if c.Bool("json") {
				return writeJSON(e.stdout, map[string]any{"ref": governance.AuditRef, "head": head, "entries": entries})
			}
			rows := make([][]string, 0, len(entries))
			for _, le := range entries {
				signed := "unsigned"
				if le.Signed {
					signed = "signed"
				}
				if le.Entry == nil {
					rows = append(rows, []string{strings.TrimSuffix(le.File, ".json"), "-", "?", le.Problem, "-", signed})
					continue
				}
				en := le.Entry
				by := en.By
				if en.Principal != "" {
					by = en.Principal
				}
				rows = append(rows, []string{fmt.Sprint(en.Seq), en.At, en.Kind, governance.AuditSubject(en), by, signed})
			}
			if len(rows) > 0 {
				if err := table(e.stdout, []string{"SEQ", "AT", "KIND", "SUBJECT", "BY", "SIGNATURE"}, rows); err != nil {
					return err
				}
			}
			e.summary(c, "%s: %d entries (`trove audit verify` checks them)", governance.AuditRef, len(entries))
			return nil
		},
	}
}
