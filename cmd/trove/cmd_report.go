package main

// trove report: the auditor's view of a model version. The work is in
// governance/report; here are flags, output and exit codes. trove export
// (cmd_export.go) writes the same facts in other formats.

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/trove-dev/trove/governance"
	rpt "github.com/trove-dev/trove/governance/report"
	"github.com/trove-dev/trove/objects"
)

var reportOutputFlag = &cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to `FILE` instead of stdout"}

// buildReport gathers the report of the model version ref names.
// With audit, the audit chain is verified too (as `trove audit verify REF`
// would) and its transcript ends the report's; the evidence is returned for a
// bundle.
func (e *env) buildReport(c *cli.Context, ref string, inputSHA, audit bool) (*rpt.Report, *governance.AuditTranscript, *governance.AuditEvidence, error) {
	w, err := e.world()
	if err != nil {
		return nil, nil, nil, err
	}
	r, err := e.open()
	if err != nil {
		return nil, nil, nil, err
	}
	defer r.Close()
	stages, err := configStages(r)
	if err != nil {
		return nil, nil, nil, err
	}
	var t *governance.AuditTranscript
	var ev *governance.AuditEvidence
	if audit {
		if t, ev, err = e.auditTranscript(c, r, ref, false, ""); err != nil {
			return nil, nil, nil, err
		}
	}
	rep, err := rpt.Build(c.Context, r, rpt.Options{
		Ref: ref, Stages: stages, Now: w.Now(), Generator: "trove " + troveVersion(),
		Rehash: c.Bool("rehash"), InputSHA256: inputSHA, Audit: t,
	})
	if err != nil {
		return nil, nil, nil, govErr(err)
	}
	return rep, t, ev, nil
}

// writeReportOut writes data to --output (atomically, relative to the current
// directory) or stdout, and returns where it went, for the summary.
func (e *env) writeReportOut(c *cli.Context, data []byte) (string, error) {
	out := c.String("output")
	if out == "" || out == "-" {
		_, err := e.stdout.Write(data)
		return "stdout", err
	}
	p := out
	if !filepath.IsAbs(p) {
		p = filepath.Join(e.cwd, p)
	}
	if err := objects.WriteFileAtomic(p, data, 0o644); err != nil {
		return "", fmt.Errorf("write %s: %w", out, err)
	}
	return out, nil
}

func reportCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "report",
		Usage: "write the lineage report of a model version, for auditors (Markdown, JSON or HTML)",
		Description: "Gathers everything the repository says about a registered model version: digests\n" +
			"(BLAKE3, and SHA-256 from the bytes in the local store, cached in .trove/cache/sha256),\n" +
			"who made, registered, promoted and approved it (with whether their tags and commits\n" +
			"are signed), the times each of them asserted, the training and evaluation data, code,\n" +
			"environment, parameters, metrics against .trove/policy.yaml's thresholds and the\n" +
			"previous stage holder, intended use and limitations (meta keys intended_use and\n" +
			"limitations), the policy decisions recorded in the promotion tags, waivers, the stage\n" +
			"history, the upstream lineage, and a transcript of the checks made on the way.\n" +
			"--format html is one self-contained page (inline styles and SVG, no scripts or\n" +
			"requests). JSON follows testdata/schemas/trove-report-v1.schema.json. The report is\n" +
			"written even when a check fails; trove then exits with status 3.",
		ArgsUsage: "NAME[@VERSION|@STAGE]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "md", Usage: "md, json or html"},
			reportOutputFlag,
			&cli.StringFlag{Name: "bundle", Usage: "write `FILE.tar`: the report (md, json, html), the audit chain, the evidence and allowed signers, and the verification transcript, for `trove audit verify --bundle`"},
			&cli.BoolFlag{Name: "rehash", Usage: "re-read the model's bytes for the SHA-256 even when it is cached"},
			&cli.BoolFlag{Name: "sha256-inputs", Usage: "also compute the SHA-256 of the model's direct inputs (when their bytes are local)"},
			jsonFlag, quietFlag,
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageErr("report needs exactly one NAME[@VERSION|@STAGE]", "e.g. trove report churn@production --format html -o rpt.html")
			}
			format := c.String("format")
			if c.Bool("json") {
				format = "json"
			}
			switch format {
			case "md", "markdown", "json", "html":
			default:
				return usageErr(fmt.Sprintf("--format %q: want md, json or html", format))
			}
			rep, t, ev, err := e.buildReport(c, c.Args().First(), c.Bool("sha256-inputs"), true)
			if err != nil {
				return err
			}
			if b := c.String("bundle"); b != "" {
				if c.IsSet("output") || c.IsSet("format") {
					return usageErr("--bundle holds the report in every format: no --output or --format")
				}
				w, err := e.world()
				if err != nil {
					return err
				}
				if err := e.writeBundle(b, rep, t, ev, w.Now()); err != nil {
					return err
				}
				return e.reportDone(c, rep, fmt.Sprintf("audit bundle of %s@%s written to %s (verify it with `trove audit verify --bundle %s`)", rep.Subject.Name, rep.Subject.Version, b, b))
			}
			var buf bytes.Buffer
			switch format {
			case "json":
				err = rpt.WriteJSON(&buf, rep)
			case "html":
				err = rpt.WriteHTML(&buf, rep)
			default:
				err = rpt.WriteMarkdown(&buf, rep)
			}
			if err != nil {
				return err
			}
			where, err := e.writeReportOut(c, buf.Bytes())
			if err != nil {
				return err
			}
			return e.reportDone(c, rep, fmt.Sprintf("report of %s@%s (%s) written to %s", rep.Subject.Name, rep.Subject.Version, format, where))
		},
	}
}

// writeBundle writes the audit bundle: the chain and its evidence, the
// report in every format and the verification transcript.
func (e *env) writeBundle(file string, rep *rpt.Report, t *governance.AuditTranscript, ev *governance.AuditEvidence, now time.Time) error {
	var files []governance.BundleFile
	for _, f := range []struct {
		name  string
		write func(io.Writer, *rpt.Report) error
	}{{"report.md", rpt.WriteMarkdown}, {"report.json", rpt.WriteJSON}, {"report.html", rpt.WriteHTML}} {
		var b bytes.Buffer
		if err := f.write(&b, rep); err != nil {
			return err
		}
		files = append(files, governance.BundleFile{Name: f.name, Data: b.Bytes()})
	}
	var txt, js bytes.Buffer
	if err := governance.WriteAuditTranscript(&txt, t); err != nil {
		return err
	}
	if err := writeJSON(&js, t); err != nil {
		return err
	}
	files = append(files, governance.BundleFile{Name: "transcript.txt", Data: txt.Bytes()}, governance.BundleFile{Name: "transcript.json", Data: js.Bytes()})
	var out bytes.Buffer
	if err := governance.WriteAuditBundle(&out, ev, now, files); err != nil {
		return err
	}
	p := file
	if !filepath.IsAbs(p) {
		p = filepath.Join(e.cwd, p)
	}
	if err := objects.WriteFileAtomic(p, out.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	return nil
}

// reportDone prints the summary and the failed checks; a failed check is exit
// status 3.
func (e *env) reportDone(c *cli.Context, rep *rpt.Report, what string) error {
	counts := map[string]int{}
	var failed []string
	for _, ch := range rep.Verification {
		counts[ch.Status]++
		if ch.Status == rpt.CheckFail {
			failed = append(failed, ch.Check+": "+ch.Detail)
		}
	}
	if rep.Subject.SHA256Source == rpt.SHA256Unavailable && !c.Bool("quiet") {
		fmt.Fprintf(e.stderr, "trove: warning: no SHA-256 for %s: %s\n", rep.Subject.Path, rep.Subject.SHA256Note)
	}
	e.summary(c, "%s; %d checks: %d pass, %d warn, %d skip, %d fail", what, len(rep.Verification),
		counts[rpt.CheckPass], counts[rpt.CheckWarn], counts[rpt.CheckSkip], counts[rpt.CheckFail])
	if len(failed) > 0 {
		return &cliError{code: exitIntegrity, msg: fmt.Sprintf("%s failed verification: %s", plural(int64(len(failed)), "check"), strings.Join(failed, "; ")),
			hints: []string{"the report was written all the same: its verification transcript says what does not hold together"}}
	}
	return nil
}
