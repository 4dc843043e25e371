package governance

import (
	"context"
	"fmt"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/trove-dev/trove/manifest"
)

// ObservationDir is where, relative to the top of the working tree, the
// local store keeps production observations (package governance/monitor:
// observations/<model>/<hex>.json). A lineage input whose path is under it is
// a production observation the step read (`trove run --input
// ROLE=OBSERVATION`), not a tracked artifact: its digest is the BLAKE3 of the
// observation file (which names it), it is shared through the remote and
// never committed, so no manifest in git history has it.
const ObservationDir = ".trove/store/monitor/observations/"

// KindObservation is the lineage graph's kind of an observation input.
const KindObservation = "observation"

// IsObservationPath reports whether a lineage input's path names a
// production observation (see ObservationDir).
func IsObservationPath(p string) bool {
	rest, ok := strings.CutPrefix(p, ObservationDir)
	return ok && strings.Count(rest, "/") == 1 && strings.HasSuffix(rest, ".json")
}

// InputSpec is one --input: an optional role and a path.
type InputSpec struct {
	Role string
	Path string
}

var roleRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`) })

// ParseInputSpec reads [ROLE=]PATH. The part before the first '=' is a role
// when it looks like one (lowercase letters, digits, '_' and '-', starting with
// a letter); otherwise the whole argument is the path. A leading '=' says "no
// role" for a path that contains '=' itself.
func ParseInputSpec(s string) (InputSpec, error) {
	if s == "" {
		return InputSpec{}, fmt.Errorf("%w: empty --input", ErrBadInput)
	}
	if rest, ok := strings.CutPrefix(s, "="); ok {
		return InputSpec{Path: rest}, nil
	}
	if role, p, ok := strings.Cut(s, "="); ok && roleRe().MatchString(role) {
		if p == "" {
			return InputSpec{}, fmt.Errorf("%w: --input %q has a role but no path", ErrBadInput, s)
		}
		return InputSpec{Role: role, Path: p}, nil
	}
	return InputSpec{Path: s}, nil
}

// String formats the spec as it is written on the command line.
func (s InputSpec) String() string {
	if s.Role == "" {
		return s.Path
	}
	return s.Role + "=" + s.Path
}

// ResolveInputs checks that every input is a tracked artifact whose data
// matches its manifest (status ok) and returns what a lineage records about
// each: digest, kind, name, repository-relative path and role, sorted as the
// manifest encodes them. A missing, modified or untracked input is an error
// that names it.
func ResolveInputs(ctx context.Context, r *manifest.Repo, cwd string, specs []InputSpec) ([]manifest.Input, error) {
	if len(specs) == 0 {
		return nil, nil
	}
	rels := make([]string, len(specs))
	seen := map[string]bool{}
	for i, s := range specs {
		rel, err := r.Rel(cwd, strings.TrimSuffix(s.Path, manifest.Ext))
		if err != nil {
			return nil, fmt.Errorf("--input %s: %w", s, err)
		}
		if seen[rel] {
			return nil, fmt.Errorf("%w: --input %s is given twice", ErrBadInput, rel)
		}
		seen[rel] = true
		if _, err := r.ReadManifest(rel); err != nil {
			return nil, fmt.Errorf("--input %s: %w", s.Path, err)
		}
		rels[i] = rel
	}
	st, err := inputStatus(ctx, r, rels)
	if err != nil {
		return nil, err
	}
	out := make([]manifest.Input, 0, len(specs))
	for i, s := range specs {
		e := st[rels[i]]
		if e.State != manifest.StateOK {
			return nil, inputStateErr(rels[i], e, ErrInputModified)
		}
		m, err := r.ReadManifest(rels[i])
		if err != nil {
			return nil, err
		}
		out = append(out, manifest.Input{Digest: m.Digest, Kind: m.Kind, Name: m.Name, Path: rels[i], Role: s.Role})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Role != out[j].Role {
			return out[i].Role < out[j].Role
		}
		return out[i].Path < out[j].Path
	})
	return out, nil
}

// inputStatus returns the status of exactly the artifacts at rels.
func inputStatus(ctx context.Context, r *manifest.Repo, rels []string) (map[string]manifest.StatusEntry, error) {
	entries, err := r.Status(ctx, manifest.StatusOptions{Cwd: r.Root, Paths: rels})
	if err != nil {
		return nil, err
	}
	out := map[string]manifest.StatusEntry{}
	for _, e := range entries {
		out[e.Path] = e
	}
	for _, rel := range rels {
		if _, ok := out[rel]; !ok {
			return nil, fmt.Errorf("%s: %w", rel, manifest.ErrNotTracked)
		}
	}
	return out, nil
}

func inputStateErr(rel string, e manifest.StatusEntry, sentinel error) error {
	switch e.State {
	case manifest.StateMissing:
		return fmt.Errorf("%w: %s is missing (its manifest is there, its data is not)", sentinel, rel)
	case manifest.StateInvalid:
		return fmt.Errorf("%w: %s: %s", sentinel, rel, e.Error)
	}
	what := ""
	if len(e.Changes) > 0 {
		var names []string
		for i, c := range e.Changes {
			if i == 3 {
				names = append(names, "...")
				break
			}
			names = append(names, c.Change+" "+c.Path)
		}
		what = " (" + strings.Join(names, ", ") + ")"
	}
	return fmt.Errorf("%w: %s%s", sentinel, rel, what)
}

// outputIgnorer returns the ignore function for ReadCodeState: the outputs
// themselves (trove gitignores them when it adds them), their manifests (trove
// writes them) and the .gitignore files beside them (trove appends the outputs
// there) do not make the tree dirty.
func outputIgnorer(outputs []string) func(string) bool {
	skip := map[string]bool{}
	for _, o := range outputs {
		skip[o] = true
		skip[manifest.ManifestPath(o)] = true
		skip[path.Join(path.Dir(o), ".gitignore")] = true
	}
	return func(p string) bool {
		if skip[p] {
			return true
		}
		for _, o := range outputs {
			if strings.HasPrefix(p, o+"/") {
				return true
			}
		}
		return false
	}
}

// LineageOptions configure BuildLineage.
type LineageOptions struct {
	Cwd     string
	Inputs  []InputSpec
	Outputs []string // repository-relative paths being recorded (not dirt)
	// Scratch are other repository-relative paths the step writes (its metrics
	// file): a leftover from an earlier run does not make the tree dirty.
	Scratch []string
	// RefuseDirty makes a dirty working tree (or no commit at all) an error
	// wrapping ErrDirty (ErrNoCommit) instead of a fact recorded as dirty.
	RefuseDirty bool
}

// BuildLineage builds the lineage that `trove add --input` records by hand: the
// inputs (each tracked and unchanged), and the code (HEAD and whether the
// working tree is dirty). `trove run` builds on it, adding the command, its
// parameters, environment, times and metrics.
func BuildLineage(ctx context.Context, r *manifest.Repo, opt LineageOptions) (*manifest.Lineage, CodeState, error) {
	inputs, err := ResolveInputs(ctx, r, opt.Cwd, opt.Inputs)
	if err != nil {
		return nil, CodeState{}, err
	}
	for _, in := range inputs {
		for _, o := range opt.Outputs {
			if in.Path == o || strings.HasPrefix(o, in.Path+"/") || strings.HasPrefix(in.Path, o+"/") {
				return nil, CodeState{}, fmt.Errorf("%w: %s is both an input and an output", ErrBadInput, o)
			}
		}
	}
	ignore := outputIgnorer(opt.Outputs)
	cs, err := ReadCodeState(r.Root, func(p string) bool { return ignore(p) || slices.Contains(opt.Scratch, p) })
	if err != nil {
		return nil, cs, err
	}
	if opt.RefuseDirty {
		if cs.Commit == "" {
			return nil, cs, ErrNoCommit
		}
		if len(cs.Dirty) > 0 {
			return nil, cs, dirtyErr(cs.Dirty)
		}
	}
	return &manifest.Lineage{Code: cs.Code(), Inputs: inputs}, cs, nil
}

func dirtyErr(paths []string) error {
	list := paths
	more := ""
	if len(list) > 5 {
		list, more = list[:5], fmt.Sprintf(" and %d more", len(paths)-5)
	}
	return fmt.Errorf("%w: %s%s", ErrDirty, strings.Join(list, ", "), more)
}
