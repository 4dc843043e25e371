package reporttest

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// SchemaDir returns testdata/schemas at the top of the module.
func SchemaDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	check(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "testdata", "schemas")
		}
		up := filepath.Dir(dir)
		if up == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = up
	}
}

// Schemas returns a compiler that knows every schema under testdata/schemas by
// its $id, so that references between them resolve offline (nothing is
// fetched), and that asserts formats (uri, date-time, uuid, email...).
func Schemas(t testing.TB) *jsonschema.Compiler {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	root := SchemaDir(t)
	n := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		doc, err := jsonschema.UnmarshalJSON(f)
		if err != nil {
			return err
		}
		id, _ := doc.(map[string]any)["$id"].(string)
		if id == "" {
			t.Fatalf("%s has no $id", p)
		}
		n++
		return c.AddResource(id, doc)
	})
	check(t, err)
	if n == 0 {
		t.Fatalf("no schema under %s", root)
	}
	return c
}

// Validate checks the JSON document doc against the schema at url (a schema's
// $id, optionally with a fragment).
func Validate(t testing.TB, c *jsonschema.Compiler, url string, doc []byte) error {
	t.Helper()
	sch, err := c.Compile(url)
	if err != nil {
		t.Fatalf("compile %s: %v", url, err)
	}
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(string(doc)))
	if err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	return sch.Validate(inst)
}

// Marshal encodes v as JSON.
func Marshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	check(t, err)
	return b
}
