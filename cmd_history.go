package main

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/unico-reconcile/unico-reconcile/job"
	"github.com/urfave/cli/v2"
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
			db, err := job.OpenHistory(c.Context, c.String("state"))
			if err != nil {
				return err
			}
			defer db.Close()
			runs, err := db.Runs(c.Context)
			if err != nil {
				return err
			}
			repairs, err := db.Repairs(c.Context)
			if err != nil {
				return err
			}
			if c.Bool("json") || !isTerminal(c.App.Writer) {
				return job.WriteRunsJSON(c.App.Writer, runs, repairs)
			}
			return job.WriteRunsTable(c.App.Writer, runs, repairs)
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
			if !period {
				return job.Rewrite(c.Context, c.String("state"), c.String("run"), c.String("out"))
			}
			po, err := periodOptionsFrom(c)
			if err != nil {
				return err
			}
			return job.Period(c.Context, po)
		},
	}
}

// periodOptionsFrom reads the flags of `report --from --to`.
func periodOptionsFrom(c *cli.Context) (job.PeriodOptions, error) {
	o := job.PeriodOptions{State: c.String("state"), Out: c.String("out"), Source: c.String("source"), Query: c.String("query")}
	var err error
	if o.From, err = parseTime("--from", c.String("from")); err != nil {
		return o, err
	}
	if o.To, err = parseTime("--to", c.String("to")); err != nil {
		return o, err
	}
	if !o.From.Before(o.To) {
		return o, fmt.Errorf("--from %s is not before --to %s", c.String("from"), c.String("to"))
	}
	return o, nil
}
