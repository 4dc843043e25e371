package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/trove-dev/trove/governance"
	"github.com/trove-dev/trove/manifest"
	"github.com/trove-dev/trove/objects"
	"github.com/trove-dev/trove/remote"
)

// gitHooksDir asks git where hooks live (core.hooksPath, worktrees and all).
func (e *env) gitHooksDir(ctx context.Context, root string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", "rev-parse", "--git-path", "hooks")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("find git's hooks directory: %w", err)
	}
	p := strings.TrimSpace(string(out))
	if !filepath.IsAbs(p) {
		p = filepath.Join(root, p)
	}
	return p, nil
}

func hooksCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "hooks",
		Usage: "git hooks that keep data and manifests in step",
		Subcommands: []*cli.Command{
			{
				Name:  "install",
				Usage: "install pre-commit, pre-push, post-checkout and post-merge hooks (existing hooks are kept and chained)",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "force", Usage: "replace an earlier chained hook"},
					jsonFlag, quietFlag,
				},
				Action: func(c *cli.Context) error {
					if err := noArgs(c); err != nil {
						return err
					}
					r, err := e.open()
					if err != nil {
						return err
					}
					defer r.Close()
					dir, err := e.gitHooksDir(c.Context, r.Root)
					if err != nil {
						return err
					}
					res, err := manifest.InstallHooks(dir, c.Bool("force"))
					if err != nil {
						if errors.Is(err, manifest.ErrConflict) {
							return &cliError{msg: err.Error(), code: exitRuntime, err: err,
								hints: []string{"merge the two by hand, or pass --force to replace the older chained hook"}}
						}
						return err
					}
					if c.Bool("json") {
						return writeJSON(e.stdout, res)
					}
					for _, h := range res {
						if h.Action == "chained" {
							e.summary(c, "%s: kept your hook as %s; trove's runs it first", h.Name, filepath.Base(h.Chained))
						}
					}
					e.summary(c, "hooks installed in %s: pre-commit checks staged manifests, pre-push pushes their data, post-checkout and post-merge bring the matching data", dir)
					return nil
				},
			},
			{
				Name:      "run",
				Usage:     "run one hook (called by the installed hooks)",
				ArgsUsage: "HOOK [ARGS...]",
				Hidden:    false,
				Flags:     []cli.Flag{jsonFlag, quietFlag},
				Action: func(c *cli.Context) error {
					switch c.Args().First() {
					case "pre-commit":
						return e.hookPreCommit(c)
					case "pre-push":
						return e.hookPrePush(c)
					case "post-checkout", "post-merge":
						return e.hookPostCheckout(c)
					}
					return usageErr(fmt.Sprintf("unknown hook %q", c.Args().First()), "hooks: "+strings.Join(manifest.HookNames, ", "))
				},
			},
		},
	}
}

func (e *env) hookPreCommit(c *cli.Context) error {
	r, err := e.open()
	if err != nil {
		return err
	}
	defer r.Close()
	n, problems, err := r.CheckStaged(c.Context)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		if err := writeJSON(e.stdout, map[string]any{"checked": n, "problems": problems}); err != nil {
			return err
		}
	}
	for _, p := range problems {
		fmt.Fprintf(e.stderr, "trove: error: %s: %s\n", p.Path, p.Problem)
		if p.Hint != "" {
			fmt.Fprintf(e.stderr, "trove: hint: %s\n", p.Hint)
		}
	}
	if len(problems) > 0 {
		return &cliError{msg: fmt.Sprintf("pre-commit: %s in %s", plural(int64(len(problems)), "problem"), plural(int64(n), "staged manifest")), code: exitIntegrity}
	}
	e.summary(c, "pre-commit: %s ok", plural(int64(n), "staged manifest"))
	return nil
}

// hookPrePush pushes the objects that the manifests of the pushed commits need, so
// a teammate's pull never finds them missing. git gives the refs on stdin.
func (e *env) hookPrePush(c *cli.Context) error {
	r, err := e.open()
	if err != nil {
		return err
	}
	defer r.Close()
	var lines []string
	sc := bufio.NewScanner(e.stdin)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	// The audit chain travels in its own ref: a push of registry tags
	// without it publishes acts whose records stay behind.
	tags, chain := false, false
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) >= 3 && strings.Trim(f[1], "0") != "" {
			tags = tags || strings.HasPrefix(f[2], "refs/tags/") && strings.ContainsAny(f[2], "@#")
			chain = chain || f[2] == governance.AuditRef
		}
	}
	if tags && !chain && !c.Bool("quiet") {
		fmt.Fprintf(e.stderr, "trove: warning: pre-push: registry tags are pushed without the audit chain: also `git push %s %s`\n", orDash(c.Args().Get(1)), governance.AuditRef)
	}
	if err := e.checkAuditPush(c, r, lines); err != nil {
		return err
	}
	cfg, err := r.LoadConfig()
	if err != nil {
		return err
	}
	if len(cfg.Remotes) == 0 && e.getenv("TROVE_REMOTE") == "" {
		e.summary(c, "pre-push: no trove remote configured; data not pushed (add one with `trove remote add`)")
		return nil
	}
	var tracked []manifest.Tracked
	seen := map[string]bool{}
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) < 2 || strings.Trim(f[1], "0") == "" {
			continue // a deleted ref pushes nothing
		}
		ts, err := r.ManifestsAt(c.Context, f[1], nil)
		if err != nil {
			return err
		}
		for _, t := range ts {
			if t.Err != nil {
				continue
			}
			key := t.Manifest.Object.String()
			if !seen[key] {
				seen[key] = true
				tracked = append(tracked, t)
			}
		}
	}
	if len(tracked) == 0 {
		return nil
	}
	rem, name, err := e.openRemote(c.Context, r, "")
	if err != nil {
		return err
	}
	need, err := r.NeededSet(c.Context, tracked, nil)
	if err != nil {
		return &cliError{msg: fmt.Sprintf("pre-push: %v", err), code: exitIntegrity, err: err,
			hints: []string{"a pushed commit names data this clone does not have: `trove pull` it, or push with --no-verify to skip"}}
	}
	st, err := r.Store()
	if err != nil {
		return err
	}
	defer need.Close()
	have := st.NewIDSet()
	defer have.Close()
	err = st.EachLoc(need, func(id objects.ID, _ objects.Loc, ok bool) error {
		if ok {
			return have.Add(id)
		}
		return nil
	})
	if err != nil {
		return err
	}
	p := e.progress(c)
	res, err := remote.PushSet(c.Context, rem, st, have, e.transferOptions(c, r, name, p))
	p.done()
	if err != nil {
		return remoteErr(err, rem)
	}
	e.summary(c, "pre-push: pushed data of %s to %s: %s (%s)", plural(int64(len(tracked)), "artifact version"), name, plural(int64(res.Packs), "pack"), human(res.Bytes))
	return nil
}

// checkAuditPush stops a push of the audit chain that would not
// fast-forward the remote's: another clone appended meanwhile. git would
// reject it (or, forced, drop the other clone's entries); trove audit sync
// re-appends this clone's entries after the remote's.
func (e *env) checkAuditPush(c *cli.Context, r *manifest.Repo, lines []string) error {
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) < 4 || f[2] != governance.AuditRef || strings.Trim(f[1], "0") == "" || strings.Trim(f[3], "0") == "" {
			continue
		}
		ok, err := governance.AuditExtends(r.Root, f[1], f[3])
		if err != nil {
			return err
		}
		if !ok {
			remote := orDash(c.Args().Get(1))
			return &cliError{code: exitRuntime,
				msg:   fmt.Sprintf("pre-push: %s's %s has entries this clone lacks (another clone appended to it): the push would be rejected, or, forced, would drop them", remote, governance.AuditRef),
				hints: []string{fmt.Sprintf("run `trove audit sync --remote %s`, then push again", remote)}}
		}
	}
	return nil
}

// hookPostCheckout brings the data matching the new manifests: from the local
// store, fetching what is missing when a remote is configured. It never fails the
// git command; problems are reported.
func (e *env) hookPostCheckout(c *cli.Context) error {
	args := c.Args().Slice()
	if args[0] == "post-checkout" && len(args) >= 4 && args[3] == "0" {
		return nil // a file checkout (git checkout -- FILE): leave the data alone
	}
	r, err := e.open()
	if err != nil {
		return nil
	}
	cfg, err := r.LoadConfig()
	r.Close()
	if err == nil && (len(cfg.Remotes) > 0 || e.getenv("TROVE_REMOTE") != "") {
		_, err = e.fetch(c, true, nil, false)
	} else {
		var rr *manifest.Repo
		var done func()
		rr, done, err = e.openLocked(c)
		if err == nil {
			_, err = rr.Checkout(c.Context, manifest.CheckoutOptions{Cwd: e.cwd})
			done()
		}
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "trove: warning: %s hook: data not fully updated: %v\n", args[0], err)
		fmt.Fprintf(e.stderr, "trove: hint: run `trove pull` (or `trove checkout`) by hand\n")
	}
	return nil
}
