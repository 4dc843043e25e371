package manifest

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/trove-dev/trove/objects"
)

// Tracked is one manifest found in the working tree.
type Tracked struct {
	Path     string    // repository-relative data path
	Manifest *Manifest // nil when Err is set
	Err      error
	// Only, when not nil, restricts a directory artifact to these files or
	// subdirectories (paths inside the directory): `trove pull data/images/cat.jpg`.
	Only []string
}

// FilterEntries keeps the tree entries at or under one of the paths in only.
func FilterEntries(entries []objects.TreeEntry, only []string) []objects.TreeEntry {
	var out []objects.TreeEntry
	for _, e := range entries {
		if selected(e.Path, only) {
			out = append(out, e)
		}
	}
	return out
}

// List finds every manifest in the working tree (skipping .git, .trove and the
// tracked directories themselves), sorted by path. When only is non-empty, it
// returns just the artifacts at or under those repository-relative paths.
func (r *Repo) List(ctx context.Context, only []string) ([]Tracked, error) {
	var out []Tracked
	var walk func(dir string) error
	walk = func(dir string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		ents, err := os.ReadDir(r.Abs(dir))
		if err != nil {
			return err
		}
		tracked := map[string]bool{}
		for _, e := range ents {
			if n := e.Name(); strings.HasSuffix(n, Ext) && len(n) > len(Ext) && !e.IsDir() {
				tracked[strings.TrimSuffix(n, Ext)] = true
			}
		}
		for _, e := range ents {
			n := e.Name()
			rel := path.Join(dir, n)
			if dir == "." {
				rel = n
			}
			switch {
			case e.IsDir():
				if (dir == "." && (n == ".git" || n == Dir)) || tracked[n] {
					continue
				}
				if err := walk(rel); err != nil {
					return err
				}
			case strings.HasSuffix(n, Ext) && len(n) > len(Ext):
				data := strings.TrimSuffix(rel, Ext)
				sub, inside := within(data, only)
				if !selected(data, only) && !inside {
					continue
				}
				m, err := r.ReadManifest(data)
				t := Tracked{Path: data, Manifest: m, Err: err}
				if inside && !selected(data, only) {
					t.Only = sub
				}
				out = append(out, t)
			}
		}
		return nil
	}
	if err := walk("."); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return out, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// within returns the parts of the selections that lie inside the artifact at rel
// (as paths relative to it).
func within(rel string, only []string) ([]string, bool) {
	var sub []string
	for _, o := range only {
		if strings.HasPrefix(o, rel+"/") {
			sub = append(sub, o[len(rel)+1:])
		}
	}
	return sub, len(sub) > 0
}

func selected(rel string, only []string) bool {
	if len(only) == 0 {
		return true
	}
	for _, o := range only {
		if o == rel || strings.HasPrefix(rel, o+"/") {
			return true
		}
	}
	return false
}

// Resolve turns user paths (data paths, manifest paths, or directories containing
// artifacts) into repository-relative selections for List.
func (r *Repo) Resolve(cwd string, paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		p = strings.TrimSuffix(p, Ext)
		if !filepath.IsAbs(p) {
			p = filepath.Join(cwd, p)
		}
		p = filepath.Clean(p)
		if p == r.Root {
			return nil, nil
		}
		rel, err := r.Rel(cwd, p)
		if err != nil {
			return nil, err
		}
		out = append(out, rel)
	}
	return out, nil
}
