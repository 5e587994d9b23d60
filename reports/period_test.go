package reports_test

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
	"github.com/unico-reconcile/unico-reconcile/reports"
)

// periodFixture is a period of two runs: two discrepancies still open, one
// resolved by the second run, two processes never checked, and two lost
// responses found, one of them repaired.
func periodFixture() *reports.Period {
	ds := allKinds()
	p := &reports.Period{
		From: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC),
		Source: "/data/saved.csv", SourceSHA256: "408aecba0e2e636c124f3e76c24d8b4750b54e1254656680e04ab726f476e73b",
		Runs: []reports.PeriodRun{
			{ID: "20260314T090000Z-a1b2c3", StartedAt: t0, FinishedAt: t0.Add(time.Hour), State: "finished", ExitCode: 3,
				Source: "/data/saved.csv", Counts: map[string]int{"total": 5, "matched": 2, "status_mismatch": 1, "lost_response": 1, "unverified": 1},
				ManifestSHA256: strings.Repeat("1f", 32)},
			{ID: "20260315T090000Z-d4e5f6", StartedAt: t0.Add(24 * time.Hour), State: "running", ExitCode: -1, Source: "/data/saved.csv"},
		},
		Checked: map[reconcile.Kind]int{reconcile.Match: 3, reconcile.StatusMismatch: 1, reconcile.LostResponse: 1},
		// One lost response repaired and found a match by the second run,
		// one still open.
		LostFound: 2, LostRepaired: 1,
	}
	for _, e := range []reports.PeriodEntry{
		{Discrepancy: ds[0], FirstRun: "20260314T090000Z-a1b2c3", LastRun: "20260315T090000Z-d4e5f6"},
		{Discrepancy: ds[2], FirstRun: "20260314T090000Z-a1b2c3", LastRun: "20260314T090000Z-a1b2c3"},
		{Discrepancy: ds[8], FirstRun: "20260314T090000Z-a1b2c3", LastRun: "20260314T090000Z-a1b2c3",
			ResolvedBy: "20260315T090000Z-d4e5f6", ResolvedKind: reconcile.Match},
	} {
		p.Add(e)
	}
	p.AddUnchecked(reports.Unchecked{Row: 7, ProcessID: idF, SavedAt: time.Date(2026, 3, 13, 18, 30, 0, 0, brt)})
	p.AddUnchecked(reports.Unchecked{Row: 9, ProcessID: idH})
	return p
}

// TestPeriod_Golden writes the period report's files and compares them
// with testdata/reports/period/.
func TestPeriod_Golden(t *testing.T) {
	p := periodFixture()
	golden := filepath.Join("..", "testdata", "reports", "period")
	var csv, unchecked, js, html bytes.Buffer
	cw, err := reports.NewPeriodCSVWriter(&csv)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range append(append([]reports.PeriodEntry{}, p.Open...), p.Resolved...) {
		if err := cw.Write(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := cw.Close(); err != nil {
		t.Fatal(err)
	}
	uw, err := reports.NewUncheckedCSVWriter(&unchecked)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range p.Unchecked {
		if err := uw.Write(u); err != nil {
			t.Fatal(err)
		}
	}
	if err := uw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := reports.WritePeriodJSON(&js, p); err != nil {
		t.Fatal(err)
	}
	if err := reports.WritePeriodHTML(&html, p); err != nil {
		t.Fatal(err)
	}
	MustGolden(t, filepath.Join(golden, reports.CSVName), csv.Bytes())
	MustGolden(t, filepath.Join(golden, reports.UncheckedName), unchecked.Bytes())
	MustGolden(t, filepath.Join(golden, reports.PeriodName), js.Bytes())
	MustGolden(t, filepath.Join(golden, reports.HTMLName), html.Bytes())
}

// TestPeriod_Add counts every entry and keeps the first HTMLRows of each
// list for the page.
func TestPeriod_Add(t *testing.T) {
	p := &reports.Period{}
	d := allKinds()[0]
	for i := range 2500 {
		e := reports.PeriodEntry{Discrepancy: d}
		if i%2 == 1 {
			e.ResolvedBy = "r2"
		}
		p.Add(e)
		p.AddUnchecked(reports.Unchecked{Row: i})
	}
	if p.OpenN() != 1250 || p.ResolvedN != 1250 || p.UncheckedN != 2500 {
		t.Errorf("open %d, resolved %d, unchecked %d; want 1250, 1250, 2500", p.OpenN(), p.ResolvedN, p.UncheckedN)
	}
	if len(p.Open) != reports.HTMLRows || len(p.Resolved) != reports.HTMLRows || len(p.Unchecked) != reports.HTMLRows {
		t.Errorf("kept %d, %d, %d rows; want %d each", len(p.Open), len(p.Resolved), len(p.Unchecked), reports.HTMLRows)
	}
	var html bytes.Buffer
	if err := reports.WritePeriodHTML(&html, p); err != nil {
		t.Fatal(err)
	}
	for _, note := range []string{"The first 1,000 of 1,250 open discrepancies", "The first 1,000 of 1,250 resolved", "discrepancies.csv lists all 1,250"} {
		if !strings.Contains(html.String(), note) {
			t.Errorf("the page lacks %q", note)
		}
	}
}
