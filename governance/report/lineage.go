package report

// The upstream lineage: the graph, its depths, the recorded steps, and the
// checks of what each step says.

import (
	"encoding/json"
	"fmt"
	"maps"
	"sort"
	"strings"
	"time"

	"github.com/trove-dev/trove/governance"
	"github.com/trove-dev/trove/manifest"
	"github.com/trove-dev/trove/objects"
)

// lineage builds the upstream graph, its depths and its runs.
func (b *builder) lineage() {
	g := governance.BuildUpstream(b.idx, b.loc, 0)
	lin := &b.rep.Lineage
	lin.Root = g.Root
	b.locs = map[string]*governance.Location{}
	for _, n := range g.Nodes {
		node := Node{ID: n.ID, Path: n.Path, Name: n.Name, Kind: n.Kind, Digest: n.Digest, Commit: n.Commit, Author: n.Author, Time: n.Time, Unresolved: n.Unresolved}
		if l := b.locate(n, g.Root); l != nil {
			b.locs[n.ID] = l
			node.Size = l.Manifest.Size
			if len(l.Manifest.Meta) > 0 {
				node.Meta = maps.Clone(l.Manifest.Meta)
			}
		}
		lin.Nodes = append(lin.Nodes, node)
	}
	for _, e := range g.Edges {
		lin.Edges = append(lin.Edges, Edge{From: e.From, To: e.To, Role: e.Role})
	}
	depths(lin)
	b.runs()
	var unresolved []string
	for _, n := range lin.Nodes {
		if n.Unresolved {
			unresolved = append(unresolved, n.Path+" ("+shortDigest(n.Digest)+")")
		}
	}
	if len(unresolved) == 0 {
		b.check("lineage.resolved", "every input digest in the upstream lineage resolves to a manifest in HEAD's history", CheckPass,
			fmt.Sprintf("%d artifacts, %d edges, %d recorded steps", len(lin.Nodes), len(lin.Edges), len(lin.Runs)))
	} else {
		b.check("lineage.resolved", "every input digest in the upstream lineage resolves to a manifest in HEAD's history", CheckWarn,
			"only the recorded digest is known of: "+strings.Join(unresolved, ", "))
	}
	b.checkSteps()
}

// locate finds the indexed version a graph node stands for.
func (b *builder) locate(n governance.Node, root string) *governance.Location {
	if n.ID == root {
		return b.loc
	}
	if n.Unresolved {
		return nil
	}
	for _, l := range b.idx.All() {
		if l.Path == n.Path && l.Commit == n.Commit && l.Manifest.Digest.String() == n.Digest {
			return l
		}
	}
	return nil
}

// depths sets each node's depth: the longest path from it to the root, so
// that every edge points to a smaller depth.
func depths(lin *Lineage) {
	d := map[string]int{lin.Root: 0}
	// Lineage is acyclic (a digest cannot be its own input); the bound only
	// guards against a graph that is not.
	for range len(lin.Nodes) + 1 {
		changed := false
		for _, e := range lin.Edges {
			to, ok := d[e.To]
			if !ok {
				continue
			}
			if cur, seen := d[e.From]; (!seen || cur < to+1) && to < len(lin.Nodes) {
				d[e.From] = to + 1
				changed = true
			}
		}
		if !changed {
			break
		}
	}
	for i := range lin.Nodes {
		lin.Nodes[i].Depth = d[lin.Nodes[i].ID]
	}
}

// runs groups the graph's versions by the step that made them: outputs of one
// `trove run` carry the same lineage.
func (b *builder) runs() {
	lin := &b.rep.Lineage
	type group struct {
		key   string
		nodes []int
		depth int
	}
	var groups []*group
	byKey := map[string]*group{}
	for i, n := range lin.Nodes {
		l := b.locs[n.ID]
		if l == nil || l.Manifest.Lineage == nil {
			continue
		}
		key := runKey(l.Manifest.Lineage)
		g := byKey[key]
		if g == nil {
			g = &group{key: key}
			byKey[key] = g
			groups = append(groups, g)
		}
		g.nodes = append(g.nodes, i)
		g.depth = max(g.depth, n.Depth)
	}
	// Upstream first: what a step read is made before the step.
	sort.SliceStable(groups, func(i, j int) bool { return groups[i].depth > groups[j].depth })
	for k, g := range groups {
		first := b.locs[lin.Nodes[g.nodes[0]].ID].Manifest
		ml := first.Lineage
		run := Run{
			ID: fmt.Sprintf("run%d", k+1), Command: append([]string{}, ml.Command...), Started: ml.Started, Ended: ml.Ended,
			Parameters: mapOrEmpty(ml.Params), Environment: mapOrEmpty(ml.Environment), Trigger: ml.Trigger,
			Inputs: []RunArtifact{}, Outputs: []RunArtifact{}, Metrics: map[string]float64{},
		}
		if ml.Code != nil {
			run.Code = b.code(ml.Code)
		}
		outID := lin.Nodes[g.nodes[0]].ID
		for _, in := range ml.Inputs {
			a := RunArtifact{Role: in.Role, Path: in.Path, Name: in.Name, Kind: in.Kind, Digest: in.Digest.String()}
			if id := b.inputNode(outID, in); id != "" {
				a.Node = id
				if l := b.locs[id]; l != nil {
					fillProfile(&a, l.Manifest)
				}
			}
			run.Inputs = append(run.Inputs, a)
		}
		for _, i := range g.nodes {
			n := &lin.Nodes[i]
			n.Run = run.ID
			m := b.locs[n.ID].Manifest
			a := RunArtifact{Node: n.ID, Path: n.Path, Name: m.Name, Kind: m.Kind, Digest: n.Digest}
			fillProfile(&a, m)
			run.Outputs = append(run.Outputs, a)
			maps.Copy(run.Metrics, m.Metrics)
		}
		lin.Runs = append(lin.Runs, run)
	}
}

func fillProfile(a *RunArtifact, m *manifest.Manifest) {
	a.Size = m.Size
	if p := m.Profile; p != nil {
		rows := p.Rows
		a.Rows = &rows
		a.Schema = columns(p)
	}
}

func columns(p *manifest.Profile) []Column {
	out := make([]Column, 0, len(p.Columns))
	for _, c := range p.Columns {
		out = append(out, Column{Name: c.Name, Type: c.Type, Nulls: c.Nulls})
	}
	return out
}

// runKey identifies a step by everything its lineage records.
func runKey(l *manifest.Lineage) string {
	b, _ := json.Marshal(l)
	return objects.Hash(b).String()
}

// inputNode is the graph node that stands for input in of the step that made
// the node out.
func (b *builder) inputNode(out string, in manifest.Input) string {
	for _, e := range b.rep.Lineage.Edges {
		if e.To != out || e.Role != in.Role {
			continue
		}
		for _, n := range b.rep.Lineage.Nodes {
			if n.ID == e.From && n.Digest == in.Digest.String() {
				return n.ID
			}
		}
	}
	return ""
}

// checkSteps checks what each recorded step says against the history: the
// code commit is there, each input's manifest at that commit has the recorded
// digest (trove run requires its inputs committed and unchanged), and the
// self-asserted times are in order.
func (b *builder) checkSteps() {
	for _, run := range b.rep.Lineage.Runs {
		outs := make([]string, 0, len(run.Outputs))
		for _, o := range run.Outputs {
			outs = append(outs, o.Path)
		}
		what := strings.Join(outs, ", ")
		if run.Code == nil {
			b.check("step.code:"+run.ID, "the step that made "+what+" records its code commit", CheckWarn, "no code commit recorded")
			continue
		}
		if !run.Code.InRepository {
			b.check("step.code:"+run.ID, fmt.Sprintf("the code commit %s of the step that made %s is in the repository", short(run.Code.Commit), what), CheckWarn,
				"not in this clone (a shallow clone, or history rewritten)")
			continue
		}
		status, detail := CheckPass, ""
		if run.Code.Dirty {
			status, detail = CheckWarn, "the step recorded a dirty working tree: the commit does not describe the code exactly"
		}
		b.check("step.code:"+run.ID, fmt.Sprintf("the code commit %s of the step that made %s is in the repository", short(run.Code.Commit), what), status, detail)
		if len(run.Inputs) > 0 {
			// Production observations are not committed (the monitor store and
			// the remote keep them, named by their digest): only tracked
			// inputs are looked for at the code commit.
			var tracked []RunArtifact
			paths := make([]string, 0, len(run.Inputs))
			for _, in := range run.Inputs {
				if !governance.IsObservationPath(in.Path) {
					tracked = append(tracked, in)
					paths = append(paths, in.Path)
				}
			}
			at := map[string]string{}
			if ts, err := b.r.ManifestsAt(b.ctx, run.Code.Commit, paths); err == nil {
				for _, t := range ts {
					if t.Err == nil {
						at[t.Path] = t.Manifest.Digest.String()
					}
				}
			}
			var bad []string
			for _, in := range tracked {
				if at[in.Path] != in.Digest {
					got := at[in.Path]
					if got == "" {
						got = "no manifest"
					}
					bad = append(bad, fmt.Sprintf("%s: recorded %s, at the commit %s", in.Path, shortDigest(in.Digest), shortDigest(got)))
				}
			}
			check := fmt.Sprintf("the inputs of the step that made %s are committed at its code commit with the recorded digests", what)
			if len(bad) == 0 {
				b.check("step.inputs:"+run.ID, check, CheckPass, plural(int64(len(run.Inputs)), "input"))
			} else if run.Code.Dirty {
				b.check("step.inputs:"+run.ID, check, CheckWarn, strings.Join(bad, "; "))
			} else {
				b.check("step.inputs:"+run.ID, check, CheckFail, strings.Join(bad, "; "))
			}
		}
		if run.Started != "" && run.Ended != "" {
			b.checkTimes(run, what)
		}
	}
}

// checkTimes checks that a step's self-asserted times are in order: it ended
// after it started, and before the commit that recorded what it made.
func (b *builder) checkTimes(run Run, what string) {
	id, check := "step.times:"+run.ID, "the step that made "+what+" ended after it started and before its outputs were committed (self-asserted times)"
	s, _ := time.Parse(time.RFC3339, run.Started)
	e, _ := time.Parse(time.RFC3339, run.Ended)
	if e.Before(s) {
		b.check(id, check, CheckWarn, fmt.Sprintf("it says it ran from %s to %s", run.Started, run.Ended))
		return
	}
	for _, o := range run.Outputs {
		for _, n := range b.rep.Lineage.Nodes {
			if n.ID != o.Node || n.Time == "" {
				continue
			}
			if c, err := time.Parse(time.RFC3339, n.Time); err == nil && c.Before(e) {
				b.check(id, check, CheckWarn, fmt.Sprintf("it says it ended at %s, but commit %s that recorded %s is dated %s: the clocks disagree", run.Ended, short(n.Commit), n.Path, n.Time))
				return
			}
		}
	}
	b.check(id, check, CheckPass, run.Started+" to "+run.Ended)
}
