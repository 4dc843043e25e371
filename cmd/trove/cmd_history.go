package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/trove-dev/trove/manifest"
	"github.com/trove-dev/trove/objects"
)

// revFlag is `trove checkout --rev`.
var revFlag = &cli.StringFlag{Name: "rev", Usage: "check out the data as it was at this git revision (branch, tag, commit, HEAD~N)"}

// historyErr gives the history errors their exit codes and hints.
func historyErr(err error) error {
	var ce *cliError
	switch {
	case err == nil, errors.As(err, &ce):
		return err
	case errors.Is(err, manifest.ErrUnknownRevision):
		return &cliError{msg: err.Error(), code: exitUsage, err: err, hints: []string{"`git log --oneline` lists revisions"}}
	case errors.Is(err, manifest.ErrShallow):
		return &cliError{msg: err.Error(), code: exitRuntime, err: err,
			hints: []string{"`git fetch --unshallow` fetches the whole history, `git fetch --deepen=N` N more commits"}}
	}
	return err
}

// existingPath reports whether arg names something in the working tree: a file
// or directory, or an artifact whose manifest is there.
func (e *env) existingPath(arg string) bool {
	p := arg
	if !filepath.IsAbs(p) {
		p = filepath.Join(e.cwd, p)
	}
	if _, err := os.Lstat(p); err == nil {
		return true
	}
	_, err := os.Lstat(strings.TrimSuffix(p, manifest.Ext) + manifest.Ext)
	return err == nil
}

// splitRevs separates revisions from paths the way git does: leading arguments
// that resolve as revisions and are not existing paths are revisions (at most
// max); the rest are paths. guessed lists the paths that exist neither in the
// working tree nor as manifests there. An argument "--" separates revisions from
// paths explicitly, when the argument parser passes it on (interspersed, in
// args.go, drops it today).
func (e *env) splitRevs(r *manifest.Repo, args []string, max int) (revs, paths, guessed []string, err error) {
	for i, a := range args {
		if a == "--" {
			revs, paths = args[:i], args[i+1:]
			if len(revs) > max {
				return nil, nil, nil, usageErr(fmt.Sprintf("at most %d revisions, got %q", max, strings.Join(revs, " ")))
			}
			for _, rev := range revs {
				if _, err := r.ResolveRevision(rev); err != nil {
					return nil, nil, nil, historyErr(err)
				}
			}
			return revs, paths, nil, nil
		}
	}
	for i, a := range args {
		if len(revs) < max && !e.existingPath(a) {
			if _, err := r.ResolveRevision(a); err == nil {
				revs = append(revs, a)
				continue
			} else if errors.Is(err, manifest.ErrShallow) {
				return nil, nil, nil, historyErr(err)
			}
		}
		paths = args[i:]
		break
	}
	for _, p := range paths {
		if !e.existingPath(p) {
			guessed = append(guessed, p)
		}
	}
	return revs, paths, guessed, nil
}

func diffCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "diff",
		Usage: "show which artifacts changed between two revisions, or a revision and the working tree",
		Description: "With no revision, compares HEAD with the manifests in the working tree; with one, that\n" +
			"revision with the working tree; with two, the first with the second. It compares\n" +
			"manifests (what `git commit` records), not data: `trove status` shows data that\n" +
			"differs from its manifest. An argument that names a revision and no existing path\n" +
			"is a revision, as in git; the others are paths.",
		ArgsUsage: "[REV [REV]] [PATH...]",
		Flags:     []cli.Flag{jsonFlag, quietFlag},
		Action: func(c *cli.Context) error {
			r, err := e.open()
			if err != nil {
				return err
			}
			defer r.Close()
			revs, paths, guessed, err := e.splitRevs(r, c.Args().Slice(), 2)
			if err != nil {
				return err
			}
			only, err := r.Resolve(e.cwd, paths)
			if err != nil {
				return err
			}
			var from, to string
			if len(revs) > 0 {
				from = revs[0]
			}
			if len(revs) > 1 {
				to = revs[1]
			}
			res, err := r.Diff(c.Context, from, to, only)
			if err != nil {
				if errors.Is(err, manifest.ErrNotTracked) && len(guessed) > 0 {
					msg := err.Error()
					if len(guessed) == 1 {
						msg = fmt.Sprintf("%q is neither a revision nor a tracked path", guessed[0])
					}
					return &cliError{msg: msg, code: exitUsage, err: err,
						hints: []string{"`git log --oneline` lists revisions, `trove ls` lists tracked artifacts"}}
				}
				return historyErr(err)
			}
			if c.Bool("json") {
				if err := writeJSON(e.stdout, res); err != nil {
					return err
				}
			} else if len(res.Artifacts) > 0 {
				if err := table(e.stdout, []string{"CHANGE", "PATH", "BEFORE", "AFTER", "NEW", ""}, diffRows(r, e.cwd, res)); err != nil {
					return err
				}
			}
			e.summary(c, "%s changed: %d added, %d removed, %d modified; %s new",
				plural(int64(len(res.Artifacts)), "artifact"), res.Added, res.Removed, res.Modified, human(res.NewBytes))
			var bad int64
			for _, a := range res.Artifacts {
				if a.Error != "" {
					bad++
					fmt.Fprintf(e.stderr, "trove: error: %s\n", a.Error)
				}
			}
			if bad > 0 {
				return &cliError{msg: fmt.Sprintf("%s cannot be read", plural(bad, "manifest")), code: exitIntegrity,
					hints: []string{"restore a damaged manifest with `git checkout -- FILE.trove`, or re-create it with `trove add PATH`"}}
			}
			return nil
		},
	}
}

// diffRows renders a diff like status: one row per artifact, then its files.
func diffRows(r *manifest.Repo, cwd string, res manifest.DiffResult) [][]string {
	size := func(v *manifest.ArtifactVersion) string {
		if v == nil {
			return ""
		}
		return human(v.Size)
	}
	var rows [][]string
	for _, a := range res.Artifacts {
		newBytes := human(a.NewBytes)
		if a.NewBytesEstimated {
			newBytes = "~" + newBytes
		}
		var note []string
		switch {
		case a.Error != "":
			note = append(note, "unreadable manifest")
		case a.Change == manifest.ChangeModified && a.Old.Digest == a.New.Digest && a.Old.Type == a.New.Type:
			note = append(note, "same data; changed: "+strings.Join(a.Fields, ", "))
		case a.Old != nil && a.New != nil && a.Old.Type != a.New.Type:
			note = append(note, a.Old.Type+" -> "+a.New.Type)
		}
		if a.DetailUnavailable != "" {
			note = append(note, a.DetailUnavailable)
		}
		rows = append(rows, []string{a.Change, relTo(r, cwd, a.Path), size(a.Old), size(a.New), newBytes, strings.Join(note, "; ")})
		for i, f := range a.Files {
			if i == 20 {
				rows = append(rows, []string{"", fmt.Sprintf("  ... and %d more", len(a.Files)-20), "", "", "", ""})
				break
			}
			var before, after string
			if f.Old != nil {
				before = human(f.Old.Size)
			}
			if f.New != nil {
				after = human(f.New.Size)
			}
			if f.Change == manifest.ChangeMode {
				before, after = f.Old.Mode, f.New.Mode
			}
			rows = append(rows, []string{"", "  " + f.Change + ": " + f.Path, before, after, "", ""})
		}
	}
	return rows
}

func logCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "log",
		Usage: "list the committed versions of an artifact, newest first",
		Description: "Follows HEAD's first parents, like `git log --first-parent`, and lists each commit\n" +
			"that changed the artifact's manifest: a change merged from a branch shows as the merge.",
		ArgsUsage: "PATH",
		Flags:     []cli.Flag{jsonFlag, quietFlag},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageErr("log needs exactly one PATH", "e.g. trove log data/train.csv")
			}
			r, err := e.open()
			if err != nil {
				return err
			}
			defer r.Close()
			p := c.Args().First()
			if !filepath.IsAbs(p) {
				p = filepath.Join(e.cwd, p)
			}
			log, err := r.Log(c.Context, p)
			if err != nil {
				if errors.Is(err, manifest.ErrNotTracked) {
					return &cliError{msg: err.Error(), code: exitUsage, err: err,
						hints: []string{"`trove ls` lists tracked artifacts; an artifact has a log once its manifest is committed"}}
				}
				return historyErr(err)
			}
			if c.Bool("json") {
				if err := writeJSON(e.stdout, log); err != nil {
					return err
				}
			} else {
				rows := make([][]string, 0, len(log))
				for _, l := range log {
					digest, size := l.Digest, human(l.Size)
					switch {
					case l.Change == manifest.ChangeRemoved:
						digest, size = "(removed)", ""
					case l.Error != "":
						digest, size = "(unreadable)", ""
					default:
						digest = digest[:min(len(digest), len(objects.IDPrefix)+12)]
					}
					rows = append(rows, []string{l.Commit[:min(len(l.Commit), 10)], l.Date, l.Author, digest, size, l.Subject})
				}
				if err := table(e.stdout, []string{"COMMIT", "DATE", "AUTHOR", "DIGEST", "SIZE", "MESSAGE"}, rows); err != nil {
					return err
				}
			}
			versions := int64(0)
			for _, l := range log {
				if l.Change != manifest.ChangeRemoved {
					versions++
				}
				if l.Error != "" {
					fmt.Fprintf(e.stderr, "trove: warning: %s: %s\n", l.Commit[:min(len(l.Commit), 10)], l.Error)
				}
			}
			e.summary(c, "%s of %s in %s", plural(versions, "version"), c.Args().First(), plural(int64(len(log)), "commit"))
			if n := len(log); n > 0 && log[n-1].ShallowBoundary {
				fmt.Fprintf(e.stderr, "trove: warning: the git history is shallow: older versions may exist; `git fetch --unshallow` fetches them\n")
			}
			return nil
		},
	}
}

// revManifests returns the manifests of the selected artifacts at rev, for
// `trove checkout --rev`. It never returns nil without an error: nil Manifests
// would make Checkout use the working tree's.
func (e *env) revManifests(c *cli.Context, r *manifest.Repo, rev string) ([]manifest.Tracked, error) {
	only, err := r.Resolve(e.cwd, c.Args().Slice())
	if err != nil {
		return nil, err
	}
	ts, err := r.ManifestsAt(c.Context, rev, only)
	if err != nil {
		return nil, historyErr(err)
	}
	if c.NArg() > 0 && len(ts) == 0 {
		return nil, &cliError{msg: fmt.Sprintf("%s: %s at %s", c.Args().First(), manifest.ErrNotTracked, rev), code: exitUsage, err: manifest.ErrNotTracked,
			hints: []string{fmt.Sprintf("`git ls-tree -r --name-only %s` lists what that revision has", rev)}}
	}
	if ts == nil {
		ts = []manifest.Tracked{}
	}
	return ts, nil
}

// revCheckoutErr explains, for `trove checkout --rev`, data that the local store
// lacks: `trove fetch` gets what the current manifests name, not an old revision's.
func revCheckoutErr(rev string, err error) error {
	var ce *cliError
	if rev == "" || err == nil || errors.As(err, &ce) || !errors.Is(err, objects.ErrMissing) {
		return err
	}
	return &cliError{msg: err.Error(), code: exitIntegrity, err: err, hints: []string{
		fmt.Sprintf("the local store lacks data that %s names: `trove pull --rev %s` fetches it from the remote and checks it out", rev, rev),
	}}
}
