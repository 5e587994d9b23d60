package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
	"github.com/unico-reconcile/unico-reconcile/reports"
	"github.com/unico-reconcile/unico-reconcile/state"
)

// defaultState is the run history when neither --state nor --out says
// otherwise: state.db in the folder that holds the run folders.
var defaultState = filepath.Join("out", "state.db")

func stateFlag() cli.Flag {
	return &cli.StringFlag{Name: "state", EnvVars: []string{"UNICO_RECONCILE_STATE"}, Value: defaultState, Usage: "the run history, a SQLite database"}
}

func runsCommand() *cli.Command {
	return &cli.Command{
		Name:  "runs",
		Usage: "list the run history: a table on a terminal, JSON otherwise",
		Flags: []cli.Flag{
			stateFlag(),
			&cli.BoolFlag{Name: "json", Usage: "print JSON even on a terminal"},
		},
		Action: func(c *cli.Context) error {
			db, err := openHistory(c.Context, c.String("state"))
			if err != nil {
				return err
			}
			defer db.Close()
			runs, err := db.Runs(c.Context)
			if err != nil {
				return err
			}
			if c.Bool("json") || !isTerminal(c.App.Writer) {
				return writeRunsJSON(c.App.Writer, runs)
			}
			return writeRunsTable(c.App.Writer, runs)
		},
	}
}

func reportCommand() *cli.Command {
	return &cli.Command{
		Name:  "report",
		Usage: "write a past run's reports again, or a period's report, from the run history alone",
		Description: "report --run ID writes discrepancies.csv, discrepancies.jsonl, report.html, summary.json\n" +
			"and manifest.json of run ID (or last) to --out, byte for byte as the run wrote them.\n" +
			"report --from DATE --to DATE writes a period report to --out: every run started in\n" +
			"[from, to), the processes checked (each once, by its latest answer), the discrepancies\n" +
			"still open at the end and those a later run resolved, and with --source the processes\n" +
			"saved in the period that no run ever checked: report.html, discrepancies.csv,\n" +
			"period.json, unchecked.csv (with --source) and manifest.json.",
		Flags: []cli.Flag{
			stateFlag(),
			&cli.StringFlag{Name: "run", Usage: "`RUN_ID`, or last"},
			&cli.StringFlag{Name: "from", Usage: "period start, RFC 3339 or YYYY-MM-DD (UTC midnight)"},
			&cli.StringFlag{Name: "to", Usage: "period end, excluded; RFC 3339 or YYYY-MM-DD"},
			&cli.StringFlag{Name: "source", Usage: "with --from/--to: the saved outcomes, to find those never checked"},
			&cli.StringFlag{Name: "query", Usage: "SQL for a SQL --source"},
			&cli.StringFlag{Name: "out", Required: true, Usage: "folder for the reports"},
		},
		Action: func(c *cli.Context) error {
			period := c.IsSet("from") || c.IsSet("to")
			switch {
			case c.IsSet("run") == period:
				return errors.New("report: give --run, or --from and --to (see --help)")
			case period && !(c.IsSet("from") && c.IsSet("to")):
				return errors.New("report: a period needs both --from and --to")
			case !period && (c.IsSet("source") || c.IsSet("query")):
				return errors.New("report: --source and --query go with --from and --to")
			}
			var po periodOptions
			if period {
				var err error
				if po, err = periodOptionsFrom(c); err != nil {
					return err
				}
			}
			db, err := openHistory(c.Context, c.String("state"))
			if err != nil {
				return err
			}
			defer db.Close()
			if period {
				return writePeriod(c.Context, db, po)
			}
			return rewriteReports(c.Context, db, c.String("run"), c.String("out"))
		},
	}
}

// openHistory opens an existing run history: reading one never creates it.
func openHistory(ctx context.Context, path string) (*state.DB, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no run history at %s (give --state, or run the job first)", path)
	}
	return state.Open(ctx, path)
}

// rewriteReports writes run id's reports into dir from the history.
func rewriteReports(ctx context.Context, db *state.DB, id, dir string) error {
	r, err := db.Run(ctx, id)
	if err != nil {
		return err
	}
	if r.Summary == nil {
		return fmt.Errorf("run %s has no reports yet (%s): continue it with run --resume", r.ID, r.State)
	}
	set, err := reports.Create(dir)
	if err != nil {
		return err
	}
	defer set.Abort()
	if err := db.EachListed(ctx, r.ID, set.Write); err != nil {
		return err
	}
	var p runParams
	if r.Params != nil {
		if err := json.Unmarshal(r.Params, &p); err != nil {
			return fmt.Errorf("run %s: parameters: %w", r.ID, err)
		}
	}
	login, host, err := db.Runner(ctx, r.ID)
	if err != nil {
		return err
	}
	if err := set.CommitReport(r.Summary, pageMeta(p, r.Fingerprint, login, host)); err != nil {
		return err
	}
	return rewriteManifest(ctx, db, r, dir)
}

// runView is one run in `runs --json`.
type runView struct {
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

func writeRunsJSON(w io.Writer, runs []state.Run) error {
	views := make([]runView, 0, len(runs))
	for _, r := range runs {
		v := runView{
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

func writeRunsTable(w io.Writer, runs []state.Run) error {
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
