package main

// trove export --format prometheus: the registry's operational state (who holds
// each stage, since when, how old its training data is, whether the policy
// still allows it, the latest monitoring result and drift values) as a
// Prometheus textfile for AIOps dashboards.

import (
	"bytes"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/trove-dev/trove/governance"
	"github.com/trove-dev/trove/governance/export"
	"github.com/trove-dev/trove/governance/monitor"
	"github.com/trove-dev/trove/governance/policy"
)

func (e *env) exportPrometheus(c *cli.Context) error {
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
	idx, err := governance.BuildIndex(c.Context, r)
	if err != nil {
		return govErr(err)
	}
	names := reg.Names()
	if c.NArg() > 0 {
		names = c.Args().Slice()
	}
	st := export.OpsState{Now: now}
	store := monitorStore(r)
	for _, name := range names {
		if !governance.ValidModelName(name) {
			return usageErr(fmt.Sprintf("%q is not a model name", name), "the prometheus export takes model NAMEs (default: every model)")
		}
		m, err := reg.Model(name, time.Time{}, stages)
		if err != nil {
			return govErr(err)
		}
		for _, h := range m.Stages {
			if h.Version == "" {
				continue
			}
			oh := export.OpsHolder{Model: name, Stage: h.Stage, Version: h.Version}
			for _, v := range m.Versions {
				if v.Version == h.Version {
					oh.Digest = v.Digest
				}
			}
			oh.PromotedAt, _ = time.Parse(time.RFC3339, h.Since)
			in, err := governance.BuildInput(c.Context, r, w, governance.BuildOptions{
				Name: name, Version: h.Version, TargetStage: h.Stage, Stages: stages,
				Allowed: gc.Allowed, Roles: gc.Roles, Policy: gc.Policy, Index: idx, Registry: reg,
				Now: now, Warn: func(string) {},
			})
			if err == nil {
				if lin := in.Subject.Lineage; lin != nil {
					for _, x := range lin.Inputs {
						if x.Role == "train" && x.AddedAt.After(oh.TrainingDataAt) {
							oh.TrainingDataAt = x.AddedAt
						}
					}
				}
				if gc.Policy != nil && len(gc.Policy.Rules) > 0 {
					// The export is offline: a remote_present rule, whose fact
					// was not gathered, does not count against the version.
					allowed := true
					for _, res := range policy.Evaluate(gc.Policy, in).Results {
						if (res.Status == policy.StatusFail || res.Status == policy.StatusError) && res.Type != policy.TypeRemotePresent {
							allowed = false
						}
					}
					oh.PolicyAllowed = &allowed
				}
			}
			if gc.Policy != nil && len(gc.Policy.Monitors) > 0 {
				subj, err := monitor.Resolve(c.Context, r, reg, stages, name+"@"+h.Stage, now)
				if err != nil {
					return monitorErr(err)
				}
				all, err := store.List(name)
				if err != nil {
					return monitorErr(err)
				}
				obs, ref, history := latest(all, subj.Version)
				rep := monitor.Evaluate(gc.Policy, monitor.Input{Subject: subj, Observation: obs, Reference: ref, History: history, Now: now})
				oh.Monitor = &rep
				if obs != nil {
					oh.ObservedAt = obs.End()
				}
			}
			st.Holders = append(st.Holders, oh)
		}
	}
	var buf bytes.Buffer
	if err := export.WritePrometheus(&buf, st); err != nil {
		return err
	}
	where, err := e.writeReportOut(c, buf.Bytes())
	if err != nil {
		return err
	}
	e.summary(c, "prometheus export of %s written to %s", plural(int64(len(st.Holders)), "stage holder"), where)
	return nil
}
