package main

// The layering rules of DESIGN.md, checked with `go list -deps`: imports point
// down only, and only the CLI talks to the world.

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const module = "github.com/trove-dev/trove"

type goPkg struct {
	ImportPath string
	Dir        string
	Deps       []string
	Imports    []string
	GoFiles    []string
}

func listPackages(t *testing.T) []goPkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", module+"/...")
	cmd.Dir = filepath.Join("..", "..")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []goPkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p goPkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// allowed lists, for each layer, the trove packages it may depend on (by prefix).
var allowed = []struct {
	pkg   string // package path prefix, relative to the module
	may   []string
	never []string // third-party prefixes it must not use
}{
	{"objects", nil, []string{"github.com/urfave/cli", "github.com/olekukonko/tablewriter", "github.com/minio", "github.com/go-git"}},
	{"manifest", []string{"objects"}, []string{"github.com/urfave/cli", "github.com/olekukonko/tablewriter", "github.com/minio"}},
	{"remote/local", []string{"remote"}, []string{"github.com/urfave/cli", "github.com/olekukonko/tablewriter"}},
	{"remote/s3", []string{"remote"}, []string{"github.com/urfave/cli", "github.com/olekukonko/tablewriter"}},
	{"remote/remotetest", []string{"remote"}, nil},
	{"remote", []string{"objects"}, []string{"github.com/urfave/cli", "github.com/olekukonko/tablewriter", "github.com/go-git"}},
	{"governance", []string{"manifest", "objects", "governance"}, []string{"github.com/urfave/cli", "github.com/olekukonko/tablewriter", "github.com/minio"}},
}

func TestLayers(t *testing.T) {
	pkgs := listPackages(t)
	if len(pkgs) < 5 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	for _, p := range pkgs {
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		if rel == "" || strings.HasPrefix(rel, "cmd/") || strings.HasPrefix(rel, "scripts/") {
			continue
		}
		var rule = -1
		for i, a := range allowed {
			if rel == a.pkg || strings.HasPrefix(rel, a.pkg+"/") {
				rule = i
				break
			}
		}
		if rule < 0 {
			t.Errorf("package %s is in no layer of DESIGN.md; add it to the rules", rel)
			continue
		}
		a := allowed[rule]
		for _, d := range p.Imports {
			if strings.HasPrefix(d, module+"/") {
				dr := strings.TrimPrefix(d, module+"/")
				ok := dr == rel || strings.HasPrefix(dr, rel+"/")
				for _, m := range a.may {
					if dr == m || (strings.HasPrefix(dr, m+"/") && m != "remote") {
						ok = true
					}
				}
				if !ok {
					t.Errorf("%s imports %s: layers point down only (DESIGN.md)", rel, dr)
				}
			}
		}
		for _, d := range p.Deps {
			for _, n := range a.never {
				if strings.HasPrefix(d, n) {
					t.Errorf("%s depends on %s, which only cmd/trove may use", rel, d)
				}
			}
		}
	}
}

// Library code takes the world as arguments: no environment, no process exit, no
// standard streams, no wall clock read directly.
var worldRe = regexp.MustCompile(`\bos\.(Getenv|LookupEnv|Environ|Exit|Stdout|Stderr|Stdin)\b|\btime\.Now\(\)`)

func TestLibraryDoesNotTouchTheWorld(t *testing.T) {
	for _, p := range listPackages(t) {
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		if strings.HasPrefix(rel, "cmd/") || strings.HasPrefix(rel, "scripts/") || strings.HasSuffix(rel, "remotetest") {
			continue
		}
		for _, f := range p.GoFiles {
			fh, err := os.Open(filepath.Join(p.Dir, f))
			if err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(fh)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for n := 1; sc.Scan(); n++ {
				line := sc.Text()
				if c := strings.Index(line, "//"); c >= 0 {
					line = line[:c]
				}
				if m := worldRe.FindString(line); m != "" {
					t.Errorf("%s/%s:%d uses %s: library code must take it injected (STYLE.md 3)", rel, f, n, m)
				}
			}
			fh.Close()
		}
	}
}
