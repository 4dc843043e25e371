package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/trove-dev/trove/manifest"
)

var (
	jsonFlag  = &cli.BoolFlag{Name: "json", Usage: "print the result as JSON on stdout"}
	quietFlag = &cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress and no summary"}
	jobsFlag  = &cli.IntFlag{Name: "jobs", Aliases: []string{"j"}, Usage: "parallel workers (default: the number of CPUs for local work, 4 per CPU and at least 8 for transfers)"}
)

// writeJSON prints v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

var cellPad = tw.CellPadding{Global: tw.Padding{Left: "", Right: "  ", Overwrite: true}}

// table prints rows under a header, aligned, without borders.
func table(w io.Writer, header []string, rows [][]string) error {
	var buf bytes.Buffer
	t := tablewriter.NewTable(&buf,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
			Borders: tw.BorderNone,
			Symbols: tw.NewSymbols(tw.StyleNone),
			Settings: tw.Settings{
				Separators: tw.Separators{BetweenRows: tw.Off, BetweenColumns: tw.Off},
				Lines:      tw.Lines{ShowHeaderLine: tw.Off},
			},
		})),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithHeaderAlignment(tw.AlignLeft),
		tablewriter.WithRowAlignment(tw.AlignLeft),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithTrimSpace(tw.Off),
		tablewriter.WithHeaderConfig(tw.CellConfig{Padding: cellPad}),
		tablewriter.WithRowConfig(tw.CellConfig{Padding: cellPad}),
	)
	t.Header(header)
	for _, r := range rows {
		if err := t.Append(r); err != nil {
			return err
		}
	}
	if err := t.Render(); err != nil {
		return err
	}
	// Trailing blanks only get in the way of diff and grep.
	for _, line := range strings.SplitAfter(buf.String(), "\n") {
		if line == "" {
			continue
		}
		if _, err := io.WriteString(w, strings.TrimRight(line, " \n")+"\n"); err != nil {
			return err
		}
	}
	return nil
}

// human formats a byte count.
func human(n int64) string {
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

func plural(n int64, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// summary prints the final line of a command on stderr unless --quiet.
func (e *env) summary(c *cli.Context, format string, args ...any) {
	if c.Bool("quiet") {
		return
	}
	fmt.Fprintf(e.stderr, "trove: "+format+"\n", args...)
}

// progress draws events on a terminal at most ten times a second.
type progress struct {
	mu     sync.Mutex
	w      io.Writer
	on     bool
	start  time.Time
	last   time.Time
	drawn  bool
	lastEv manifest.Event
}

func (e *env) progress(c *cli.Context) *progress {
	p := &progress{w: e.stderr, start: time.Now()}
	if f, ok := e.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) && !c.Bool("quiet") && !c.Bool("json") {
		p.on = e.getenv("TERM") != "dumb"
	}
	return p
}

func (p *progress) event(ev manifest.Event) {
	if !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	p.lastEv = ev
	if now.Sub(p.last) < 100*time.Millisecond && ev.Bytes < ev.TotalBytes {
		return
	}
	p.last = now
	rate := float64(ev.Bytes) / now.Sub(p.start).Seconds()
	pct := 100.0
	if ev.TotalBytes > 0 {
		pct = 100 * float64(ev.Bytes) / float64(ev.TotalBytes)
	}
	line := fmt.Sprintf("%s %s  %s / %s  %3.0f%%  %s/s", ev.Op, ev.Path, human(ev.Bytes), human(ev.TotalBytes), pct, human(int64(rate)))
	if ev.TotalFiles > 1 {
		line += fmt.Sprintf("  %d/%d files", ev.Files, ev.TotalFiles)
	}
	fmt.Fprintf(p.w, "\r\x1b[K%s", line)
	p.drawn = true
}

// done clears the progress line.
func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.drawn = false
	}
}

func since(t time.Time) string {
	d := time.Since(t)
	if d < time.Second {
		return fmt.Sprintf("%dms", d.Milliseconds())
	}
	return fmt.Sprintf("%.1fs", d.Seconds())
}

// relTo shows a repository-relative path relative to the current directory.
func relTo(r *manifest.Repo, cwd, rel string) string {
	p, err := filepathRel(cwd, r.Abs(rel))
	if err != nil {
		return rel
	}
	return p
}
