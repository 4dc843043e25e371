package governance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/trove-dev/trove/manifest"
	"github.com/trove-dev/trove/objects"
)

// Directions of a lineage graph.
const (
	Upstream   = "upstream"   // what an artifact was made from, down to raw data
	Downstream = "downstream" // what was made from an artifact
)

// Node is one artifact version in a lineage graph.
type Node struct {
	ID     string `json:"id"`
	Path   string `json:"path"`
	Name   string `json:"name,omitempty"`
	Kind   string `json:"kind,omitempty"`
	Digest string `json:"digest"`
	// Commit first recorded this version's manifest, by Author at Time; empty
	// when the manifest is only in the working tree.
	Commit string `json:"commit,omitempty"`
	Author string `json:"author,omitempty"`
	Time   string `json:"time,omitempty"`
	// What the lineage says about the step that made it.
	CodeCommit string   `json:"code_commit,omitempty"`
	Dirty      bool     `json:"dirty,omitempty"`
	Command    []string `json:"command,omitempty"`
	// Trigger is what started the step, as its lineage records it (a CI run,
	// or "event:blake3:..." for a monitoring event, `trove run --trigger`).
	Trigger string `json:"trigger,omitempty"`
	// Unresolved: an input whose manifest is neither in HEAD's history nor in
	// the working tree (only what the lineage says about it is known). An
	// input that is a production observation (IsObservationPath) is never
	// unresolved: it has Kind KindObservation, and the monitor store has it.
	Unresolved bool `json:"unresolved,omitempty"`
	// Truncated: the depth limit stopped the walk here.
	Truncated bool `json:"truncated,omitempty"`
}

// Edge says that From was an input (in Role) of the step that made To.
type Edge struct {
	From string `json:"from"`
	To   string `json:"to"`
	Role string `json:"role,omitempty"`
}

// Graph is a lineage graph: Nodes in the order they were reached from Root
// (whose id is Nodes[0].ID), and edges from inputs to what was made of them.
type Graph struct {
	Direction string `json:"direction"`
	Root      string `json:"root"`
	Nodes     []Node `json:"nodes"`
	Edges     []Edge `json:"edges"`
}

// node returns the graph node of a location.
func locNode(l *Location) Node {
	m := l.Manifest
	n := Node{Path: l.Path, Name: m.Name, Kind: m.Kind, Digest: m.Digest.String(), Commit: l.Commit, Author: l.Author}
	if !l.Time.IsZero() {
		n.Time = l.Time.UTC().Format(time.RFC3339)
	}
	if lin := m.Lineage; lin != nil {
		if lin.Code != nil {
			n.CodeCommit, n.Dirty = lin.Code.Commit, lin.Code.Dirty
		}
		n.Command, n.Trigger = lin.Command, lin.Trigger
	}
	return n
}

// nodeKey identifies a graph node: a version of an artifact is its indexed
// Location (so two versions of the same data with different lineage stay
// apart), an input found nowhere its recorded digest and path.
type nodeKey any

type unresolvedKey struct {
	digest objects.ID
	path   string
}

// BuildUpstream walks from root through each input's digest to the manifest
// that has it (Index.Find), down to artifacts without inputs (raw data), at
// most depth levels (0: no limit). A version reached twice is one node.
func BuildUpstream(idx *Index, root *Location, depth int) *Graph {
	g := &Graph{Direction: Upstream, Nodes: []Node{}, Edges: []Edge{}}
	ids := map[nodeKey]string{}
	add := func(n Node, k nodeKey) (string, bool) {
		if id, ok := ids[k]; ok {
			return id, false
		}
		n.ID = fmt.Sprintf("n%d", len(g.Nodes))
		ids[k] = n.ID
		g.Nodes = append(g.Nodes, n)
		return n.ID, true
	}
	type item struct {
		loc   *Location
		id    string
		level int
	}
	rootID, _ := add(locNode(root), root)
	g.Root = rootID
	queue := []item{{root, rootID, 0}}
	for len(queue) > 0 {
		it := queue[0]
		queue = queue[1:]
		lin := it.loc.Manifest.Lineage
		if lin == nil || len(lin.Inputs) == 0 {
			continue
		}
		if depth > 0 && it.level >= depth {
			g.node(it.id).Truncated = true
			continue
		}
		for _, in := range sortedInputs(lin.Inputs) {
			var id string
			var fresh bool
			if l, ok := idx.FindAt(in.Digest, in.Path, codeCommit(lin)); ok {
				id, fresh = add(locNode(l), l)
				if fresh {
					queue = append(queue, item{l, id, it.level + 1})
				}
			} else if IsObservationPath(in.Path) {
				id, _ = add(Node{Path: in.Path, Kind: KindObservation, Digest: in.Digest.String()}, unresolvedKey{in.Digest, in.Path})
			} else {
				id, _ = add(Node{Path: in.Path, Name: in.Name, Kind: in.Kind, Digest: in.Digest.String(), Unresolved: true},
					unresolvedKey{in.Digest, in.Path})
			}
			g.Edges = append(g.Edges, Edge{From: id, To: it.id, Role: in.Role})
		}
	}
	return g
}

// BuildDownstream finds every indexed version whose lineage has root as an
// input (which models used this data?), and what was made from those, at most
// depth levels (0: no limit). It is the inverse of BuildUpstream: an input
// leads to the version Index.Find resolves it to, so two paths with the same
// content are told apart by the path the lineage recorded.
func BuildDownstream(idx *Index, root *Location, depth int) *Graph {
	g := &Graph{Direction: Downstream, Nodes: []Node{}, Edges: []Edge{}}
	type use struct {
		loc  *Location
		role string
	}
	users := map[*Location][]use{} // input version -> the versions made from it
	for _, l := range idx.All() {
		if lin := l.Manifest.Lineage; lin != nil {
			for _, in := range sortedInputs(lin.Inputs) {
				if src, ok := idx.FindAt(in.Digest, in.Path, codeCommit(lin)); ok {
					users[src] = append(users[src], use{l, in.Role})
				}
			}
		}
	}
	ids := map[nodeKey]string{}
	add := func(l *Location) (string, bool) {
		k := nodeKey(l)
		if id, ok := ids[k]; ok {
			return id, false
		}
		n := locNode(l)
		n.ID = fmt.Sprintf("n%d", len(g.Nodes))
		ids[k] = n.ID
		g.Nodes = append(g.Nodes, n)
		return n.ID, true
	}
	type item struct {
		loc   *Location
		id    string
		level int
	}
	rootID, _ := add(root)
	g.Root = rootID
	queue := []item{{root, rootID, 0}}
	for len(queue) > 0 {
		it := queue[0]
		queue = queue[1:]
		us := users[it.loc]
		if len(us) == 0 {
			continue
		}
		if depth > 0 && it.level >= depth {
			g.node(it.id).Truncated = true
			continue
		}
		for _, u := range us {
			id, fresh := add(u.loc)
			if fresh {
				queue = append(queue, item{u.loc, id, it.level + 1})
			}
			g.Edges = append(g.Edges, Edge{From: it.id, To: id, Role: u.role})
		}
	}
	return g
}

// codeCommit is the commit a step ran from, where its inputs were committed.
func codeCommit(l *manifest.Lineage) string {
	if l == nil || l.Code == nil {
		return ""
	}
	return l.Code.Commit
}

// sortedInputs orders inputs as the manifest encodes them (role, then path), so
// node ids do not depend on how a manifest was built.
func sortedInputs(ins []manifest.Input) []manifest.Input {
	out := append([]manifest.Input(nil), ins...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Role != out[j].Role {
			return out[i].Role < out[j].Role
		}
		return out[i].Path < out[j].Path
	})
	return out
}

func (g *Graph) node(id string) *Node {
	for i := range g.Nodes {
		if g.Nodes[i].ID == id {
			return &g.Nodes[i]
		}
	}
	return nil
}

// children lists, for each node, the nodes the tree format shows under it:
// inputs upstream, derived artifacts downstream, with the role of the edge.
func (g *Graph) children() map[string][]Edge {
	out := map[string][]Edge{}
	for _, e := range g.Edges {
		if g.Direction == Downstream {
			out[e.From] = append(out[e.From], e)
		} else {
			out[e.To] = append(out[e.To], e)
		}
	}
	for k, es := range out {
		sort.SliceStable(es, func(i, j int) bool {
			if es[i].Role != es[j].Role {
				return es[i].Role < es[j].Role
			}
			return g.other(es[i], k) < g.other(es[j], k)
		})
	}
	return out
}

// other returns the path of the node at the far end of e from id.
func (g *Graph) other(e Edge, id string) string {
	if e.From == id {
		return g.node(e.To).Path
	}
	return g.node(e.From).Path
}

// describe is one node as the tree format prints it.
func describe(n *Node) string {
	parts := []string{n.Path}
	if n.Kind != "" {
		parts = append(parts, n.Kind)
	}
	parts = append(parts, n.Digest)
	switch {
	case n.Unresolved:
		parts = append(parts, "(not found in HEAD's history or the working tree)")
	case n.Kind == KindObservation:
		parts = append(parts, "(production observation: the monitor store and the remote keep it, not git)")
	case n.Commit == "":
		parts = append(parts, "uncommitted")
	default:
		parts = append(parts, "commit "+n.Commit[:min(len(n.Commit), 10)], n.Author, n.Time)
	}
	if n.CodeCommit != "" {
		c := "code " + n.CodeCommit[:min(len(n.CodeCommit), 10)]
		if n.Dirty {
			c += " (dirty)"
		}
		parts = append(parts, c)
	}
	if n.Truncated {
		parts = append(parts, "...")
	}
	return strings.Join(parts, "  ")
}

// WriteTree prints the graph as an indented tree from the root. A node reached
// a second time is printed with "(see above)" and not expanded again.
func WriteTree(w io.Writer, g *Graph) error {
	kids := g.children()
	printed := map[string]bool{}
	var err error
	var walk func(id, prefix, lead, role string)
	walk = func(id, prefix, lead, role string) {
		if err != nil {
			return
		}
		n := g.node(id)
		line := describe(n)
		if role != "" {
			line = role + ": " + line
		}
		if printed[id] {
			_, err = fmt.Fprintf(w, "%s%s (see above)\n", lead, line)
			return
		}
		printed[id] = true
		if _, err = fmt.Fprintf(w, "%s%s\n", lead, line); err != nil {
			return
		}
		es := kids[id]
		for i, e := range es {
			next := e.From
			if g.Direction == Downstream {
				next = e.To
			}
			branch, cont := "├── ", "│   "
			if i == len(es)-1 {
				branch, cont = "└── ", "    "
			}
			walk(next, prefix+cont, prefix+branch, e.Role)
		}
	}
	walk(g.Root, "", "", "")
	return err
}

// WriteDOT prints the graph in Graphviz's DOT language, data flowing left to
// right (`dot -Tsvg`).
func WriteDOT(w io.Writer, g *Graph) error {
	var b strings.Builder
	b.WriteString("digraph lineage {\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];\n")
	for i := range g.Nodes {
		n := &g.Nodes[i]
		fmt.Fprintf(&b, "  %s [label=%s];\n", n.ID, dotQuote(nodeLabel(n, "\n")))
	}
	for _, e := range g.Edges {
		if e.Role != "" {
			fmt.Fprintf(&b, "  %s -> %s [label=%s];\n", e.From, e.To, dotQuote(e.Role))
		} else {
			fmt.Fprintf(&b, "  %s -> %s;\n", e.From, e.To)
		}
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteMermaid prints the graph as a Mermaid flowchart (renders in GitHub and
// GitLab markdown).
func WriteMermaid(w io.Writer, g *Graph) error {
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	for i := range g.Nodes {
		n := &g.Nodes[i]
		fmt.Fprintf(&b, "  %s[\"%s\"]\n", n.ID, mermaidEscape(nodeLabel(n, "<br/>")))
	}
	for _, e := range g.Edges {
		if e.Role != "" {
			fmt.Fprintf(&b, "  %s -->|%s| %s\n", e.From, mermaidEscape(e.Role), e.To)
		} else {
			fmt.Fprintf(&b, "  %s --> %s\n", e.From, e.To)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func nodeLabel(n *Node, nl string) string {
	lines := []string{n.Path}
	if n.Kind != "" {
		lines = append(lines, n.Kind)
	}
	lines = append(lines, shortDigest(n.Digest))
	switch {
	case n.Unresolved:
		lines = append(lines, "not found")
	case n.Kind == KindObservation:
		lines = append(lines, "production observation")
	case n.Commit == "":
		lines = append(lines, "uncommitted")
	default:
		lines = append(lines, "commit "+n.Commit[:min(len(n.Commit), 10)])
	}
	return strings.Join(lines, nl)
}

func shortDigest(d string) string {
	if len(d) > len(objects.IDPrefix)+12 {
		return d[:len(objects.IDPrefix)+12]
	}
	return d
}

func dotQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

func mermaidEscape(s string) string {
	r := strings.NewReplacer(`"`, "#quot;", "|", "#124;", "<", "#lt;", ">", "#gt;")
	// Keep the line breaks we put in, escape everything else.
	parts := strings.Split(s, "<br/>")
	for i, p := range parts {
		parts[i] = r.Replace(p)
	}
	return strings.Join(parts, "<br/>")
}

// ResolvePath returns the location of the artifact at rel as the working tree
// has it: the commit that recorded this very manifest, or none when the
// manifest is not committed as it is.
func ResolvePath(r *manifest.Repo, idx *Index, rel string) (*Location, error) {
	m, err := r.ReadManifest(rel)
	if err != nil {
		return nil, err
	}
	if l := idx.working[rel]; l != nil && l.Manifest.Digest == m.Digest {
		return l, nil
	}
	if l := idx.ofManifest(rel, m); l != nil {
		return l, nil
	}
	return &Location{Path: rel, Manifest: m}, nil
}

// FindArtifact resolves what `trove lineage` is given: NAME@VERSION or
// NAME#STAGE (a registered version: the manifest its record names), a path
// (the working tree's manifest), or a name (the working tree's artifact of that
// name, else the registry's latest version of that model). What names nothing is
// ErrNotFound, or the registry's ErrUnknownModel / ErrUnknownVersion.
func FindArtifact(ctx context.Context, r *manifest.Repo, idx *Index, cwd, arg string, stages []string) (*Location, error) {
	if strings.ContainsAny(arg, "@#") {
		ref, err := ParseRef(arg)
		if err != nil {
			return nil, err
		}
		return registeredLocation(ctx, r, idx, ref, stages)
	}
	if rel, err := r.Rel(cwd, strings.TrimSuffix(arg, manifest.Ext)); err == nil {
		if _, err := os.Lstat(r.Abs(manifest.ManifestPath(rel))); err == nil {
			return ResolvePath(r, idx, rel)
		}
	}
	ts, err := r.List(ctx, nil)
	if err != nil {
		return nil, err
	}
	var named []string
	for _, t := range ts {
		if t.Err == nil && t.Manifest.Name == arg {
			named = append(named, t.Path)
		}
	}
	switch len(named) {
	case 1:
		return ResolvePath(r, idx, named[0])
	case 0:
	default:
		return nil, fmt.Errorf("%w: %d artifacts are named %q (%s): give a path", ErrNotFound, len(named), arg, strings.Join(named, ", "))
	}
	if ValidModelName(arg) {
		if loc, err := registeredLocation(ctx, r, idx, Ref{Name: arg}, stages); !errors.Is(err, ErrUnknownModel) {
			return loc, err
		}
	}
	return nil, fmt.Errorf("%w: %q is neither a tracked path, an artifact name nor a registered model", ErrNotFound, arg)
}

func registeredLocation(ctx context.Context, r *manifest.Repo, idx *Index, ref Ref, stages []string) (*Location, error) {
	reg, err := ReadRegistry(r.Root)
	if err != nil {
		return nil, err
	}
	_, v, err := reg.Resolve(ref, stages)
	if err != nil {
		return nil, err
	}
	if v.Artifact == "" {
		return nil, fmt.Errorf("%w: %s@%s was registered without a trove record (by GTO?): give the artifact's path", ErrNotFound, ref.Name, v.Version)
	}
	if d, err := objects.ParseID(v.Digest); err == nil {
		if l, ok := idx.FindAt(d, v.Artifact, v.Commit); ok {
			return l, nil
		}
	}
	ts, err := r.ManifestsAt(ctx, v.Commit, []string{v.Artifact})
	if err != nil {
		return nil, err
	}
	for _, t := range ts {
		if t.Path == v.Artifact && t.Err == nil {
			return &Location{Path: t.Path, Manifest: t.Manifest, Commit: v.Commit}, nil
		}
	}
	return nil, fmt.Errorf("%w: %s at %s, which %s@%s names", ErrNotFound, v.Artifact, short(v.Commit), ref.Name, v.Version)
}
