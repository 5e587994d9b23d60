package reports

import (
	"embed"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/unico-reconcile/unico-reconcile/internal/redact"
	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

// HTMLName is the name of the page report in a run's folder.
const HTMLName = "report.html"

// HTMLRows is how many discrepancies, and how many unverified processes,
// report.html lists at most; the CSV and JSON Lines files have them all.
const HTMLRows = 1000

//go:embed templates/*.tmpl
var templateFS embed.FS

// templates are parsed once; html/template escapes every value for the
// context it lands in (text, attribute, SVG).
var templates = template.Must(template.New("").Funcs(template.FuncMap{
	"num": formatInt,
}).ParseFS(templateFS, "templates/*.tmpl"))

// Meta is what a run's report.html says about the run beyond summary.json.
// An empty field reads "not recorded".
type Meta struct {
	User         string // the operating-system user who ran the job
	Host         string // the machine it ran on
	SourceSHA256 string // the source's SHA-256, hex
	Environment  string // production, sandbox or custom: what the API root is
	Since, Until string // the run's saved_at window, RFC 3339; "" when open
}

// Page is everything report.html shows about one run.
type Page struct {
	Summary reconcile.Summary
	Meta    Meta
	// Discrepancies are the first listed discrepancies that are not
	// unverified, in report order, at most HTMLRows; Unverified the first
	// unverified ones. The totals come from Summary.
	Discrepancies []reconcile.Discrepancy
	Unverified    []reconcile.Discrepancy
}

// WriteHTML writes p as report.html to w: one self-contained page (inline
// CSS and SVG, no script, nothing fetched) that prints well. The page
// depends only on p: the same p gives the same bytes.
func WriteHTML(w io.Writer, p Page) error {
	return templates.ExecuteTemplate(w, "run.tmpl", newRunView(p))
}

// runView is the run page's data, formatted for people.
type runView struct {
	Title      string
	Facts      []fact
	Counts     []countRow
	Chart      chart
	Rows       []discRow
	RowsTotal  int
	Unverified []discRow
	UnvTotal   int
	HTMLRows   int
}

// fact is one line of a page's metadata table.
type fact struct {
	Name, Value string
	Mono        bool // an id or a hash: shown in a fixed-width font
}

type countRow struct {
	Name string
	N    int
}

// discRow is one discrepancy as the page shows it.
type discRow struct {
	Row                 int
	ProcessID, Kind     string
	Wrap                bool // the id is not a UUID: it may be long
	LocalStatus, Remote string
	Fields              []fieldRow
	HTTPStatus, Code    string
	Detail              string
	Attempts            int
	Run                 string // the period report's: the run that listed it
	State, ResolvedBy   string // the period report's: open or resolved, and by which run
}

type fieldRow struct{ Name, Local, Remote string }

func newRunView(p Page) runView {
	s, m := p.Summary, p.Meta
	v := runView{Title: "Reconciliation report: run " + orNone(s.RunID), HTMLRows: HTMLRows}
	window := orOpen(m.Since) + " to " + orOpen(m.Until)
	v.Facts = []fact{
		{Name: "Run", Value: orNone(s.RunID), Mono: true},
		{Name: "Version", Value: orNone(s.Version)},
		{Name: "Ran by", Value: ranBy(m.User, m.Host)},
		{Name: "Started", Value: formatTime(s.StartedAt)},
		{Name: "Finished", Value: formatTime(s.FinishedAt)},
		{Name: "Duration", Value: formatDuration(s)},
		{Name: "Source", Value: orNone(s.Source), Mono: true},
		{Name: "Source SHA-256", Value: orNotRecorded(m.SourceSHA256), Mono: true},
		{Name: "API root", Value: orNone(redact.URL(s.APIRoot)), Mono: true},
		{Name: "Environment", Value: orNotRecorded(m.Environment)},
		{Name: "Window (saved_at)", Value: window},
		{Name: "Rate", Value: formatRate(s.Rate)},
		{Name: "Workers", Value: strconv.Itoa(s.Workers)},
		{Name: "Requests", Value: fmt.Sprintf("%s (retries %s, rate limited %s)", formatInt(s.Requests), formatInt(s.Retries), formatInt(s.RateLimited))},
	}
	if sd := s.Slowdown; sd != nil {
		v.Facts = append(v.Facts, fact{Name: "Tenant busy", Value: fmt.Sprintf("%s × 429, %s below the rate: the tenant's limit, which production shares, was in use", formatInt(s.RateLimited), sd)})
	}
	if s.Reused > 0 {
		v.Facts = append(v.Facts, fact{Name: "Reused answers", Value: formatInt(s.Reused)})
	}
	if s.RecheckOf != "" {
		v.Facts = append(v.Facts, fact{Name: "Re-check of", Value: fmt.Sprintf("%s: %s of %s unverified recovered", s.RecheckOf, formatInt(s.Recovered), formatInt(s.Rechecked))})
	}
	if o := s.Outage; o != nil {
		v.Facts = append(v.Facts, fact{Name: "API outage", Value: fmt.Sprintf("unavailable since %s, watched %s, %s probes; last error: %s. Continue with --resume or --recheck last.",
			formatTime(o.Since), o.Watched.Round(time.Second), formatInt(o.Probes), o.LastError)})
	}
	v.Facts = append(v.Facts, fact{Name: "Exit code", Value: fmt.Sprintf("%d (%s)", s.ExitCode, exitMeaning(s))})

	v.Counts = []countRow{{"total", s.Total}, {"matched", s.Counts[reconcile.Match]}, {"pending", s.Counts[reconcile.Pending]}}
	for _, k := range reconcile.Kinds {
		v.Counts = append(v.Counts, countRow{string(k), s.Counts[k]})
		if k == reconcile.Unverified {
			v.UnvTotal = s.Counts[k]
		} else {
			v.RowsTotal += s.Counts[k]
		}
	}
	v.Chart = newChart(s.Counts)
	for _, d := range p.Discrepancies {
		v.Rows = append(v.Rows, newDiscRow(d))
	}
	for _, d := range p.Unverified {
		v.Unverified = append(v.Unverified, newDiscRow(d))
	}
	return v
}

func newDiscRow(d reconcile.Discrepancy) discRow {
	r := discRow{
		Row: d.Local.Row, ProcessID: d.Local.ProcessID, Kind: string(d.Kind),
		LocalStatus: orDash(d.Local.Status.String()), Remote: "—",
		HTTPStatus: orDash(itoaOrEmpty(d.HTTPStatus)), Code: d.ErrorCode,
		Detail: d.Detail, Attempts: d.Attempts, Wrap: len(d.Local.ProcessID) != 36,
	}
	if d.Remote != nil {
		r.Remote = orDash(d.Remote.Status.String())
		if d.Remote.Gone {
			r.Remote += " (410 Gone)"
		}
	}
	for _, f := range d.Fields {
		r.Fields = append(r.Fields, fieldRow{Name: f.Name, Local: orAbsent(f.Local), Remote: orAbsent(f.Remote)})
	}
	return r
}

// chart is the counts' horizontal bar chart: one bar per discrepancy kind,
// scaled to the largest count. Geometry is in SVG user units.
type chart struct {
	Width, Height int
	BarX          int // where the bars start, after the labels
	Bars          []bar
}

type bar struct {
	Kind          string
	N             int
	Y, W          int // the bar's top and width
	TextY, CountX int // the baselines of its label and its count
}

const (
	chartLabelW = 150 // room for the kinds' names
	chartBarMax = 420 // the longest bar
	chartRow    = 26  // one bar and its gap
	chartBarH   = 18
)

func newChart(counts map[reconcile.Kind]int) chart {
	most := 0
	for _, k := range reconcile.Kinds {
		most = max(most, counts[k])
	}
	c := chart{Width: chartLabelW + chartBarMax + 80, Height: len(reconcile.Kinds)*chartRow + 4, BarX: chartLabelW}
	for i, k := range reconcile.Kinds {
		n := counts[k]
		b := bar{Kind: string(k), N: n, Y: 2 + i*chartRow}
		if most > 0 && n > 0 {
			b.W = max(1, n*chartBarMax/most)
		}
		b.TextY = b.Y + chartBarH - 5
		b.CountX = chartLabelW + b.W + 6
		c.Bars = append(c.Bars, b)
	}
	return c
}

// formatInt writes n with a comma between thousands: 10,000.
func formatInt(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "not recorded"
	}
	return t.UTC().Format("2006-01-02 15:04:05.000 UTC")
}

func formatDuration(s reconcile.Summary) string {
	d, ok := duration(s)
	if !ok {
		return "not recorded"
	}
	return d.Round(time.Millisecond).String()
}

func formatRate(r float64) string {
	if r <= 0 {
		return "unlimited"
	}
	return strconv.FormatFloat(r, 'f', -1, 64) + " requests/s"
}

func ranBy(user, host string) string {
	switch {
	case user == "" && host == "":
		return "not recorded"
	case host == "":
		return user
	case user == "":
		return "(unknown user) on " + host
	}
	return user + " on " + host
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func orNotRecorded(s string) string {
	if s == "" {
		return "not recorded"
	}
	return s
}

func orOpen(s string) string {
	if s == "" {
		return "(open)"
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func orAbsent(s string) string {
	if s == "" {
		return "(absent)"
	}
	return s
}
