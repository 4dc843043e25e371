package manifest

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trove-dev/trove/objects"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// Golden contents. The manifests in testdata/golden describe exactly these bytes,
// stored with the default chunker, so every id in them can be recomputed (and the
// file digests checked with b3sum).
var (
	helloContent = []byte("hello, trove\n")
	trainContent = []byte("id,label,text\n1,cat,\"<b>whiskers</b> & paws\"\n2,dog,\n3,cat,purr\n")
	modelContent = bytes.Repeat([]byte("ONNX weights placeholder\n"), 4)
	evalContent  = []byte("id,label,text\n10,dog,woof\n")
	// The directory images/: its files and their modes.
	imagesFiles = []struct {
		path string
		mode uint32
		data string
	}{
		{"README", objects.ModeFile, "cats and dogs\n"},
		{"cats/1.txt", objects.ModeFile, "meow\n"},
		{"cats/2.txt", objects.ModeFile, "purr\n"},
		{"dogs/1.txt", objects.ModeFile, "woof\n"},
		{"tools/resize.sh", objects.ModeExec, "#!/bin/sh\necho resize\n"},
	}
)

// storeContent writes b to st as a top-level file (with a recipe node).
func storeContent(t testing.TB, st *objects.Store, b []byte, inline bool) objects.Content {
	t.Helper()
	c, err := st.WriteContent(context.Background(), bytes.NewReader(b), int64(len(b)), objects.WriteOptions{Params: objects.DefaultChunkerParams(), Inline: inline})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// goldenManifests builds, in Go, the manifests that testdata/golden holds.
func goldenManifests(t testing.TB) map[string]*Manifest {
	t.Helper()
	st, err := objects.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	out := map[string]*Manifest{}

	// A minimal file manifest: only the required fields.
	hello := storeContent(t, st, helloContent, false)
	out["file"] = &Manifest{
		Trove: FormatVersion, Kind: KindArtifact, Type: TypeFile, Name: "hello.txt", Path: "hello.txt",
		Digest: hello.Digest, Object: hello.Recipe, Size: hello.Size, Files: 1, Chunker: DefaultChunker(),
	}

	// A directory with nested directories and an executable.
	var entries []objects.TreeEntry
	var size int64
	for _, f := range imagesFiles {
		c := storeContent(t, st, []byte(f.data), true)
		entries = append(entries, objects.TreeEntry{Path: f.path, Mode: f.mode, Size: c.Size, Digest: c.Digest, Recipe: c.Recipe})
		size += c.Size
	}
	tree := objects.EncodeTree(entries)
	tc := storeContent(t, st, tree, false)
	out["dir"] = &Manifest{
		Trove: FormatVersion, Kind: KindDataset, Type: TypeDir, Name: "images", Path: "images",
		Digest: objects.TreeDigest(entries), Object: tc.Recipe, Size: size, Files: int64(len(entries)),
		Chunker: DefaultChunker(),
	}

	// A dataset with metadata and a profile ("<", ">" and "&" stay as they are).
	train := storeContent(t, st, trainContent, false)
	out["dataset"] = &Manifest{
		Trove: FormatVersion, Kind: KindDataset, Type: TypeFile, Name: "train", Path: "train.csv",
		Digest: train.Digest, Object: train.Recipe, Size: train.Size, Files: 1, Chunker: DefaultChunker(),
		Meta: map[string]string{
			"owner":          "data-team@example.com",
			"license":        "CC-BY-4.0",
			"classification": "internal",
			"description":    "Labelled <cats> & dogs; café edition",
		},
		Profile: &Profile{
			Format: "csv",
			Rows:   3,
			Columns: []Column{
				{Name: "id", Type: "int64", Nulls: 0},
				{Name: "label", Type: "string", Nulls: 0},
				{Name: "text", Type: "string", Nulls: 1},
			},
		},
	}

	// A model with metadata, metrics and full lineage.
	model := storeContent(t, st, modelContent, false)
	eval := storeContent(t, st, evalContent, false)
	out["model"] = &Manifest{
		Trove: FormatVersion, Kind: KindModel, Type: TypeFile, Name: "cat-classifier", Path: "model.onnx",
		Digest: model.Digest, Object: model.Recipe, Size: model.Size, Files: 1, Chunker: DefaultChunker(),
		Meta: map[string]string{"owner": "ml-team@example.com", "license": "internal"},
		Metrics: map[string]float64{
			"accuracy":       0.9375,
			"f1":             0.91,
			"loss":           1.5e-7,
			"p95_latency_ms": 38.5,
			"params":         1.2e+21,
		},
		Lineage: &Lineage{
			Code: &Code{
				Commit: "0123456789abcdef0123456789abcdef01234567",
				Dirty:  false,
				Remote: "https://git.example.com/ml/cats.git",
			},
			Command: []string{"python", "train.py", "--epochs", "3", "--out", "models/model.onnx"},
			Started: "2025-03-01T09:00:00Z",
			Ended:   "2025-03-01T09:42:17.5Z",
			Environment: map[string]string{
				"python": "3.12.4",
				"torch":  "2.4.0",
				"os":     "linux/amd64",
			},
			// Deliberately not in canonical order: Encode sorts by role, then path.
			Inputs: []Input{
				{Digest: train.Digest, Kind: KindDataset, Name: "train", Path: "data/train.csv", Role: "train"},
				{Digest: eval.Digest, Kind: KindDataset, Name: "eval", Path: "data/eval.csv", Role: "eval"},
			},
			Params:  map[string]string{"epochs": "3", "lr": "0.001", "seed": "42"},
			Trigger: "manual",
		},
	}
	return out
}

func goldenPath(name string) string { return filepath.Join("testdata", "golden", name+".trove") }

// TestGoldenEncode pins the canonical encoding: the manifests built in Go encode
// to the golden files byte for byte. Run with -update to rewrite them (and then
// review the diff: a change here is a format change).
func TestGoldenEncode(t *testing.T) {
	for name, m := range goldenManifests(t) {
		t.Run(name, func(t *testing.T) {
			got, err := Encode(m)
			if err != nil {
				t.Fatal(err)
			}
			p := goldenPath(name)
			if *updateGolden {
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(p)
			if err != nil {
				t.Fatalf("%v (run go test -run TestGoldenEncode -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Encode differs from %s:\n--- got\n%s\n--- want\n%s", p, got, want)
			}
		})
	}
}

// TestGoldenRoundTrip decodes every golden file and encodes it again, identically.
func TestGoldenRoundTrip(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "*.trove"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 4 {
		t.Fatalf("want at least 4 golden files, found %d", len(files))
	}
	built := goldenManifests(t)
	for _, p := range files {
		t.Run(filepath.Base(p), func(t *testing.T) {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			m, err := Decode(b)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			again, err := Encode(m)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if !bytes.Equal(again, b) {
				t.Errorf("re-encoding differs:\n%s", again)
			}
			name := strings.TrimSuffix(filepath.Base(p), Ext)
			if want, ok := built[name]; ok {
				wb, _ := Encode(want)
				if !bytes.Equal(wb, b) {
					t.Errorf("decoded manifest differs from the one built in Go")
				}
			}
		})
	}
}

// TestGoldenText spells out the properties of the canonical text that SPEC.md
// states, on the golden files.
func TestGoldenText(t *testing.T) {
	b, err := os.ReadFile(goldenPath("dataset"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{
		"{\n  \"chunker\": {\n    \"algorithm\": \"fastcdc-gear-v1\",\n    \"avg\": 65536,\n    \"max\": 262144,\n    \"min\": 16384\n  },\n",
		`"description": "Labelled <cats> & dogs; café edition"`, // no HTML escaping, UTF-8 as is
		"\n  \"type\": \"file\"\n}\n", // last key, trailing newline
	} {
		if !strings.Contains(s, want) {
			t.Errorf("dataset golden lacks %q", want)
		}
	}
	if strings.Contains(s, "\r") || strings.Contains(s, "\t") || strings.Contains(s, `\u00`) {
		t.Errorf("dataset golden has CR, tab or \\u escapes")
	}
	mb, err := os.ReadFile(goldenPath("model"))
	if err != nil {
		t.Fatal(err)
	}
	// Inputs sorted by role: eval before train. Floats as Go (and ECMAScript) write them.
	ms := string(mb)
	if strings.Index(ms, `"role": "eval"`) > strings.Index(ms, `"role": "train"`) {
		t.Errorf("inputs not sorted by role")
	}
	for _, want := range []string{`"loss": 1.5e-7,`, `"params": 1.2e+21`, `"accuracy": 0.9375,`} {
		if !strings.Contains(ms, want) {
			t.Errorf("model golden lacks %q", want)
		}
	}
}

// TestSpecExamples keeps SPEC.md honest: its examples are the golden files, verbatim.
func TestSpecExamples(t *testing.T) {
	spec, err := os.ReadFile("SPEC.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"file", "dir", "model", "dataset"} {
		b, err := os.ReadFile(goldenPath(name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(spec, append(append([]byte("```json\n"), b...), "```\n"...)) {
			t.Errorf("SPEC.md does not contain %s verbatim in a ```json block", goldenPath(name))
		}
	}
	// The tree text of the directory example.
	var entries []objects.TreeEntry
	for _, f := range imagesFiles {
		entries = append(entries, objects.TreeEntry{Path: f.path, Mode: f.mode, Size: int64(len(f.data)), Digest: objects.Hash([]byte(f.data))})
	}
	if !bytes.Contains(spec, append(append([]byte("```\n"), objects.EncodeTree(entries)...), "```\n"...)) {
		t.Errorf("SPEC.md does not contain the tree text of the directory example")
	}
	// The recipe node example's ids.
	m := goldenManifests(t)["file"]
	for _, s := range []string{"`" + m.Digest.String() + "`", "`" + m.Object.String() + "`"} {
		if !bytes.Contains(spec, []byte(s)) {
			t.Errorf("SPEC.md does not mention %s", s)
		}
	}
}

// TestEncodeDoesNotModify: Encode sorts lineage inputs in its own copy.
func TestEncodeDoesNotModify(t *testing.T) {
	m := goldenManifests(t)["model"]
	before := append([]Input(nil), m.Lineage.Inputs...)
	if _, err := Encode(m); err != nil {
		t.Fatal(err)
	}
	for i := range before {
		if m.Lineage.Inputs[i] != before[i] {
			t.Fatalf("Encode reordered the caller's inputs")
		}
	}
}

// TestInputOrderIsTotal: inputs that agree on role and path are still ordered, so
// a set of inputs has one encoding whatever order it is given in.
func TestInputOrderIsTotal(t *testing.T) {
	m := goldenManifests(t)["model"]
	a := Input{Digest: objects.Hash([]byte("a")), Path: "data/x.csv", Role: "train"}
	b := Input{Digest: objects.Hash([]byte("b")), Path: "data/x.csv", Role: "train"}
	m.Lineage.Inputs = []Input{a, b}
	x, err := Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	m.Lineage.Inputs = []Input{b, a}
	y, err := Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(x, y) {
		t.Fatal("the same inputs in another order encode differently")
	}
	if _, err := Decode(x); err != nil {
		t.Fatal(err)
	}
}
