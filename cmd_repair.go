package main

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/unico-reconcile/unico-reconcile/job"
	"github.com/unico-reconcile/unico-reconcile/reconcile"
	"github.com/unico-reconcile/unico-reconcile/store"
)

const repairExitStatus = `EXIT STATUS:
   0  repairs.csv written; with --target, a dry run, or every row applied
      (or already applied before)
   1  --apply: some rows were left alone, changed since the run (conflicts.csv)
      or no longer in the target
   2  usage error, or an error: a transaction that failed changed nothing;
      those committed before it stay, and are recorded in the history`

func repairCommand(code *int) *cli.Command {
	return &cli.Command{
		Name:      "repair",
		Usage:     "write a run's lost responses back: repairs.csv, and with --target the table's rows",
		ArgsUsage: " ",
		Description: "From the run history alone (never the API), writes the remote outcome of each of the run's\n" +
			"selected discrepancies (--kinds, default lost_response) to --out: repairs.csv in the input's\n" +
			"columns, repair.json and manifest.json (chained into the history: verify covers it).\n" +
			"With --target, a dry run: the rows that would change, nothing written. With --apply, guarded\n" +
			"UPDATEs in transactions of at most 1,000 rows: a row changed since the run is left alone and\n" +
			"listed in conflicts.csv. CSV sources are never written: import repairs.csv instead.\n\n" + repairExitStatus,
		Flags: []cli.Flag{
			stateFlag(),
			&cli.StringFlag{Name: "run", Required: true, Usage: "`RUN_ID` of the run to repair, or last"},
			&cli.StringFlag{Name: "out", Required: true, Usage: "folder for repairs.csv, repair.json, conflicts.csv and manifest.json"},
			&cli.StringFlag{Name: "kinds", Value: string(reconcile.LostResponse), Usage: "kinds to write back, comma-separated: lost_response, result_mismatch, status_mismatch"},
			&cli.StringFlag{Name: "target", EnvVars: []string{"UNICO_RECONCILE_TARGET"}, Usage: "the table's database: sqlite:PATH, a SQLite file, or a postgres:// URL (default: none, repairs.csv only)"},
			&cli.StringFlag{Name: "table", Value: store.DefaultTable, Usage: "the table to update (schema.table for PostgreSQL)"},
			&cli.StringSliceFlag{Name: "column", Usage: "`NAME=COLUMN`: the table's column for a contract column, e.g. status=result_status; repeatable"},
			&cli.BoolFlag{Name: "apply", Usage: "update the target (without it, a dry run)"},
		},
		Action: func(c *cli.Context) error {
			o, err := repairOptionsFrom(c)
			if err != nil {
				return err
			}
			res, err := job.Repair(c.Context, o)
			if err != nil {
				return err
			}
			*code = res.ExitCode
			return nil
		},
	}
}

// repairOptionsFrom checks the flags of repair and turns them into options.
func repairOptionsFrom(c *cli.Context) (job.RepairOptions, error) {
	log, err := newLogger(c)
	if err != nil {
		return job.RepairOptions{}, err
	}
	o := job.RepairOptions{
		State: c.String("state"), Run: c.String("run"), Out: c.String("out"), Target: c.String("target"),
		Apply: c.Bool("apply"), Stdout: c.App.Writer, Version: appVersion(), Logger: log,
	}
	if c.NArg() > 0 {
		return o, fmt.Errorf("repair: unexpected argument %q (see --help)", c.Args().First())
	}
	if o.Kinds, err = job.ParseKinds(c.String("kinds")); err != nil {
		return o, err
	}
	if o.Target == "" && (c.IsSet("table") || c.IsSet("column") || o.Apply) {
		return o, errors.New("repair: --table, --column and --apply go with --target")
	}
	if o.Target != "" {
		o.Table = c.String("table")
	}
	o.Columns, err = job.ParseColumns(c.StringSlice("column"))
	return o, err
}
