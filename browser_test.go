package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"

	"github.com/unico-reconcile/unico-reconcile/job"
	"github.com/unico-reconcile/unico-reconcile/reconcile"
	"github.com/unico-reconcile/unico-reconcile/simulator"
)

// screenshotDir, when set (make screenshot), is where the browser test
// saves PNGs of the pages it renders.
var screenshotDir = flag.String("screenshot", "", "save PNGs of the rendered reports in this folder")

// MustChromium finds the browser: UNICO_TEST_CHROMIUM, else chromium on
// the PATH. Without one the test skips, visibly, unless
// UNICO_TEST_DISALLOW_SKIP is set (CI), where it fails.
func MustChromium(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv("UNICO_TEST_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no Chromium (set UNICO_TEST_CHROMIUM, or install the Debian package chromium): the report's browser test did not run"
	if os.Getenv("UNICO_TEST_DISALLOW_SKIP") != "" {
		tb.Fatal(msg)
	}
	tb.Skip("SKIP: " + msg)
	return ""
}

// MustBrowser starts headless Chromium with a fresh profile and no network
// services; it is stopped when the test ends.
func MustBrowser(tb testing.TB) context.Context {
	tb.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(MustChromium(tb)),
		chromedp.UserDataDir(tb.TempDir()),
		chromedp.NoSandbox, // as root in CI
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.WindowSize(1280, 900),
	)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	tb.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	tb.Cleanup(cancel2)
	ctx, cancel3 := context.WithTimeout(ctx, 2*time.Minute)
	tb.Cleanup(cancel3)
	if err := chromedp.Do(ctx); err != nil {
		tb.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// pageDOM is what the test reads from a rendered report.html.
type pageDOM struct {
	Title          string            `json:"title"`
	Facts          map[string]string `json:"facts"`
	Counts         map[string]string `json:"counts"`
	Bars           []string          `json:"bars"`
	Discrepancies  int               `json:"discrepancies"`
	Kinds          []string          `json:"kinds"`
	Unverified     int               `json:"unverified"`
	UnverifiedKind int               `json:"unverifiedInDiscrepancies"`
	Note           string            `json:"note"`
	UnverifiedNote string            `json:"unverifiedNote"`
	Scripts        int               `json:"scripts"`
	Cells          []string          `json:"cells"`
}

const readDOM = `(() => {
	const text = (sel) => { const e = document.querySelector(sel); return e ? e.textContent.trim() : ""; };
	const rows = (sel) => Array.from(document.querySelectorAll(sel));
	const pairs = (sel) => Object.fromEntries(rows(sel).map(tr => [tr.cells[0].textContent.trim(), tr.cells[1].textContent.trim()]));
	const disc = rows("#discrepancies tbody tr");
	return {
		title: document.title,
		facts: Object.fromEntries(rows("#facts tr").map(tr => [tr.querySelector("th").textContent.trim(), tr.querySelector("td").textContent.trim()])),
		counts: pairs("#counts tbody tr"),
		bars: rows("svg#chart rect.bar").map(r => r.parentNode.getAttribute("data-kind")),
		discrepancies: disc.length,
		kinds: Array.from(new Set(disc.map(tr => tr.cells[2].textContent.trim()))).sort(),
		unverified: rows("#unverified tbody tr").length,
		unverifiedInDiscrepancies: disc.filter(tr => tr.cells[2].textContent.trim() === "unverified").length,
		note: text("#discrepancies-note"),
		unverifiedNote: text("#unverified-note"),
		scripts: document.querySelectorAll("script, img, iframe, object, embed").length,
		cells: rows("td").map(td => td.textContent),
	};
})()`

// MustRender opens path in the browser and reads its DOM; with
// -screenshot it also saves PNGs of the first screen (png) and of the
// whole page.
func MustRender(tb testing.TB, ctx context.Context, path, png string) pageDOM {
	tb.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate("file://"+path)); err != nil {
		tb.Fatalf("open %s: %v", path, err)
	}
	dom, err := chromedp.Run(ctx, chromedp.Evaluate[pageDOM](readDOM))
	if err != nil {
		tb.Fatalf("read %s: %v", path, err)
	}
	if *screenshotDir == "" || png == "" {
		return dom
	}
	if err := os.MkdirAll(*screenshotDir, 0o755); err != nil {
		tb.Fatal(err)
	}
	// The first screen of a tall window (png), and the whole page (png
	// with -full).
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 1500)); err != nil {
		tb.Fatal(err)
	}
	full := strings.TrimSuffix(png, ".png") + "-full.png"
	for name, shoot := range map[string]chromedp.Action[[]byte]{png: chromedp.CaptureScreenshot(), full: chromedp.FullScreenshot(100)} {
		shot, err := chromedp.Run(ctx, shoot)
		if err != nil {
			tb.Fatalf("screenshot %s: %v", path, err)
		}
		if err := os.WriteFile(filepath.Join(*screenshotDir, name), shot, 0o644); err != nil {
			tb.Fatal(err)
		}
		tb.Logf("saved %s", filepath.Join(*screenshotDir, name))
	}
	return dom
}

// MustMatchSummary checks a rendered run page against the run's
// summary.json: the title, the metadata, the counts table and the chart.
func MustMatchSummary(tb testing.TB, dom pageDOM, dir string) {
	tb.Helper()
	s := MustSummary(tb, dir)
	if want := "Reconciliation report: run " + s.RunID; dom.Title != want {
		tb.Errorf("title %q, want %q", dom.Title, want)
	}
	login, host := job.Runner()
	for name, want := range map[string]string{
		"Run": s.RunID, "Source": s.Source, "API root": s.APIRoot, "Environment": "custom",
		"Ran by": login + " on " + host, "Source SHA-256": sha256Hex(MustRead(tb, s.Source)),
		"Started": s.StartedAt.UTC().Format("2006-01-02 15:04:05.000 UTC"), "Workers": "16", "Rate": "unlimited",
	} {
		if got := dom.Facts[name]; got != want {
			tb.Errorf("metadata %q = %q, want %q", name, got, want)
		}
	}
	counts := map[string]string{}
	for k, n := range s.Counts {
		counts[k] = fmt.Sprintf("%d", n)
		if n >= 1000 {
			counts[k] = fmt.Sprintf("%d,%03d", n/1000, n%1000)
		}
	}
	if diff := cmp.Diff(counts, dom.Counts); diff != "" {
		tb.Errorf("counts table differs from summary.json (-summary +page):\n%s", diff)
	}
	want := []string{"lost_response", "status_mismatch", "result_mismatch", "not_found", "still_processing", "unverified", "invalid_input", "duplicate_id"}
	if diff := cmp.Diff(want, dom.Bars); diff != "" {
		tb.Errorf("chart bars (-want +got):\n%s", diff)
	}
	if dom.Scripts != 0 {
		tb.Errorf("the page holds %d scripts, images or frames", dom.Scripts)
	}
}

// TestBrowser_Report renders report.html of the demo run (every kind) and
// of a 10,000-discrepancy run in headless Chromium and checks the page
// through its DOM.
func TestBrowser_Report(t *testing.T) {
	ctx := MustBrowser(t)
	t.Run("Demo", func(t *testing.T) {
		_, srv := MustSimulator(t, "testdata/demo/processes.jsonl", simulator.Config{APIKey: testAPIKey, Token: testToken})
		src, err := filepath.Abs("testdata/demo/saved.csv")
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(t.TempDir(), "demo")
		if r := MustRun(t, credentials, runArgs(src, srv.URL, out, "--max-retries", "1")...); r.code != 3 {
			t.Fatalf("demo run: exit %d\n%s", r.code, r.stderr)
		}
		dom := MustRender(t, ctx, filepath.Join(out, "report.html"), "report.png")
		MustMatchSummary(t, dom, out)
		s := MustSummary(t, out)
		listed := 0
		var kinds []string
		for _, k := range []string{"duplicate_id", "invalid_input", "lost_response", "not_found", "result_mismatch", "status_mismatch", "still_processing"} {
			if s.Counts[k] == 0 {
				t.Fatalf("the demo run has no %s: it must show every kind", k)
			}
			listed += s.Counts[k]
			kinds = append(kinds, k)
		}
		if dom.Discrepancies != listed || dom.UnverifiedKind != 0 {
			t.Errorf("%d discrepancy rows (%d unverified among them), want %d and none", dom.Discrepancies, dom.UnverifiedKind, listed)
		}
		if diff := cmp.Diff(kinds, dom.Kinds); diff != "" {
			t.Errorf("kinds in the discrepancy table (-want +got):\n%s", diff)
		}
		if dom.Unverified != s.Counts["unverified"] || dom.Unverified == 0 {
			t.Errorf("%d unverified rows, want %d (apart from the discrepancies)", dom.Unverified, s.Counts["unverified"])
		}
		if strings.Contains(dom.Note, "first") {
			t.Errorf("note %q: the demo's discrepancies all fit", dom.Note)
		}
	})
	t.Run("TenThousand", func(t *testing.T) {
		dir := t.TempDir()
		data, saved, _ := MustDataset(t, dir, 16668) // 6 discrepancies in 10 rows: 10,000
		_, url := MustSwitchable(t, MustNewSimulator(t, data, simulator.Config{}))
		out := filepath.Join(dir, "big")
		if r := MustRun(t, credentials, runArgs(saved, url, out)...); r.code != 1 {
			t.Fatalf("run: exit %d\n%s", r.code, r.stderr)
		}
		s := MustSummary(t, out)
		if n := s.Counts["total"] - s.Counts["matched"] - s.Counts["pending"]; n != 10000 {
			t.Fatalf("%d discrepancies, want 10,000", n)
		}
		start := time.Now()
		dom := MustRender(t, ctx, filepath.Join(out, "report.html"), "")
		t.Logf("report.html: %d bytes, rendered and read in %s", len(MustRead(t, filepath.Join(out, "report.html"))), time.Since(start).Round(time.Millisecond))
		MustMatchSummary(t, dom, out)
		if dom.Discrepancies != 1000 {
			t.Errorf("%d discrepancy rows, want the first 1,000", dom.Discrepancies)
		}
		if want := "The first 1,000 of 10,000 discrepancies are shown; discrepancies.csv lists all 10,000."; dom.Note != want {
			t.Errorf("note %q, want %q", dom.Note, want)
		}
		if dom.Unverified != 0 || dom.UnverifiedNote != "Every process was verified." {
			t.Errorf("unverified: %d rows, note %q", dom.Unverified, dom.UnverifiedNote)
		}
	})
	t.Run("Hostile", func(t *testing.T) {
		// Text from the source and from the API that would be markup if
		// it were not escaped: the page must show it as text.
		const payload = `<script>document.title="pwned"</script></table><img src=x onerror=alert(1)>"'javascript:alert(2)`
		dir := filepath.Join(t.TempDir(), `src<script>x</script>`)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		saved := filepath.Join(dir, "saved.csv")
		id := "11111111-2222-4333-8444-555555555555"
		quoted := `"` + strings.ReplaceAll(payload, `"`, `""`) + `"`
		MustWriteFile(t, saved, []byte(csvHeader+quoted+",3,yes,,,,,2026-01-01T00:00:00Z\n"+id+",3,yes,,,,,2026-01-01T00:00:00Z\n"))
		body := fmt.Sprintf(`{"id":%q,"status":3,"unicoId":{"result":%q}}`+"\n", id, payload)
		data := filepath.Join(dir, "processes.jsonl")
		MustWriteFile(t, data, []byte(body))
		_, url := MustSwitchable(t, MustNewSimulator(t, data, simulator.Config{}))
		out := filepath.Join(dir, "out")
		if r := MustRun(t, credentials, runArgs(saved, url, out)...); r.code != 1 {
			t.Fatalf("run: exit %d\n%s", r.code, r.stderr)
		}
		dom := MustRender(t, ctx, filepath.Join(out, "report.html"), "")
		if dom.Scripts != 0 || strings.Contains(dom.Title, "pwned") {
			t.Fatalf("the payload became markup: %d scripts/images, title %q", dom.Scripts, dom.Title)
		}
		// Shown as text, quoted: it holds quotes (reconcile.Printable).
		shown := reconcile.Printable(payload)
		var asText int
		for _, c := range dom.Cells {
			if strings.Contains(c, shown) {
				asText++
			}
		}
		if asText < 2 { // the invalid row's id, the remote field's value
			t.Errorf("the payload shows as text in %d cells, want at least 2:\n%q", asText, dom.Cells)
		}
		if !strings.Contains(dom.Facts["Source"], `src<script>x</script>`) {
			t.Errorf("source %q: the folder's name is not shown as text", dom.Facts["Source"])
		}
	})
}
