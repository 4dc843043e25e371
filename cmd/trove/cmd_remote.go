package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/trove-dev/trove/manifest"
	"github.com/trove-dev/trove/objects"
	"github.com/trove-dev/trove/remote"
	"github.com/trove-dev/trove/remote/local"
	"github.com/trove-dev/trove/remote/s3"
)

var remoteFlag = &cli.StringFlag{Name: "remote", Aliases: []string{"r"}, Usage: "remote name (default: TROVE_REMOTE, then the configured default)"}

// openRemote resolves and opens a remote: --remote, then TROVE_REMOTE, then the
// configured default, then the only configured remote.
func (e *env) openRemote(ctx context.Context, r *manifest.Repo, name string) (remote.Remote, string, error) {
	cfg, err := r.LoadConfig()
	if err != nil {
		return nil, "", err
	}
	if name == "" {
		name = e.getenv("TROVE_REMOTE")
	}
	if name == "" {
		name = cfg.DefaultRemote
	}
	if name == "" && len(cfg.Remotes) == 1 {
		name = cfg.RemoteNames()[0]
	}
	if name == "" {
		if len(cfg.Remotes) == 0 {
			return nil, "", usageErr("no remote is configured",
				"add one: trove remote add origin s3://BUCKET/PREFIX --default (or a directory: trove remote add origin /srv/trove --default)")
		}
		return nil, "", usageErr("several remotes are configured and none is the default: "+strings.Join(cfg.RemoteNames(), ", "),
			"pass --remote NAME, or make one the default: trove remote add NAME URL --default")
	}
	rc, ok := cfg.Remotes[name]
	if !ok {
		return nil, "", usageErr(fmt.Sprintf("no remote named %q", name), "configured remotes: "+orNone(cfg.RemoteNames())+"; add one with `trove remote add NAME URL`")
	}
	rem, err := e.dial(ctx, r, rc)
	if err != nil {
		return nil, "", err
	}
	return rem, name, nil
}

// hasRemote reports whether a remote is named or configured, so that a
// command that can do without one (a pull with nothing to fetch) skips it.
func (e *env) hasRemote(r *manifest.Repo, name string) (bool, error) {
	if name != "" || e.getenv("TROVE_REMOTE") != "" {
		return true, nil
	}
	cfg, err := r.LoadConfig()
	if err != nil {
		return false, err
	}
	return len(cfg.Remotes) > 0, nil
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

func (e *env) dial(ctx context.Context, r *manifest.Repo, rc manifest.RemoteConfig) (remote.Remote, error) {
	if err := manifest.CheckRemoteURL(rc.URL); err != nil {
		return nil, err
	}
	if !strings.Contains(rc.URL, "://") || strings.HasPrefix(rc.URL, "file://") {
		dir := strings.TrimPrefix(rc.URL, "file://")
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(r.Root, dir)
		}
		return local.New(dir)
	}
	u, _ := url.Parse(rc.URL)
	cfg := s3.Config{
		Bucket: u.Host, Prefix: strings.Trim(u.Path, "/"), Region: rc.Region, PathStyle: rc.PathStyle,
		CAFile: rc.CAFile, Profile: rc.Profile, Env: e.getenv,
		// trove's transfer engine retries every request itself, with a fresh body
		// each time. minio-go's own retry of a multipart part re-seeks the part's
		// buffer while the failed attempt's transport may still be reading it (a
		// data race the race detector caught under injected network faults), so it
		// is turned off.
		MaxRetries: 1,
	}
	if ep := rc.Endpoint; ep != "" {
		switch {
		case strings.HasPrefix(ep, "http://"):
			cfg.Insecure = true
			ep = strings.TrimPrefix(ep, "http://")
		case strings.HasPrefix(ep, "https://"):
			ep = strings.TrimPrefix(ep, "https://")
		}
		cfg.Endpoint = strings.TrimSuffix(ep, "/")
	}
	return s3.New(ctx, cfg)
}

func remoteCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "remote",
		Usage: "manage where packs are shared (S3-compatible storage or a directory)",
		Subcommands: []*cli.Command{
			{
				Name:      "add",
				Usage:     "add or update a remote",
				ArgsUsage: "NAME URL",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "default", Usage: "make it the default remote"},
					&cli.StringFlag{Name: "endpoint", Usage: "S3 endpoint, http(s)://HOST:PORT (default: AWS)"},
					&cli.StringFlag{Name: "region", Usage: "S3 region"},
					&cli.BoolFlag{Name: "path-style", Usage: "path-style S3 requests (MinIO, Ceph, versitygw)"},
					&cli.StringFlag{Name: "ca-file", Usage: "PEM bundle of extra CAs for HTTPS"},
					&cli.StringFlag{Name: "profile", Usage: "profile in the shared AWS credentials file"},
					&cli.BoolFlag{Name: "create-bucket", Usage: "create the S3 bucket (or the directory) if it does not exist"},
					jsonFlag, quietFlag,
				},
				Action: func(c *cli.Context) error {
					if c.NArg() != 2 {
						return usageErr("remote add needs NAME and URL", "e.g. trove remote add origin s3://my-bucket/datasets --default")
					}
					name, raw := c.Args().Get(0), c.Args().Get(1)
					if !manifest.ValidRemoteName(name) {
						return usageErr(fmt.Sprintf("remote name %q: use letters, digits, '.', '_' and '-'", name))
					}
					if err := manifest.CheckRemoteURL(raw); err != nil {
						return &cliError{msg: err.Error(), code: exitUsage, hints: []string{"URL forms: s3://BUCKET[/PREFIX], file:///ABS/PATH, or a directory path"}}
					}
					if ep := c.String("endpoint"); ep != "" && !strings.HasPrefix(ep, "http://") && !strings.HasPrefix(ep, "https://") {
						return usageErr(fmt.Sprintf("--endpoint %q: want http://HOST:PORT or https://HOST:PORT", ep))
					}
					r, err := e.open()
					if err != nil {
						return err
					}
					defer r.Close()
					cfg, err := r.LoadConfig()
					if err != nil {
						return err
					}
					if cfg.Remotes == nil {
						cfg.Remotes = map[string]manifest.RemoteConfig{}
					}
					rc := manifest.RemoteConfig{URL: raw, Endpoint: c.String("endpoint"), Region: c.String("region"),
						PathStyle: c.Bool("path-style"), CAFile: c.String("ca-file"), Profile: c.String("profile")}
					if !strings.Contains(raw, "://") {
						if abs, err := filepath.Abs(filepath.Join(e.cwd, raw)); err == nil && !filepath.IsAbs(raw) {
							rc.URL = abs
						}
					}
					if c.Bool("create-bucket") {
						if err := e.createBucket(c.Context, r, rc); err != nil {
							return err
						}
					}
					_, existed := cfg.Remotes[name]
					cfg.Remotes[name] = rc
					if c.Bool("default") || len(cfg.Remotes) == 1 {
						cfg.DefaultRemote = name
					}
					if err := r.SaveConfig(cfg); err != nil {
						return err
					}
					if c.Bool("json") {
						return writeJSON(e.stdout, map[string]any{"name": name, "remote": rc, "default": cfg.DefaultRemote == name})
					}
					verb := "added"
					if existed {
						verb = "updated"
					}
					e.summary(c, "%s remote %s (%s)%s", verb, name, rc.URL, map[bool]string{true: ", the default", false: ""}[cfg.DefaultRemote == name])
					return nil
				},
			},
			{
				Name:  "list",
				Usage: "list remotes",
				Flags: []cli.Flag{jsonFlag, quietFlag},
				Action: func(c *cli.Context) error {
					r, err := e.open()
					if err != nil {
						return err
					}
					defer r.Close()
					cfg, err := r.LoadConfig()
					if err != nil {
						return err
					}
					type row struct {
						Name    string `json:"name"`
						Default bool   `json:"default"`
						manifest.RemoteConfig
					}
					out := []row{}
					for _, n := range cfg.RemoteNames() {
						out = append(out, row{Name: n, Default: n == cfg.DefaultRemote, RemoteConfig: cfg.Remotes[n]})
					}
					if c.Bool("json") {
						return writeJSON(e.stdout, out)
					}
					var rows [][]string
					for _, o := range out {
						d := ""
						if o.Default {
							d = "*"
						}
						rows = append(rows, []string{o.Name, d, o.URL, o.Endpoint})
					}
					if len(rows) == 0 {
						e.summary(c, "no remotes: add one with `trove remote add NAME URL`")
						return nil
					}
					return table(e.stdout, []string{"NAME", "DEFAULT", "URL", "ENDPOINT"}, rows)
				},
			},
			{
				Name:      "remove",
				Aliases:   []string{"rm"},
				Usage:     "remove a remote from the configuration (its data is not touched)",
				ArgsUsage: "NAME",
				Flags:     []cli.Flag{quietFlag},
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return usageErr("remote remove needs NAME")
					}
					r, err := e.open()
					if err != nil {
						return err
					}
					defer r.Close()
					cfg, err := r.LoadConfig()
					if err != nil {
						return err
					}
					name := c.Args().First()
					if _, ok := cfg.Remotes[name]; !ok {
						return usageErr(fmt.Sprintf("no remote named %q", name), "configured remotes: "+orNone(cfg.RemoteNames()))
					}
					delete(cfg.Remotes, name)
					if cfg.DefaultRemote == name {
						cfg.DefaultRemote = ""
					}
					if err := r.SaveConfig(cfg); err != nil {
						return err
					}
					e.summary(c, "removed remote %s (nothing on it was deleted)", name)
					return nil
				},
			},
		},
	}
}

// createBucket makes the remote's bucket (or directory) exist.
func (e *env) createBucket(ctx context.Context, r *manifest.Repo, rc manifest.RemoteConfig) error {
	rem, err := e.dial(ctx, r, rc)
	if err != nil {
		return err
	}
	switch x := rem.(type) {
	case *s3.S3:
		if err := x.MakeBucket(ctx); err != nil {
			return remoteErr(fmt.Errorf("create bucket: %w", err), rem)
		}
	case *local.Local:
		if err := os.MkdirAll(x.Dir(), 0o755); err != nil {
			return fmt.Errorf("create remote directory: %w", err)
		}
	}
	return nil
}

// transferProgress adapts remote progress to the terminal renderer.
func transferProgress(p *progress, label string) func(remote.Progress) {
	return func(rp remote.Progress) {
		p.event(manifest.Event{Op: rp.Op, Path: label, Bytes: rp.Bytes, TotalBytes: rp.TotalBytes, Files: rp.Objects, TotalFiles: rp.TotalObjects})
	}
}

// errStop ends a walk early.
var errStop = errors.New("stop")

func (e *env) transferOptions(c *cli.Context, r *manifest.Repo, name string, p *progress) remote.Options {
	o := remote.Options{
		Jobs:     c.Int("jobs"),
		CacheDir: filepath.Join(r.TroveDir(), "cache", "remotes", name),
		Progress: transferProgress(p, name),
	}
	if st, err := r.Store(); err == nil {
		o.TempDir = st.TempDir() // sets of chunk ids too large for memory spill there
	}
	return o
}

func (e *env) selected(c *cli.Context, r *manifest.Repo) ([]manifest.Tracked, error) {
	return e.selectPaths(c, r, c.Args().Slice())
}

func (e *env) selectPaths(c *cli.Context, r *manifest.Repo, paths []string) ([]manifest.Tracked, error) {
	only, err := r.Resolve(e.cwd, paths)
	if err != nil {
		return nil, err
	}
	ts, err := r.List(c.Context, only)
	if err != nil {
		return nil, err
	}
	if len(paths) > 0 && len(ts) == 0 {
		return nil, fmt.Errorf("%s: %w", paths[0], manifest.ErrNotTracked)
	}
	for _, t := range ts {
		if t.Err != nil {
			return nil, t.Err
		}
	}
	return ts, nil
}

func pushCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "push",
		Usage:     "upload the packs that tracked artifacts need and the remote lacks",
		ArgsUsage: "[PATH...]",
		Flags: []cli.Flag{remoteFlag, jobsFlag, jsonFlag, quietFlag,
			&cli.BoolFlag{Name: "force", Usage: "upload every needed pack even if the remote has it (repairs damaged objects)"}},
		Action: func(c *cli.Context) error {
			r, err := e.open()
			if err != nil {
				return err
			}
			defer r.Close()
			ts, err := e.selected(c, r)
			if err != nil {
				return err
			}
			rem, name, err := e.openRemote(c.Context, r, c.String("remote"))
			if err != nil {
				return err
			}
			start := time.Now()
			need, err := r.NeededSet(c.Context, ts, nil)
			if err != nil {
				if errors.Is(err, objects.ErrMissing) {
					return &cliError{msg: fmt.Sprintf("cannot push: %v", err), code: exitIntegrity, err: err,
						hints: []string{"the local store lacks data the manifests name: `trove pull` fetches it, or `trove add PATH` stores it again"}}
				}
				return err
			}
			defer need.Close()
			st, err := r.Store()
			if err != nil {
				return err
			}
			prog := e.progress(c)
			opts := e.transferOptions(c, r, name, prog)
			opts.Force = c.Bool("force")
			res, err := remote.PushSet(c.Context, rem, st, need, opts)
			prog.done()
			if err != nil {
				return remoteErr(err, rem)
			}
			// Production observations and monitoring events travel with the data.
			mres, err := monitorStore(r).Push(c.Context, monitorBlobs(rem))
			if err != nil {
				return syncErr(err, rem)
			}
			if c.Bool("json") {
				if err := writeJSON(e.stdout, struct {
					Remote    string `json:"remote"`
					Artifacts int    `json:"artifacts"`
					remote.PushResult
					MonitorFiles int     `json:"monitor_files"`
					Seconds      float64 `json:"seconds"`
				}{name, len(ts), res, mres.Sent, time.Since(start).Seconds()}); err != nil {
					return err
				}
			}
			if mres.Sent > 0 {
				e.summary(c, "pushed %s to %s", plural(int64(mres.Sent), "monitoring file"), name)
			}
			e.summary(c, "pushed %s to %s: %s sent (%s), %s already there (%s), in %s",
				plural(int64(len(ts)), "artifact"), name, plural(int64(res.Packs), "pack"), human(res.Bytes),
				plural(int64(res.SkippedPacks), "pack"), human(res.SkippedBytes), since(start))
			return nil
		},
	}
}

// remoteErr adds hints for the ways a remote commonly fails.
func remoteErr(err error, rem remote.Remote) error {
	var hints []string
	code := exitRuntime
	switch {
	case errors.Is(err, remote.ErrNoBucket):
		hints = append(hints, "create it: trove remote add NAME URL [--endpoint ...] --create-bucket (or `aws s3 mb s3://BUCKET`)")
		code = exitUsage
	case errors.Is(err, remote.ErrAccessDenied):
		if s, ok := rem.(*s3.S3); ok {
			hints = append(hints, "credentials came from "+s.CredentialSource()+"; check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or ~/.aws/credentials")
		}
		code = exitUsage
	case errors.Is(err, objects.ErrCorrupt):
		code = exitIntegrity
		hints = append(hints, "nothing corrupt was stored locally; repair the remote with `trove push --force` from a clone that has the data")
	case errors.Is(err, remote.ErrNotFound):
		code = exitIntegrity
		hints = append(hints, "the remote lacks data the manifests name: push it from the clone that added it")
	case errors.Is(err, context.Canceled):
		return err
	default:
		hints = append(hints, "check that the remote is reachable; run the command again to resume: what arrived is not sent again")
	}
	return &cliError{msg: err.Error(), code: code, hints: hints, err: err}
}

func fetchCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "fetch",
		Usage:     "download the chunks tracked artifacts need that the local store lacks",
		ArgsUsage: "[PATH...]",
		Flags: []cli.Flag{remoteFlag, jobsFlag, jsonFlag, quietFlag,
			&cli.StringFlag{Name: "rev", Usage: "fetch what the manifests at this git revision name"}},
		Action: func(c *cli.Context) error {
			_, err := e.fetch(c, false, c.Args().Slice(), true)
			return err
		},
	}
}

func pullCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "pull",
		Usage:     "fetch, then check out: bring the data the manifests name into the working tree",
		ArgsUsage: "[PATH...]",
		Flags: []cli.Flag{remoteFlag, jobsFlag, jsonFlag, quietFlag,
			&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "overwrite local changes that were never added"},
			&cli.StringFlag{Name: "rev", Usage: "bring the data as it was at this git revision (branch, tag, commit, HEAD~N)"}},
		Action: func(c *cli.Context) error {
			_, err := e.fetch(c, true, c.Args().Slice(), true)
			return err
		},
	}
}

type fetchReport struct {
	Remote    string `json:"remote"`
	Artifacts int    `json:"artifacts"`
	remote.FetchResult
	// MonitorFiles counts the observations and monitoring events fetched.
	MonitorFiles int                      `json:"monitor_files"`
	Checkout     []manifest.CheckoutEntry `json:"checkout,omitempty"`
	Seconds      float64                  `json:"seconds"`
}

// fetch brings the chunks of the selected manifests (all, or those under paths)
// into the store, then, with checkout, restores the files. A whole fetch or pull
// (no paths, no --rev) also brings down the monitoring files the store lacks;
// with monitor false (the git hooks, which must not reach the network when the
// data is all there) it never does.
func (e *env) fetch(c *cli.Context, checkout bool, paths []string, monitor bool) (*fetchReport, error) {
	r, done, err := e.openLocked(c)
	if err != nil {
		return nil, err
	}
	defer done()
	var ts []manifest.Tracked
	if rev := c.String("rev"); rev != "" {
		ts, err = e.revManifests(c, r, rev)
	} else {
		ts, err = e.selectPaths(c, r, paths)
	}
	if err != nil {
		return nil, err
	}
	start := time.Now()
	st, err := r.Store()
	if err != nil {
		return nil, err
	}
	prog := e.progress(c)
	var rem remote.Remote
	var name string
	var total remote.FetchResult
	opened := false
	fetch := func(ctx context.Context, get func(context.Context, remote.Options) (remote.FetchResult, error)) error {
		if !opened {
			rem, name, err = e.openRemote(ctx, r, c.String("remote"))
			if err != nil {
				return err
			}
			opened = true
		}
		res, err := get(ctx, e.transferOptions(c, r, name, prog))
		total.Chunks += res.Chunks
		total.Bytes += res.Bytes
		total.Read += res.Read
		total.Requests += res.Requests
		if err != nil {
			return remoteErr(err, rem)
		}
		return nil
	}
	ensure := func(ctx context.Context, ids []objects.ID) error {
		return fetch(ctx, func(ctx context.Context, o remote.Options) (remote.FetchResult, error) {
			return remote.Fetch(ctx, rem, st, ids, o)
		})
	}
	// What the artifacts need, as a set that spills to disk rather than a list,
	// then fetched in one sorted pass when some of it is missing.
	need, err := r.NeededSet(c.Context, ts, ensure)
	if err == nil {
		defer need.Close()
		missing := false
		err = st.EachMissing(need, func(objects.ID) error { missing = true; return errStop })
		if errors.Is(err, errStop) {
			err = nil
		}
		if err == nil && missing {
			err = fetch(c.Context, func(ctx context.Context, o remote.Options) (remote.FetchResult, error) {
				return remote.FetchSet(ctx, rem, st, need, o)
			})
		}
	}
	prog.done()
	// Production observations and monitoring events travel with the data: what
	// the remote has and this store lacks comes down too, verified file by file.
	var monitorFiles int
	monitor = monitor && len(paths) == 0 && c.String("rev") == ""
	if err == nil && monitor && !opened {
		var has bool
		if has, err = e.hasRemote(r, c.String("remote")); err == nil && has {
			rem, name, err = e.openRemote(c.Context, r, c.String("remote"))
			opened = err == nil
		}
	}
	if err == nil && monitor && opened {
		mres, merr := monitorStore(r).Pull(c.Context, monitorBlobs(rem), "")
		monitorFiles = mres.Received
		if merr != nil {
			err = syncErr(merr, rem)
		}
	}
	if err != nil {
		return nil, err
	}
	rep := &fetchReport{Remote: name, Artifacts: len(ts), FetchResult: total, MonitorFiles: monitorFiles}
	if name == "" {
		rep.Remote = "(nothing to fetch)"
	}
	var cerr error
	if checkout {
		p2 := e.progress(c)
		rep.Checkout, cerr = r.Checkout(c.Context, manifest.CheckoutOptions{Cwd: e.cwd, Manifests: ts, Force: c.Bool("force"), Jobs: c.Int("jobs"), Progress: p2.event})
		p2.done()
		for _, a := range rep.Checkout {
			for _, p := range a.Problems {
				fmt.Fprintf(e.stderr, "trove: error: %s: %s\n", joinPath(a.Path, p.Path), p.Error)
			}
		}
	}
	rep.Seconds = time.Since(start).Seconds()
	if c.Bool("json") {
		if err := writeJSON(e.stdout, rep); err != nil {
			return rep, err
		}
	}
	verb := "fetched"
	if monitorFiles > 0 {
		e.summary(c, "fetched %s from %s", plural(int64(monitorFiles), "monitoring file"), name)
	}
	if checkout {
		verb = "pulled"
		var restored int64
		for _, a := range rep.Checkout {
			restored += a.Restored
		}
		e.summary(c, "%s %s: %s (%s) in %s requests, %s restored, in %s", verb, plural(int64(len(ts)), "artifact"),
			plural(int64(total.Chunks), "chunk"), human(total.Bytes), fmt.Sprint(total.Requests), plural(restored, "file"), since(start))
	} else {
		e.summary(c, "%s %s: %s (%s) in %d requests, in %s", verb, plural(int64(len(ts)), "artifact"),
			plural(int64(total.Chunks), "chunk"), human(total.Bytes), total.Requests, since(start))
	}
	return rep, cerr
}
