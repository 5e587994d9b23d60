package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/unico-reconcile/unico-reconcile/reports"
	"github.com/unico-reconcile/unico-reconcile/state"
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
			ok, err := runVerify(c.Context, dirs, statePath, c.App.Writer)
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

// runVerify checks dirs, and with statePath the chain; it writes one line
// per failure, or one OK line, to out, and returns whether all was well.
// An error is a history that cannot be read at all.
func runVerify(ctx context.Context, dirs []string, statePath string, out io.Writer) (bool, error) {
	var db *state.DB
	if statePath != "" {
		var err error
		if db, err = openHistory(ctx, statePath); err != nil {
			return false, err
		}
		defer db.Close()
	}
	v := &verifier{out: out}
	if len(dirs) == 0 {
		if err := v.chain(ctx, db); err != nil {
			return false, err
		}
		if v.failures == 0 {
			fmt.Fprintf(out, "OK: %d manifests chained, head %s; %d report folders match, %d not present\n",
				v.links, orNull(v.head), v.folders, v.absent)
		}
		return v.failures == 0, nil
	}
	var chained map[string]bool
	if db != nil {
		chained = map[string]bool{}
		if err := db.Chain(ctx, func(l state.Link) error { chained[l.SHA256] = true; return nil }); err != nil {
			return false, err
		}
	}
	for _, dir := range dirs {
		m, b, ok := v.folder(dir)
		if !ok {
			continue
		}
		if chained != nil && !chained[reports.Hash(b)] {
			v.fail("%s: %s (run %s) is not in the chain of %s", dir, reports.ManifestName, m.RunID, statePath)
			continue
		}
		fmt.Fprintf(out, "OK: %s: %d files match %s (sha256 %s)\n", dir, len(m.Files), reports.ManifestName, reports.Hash(b))
	}
	return v.failures == 0, nil
}

type verifier struct {
	out      io.Writer
	failures int
	links    int
	head     string
	folders  int
	absent   int
}

func (v *verifier) fail(format string, args ...any) {
	v.failures++
	fmt.Fprintf(v.out, "FAIL "+format+"\n", args...)
}

// folder checks one report folder; ok is false when it failed.
func (v *verifier) folder(dir string) (reports.Manifest, []byte, bool) {
	m, b, err := reports.Verify(dir)
	var ve *reports.VerifyError
	switch {
	case errors.As(err, &ve):
		for _, p := range ve.Problems {
			v.fail("%s", filepath.Join(dir, p.File)+": "+p.Reason)
		}
		return m, b, false
	case err != nil:
		v.fail("%s: %v", dir, err)
		return m, b, false
	}
	return m, b, true
}

// chain walks the history's manifests oldest first, then checks each
// run's newest manifest against its report folder.
func (v *verifier) chain(ctx context.Context, db *state.DB) error {
	newest := map[string]state.Link{} // one per run: the history's runs are few
	err := db.Chain(ctx, func(l state.Link) error {
		v.links++
		who := "run " + l.RunID
		if l.RunID == "" {
			who = fmt.Sprintf("manifest %d", l.Seq)
			v.fail("%s: its run is gone from the history", who)
		}
		if got := reports.Hash(l.Data); got != l.SHA256 {
			v.fail("%s: the stored manifest's sha256 is %s, the chain records %s", who, got, l.SHA256)
		}
		if l.Previous != v.head {
			v.fail("%s: its manifest follows %s, but the chain before it ends at %s: a run was removed or reordered",
				who, orNull(l.Previous), orNull(v.head))
		}
		m, err := reports.DecodeManifest(l.Data)
		switch {
		case err != nil:
			v.fail("%s: %v", who, err)
		case m.RunID != l.RunID:
			v.fail("%s: the manifest stored for it names run %s", who, m.RunID)
		case derefOr(m.Previous) != l.Previous:
			v.fail("%s: the manifest names %s as previous, the chain records %s", who, orNull(derefOr(m.Previous)), orNull(l.Previous))
		}
		v.head = l.SHA256
		if l.RunID != "" {
			newest[l.RunID] = l
		}
		return nil
	})
	if err != nil {
		return err
	}
	runs, err := db.Runs(ctx)
	if err != nil {
		return err
	}
	for _, r := range runs {
		l, ok := newest[r.ID]
		if !ok {
			if login, host, err := db.Runner(ctx, r.ID); err != nil {
				return err
			} else if r.Summary != nil && (login != "" || host != "") {
				v.fail("run %s: wrote its reports, but its manifest is not in the chain", r.ID)
			}
			continue // killed before its reports, or recorded by an older version
		}
		if _, err := os.Stat(r.Out); errors.Is(err, fs.ErrNotExist) {
			v.absent++
			continue
		}
		b, err := os.ReadFile(filepath.Join(r.Out, reports.ManifestName))
		if err == nil && reports.Hash(b) != l.SHA256 {
			v.fail("run %s: %s is not the manifest the chain holds for the run (sha256 %s, chain %s)",
				r.ID, filepath.Join(r.Out, reports.ManifestName), reports.Hash(b), l.SHA256)
			continue
		}
		if _, _, ok := v.folder(r.Out); ok {
			v.folders++
		}
	}
	return nil
}

func derefOr(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func orNull(s string) string {
	if s == "" {
		return "null"
	}
	return s
}
