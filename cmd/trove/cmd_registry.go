package main

// The model registry: trove register, models, stages, promote and deprecate.
// Versions and stages are annotated git tags in GTO's format carrying a JSON
// record (see governance/doc.go); publish them with `git push origin --tags`.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/trove-dev/trove/governance"
	"github.com/trove-dev/trove/governance/policy"
	"github.com/trove-dev/trove/manifest"
)

var messageFlag = &cli.StringFlag{Name: "message", Aliases: []string{"m"}, Usage: "why, recorded in the tag's record"}

// readRegistry reads the registry and prints the warnings about ignored tags.
// registryView opens the repository and reads its configured stages and its
// registry, which every registry command starts with. The caller closes the
// repository; on error it is already closed.
func (e *env) registryView() (*manifest.Repo, []string, *governance.Registry, error) {
	r, err := e.open()
	if err != nil {
		return nil, nil, nil, err
	}
	stages, err := configStages(r)
	if err == nil {
		var reg *governance.Registry
		if reg, err = e.readRegistry(r); err == nil {
			return r, stages, reg, nil
		}
	}
	r.Close()
	return nil, nil, nil, err
}

func (e *env) readRegistry(r *manifest.Repo) (*governance.Registry, error) {
	reg, err := governance.ReadRegistry(r.Root)
	if err != nil {
		return nil, govErr(err)
	}
	e.tagWarnings(reg.Warnings)
	return reg, nil
}

// tagWarnings prints at most five warnings about ignored tags, then a count.
func (e *env) tagWarnings(ws []string) {
	for i, w := range ws {
		if i == 5 {
			fmt.Fprintf(e.stderr, "trove: warning: ... and %d more tags ignored\n", len(ws)-5)
			break
		}
		fmt.Fprintf(e.stderr, "trove: warning: %s\n", w)
	}
}

func pushHint(tag string) string {
	return fmt.Sprintf("hint: publish it and its audit record with `git push origin %s %s`", tag, governance.AuditRef)
}

// auditWarning says when the audit entry just appended will not verify as
// things stand (unsigned while signers are listed, a key not listed).
func (e *env) auditWarning(a *governance.AuditAppended) {
	if a != nil && a.Warning != "" {
		fmt.Fprintf(e.stderr, "trove: warning: %s\n", a.Warning)
	}
}

func registerCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "register",
		Usage: "register a version of a model: an annotated tag NAME@vX.Y.Z on HEAD",
		Description: "The model is the artifact whose manifest name is NAME (or --path), as committed at\n" +
			"HEAD; it must not be modified or uncommitted. The version is --version, or the greatest\n" +
			"registered one bumped (--bump, default patch; the first is v0.0.1). The tag's message\n" +
			"is a JSON record: artifact path, digest, manifest commit, who, when and why.",
		ArgsUsage: "NAME",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "version", Usage: "the version, vMAJOR.MINOR.PATCH"},
			&cli.StringFlag{Name: "bump", Usage: "major, minor or patch: the greatest registered version, bumped"},
			&cli.StringFlag{Name: "path", Usage: "the artifact to register (default: the one whose manifest name is NAME)"},
			messageFlag, jsonFlag, quietFlag,
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageErr("register needs exactly one NAME", "e.g. trove register churn-model --bump minor")
			}
			name := c.Args().First()
			if !governance.ValidModelName(name) {
				return usageErr(fmt.Sprintf("model name %q: use letters, digits, '.', '_' and '-'", name))
			}
			switch b := c.String("bump"); b {
			case "", governance.BumpMajor, governance.BumpMinor, governance.BumpPatch:
			default:
				return usageErr(fmt.Sprintf("--bump %q: want major, minor or patch", b))
			}
			if c.String("version") != "" && c.String("bump") != "" {
				return usageErr("give --version or --bump, not both")
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
			res, err := governance.Register(c.Context, r, w, governance.RegisterOptions{
				Name: name, Version: c.String("version"), Bump: c.String("bump"), Path: c.String("path"), Cwd: e.cwd, Message: c.String("message"),
			})
			if err != nil {
				return govErr(err)
			}
			return e.tagCreated(c, res, fmt.Sprintf("registered %s@%s: %s (%s) at commit %s", name, res.Record.Version, res.Record.Artifact, res.Record.Digest[:19], res.Commit[:10]))
		},
	}
}

// tagCreated prints the result of a registry action.
func (e *env) tagCreated(c *cli.Context, res *governance.TagResult, summary string) error {
	e.auditWarning(res.Audit)
	if c.Bool("json") {
		if err := writeJSON(e.stdout, res); err != nil {
			return err
		}
	} else if _, err := fmt.Fprintln(e.stdout, res.Tag); err != nil {
		return err
	}
	e.summary(c, "%s", summary)
	e.summary(c, "%s", pushHint(res.Tag))
	return nil
}

func promoteCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "promote",
		Usage: "assign a stage to a model version: an annotated tag NAME#STAGE#N",
		Description: "The stage must be one of .trove/config's `stages:` (default dev, staging,\n" +
			"production); the version must be registered and not deprecated. The version holds the\n" +
			"stage from now until another version is promoted to it.\n" +
			"\n" +
			"The policy (.trove/policy.yaml) gates it, as `trove check NAME@VERSION --stage STAGE`\n" +
			"would: when denied, nothing is written, the failing rules are printed and trove exits\n" +
			"with 4; when allowed, the decision (policy digest, input digest, evaluation time, every\n" +
			"rule's result) is kept in the tag's record as \"decision\". --dry-run evaluates only\n" +
			"(exit 0 or 4). Without a policy nothing is gated (a warning says so).",
		ArgsUsage: "NAME@VERSION --to STAGE",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "to", Usage: "the stage", Required: false},
			&cli.BoolFlag{Name: "dry-run", Usage: "evaluate the policy and print the decision; write nothing"},
			gateRemote, offlineFlag,
			messageFlag, jsonFlag, quietFlag,
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageErr("promote needs exactly one NAME@VERSION", "e.g. trove promote churn-model@v1.2.0 --to staging")
			}
			if c.String("to") == "" {
				return usageErr("promote needs --to STAGE", "e.g. trove promote churn-model@v1.2.0 --to staging")
			}
			if c.Bool("offline") && c.IsSet("remote") {
				return usageErr("give --remote or --offline, not both")
			}
			ref, err := governance.ParseRef(c.Args().First())
			if err != nil {
				return govErr(err)
			}
			if ref.Version == "" {
				return usageErr(fmt.Sprintf("%q: name the version to promote, NAME@VERSION", c.Args().First()), "`trove stages "+ref.Name+" --json` lists its versions")
			}
			w, err := e.world()
			if err != nil {
				return err
			}
			r, stages, reg, err := e.registryView()
			if err != nil {
				return err
			}
			defer r.Close()
			gc, err := e.gateConfig(r)
			if err != nil {
				return err
			}
			var evaluated *checkResult
			var gate governance.Gate
			if gc.Policy == nil {
				fmt.Fprint(e.stderr, noPolicyWarning)
			} else {
				check, err := e.remoteCheck(c, r, gc.Policy)
				if err != nil {
					return err
				}
				gate = governance.PolicyGate(r, w, governance.GateOptions{
					Build: governance.BuildOptions{Stages: stages, Allowed: gc.Allowed, Roles: gc.Roles, Policy: gc.Policy,
						Registry: reg, CheckRemote: check, Warn: e.gateWarn},
					Evaluated: func(in policy.Input, d policy.Decision) {
						cr := newCheckResult(in.Subject.Name+"@"+in.Subject.Version, in, d)
						evaluated = &cr
					},
				})
			}
			dryRun := c.Bool("dry-run")
			if dryRun {
				// Promote runs every registry check, then the gate; stopping it
				// there writes nothing.
				inner := gate
				gate = func(ctx context.Context, p governance.Proposal) (governance.Decision, error) {
					if inner == nil {
						return governance.Decision{Allow: true}, errPromoteDryRun
					}
					d, err := inner(ctx, p)
					if err != nil {
						return d, err
					}
					return d, errPromoteDryRun
				}
			}
			res, err := governance.Promote(c.Context, r, w, governance.PromoteOptions{Ref: ref, Stage: c.String("to"), Stages: stages, Message: c.String("message"), Gate: gate})
			switch {
			case errors.Is(err, errPromoteDryRun):
				return e.promoteDryRun(c, ref, evaluated)
			case errors.Is(err, governance.ErrDenied) && evaluated != nil:
				if c.Bool("json") {
					if err := writeJSON(e.stdout, checkReport{Allowed: false, PolicyDigest: evaluated.Decision.PolicyDigest, Checks: []checkResult{*evaluated}}); err != nil {
						return err
					}
				} else if err := decisionTable(e.stdout, []checkResult{*evaluated}, true); err != nil {
					return err
				}
				e.summary(c, "%s: %s", subjectStage(evaluated.Subject, evaluated.TargetStage), verdict(evaluated.Decision))
				return &cliError{msg: err.Error(), code: exitDenied, err: err,
					hints: []string{"`trove check " + evaluated.Subject + " --stage " + evaluated.TargetStage + " --format json` shows each rule's evidence"}}
			case err != nil:
				return govErr(err)
			}
			if err := e.tagCreated(c, res, fmt.Sprintf("promoted %s@%s to %s", ref.Name, res.Record.Version, res.Record.Stage)); err != nil {
				return err
			}
			if evaluated != nil {
				e.summary(c, "policy %s: %s; the decision is in the tag's record (input %s)", shortID(evaluated.Decision.PolicyDigest), verdict(evaluated.Decision), evaluated.InputDigest)
			}
			return nil
		},
	}
}

// errPromoteDryRun stops Promote after the gate decided, before it writes.
var errPromoteDryRun = errors.New("dry run")

// promoteDryRun prints what the gate decided; exit 4 when it would deny.
func (e *env) promoteDryRun(c *cli.Context, ref governance.Ref, evaluated *checkResult) error {
	if evaluated == nil {
		e.summary(c, "dry run: %s may be promoted to %s (no policy); nothing written", ref, c.String("to"))
		return nil
	}
	rep := checkReport{Allowed: evaluated.Decision.Allowed, PolicyDigest: evaluated.Decision.PolicyDigest, Checks: []checkResult{*evaluated}}
	var err error
	if c.Bool("json") {
		err = writeJSON(e.stdout, rep)
	} else if len(evaluated.Decision.Results) > 0 {
		err = decisionTable(e.stdout, rep.Checks, false)
	}
	if err != nil {
		return err
	}
	e.summary(c, "dry run: %s: %s; nothing written", subjectStage(evaluated.Subject, evaluated.TargetStage), verdict(evaluated.Decision))
	return deniedErr(rep.Checks)
}

// shortID shortens a blake3:... digest for messages.
func shortID(d string) string {
	if len(d) > len("blake3:")+12 {
		return d[:len("blake3:")+12]
	}
	return d
}

func deprecateCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "deprecate",
		Usage: "deprecate a model version (NAME@VERSION) or a whole model (NAME)",
		Description: "Writes GTO's deregistration tag NAME@vX.Y.Z!#N (or NAME@deprecated#N for the model).\n" +
			"A deprecated version leaves every stage it holds and cannot be promoted again.",
		ArgsUsage: "NAME@VERSION|NAME",
		Flags:     []cli.Flag{messageFlag, jsonFlag, quietFlag},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageErr("deprecate needs exactly one NAME@VERSION (or NAME)", "e.g. trove deprecate churn-model@v1.0.0 -m 'leaks test data'")
			}
			arg := c.Args().First()
			ref, err := governance.ParseRef(arg)
			if err != nil {
				return govErr(err)
			}
			if strings.HasSuffix(arg, "@latest") {
				return usageErr("deprecate names an exact version, NAME@vX.Y.Z, or the whole model, NAME")
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
			if _, err := e.readRegistry(r); err != nil {
				return err
			}
			res, err := governance.Deprecate(c.Context, r, w, governance.DeprecateOptions{Ref: ref, Message: c.String("message")})
			if err != nil {
				return govErr(err)
			}
			what := ref.Name
			if res.Record.Version != "" {
				what += "@" + res.Record.Version
			}
			return e.tagCreated(c, res, "deprecated "+what)
		},
	}
}

// modelRow is one line of `trove models --json`.
type modelRow struct {
	Name       string                   `json:"name"`
	Latest     string                   `json:"latest,omitempty"`
	Versions   int                      `json:"versions"`
	Deprecated bool                     `json:"deprecated,omitempty"`
	Artifact   string                   `json:"artifact,omitempty"`
	Stages     []governance.StageHolder `json:"stages"`
}

func modelsCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "models",
		Usage:     "list the registered models: latest version and the version in each stage",
		ArgsUsage: " ",
		Flags:     []cli.Flag{jsonFlag, quietFlag},
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			r, stages, reg, err := e.registryView()
			if err != nil {
				return err
			}
			defer r.Close()
			rows := []modelRow{}
			var warnings []string
			for _, name := range reg.Names() {
				m, err := reg.Model(name, time.Time{}, stages)
				if err != nil {
					return govErr(err)
				}
				warnings = append(warnings, m.Warnings...)
				row := modelRow{Name: name, Latest: m.Latest, Deprecated: m.Deprecated, Stages: m.Stages}
				for _, v := range m.Versions {
					if !v.Unregistered {
						row.Versions++
					}
					if v.Version == m.Latest && v.Artifact != "" {
						row.Artifact = v.Artifact
					}
				}
				rows = append(rows, row)
			}
			e.tagWarnings(warnings)
			if c.Bool("json") {
				return writeJSON(e.stdout, rows)
			}
			if len(rows) == 0 {
				e.summary(c, "no models registered yet: `trove register NAME` registers one")
				return nil
			}
			// Columns: the configured stages, then any other stage a tag names.
			cols := append([]string(nil), stages...)
			for _, row := range rows {
				for _, h := range row.Stages {
					if !contains(cols, h.Stage) {
						cols = append(cols, h.Stage)
					}
				}
			}
			header := []string{"NAME", "LATEST", "VERSIONS", "ARTIFACT"}
			for _, s := range cols {
				header = append(header, strings.ToUpper(s))
			}
			var out [][]string
			for _, row := range rows {
				latest := orDash(row.Latest)
				if row.Deprecated {
					latest = "(deprecated)"
				}
				line := []string{row.Name, latest, fmt.Sprint(row.Versions), orDash(row.Artifact)}
				for _, s := range cols {
					v := "-"
					for _, h := range row.Stages {
						if h.Stage == s && h.Version != "" {
							v = h.Version
						}
					}
					line = append(line, v)
				}
				out = append(out, line)
			}
			if err := table(e.stdout, header, out); err != nil {
				return err
			}
			e.summary(c, "%s registered", plural(int64(len(rows)), "model"))
			return nil
		},
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// parseWhen reads --at: RFC 3339 (2026-01-02T15:04:05Z, or with an offset),
// a UTC date and time without zone (2026-01-02T15:04:05), or a date (its start,
// UTC).
func parseWhen(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, usageErr(fmt.Sprintf("--at %q: want a time such as 2026-01-02T15:04:05Z or a date such as 2026-01-02", s))
}

// stagesResult is `trove stages --json`.
type stagesResult struct {
	Name     string                   `json:"name"`
	At       string                   `json:"at,omitempty"`
	Stages   []governance.StageHolder `json:"stages"`
	History  []governance.StageSpan   `json:"history"`
	Versions []governance.VersionInfo `json:"versions"`
}

func stagesCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "stages",
		Usage: "show a model's stage history, or which version held each stage at a time",
		Description: "Without --at, lists every holding of every stage: version, from, until and the tag\n" +
			"that assigned it. With --at TIME, lists which version held each stage at that time.\n" +
			"Everything comes from the registry tags alone.",
		ArgsUsage: "NAME",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "at", Usage: "the time to ask about (RFC 3339, or a date)"},
			jsonFlag, quietFlag,
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageErr("stages needs exactly one model NAME", "`trove models` lists them")
			}
			name := c.Args().First()
			var at time.Time
			if s := c.String("at"); s != "" {
				var err error
				if at, err = parseWhen(s); err != nil {
					return err
				}
			}
			r, stages, reg, err := e.registryView()
			if err != nil {
				return err
			}
			defer r.Close()
			m, err := reg.Model(name, at, stages)
			if err != nil {
				return govErr(err)
			}
			e.tagWarnings(m.Warnings)
			res := stagesResult{Name: name, At: m.AsOf, Stages: m.Stages, History: m.History, Versions: m.Versions}
			if c.Bool("json") {
				return writeJSON(e.stdout, res)
			}
			if !at.IsZero() {
				rows := make([][]string, 0, len(m.Stages))
				for _, h := range m.Stages {
					rows = append(rows, []string{h.Stage, orDash(h.Version), orDash(h.Since), orDash(h.Tag)})
				}
				if err := table(e.stdout, []string{"STAGE", "VERSION", "SINCE", "TAG"}, rows); err != nil {
					return err
				}
				e.summary(c, "%s as of %s", name, m.AsOf)
				return nil
			}
			if len(m.History) > 0 {
				rows := make([][]string, 0, len(m.History))
				for _, sp := range m.History {
					rows = append(rows, []string{sp.Stage, sp.Version, sp.From, orDash(sp.Until), sp.Tag, sp.By})
				}
				if err := table(e.stdout, []string{"STAGE", "VERSION", "FROM", "UNTIL", "TAG", "BY"}, rows); err != nil {
					return err
				}
			}
			var now []string
			for _, h := range m.Stages {
				now = append(now, h.Stage+" "+orDash(h.Version))
			}
			e.summary(c, "%s: %s", name, strings.Join(now, ", "))
			return nil
		},
	}
}
