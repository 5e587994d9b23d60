package job

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
	"github.com/unico-reconcile/unico-reconcile/reports"
	"github.com/unico-reconcile/unico-reconcile/state"
	"github.com/unico-reconcile/unico-reconcile/store"
)

// PeriodOptions is what a period report is asked for.
type PeriodOptions struct {
	State         string    // the run history
	From, To      time.Time // the runs started in [From, To)
	Out           string    // the report folder
	Source, Query string    // the saved outcomes, to find those never checked; "" for none
}

// periodParams is the period report's parameters in its manifest.
type periodParams struct {
	From   string `json:"from"`
	To     string `json:"to"`
	Source string `json:"source,omitempty"`
	Query  string `json:"query,omitempty"`
}

// Period writes the period report into o.Out from the history, each file
// atomically and manifest.json last. The discrepancies and the unchecked
// processes stream from SQLite to their CSV files; only the first
// reports.HTMLRows of each are kept, for the page.
func Period(ctx context.Context, o PeriodOptions) error {
	if !o.From.Before(o.To) {
		return fmt.Errorf("period: %s is not before %s", formatTime(o.From), formatTime(o.To))
	}
	db, err := OpenHistory(ctx, o.State)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := clearPeriod(o); err != nil {
		return err
	}
	p := &reports.Period{From: o.From, To: o.To}
	if p.Runs, err = periodRuns(ctx, db, o); err != nil {
		return err
	}
	if p.Checked, err = db.CheckedKinds(ctx, o.From, o.To); err != nil {
		return err
	}
	lost, err := db.LostResponses(ctx, o.From, o.To)
	if err != nil {
		return err
	}
	p.LostFound, p.LostRepaired = lost.Found, lost.Repaired
	files := []string{reports.CSVName, reports.HTMLName, reports.PeriodName}
	if err := periodCSV(ctx, db, o, p); err != nil {
		return err
	}
	if o.Source != "" {
		if err := unchecked(ctx, db, o, p); err != nil {
			return err
		}
		files = append(files, reports.UncheckedName)
	}
	if err := reports.WriteAtomic(filepath.Join(o.Out, reports.PeriodName), func(w io.Writer) error {
		return reports.WritePeriodJSON(w, p)
	}); err != nil {
		return err
	}
	if err := reports.WriteAtomic(filepath.Join(o.Out, reports.HTMLName), func(w io.Writer) error {
		return reports.WritePeriodHTML(w, p)
	}); err != nil {
		return err
	}
	return sealPeriod(o, files)
}

// clearPeriod makes the report folder, and removes what an earlier report
// there left that the new one will not write: its manifest must not vouch
// for the new files.
func clearPeriod(o PeriodOptions) error {
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return fmt.Errorf("create report folder: %w", err)
	}
	stale := []string{reports.ManifestName}
	if o.Source == "" {
		stale = append(stale, reports.UncheckedName)
	}
	for _, name := range stale {
		if err := os.Remove(filepath.Join(o.Out, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove old %s: %w", name, err)
		}
	}
	return nil
}

// periodRuns lists the runs started in the period, each with its newest
// manifest's SHA-256.
func periodRuns(ctx context.Context, db *state.DB, o PeriodOptions) ([]reports.PeriodRun, error) {
	runs, err := db.RunsBetween(ctx, o.From, o.To)
	if err != nil {
		return nil, err
	}
	var out []reports.PeriodRun
	for _, r := range runs {
		pr := reports.PeriodRun{ID: r.ID, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt, State: string(r.State),
			ExitCode: r.ExitCode, Source: r.Source, Counts: r.Counts}
		if l, ok, err := db.LatestManifest(ctx, r.ID); err != nil {
			return nil, err
		} else if ok {
			pr.ManifestSHA256 = l.SHA256
		}
		out = append(out, pr)
	}
	return out, nil
}

// periodCSV writes discrepancies.csv: every discrepancy the period's runs
// listed, open or resolved, counted into p.
func periodCSV(ctx context.Context, db *state.DB, o PeriodOptions, p *reports.Period) error {
	return reports.WriteAtomic(filepath.Join(o.Out, reports.CSVName), func(w io.Writer) error {
		cw, err := reports.NewPeriodCSVWriter(w)
		if err != nil {
			return err
		}
		if err := db.EachPeriodDiscrepancy(ctx, o.From, o.To, func(pd state.PeriodDiscrepancy) error {
			e := reports.PeriodEntry{Discrepancy: pd.Discrepancy, FirstRun: pd.FirstRun, LastRun: pd.LastRun,
				ResolvedBy: pd.ResolvedBy, ResolvedKind: pd.ResolvedKind}
			p.Add(e)
			return cw.Write(e)
		}); err != nil {
			return err
		}
		return cw.Close()
	})
}

// sealPeriod writes the period report's manifest.json, last. A period
// report is outside the run history's chain: it is made from it.
func sealPeriod(o PeriodOptions, files []string) error {
	params, err := json.Marshal(periodParams{From: o.From.Format(time.RFC3339Nano), To: o.To.Format(time.RFC3339Nano),
		Source: o.Source, Query: o.Query})
	if err != nil {
		return err
	}
	hashed, err := reports.HashFiles(o.Out, files)
	if err != nil {
		return fmt.Errorf("write %s: %w", reports.ManifestName, err)
	}
	b, err := reports.EncodeManifest(reports.Manifest{Kind: reports.KindPeriod, Parameters: params, Files: hashed})
	if err != nil {
		return err
	}
	return reports.WriteManifest(o.Out, b)
}

// unchecked writes unchecked.csv: the processes o.Source saved in the
// period (saved_at in [from, to)) that no run of the history answered.
// Rows that cannot be used (invalid_input) or have no saved_at are left
// out: the runs list the former, and the latter belong to no period.
func unchecked(ctx context.Context, db *state.DB, o PeriodOptions, p *reports.Period) error {
	src, err := store.Open(o.Source, o.Query)
	if err != nil {
		return err
	}
	defer src.Close()
	survey, err := src.Survey(ctx)
	if err != nil {
		return err
	}
	p.Source, p.SourceSHA256 = o.Source, survey.SHA256
	return reports.WriteAtomic(filepath.Join(o.Out, reports.UncheckedName), func(w io.Writer) error {
		cw, err := reports.NewUncheckedCSVWriter(w)
		if err != nil {
			return err
		}
		feed := func(add func(state.Saved) error) error {
			return src.Each(ctx, func(l reconcile.Local) error {
				if l.Invalid != nil || l.SavedAt.Before(o.From) || !l.SavedAt.Before(o.To) {
					return nil
				}
				return add(state.Saved{Row: l.Row, ProcessID: l.ProcessID, SavedAt: l.SavedAt})
			})
		}
		if err := db.EachUnchecked(ctx, feed, func(s state.Saved) error {
			u := reports.Unchecked(s)
			p.AddUnchecked(u)
			return cw.Write(u)
		}); err != nil {
			return err
		}
		return cw.Close()
	})
}
