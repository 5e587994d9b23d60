package job

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
	"github.com/unico-reconcile/unico-reconcile/reports"
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
	Repairs         []RepairView   `json:"repairs,omitempty"` // oldest first
}

// RepairView is one repair of a run in `runs --json`.
type RepairView struct {
	RepairID   string               `json:"repair_id"`
	StartedAt  time.Time            `json:"started_at"`
	FinishedAt *time.Time           `json:"finished_at"`
	User       string               `json:"user"`
	Host       string               `json:"host"`
	Kinds      []reconcile.Kind     `json:"kinds"`
	Target     string               `json:"target,omitempty"` // redacted
	Applied    bool                 `json:"applied"`
	Out        string               `json:"out"`
	ExitCode   *int                 `json:"exit_code"`
	Counts     reports.RepairCounts `json:"counts"`
}

// WriteRunsJSON writes runs as `runs --json` prints them, each with its
// repairs.
func WriteRunsJSON(w io.Writer, runs []state.Run, repairs []state.Repair) error {
	byRun := repairsByRun(repairs)
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
		for _, p := range byRun[r.ID] {
			v.Repairs = append(v.Repairs, repairView(p))
		}
		views = append(views, v)
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(views)
}

// WriteRunsTable writes runs as `runs` prints them on a terminal, each
// followed by its repairs.
func WriteRunsTable(w io.Writer, runs []state.Run, repairs []state.Repair) error {
	byRun := repairsByRun(repairs)
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
		for _, p := range byRun[r.ID] {
			writeRepairRow(tw, p)
		}
	}
	return tw.Flush()
}

// writeRepairRow is a repair's line under its run: its id, start and
// length, what it did (applied, dry run, or files only), its exit code,
// the target and its counts.
func writeRepairRow(w io.Writer, p state.Repair) {
	duration, exit, what, target := "-", "-", "files only", p.Target
	if !p.FinishedAt.IsZero() {
		duration = p.FinishedAt.Sub(p.StartedAt).Round(time.Second).String()
	}
	if p.ExitCode >= 0 {
		exit = fmt.Sprint(p.ExitCode)
	}
	switch {
	case p.Applied:
		what = "applied"
	case p.Target != "":
		what = "dry run"
	default:
		target = "-"
	}
	c := p.Counts
	fmt.Fprintf(w, "  repair %s\t%s\t%s\t%s\t%s\t%s\tselected=%d changed=%d done=%d conflicts=%d missing=%d\n",
		p.ID, p.StartedAt.UTC().Format("2006-01-02 15:04:05"), duration, what, exit, target,
		c.Selected, c.Changed, c.Done, c.Conflicts, c.Missing)
}

func repairsByRun(repairs []state.Repair) map[string][]state.Repair {
	m := map[string][]state.Repair{}
	for _, p := range repairs {
		m[p.RunID] = append(m[p.RunID], p)
	}
	return m
}

func repairView(p state.Repair) RepairView {
	v := RepairView{RepairID: p.ID, StartedAt: p.StartedAt.UTC(), User: p.Login, Host: p.Host, Kinds: p.Kinds,
		Target: p.Target, Applied: p.Applied, Out: p.Out, Counts: reports.RepairCounts(p.Counts)}
	if !p.FinishedAt.IsZero() {
		end := p.FinishedAt.UTC()
		v.FinishedAt = &end
	}
	if p.ExitCode >= 0 {
		code := p.ExitCode
		v.ExitCode = &code
	}
	return v
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
