package main

// trove monitor: the policy's monitors judged on the latest observations of the
// versions in a stage; a breach is exit 4, "retrain recommended", and --emit
// writes a CloudEvents event a pipeline triggers on (governance/monitor).

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/trove-dev/trove/governance"
	"github.com/trove-dev/trove/governance/monitor"
	"github.com/trove-dev/trove/governance/policy"
	"github.com/trove-dev/trove/manifest"
	"github.com/trove-dev/trove/objects"
)

// inStage is "churn@v1.0.0 in production", or the subject alone.
func inStage(subject, stage string) string {
	if stage == "" {
		return subject
	}
	return subject + " in " + stage
}

// monitorResult is `trove monitor --format json`.
type monitorResult struct {
	Status  monitor.Status   `json:"status"`
	Reports []monitor.Report `json:"reports"`
	Events  []string         `json:"events,omitempty"`
}

// latest returns the newest observation and the newest reference profile of
// a version, and all its observations (not reference profiles), oldest first,
// for monitors that judge a window.
func latest(all []monitor.Stored, version string) (obs, ref *monitor.Stored, history []monitor.Stored) {
	history = []monitor.Stored{}
	for i := range all {
		s := &all[i]
		if s.Version != version {
			continue
		}
		if s.Reference {
			ref = s
		} else {
			obs = s
			history = append(history, *s)
		}
	}
	return obs, ref, history
}

// monitorReports evaluates the policy's monitors for each model reference (all
// models holding the stage when refs is empty).
func (e *env) monitorReports(c *cli.Context, r *manifest.Repo, stages []string, reg *governance.Registry, p *policy.Policy, refs []string, stage string, now time.Time) ([]monitor.Report, error) {
	if len(refs) == 0 {
		for _, name := range reg.Names() {
			m, err := reg.Model(name, time.Time{}, stages)
			if err != nil {
				return nil, govErr(err)
			}
			for _, h := range m.Stages {
				if h.Stage == stage && h.Version != "" {
					refs = append(refs, name+"@"+stage)
				}
			}
		}
	}
	st := monitorStore(r)
	var reps []monitor.Report
	for _, ref := range refs {
		if !strings.ContainsAny(ref, "@#") {
			ref += "@" + stage
		}
		subj, err := monitor.Resolve(c.Context, r, reg, stages, ref, now)
		if err != nil {
			return nil, monitorErr(err)
		}
		if err := e.pullObservations(c, r, subj.Model); err != nil {
			return nil, err
		}
		all, err := st.List(subj.Model)
		if err != nil {
			return nil, monitorErr(err)
		}
		obs, refProfile, history := latest(all, subj.Version)
		reps = append(reps, monitor.Evaluate(p, monitor.Input{Subject: subj, Observation: obs, Reference: refProfile, History: history, Now: now}))
	}
	return reps, nil
}

func monitorCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "monitor",
		Usage: "judge the latest production observations by the policy's monitors; exit 4 when retraining is recommended",
		Description: "For each model (default: every model with a version in --stage) the monitors under\n" +
			"`monitors:` in .trove/policy.yaml are evaluated on the latest observation of the\n" +
			"version that holds the stage now (NAME@VERSION names a version), or, for a monitor with\n" +
			"window: 7d or observations: N, on their aggregate (samples summed, rates a\n" +
			"sample-weighted mean). A monitor is pass,\n" +
			"breach, no_data (metric never observed, no training value, too few samples) or\n" +
			"not_applicable. Any breach: exit 4 and `retrain recommended`; --emit FILE then writes\n" +
			"a CloudEvents 1.0 event (JSON) naming the version, the breached monitors and the\n" +
			"observations, for a pipeline to trigger on and for `trove run --trigger FILE`;\n" +
			"several breached models give a CloudEvents JSON batch (application/cloudevents-batch+json).",
		ArgsUsage: "[NAME[@STAGE|@VERSION]...]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "stage", Usage: "the stage watched (default: the last configured stage, production)"},
			&cli.StringFlag{Name: "format", Value: "text", Usage: "text, json or junit"},
			&cli.StringFlag{Name: "emit", Usage: "on a breach, write the CloudEvents event to this file"},
			&cli.StringFlag{Name: "remote", Aliases: []string{"r"}, Usage: "fetch the remote's observations first"},
			jsonFlag, quietFlag,
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
			w, err := e.world()
			if err != nil {
				return err
			}
			now := w.Now().UTC().Truncate(time.Second)
			r, stages, reg, err := e.registryView()
			if err != nil {
				return err
			}
			defer r.Close()
			gc, err := e.gateConfig(r)
			if err != nil {
				return err
			}
			if gc.Policy == nil || len(gc.Policy.Monitors) == 0 {
				return usageErr("the policy has no monitors: nothing to judge",
					"add a monitors: section to .trove/policy.yaml, e.g. - {id: accuracy-drift, type: drift, metric: accuracy, max_drop: 0.05}")
			}
			stage := c.String("stage")
			if stage == "" && len(stages) > 0 {
				stage = stages[len(stages)-1]
			}
			if !contains(stages, stage) {
				return usageErr(fmt.Sprintf("--stage %q: the stages are %s", stage, strings.Join(stages, ", ")))
			}
			reps, err := e.monitorReports(c, r, stages, reg, gc.Policy, c.Args().Slice(), stage, now)
			if err != nil {
				return err
			}
			res := monitorResult{Status: monitor.StatusPass, Reports: reps}
			if reps == nil {
				res.Reports = []monitor.Report{}
			}
			rank := map[monitor.Status]int{monitor.StatusPass: 0, monitor.StatusNoData: 1, monitor.StatusError: 2, monitor.StatusBreach: 3}
			var breached []string
			var events []*monitor.Event
			for _, rep := range reps {
				if rank[rep.Status] > rank[res.Status] {
					res.Status = rep.Status
				}
				if rep.Retrain {
					breached = append(breached, fmt.Sprintf("%s (%s)", inStage(rep.Model+"@"+rep.Version, rep.Stage), strings.Join(rep.Breached(), ", ")))
					ev, err := monitor.NewEvent(rep)
					if err != nil {
						return err
					}
					if c.String("emit") != "" {
						// Kept beside the observations it names, so that push shares it.
						if err := monitorStore(r).PutEvent(ev); err != nil {
							return monitorErr(err)
						}
					}
					events = append(events, ev)
					res.Events = append(res.Events, ev.ID)
				}
			}
			if f := c.String("emit"); f != "" && len(events) > 0 {
				if err := writeEvents(abs(e.cwd, f), events); err != nil {
					return err
				}
			}
			switch format {
			case "json":
				err = writeJSON(e.stdout, res)
			case "junit":
				err = writeMonitorJUnit(e.stdout, reps)
			default:
				err = monitorTable(e.stdout, reps)
			}
			if err != nil {
				return err
			}
			for _, rep := range reps {
				for _, x := range rep.Results {
					if x.Status == monitor.StatusNoData {
						fmt.Fprintf(e.stderr, "trove: warning: %s: %s: no data: %s\n", inStage(rep.Model+"@"+rep.Version, rep.Stage), x.Monitor, x.Reason)
					}
				}
			}
			if len(breached) > 0 {
				hints := []string{"`trove monitor --format json` shows every monitor's values; `trove observations NAME` lists the data"}
				if f := c.String("emit"); f != "" {
					if len(events) == 1 {
						hints = append([]string{fmt.Sprintf("event written to %s: retrain with `trove run --trigger %s ...`, then register and promote the new version", f, f)}, hints...)
					} else {
						hints = append([]string{fmt.Sprintf("%d events written to %s (a CloudEvents batch): retrain each model with `trove run --trigger %s --name MODEL ...`, which records the events about MODEL", len(events), f, f)}, hints...)
					}
				}
				return &cliError{msg: "retrain recommended: " + strings.Join(breached, "; "), code: exitDenied, hints: hints}
			}
			if res.Status == monitor.StatusError {
				return &cliError{msg: "some monitors could not be evaluated (status error)", code: exitRuntime,
					hints: []string{"`trove monitor --format json` gives each reason"}}
			}
			if len(reps) == 0 {
				e.summary(c, "no model has a version in %s: nothing to monitor", stage)
				return nil
			}
			e.summary(c, "%s monitored: %s", plural(int64(len(reps)), "model"), res.Status)
			return nil
		},
	}
}

// writeEvents writes one event in the CloudEvents structured JSON format (an
// object, application/cloudevents+json), several in the CloudEvents JSON
// batch format (an array, application/cloudevents-batch+json).
func writeEvents(path string, evs []*monitor.Event) error {
	var b []byte
	var err error
	if len(evs) == 1 {
		b, err = evs[0].Encode()
	} else {
		b, err = monitor.EncodeBatch(evs)
	}
	if err != nil {
		return err
	}
	if err := objects.WriteFileAtomic(path, b, 0o644); err != nil {
		return fmt.Errorf("--emit: %w", err)
	}
	return nil
}

func monitorTable(w io.Writer, reps []monitor.Report) error {
	var rows [][]string
	for _, rep := range reps {
		for _, x := range rep.Results {
			rows = append(rows, []string{inStage(rep.Model+"@"+rep.Version, rep.Stage), x.Monitor, string(x.Status), orDash(x.Observed), orDash(x.Expected), orDash(x.Reason)})
		}
	}
	if len(rows) == 0 {
		return nil
	}
	return table(w, []string{"SUBJECT", "MONITOR", "STATUS", "OBSERVED", "EXPECTED", "REASON"}, rows)
}

func writeMonitorJUnit(w io.Writer, reps []monitor.Report) error {
	out := junitSuites{Name: "trove monitor", Suites: []junitSuite{}}
	for _, rep := range reps {
		s := junitSuite{Name: "monitor: " + inStage(rep.Model+"@"+rep.Version, rep.Stage), Timestamp: rep.EvaluatedAt, Properties: []junitProperty{
			{"model", rep.Model}, {"version", rep.Version}, {"stage", rep.Stage}, {"digest", rep.Digest},
			{"observation", rep.Observation}, {"policy_digest", rep.PolicyDigest}, {"status", string(rep.Status)},
		}}
		for _, x := range rep.Results {
			tc := junitCase{Name: x.Monitor, Classname: "trove.monitor." + x.Type}
			msg := fmt.Sprintf("observed %s; expected %s", orDash(x.Observed), orDash(x.Expected))
			if x.Reason != "" {
				msg += "; " + x.Reason
			}
			switch x.Status {
			case monitor.StatusBreach, monitor.StatusError:
				tc.Failure = &junitFailure{Message: msg, Type: string(x.Status), Text: msg}
				s.Failures++
			case monitor.StatusNoData, monitor.StatusNotApplicable:
				tc.Skipped = &junitSkipped{Message: string(x.Status) + ": " + msg}
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
	b, err := xml.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s%s\n", xml.Header, b)
	return err
}
