package reports

import (
	"fmt"
	"io"
	"strings"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

// WritePeriodHTML writes p as a period's report.html: self-contained like
// a run's page, and the same bytes for the same p.
func WritePeriodHTML(w io.Writer, p *Period) error {
	return templates.ExecuteTemplate(w, "period.tmpl", newPeriodView(p))
}

type periodPageView struct {
	Title         string
	Facts         []fact
	Runs          []periodRunRow
	Kinds         []periodKindRow
	Chart         chart
	Open          []discRow
	OpenTotal     int
	Resolved      []discRow
	ResolvedTotal int
	HasSource     bool
	Unchecked     []uncheckedRow
	UncheckedN    int
}

type periodRunRow struct {
	ID, Started, Finished, State, Exit, Counts, Manifest string
}

type periodKindRow struct {
	Name          string
	Checked, Open int
}

type uncheckedRow struct {
	Row              int
	ProcessID, Saved string
}

func newPeriodView(p *Period) periodPageView {
	from, to := formatTime(p.From), formatTime(p.To)
	v := periodPageView{
		Title:         fmt.Sprintf("Reconciliation period report: %s to %s", from, to),
		OpenTotal:     p.OpenN(),
		ResolvedTotal: p.ResolvedN,
		HasSource:     p.Source != "",
		UncheckedN:    p.UncheckedN,
	}
	v.Facts = []fact{
		{Name: "From", Value: from},
		{Name: "To (excluded)", Value: to},
		{Name: "Runs started in the period", Value: formatInt(len(p.Runs))},
		{Name: "Processes checked", Value: formatInt(p.CheckedN())},
		{Name: "Discrepancies open at the end", Value: formatInt(p.OpenN())},
		{Name: "Resolved by a later run", Value: formatInt(p.ResolvedN)},
		{Name: "Lost responses found", Value: formatInt(p.LostFound)},
		{Name: "Lost responses repaired (applied repairs)", Value: formatInt(p.LostRepaired)},
	}
	if p.Source != "" {
		v.Facts = append(v.Facts,
			fact{Name: "Source", Value: p.Source, Mono: true},
			fact{Name: "Source SHA-256", Value: orNotRecorded(p.SourceSHA256), Mono: true},
			fact{Name: "Saved in the period, never checked", Value: formatInt(p.UncheckedN)})
	}
	for _, r := range p.Runs {
		row := periodRunRow{ID: r.ID, Started: formatTime(r.StartedAt), Finished: "—", State: r.State, Exit: "—",
			Counts: countsText(r.Counts), Manifest: orDash(r.ManifestSHA256)}
		if !r.FinishedAt.IsZero() {
			row.Finished = formatTime(r.FinishedAt)
		}
		if r.ExitCode >= 0 {
			row.Exit = fmt.Sprint(r.ExitCode)
		}
		v.Runs = append(v.Runs, row)
	}
	kinds := append([]reconcile.Kind{reconcile.Match, reconcile.Pending}, reconcile.Kinds...)
	for _, k := range kinds {
		v.Kinds = append(v.Kinds, periodKindRow{Name: kindName(k), Checked: p.Checked[k], Open: p.OpenKinds[k]})
	}
	v.Chart = newChart(p.OpenKinds)
	for _, e := range p.Open {
		v.Open = append(v.Open, periodRow(e))
	}
	for _, e := range p.Resolved {
		v.Resolved = append(v.Resolved, periodRow(e))
	}
	for _, u := range p.Unchecked {
		v.Unchecked = append(v.Unchecked, uncheckedRow{Row: u.Row, ProcessID: u.ProcessID, Saved: formatTime(u.SavedAt)})
	}
	return v
}

func periodRow(e PeriodEntry) discRow {
	r := newDiscRow(e.Discrepancy)
	r.Run = e.LastRun
	if e.FirstRun != e.LastRun {
		r.Run = e.FirstRun + " … " + e.LastRun
	}
	if e.ResolvedBy != "" {
		r.State, r.ResolvedBy = "resolved", e.ResolvedBy+" ("+string(e.ResolvedKind)+")"
	} else {
		r.State = "open"
	}
	return r
}

// kindName is the name summary.json gives a kind's count.
func kindName(k reconcile.Kind) string {
	if k == reconcile.Match {
		return "matched"
	}
	return string(k)
}

// countsText is "total=N" and the non-zero counts, in the reports' order.
func countsText(c map[string]int) string {
	if len(c) == 0 {
		return "—"
	}
	parts := []string{"total=" + formatInt(c["total"])}
	for _, k := range append([]reconcile.Kind{reconcile.Match, reconcile.Pending}, reconcile.Kinds...) {
		if n := c[kindName(k)]; n > 0 {
			parts = append(parts, kindName(k)+"="+formatInt(n))
		}
	}
	return strings.Join(parts, " ")
}
