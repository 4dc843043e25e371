package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/trove-dev/trove/governance"
)

// WriteJSON writes the report as JSON (two-space indent, trailing newline),
// the document testdata/schemas/trove-report-v1.schema.json describes.
func WriteJSON(w io.Writer, rep *Report) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// Section titles, in order; Markdown and HTML use the same.
const (
	secSubject      = "Subject"
	secProducer     = "Producer and authors"
	secTimes        = "Times"
	secData         = "Training and evaluation data"
	secCode         = "Code"
	secEnvironment  = "Environment"
	secParameters   = "Parameters"
	secMetrics      = "Metrics"
	secUse          = "Intended use and limitations"
	secApprovals    = "Approvals"
	secDecisions    = "Policy decisions"
	secWaivers      = "Waivers"
	secHistory      = "Stage history"
	secLineage      = "Lineage"
	secVerification = "Verification transcript"
	secWarnings     = "Warnings"
)

// Sections lists the section titles of the Markdown and HTML reports, in
// order (Warnings only when there are some).
var Sections = []string{secSubject, secProducer, secTimes, secData, secCode, secEnvironment, secParameters,
	secMetrics, secUse, secApprovals, secDecisions, secWaivers, secHistory, secLineage, secVerification, secWarnings}

// Graph returns the lineage as a governance.Graph, for its DOT and Mermaid
// writers.
func (l *Lineage) Graph() *governance.Graph {
	g := &governance.Graph{Direction: governance.Upstream, Root: l.Root, Nodes: []governance.Node{}, Edges: []governance.Edge{}}
	for _, n := range l.Nodes {
		g.Nodes = append(g.Nodes, governance.Node{ID: n.ID, Path: n.Path, Name: n.Name, Kind: n.Kind, Digest: n.Digest, Commit: n.Commit, Author: n.Author, Time: n.Time, Unresolved: n.Unresolved})
	}
	for _, e := range l.Edges {
		g.Edges = append(g.Edges, governance.Edge{From: e.From, To: e.To, Role: e.Role})
	}
	return g
}

// WriteMarkdown writes the report as Markdown: a heading per section, tables,
// and the lineage as a Mermaid flowchart.
func WriteMarkdown(w io.Writer, rep *Report) error {
	var b bytes.Buffer
	md := &mdWriter{b: &b}
	s := &rep.Subject
	fmt.Fprintf(&b, "# Lineage report: %s@%s\n\n", s.Name, s.Version)
	origin := ""
	if rep.Repository.Remote != "" {
		origin = ", origin " + code(rep.Repository.Remote)
	}
	fmt.Fprintf(&b, "Generated %s by %s in repository %s%s for %s. Report format %s v%d.\n\n",
		rep.GeneratedAt, orNone(rep.Generator), code(rep.Repository.Name), origin, code(rep.Query), rep.Format, rep.FormatVersion)
	b.WriteString("> Every time below is asserted by the clock of whoever wrote it (*self-asserted*). Signatures on the\n" +
		"> registrations, promotions and approvals are verified by `trove audit verify`, whose checks end the verification transcript.\n")
	if rep.Failed() {
		b.WriteString(">\n> **Some verification checks failed**: see the verification transcript.\n")
	}

	md.section(secSubject)
	sha := "*not available*: " + s.SHA256Note
	if s.Digests.SHA256 != "" {
		sha = code(s.Digests.SHA256) + " (" + sha256Source(s.SHA256Source) + ")"
	}
	stages := "none"
	if len(s.Stages) > 0 {
		stages = strings.Join(s.Stages, ", ")
	}
	rows := [][]string{
		{"Name", s.Name},
		{"Version", s.Version},
		{"Artifact", code(s.Path) + " (" + s.Kind + ", " + s.Type + ")"},
		{"Size", fmt.Sprintf("%d bytes in %s", s.Size, plural(s.Files, "file"))},
		{"BLAKE3", code(s.Digests.BLAKE3)},
		{"SHA-256", sha},
		{"Store object", code(s.Object)},
		{"Registered", fmt.Sprintf("tag %s at %s by %s", code(s.Tag), s.RegisteredAt, s.RegisteredBy)},
		{"Manifest commit", code(s.ManifestCommit)},
		{"Stages held now", stages},
		{"Deprecated", yesNo(s.Deprecated)},
	}
	if s.RecordedIn != "" && s.RecordedIn != s.ManifestCommit {
		rows = append(rows, []string{"First recorded in", code(s.RecordedIn)})
	}
	if s.Message != "" {
		rows = append(rows, []string{"Registration message", s.Message})
	}
	for _, k := range slices.Sorted(maps.Keys(s.Meta)) {
		if k != MetaIntendedUse && k != MetaLimitations {
			rows = append(rows, []string{"meta." + k, s.Meta[k]})
		}
	}
	md.table([]string{"Field", "Value"}, rows)

	md.section(secProducer)
	p := rep.Producer
	switch {
	case len(p.Command) > 0:
		fmt.Fprintf(&b, "Made by `%s`: %s.", p.Tool, code(CommandLine(p.Command)))
	default:
		fmt.Fprintf(&b, "Made by `%s` (no command recorded).", p.Tool)
	}
	if p.Trigger != "" {
		fmt.Fprintf(&b, " Trigger: %s.", code(p.Trigger))
	}
	b.WriteString("\n\n")
	rows = nil
	for _, a := range rep.Authors {
		rows = append(rows, []string{a.Role, a.Identity, a.Source, orDash(a.At), signature(a)})
	}
	md.table([]string{"Role", "Who", "Source", "When", "Signature"}, rows)

	md.section(secTimes)
	rows = nil
	for _, t := range rep.Times {
		sa := "no"
		if t.SelfAsserted {
			sa = "*self-asserted*"
		}
		rows = append(rows, []string{t.What, t.At, t.Source, sa})
	}
	md.table([]string{"What", "When", "Source", "Trust"}, rows)

	md.section(secData)
	if len(rep.Data) == 0 {
		b.WriteString("No inputs are recorded.\n")
	} else {
		rows = nil
		for _, d := range rep.Data {
			digest := code(d.Digest)
			if d.SHA256 != "" {
				digest += "<br>" + code(d.SHA256)
			}
			version := "*not found in the history*"
			if d.Resolved {
				version = "commit " + code(short(d.Version))
				if d.Version == "" {
					version = "uncommitted"
				}
			}
			if len(d.Registered) > 0 {
				version += "<br>registered " + strings.Join(d.Registered, ", ")
			}
			rowsCell := "-"
			if d.Rows != nil {
				rowsCell = strconv.FormatInt(*d.Rows, 10)
			}
			rows = append(rows, []string{orDash(d.Role), code(d.Path), orDash(d.Kind), digest, version, rowsCell, orDash(d.License), orDash(d.Classification), orDash(d.Owner)})
		}
		md.table([]string{"Role", "Path", "Kind", "Digest", "Version", "Rows", "License", "Classification", "Owner"}, rows)
		for _, d := range rep.Data {
			if len(d.Schema) == 0 {
				continue
			}
			fmt.Fprintf(&b, "\nSchema of %s (%s, format %s):\n\n", code(d.Path), orDash(d.Role), orDash(d.Format))
			rows = nil
			for _, c := range d.Schema {
				rows = append(rows, []string{c.Name, c.Type, strconv.FormatInt(c.Nulls, 10)})
			}
			md.table([]string{"Column", "Type", "Nulls"}, rows)
		}
	}

	md.section(secCode)
	if c := rep.Code; c == nil {
		b.WriteString("No code commit is recorded.\n")
	} else {
		md.table([]string{"Commit", "Working tree", "Remote", "In this repository"},
			[][]string{{code(c.Commit), cleanDirty(c.Dirty), orDash(c.Remote), yesNo(c.InRepository)}})
	}

	md.section(secEnvironment)
	md.kv(rep.Environment, "No environment is recorded.")
	md.section(secParameters)
	md.kv(rep.Parameters, "No parameters are recorded.")

	md.section(secMetrics)
	if c := rep.Comparison; c != nil {
		fmt.Fprintf(&b, "Compared with %s, which %s; same evaluation data: %s.\n\n", code(s.Name+"@"+c.Version), c.Basis, yesNo(c.SameEvalData))
	} else {
		b.WriteString("No other version holds or held a stage to compare with.\n\n")
	}
	if len(rep.Metrics) == 0 {
		b.WriteString("No metrics are recorded.\n")
	} else {
		rows = nil
		for _, m := range rep.Metrics {
			rows = append(rows, []string{m.Name, num(m.Value), optNum(m.Previous), optDelta(m.Delta), thresholds(m.Thresholds)})
		}
		md.table([]string{"Metric", "Value", "Previous", "Change", "Thresholds (" + rep.Policy.Path + ")"}, rows)
	}

	md.section(secUse)
	fmt.Fprintf(&b, "**Intended use.** %s\n\n", orMissing(mdText(rep.IntendedUse), MetaIntendedUse))
	fmt.Fprintf(&b, "**Limitations.** %s\n", orMissing(mdText(rep.Limitations), MetaLimitations))

	md.section(secApprovals)
	a := rep.Approvals
	if a.Status != "loaded" {
		what := "Not readable"
		if a.Status == "none" {
			what = "None"
		}
		fmt.Fprintf(&b, "%s: %s.\n", what, a.Note)
	} else {
		rows = nil
		for _, ap := range a.Items {
			valid := "valid"
			if !ap.ValidSignature {
				valid = "**does not count**: " + ap.Problem
			}
			roles := strings.Join(ap.Roles, ", ")
			if len(ap.RolesNotGranted) > 0 {
				roles = strings.TrimPrefix(roles+"; not granted: "+strings.Join(ap.RolesNotGranted, ", "), "; ")
			}
			rows = append(rows, []string{ap.Signer, orDash(roles), ap.Stage, orDash(ap.At), orDash(ap.Comment), valid, code(ap.Key), code(ap.File)})
		}
		md.table([]string{"Signer", "Roles", "Stage", "At", "Comment", "Signature", "Key", "Record"}, rows)
	}

	md.section(secDecisions)
	fmt.Fprintf(&b, "Policy file %s: %s.\n", code(rep.Policy.Path), policyState(rep.Policy))
	if len(rep.Decisions) == 0 {
		b.WriteString("\nThis version was never promoted.\n")
	}
	for _, d := range rep.Decisions {
		fmt.Fprintf(&b, "\n### %s: %s\n\n", d.Tag, d.Stage)
		fmt.Fprintf(&b, "Promoted at %s by %s. ", d.At, d.By)
		if !d.Recorded {
			fmt.Fprintf(&b, "%s.\n", strings.TrimSuffix(d.Note, "."))
			continue
		}
		if d.Allowed != nil {
			fmt.Fprintf(&b, "Decision: **%s**, evaluated at %s under policy %s (input %s).\n", allowedWord(*d.Allowed), orDash(d.EvaluatedAt), code(d.PolicyDigest), code(d.InputDigest))
		}
		if d.Note != "" {
			fmt.Fprintf(&b, "%s\n", d.Note)
		}
		if len(d.Raw) > 0 {
			fmt.Fprintf(&b, "\n```json\n%s\n```\n", d.Raw)
			continue
		}
		b.WriteString("\n")
		rows = nil
		for _, r := range d.Results {
			reason := r.Reason
			if r.Waiver != nil {
				reason = strings.TrimSpace(reason + " waived by " + r.Waiver.Approver + " until " + r.Waiver.Expires + ": " + r.Waiver.Reason)
			}
			rows = append(rows, []string{r.Rule, r.Type, "**" + r.Status + "**", orDash(r.Observed), orDash(r.Expected), orDash(reason)})
		}
		md.table([]string{"Rule", "Type", "Status", "Observed", "Expected", "Reason"}, rows)
	}

	md.section(secWaivers)
	if len(rep.Waivers) == 0 {
		b.WriteString("No waiver names this version.\n")
	} else {
		rows = nil
		for _, wv := range rep.Waivers {
			rows = append(rows, []string{wv.Rule, wv.Reason, wv.Approver, wv.Expires, wv.Source, yesNo(wv.Active)})
		}
		md.table([]string{"Rule", "Reason", "Approver", "Expires", "Source", "Active"}, rows)
	}

	md.section(secHistory)
	if len(rep.StageHistory) == 0 {
		b.WriteString("No version of this model has held a stage.\n")
	} else {
		rows = nil
		for _, sp := range rep.StageHistory {
			v := sp.Version
			if sp.Subject {
				v = "**" + v + "**"
			}
			rows = append(rows, []string{sp.Stage, v, sp.From, orDash(sp.Until), code(sp.Tag), sp.By, orDash(sp.EndedBy)})
		}
		md.table([]string{"Stage", "Version", "From", "Until", "Tag", "By", "Ended by"}, rows)
	}

	md.section(secLineage)
	b.WriteString("```mermaid\n")
	if err := governance.WriteMermaid(&b, rep.Lineage.Graph()); err != nil {
		return err
	}
	b.WriteString("```\n")
	if len(rep.Lineage.Runs) > 0 {
		b.WriteString("\nRecorded steps, upstream first:\n\n")
		rows = nil
		for _, r := range rep.Lineage.Runs {
			var ins, outs []string
			for _, in := range r.Inputs {
				ins = append(ins, strings.TrimPrefix(in.Role+": ", ": ")+code(in.Path))
			}
			for _, o := range r.Outputs {
				outs = append(outs, code(o.Path))
			}
			commit := "-"
			if r.Code != nil {
				commit = code(short(r.Code.Commit))
				if r.Code.Dirty {
					commit += " (dirty)"
				}
			}
			rows = append(rows, []string{r.ID, code(CommandLine(r.Command)), orDash(r.Started), orDash(r.Ended), commit, strings.Join(ins, "<br>"), strings.Join(outs, "<br>")})
		}
		md.table([]string{"Step", "Command", "Started", "Ended", "Code", "Inputs", "Outputs"}, rows)
	}

	md.section(secVerification)
	rows = nil
	for i, c := range rep.Verification {
		rows = append(rows, []string{strconv.Itoa(i + 1), c.Check, "**" + c.Status + "**", orDash(c.Detail)})
	}
	md.table([]string{"#", "Check", "Status", "Detail"}, rows)

	if len(rep.Warnings) > 0 {
		md.section(secWarnings)
		for _, wn := range rep.Warnings {
			fmt.Fprintf(&b, "- %s\n", mdText(wn))
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

type mdWriter struct{ b *bytes.Buffer }

func (m *mdWriter) section(title string) { fmt.Fprintf(m.b, "\n## %s\n\n", title) }

func (m *mdWriter) table(header []string, rows [][]string) {
	if len(rows) == 0 {
		m.b.WriteString("None.\n")
		return
	}
	m.b.WriteString("| " + strings.Join(header, " | ") + " |\n|")
	for range header {
		m.b.WriteString("---|")
	}
	m.b.WriteString("\n")
	for _, r := range rows {
		cells := make([]string, len(r))
		for i, c := range r {
			cells[i] = cell(c)
		}
		m.b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
}

func (m *mdWriter) kv(kv map[string]string, empty string) {
	if len(kv) == 0 {
		m.b.WriteString(empty + "\n")
		return
	}
	var rows [][]string
	for _, k := range slices.Sorted(maps.Keys(kv)) {
		rows = append(rows, []string{code(k), code(kv[k])})
	}
	m.table([]string{"Key", "Value"}, rows)
}

// cell makes text safe in a table cell: pipes escaped, line breaks as <br>.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\n", "<br>")
}

// mdText escapes what Markdown would read as markup in free text.
func mdText(s string) string {
	r := strings.NewReplacer(`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "<", "&lt;", ">", "&gt;", "[", `\[`, "]", `\]`)
	return r.Replace(s)
}

// code formats s as inline code, with a fence longer than any run of
// backticks in it.
func code(s string) string {
	if s == "" {
		return "-"
	}
	fence := "`"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		return fence + " " + s + " " + fence
	}
	return fence + s + fence
}

func sha256Source(src string) string {
	switch src {
	case SHA256Computed:
		return "computed from the bytes in the local store"
	case SHA256Cache:
		return "from the local cache, computed earlier from the bytes in the local store"
	}
	return src
}

func signature(p Person) string {
	s := p.Signature
	if p.SignatureType != "" && p.Signature == SignedNotVerified {
		s = fmt.Sprintf("signed, %s (not verified here)", p.SignatureType)
	}
	if p.SignatureKey != "" {
		s += ", key " + p.SignatureKey
	}
	return s
}

func thresholds(ts []Threshold) string {
	if len(ts) == 0 {
		return "-"
	}
	var out []string
	for _, t := range ts {
		s := t.Rule + ": "
		switch {
		case t.Type == "no_regression":
			s += fmt.Sprintf("no regression beyond %s", num(*t.Tolerance))
		case t.Value != nil:
			s += t.Op + " " + num(*t.Value)
		}
		if len(t.Stages) > 0 {
			s += " (" + strings.Join(t.Stages, ", ") + ")"
		}
		switch {
		case t.Pass == nil:
			s += ": not comparable"
		case *t.Pass:
			s += ": pass"
		default:
			s += ": **fail**"
		}
		out = append(out, s)
	}
	return strings.Join(out, "<br>")
}

func policyState(p PolicyInfo) string {
	switch {
	case !p.Present:
		return "absent"
	case p.Error != "":
		return "unreadable: " + p.Error
	}
	return "digest " + code(p.Digest)
}

func num(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func optNum(v *float64) string {
	if v == nil {
		return "-"
	}
	return num(*v)
}

func optDelta(v *float64) string {
	if v == nil {
		return "-"
	}
	if *v > 0 {
		return "+" + num(*v)
	}
	return num(*v)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func cleanDirty(dirty bool) string {
	if dirty {
		return "dirty"
	}
	return "clean"
}

func allowedWord(b bool) string {
	if b {
		return "allowed"
	}
	return "denied"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "trove"
	}
	return s
}

func orMissing(s, key string) string {
	if s == "" {
		return fmt.Sprintf("*Not provided* (record it with `trove add --meta %s=...`).", key)
	}
	return s
}

func plural(n int64, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// CommandLine writes a command as a POSIX shell would read it back: arguments
// with spaces or shell characters in single quotes.
func CommandLine(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=+./:,@%") == "" {
			out[i] = a
		} else {
			out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(out, " ")
}
