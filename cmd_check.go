package main

import (
	"time"

	"github.com/urfave/cli/v2"

	"github.com/unico-reconcile/unico-reconcile/job"
	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

func checkCommand(code *int) *cli.Command {
	return &cli.Command{
		Name:  "check",
		Usage: "check the set-up (source, folders, lock, credentials, TLS, clock, one GET) without running the job",
		Description: "Takes run's flags and prints one line per check, ✓ or ✗ with the fix (! is a warning).\n" +
			"At most 3 API requests: a token request (with --service-account) and one GET of a random id.\n\n" +
			"EXIT STATUS:\n   0  every check passed (warnings allowed)\n   2  a check failed, or the flags are wrong",
		Flags: runFlags(),
		Action: func(c *cli.Context) error {
			o, err := runOptionsFrom(c, time.Now())
			if err != nil {
				return err
			}
			if !job.Check(c.Context, o, c.App.Writer) {
				*code = reconcile.ExitFatal
			}
			return nil
		},
	}
}
