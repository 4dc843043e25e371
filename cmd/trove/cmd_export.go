package main

// trove export: a model version's provenance as in-toto/SLSA, OpenLineage or
// CycloneDX, from the facts `trove report` gathers (governance/export).

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/trove-dev/trove/governance/export"
)

func exportCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "export",
		Usage: "export a model version's provenance as in-toto/SLSA, OpenLineage or CycloneDX",
		Description: "intoto: an in-toto Statement v1 with an SLSA Provenance v1 predicate (unsigned);\n" +
			"subject digests sha256 (dirHash for a directory) and blake3.\n" +
			"openlineage: START and COMPLETE run events for every recorded step upstream of the\n" +
			"model, one JSON object a line, in the namespace trove://REPOSITORY.\n" +
			"cyclonedx: a CycloneDX 1.6 ML-BOM: the model with its model card, the data it was\n" +
			"made from as components, and the lineage as dependencies.\n" +
			"The facts are those of `trove report`; a failed check is exit status 3.\n" +
			"prometheus: the registry's operational state for every model (or the NAMEs given):\n" +
			"each stage's version, time since promotion, training data age, policy status, the\n" +
			"latest monitoring result and drift values, as a Prometheus text exposition file.",
		ArgsUsage: "NAME@VERSION | --format prometheus [NAME...]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Usage: strings.Join(export.Formats, ", ") + ", " + export.FormatPrometheus},
			reportOutputFlag,
			&cli.BoolFlag{Name: "rehash", Usage: "re-read the model's bytes for the SHA-256 even when it is cached"},
			&cli.BoolFlag{Name: "sha256-inputs", Usage: "also compute the SHA-256 of the model's direct inputs (when their bytes are local)"},
			quietFlag,
		},
		Action: func(c *cli.Context) error {
			if c.String("format") == export.FormatPrometheus {
				return e.exportPrometheus(c)
			}
			if c.NArg() != 1 {
				return usageErr("export needs exactly one NAME@VERSION", "e.g. trove export churn@v1.2.0 --format intoto -o churn.intoto.json")
			}
			format := c.String("format")
			known := false
			for _, f := range export.Formats {
				known = known || f == format
			}
			if !known {
				return usageErr(fmt.Sprintf("--format %q: want %s or %s", format, strings.Join(export.Formats, ", "), export.FormatPrometheus))
			}
			rep, _, _, err := e.buildReport(c, c.Args().First(), c.Bool("sha256-inputs"), false)
			if err != nil {
				return err
			}
			var buf bytes.Buffer
			if err := export.Write(&buf, format, rep); err != nil {
				return err
			}
			where, err := e.writeReportOut(c, buf.Bytes())
			if err != nil {
				return err
			}
			return e.reportDone(c, rep, fmt.Sprintf("%s export of %s@%s written to %s", format, rep.Subject.Name, rep.Subject.Version, where))
		},
	}
}
