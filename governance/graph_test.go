package governance

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/trove-dev/trove/manifest"
	"github.com/trove-dev/trove/objects"
)

func digestOf(s string) objects.ID { return objects.Hash([]byte(s)) }

// loc builds an indexed version: the artifact at path with content content,
// made (if inputs are given) from those "role=path:content" inputs.
func loc(path, kind, content, commit string, inputs ...string) Location {
	m := &manifest.Manifest{Path: path[strings.LastIndexByte(path, '/')+1:], Name: path[strings.LastIndexByte(path, '/')+1:], Kind: kind, Digest: digestOf(content)}
	if len(inputs) > 0 {
		m.Lineage = &manifest.Lineage{Code: &manifest.Code{Commit: strings.Repeat("c", 40)}, Command: []string{"make", path}}
		for _, in := range inputs {
			role, rest, _ := strings.Cut(in, "=")
			p, c, _ := strings.Cut(rest, ":")
			m.Lineage.Inputs = append(m.Lineage.Inputs, manifest.Input{Role: role, Path: p, Digest: digestOf(c)})
		}
	}
	l := Location{Path: path, Manifest: m, Commit: commit}
	if commit != "" {
		l.Author, l.Time = "T <t@x>", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	}
	return l
}

func nodeSummary(g *Graph) string {
	var parts []string
	for _, n := range g.Nodes {
		s := n.ID + ":" + n.Path
		if n.Unresolved {
			s += "?"
		}
		if n.Truncated {
			s += "..."
		}
		parts = append(parts, s)
	}
	for _, e := range g.Edges {
		parts = append(parts, e.From+"-"+e.Role+"->"+e.To)
	}
	return strings.Join(parts, " ")
}

// A two-stage pipeline with a second version of the raw data and model.
func pipelineIndex() *Index {
	c1, c2, c3 := strings.Repeat("1", 40), strings.Repeat("2", 40), strings.Repeat("3", 40)
	return NewIndex([]Location{
		loc("data/raw.csv", "dataset", "raw1", c1),
		loc("data/train.csv", "dataset", "train1", c1, "raw=data/raw.csv:raw1"),
		loc("data/eval.csv", "dataset", "eval1", c1, "raw=data/raw.csv:raw1"),
		loc("models/m.bin", "model", "model1", c2, "train=data/train.csv:train1", "eval=data/eval.csv:eval1"),
		loc("data/raw.csv", "dataset", "raw2", c3),
		loc("data/train.csv", "dataset", "train2", c3, "raw=data/raw.csv:raw2"),
		// The working tree: a model of the new data, and an input never committed.
		loc("models/m.bin", "model", "model2", "", "train=data/train.csv:train2", "eval=data/eval.csv:eval1", "extra=data/lost.csv:lost"),
	})
}

func TestBuildUpstream(t *testing.T) {
	idx := pipelineIndex()
	for _, tc := range []struct {
		name    string
		path    string
		content string
		depth   int
		want    string
	}{
		{"model v1", "models/m.bin", "model1", 0,
			"n0:models/m.bin n1:data/eval.csv n2:data/train.csv n3:data/raw.csv n1-eval->n0 n2-train->n0 n3-raw->n1 n3-raw->n2"},
		{"model v2: the lineage differs exactly at train and raw", "models/m.bin", "model2", 0,
			"n0:models/m.bin n1:data/eval.csv n2:data/lost.csv? n3:data/train.csv n4:data/raw.csv n5:data/raw.csv n1-eval->n0 n2-extra->n0 n3-train->n0 n4-raw->n1 n5-raw->n3"},
		{"depth 1", "models/m.bin", "model1", 1,
			"n0:models/m.bin n1:data/eval.csv... n2:data/train.csv... n1-eval->n0 n2-train->n0"},
		{"raw data has no inputs", "data/raw.csv", "raw1", 0, "n0:data/raw.csv"},
	} {
		root, ok := idx.Find(digestOf(tc.content), tc.path)
		if !ok {
			t.Fatalf("%s: %s not indexed", tc.name, tc.path)
		}
		if got := nodeSummary(BuildUpstream(idx, root, tc.depth)); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
	// The two raw.csv nodes are the two versions, each with its commit.
	root, _ := idx.Find(digestOf("model2"), "models/m.bin")
	g := BuildUpstream(idx, root, 0)
	if g.Nodes[4].Digest != digestOf("raw1").String() || g.Nodes[5].Digest != digestOf("raw2").String() ||
		g.Nodes[4].Commit != strings.Repeat("1", 40) || g.Nodes[5].Commit != strings.Repeat("3", 40) {
		t.Errorf("raw versions: %+v / %+v", g.Nodes[4], g.Nodes[5])
	}
	if g.Nodes[0].Commit != "" || g.Nodes[0].CodeCommit != strings.Repeat("c", 40) {
		t.Errorf("root: %+v", g.Nodes[0])
	}
}

func TestBuildDownstream(t *testing.T) {
	idx := pipelineIndex()
	for _, tc := range []struct {
		path, content string
		depth         int
		want          string
	}{
		{"data/raw.csv", "raw1", 0,
			"n0:data/raw.csv n1:data/train.csv n2:data/eval.csv n3:models/m.bin n4:models/m.bin n0-raw->n1 n0-raw->n2 n1-train->n3 n2-eval->n3 n2-eval->n4"},
		{"data/raw.csv", "raw2", 0,
			"n0:data/raw.csv n1:data/train.csv n2:models/m.bin n0-raw->n1 n1-train->n2"},
		{"data/raw.csv", "raw1", 1,
			"n0:data/raw.csv n1:data/train.csv... n2:data/eval.csv... n0-raw->n1 n0-raw->n2"},
		{"models/m.bin", "model1", 0, "n0:models/m.bin"},
	} {
		root, _ := idx.Find(digestOf(tc.content), tc.path)
		if got := nodeSummary(BuildDownstream(idx, root, tc.depth)); got != tc.want {
			t.Errorf("downstream of %s (%s, depth %d):\n got %s\nwant %s", tc.path, tc.content, tc.depth, got, tc.want)
		}
	}
}

// The same content at two paths: lineage follows the path that was recorded,
// and a step that copies its input does not loop.
func TestSameContentTwoPaths(t *testing.T) {
	c := strings.Repeat("1", 40)
	idx := NewIndex([]Location{
		loc("a.csv", "dataset", "same", c),
		loc("b.csv", "dataset", "same", c, "src=a.csv:same"),
		loc("m.bin", "model", "m", c, "train=b.csv:same"),
	})
	root, _ := idx.Find(digestOf("m"), "m.bin")
	if got := nodeSummary(BuildUpstream(idx, root, 0)); got != "n0:m.bin n1:b.csv n2:a.csv n1-train->n0 n2-src->n1" {
		t.Errorf("upstream: %s", got)
	}
	a, _ := idx.Find(digestOf("same"), "a.csv")
	if got := nodeSummary(BuildDownstream(idx, a, 0)); got != "n0:a.csv n1:b.csv n2:m.bin n0-src->n1 n1-train->n2" {
		t.Errorf("downstream: %s", got)
	}
}

// A cycle (impossible with real digests, possible with forged manifests) ends.
func TestCycle(t *testing.T) {
	idx := NewIndex([]Location{
		loc("x", "artifact", "x", "", "in=y:y"),
		loc("y", "artifact", "y", "", "in=x:x"),
	})
	root, _ := idx.Find(digestOf("x"), "x")
	if got := nodeSummary(BuildUpstream(idx, root, 0)); got != "n0:x n1:y n1-in->n0 n0-in->n1" {
		t.Errorf("upstream: %s", got)
	}
	var b strings.Builder
	if err := WriteTree(&b, BuildUpstream(idx, root, 0)); err != nil || strings.Count(b.String(), "\n") != 3 || !strings.Contains(b.String(), "(see above)") {
		t.Errorf("tree of a cycle:\n%s", b.String())
	}
}

func TestRenderers(t *testing.T) {
	idx := pipelineIndex()
	root, _ := idx.Find(digestOf("model1"), "models/m.bin")
	g := BuildUpstream(idx, root, 0)
	d := func(s string) string { return digestOf(s).String() }
	var tree strings.Builder
	if err := WriteTree(&tree, g); err != nil {
		t.Fatal(err)
	}
	info := "T <t@x>  2026-01-02T03:04:05Z"
	want := fmt.Sprintf(`models/m.bin  model  %s  commit 2222222222  %s  code cccccccccc
├── eval: data/eval.csv  dataset  %s  commit 1111111111  %s  code cccccccccc
│   └── raw: data/raw.csv  dataset  %s  commit 1111111111  %s
└── train: data/train.csv  dataset  %s  commit 1111111111  %s  code cccccccccc
    └── raw: data/raw.csv  dataset  %s  commit 1111111111  %s (see above)
`, d("model1"), info, d("eval1"), info, d("raw1"), info, d("train1"), info, d("raw1"), info)
	if tree.String() != want {
		t.Errorf("tree:\n%s\nwant:\n%s", tree.String(), want)
	}

	var dot strings.Builder
	if err := WriteDOT(&dot, g); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		"digraph lineage {\n  rankdir=LR;\n",
		fmt.Sprintf(`  n0 [label="models/m.bin\nmodel\n%s\ncommit 2222222222"];`, d("model1")[:19]),
		`  n1 -> n0 [label="eval"];`,
		`  n3 -> n2 [label="raw"];`,
		"}\n",
	} {
		if !strings.Contains(dot.String(), s) {
			t.Errorf("dot lacks %q:\n%s", s, dot.String())
		}
	}

	var mm strings.Builder
	if err := WriteMermaid(&mm, g); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		"flowchart LR\n",
		fmt.Sprintf(`  n0["models/m.bin<br/>model<br/>%s<br/>commit 2222222222"]`, d("model1")[:19]),
		"  n2 -->|train| n0\n",
	} {
		if !strings.Contains(mm.String(), s) {
			t.Errorf("mermaid lacks %q:\n%s", s, mm.String())
		}
	}
	// Quotes and pipes in names cannot break out of a label.
	weird := &Graph{Direction: Upstream, Root: "n0", Nodes: []Node{{ID: "n0", Path: `a"b|c<d>`, Digest: "blake3:x"}}}
	mm.Reset()
	WriteMermaid(&mm, weird)
	if !strings.Contains(mm.String(), `a#quot;b#124;c#lt;d#gt;`) {
		t.Errorf("mermaid escaping: %s", mm.String())
	}
	dot.Reset()
	WriteDOT(&dot, weird)
	if !strings.Contains(dot.String(), `a\"b|c<d>`) {
		t.Errorf("dot escaping: %s", dot.String())
	}
}

func TestIndexFind(t *testing.T) {
	c := strings.Repeat("1", 40)
	idx := NewIndex([]Location{
		loc("old/x.csv", "dataset", "x", c),
		loc("new/x.csv", "dataset", "x", ""),
		loc("old/x.csv", "dataset", "x", strings.Repeat("2", 40)), // later commit, same version: ignored
	})
	if l, _ := idx.Find(digestOf("x"), "new/x.csv"); l.Path != "new/x.csv" {
		t.Errorf("the recorded path wins: %s", l.Path)
	}
	if l, _ := idx.Find(digestOf("x"), "gone/x.csv"); l.Path != "old/x.csv" || l.Commit != c {
		t.Errorf("else a committed version, the oldest: %+v", l)
	}
	if _, ok := idx.Find(digestOf("nope"), "x"); ok {
		t.Error("found a digest nobody has")
	}
	if len(idx.All()) != 3 {
		t.Errorf("All: %d versions", len(idx.All()))
	}
}
