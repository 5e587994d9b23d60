package job

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/unico-reconcile/unico-reconcile/reports"
	"github.com/unico-reconcile/unico-reconcile/state"
)

// OpenHistory opens an existing run history: reading one never creates it.
func OpenHistory(ctx context.Context, path string) (*state.DB, error) {
	if err := historyExists(path); err != nil {
		return nil, err
	}
	return state.Open(ctx, path)
}

// historyExists says, when there is no run history at path, that there
// is none and how to make one.
func historyExists(path string) error {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no run history at %s (give --state, or run the job first)", path)
	}
	return nil
}

// Rewrite writes run id's reports (id may be "last") into dir from the
// history alone, byte for byte as the run wrote them.
func Rewrite(ctx context.Context, statePath, id, dir string) error {
	db, err := OpenHistory(ctx, statePath)
	if err != nil {
		return err
	}
	defer db.Close()
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
	p, err := specOf(r)
	if err != nil {
		return err
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
