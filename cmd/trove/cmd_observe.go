package main

// trove observe and trove observations: production metrics recorded against the
// model version that served them (governance/monitor). Observations are
// immutable files in the local store, shared through the remote by `trove push`
// and `--remote` here, never committed to git.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/trove-dev/trove/governance"
	"github.com/trove-dev/trove/governance/monitor"
	"github.com/trove-dev/trove/manifest"
	"github.com/trove-dev/trove/objects"
	"github.com/trove-dev/trove/remote"
)

func monitorStore(r *manifest.Repo) *monitor.Store {
	return monitor.OpenStore(filepath.Join(r.TroveDir(), "store", "monitor"))
}

// monitorBlobs is what monitor's sync sees of a remote: whole small files,
// each request retried like a pack transfer.
func monitorBlobs(rem remote.Remote) remote.Files {
	return remote.Files{Remote: rem, Limit: monitor.MaxObservationSize}
}

// pullObservations fetches a model's observations (and every event) from the
// remote named by --remote, when it is given.
func (e *env) pullObservations(c *cli.Context, r *manifest.Repo, model string) error {
	if !c.IsSet("remote") {
		return nil
	}
	rem, name, err := e.openRemote(c.Context, r, c.String("remote"))
	if err != nil {
		return err
	}
	res, err := monitorStore(r).Pull(c.Context, monitorBlobs(rem), model)
	if err != nil {
		return syncErr(err, rem)
	}
	if res.Received > 0 {
		e.summary(c, "fetched %s from %s", plural(int64(res.Received), "monitoring file"), name)
	}
	return nil
}

// syncErr: damaged monitoring files are integrity failures, the rest are the
// remote's errors.
func syncErr(err error, rem remote.Remote) error {
	if errors.Is(err, monitor.ErrCorrupt) {
		return monitorErr(err)
	}
	return remoteErr(err, rem)
}

// monitorErr gives the monitoring errors their exit codes and hints.
func monitorErr(err error) error {
	var ce *cliError
	switch {
	case err == nil, errors.As(err, &ce):
		return err
	case errors.Is(err, monitor.ErrWindow):
		return &cliError{msg: err.Error(), code: exitUsage, err: err, hints: []string{"--window-start and --window-end take RFC 3339 times (2026-01-02T15:04:05Z); the window may not end after now"}}
	case errors.Is(err, monitor.ErrNoHolder):
		return &cliError{msg: err.Error(), code: exitUsage, err: err, hints: []string{"`trove stages NAME` shows the stage history; name the version instead: NAME@vX.Y.Z"}}
	case errors.Is(err, monitor.ErrCorrupt):
		return &cliError{msg: err.Error(), code: exitIntegrity, err: err, hints: []string{"delete the damaged file under .trove/store/monitor; `--remote R` fetches it again"}}
	case errors.Is(err, monitor.ErrEvent):
		return &cliError{msg: err.Error(), code: exitUsage, err: err, hints: []string{"--trigger takes the file `trove monitor --emit FILE` wrote (one event, or a CloudEvents batch), or a plain description"}}
	case errors.Is(err, monitor.ErrInvalid):
		return &cliError{msg: err.Error(), code: exitUsage, err: err, hints: []string{`metrics are a JSON object of names to finite numbers ({"accuracy": 0.91}) or Prometheus text format ("accuracy 0.91" a line)`}}
	}
	return govErr(err)
}

func readInput(e *env, name string) ([]byte, error) {
	var r io.Reader
	if name == "-" {
		r = e.stdin
	} else {
		f, err := os.Open(abs(e.cwd, name))
		if err != nil {
			return nil, usageErr(fmt.Sprintf("%s: %v", name, unwrapExec(err)))
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, monitor.MaxObservationSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(b) > monitor.MaxObservationSize {
		return nil, usageErr(fmt.Sprintf("%s: larger than %d bytes", name, monitor.MaxObservationSize))
	}
	return b, nil
}

func abs(cwd, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(cwd, p)
}

func windowFlag(c *cli.Context, name string) (string, error) {
	s := c.String(name)
	if s == "" {
		return "", nil
	}
	t, err := parseWhen(s)
	if err != nil {
		return "", usageErr(fmt.Sprintf("--%s %q: want a time such as 2026-01-02T15:04:05Z", name, s))
	}
	return t.UTC().Truncate(time.Second).Format(time.RFC3339), nil
}

// observeResult is `trove observe --json`.
type observeResult struct {
	ID string `json:"id"`
	*monitor.Observation
}

func observeCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "observe",
		Usage: "record a batch of production metrics against the model version that served them",
		Description: "NAME@STAGE (or NAME#STAGE, or NAME alone for the last configured stage) names the\n" +
			"version that held the stage at the window's end, from the registry's stage history;\n" +
			"NAME@VERSION names a version directly. --metrics reads a JSON object of names to\n" +
			"numbers, or the Prometheus text exposition format ('-' reads stdin). --features adds\n" +
			"input feature profiles for data-drift monitors; --reference marks them as the\n" +
			"version's baseline. The observation is stored under .trove/store/monitor (never in\n" +
			"git), named by its BLAKE3; `trove push` shares it.",
		ArgsUsage: "NAME[@STAGE|@VERSION]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "metrics", Aliases: []string{"m"}, Usage: "metrics file: JSON {name: number} or Prometheus text format; - for stdin"},
			&cli.StringFlag{Name: "features", Usage: "feature profiles file: JSON {column: {values: [...]} or {edges: [...], counts: [...]}}"},
			&cli.BoolFlag{Name: "reference", Usage: "the features are the version's reference profile (e.g. of its training data)"},
			&cli.StringFlag{Name: "window-start", Usage: "start of the period the metrics cover (default: the window's end)"},
			&cli.StringFlag{Name: "window-end", Usage: "end of the period the metrics cover (default: now)"},
			&cli.StringFlag{Name: "source", Usage: "where the metrics came from (a Prometheus URL, a job name), recorded as given"},
			jsonFlag, quietFlag,
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageErr("observe needs exactly one NAME[@STAGE|@VERSION]", "e.g. trove observe churn@production --metrics metrics.prom")
			}
			if c.String("metrics") == "" && !(c.Bool("reference") && c.String("features") != "") {
				return usageErr("observe needs --metrics FILE", "a reference profile may instead give --reference --features FILE")
			}
			if c.String("metrics") == "-" && c.String("features") == "-" {
				return usageErr("--metrics and --features cannot both read stdin", "give one of them as a file")
			}
			w, err := e.world()
			if err != nil {
				return err
			}
			now := w.Now().UTC().Truncate(time.Second)
			win := monitor.Window{}
			if win.End, err = windowFlag(c, "window-end"); err != nil {
				return err
			}
			if win.Start, err = windowFlag(c, "window-start"); err != nil {
				return err
			}
			if win.End == "" {
				win.End = now.Format(time.RFC3339)
			}
			if win.Start == "" {
				win.Start = win.End
			}
			if err := monitor.CheckWindow(win, now); err != nil {
				return monitorErr(err)
			}
			o := &monitor.Observation{Trove: monitor.FormatVersion, Window: win, RecordedAt: now.Format(time.RFC3339),
				Source: c.String("source"), Reference: c.Bool("reference"), Metrics: map[string]float64{}}
			if f := c.String("metrics"); f != "" {
				b, err := readInput(e, f)
				if err != nil {
					return err
				}
				if o.Metrics, err = monitor.ParseMetrics(b); err != nil {
					return monitorErr(fmt.Errorf("%s: %w", f, err))
				}
			}
			if f := c.String("features"); f != "" {
				b, err := readInput(e, f)
				if err != nil {
					return err
				}
				if o.Features, err = monitor.ParseFeatures(b); err != nil {
					return monitorErr(fmt.Errorf("%s: %w", f, err))
				}
			}
			r, stages, reg, err := e.registryView()
			if err != nil {
				return err
			}
			defer r.Close()
			end, _ := time.Parse(time.RFC3339, win.End)
			subj, err := monitor.Resolve(c.Context, r, reg, stages, c.Args().First(), end)
			if err != nil {
				return monitorErr(err)
			}
			o.Model, o.Version, o.Stage, o.Digest = subj.Model, subj.Version, subj.Stage, subj.Digest
			id, err := monitorStore(r).Put(o)
			if err != nil {
				return monitorErr(err)
			}
			if c.Bool("json") {
				if err := writeJSON(e.stdout, observeResult{ID: id.String(), Observation: o}); err != nil {
					return err
				}
			}
			what := plural(int64(len(o.Metrics)), "metric")
			if len(o.Features) > 0 {
				what += ", " + plural(int64(len(o.Features)), "feature")
			}
			kind := "observation"
			if o.Reference {
				kind = "reference profile"
			}
			e.summary(c, "recorded %s blake3:%s of %s (%s) for %s..%s",
				kind, id.Short(), inStage(o.Model+"@"+o.Version, o.Stage), what, o.Window.Start, o.Window.End)
			e.summary(c, "hint: `trove monitor %s` judges it; `trove push` shares it", o.Model)
			return nil
		},
	}
}

// observationRow is one line of `trove observations --json`.
type observationRow struct {
	ID string `json:"id"`
	*monitor.Observation
}

func observationsCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "observations",
		Usage: "list a model's recorded production observations, oldest first",
		Description: "Lists what `trove observe` recorded for the model, on this machine; with --remote,\n" +
			"fetches what the remote has first. --since keeps the windows that end at or after T.",
		ArgsUsage: "NAME",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "since", Usage: "only observations whose window ends at or after this time"},
			&cli.StringFlag{Name: "remote", Aliases: []string{"r"}, Usage: "fetch the remote's observations first (its name; default: TROVE_REMOTE, then the default remote)"},
			jsonFlag, quietFlag,
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 || !governance.ValidModelName(c.Args().First()) {
				return usageErr("observations needs exactly one model NAME", "`trove models` lists them")
			}
			name := c.Args().First()
			var since time.Time
			if s := c.String("since"); s != "" {
				var err error
				if since, err = parseWhen(s); err != nil {
					return usageErr(fmt.Sprintf("--since %q: want a time such as 2026-01-02T15:04:05Z or a date", s))
				}
			}
			r, _, reg, err := e.registryView()
			if err != nil {
				return err
			}
			defer r.Close()
			if _, err := reg.Model(name, time.Time{}, nil); err != nil {
				return govErr(err)
			}
			if err := e.pullObservations(c, r, name); err != nil {
				return err
			}
			all, err := monitorStore(r).List(name)
			if err != nil {
				return monitorErr(err)
			}
			rows := []observationRow{}
			for _, s := range all {
				if !since.IsZero() && s.End().Before(since) {
					continue
				}
				rows = append(rows, observationRow{ID: s.ID.String(), Observation: s.Observation})
			}
			if c.Bool("json") {
				return writeJSON(e.stdout, rows)
			}
			if len(rows) > 0 {
				var out [][]string
				for _, o := range rows {
					kind := "metrics"
					if o.Reference {
						kind = "reference"
					}
					out = append(out, []string{"blake3:" + o.ID[len("blake3:"):][:12], o.Version, orDash(o.Stage), o.Window.Start, o.Window.End, kind,
						fmt.Sprint(len(o.Metrics)), fmt.Sprint(len(o.Features)), orDash(o.Source)})
				}
				if err := table(e.stdout, []string{"ID", "VERSION", "STAGE", "START", "END", "KIND", "METRICS", "FEATURES", "SOURCE"}, out); err != nil {
					return err
				}
			}
			e.summary(c, "%s of %s", plural(int64(len(rows)), "observation"), name)
			return nil
		},
	}
}

// runTrigger reads `trove run --trigger`: a file holding a monitoring event,
// or a CloudEvents batch of them, is checked, the events about the model
// being trained (--name; all of them when it is not given) are kept in the
// monitor store (so `trove push` shares them with the observations they name)
// and recorded as event:ID; anything else is recorded as given.
func (e *env) runTrigger(r *manifest.Repo, arg, model string) (string, error) {
	if arg == "" {
		return "", nil
	}
	p := abs(e.cwd, arg)
	if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
		return arg, nil
	}
	b, err := readInput(e, arg)
	if err != nil {
		return "", err
	}
	evs, err := monitor.DecodeEvents(b)
	if err != nil {
		return "", monitorErr(fmt.Errorf("--trigger %s: %w", arg, err))
	}
	if evs, err = monitor.SelectEvents(evs, model); err != nil {
		return "", &cliError{msg: fmt.Sprintf("--trigger %s: %v", arg, err), code: exitUsage, err: err,
			hints: []string{"--name names the model being trained; leave it out to record every event of the batch"}}
	}
	st := monitorStore(r)
	for _, ev := range evs {
		if err := st.PutEvent(ev); err != nil {
			return "", monitorErr(err)
		}
	}
	return monitor.Trigger(evs), nil
}

// writeTrigger prints, under a lineage tree, why the root was made when its
// step was triggered by a monitoring event.
func (e *env) writeTrigger(r *manifest.Repo, g *governance.Graph) error {
	if len(g.Nodes) == 0 || g.Direction == governance.Downstream {
		return nil
	}
	t := g.Nodes[0].Trigger
	if t == "" {
		return nil
	}
	ids, ok := monitor.TriggerEvents(t)
	if !ok {
		_, err := fmt.Fprintf(e.stdout, "trigger: %s\n", t)
		return err
	}
	st := monitorStore(r)
	for _, id := range ids {
		ev, err := st.Event(id)
		if err != nil {
			if _, err := fmt.Fprintf(e.stdout, "trigger: %s%s (not in the local store: `trove pull` fetches it)\n", monitor.TriggerPrefix, id); err != nil {
				return err
			}
			continue
		}
		if _, err := fmt.Fprintf(e.stdout, "trigger: %s%s\n  %s\n", monitor.TriggerPrefix, id, ev.Summary()); err != nil {
			return err
		}
		for _, b := range ev.Data.Breached {
			if _, err := fmt.Fprintf(e.stdout, "  breached %s: %s (expected %s)\n", b.Monitor, b.Observed, b.Expected); err != nil {
				return err
			}
		}
	}
	return nil
}

// observationInputs takes out of specs the --input values that name production
// observations: "blake3:<hex>" (an id, or a prefix of at least 8 hex digits as
// `trove observations` prints it) of an observation in the local store, or an
// observation file that is not a tracked artifact (verified, then kept in the
// store so that `trove push` shares it). They become lineage inputs whose path
// is where the store keeps them (governance.ObservationDir).
func (e *env) observationInputs(r *manifest.Repo, specs []governance.InputSpec) ([]governance.InputSpec, []manifest.Input, error) {
	var rest []governance.InputSpec
	var obs []manifest.Input
	st := monitorStore(r)
	for _, sp := range specs {
		var o *monitor.Observation
		var id objects.ID
		if strings.HasPrefix(sp.Path, objects.IDPrefix) {
			s, err := st.Find(sp.Path)
			if err != nil {
				return nil, nil, observationRefErr(sp, err)
			}
			o, id = s.Observation, s.ID
		} else {
			p := abs(e.cwd, sp.Path)
			fi, err := os.Stat(p)
			if err != nil || !fi.Mode().IsRegular() {
				rest = append(rest, sp)
				continue
			}
			if _, err := os.Stat(p + manifest.Ext); err == nil {
				rest = append(rest, sp) // a tracked artifact
				continue
			}
			b, err := readInput(e, sp.Path)
			if err != nil {
				return nil, nil, err
			}
			dec, derr := monitor.Decode(b)
			if derr != nil {
				if bytes.Contains(b, []byte(`"recorded_at"`)) && bytes.Contains(b, []byte(`"window"`)) {
					return nil, nil, monitorErr(fmt.Errorf("--input %s: %w", sp, derr))
				}
				rest = append(rest, sp) // not an observation: the tracked-input checks say why
				continue
			}
			if id, err = st.Put(dec); err != nil {
				return nil, nil, monitorErr(err)
			}
			o = dec
		}
		obs = append(obs, manifest.Input{Role: sp.Role, Path: monitor.LineagePath(o.Model, id), Digest: id})
	}
	return rest, obs, nil
}

func observationRefErr(sp governance.InputSpec, err error) error {
	msg := fmt.Sprintf("--input %s: %v", sp, err)
	switch {
	case errors.Is(err, monitor.ErrInvalid):
		return &cliError{msg: msg, code: exitUsage, err: err, hints: []string{"name an observation by the id `trove observations NAME` prints (blake3:0123456789ab), or give its file"}}
	case errors.Is(err, monitor.ErrNoObservation):
		return &cliError{msg: msg, code: exitUsage, err: err, hints: []string{"`trove observations NAME` lists the observations on this machine; `trove pull` fetches the remote's"}}
	case errors.Is(err, monitor.ErrAmbiguous):
		return &cliError{msg: msg, code: exitUsage, err: err, hints: []string{"give more hex digits of the id"}}
	}
	return monitorErr(fmt.Errorf("--input %s: %w", sp, err))
}

// writeObservations prints, under a lineage tree, what each production
// observation among the inputs was.
func (e *env) writeObservations(r *manifest.Repo, g *governance.Graph) error {
	if g.Direction == governance.Downstream {
		return nil
	}
	st := monitorStore(r)
	for _, n := range g.Nodes {
		if n.Kind != governance.KindObservation {
			continue
		}
		model, id, ok := monitor.FromLineagePath(n.Path)
		if !ok {
			continue
		}
		o, err := st.Get(model, id)
		if err != nil {
			if _, err := fmt.Fprintf(e.stdout, "observation %s%s: not in the local store (`trove pull` fetches it)\n", objects.IDPrefix, id.Short()); err != nil {
				return err
			}
			continue
		}
		what := plural(int64(len(o.Metrics)), "metric")
		if len(o.Features) > 0 {
			what += ", " + plural(int64(len(o.Features)), "feature")
		}
		if o.Source != "" {
			what += ", from " + o.Source
		}
		if _, err := fmt.Fprintf(e.stdout, "observation %s%s: %s, %s..%s, %s\n", objects.IDPrefix, id.Short(),
			inStage(o.Model+"@"+o.Version, o.Stage), o.Window.Start, o.Window.End, what); err != nil {
			return err
		}
	}
	return nil
}
