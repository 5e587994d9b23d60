package state

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gofrs/flock"
	"github.com/jmoiron/sqlx"
	"github.com/mattn/go-sqlite3" // also registers the sqlite3 driver
)

// sqliteMagic opens every SQLite 3 database file.
var sqliteMagic = []byte("SQLite format 3\x00")

// ErrClosed is returned by a method of a DB, Journal or Listing called
// after its Close.
var ErrClosed = errors.New("state: closed")

// VersionError says that a database's schema is newer than this program
// knows: it was written by a newer version of the program.
type VersionError struct {
	Path    string
	Version int // the database's PRAGMA user_version
	Known   int // the newest version this program knows
}

func (e *VersionError) Error() string {
	return fmt.Sprintf("state %s has schema version %d, newer than this program knows (%d): use a newer unico-reconcile",
		e.Path, e.Version, e.Known)
}

// DB is the state database. It is safe for concurrent use, except that
// Lock, Unlock and Close must not run while another method is running.
type DB struct {
	path string
	dsn  string

	mu     sync.RWMutex
	x      *sqlx.DB     // swapped by Lock and Unlock (see withoutConns)
	fl     *flock.Flock // non-nil while this DB holds the lock
	users  int          // open Journals and Listings
	closed bool
}

// Open opens the state database at path, creating it (mode 0600) and its
// parent folder (mode 0700) if needed, and brings its schema up to date.
// The database runs in WAL mode with synchronous=NORMAL (a commit survives
// a crash of the process; a power loss may lose the last commits, never
// the database) and waits up to 5 s for another process's write lock.
//
// A file that is not a SQLite database is left untouched and is an error
// naming path; a schema newer than this program knows is a *VersionError.
func Open(ctx context.Context, path string) (*DB, error) {
	return open(ctx, path, len(migrations))
}

// open opens path and applies the migrations up to version (fewer than
// all only in tests, to build databases as older versions left them).
func open(ctx context.Context, path string, version int) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open state %s: %w", path, err)
	}
	if err := prepareFile(path); err != nil {
		return nil, err
	}
	db := &DB{path: path, dsn: dsn(path)}
	x, err := db.openPool()
	if err != nil {
		return nil, err
	}
	if err := migrateRetrying(ctx, x, path, version); err != nil {
		x.Close()
		return nil, err
	}
	db.x = x
	return db, nil
}

// migrateRetrying is migrate, tried again for up to five seconds while the
// database is busy. Two processes creating the database at once can meet
// SQLITE_BUSY before any busy timeout applies: switching a new database to
// WAL takes an exclusive lock, and SQLite does not wait for that one.
func migrateRetrying(ctx context.Context, x *sqlx.DB, path string, version int) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := migrate(ctx, x, path, version)
		var se sqlite3.Error
		if err == nil || !errors.As(err, &se) || se.Code != sqlite3.ErrBusy || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// prepareFile creates path with mode 0600 when it does not exist (SQLite
// would use 0644; its -wal and -shm files take the database file's mode),
// and checks that an existing non-empty file is a SQLite database.
func prepareFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		return f.Close()
	}
	if !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("open state %s: %w", path, err)
	}
	f, err = os.Open(path)
	if err != nil {
		return fmt.Errorf("open state %s: %w", path, err)
	}
	defer f.Close()
	head := make([]byte, len(sqliteMagic))
	n, err := io.ReadFull(f, head)
	switch {
	case n == 0 && errors.Is(err, io.EOF):
		return nil // an empty file is an empty database
	case err != nil && !errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("open state %s: %w", path, err)
	case !bytes.Equal(head[:n], sqliteMagic):
		return fmt.Errorf("open state %s: not a SQLite database", path)
	}
	return nil
}

// dsn is the driver's name for path, with the settings every connection
// gets. Transactions begin IMMEDIATE: a writer takes the write lock first,
// so that two writers never deadlock on upgrading a read lock.
func dsn(path string) string {
	p := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	return "file:" + p + "?_txlock=immediate&_busy_timeout=5000&_journal_mode=WAL" +
		"&_synchronous=NORMAL&_foreign_keys=1"
}

func (db *DB) openPool() (*sqlx.DB, error) {
	x, err := sqlx.Open("sqlite3", db.dsn)
	if err != nil {
		return nil, fmt.Errorf("open state %s: %w", db.path, err)
	}
	x.SetConnMaxIdleTime(time.Minute)
	return x, nil
}

// migrate applies the migrations the database lacks, up to version, each
// in its own BEGIN IMMEDIATE transaction that first reads user_version: a
// process that opens the database at the same time waits, then finds the
// work done.
func migrate(ctx context.Context, x *sqlx.DB, path string, version int) error {
	conn, err := x.Connx(ctx)
	if err != nil {
		return fmt.Errorf("open state %s: %w", path, err)
	}
	defer conn.Close()
	for {
		tx, err := conn.BeginTxx(ctx, nil)
		if err != nil {
			return fmt.Errorf("open state %s: %w", path, err)
		}
		var v int
		if err := tx.GetContext(ctx, &v, "PRAGMA user_version"); err != nil {
			tx.Rollback()
			return fmt.Errorf("open state %s: read schema version: %w", path, err)
		}
		if v > len(migrations) {
			tx.Rollback()
			return &VersionError{Path: path, Version: v, Known: len(migrations)}
		}
		if v >= version {
			return tx.Rollback()
		}
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			tx.Rollback()
			return fmt.Errorf("open state %s: migrate to version %d: %w", path, v+1, err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v+1)); err != nil {
			tx.Rollback()
			return fmt.Errorf("open state %s: migrate to version %d: %w", path, v+1, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("open state %s: migrate to version %d: %w", path, v+1, err)
		}
	}
}

// Path returns the path the database was opened with.
func (db *DB) Path() string { return db.path }

// pool returns the connection pool, or ErrClosed.
func (db *DB) pool() (*sqlx.DB, error) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.closed {
		return nil, ErrClosed
	}
	return db.x, nil
}

// acquire counts one more open Journal or Listing and returns the pool.
func (db *DB) acquire() (*sqlx.DB, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed {
		return nil, ErrClosed
	}
	db.users++
	return db.x, nil
}

func (db *DB) release() {
	db.mu.Lock()
	db.users--
	db.mu.Unlock()
}

// Close releases the lock if this DB holds it (as Unlock does) and closes
// the database. Open Journals and Listings must be closed first.
func (db *DB) Close() error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed {
		return nil
	}
	db.closed = true
	var errs []error
	if db.fl != nil {
		if _, err := db.x.Exec("DELETE FROM lock"); err != nil {
			errs = append(errs, fmt.Errorf("unlock state %s: %w", db.path, err))
		}
	}
	// SQLite's connections close before the lock's file descriptor: see
	// withoutConns.
	if err := db.x.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close state %s: %w", db.path, err))
	}
	if db.fl != nil {
		if err := db.fl.Unlock(); err != nil {
			errs = append(errs, fmt.Errorf("unlock state %s: %w", db.path, err))
		}
		db.fl = nil
	}
	return errors.Join(errs...)
}

// withoutConns runs fn with every SQLite connection of this DB closed, then
// opens the pool again. fn takes or releases the flock, and gofrs/flock
// closes its file descriptor when it releases the lock or fails to take
// it: on Linux, closing any descriptor of a file drops every POSIX lock the
// process holds on it, SQLite's included, and another process could then
// believe it is the database's last user and delete the WAL under us.
// With no connection open there is no SQLite lock to lose. db.mu is held.
func (db *DB) withoutConns(fn func() error) error {
	if db.users > 0 {
		return fmt.Errorf("%d journals or listings still open", db.users)
	}
	if err := db.x.Close(); err != nil {
		return err
	}
	ferr := fn()
	x, err := db.openPool()
	if err != nil {
		db.closed = true
		return errors.Join(ferr, err)
	}
	db.x = x
	return ferr
}
