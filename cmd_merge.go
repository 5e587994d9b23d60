package main

import (
	"errors"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/unico-reconcile/unico-reconcile/reports"
)

const mergeExitStatus = `EXIT STATUS:
   0, 1, 3  as run would have exited for the merged reports
   2        a shard is missing, given twice, incomplete, or of another run;
            the message on stderr names it (nothing is written)`

func mergeCommand(code *int) *cli.Command {
	return &cli.Command{
		Name:      "merge",
		Usage:     "combine the reports of the shards of one run (--shard I/N) into one run's reports",
		ArgsUsage: "SHARDDIR...",
		Description: "Checks that the folders hold each shard 0/N .. N-1/N of one run exactly once, then writes\n" +
			"discrepancies.csv, discrepancies.jsonl (in source order) and summary.json (counts added up)\n" +
			"to --out, as one unsharded run would have.\n\n" + mergeExitStatus,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "out", Required: true, Usage: "folder for the merged reports"},
			&cli.BoolFlag{Name: "summary-json", Usage: "print the merged summary.json on stdout instead of text"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return errors.New("merge: give the shards' report folders (see --help)")
			}
			sum, err := reports.Merge(c.String("out"), c.Args().Slice(), newRunID(time.Now()))
			if err != nil {
				return err
			}
			*code = sum.ExitCode
			if c.Bool("summary-json") {
				return reports.WriteSummary(c.App.Writer, sum)
			}
			return reports.WriteText(c.App.Writer, sum, c.String("out"))
		},
	}
}
