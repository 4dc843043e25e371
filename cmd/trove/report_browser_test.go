package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/trove-dev/trove/governance/report/reporttest"
)

// chromiumPath is Debian's chromium, which scripts/deps.sh test installs.
const chromiumPath = "/usr/bin/chromium"

// The HTML report opens in a real browser (headless Chromium) without a
// console error or an exception, draws the lineage graph with every node
// visible, and renders a page that is not blank. Set TROVE_TEST_SCREENSHOT to
// a file name to keep the screenshot for a look.
//
// It fails, rather than skips, when Chromium is missing: the report is for
// people and this is the test that looks at it. `go test -short` skips it.
func TestReportHTMLInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: no browser")
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("chromium is not installed (%v): run scripts/deps.sh test (apt-get install chromium)", err)
	}
	f := reporttest.Pipeline(t)
	t.Chdir(f.Dir)
	page := filepath.Join(t.TempDir(), "report.html")
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"trove", "report", "churn@production", "--format", "html", "-o", page}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("trove report: exit %d\n%s", code, stderr.String())
	}

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		// The test network refuses Chromium's own background connections.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()

	var mu sync.Mutex
	var problems []string
	if err := chromedp.Listen(bctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				problems = append(problems, fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " ")))
			}
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			text := d.Text
			if d.Exception != nil {
				text += " " + d.Exception.Description
			}
			problems = append(problems, fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber, text))
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError {
				problems = append(problems, fmt.Sprintf("log %s: %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
			}
		}
	}); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	// chromedp enables the runtime and log domains on every target.
	if err := chromedp.Do(bctx,
		chromedp.Navigate("file://"+page),
		chromedp.WaitVisible(chromedp.CSS(`svg[aria-label="lineage graph"]`)),
	); err != nil {
		t.Fatalf("open the report: %v", err)
	}

	type box struct {
		ID            string
		Width, Height float64
	}
	boxes, err := chromedp.Run(bctx, chromedp.Evaluate[[]box](`Array.from(document.querySelectorAll('svg[aria-label="lineage graph"] g[id^="node-"]')).map(g => {
		const r = g.getBoundingClientRect();
		return {ID: g.id, Width: r.width, Height: r.height};
	})`))
	if err != nil {
		t.Fatalf("read the graph: %v", err)
	}
	if len(boxes) < 4 {
		t.Errorf("the lineage graph has %d nodes, want the pipeline's (at least 4): %+v", len(boxes), boxes)
	}
	for _, b := range boxes {
		if b.Width <= 0 || b.Height <= 0 {
			t.Errorf("graph node %s has an empty bounding box (%gx%g)", b.ID, b.Width, b.Height)
		}
	}
	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if p := os.Getenv("TROVE_TEST_SCREENSHOT"); p != "" {
		if err := os.WriteFile(p, shot, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("the screenshot is not a PNG: %v", err)
	}
	colors, ink := pixelVariety(img)
	if colors < 16 || ink < 0.01 {
		t.Errorf("the page looks blank: %d distinct colours, %.2f%% of pixels not background", colors, 100*ink)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Errorf("browser: %s", p)
	}
}

// pixelVariety counts distinct colours (on a grid of samples) and the share of
// pixels that differ from the top-left one, the page's background.
func pixelVariety(img image.Image) (colors int, ink float64) {
	b := img.Bounds()
	bg := img.At(b.Min.X, b.Min.Y)
	br, bgc, bb, _ := bg.RGBA()
	seen := map[[3]uint32]bool{}
	total, other := 0, 0
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			seen[[3]uint32{r >> 8, g >> 8, bl >> 8}] = true
			total++
			if r != br || g != bgc || bl != bb {
				other++
			}
		}
	}
	if total == 0 {
		return 0, 0
	}
	return len(seen), float64(other) / float64(total)
}
