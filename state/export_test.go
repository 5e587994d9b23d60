package state

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

// SchemaVersion is the newest schema version.
var SchemaVersion = len(migrations)

// OpenVersion opens path with only the first v migrations applied, as an
// older program would have left it.
func OpenVersion(ctx context.Context, path string, v int) (*DB, error) { return open(ctx, path, v) }

// Pragma returns the value of PRAGMA name on one of db's connections.
func (db *DB) Pragma(ctx context.Context, name string) (string, error) {
	var v string
	err := db.x.GetContext(ctx, &v, "PRAGMA "+name)
	return v, err
}

// Exec runs a statement on db, for tests that build odd states.
func (db *DB) Exec(ctx context.Context, q string, args ...any) error {
	_, err := db.x.ExecContext(ctx, q, args...)
	return err
}

// BulkAnswers records n answers for run in one transaction, faster than a
// Journal can: answer(i) gives the process id, result and kind at seq i.
func (db *DB) BulkAnswers(ctx context.Context, runID string, n int,
	answer func(i int) (string, reconcile.Result, reconcile.Kind)) error {
	tx, err := db.x.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	key, err := runKey(ctx, tx, runID)
	if err != nil {
		return err
	}
	stmt, err := tx.PrepareContext(ctx, "INSERT INTO answers (run, seq, process_id, kind, result) VALUES (?, ?, ?, ?, ?)")
	if err != nil {
		return err
	}
	defer stmt.Close()
	var buf []byte
	for i := range n {
		pid, r, kind := answer(i)
		k, err := pidKey(pid)
		if err != nil {
			return err
		}
		buf = encodeResult(buf[:0], k, r)
		if _, err := stmt.ExecContext(ctx, key, i, k[:], string(kind), buf); err != nil {
			return fmt.Errorf("answer %d: %w", i, err)
		}
	}
	return tx.Commit()
}

// Commits returns how many transactions the journal's writer committed; call
// it after Close.
func (j *Journal) Commits() int { return j.commits }

// Crash stops the journal as a killed process would: nothing more is
// imported, and the log stays.
func (j *Journal) Crash() {
	err := errors.New("crashed")
	j.failure.Store(&err)
	_ = j.Close()
}

// SetImportEvery sets how long the importer waits, and returns the undo.
func SetImportEvery(d time.Duration) func() {
	old := importEvery
	importEvery = d
	return func() { importEvery = old }
}

// SetSegmentBytes sets the log's segment size, and returns the undo.
func SetSegmentBytes(n int64) func() {
	old := segmentBytes
	segmentBytes = n
	return func() { segmentBytes = old }
}

// SetMaxQueued sets how many records may wait for the importer, and
// returns the undo.
func SetMaxQueued(n int) func() {
	old := maxQueued
	maxQueued = n
	return func() { maxQueued = old }
}
