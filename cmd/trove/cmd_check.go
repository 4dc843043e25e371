package main

// trove check: evaluate .trove/policy.yaml against artifact versions, for
// pre-commit hooks (--staged) and CI gates. The facts are gathered by
// governance.BuildInput and judged by policy.Evaluate; here are flags, the
// remote (the one fact from outside the repository) and rendering as a table,
// JSON or JUnit XML.

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/trove-dev/trove/governance"
	"github.com/trove-dev/trove/governance/policy"
	tsign "github.com/trove-dev/trove/governance/sign"
	"github.com/trove-dev/trove/manifest"
	"github.com/trove-dev/trove/objects"
	"github.com/trove-dev/trove/remote"
)

var (
	stageFlag   = &cli.StringFlag{Name: "stage", Usage: "the target stage to evaluate for, as a promotion to it would be"}
	offlineFlag = &cli.BoolFlag{Name: "offline", Usage: "do not ask the remote whether the blobs are there (remote_present stays unknown)"}
	gateRemote  = &cli.StringFlag{Name: "remote", Aliases: []string{"r"}, Usage: "check that every chunk is on this remote (default: the configured remote, when the policy has a remote_present rule)"}
)

// noPolicyWarning is printed when .trove/policy.yaml does not exist: trove
// allows then, since a repository that has not written a policy yet has not
// asked for a gate; refusing would break every promotion of every repository
// that upgrades trove.
const noPolicyWarning = "trove: warning: no policy: nothing is gated (.trove/policy.yaml does not exist)\n"

// gateConfig reads the policy and the trust files; problems in them are usage
// errors (exit 2), each with its line and column.
// gatePolicy reads the gate's configuration and returns its policy, or an empty
// one (with the "nothing is gated" warning) when the repository has none.
func (e *env) gatePolicy(r *manifest.Repo) (*governance.GateConfig, *policy.Policy, error) {
	gc, err := e.gateConfig(r)
	if err != nil {
		return nil, nil, err
	}
	pol := gc.Policy
	if pol == nil {
		fmt.Fprint(e.stderr, noPolicyWarning)
		pol = &policy.Policy{Version: policy.FormatVersion}
	}
	return gc, pol, nil
}

func (e *env) gateConfig(r *manifest.Repo) (*governance.GateConfig, error) {
	gc, err := governance.ReadGateConfig(r)
	var pe *policy.ParseError
	switch {
	case err == nil:
		return gc, nil
	case errors.As(err, &pe):
		lines := make([]string, 0, len(pe.Errors))
		for _, x := range pe.Errors {
			lines = append(lines, x.Error())
		}
		return nil, &cliError{msg: strings.Join(lines, "\ntrove: error: "), code: exitUsage, err: err,
			hints: []string{"fix .trove/policy.yaml at the lines shown; package policy's documentation lists every rule type and key"}}
	case errors.Is(err, tsign.ErrAllowedSigners):
		return nil, &cliError{msg: err.Error(), code: exitUsage, err: err, hints: []string{"fix .trove/allowed_signers (OpenSSH's format: principals [options] keytype base64-key [comment])"}}
	case errors.Is(err, governance.ErrGateConfig):
		return nil, &cliError{msg: err.Error(), code: exitUsage, err: err, hints: []string{"the policy and trust files under .trove are committed as plain files"}}
	case errors.Is(err, tsign.ErrRoles):
		return nil, &cliError{msg: err.Error(), code: exitUsage, err: err, hints: []string{"fix .trove/roles.yaml (version: 1, then roles: {ROLE: [principal, ...]})"}}
	}
	return nil, err
}

// gateWarn prints a warning about a fact that could not be gathered.
func (e *env) gateWarn(msg string) { fmt.Fprintf(e.stderr, "trove: warning: %s\n", msg) }

// remoteCheck returns how to learn whether a subject's chunks are all on the
// remote, or nil when trove does not look: --offline; no --remote and no
// remote_present rule in the policy (the fact would not be used); no remote
// configured. A remote that cannot be reached is an error, not "absent".
func (e *env) remoteCheck(c *cli.Context, r *manifest.Repo, p *policy.Policy) (func(context.Context, manifest.Tracked) (*bool, error), error) {
	if c.Bool("offline") {
		return nil, nil
	}
	name := c.String("remote")
	if name == "" {
		if p == nil || !slices.ContainsFunc(p.Rules, func(r policy.Rule) bool { return r.Type == policy.TypeRemotePresent }) {
			return nil, nil
		}
		cfg, err := r.LoadConfig()
		if err != nil {
			return nil, err
		}
		if len(cfg.Remotes) == 0 && e.getenv("TROVE_REMOTE") == "" {
			e.gateWarn("no remote is configured: whether the blobs are on one is not checked (remote_present is null)")
			return nil, nil
		}
	}
	var rem remote.Remote
	var remName string
	return func(ctx context.Context, t manifest.Tracked) (*bool, error) {
		if rem == nil {
			var err error
			if rem, remName, err = e.openRemote(ctx, r, name); err != nil {
				return nil, err
			}
		}
		st, err := r.Store()
		if err != nil {
			return nil, err
		}
		// Listing the chunks may fetch recipe and tree chunks into the store.
		unlock, err := r.Lock(ctx, e.lockWait())
		if err != nil {
			return nil, err
		}
		defer unlock()
		p := e.progress(c)
		defer p.done()
		opts := e.transferOptions(c, r, remName, p)
		ensure := func(ctx context.Context, ids []objects.ID) error {
			_, err := remote.Fetch(ctx, rem, st, ids, opts)
			return err
		}
		need, err := r.NeededSet(ctx, []manifest.Tracked{t}, ensure)
		absent := false
		if errors.Is(err, remote.ErrNotFound) {
			return &absent, nil // not even its recipe is there
		}
		if err != nil {
			return nil, remoteErr(err, rem)
		}
		defer need.Close()
		cr, err := remote.CheckSet(ctx, rem, need, false, opts, nil)
		if err != nil {
			return nil, remoteErr(err, rem)
		}
		present := len(cr.Problems) == 0
		return &present, nil
	}, nil
}

// checkResult is one subject's evaluation, as `check --json` prints it.
type checkResult struct {
	Subject     string          `json:"subject"` // as given: NAME@VERSION or a path
	Name        string          `json:"name"`
	Version     string          `json:"version,omitempty"`
	Path        string          `json:"path"`
	Digest      string          `json:"digest"`
	TargetStage string          `json:"target_stage"`
	InputDigest string          `json:"input_digest"`
	Decision    policy.Decision `json:"decision"`
}

// checkReport is `trove check --json`.
type checkReport struct {
	Allowed      bool          `json:"allowed"`
	PolicyDigest string        `json:"policy_digest"` // "" without a policy
	Checks       []checkResult `json:"checks"`
}

func newCheckResult(label string, in policy.Input, d policy.Decision) checkResult {
	return checkResult{Subject: label, Name: in.Subject.Name, Version: in.Subject.Version, Path: in.Subject.Path,
		Digest: in.Subject.Digest, TargetStage: in.TargetStage, InputDigest: d.InputDigest, Decision: d}
}

// checkSubject is one thing to check: a label and how BuildInput finds it.
type checkSubject struct {
	label string
	opt   governance.BuildOptions
}

func checkCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "check",
		Usage: "evaluate the policy (.trove/policy.yaml) against model versions; exit 4 when denied",
		Description: "Each argument is a registered version (NAME@VERSION, NAME@latest, NAME#STAGE) or a\n" +
			"tracked path as the working tree has it. Without arguments: every model artifact in the\n" +
			"working tree. --stage evaluates as a promotion to that stage would (rules scoped to\n" +
			"other stages are not_applicable); without it, only rules without a stage scope apply.\n" +
			"\n" +
			"--staged is the fast pre-commit mode: offline, the models whose manifests are staged\n" +
			"(added or changed against HEAD), for --stage or else the first stage.\n" +
			"\n" +
			"remote_present: when the policy has that rule and a remote is configured (or with\n" +
			"--remote), every chunk is looked up on the remote; --offline never does.\n" +
			"\n" +
			"Without .trove/policy.yaml everything is allowed, with a warning. Exit codes: 0 allowed,\n" +
			"4 denied, 2 for a malformed policy (each error with its line and column).",
		ArgsUsage: "[PATH|NAME@VERSION...]",
		Flags: []cli.Flag{
			stageFlag,
			&cli.BoolFlag{Name: "staged", Usage: "pre-commit mode: the staged models, offline"},
			&cli.StringFlag{Name: "format", Value: "text", Usage: "text, json or junit"},
			jsonFlag, gateRemote, offlineFlag, quietFlag,
		},
		Action: func(c *cli.Context) error {
			format := c.String("format")
			if c.Bool("json") {
				format = "json"
			}
			switch format {
			case "text", "json", "junit":
			default:
				return usageErr(fmt.Sprintf("--format %q: want text, json or junit", format))
			}
			if c.Bool("offline") && c.IsSet("remote") {
				return usageErr("give --remote or --offline, not both")
			}
			if c.Bool("staged") {
				if c.NArg() > 0 {
					return usageErr("--staged checks what is staged: give no paths or versions")
				}
				if c.IsSet("remote") {
					return usageErr("--staged is offline: it never asks a remote")
				}
			}
			v, err := e.openGateView(c)
			if err != nil {
				return err
			}
			defer v.r.Close()
			w, r, gc, pol, stages, stage, reg := v.w, v.r, v.gc, v.pol, v.stages, v.stage, v.reg
			idx, err := governance.BuildIndex(c.Context, r)
			if err != nil {
				return govErr(err)
			}
			base := governance.BuildOptions{
				TargetStage: stage, Stages: stages, Allowed: gc.Allowed, Roles: gc.Roles, Policy: gc.Policy,
				Index: idx, Registry: reg, Warn: e.gateWarn,
			}
			subjects, err := e.checkSubjects(c, r, reg, stages, base)
			if err != nil {
				return err
			}
			if !c.Bool("staged") {
				if base.CheckRemote, err = e.remoteCheck(c, r, gc.Policy); err != nil {
					return err
				}
				for i := range subjects {
					subjects[i].opt.CheckRemote = base.CheckRemote
				}
			}
			rep := checkReport{Allowed: true, Checks: []checkResult{}}
			if gc.Policy != nil {
				rep.PolicyDigest = gc.Policy.Digest.String()
			}
			for _, s := range subjects {
				in, err := governance.BuildInput(c.Context, r, w, s.opt)
				if err != nil {
					return govErr(fmt.Errorf("%s: %w", s.label, err))
				}
				d := policy.Evaluate(pol, in)
				rep.Checks = append(rep.Checks, newCheckResult(s.label, in, d))
				rep.Allowed = rep.Allowed && d.Allowed
			}
			switch format {
			case "json":
				err = writeJSON(e.stdout, rep)
			case "junit":
				err = writeJUnit(e.stdout, rep)
			default:
				if len(pol.Rules) > 0 && len(rep.Checks) > 0 {
					err = decisionTable(e.stdout, rep.Checks, false)
				}
			}
			if err != nil {
				return err
			}
			if len(subjects) == 0 {
				what := "no model artifacts in the working tree"
				if c.Bool("staged") {
					what = "no staged model manifests"
				}
				e.summary(c, "%s: nothing to check", what)
				return nil
			}
			for _, cr := range rep.Checks {
				e.summary(c, "%s: %s", subjectStage(cr.Subject, cr.TargetStage), verdict(cr.Decision))
			}
			return deniedErr(rep.Checks)
		},
	}
}

// targetStage is --stage, checked; for --staged it defaults to the first stage.
// gateView is what evaluating the policy for a stage needs: the clock, the
// open repository (the caller closes it), its gate configuration and policy,
// the configured stages, the stage asked for (--stage or the policy's default)
// and the registry.
type gateView struct {
	w      governance.World
	r      *manifest.Repo
	gc     *governance.GateConfig
	pol    *policy.Policy
	stages []string
	stage  string
	reg    *governance.Registry
}

func (e *env) openGateView(c *cli.Context) (*gateView, error) {
	w, err := e.world()
	if err != nil {
		return nil, err
	}
	r, err := e.open()
	if err != nil {
		return nil, err
	}
	v := &gateView{w: w, r: r}
	if v.gc, v.pol, err = e.gatePolicy(r); err == nil {
		if v.stages, err = configStages(r); err == nil {
			if v.stage, err = targetStage(c, v.stages, v.pol); err == nil {
				v.reg, err = e.readRegistry(r)
			}
		}
	}
	if err != nil {
		r.Close()
		return nil, err
	}
	return v, nil
}

func targetStage(c *cli.Context, stages []string, p *policy.Policy) (string, error) {
	stage := c.String("stage")
	order := stages
	if len(p.Stages) > 0 {
		order = p.Stages
	}
	if stage == "" {
		if c.Bool("staged") && len(order) > 0 {
			return order[0], nil
		}
		return "", nil
	}
	if !slices.Contains(stages, stage) && !slices.Contains(p.Stages, stage) {
		return "", govErr(fmt.Errorf("%w %q: the stages are %s", governance.ErrUnknownStage, stage, strings.Join(order, ", ")))
	}
	return stage, nil
}

// checkSubjects resolves the arguments, or the default subjects.
func (e *env) checkSubjects(c *cli.Context, r *manifest.Repo, reg *governance.Registry, stages []string, base governance.BuildOptions) ([]checkSubject, error) {
	var out []checkSubject
	add := func(label string, f func(o *governance.BuildOptions)) {
		o := base
		f(&o)
		out = append(out, checkSubject{label: label, opt: o})
	}
	switch {
	case c.Bool("staged"):
		ts, err := governance.StagedArtifacts(c.Context, r)
		if err != nil {
			return nil, govErr(err)
		}
		w, err := e.world()
		if err != nil {
			return nil, err
		}
		// Inputs staged in the same commit are added by it, now.
		pending := w.Now().UTC().Truncate(time.Second)
		for _, t := range ts {
			if t.Err != nil {
				return nil, t.Err
			}
			if t.Manifest.Kind != manifest.KindModel {
				continue
			}
			add(relTo(r, e.cwd, t.Path), func(o *governance.BuildOptions) {
				o.Path, o.Manifest, o.PendingAt = t.Path, t.Manifest, pending
			})
		}
	case c.NArg() == 0:
		ts, err := r.List(c.Context, nil)
		if err != nil {
			return nil, err
		}
		for _, t := range ts {
			if t.Err != nil {
				return nil, t.Err
			}
			if t.Manifest.Kind == manifest.KindModel {
				add(relTo(r, e.cwd, t.Path), func(o *governance.BuildOptions) { o.Path, o.Cwd = t.Path, r.Root })
			}
		}
	default:
		for _, arg := range c.Args().Slice() {
			isPath := false
			if rel, err := r.Rel(e.cwd, strings.TrimSuffix(arg, manifest.Ext)); err == nil {
				_, err := r.ReadManifest(rel)
				isPath = err == nil
			}
			// NAME alone is the model's latest version, unless a path is so named.
			isModel := !isPath && governance.ValidModelName(arg) && slices.Contains(reg.Names(), arg)
			if strings.ContainsAny(arg, "@#") || isModel {
				ref, err := governance.ParseRef(arg)
				if err != nil {
					return nil, govErr(err)
				}
				_, v, err := reg.Resolve(ref, stages)
				if err != nil {
					return nil, govErr(err)
				}
				label := ref.Name + "@" + v.Version
				add(label, func(o *governance.BuildOptions) { o.Name, o.Version = ref.Name, v.Version })
				continue
			}
			rel, err := r.Rel(e.cwd, strings.TrimSuffix(arg, manifest.Ext))
			if err != nil {
				return nil, err
			}
			if _, err := r.ReadManifest(rel); err != nil {
				return nil, err
			}
			add(arg, func(o *governance.BuildOptions) { o.Path, o.Cwd = rel, r.Root })
		}
	}
	return out, nil
}

// subjectStage is "churn@v1.0.0 -> production", or the subject alone.
func subjectStage(subject, stage string) string {
	if stage == "" {
		return subject
	}
	return subject + " -> " + stage
}

// statusOrder is the order statuses are counted in.
var statusOrder = []policy.Status{policy.StatusFail, policy.StatusError, policy.StatusWaived, policy.StatusPass, policy.StatusNotApplicable}

// verdict is "allowed (3 pass, 2 not_applicable)" or "denied (...)".
func verdict(d policy.Decision) string {
	counts := map[policy.Status]int{}
	for _, r := range d.Results {
		counts[r.Status]++
	}
	var parts []string
	for _, s := range statusOrder {
		if n := counts[s]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	v := "denied"
	if d.Allowed {
		v = "allowed"
	}
	if len(parts) == 0 {
		return v + " (no rules)"
	}
	return v + " (" + strings.Join(parts, ", ") + ")"
}

// deniedErr is the exit-4 error naming what was denied, or nil.
func deniedErr(checks []checkResult) error {
	var denied []string
	for _, cr := range checks {
		if !cr.Decision.Allowed {
			denied = append(denied, fmt.Sprintf("%s (%s)", subjectStage(cr.Subject, cr.TargetStage), strings.Join(governance.FailedRules(cr.Decision), ", ")))
		}
	}
	if len(denied) == 0 {
		return nil
	}
	return &cliError{msg: "policy denied: " + strings.Join(denied, "; "), code: exitDenied,
		hints: []string{"`--format json` shows each rule's evidence; a waiver in .trove/policy.yaml lets a failing rule through until it expires"}}
}

// decisionTable prints the results as a table; onlyDenying keeps the rules that
// fail or error.
func decisionTable(w io.Writer, checks []checkResult, onlyDenying bool) error {
	var rows [][]string
	for _, cr := range checks {
		for _, res := range cr.Decision.Results {
			if onlyDenying && res.Status != policy.StatusFail && res.Status != policy.StatusError {
				continue
			}
			rows = append(rows, []string{cr.Subject, res.Rule, string(res.Status), orDash(res.Observed), orDash(res.Expected), orDash(resultReason(res))})
		}
	}
	return table(w, []string{"SUBJECT", "RULE", "STATUS", "OBSERVED", "EXPECTED", "REASON"}, rows)
}

// resultReason is the reason, with the waiver that applied.
func resultReason(res policy.Result) string {
	if wv := res.Waiver; wv != nil {
		s := fmt.Sprintf("waived by %s until %s: %s", wv.Approver, wv.Expires.UTC().Format("2006-01-02T15:04:05Z"), wv.Reason)
		if res.Reason != "" {
			s += "; " + res.Reason
		}
		return s
	}
	return res.Reason
}

// JUnit XML, as CI systems read it: a testsuite per subject, a testcase per
// rule; fail and error are <failure> elements (type says which), not_applicable
// and waived are <skipped>.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

func junitReport(rep checkReport) junitSuites {
	out := junitSuites{Name: "trove check", Suites: []junitSuite{}}
	for _, cr := range rep.Checks {
		s := junitSuite{Name: "policy: " + subjectStage(cr.Subject, cr.TargetStage), Properties: []junitProperty{
			{"name", cr.Name}, {"version", cr.Version}, {"path", cr.Path}, {"digest", cr.Digest},
			{"target_stage", cr.TargetStage}, {"input_digest", cr.InputDigest}, {"policy_digest", cr.Decision.PolicyDigest},
			{"allowed", fmt.Sprint(cr.Decision.Allowed)},
		}}
		if !cr.Decision.EvaluatedAt.IsZero() {
			s.Timestamp = cr.Decision.EvaluatedAt.UTC().Format("2006-01-02T15:04:05Z")
		}
		for _, res := range cr.Decision.Results {
			tc := junitCase{Name: res.Rule, Classname: "trove.policy." + res.Type}
			msg := fmt.Sprintf("observed %s; expected %s", orDash(res.Observed), orDash(res.Expected))
			if why := resultReason(res); why != "" {
				msg += "; " + why
			}
			switch res.Status {
			case policy.StatusFail, policy.StatusError:
				text := msg
				if res.Evidence != nil {
					if b, err := json.MarshalIndent(res.Evidence, "", "  "); err == nil {
						text += "\nevidence: " + string(b)
					}
				}
				tc.Failure = &junitFailure{Message: msg, Type: string(res.Status), Text: text}
				s.Failures++
			case policy.StatusNotApplicable, policy.StatusWaived:
				why := resultReason(res)
				if why == "" {
					why = msg
				}
				tc.Skipped = &junitSkipped{Message: string(res.Status) + ": " + why}
				s.Skipped++
			}
			s.Tests++
			s.Cases = append(s.Cases, tc)
		}
		out.Tests += s.Tests
		out.Failures += s.Failures
		out.Skipped += s.Skipped
		out.Suites = append(out.Suites, s)
	}
	return out
}

func writeJUnit(w io.Writer, rep checkReport) error {
	b, err := xml.MarshalIndent(junitReport(rep), "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s%s\n", xml.Header, b)
	return err
}
