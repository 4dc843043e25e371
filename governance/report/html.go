package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

//go:embed report.html.tmpl
var htmlTemplate string

// WriteHTML writes the report as one self-contained HTML page: styles inline
// (with print rules), the lineage as an inline SVG laid out here, no script
// and no request to anywhere, so it can be archived, mailed and printed as it
// is.
func WriteHTML(w io.Writer, rep *Report) error {
	t, err := template.New("report").Funcs(template.FuncMap{
		"yesNo":        yesNo,
		"num":          num,
		"optNum":       optNum,
		"optDelta":     optDelta,
		"orDash":       orDash,
		"short":        short,
		"shortDigest":  shortDigest,
		"join":         strings.Join,
		"cmdline":      CommandLine,
		"signature":    signature,
		"sha256Source": sha256Source,
		"cleanDirty":   cleanDirty,
		"allowedWord":  allowedWord,
		"threshold":    thresholdText,
		"passClass":    passClass,
		"sorted":       func(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) },
		"anchor":       anchor,
		"add1":         func(i int) int { return i + 1 },
		"int64":        func(p *int64) string { return strconv.FormatInt(*p, 10) },
		"metaRows": func(m map[string]string) []string {
			var out []string
			for _, k := range slices.Sorted(maps.Keys(m)) {
				if k != MetaIntendedUse && k != MetaLimitations {
					out = append(out, k)
				}
			}
			return out
		},
		"plural": plural,
	}).Parse(htmlTemplate)
	if err != nil {
		return err
	}
	return t.Execute(w, htmlView{Report: rep, Sections: Sections, Graph: layout(&rep.Lineage)})
}

type htmlView struct {
	*Report
	Sections []string
	Graph    svgGraph
}

func anchor(title string) string {
	return strings.ToLower(strings.NewReplacer(" ", "-").Replace(title))
}

func thresholdText(t Threshold) string {
	s := t.Rule + ": "
	switch {
	case t.Type == "no_regression" && t.Tolerance != nil:
		s += "no regression beyond " + num(*t.Tolerance)
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
		s += ": fail"
	}
	return s
}

func passClass(t Threshold) string {
	switch {
	case t.Pass == nil:
		return "skip"
	case *t.Pass:
		return "pass"
	}
	return "fail"
}

// The lineage drawing: one column per depth, raw data on the left and the
// subject on the right, as `trove lineage --format mermaid` draws it; a box
// per artifact version and a curve per input, labelled with its role.
const (
	boxW    = 250
	boxH    = 74
	gapX    = 110
	gapY    = 26
	marginX = 16
	marginY = 16
	lineH   = 15
	maxChar = 34
)

type svgGraph struct {
	Width, Height int
	Boxes         []svgBox
	Edges         []svgEdge
}

type svgBox struct {
	ID         string
	X, Y, W, H int
	Lines      []svgLine
	Title      string
	Root       bool
	Unresolved bool
}

type svgLine struct {
	X, Y  int
	Text  string
	Class string
}

type svgEdge struct {
	D      string
	LX, LY int
	Label  string
}

func layout(l *Lineage) svgGraph {
	maxDepth := 0
	for _, n := range l.Nodes {
		maxDepth = max(maxDepth, n.Depth)
	}
	count := make([]int, maxDepth+1) // boxes in each column
	for _, n := range l.Nodes {
		count[n.Depth]++
	}
	most := slices.Max(append(count, 0))
	rows := make([]int, maxDepth+1) // boxes placed in each column so far
	pos := map[string][2]int{}
	var g svgGraph
	for _, n := range l.Nodes {
		col := maxDepth - n.Depth
		x := marginX + col*(boxW+gapX)
		// Columns with fewer boxes are centred on the tallest.
		y := marginY + (most-count[n.Depth])*(boxH+gapY)/2 + rows[n.Depth]*(boxH+gapY)
		rows[n.Depth]++
		pos[n.ID] = [2]int{x, y}
		what := n.Kind
		if n.Size > 0 {
			what = strings.TrimPrefix(what+", "+humanBytes(n.Size), ", ")
		}
		status := "commit " + short(n.Commit)
		switch {
		case n.Unresolved:
			status = "not found in the history"
		case n.Commit == "":
			status = "uncommitted"
		}
		if n.Run != "" {
			status += " · " + n.Run
		}
		texts := []struct{ s, class string }{{n.Path, "path"}, {what, ""}, {shortDigest(n.Digest), "mono"}, {status, ""}}
		box := svgBox{ID: n.ID, X: x, Y: y, W: boxW, H: boxH, Root: n.ID == l.Root, Unresolved: n.Unresolved,
			Title: n.Path + "\n" + n.Digest}
		for i, t := range texts {
			box.Lines = append(box.Lines, svgLine{X: x + 10, Y: y + 18 + i*lineH, Text: ellipsis(t.s, maxChar), Class: t.class})
		}
		g.Boxes = append(g.Boxes, box)
	}
	for _, e := range l.Edges {
		from, ok1 := pos[e.From]
		to, ok2 := pos[e.To]
		if !ok1 || !ok2 {
			continue
		}
		x1, y1 := from[0]+boxW, from[1]+boxH/2
		x2, y2 := to[0]-2, to[1]+boxH/2
		c := (x2 - x1) / 2
		g.Edges = append(g.Edges, svgEdge{
			D:  fmt.Sprintf("M %d %d C %d %d, %d %d, %d %d", x1, y1, x1+c, y1, x2-c, y2, x2, y2),
			LX: x1 + (x2-x1)/2, LY: y1 + (y2-y1)/2 - 4, Label: e.Role,
		})
	}
	g.Width = 2*marginX + (maxDepth+1)*boxW + maxDepth*gapX
	g.Height = 2*marginY + most*boxH + max(most-1, 0)*gapY
	return g
}

func ellipsis(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	// Keep the end of a path: the file name says more than the directories.
	return "…" + string(r[len(r)-n+1:])
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
