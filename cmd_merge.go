package main

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/unico-reconcile/unico-reconcile/job"
	"github.com/unico-reconcile/unico-reconcile/reports"
)

const mergeExitStatus = `EXIT STATUS:
   0, 1, 3  as run would have exited for the merged reports
   2        a shard is missing, given twice, incomplete, of another run, or
            started more than --max-spread away from another (a shard left
            from an earlier night); the message on stderr names it (nothing
            is written)`

func mergeCommand(code *int) *cli.Command {
	return &cli.Command{
		Name:      "merge",
		Usage:     "combine the reports of the shards of one run (--shard I/N) into one run's reports",
		ArgsUsage: "SHARDDIR...",
		Description: "Checks that the folders hold each shard 0/N .. N-1/N of one run exactly once, all started\n" +
			"within --max-spread of each other, then writes discrepancies.csv, discrepancies.jsonl (in\n" +
			"source order), report.html, summary.json (counts added up) and manifest.json (last) to --out,\n" +
			"as one unsharded run would have; verify DIR checks the folder.\n\n" + mergeExitStatus,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "out", Required: true, Usage: "folder for the merged reports"},
			&cli.DurationFlag{Name: "max-spread", Value: reports.DefaultMaxSpread,
				Usage: "refuse shards whose starts lie further apart than this (a stale shard of another night)"},
			&cli.BoolFlag{Name: "summary-json", Usage: "print the merged summary.json on stdout instead of text"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return errors.New("merge: give the shards' report folders (see --help)")
			}
			if c.Duration("max-spread") <= 0 {
				return fmt.Errorf("merge: --max-spread %s: want a positive duration", c.Duration("max-spread"))
			}
			sum, err := job.Merge(c.String("out"), c.Args().Slice(), c.Duration("max-spread"))
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
