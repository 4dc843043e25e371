package main

import (
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/trove-dev/trove/manifest"
)

func (e *env) open() (*manifest.Repo, error) {
	return manifest.Open(e.cwd)
}

// defaultLockWait is how long a command waits for another trove process in the
// same repository before giving up; TROVE_LOCK_WAIT (a Go duration) changes it.
const defaultLockWait = 30 * time.Second

func (e *env) lockWait() time.Duration {
	if d, err := time.ParseDuration(e.getenv("TROVE_LOCK_WAIT")); err == nil && d >= 0 {
		return d
	}
	return defaultLockWait
}

// openLocked opens the repository and takes its write lock; close releases both.
func (e *env) openLocked(c *cli.Context) (*manifest.Repo, func(), error) {
	r, err := e.open()
	if err != nil {
		return nil, nil, err
	}
	unlock, err := r.Lock(c.Context, e.lockWait())
	if err != nil {
		r.Close()
		return nil, nil, err
	}
	return r, func() { r.Close(); unlock() }, nil
}

func initCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "init",
		Usage:     "set up trove in the current git repository",
		ArgsUsage: " ",
		Flags:     []cli.Flag{jsonFlag, quietFlag},
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			r, res, err := manifest.Init(e.cwd)
			if err != nil {
				return err
			}
			defer r.Close()
			if c.Bool("json") {
				return writeJSON(e.stdout, res)
			}
			if res.Created {
				e.summary(c, "initialized trove in %s", res.Root)
				e.summary(c, "hint: commit .trove/config and .trove/.gitignore; track data with `trove add PATH`")
			} else {
				e.summary(c, "trove is already initialized in %s", res.Root)
			}
			return nil
		},
	}
}

func parseMeta(kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	m := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usageErr(fmt.Sprintf("--meta %q: want KEY=VALUE", kv), "e.g. --meta owner=alice@example.com --meta license=CC-BY-4.0")
		}
		if !manifest.ValidMetaKey(k) {
			return nil, usageErr(fmt.Sprintf("--meta key %q: use lowercase letters, digits, '_', '.', '-'", k))
		}
		m[k] = v
	}
	return m, nil
}

func addCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "add",
		Usage:     "track files or directories: store their chunks and write PATH.trove",
		ArgsUsage: "PATH...",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "kind", Usage: "dataset, model or artifact (default: the previous kind, or dataset)"},
			&cli.StringFlag{Name: "name", Usage: "artifact name (default: the file or directory name)"},
			&cli.StringSliceFlag{Name: "meta", Usage: "metadata KEY=VALUE (owner, license, classification, description...); repeatable"},
			&cli.StringSliceFlag{Name: "input", Usage: "record lineage by hand: a tracked artifact this was made from, [ROLE=]PATH, or a production observation, ROLE=blake3:ID or ROLE=FILE; repeatable"},
			jsonFlag, quietFlag, jobsFlag,
		},
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return usageErr("add needs at least one PATH", "e.g. trove add data/train.csv")
			}
			kind := c.String("kind")
			switch kind {
			case "", manifest.KindDataset, manifest.KindModel, manifest.KindArtifact:
			default:
				return usageErr(fmt.Sprintf("--kind %q: want dataset, model or artifact", kind))
			}
			if n := c.String("name"); n != "" && !manifest.ValidName(n) {
				return usageErr(fmt.Sprintf("--name %q: use letters, digits, '.', '_' and '-'", n))
			}
			if c.String("name") != "" && c.NArg() != 1 {
				return usageErr(fmt.Sprintf("--name names one artifact, but %d paths were given", c.NArg()), "add the paths one at a time")
			}
			meta, err := parseMeta(c.StringSlice("meta"))
			if err != nil {
				return err
			}
			r, done, err := e.openLocked(c)
			if err != nil {
				return err
			}
			defer done()
			lineage, err := e.addLineage(c, r)
			if err != nil {
				return err
			}
			start := time.Now()
			prog := e.progress(c)
			res, err := r.Add(c.Context, c.Args().Slice(), manifest.AddOptions{
				Cwd: e.cwd, Kind: kind, Name: c.String("name"), Meta: meta, Lineage: lineage,
				Progress: prog.event, Jobs: c.Int("jobs"),
			})
			prog.done()
			for _, a := range res {
				for _, w := range a.Warnings {
					fmt.Fprintf(e.stderr, "trove: warning: %s: %s\n", a.Path, w)
				}
			}
			if c.Bool("json") {
				if res == nil {
					res = []manifest.AddResult{}
				}
				if jerr := writeJSON(e.stdout, res); err == nil {
					err = jerr
				}
			} else if len(res) > 0 {
				rows := make([][]string, 0, len(res))
				for _, a := range res {
					rows = append(rows, []string{relTo(r, e.cwd, a.Path), a.Kind, fmt.Sprint(a.Files), human(a.Size), human(a.NewBytes), a.Digest.String()[:19]})
				}
				if terr := table(e.stdout, []string{"PATH", "KIND", "FILES", "SIZE", "NEW", "DIGEST"}, rows); err == nil {
					err = terr
				}
			}
			if err != nil {
				return err
			}
			var size, newBytes int64
			var manifests []string
			dirs := map[string]bool{}
			for _, a := range res {
				size += a.Size
				newBytes += a.NewBytes
				manifests = append(manifests, relTo(r, e.cwd, a.Manifest))
				d := a.Path[:max(0, strings.LastIndex(a.Path, "/"))]
				dirs[d] = true
			}
			for d := range dirs {
				gi := ".gitignore"
				if d != "" {
					gi = d + "/.gitignore"
				}
				manifests = append(manifests, relTo(r, e.cwd, gi))
			}
			sort.Strings(manifests[len(res):])
			e.summary(c, "added %s, %s, %s new in %s", plural(int64(len(res)), "path"), human(size), human(newBytes), since(start))
			e.summary(c, "hint: commit the manifests: git add %s", strings.Join(manifests, " "))
			return nil
		},
	}
}

func statusCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "status",
		Usage:     "show which tracked data differs from its manifest",
		ArgsUsage: "[PATH...]",
		Flags:     []cli.Flag{jsonFlag, quietFlag, jobsFlag},
		Action: func(c *cli.Context) error {
			r, err := e.open()
			if err != nil {
				return err
			}
			defer r.Close()
			st, err := r.Status(c.Context, manifest.StatusOptions{Cwd: e.cwd, Paths: c.Args().Slice(), Jobs: c.Int("jobs")})
			if err != nil {
				return err
			}
			if c.Bool("json") {
				if st == nil {
					st = []manifest.StatusEntry{}
				}
				if err := writeJSON(e.stdout, st); err != nil {
					return err
				}
			}
			counts := map[string]int64{}
			var rows [][]string
			for _, s := range st {
				counts[s.State]++
				if c.Bool("json") {
					continue
				}
				rows = append(rows, []string{s.State, relTo(r, e.cwd, s.Path), s.Kind, s.Error})
				for i, ch := range s.Changes {
					if i == 20 {
						rows = append(rows, []string{"", fmt.Sprintf("  ... and %d more", len(s.Changes)-20), "", ""})
						break
					}
					rows = append(rows, []string{"", "  " + ch.Change + ": " + ch.Path, "", ""})
				}
			}
			if len(rows) > 0 {
				if err := table(e.stdout, []string{"STATE", "PATH", "KIND", ""}, rows); err != nil {
					return err
				}
			}
			var parts []string
			for _, s := range []string{manifest.StateOK, manifest.StateModified, manifest.StateMissing, manifest.StateInvalid} {
				if counts[s] > 0 {
					parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
				}
			}
			if len(st) == 0 {
				e.summary(c, "nothing tracked yet: track data with `trove add PATH`")
				return nil
			}
			e.summary(c, "%s: %s", plural(int64(len(st)), "artifact"), strings.Join(parts, ", "))
			if counts[manifest.StateModified] > 0 {
				e.summary(c, "hint: `trove add PATH` records the changes, `trove checkout PATH` discards them")
			}
			if counts[manifest.StateMissing] > 0 {
				e.summary(c, "hint: `trove checkout` (or `trove pull`) restores missing data")
			}
			var bad []error
			for _, s := range st {
				if s.State == manifest.StateInvalid {
					// Read it again for the error value: it decides the exit code.
					_, err := r.ReadManifest(s.Path)
					if err == nil {
						err = fmt.Errorf("%s: %w: %s", s.Path, manifest.ErrInvalid, s.Error)
					}
					bad = append(bad, err)
				}
			}
			return unreadable(bad)
		},
	}
}

func checkoutCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "checkout",
		Usage:     "restore tracked data from the local store to match the manifests",
		ArgsUsage: "[PATH...]",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "overwrite local changes that were never added"},
			revFlag, jsonFlag, quietFlag, jobsFlag,
		},
		Action: func(c *cli.Context) error {
			r, done, err := e.openLocked(c)
			if err != nil {
				return err
			}
			defer done()
			start := time.Now()
			opt := manifest.CheckoutOptions{Cwd: e.cwd, Paths: c.Args().Slice(), Force: c.Bool("force"), Jobs: c.Int("jobs")}
			if rev := c.String("rev"); rev != "" {
				// The manifests as committed at rev, not the working tree's.
				if opt.Manifests, err = e.revManifests(c, r, rev); err != nil {
					return err
				}
			}
			prog := e.progress(c)
			opt.Progress = prog.event
			res, err := r.Checkout(c.Context, opt)
			err = revCheckoutErr(c.String("rev"), err)
			prog.done()
			if c.Bool("json") {
				if res == nil {
					res = []manifest.CheckoutEntry{}
				}
				if jerr := writeJSON(e.stdout, res); jerr != nil && err == nil {
					err = jerr
				}
			}
			var restored, current, bytes, removed int64
			for _, a := range res {
				restored += a.Restored
				current += a.Current
				bytes += a.Bytes
				removed += a.Removed
				for _, p := range a.Problems {
					fmt.Fprintf(e.stderr, "trove: error: %s: %s\n", joinPath(a.Path, p.Path), p.Error)
				}
				for _, k := range a.Kept {
					fmt.Fprintf(e.stderr, "trove: warning: %s/%s is not in the manifest and was never added; kept\n", a.Path, k)
				}
			}
			if err != nil && len(res) == 0 {
				return err // nothing was attempted: no summary to give
			}
			e.summary(c, "checked out %s: %s restored (%s), %s already up to date, %s removed, in %s",
				plural(int64(len(res)), "artifact"), plural(restored, "file"), human(bytes), plural(current, "file"), plural(removed, "stale file"), since(start))
			return err
		},
	}
}

func joinPath(artifact, file string) string {
	if strings.HasSuffix(artifact, "/"+file) || artifact == file {
		return artifact
	}
	return artifact + "/" + file
}

// lsRow is one line of `trove ls --json`.
type lsRow struct {
	Path   string `json:"path"`
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Type   string `json:"type"`
	Files  int64  `json:"files"`
	Size   int64  `json:"size"`
	Digest string `json:"digest"`
	Error  string `json:"error,omitempty"`
}

func lsCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "ls",
		Usage:     "list tracked artifacts with kind, size, file count and digest",
		ArgsUsage: "[PATH...]",
		Flags:     []cli.Flag{jsonFlag, quietFlag},
		Action: func(c *cli.Context) error {
			r, err := e.open()
			if err != nil {
				return err
			}
			defer r.Close()
			only, err := r.Resolve(e.cwd, c.Args().Slice())
			if err != nil {
				return err
			}
			ts, err := r.List(c.Context, only)
			if err != nil {
				return err
			}
			out := []lsRow{}
			var bad []error
			for _, t := range ts {
				row := lsRow{Path: t.Path}
				if t.Err != nil {
					row.Error = t.Err.Error()
					bad = append(bad, t.Err)
				} else {
					m := t.Manifest
					row = lsRow{Path: t.Path, Name: m.Name, Kind: m.Kind, Type: m.Type, Files: m.Files, Size: m.Size, Digest: m.Digest.String()}
				}
				out = append(out, row)
			}
			if c.Bool("json") {
				if err := writeJSON(e.stdout, out); err != nil {
					return err
				}
			} else if len(out) > 0 {
				rows := make([][]string, 0, len(out))
				for _, o := range out {
					if o.Error != "" {
						rows = append(rows, []string{relTo(r, e.cwd, o.Path), "", "", "", "", "", "invalid: " + o.Error})
						continue
					}
					rows = append(rows, []string{relTo(r, e.cwd, o.Path), o.Name, o.Kind, o.Type, fmt.Sprint(o.Files), human(o.Size), o.Digest})
				}
				if err := table(e.stdout, []string{"PATH", "NAME", "KIND", "TYPE", "FILES", "SIZE", "DIGEST"}, rows); err != nil {
					return err
				}
			}
			if len(out) == 0 {
				if only != nil {
					return fmt.Errorf("%s: %w", c.Args().First(), manifest.ErrNotTracked)
				}
				e.summary(c, "nothing tracked yet: track data with `trove add PATH`")
			}
			return unreadable(bad)
		},
	}
}

// unreadable turns the errors of manifests that cannot be read into one error for
// the user: exit 2 with "upgrade trove" when they were all written by a newer trove
// (nothing is wrong with them), exit 3 when one is damaged or was edited by hand.
func unreadable(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	msg := errs[0].Error()
	if len(errs) > 1 {
		msg = fmt.Sprintf("%d manifests cannot be read; the first: %s", len(errs), msg)
	}
	ce := &cliError{msg: msg, code: exitUsage, err: errs[0]}
	var newer, damaged bool
	for _, err := range errs {
		if errors.Is(err, manifest.ErrNewerFormat) {
			newer = true
		} else {
			damaged = true
		}
	}
	if damaged {
		ce.code = exitIntegrity
		ce.hints = append(ce.hints, "restore a damaged manifest with `git checkout -- FILE.trove`, or re-create it with `trove add PATH`")
	}
	if newer {
		ce.hints = append(ce.hints, "a manifest was written by a newer trove: upgrade trove to read it")
	}
	return ce
}

func versionCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print trove's version",
		Flags: []cli.Flag{jsonFlag},
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			v := map[string]any{"version": troveVersion(), "go": runtime.Version(), "os": runtime.GOOS, "arch": runtime.GOARCH, "manifest_format": manifest.FormatVersion}
			if c.Bool("json") {
				return writeJSON(e.stdout, v)
			}
			_, err := fmt.Fprintf(e.stdout, "trove %s (manifest format %d, %s %s/%s)\n", troveVersion(), manifest.FormatVersion, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return err
		},
	}
}
