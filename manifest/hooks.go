package manifest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/trove-dev/trove/objects"
)

// Hooks trove installs, and the marker that says a hook file is trove's.
var HookNames = []string{"pre-commit", "pre-push", "post-checkout", "post-merge"}

const hookMarker = "# installed by `trove hooks install`"

// ChainSuffix is appended to the name of a hook that existed before trove's: it is
// kept and run first by trove's hook.
const ChainSuffix = ".pre-trove"

func hookScript(name string) string {
	var b strings.Builder
	b.WriteString("#!/bin/sh\n" + hookMarker + "; remove this file to disable it.\n")
	b.WriteString("# A hook that was here before trove's is kept as " + name + ChainSuffix + " and runs first.\n")
	stdin := name == "pre-push" // git passes the pushed refs on stdin; both hooks need them
	if stdin {
		b.WriteString("input=$(cat)\n")
	}
	b.WriteString("if [ -x \"$0" + ChainSuffix + "\" ]; then\n")
	if stdin {
		b.WriteString("\tprintf '%s\\n' \"$input\" | \"$0" + ChainSuffix + "\" \"$@\" || exit $?\n")
	} else {
		b.WriteString("\t\"$0" + ChainSuffix + "\" \"$@\" || exit $?\n")
	}
	b.WriteString("fi\n")
	b.WriteString("if ! command -v trove >/dev/null 2>&1; then\n\techo \"trove: warning: trove is not on PATH; skipping the " + name + " hook\" >&2\n\texit 0\nfi\n")
	if stdin {
		b.WriteString("printf '%s\\n' \"$input\" | exec trove hooks run " + name + " \"$@\"\n")
	} else {
		b.WriteString("exec trove hooks run " + name + " \"$@\"\n")
	}
	return b.String()
}

// HookResult says what InstallHooks did with one hook.
type HookResult struct {
	Name    string `json:"name"`
	Path    string `json:"path"`
	Action  string `json:"action"` // installed, updated, chained, unchanged
	Chained string `json:"chained,omitempty"`
}

// InstallHooks writes trove's git hooks into dir (git's hooks directory). A hook
// that is not trove's is never overwritten: it is renamed to NAME.pre-trove and
// trove's hook runs it first. With force, a chained hook that already exists is
// replaced by the current one (otherwise that is an error, to lose nothing).
func InstallHooks(dir string, force bool) ([]HookResult, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var out []HookResult
	for _, name := range HookNames {
		p := filepath.Join(dir, name)
		want := hookScript(name)
		res := HookResult{Name: name, Path: p, Action: "installed"}
		old, err := os.ReadFile(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return out, err
		case string(old) == want:
			res.Action = "unchanged"
			out = append(out, res)
			continue
		case bytes.Contains(old, []byte(hookMarker)):
			res.Action = "updated"
		default:
			chain := p + ChainSuffix
			if _, err := os.Stat(chain); err == nil && !force {
				return out, fmt.Errorf("%s and %s both exist: %w", p, chain, ErrConflict)
			}
			if err := os.Rename(p, chain); err != nil {
				return out, err
			}
			if err := os.Chmod(chain, 0o755); err != nil {
				return out, err
			}
			res.Action, res.Chained = "chained", chain
		}
		if err := objects.WriteFileAtomic(p, []byte(want), 0o755); err != nil {
			return out, err
		}
		out = append(out, res)
	}
	return out, nil
}

// StagedProblem is something wrong with what is about to be committed.
type StagedProblem struct {
	Path    string `json:"path"`
	Problem string `json:"problem"`
	Hint    string `json:"hint,omitempty"`
}

// CheckStaged checks the manifests staged in git's index, offline and fast, for
// the pre-commit hook: each must decode, the store must hold what it names (so
// nobody commits a manifest whose data only exists on someone's disk), and the
// data it describes must not itself be staged into git.
func (r *Repo) CheckStaged(ctx context.Context) (checked int, problems []StagedProblem, err error) {
	h, err := r.openHistory()
	if err != nil {
		return 0, nil, err
	}
	idx, err := h.git.Storer.Index()
	if err != nil {
		return 0, nil, fmt.Errorf("read git index: %w", err)
	}
	staged := make(map[string]plumbing.Hash, len(idx.Entries))
	for _, e := range idx.Entries {
		staged[e.Name] = e.Hash
	}
	names := make([]string, 0)
	for n := range staged {
		if strings.HasSuffix(n, Ext) && len(path2base(n)) > len(Ext) && !strings.HasPrefix(n, Dir+"/") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		if err := ctx.Err(); err != nil {
			return checked, problems, err
		}
		rel := strings.TrimSuffix(n, Ext)
		checked++
		b, err := h.readBlob(staged[n])
		if err != nil {
			problems = append(problems, StagedProblem{Path: n, Problem: err.Error()})
			continue
		}
		m, err := decodeAt(rel, b)
		if err != nil {
			problems = append(problems, StagedProblem{Path: n, Problem: err.Error(), Hint: "re-create it with `trove add " + rel + "`"})
			continue
		}
		st, err := r.Store()
		if err == nil {
			// The first missing chunk in Needed's order, through a set joined
			// with the index rather than a lookup per chunk.
			var lost []objects.ID
			if _, lost, _, err = r.missingChunks(ctx, st, Tracked{Path: rel, Manifest: m}); err == nil && len(lost) > 0 {
				err = &objects.MissingError{ID: lost[0]}
			}
		}
		if err != nil {
			problems = append(problems, StagedProblem{Path: n, Problem: "its data is not in the local store: " + err.Error(),
				Hint: "run `trove add " + rel + "` (or `trove pull " + rel + "`) before committing"})
		}
		if _, ok := staged[rel]; ok {
			problems = append(problems, StagedProblem{Path: rel, Problem: "the data itself is staged into git, beside its manifest",
				Hint: "unstage it with `git rm --cached " + rel + "` (trove stores it; git keeps only the manifest)"})
		} else if m.Type == TypeDir {
			for s := range staged {
				if strings.HasPrefix(s, rel+"/") {
					problems = append(problems, StagedProblem{Path: s, Problem: "a file of the tracked directory " + rel + " is staged into git",
						Hint: "unstage it with `git rm -r --cached " + rel + "`"})
					break
				}
			}
		}
	}
	return checked, problems, nil
}

func path2base(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}
