package main

import (
	"context"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/trove-dev/trove/manifest"
	"github.com/trove-dev/trove/objects"
	"github.com/trove-dev/trove/remote"
)

type gcReport struct {
	Local  manifest.GCResult `json:"local"`
	Remote *struct {
		Name string `json:"name"`
		remote.GCResult
	} `json:"remote,omitempty"`
	Shallow bool `json:"shallow,omitempty"`
}

func gcCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "gc",
		Usage: "delete stored data that no manifest in any branch, tag or other ref needs",
		Description: `gc keeps every object reachable from a manifest in any commit reachable from any
ref (branches, tags, remote-tracking refs, HEAD) or in the working tree, and
anything younger than --grace, so a concurrent add or a push from another clone is
never collected. With --remote it collects the remote too; packs named in any
object under keep/ on the remote are never deleted (for remotes shared by several
repositories). --dry-run shows what would go.`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Usage: "show what would be deleted, delete nothing"},
			&cli.DurationFlag{Name: "grace", Value: 24 * time.Hour, Usage: "keep anything younger than this"},
			&cli.StringFlag{Name: "remote", Aliases: []string{"r"}, Usage: "also collect this remote"},
			jsonFlag, quietFlag, jobsFlag,
		},
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			r, done, err := e.openLocked(c)
			if err != nil {
				return err
			}
			defer done()
			start := time.Now()
			hist, err := r.AllManifests(c.Context)
			if err != nil {
				return &cliError{msg: fmt.Sprintf("gc: %v", err), code: exitRuntime, err: err,
					hints: []string{"nothing was deleted: gc needs every manifest in history to be readable"}}
			}
			if hist.Shallow {
				return &cliError{msg: "gc: the git history is shallow, so older versions cannot be seen", code: exitUsage,
					hints: []string{"nothing was deleted; `git fetch --unshallow` first"}}
			}
			rep := gcReport{}
			rep.Local, err = r.GC(c.Context, hist, manifest.GCOptions{DryRun: c.Bool("dry-run"), Grace: c.Duration("grace")})
			if err != nil {
				return err
			}
			if c.IsSet("remote") {
				rem, name, err := e.openRemote(c.Context, r, c.String("remote"))
				if err != nil {
					return err
				}
				st, err := r.Store()
				if err != nil {
					return err
				}
				p := e.progress(c)
				opts := e.transferOptions(c, r, name, p)
				ensure := func(ctx context.Context, ids []objects.ID) error {
					_, err := remote.Fetch(ctx, rem, st, ids, opts)
					return err
				}
				reach, err := r.Reachable(c.Context, hist.Manifests, ensure)
				if err != nil {
					p.done()
					return remoteErr(err, rem)
				}
				defer reach.Close()
				if len(reach.Problems) > 0 {
					p.done()
					return &cliError{msg: fmt.Sprintf("gc: cannot list what %s needs: %s", plural(int64(len(reach.Problems)), "artifact version"), reach.Problems[0]), code: exitIntegrity,
						hints: []string{"nothing was deleted on the remote; `trove verify --remote " + name + "` shows what is missing"}}
				}
				gr, err := remote.GC(c.Context, rem, reach.Chunks,
					remote.GCOptions{Options: opts, DryRun: c.Bool("dry-run"), Grace: c.Duration("grace"), Now: time.Now(), TempDir: st.TempDir()})
				p.done()
				if err != nil {
					return remoteErr(err, rem)
				}
				rep.Remote = &struct {
					Name string `json:"name"`
					remote.GCResult
				}{name, gr}
			}
			if c.Bool("json") {
				return writeJSON(e.stdout, rep)
			}
			var rows [][]string
			for _, p := range rep.Local.Packs {
				rows = append(rows, []string{"local", p.Pack.Short(), p.Action, human(p.Size), human(p.Garbage), p.Why})
			}
			if rep.Remote != nil {
				for _, p := range rep.Remote.Packs {
					rows = append(rows, []string{rep.Remote.Name, p.Pack.Short(), p.Action, human(p.Size), human(p.Garbage), p.Why})
				}
			}
			if len(rows) > 0 {
				if err := table(e.stdout, []string{"WHERE", "PACK", "ACTION", "SIZE", "GARBAGE", "WHY"}, rows); err != nil {
					return err
				}
			}
			for _, p := range rep.Local.Problems {
				fmt.Fprintf(e.stderr, "trove: warning: %s\n", p)
			}
			verb := "freed"
			if c.Bool("dry-run") {
				verb = "would free"
			}
			freed := rep.Local.Freed
			if rep.Remote != nil {
				freed += rep.Remote.Freed
			}
			e.summary(c, "gc walked %s and %s (%s): %s %s, in %s", plural(int64(rep.Local.Refs), "ref"), plural(int64(rep.Local.Commits), "commit"),
				plural(int64(rep.Local.Manifests), "artifact version"), verb, human(freed), since(start))
			return nil
		},
	}
}
