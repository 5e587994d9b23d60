package job

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/unico-reconcile/unico-reconcile/reports"
	"github.com/unico-reconcile/unico-reconcile/state"
)

// Verify checks the report folders dirs against their manifest.json, and
// with statePath the run history's hash chain (and that the folders' manifests
// are in it). It checks dirs, and with statePath the chain; it writes one line
// per failure, or one OK line, to out, and returns whether all was well.
// An error is a history that cannot be read at all.
func Verify(ctx context.Context, dirs []string, statePath string, out io.Writer) (bool, error) {
	var db *state.DB
	if statePath != "" {
		var err error
		if db, err = OpenHistory(ctx, statePath); err != nil {
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
	// One per run and per repair: the history's runs are few.
	newest, repaired := map[string]state.Link{}, map[string]state.Link{}
	err := db.Chain(ctx, func(l state.Link) error {
		v.link(l)
		switch {
		case l.RepairID != "":
			repaired[l.RepairID] = l
		case l.RunID != "":
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
		if err := v.run(ctx, db, r, newest); err != nil {
			return err
		}
	}
	repairs, err := db.Repairs(ctx)
	if err != nil {
		return err
	}
	for _, r := range repairs {
		v.repair(r, repaired)
	}
	return nil
}

// repair checks repair r's folder against its manifest in the chain, when
// the folder is present.
func (v *verifier) repair(r state.Repair, chained map[string]state.Link) {
	l, ok := chained[r.ID]
	if !ok {
		if r.ExitCode == 0 || r.ExitCode == 1 {
			v.fail("repair %s of run %s: wrote its files, but its manifest is not in the chain", r.ID, r.RunID)
		}
		return // stopped by an error before its files
	}
	v.present("repair", r.ID, r.Out, l)
}

// link checks one link of the chain: its hash, its place after the one
// before, and the manifest it stores.
func (v *verifier) link(l state.Link) {
	v.links++
	who := "run " + l.RunID
	if l.RepairID != "" {
		who = "repair " + l.RepairID + " of run " + l.RunID
	}
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
	case m.RepairID != l.RepairID:
		v.fail("%s: the manifest stored for it names repair %q", who, m.RepairID)
	case derefOr(m.Previous) != l.Previous:
		v.fail("%s: the manifest names %s as previous, the chain records %s", who, orNull(derefOr(m.Previous)), orNull(l.Previous))
	}
	v.head = l.SHA256
}

// run checks run r's report folder against its newest manifest in the
// chain, when the folder is present.
func (v *verifier) run(ctx context.Context, db *state.DB, r state.Run, newest map[string]state.Link) error {
	l, ok := newest[r.ID]
	if !ok {
		if login, host, err := db.Runner(ctx, r.ID); err != nil {
			return err
		} else if r.Summary != nil && (login != "" || host != "") {
			v.fail("run %s: wrote its reports, but its manifest is not in the chain", r.ID)
		}
		return nil // killed before its reports, or recorded by an older version
	}
	v.present("run", r.ID, r.Out, l)
	return nil
}

// present checks the folder dir of a run or a repair (what) against the
// manifest the chain holds for it, l, when the folder is present.
func (v *verifier) present(what, id, dir string, l state.Link) {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		v.absent++
		return
	}
	b, err := os.ReadFile(filepath.Join(dir, reports.ManifestName))
	if err == nil && reports.Hash(b) != l.SHA256 {
		v.fail("%s %s: %s is not the manifest the chain holds for the %[1]s (sha256 %[4]s, chain %[5]s)",
			what, id, filepath.Join(dir, reports.ManifestName), reports.Hash(b), l.SHA256)
		return
	}
	if _, _, ok := v.folder(dir); ok {
		v.folders++
	}
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
