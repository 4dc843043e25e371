package governance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/trove-dev/trove/manifest"
)

// RunOptions configure Run.
type RunOptions struct {
	Cwd     string      // paths are relative to this directory; the step runs here
	Inputs  []InputSpec // tracked artifacts the step reads
	Outputs []string    // paths the step writes; added with the lineage
	Name    string      // artifact name of the (single) output
	Kind    string      // kind of the outputs ("" keeps the previous one, or dataset)
	// ParamsFile (YAML or JSON) is read before the step runs; MetricsFile (JSON)
	// after, so the step can write it.
	ParamsFile  string
	MetricsFile string
	AllowDirty  bool   // record a dirty working tree instead of refusing it
	Trigger     string // what started the step (a CI run, a git ref), recorded as is
	// Observations are production observations the step read (`--input
	// ROLE=OBSERVATION`), found and verified by the caller: each is recorded
	// as an input as given (its path under ObservationDir), and is not checked
	// as a tracked artifact.
	Observations []manifest.Input
	Command      []string
	// The step's standard streams.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// TroveVersion is recorded in the environment.
	TroveVersion string
	// Lock, if set, is called before the outputs are added and its unlock after;
	// the step itself runs without holding it (it may take hours).
	Lock func(context.Context) (unlock func(), err error)
	// Progress and Jobs are passed to manifest.Repo.Add.
	Progress func(manifest.Event)
	Jobs     int
}

// RunResult is what Run recorded.
type RunResult struct {
	Outputs []manifest.AddResult `json:"outputs"`
	Lineage *manifest.Lineage    `json:"lineage"`
	Metrics map[string]float64   `json:"metrics,omitempty"`
}

// Run runs one step of a pipeline and records its lineage in the manifests of
// its outputs:
//
//  1. every input must be tracked and match its manifest; the working tree must
//     be clean (trove's own data is gitignored and the outputs' manifests do not
//     count) unless AllowDirty, which records it as dirty;
//  2. the parameters file is read;
//  3. the command runs in Cwd with the given streams; a non-zero exit is a
//     *CommandError carrying the status, and nothing is recorded;
//  4. the inputs are checked again: one that changed while the command ran is
//     ErrInputChanged, and nothing is recorded; an output that does not exist is
//     ErrNotProduced; a bad metrics file is ErrMetrics;
//  5. the outputs are added (manifest.Repo.Add) with the lineage: input digests
//     and roles, the code commit and whether it was dirty, the command line,
//     parameters, environment (CaptureEnvironment), start and end times from
//     World.Now, the trigger, and the metrics.
//
// Run never reads the process's environment or clock: w provides them.
func Run(ctx context.Context, r *manifest.Repo, w World, opt RunOptions) (RunResult, error) {
	var res RunResult
	if len(opt.Command) == 0 {
		return res, fmt.Errorf("%w: no command to run (put it after --)", ErrBadInput)
	}
	if len(opt.Outputs) == 0 {
		return res, fmt.Errorf("%w: at least one --output is needed", ErrBadInput)
	}
	if w.Runner == nil {
		return res, errors.New("run: no command runner")
	}
	outs := make([]string, len(opt.Outputs))
	for i, o := range opt.Outputs {
		rel, err := r.Rel(opt.Cwd, o)
		if err != nil {
			return res, fmt.Errorf("--output %s: %w", o, err)
		}
		for _, prev := range outs[:i] {
			if prev == rel {
				return res, fmt.Errorf("%w: --output %s is given twice", ErrBadInput, rel)
			}
		}
		outs[i] = rel
	}
	var scratch []string
	if opt.MetricsFile != "" {
		if rel, err := r.Rel(opt.Cwd, opt.MetricsFile); err == nil {
			scratch = append(scratch, rel)
		}
	}
	lin, _, err := BuildLineage(ctx, r, LineageOptions{Cwd: opt.Cwd, Inputs: opt.Inputs, Outputs: outs, Scratch: scratch, RefuseDirty: !opt.AllowDirty})
	if err != nil {
		return res, err
	}
	if opt.ParamsFile != "" {
		b, err := os.ReadFile(abs(opt.Cwd, opt.ParamsFile))
		if errors.Is(err, fs.ErrNotExist) {
			return res, fmt.Errorf("%s: %w: no such file", opt.ParamsFile, ErrParams)
		}
		if err != nil {
			return res, fmt.Errorf("%w: %v", ErrParams, err)
		}
		p, err := ParseParams(b)
		if err != nil {
			return res, fmt.Errorf("%s: %w", opt.ParamsFile, err)
		}
		if len(p) > 0 {
			lin.Params = p
		}
	}
	tracked := len(lin.Inputs)
	for _, o := range opt.Observations {
		if !IsObservationPath(o.Path) || o.Digest.IsZero() {
			return res, fmt.Errorf("%w: observation input %s is not under %s", ErrBadInput, o.Path, ObservationDir)
		}
		lin.Inputs = append(lin.Inputs, o)
	}
	lin.Command = append([]string(nil), opt.Command...)
	lin.Trigger = opt.Trigger

	// The environment is probed while the step runs.
	envc := make(chan map[string]string, 1)
	go func() { envc <- CaptureEnvironment(ctx, w, r.Root, opt.TroveVersion) }()

	lin.Started = stamp(w.now())
	code, err := w.Runner.Run(ctx, Cmd{Args: opt.Command, Dir: opt.Cwd, Stdin: opt.Stdin, Stdout: opt.Stdout, Stderr: opt.Stderr})
	lin.Ended = stamp(w.now())
	lin.Environment = <-envc
	if err != nil {
		return res, err
	}
	if code != 0 {
		return res, &CommandError{Args: opt.Command, Exit: code}
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}

	// Did an input change under the step?
	if tracked > 0 {
		rels := make([]string, tracked)
		for i, in := range lin.Inputs[:tracked] {
			rels[i] = in.Path
		}
		st, err := inputStatus(ctx, r, rels)
		if err != nil {
			return res, fmt.Errorf("%w: %v", ErrInputChanged, err)
		}
		for _, in := range lin.Inputs[:tracked] {
			e := st[in.Path]
			if e.State != manifest.StateOK {
				return res, inputStateErr(in.Path, e, ErrInputChanged)
			}
			m, err := r.ReadManifest(in.Path)
			if err != nil {
				return res, fmt.Errorf("%w: %v", ErrInputChanged, err)
			}
			if m.Digest != in.Digest {
				return res, fmt.Errorf("%w: %s was re-added (%s, was %s)", ErrInputChanged, in.Path, m.Digest.Short(), in.Digest.Short())
			}
		}
	}
	for _, o := range outs {
		if _, err := os.Lstat(r.Abs(o)); err != nil {
			return res, fmt.Errorf("%w: %s", ErrNotProduced, o)
		}
	}
	if opt.MetricsFile != "" {
		b, err := os.ReadFile(abs(opt.Cwd, opt.MetricsFile))
		if errors.Is(err, fs.ErrNotExist) {
			return res, fmt.Errorf("%s: %w: the command did not write it", opt.MetricsFile, ErrMetrics)
		}
		if err != nil {
			return res, fmt.Errorf("%w: %v", ErrMetrics, err)
		}
		m, err := ParseMetrics(b)
		if err != nil {
			return res, fmt.Errorf("%s: %w", opt.MetricsFile, err)
		}
		if len(m) > 0 {
			res.Metrics = m
		}
	}
	if opt.Lock != nil {
		unlock, err := opt.Lock(ctx)
		if err != nil {
			return res, err
		}
		defer unlock()
	}
	added, err := r.Add(ctx, outs, manifest.AddOptions{
		Cwd: r.Root, Kind: opt.Kind, Name: opt.Name, Lineage: lin, Metrics: res.Metrics,
		Progress: opt.Progress, Jobs: opt.Jobs,
	})
	res.Outputs, res.Lineage = added, lin
	return res, err
}

func abs(cwd, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(cwd, p)
}

// stamp formats a time as a lineage records it: RFC 3339, UTC, whole seconds.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
