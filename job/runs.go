package job

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
	"github.com/unico-reconcile/unico-reconcile/state"
)

// RunView is one run in `runs --json`.
type RunView struct {
	RunID           string         `json:"run_id"`
	State           string         `json:"state"`
	StartedAt       time.Time      `json:"started_at"`
	FinishedAt      *time.Time     `json:"finished_at"`
	DurationSeconds *float64       `json:"duration_seconds"`
	Source          string         `json:"source"`
	SourceSHA256    string         `json:"source_sha256,omitempty"`
	APIRoot         string         `json:"api_root"`
	RecheckOf       string         `json:"recheck_of,omitempty"`
	Out             string         `json:"out"`
	ExitCode        *int           `json:"exit_code"`
	Counts          map[string]int `json:"counts"`
}

// WriteRunsJSON writes runs as `runs --json` prints them.
func WriteRunsJSON(w io.Writer, runs []state.Run) error {
	views := make([]RunView, 0, len(runs))
	for _, r := range runs {
		v := RunView{
			RunID: r.ID, State: string(r.State), StartedAt: r.StartedAt.UTC(),
			Source: r.Source, SourceSHA256: r.Fingerprint, APIRoot: r.APIRoot,
			RecheckOf: r.RecheckOf, Out: r.Out, Counts: r.Counts,
		}
		if !r.FinishedAt.IsZero() {
			end := r.FinishedAt.UTC()
			secs := float64(end.Sub(r.StartedAt).Milliseconds()) / 1000
			v.FinishedAt, v.DurationSeconds = &end, &secs
		}
		if r.ExitCode >= 0 {
			code := r.ExitCode
			v.ExitCode = &code
		}
		views = append(views, v)
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(views)
}

// WriteRunsTable writes runs as `runs` prints them on a terminal.
func WriteRunsTable(w io.Writer, runs []state.Run) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tSTARTED (UTC)\tDURATION\tSTATE\tEXIT\tSOURCE\tCOUNTS")
	for _, r := range runs {
		duration, exit := "-", "-"
		if !r.FinishedAt.IsZero() {
			duration = r.FinishedAt.Sub(r.StartedAt).Round(time.Second).String()
		}
		if r.ExitCode >= 0 {
			exit = fmt.Sprint(r.ExitCode)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.StartedAt.UTC().Format("2006-01-02 15:04:05"),
			duration, r.State, exit, r.Source, countsLine(r.Counts))
	}
	return tw.Flush()
}

// countsLine is "total=N" and every non-zero count, in the reports' order;
// "-" before the run has counts.
func countsLine(c map[string]int) string {
	if len(c) == 0 {
		return "-"
	}
	parts := []string{fmt.Sprintf("total=%d", c["total"])}
	names := []string{"matched", "pending"}
	for _, k := range reconcile.Kinds {
		names = append(names, string(k))
	}
	for _, n := range names {
		if c[n] > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", n, c[n]))
		}
	}
	return strings.Join(parts, " ")
}
