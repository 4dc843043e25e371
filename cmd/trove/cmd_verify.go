package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/trove-dev/trove/manifest"
	"github.com/trove-dev/trove/objects"
	"github.com/trove-dev/trove/remote"
)

type verifyReport struct {
	Local  manifest.VerifyResult `json:"local"`
	Remote *struct {
		Name string `json:"name"`
		remote.CheckResult
	} `json:"remote,omitempty"`
	OK bool `json:"ok"`
}

func verifyCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "verify",
		Usage:     "check that every object the manifests need is stored (and, with --deep, intact)",
		ArgsUsage: "[PATH...]",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "deep", Usage: "read every byte back and re-hash it"},
			&cli.BoolFlag{Name: "all-revs", Usage: "every version in any commit reachable from any ref, not just the working tree's"},
			&cli.StringFlag{Name: "remote", Aliases: []string{"r"}, Usage: "also check this remote (its objects, not the local store's)"},
			jsonFlag, quietFlag, jobsFlag,
		},
		Action: func(c *cli.Context) error {
			r, err := e.open()
			if err != nil {
				return err
			}
			defer r.Close()
			start := time.Now()
			only, err := r.Resolve(e.cwd, c.Args().Slice())
			if err != nil {
				return err
			}
			ts, err := r.List(c.Context, only)
			if err != nil {
				return err
			}
			if c.Bool("all-revs") {
				hist, err := r.AllManifests(c.Context)
				if err != nil {
					return historyErr(err)
				}
				ts = ts[:0]
				for _, t := range hist.Manifests {
					if len(only) == 0 || containsPrefix(only, t.Path) {
						ts = append(ts, t)
					}
				}
			}
			if c.NArg() > 0 && len(ts) == 0 {
				return fmt.Errorf("%s: %w", c.Args().First(), manifest.ErrNotTracked)
			}
			rep := verifyReport{}
			rep.Local, err = r.Verify(c.Context, ts, c.Bool("deep"))
			if err != nil {
				return err
			}
			problems := len(rep.Local.Problems)
			if c.IsSet("remote") {
				var valid []manifest.Tracked
				for _, t := range ts {
					if t.Err == nil {
						valid = append(valid, t)
					}
				}
				need, err := r.NeededSet(c.Context, valid, nil)
				if err != nil {
					return &cliError{msg: fmt.Sprintf("cannot list what the manifests need: %v", err), code: exitIntegrity, err: err,
						hints: []string{"the local store lacks recipe or tree objects; `trove fetch` first"}}
				}
				defer need.Close()
				rem, name, err := e.openRemote(c.Context, r, c.String("remote"))
				if err != nil {
					return err
				}
				p := e.progress(c)
				inOrder := func(fn func(objects.ID) error) error { return r.WalkNeeded(c.Context, valid, fn) }
				cr, err := remote.CheckSet(c.Context, rem, need, c.Bool("deep"), e.transferOptions(c, r, name, p), inOrder)
				p.done()
				if err != nil {
					return remoteErr(err, rem)
				}
				rep.Remote = &struct {
					Name string `json:"name"`
					remote.CheckResult
				}{name, cr}
				problems += len(cr.Problems)
			}
			rep.OK = problems == 0
			if c.Bool("json") {
				if err := writeJSON(e.stdout, rep); err != nil {
					return err
				}
			} else if problems > 0 {
				var rows [][]string
				for _, p := range rep.Local.Problems {
					rows = append(rows, []string{"local", relTo(r, e.cwd, p.Artifact), p.File, p.Kind, p.Detail})
				}
				if rep.Remote != nil {
					for _, p := range rep.Remote.Problems {
						rows = append(rows, []string{rep.Remote.Name, "", p.Key, p.Kind, p.Detail})
					}
				}
				if err := table(e.stdout, []string{"WHERE", "ARTIFACT", "FILE", "PROBLEM", "DETAIL"}, rows); err != nil {
					return err
				}
			}
			what := "present"
			if c.Bool("deep") {
				what = "present and intact"
			}
			if problems > 0 {
				return &cliError{msg: fmt.Sprintf("verify found %s in %s", plural(int64(problems), "problem"), plural(int64(rep.Local.Artifacts), "artifact")), code: exitIntegrity,
					hints: []string{"missing objects: `trove pull` fetches them, or `trove add PATH` stores them again from the data; corrupt objects on a remote: `trove push --force` from a clone that has the data"}}
			}
			e.summary(c, "verified %s (%s): all %s, in %s", plural(int64(rep.Local.Artifacts), "artifact"), plural(int64(rep.Local.Chunks), "chunk"), what, since(start))
			return nil
		},
	}
}

func containsPrefix(only []string, p string) bool {
	for _, o := range only {
		if o == p || strings.HasPrefix(p, o+"/") {
			return true
		}
	}
	return false
}
