package main

// trove policy input and trove policy test: the input document for conftest
// and OPA users, and fixtures that pin what a policy decides.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/trove-dev/trove/governance"
	"github.com/trove-dev/trove/governance/policy"
	"github.com/trove-dev/trove/manifest"
)

// defaultFixtureDir is where `trove policy test` looks without an argument,
// relative to the repository root.
const defaultFixtureDir = manifest.Dir + "/policy-tests"

func policyCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "policy",
		Usage: "the policy's input document, and tests of the policy",
		Subcommands: []*cli.Command{
			policyInputCommand(e),
			policyTestCommand(e),
		},
	}
}

func policyInputCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "input",
		Usage: "print the input document a decision about NAME@VERSION or PATH is taken on",
		Description: "The document `trove check` and `trove promote` evaluate, as canonical JSON (keys\n" +
			"sorted), indented: feed it to conftest or OPA, or save it as a `trove policy test`\n" +
			"fixture. Top-level keys: approvals, author, current_stage, now, policy_digest,\n" +
			"remote_present, stage_holder, subject, target_stage. TROVE_NOW fixes \"now\".",
		ArgsUsage: "NAME@VERSION|PATH",
		Flags:     []cli.Flag{stageFlag, gateRemote, offlineFlag, quietFlag},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageErr("policy input needs exactly one NAME@VERSION or PATH", "e.g. trove policy input churn@v1.2.0 --stage production")
			}
			if c.Bool("offline") && c.IsSet("remote") {
				return usageErr("give --remote or --offline, not both")
			}
			v, err := e.openGateView(c)
			if err != nil {
				return err
			}
			defer v.r.Close()
			w, r, gc, stages, stage, reg := v.w, v.r, v.gc, v.stages, v.stage, v.reg
			base := governance.BuildOptions{TargetStage: stage, Stages: stages, Allowed: gc.Allowed, Roles: gc.Roles,
				Policy: gc.Policy, Registry: reg, Warn: e.gateWarn}
			if base.CheckRemote, err = e.remoteCheck(c, r, gc.Policy); err != nil {
				return err
			}
			subjects, err := e.checkSubjects(c, r, reg, stages, base)
			if err != nil {
				return err
			}
			in, err := governance.BuildInput(c.Context, r, w, subjects[0].opt)
			if err != nil {
				return govErr(err)
			}
			doc, err := policy.CanonicalJSON(in)
			if err != nil {
				return err
			}
			var buf bytes.Buffer
			if err := json.Indent(&buf, doc, "", "  "); err != nil {
				return err
			}
			buf.WriteByte('\n')
			if _, err := e.stdout.Write(buf.Bytes()); err != nil {
				return err
			}
			digest, err := governance.InputDigest(in)
			if err != nil {
				return err
			}
			e.summary(c, "input %s for %s", digest, subjectStage(subjects[0].label, stage))
			return nil
		},
	}
}

func policyTestCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "test",
		Usage: "run policy fixtures: input documents with the decision expected of them",
		Description: "DIR (default .trove/policy-tests) holds fixtures, one per .yaml, .yml or .json file\n" +
			"(DIR may also be one fixture file):\n" +
			"\n" +
			"  name: no eval data, no production     # optional; default: the file name\n" +
			"  policy: ../policy.yaml                # optional, relative to the fixture\n" +
			"  input: {...}                          # as `trove policy input` prints it\n" +
			"  expect:\n" +
			"    allowed: false\n" +
			"    results: {lineage: fail, accuracy-floor: pass}\n" +
			"\n" +
			"The policy is the fixture's, else --policy, else .trove/policy.yaml. An input (or an\n" +
			"approval) without policy_digest is under the policy being tested. Prints PASS or FAIL\n" +
			"per fixture, with what differs; exit 1 when one fails, 2 when one cannot be read.",
		ArgsUsage: "[DIR]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "policy", Usage: "the policy file to test (default: .trove/policy.yaml)"},
			jsonFlag, quietFlag,
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 1 {
				return usageErr("policy test takes at most one DIR")
			}
			dir := c.Args().First()
			var repo *manifest.Repo
			openRepo := func() (*manifest.Repo, error) {
				if repo == nil {
					r, err := e.open()
					if err != nil {
						return nil, err
					}
					repo = r
				}
				return repo, nil
			}
			defer func() {
				if repo != nil {
					repo.Close()
				}
			}()
			if dir == "" {
				r, err := openRepo()
				if err != nil {
					return err
				}
				dir = r.Abs(defaultFixtureDir)
			} else if !filepath.IsAbs(dir) {
				dir = filepath.Join(e.cwd, dir)
			}
			files, err := fixtureFiles(dir)
			if err != nil {
				return err
			}
			policies := map[string]*policy.Policy{}
			loadPolicy := func(file string) (*policy.Policy, error) {
				if p, ok := policies[file]; ok {
					return p, nil
				}
				var p *policy.Policy
				if file == "" {
					r, err := openRepo()
					if err != nil {
						return nil, err
					}
					gc, err := e.gateConfig(r)
					if err != nil {
						return nil, err
					}
					if gc.Policy == nil {
						return nil, usageErr("no policy to test: .trove/policy.yaml does not exist", "pass --policy FILE, or name one in the fixture (policy: FILE)")
					}
					p = gc.Policy
				} else {
					b, err := os.ReadFile(file)
					if err != nil {
						return nil, usageErr(fmt.Sprintf("policy %s: %v", relTo0(e.cwd, file), errors.Unwrap(err)))
					}
					if p, err = policy.Parse(relTo0(e.cwd, file), b); err != nil {
						var pe *policy.ParseError
						if errors.As(err, &pe) {
							lines := make([]string, 0, len(pe.Errors))
							for _, x := range pe.Errors {
								lines = append(lines, x.Error())
							}
							return nil, &cliError{msg: strings.Join(lines, "\ntrove: error: "), code: exitUsage, err: err}
						}
						return nil, err
					}
				}
				policies[file] = p
				return p, nil
			}
			flagPolicy := ""
			if f := c.String("policy"); f != "" {
				flagPolicy = f
				if !filepath.IsAbs(f) {
					flagPolicy = filepath.Join(e.cwd, f)
				}
			}
			results := []governance.FixtureResult{}
			failed := 0
			for _, file := range files {
				b, err := os.ReadFile(file)
				if err != nil {
					return err
				}
				name := relTo0(e.cwd, file)
				fx, err := governance.ParsePolicyFixture(name, b)
				if err != nil {
					return &cliError{msg: err.Error(), code: exitUsage, err: err}
				}
				pf := flagPolicy
				if fx.Policy != "" {
					pf = fx.Policy
					if !filepath.IsAbs(pf) {
						pf = filepath.Join(filepath.Dir(file), pf)
					}
				}
				p, err := loadPolicy(pf)
				if err != nil {
					return err
				}
				res := fx.Run(p)
				res.File = name
				results = append(results, res)
				if !res.Pass {
					failed++
				}
			}
			if c.Bool("json") {
				if err := writeJSON(e.stdout, results); err != nil {
					return err
				}
			} else {
				var out strings.Builder
				for _, res := range results {
					mark := "PASS"
					if !res.Pass {
						mark = "FAIL"
					}
					fmt.Fprintf(&out, "%s  %s\n", mark, res.Name)
					for _, m := range res.Mismatches {
						fmt.Fprintf(&out, "      %s\n", m)
					}
				}
				if _, err := fmt.Fprint(e.stdout, out.String()); err != nil {
					return err
				}
			}
			if failed > 0 {
				return &cliError{msg: fmt.Sprintf("%d of %s failed", failed, plural(int64(len(results)), "policy fixture")), code: exitRuntime}
			}
			e.summary(c, "%s passed", plural(int64(len(results)), "policy fixture"))
			return nil
		},
	}
}

// fixtureFiles lists the fixture files of dir (or dir itself, a file), sorted.
func fixtureFiles(dir string) ([]string, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, usageErr(fmt.Sprintf("%s does not exist", dir), "write fixtures there (`trove policy input` prints an input document), or name a DIR")
		}
		return nil, err
	}
	if !fi.IsDir() {
		return []string{dir}, nil
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, de := range ents {
		switch strings.ToLower(filepath.Ext(de.Name())) {
		case ".yaml", ".yml", ".json":
			if !de.IsDir() {
				out = append(out, filepath.Join(dir, de.Name()))
			}
		}
	}
	sort.Strings(out)
	if len(out) == 0 {
		return nil, usageErr(fmt.Sprintf("no fixtures in %s (.yaml, .yml or .json files)", dir))
	}
	return out, nil
}

// relTo0 shows a path relative to the current directory when it is below it.
func relTo0(cwd, p string) string {
	if rel, err := filepath.Rel(cwd, p); err == nil && !strings.HasPrefix(rel, "..") {
		return filepath.ToSlash(rel)
	}
	return p
}
