package manifest

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestProfileFile(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, content string
		want          *Profile
		bad           bool
	}{
		{"a.csv", "id,age,name,score,ok\n1,34,ann,0.5,true\n2,,bob,1,false\n3,51,,NA,true\n", &Profile{Format: "csv", Rows: 3, Columns: []Column{
			{Name: "id", Type: ColInt}, {Name: "age", Type: ColInt, Nulls: 1}, {Name: "name", Type: ColString, Nulls: 1},
			{Name: "score", Type: ColFloat, Nulls: 1}, {Name: "ok", Type: ColBool}}}, false},
		{"b.tsv", "x\ty\n1\ta\n2.5\t3\n", &Profile{Format: "tsv", Rows: 2, Columns: []Column{{Name: "x", Type: ColFloat}, {Name: "y", Type: ColString}}}, false},
		{"c.jsonl", "{\"a\":1,\"b\":\"x\"}\n{\"a\":2.5,\"c\":null,\"d\":[1]}\n", &Profile{Format: "jsonl", Rows: 2, Columns: []Column{
			{Name: "a", Type: ColFloat}, {Name: "b", Type: ColString, Nulls: 1}, {Name: "c", Type: ColNull, Nulls: 2}, {Name: "d", Type: ColJSON, Nulls: 1}}}, false},
		{"empty.csv", "", &Profile{Format: "csv"}, false},
		{"header.csv", "a,b\n", &Profile{Format: "csv", Columns: []Column{{Name: "a", Type: ColNull}, {Name: "b", Type: ColNull}}}, false},
		{"broken.csv", "a,b\n1,\"unterminated\n", nil, true},
		{"broken.jsonl", "{\"a\":1}\nnot json\n", nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, c.name)
			if err := os.WriteFile(p, []byte(c.content), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := ProfileFile(p, ProfileFormat(c.name))
			if c.bad {
				if err == nil {
					t.Fatalf("ProfileFile accepted %q: %+v", c.content, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %+v\nwant %+v", got, c.want)
			}
		})
	}
	if ProfileFormat("model.bin") != "" || ProfileFormat("X.NDJSON") != "jsonl" {
		t.Fatal("ProfileFormat picks the wrong files")
	}
}
