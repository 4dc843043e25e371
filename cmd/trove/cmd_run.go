package main

// trove run, trove lineage and trove metrics: the CLI side of lineage. The work
// is in package governance; here are flags, the real world (clock, environment,
// processes) and rendering.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/trove-dev/trove/governance"
	"github.com/trove-dev/trove/manifest"
)

// world is the real world for governance: the clock (TROVE_NOW, an RFC 3339
// time, fixes it: for tests and for replaying a decision), the environment and
// processes.
func (e *env) world() (governance.World, error) {
	now := time.Now
	if s := e.getenv("TROVE_NOW"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return governance.World{}, usageErr(fmt.Sprintf("TROVE_NOW=%q: want an RFC 3339 time such as 2026-01-02T15:04:05Z", s),
				"TROVE_NOW fixes trove's clock for tests and replays; unset it to use the real clock")
		}
		now = func() time.Time { return t }
	}
	return governance.World{Now: now, Getenv: e.getenv, Runner: execRunner{}, LockWait: e.lockWait()}, nil
}

// execRunner runs programs with os/exec. On cancellation (Ctrl-C, SIGTERM) the
// program gets SIGINT, then SIGKILL after 10 seconds.
type execRunner struct{}

func (execRunner) Run(ctx context.Context, c governance.Cmd) (int, error) {
	if len(c.Args) == 0 {
		return 0, fmt.Errorf("%w: empty command", governance.ErrNotStarted)
	}
	cmd := exec.CommandContext(ctx, c.Args[0], c.Args[1:]...)
	cmd.Dir, cmd.Stdin, cmd.Stdout, cmd.Stderr = c.Dir, c.Stdin, c.Stdout, c.Stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	err := cmd.Run()
	if err == nil {
		return 0, nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if cerr := ctx.Err(); cerr != nil {
			return 0, cerr
		}
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return ee.ExitCode(), nil
	}
	if cerr := ctx.Err(); cerr != nil {
		return 0, cerr
	}
	return 0, fmt.Errorf("%w %s: %v", governance.ErrNotStarted, c.Args[0], unwrapExec(err))
}

func unwrapExec(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var ee *exec.Error
	if errors.As(err, &ee) {
		return ee.Err
	}
	return err
}

// govErr gives the governance errors their exit codes and hints.
func govErr(err error) error {
	var ce *cliError
	var cmdErr *governance.CommandError
	switch {
	case err == nil, errors.As(err, &ce):
		return err
	case errors.As(err, &cmdErr):
		return &cliError{msg: err.Error(), code: cmdErr.Exit, err: err}
	case errors.Is(err, governance.ErrNotStarted):
		return &cliError{msg: err.Error() + "; nothing was recorded", code: 127, err: err, hints: []string{"check the command after --; it runs without a shell (use sh -c '...' for one)"}}
	case errors.Is(err, governance.ErrNotRegistrable):
		return &cliError{msg: err.Error(), code: exitRuntime, err: err}
	case errors.Is(err, governance.ErrDirty):
		return &cliError{msg: err.Error(), code: exitRuntime, err: err, hints: []string{"commit the changes so the lineage can name the code, or pass --allow-dirty to record the tree as dirty"}}
	case errors.Is(err, governance.ErrNoCommit):
		return &cliError{msg: err.Error(), code: exitRuntime, err: err, hints: []string{"commit the code first, so the lineage can name it (or pass --allow-dirty)"}}
	case errors.Is(err, governance.ErrInputModified):
		return &cliError{msg: err.Error(), code: exitRuntime, err: err, hints: []string{"record the input's new version with `trove add PATH`, or restore it with `trove checkout PATH`"}}
	case errors.Is(err, governance.ErrInputChanged):
		return &cliError{msg: err.Error() + "; nothing was recorded", code: exitRuntime, err: err, hints: []string{"a step must not modify its inputs: write to an --output instead, then run it again"}}
	case errors.Is(err, governance.ErrNotProduced):
		return &cliError{msg: err.Error() + "; nothing was recorded", code: exitRuntime, err: err, hints: []string{"check that the command writes every --output path (relative to the current directory)"}}
	case errors.Is(err, governance.ErrMetrics):
		return &cliError{msg: err.Error() + "; nothing was recorded", code: exitRuntime, err: err, hints: []string{`metrics are a JSON object of names to finite numbers, e.g. {"accuracy": 0.91, "eval": {"loss": 0.3}}`}}
	case errors.Is(err, governance.ErrParams):
		return &cliError{msg: err.Error(), code: exitUsage, err: err, hints: []string{"parameters are a YAML or JSON mapping, e.g. {\"lr\": 0.001, \"epochs\": 3}"}}
	case errors.Is(err, governance.ErrBadInput), errors.Is(err, governance.ErrBadRef), errors.Is(err, governance.ErrBadVersion):
		return &cliError{msg: err.Error(), code: exitUsage, err: err}
	case errors.Is(err, governance.ErrUnknownModel):
		return &cliError{msg: err.Error(), code: exitUsage, err: err, hints: []string{"`trove models` lists the registered models; `trove register NAME` registers one"}}
	case errors.Is(err, governance.ErrUnknownVersion):
		return &cliError{msg: err.Error(), code: exitUsage, err: err, hints: []string{"`trove stages NAME --json` lists its versions"}}
	case errors.Is(err, governance.ErrUnknownStage):
		return &cliError{msg: err.Error(), code: exitUsage, err: err, hints: []string{"stages are listed under `stages:` in .trove/config"}}
	case errors.Is(err, governance.ErrNotFound):
		return &cliError{msg: err.Error(), code: exitUsage, err: err, hints: []string{"`trove ls` lists tracked artifacts and their names"}}
	case errors.Is(err, governance.ErrVersionExists):
		return &cliError{msg: err.Error(), code: exitRuntime, err: err, hints: []string{"choose another --version, or --bump major|minor|patch"}}
	case errors.Is(err, governance.ErrDeprecated), errors.Is(err, governance.ErrAlreadyInStage):
		return &cliError{msg: err.Error(), code: exitRuntime, err: err}
	case errors.Is(err, governance.ErrDenied):
		return &cliError{msg: err.Error(), code: exitDenied, err: err}
	case errors.Is(err, governance.ErrIdentity):
		return &cliError{msg: err.Error(), code: exitUsage, err: err, hints: []string{"git config user.name 'Your Name' && git config user.email you@example.com"}}
	}
	return historyErr(err)
}

func runCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "run",
		Usage: "run a pipeline step and record its lineage in the outputs' manifests",
		Description: "Checks that every --input is tracked and unchanged and that the git working tree is\n" +
			"clean, runs the command (its output streams through, its exit status is trove's),\n" +
			"then adds every --output with the lineage: input digests and roles, the code commit,\n" +
			"the command line, parameters, environment, start and end times, and metrics.\n" +
			"Nothing is recorded if the command fails, an input changes while it runs, or an\n" +
			"output is missing. With --json, the command's stdout goes to stderr so that stdout\n" +
			"is the JSON result alone. TROVE_NOW fixes the recorded times (tests, replays).",
		ArgsUsage: "--output PATH [--input [ROLE=]PATH]... -- COMMAND [ARGS...]",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "input", Aliases: []string{"i"}, Usage: "a tracked artifact the step reads, [ROLE=]PATH (e.g. train=data/train.csv), or a production observation, ROLE=blake3:ID (as `trove observations` prints it) or ROLE=FILE; repeatable"},
			&cli.StringSliceFlag{Name: "output", Aliases: []string{"o"}, Usage: "a path the step writes, added afterwards; repeatable"},
			&cli.StringFlag{Name: "name", Usage: "artifact name of the output (one output only)"},
			&cli.StringFlag{Name: "kind", Usage: "kind of the outputs: dataset, model or artifact (default: the previous kind, or dataset)"},
			&cli.StringFlag{Name: "params", Usage: "parameters file (YAML or JSON), recorded flattened to dotted keys"},
			&cli.StringFlag{Name: "metrics", Usage: "metrics file (JSON object of finite numbers) the step writes, recorded in the outputs"},
			&cli.BoolFlag{Name: "allow-dirty", Usage: "run with uncommitted changes, and record the tree as dirty"},
			&cli.StringFlag{Name: "trigger", Usage: "what started the step: the file `trove monitor --emit` wrote (one event or a CloudEvents batch: the events about --name's model, or all, are recorded as event:ID), or a CI run URL or git ref, recorded as given"},
			jsonFlag, quietFlag, jobsFlag,
		},
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return usageErr("run needs a command after --", "e.g. trove run --input data/train.csv --output model.bin -- python train.py")
			}
			if len(c.StringSlice("output")) == 0 {
				return usageErr("run needs at least one --output PATH", "the outputs are what the command writes; trove adds them with the lineage")
			}
			kind := c.String("kind")
			switch kind {
			case "", manifest.KindDataset, manifest.KindModel, manifest.KindArtifact:
			default:
				return usageErr(fmt.Sprintf("--kind %q: want dataset, model or artifact", kind))
			}
			if n := c.String("name"); n != "" {
				if !manifest.ValidName(n) {
					return usageErr(fmt.Sprintf("--name %q: use letters, digits, '.', '_' and '-'", n))
				}
				if len(c.StringSlice("output")) != 1 {
					return usageErr("--name names one output, but several --output were given")
				}
			}
			inputs, err := parseInputs(c.StringSlice("input"))
			if err != nil {
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
			trigger, err := e.runTrigger(r, c.String("trigger"), c.String("name"))
			if err != nil {
				return err
			}
			inputs, observations, err := e.observationInputs(r, inputs)
			if err != nil {
				return err
			}
			stdout := e.stdout
			if c.Bool("json") {
				stdout = e.stderr // stdout is for the JSON result
			}
			prog := e.progress(c)
			res, err := governance.Run(c.Context, r, w, governance.RunOptions{
				Cwd: e.cwd, Inputs: inputs, Outputs: c.StringSlice("output"), Name: c.String("name"), Kind: kind,
				ParamsFile: c.String("params"), MetricsFile: c.String("metrics"), AllowDirty: c.Bool("allow-dirty"),
				Trigger: trigger, Observations: observations, Command: c.Args().Slice(),
				Stdin: e.stdin, Stdout: stdout, Stderr: e.stderr, TroveVersion: troveVersion(),
				Lock:     func(ctx context.Context) (func(), error) { return r.Lock(ctx, e.lockWait()) },
				Progress: prog.event, Jobs: c.Int("jobs"),
			})
			prog.done()
			if err != nil {
				return govErr(err)
			}
			if c.Bool("json") {
				if err := writeJSON(e.stdout, res); err != nil {
					return err
				}
			}
			var manifests []string
			for _, a := range res.Outputs {
				e.summary(c, "recorded %s (%s, %s, %s) from %s", relTo(r, e.cwd, a.Path), a.Kind, human(a.Size), a.Digest.String()[:19], plural(int64(len(res.Lineage.Inputs)), "input"))
				manifests = append(manifests, relTo(r, e.cwd, a.Manifest))
			}
			if res.Lineage.Code != nil && res.Lineage.Code.Dirty {
				e.summary(c, "warning: the git working tree was dirty; the lineage says so")
			}
			e.summary(c, "hint: commit the manifests: git add %s", strings.Join(manifests, " "))
			return nil
		},
	}
}

func parseInputs(args []string) ([]governance.InputSpec, error) {
	var out []governance.InputSpec
	for _, a := range args {
		s, err := governance.ParseInputSpec(a)
		if err != nil {
			return nil, usageErr(err.Error(), "--input takes [ROLE=]PATH, e.g. --input train=data/train.csv")
		}
		out = append(out, s)
	}
	return out, nil
}

// addLineage builds the lineage `trove add --input` records by hand.
func (e *env) addLineage(c *cli.Context, r *manifest.Repo) (*manifest.Lineage, error) {
	if len(c.StringSlice("input")) == 0 {
		return nil, nil
	}
	inputs, err := parseInputs(c.StringSlice("input"))
	if err != nil {
		return nil, err
	}
	inputs, observations, err := e.observationInputs(r, inputs)
	if err != nil {
		return nil, err
	}
	var outs []string
	for _, p := range c.Args().Slice() {
		rel, err := r.Rel(e.cwd, p)
		if err != nil {
			return nil, err
		}
		outs = append(outs, rel)
	}
	lin, _, err := governance.BuildLineage(c.Context, r, governance.LineageOptions{Cwd: e.cwd, Inputs: inputs, Outputs: outs})
	if err != nil {
		return nil, govErr(err)
	}
	lin.Inputs = append(lin.Inputs, observations...)
	return lin, nil
}

func lineageCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "lineage",
		Usage: "show what an artifact was made from (or, --downstream, what was made from it)",
		Description: "Follows each input's digest to the manifest that has it, in the working tree or in\n" +
			"HEAD's history, down to raw data. Each node shows its path, kind, digest, the commit\n" +
			"that recorded it (author, time) and the code commit of the step that made it.\n" +
			"ARTIFACT is a path, an artifact name, or a registered model NAME[@VERSION|#STAGE].",
		ArgsUsage: "PATH|NAME[@VERSION]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Value: "tree", Usage: "tree, json, dot (Graphviz) or mermaid"},
			&cli.IntFlag{Name: "depth", Usage: "follow at most N levels (default: all)"},
			&cli.BoolFlag{Name: "downstream", Usage: "list what was derived from the artifact (which models used this data?)"},
			jsonFlag, quietFlag,
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageErr("lineage needs exactly one PATH or NAME[@VERSION]", "e.g. trove lineage models/model.bin")
			}
			format := c.String("format")
			if c.Bool("json") {
				format = "json"
			}
			switch format {
			case "tree", "json", "dot", "mermaid":
			default:
				return usageErr(fmt.Sprintf("--format %q: want tree, json, dot or mermaid", format))
			}
			if c.Int("depth") < 0 {
				return usageErr("--depth must be 0 (all) or more")
			}
			r, err := e.open()
			if err != nil {
				return err
			}
			defer r.Close()
			stages, err := configStages(r)
			if err != nil {
				return err
			}
			idx, err := governance.BuildIndex(c.Context, r)
			if err != nil {
				return govErr(err)
			}
			for _, w := range idx.Warnings {
				fmt.Fprintf(e.stderr, "trove: warning: %s\n", w)
			}
			root, err := governance.FindArtifact(c.Context, r, idx, e.cwd, c.Args().First(), stages)
			if err != nil {
				return govErr(err)
			}
			var g *governance.Graph
			if c.Bool("downstream") {
				g = governance.BuildDownstream(idx, root, c.Int("depth"))
			} else {
				g = governance.BuildUpstream(idx, root, c.Int("depth"))
			}
			switch format {
			case "json":
				err = writeJSON(e.stdout, g)
			case "dot":
				err = governance.WriteDOT(e.stdout, g)
			case "mermaid":
				err = governance.WriteMermaid(e.stdout, g)
			default:
				if err = governance.WriteTree(e.stdout, g); err == nil {
					if err = e.writeObservations(r, g); err == nil {
						err = e.writeTrigger(r, g)
					}
				}
			}
			if err != nil {
				return err
			}
			var unresolved int64
			for _, n := range g.Nodes {
				if n.Unresolved {
					unresolved++
				}
			}
			if c.Bool("downstream") {
				e.summary(c, "%s derived from %s", plural(int64(len(g.Nodes)-1), "artifact"), root.Path)
			} else {
				e.summary(c, "%s upstream of %s", plural(int64(len(g.Nodes)-1), "artifact"), root.Path)
			}
			if unresolved > 0 {
				fmt.Fprintf(e.stderr, "trove: warning: %s not found in HEAD's history or the working tree (only the recorded digest is known)\n", plural(unresolved, "input"))
			}
			return nil
		},
	}
}

// configStages reads the stages from .trove/config (or the defaults).
func configStages(r *manifest.Repo) ([]string, error) {
	cfg, err := r.LoadConfig()
	if err != nil {
		return nil, err
	}
	return governance.Stages(cfg)
}

func metricsCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "metrics",
		Usage: "show the metrics recorded in manifests, at a revision or compared between two",
		Description: "Lists the artifacts that record metrics (trove run --metrics), one column per\n" +
			"metric, as the working tree has them or as they were at --rev. `trove metrics diff`\n" +
			"compares two revisions (or a revision and the working tree).",
		ArgsUsage: "[PATH...]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "rev", Usage: "read the manifests at this git revision (branch, tag, commit, NAME@vX.Y.Z)"},
			jsonFlag, quietFlag,
		},
		Subcommands: []*cli.Command{metricsDiffCommand(e)},
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
			rev := c.String("rev")
			if rev != "" {
				stages, err := configStages(r)
				if err != nil {
					return err
				}
				revs, err := registryRevs(r, []string{rev}, stages)
				if err != nil {
					return err
				}
				rev = revs[0]
			}
			ms, bad, err := governance.MetricsAt(c.Context, r, rev, only)
			if err != nil {
				return historyErr(err)
			}
			if c.Bool("json") {
				if err := writeJSON(e.stdout, ms); err != nil {
					return err
				}
			} else if len(ms) > 0 {
				var rows [][]string
				for _, a := range ms {
					for _, n := range sortedKeys(a.Metrics) {
						rows = append(rows, []string{relTo(r, e.cwd, a.Path), n, formatMetric(a.Metrics[n])})
					}
				}
				if err := table(e.stdout, []string{"PATH", "METRIC", "VALUE"}, rows); err != nil {
					return err
				}
			}
			for _, b := range bad {
				fmt.Fprintf(e.stderr, "trove: warning: %v\n", b)
			}
			where := "in the working tree"
			if rev := c.String("rev"); rev != "" {
				where = "at " + rev
			}
			e.summary(c, "%s with metrics %s", plural(int64(len(ms)), "artifact"), where)
			return nil
		},
	}
}

func metricsDiffCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "diff",
		Usage:     "compare the metrics of two revisions (or a revision and the working tree)",
		ArgsUsage: "REV1 [REV2] [-- PATH...]",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "changed", Usage: "only the metrics that differ"},
			jsonFlag, quietFlag,
		},
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 {
				return usageErr("metrics diff needs a revision", "e.g. trove metrics diff HEAD~1 HEAD, or trove metrics diff model@v0.0.1 model@v0.0.2")
			}
			r, err := e.open()
			if err != nil {
				return err
			}
			defer r.Close()
			stages, err := configStages(r)
			if err != nil {
				return err
			}
			args, err := registryRevs(r, c.Args().Slice(), stages)
			if err != nil {
				return err
			}
			revs, paths, _, err := e.splitRevs(r, args, 2)
			if err != nil {
				return err
			}
			if len(revs) == 0 {
				return usageErr(fmt.Sprintf("%q is not a revision", c.Args().First()), "`git log --oneline` lists revisions")
			}
			only, err := r.Resolve(e.cwd, paths)
			if err != nil {
				return err
			}
			from, to := revs[0], ""
			if len(revs) > 1 {
				to = revs[1]
			}
			old, bad1, err := governance.MetricsAt(c.Context, r, from, only)
			if err != nil {
				return historyErr(err)
			}
			cur, bad2, err := governance.MetricsAt(c.Context, r, to, only)
			if err != nil {
				return historyErr(err)
			}
			d := governance.DiffMetrics(old, cur, c.Bool("changed"))
			if c.Bool("json") {
				if err := writeJSON(e.stdout, d); err != nil {
					return err
				}
			} else if len(d) > 0 {
				rows := make([][]string, 0, len(d))
				for _, m := range d {
					rows = append(rows, []string{relTo(r, e.cwd, m.Path), m.Metric, optMetric(m.Old), optMetric(m.New), changeMetric(m.Change)})
				}
				if err := table(e.stdout, []string{"PATH", "METRIC", "OLD", "NEW", "CHANGE"}, rows); err != nil {
					return err
				}
			}
			for _, b := range append(bad1, bad2...) {
				fmt.Fprintf(e.stderr, "trove: warning: %v\n", b)
			}
			var changed int64
			for _, m := range d {
				if m.Change == nil || *m.Change != 0 {
					changed++
				}
			}
			fromName, toName := c.Args().Get(0), "the working tree"
			if to != "" {
				toName = c.Args().Get(1)
			}
			e.summary(c, "%s from %s to %s, %d changed", plural(int64(len(d)), "metric"), fromName, toName, changed)
			return nil
		},
	}
}

// registryRevs replaces registry references among args (NAME@vX.Y.Z,
// NAME@latest, NAME#STAGE) by their commits, so that they work wherever a git
// revision does.
func registryRevs(r *manifest.Repo, args []string, stages []string) ([]string, error) {
	out := append([]string(nil), args...)
	for i, a := range out {
		if a == "--" {
			break
		}
		commit, ok, err := governance.RegistryCommit(r.Root, a, stages)
		if err != nil {
			return nil, govErr(err)
		}
		if ok {
			out[i] = commit
		}
	}
	return out, nil
}

func sortedKeys(m map[string]float64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// formatMetric prints a metric as the shortest text that reads back the same.
func formatMetric(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func optMetric(v *float64) string {
	if v == nil {
		return "-"
	}
	return formatMetric(*v)
}

// changeMetric prints a difference with a sign, to 6 significant digits (the
// float subtraction's noise, 0.020000000000000018, is not information).
func changeMetric(v *float64) string {
	if v == nil {
		return "-"
	}
	if *v == 0 {
		return "0"
	}
	return fmt.Sprintf("%+.6g", *v)
}
