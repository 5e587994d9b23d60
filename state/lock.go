package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gofrs/flock"
	"github.com/jmoiron/sqlx"
)

// Holder says which process holds, or held, the lock.
type Holder struct {
	PID   int       // the process id
	Host  string    // the host name
	Since time.Time // when it took the lock; stored to the nanosecond, read back in UTC
	RunID string    // the run it is doing, "" if not known yet
}

// String describes the holder as in "pid 1234 on host h since
// 2026-11-27T16:00:00Z (run 20261127T160000Z-a1b2c3)".
func (h Holder) String() string {
	s := fmt.Sprintf("pid %d on host %s since %s", h.PID, h.Host, h.Since.UTC().Format(time.RFC3339))
	if h.RunID != "" {
		s += " (run " + h.RunID + ")"
	}
	return s
}

// LockedError says that another process holds the lock on the database at
// Path. Holder is nil when that process has not yet written its name.
type LockedError struct {
	Path   string
	Holder *Holder
}

func (e *LockedError) Error() string {
	if e.Holder == nil {
		return fmt.Sprintf("state %s is in use by another process (holder unknown)", e.Path)
	}
	return fmt.Sprintf("state %s is in use by %s", e.Path, e.Holder)
}

// Lock makes this process the only run on the database: it takes an
// exclusive, non-blocking flock on the database file, then writes h as the
// holder. When another process holds the flock, Lock returns at once a
// *LockedError naming it. When the flock is free but a holder is still
// written, that process died without unlocking (the kernel released its
// flock): Lock takes over and returns the previous holder, nil otherwise.
//
// Lock closes and reopens the DB's connections (see withoutConns): call it
// before opening any Journal or Listing, and not concurrently with other
// methods.
func (db *DB) Lock(ctx context.Context, h Holder) (prev *Holder, err error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed {
		return nil, ErrClosed
	}
	if db.fl != nil {
		return nil, fmt.Errorf("lock state %s: already locked by this process", db.path)
	}
	fl := flock.New(db.path, flock.SetPermissions(0o600))
	var ok bool
	err = db.withoutConns(func() (err error) {
		ok, err = fl.TryLock()
		return err
	})
	if err != nil {
		if ok {
			fl.Unlock()
		}
		return nil, fmt.Errorf("lock state %s: %w", db.path, err)
	}
	if !ok {
		holder, err := readHolder(ctx, db.x)
		if err != nil {
			return nil, fmt.Errorf("lock state %s: read holder: %w", db.path, err)
		}
		return nil, &LockedError{Path: db.path, Holder: holder}
	}
	db.fl = fl
	prev, err = writeHolder(ctx, db.x, h)
	if err != nil {
		db.withoutConns(db.fl.Unlock)
		db.fl = nil
		return nil, fmt.Errorf("lock state %s: %w", db.path, err)
	}
	return prev, nil
}

// Unlock deletes the holder and releases the lock; it does nothing when
// this DB does not hold the lock. Like Lock, it must not run while a
// Journal or Listing is open.
func (db *DB) Unlock() error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed {
		return ErrClosed
	}
	if db.fl == nil {
		return nil
	}
	if db.users > 0 {
		return fmt.Errorf("unlock state %s: %d journals or listings still open", db.path, db.users)
	}
	if _, err := db.x.Exec("DELETE FROM lock"); err != nil {
		return fmt.Errorf("unlock state %s: %w", db.path, err)
	}
	if err := db.withoutConns(db.fl.Unlock); err != nil {
		return fmt.Errorf("unlock state %s: %w", db.path, err)
	}
	db.fl = nil
	return nil
}

type holderRow struct {
	PID   int    `db:"pid"`
	Host  string `db:"host"`
	Since string `db:"since"`
	RunID string `db:"run_id"`
}

func readHolder(ctx context.Context, q sqlx.QueryerContext) (*Holder, error) {
	var r holderRow
	err := sqlx.GetContext(ctx, q, &r, "SELECT pid, host, since, run_id FROM lock WHERE id = 1")
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	since, err := parseTime(r.Since)
	if err != nil {
		return nil, fmt.Errorf("holder since: %w", err)
	}
	return &Holder{PID: r.PID, Host: r.Host, Since: since, RunID: r.RunID}, nil
}

// writeHolder replaces the holder with h, in one transaction, and returns
// the one it replaced.
func writeHolder(ctx context.Context, x *sqlx.DB, h Holder) (*Holder, error) {
	tx, err := x.BeginTxx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	prev, err := readHolder(ctx, tx)
	if err != nil {
		return nil, fmt.Errorf("read holder: %w", err)
	}
	_, err = tx.ExecContext(ctx,
		"INSERT OR REPLACE INTO lock (id, pid, host, since, run_id) VALUES (1, ?, ?, ?, ?)",
		h.PID, h.Host, formatTime(h.Since), h.RunID)
	if err != nil {
		return nil, fmt.Errorf("write holder: %w", err)
	}
	return prev, tx.Commit()
}
