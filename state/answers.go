package state

import (
	"context"
	"fmt"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

// CopyAnswers copies the answers of run from into run to, except those
// whose kind is reconcile.Unverified (a re-check after an outage fetches
// those again), and returns how many it copied. An answer run to already
// has for the same process is replaced.
func (db *DB) CopyAnswers(ctx context.Context, from, to string) (int, error) {
	x, err := db.pool()
	if err != nil {
		return 0, err
	}
	tx, err := x.BeginTxx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("copy answers of run %s: %w", from, err)
	}
	defer tx.Rollback()
	fk, err := runKey(ctx, tx, from)
	if err != nil {
		return 0, fmt.Errorf("copy answers: %w", err)
	}
	tk, err := runKey(ctx, tx, to)
	if err != nil {
		return 0, fmt.Errorf("copy answers: %w", err)
	}
	res, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO answers (run, seq, process_id, kind, result)
		SELECT ?, seq, process_id, kind, result FROM answers WHERE run = ? AND kind != ?`,
		tk, fk, string(reconcile.Unverified))
	if err != nil {
		return 0, fmt.Errorf("copy answers of run %s to run %s: %w", from, to, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("copy answers of run %s to run %s: %w", from, to, err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("copy answers of run %s to run %s: %w", from, to, err)
	}
	return int(n), nil
}

// Recovered counts, for run to that re-checks run from: rechecked, the
// distinct processes that run from listed as unverified; recovered, how
// many of those have an answer in run to whose kind is not unverified.
func (db *DB) Recovered(ctx context.Context, from, to string) (rechecked, recovered int, err error) {
	x, err := db.pool()
	if err != nil {
		return 0, 0, err
	}
	fk, err := runKey(ctx, x, from)
	if err != nil {
		return 0, 0, fmt.Errorf("count recovered: %w", err)
	}
	tk, err := runKey(ctx, x, to)
	if err != nil {
		return 0, 0, fmt.Errorf("count recovered: %w", err)
	}
	// Listed ids of unverified processes are canonical: an invalid id is
	// listed as invalid_input. unhex turns one into the answers' 16 bytes.
	// The answers have no index by process id: the few rechecked ids are
	// the IN list, which SQLite keeps in a transient index.
	err = x.QueryRowxContext(ctx, `
		SELECT (SELECT count(DISTINCT process_id) FROM listed WHERE run = ?1 AND kind = ?2),
		       (SELECT count(*) FROM answers WHERE run = ?3 AND kind != ?2 AND process_id IN
		          (SELECT unhex(replace(process_id, '-', '')) FROM listed WHERE run = ?1 AND kind = ?2))`,
		fk, string(reconcile.Unverified), tk).Scan(&rechecked, &recovered)
	if err != nil {
		return 0, 0, fmt.Errorf("count recovered of run %s in run %s: %w", from, to, err)
	}
	return rechecked, recovered, nil
}

// Answered counts the answers recorded for run id: what a resumed run
// does not fetch again.
func (db *DB) Answered(ctx context.Context, id string) (int, error) {
	x, err := db.pool()
	if err != nil {
		return 0, err
	}
	k, err := runKey(ctx, x, id)
	if err != nil {
		return 0, fmt.Errorf("count answers: %w", err)
	}
	var n int
	if err := x.QueryRowxContext(ctx, `SELECT count(*) FROM answers WHERE run = ?`, k).Scan(&n); err != nil {
		return 0, fmt.Errorf("count answers of run %s: %w", id, err)
	}
	return n, nil
}
