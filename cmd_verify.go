package main

import (
	"errors"

	"github.com/urfave/cli/v2"

	"github.com/unico-reconcile/unico-reconcile/job"
)

// Exit codes of verify.
const (
	verifyOK     = 0
	verifyFailed = 1
)

func verifyCommand(code *int) *cli.Command {
	return &cli.Command{
		Name:      "verify",
		Usage:     "check report folders against their manifest.json, and the run history's chain of manifests",
		ArgsUsage: "[DIR...]",
		Description: "verify DIR checks that every file manifest.json lists is in DIR with its size and SHA-256,\n" +
			"that none is missing and that DIR holds no other file.\n" +
			"verify --state DB checks the run history's hash chain: each manifest's SHA-256, that each\n" +
			"names the one before it (a run removed or reordered breaks the chain), and each run's\n" +
			"newest manifest against its report folder when that folder is present.\n" +
			"verify --state DB DIR... checks the folders and that their manifests are in the chain.\n\n" +
			"EXIT STATUS\n   0  everything checked is intact (one line on stdout)\n" +
			"   1  a check failed: each failure on stdout, naming the file or the run\n" +
			"   2  usage error, or the history cannot be read",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "state", EnvVars: []string{"UNICO_RECONCILE_STATE"}, Usage: "the run history `DB` whose chain to check"},
		},
		Action: func(c *cli.Context) error {
			dirs, statePath := c.Args().Slice(), c.String("state")
			if len(dirs) == 0 && statePath == "" {
				return errors.New("verify: give a report folder, or --state (see --help)")
			}
			ok, err := job.Verify(c.Context, dirs, statePath, c.App.Writer)
			if err != nil {
				return err
			}
			*code = verifyOK
			if !ok {
				*code = verifyFailed
			}
			return nil
		},
	}
}
