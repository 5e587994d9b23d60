package state

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/gofrs/flock"
	"github.com/jmoiron/sqlx"
)

// Inspection is what Inspect finds of a run history, changing nothing.
type Inspection struct {
	Exists bool // the database file exists (else its folder can create it)
	// Held is set when another process holds the lock now; Holder names
	// it when it has written its name.
	Held   bool
	Holder *Holder
	// Stale is the holder written by a process that died without
	// unlocking: the next run takes its lock over.
	Stale *Holder
}

// Inspect checks, without creating, migrating or locking anything for
// longer than the check takes, that the run history at path can be opened
// for writing and that no process holds its lock. A database that does not
// exist yet is fine when the nearest existing folder above it is writable.
func Inspect(ctx context.Context, path string) (Inspection, error) {
	var in Inspection
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		_, err := CheckWritable(filepath.Dir(path))
		return in, err
	case err != nil:
		return in, fmt.Errorf("state %s: %w", path, err)
	case fi.IsDir():
		return in, fmt.Errorf("state %s: a folder, not a database file", path)
	}
	in.Exists = true
	if err := prepareFile(path); err != nil {
		return in, err
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return in, fmt.Errorf("state %s: %w", path, err)
	}
	f.Close()
	if _, err := CheckWritable(filepath.Dir(path)); err != nil {
		return in, err // SQLite writes its -wal and -shm files beside it
	}
	fl := flock.New(path)
	ok, err := fl.TryLock()
	if err != nil {
		return in, fmt.Errorf("state %s: lock: %w", path, err)
	}
	holder, err := readHolderOf(ctx, path)
	if ok {
		fl.Unlock()
	}
	if err != nil {
		return in, fmt.Errorf("state %s: read holder: %w", path, err)
	}
	if ok {
		in.Stale = holder
	} else {
		in.Held, in.Holder = true, holder
	}
	return in, nil
}

// readHolderOf reads the lock's holder through a read-only connection of
// its own; a database without the lock table (new, or older than it) has
// none.
func readHolderOf(ctx context.Context, path string) (*Holder, error) {
	x, err := sqlx.Open("sqlite3", "file:"+path+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		return nil, err
	}
	defer x.Close()
	var n int
	if err := x.GetContext(ctx, &n, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'lock'"); err != nil || n == 0 {
		return nil, err
	}
	return readHolder(ctx, x)
}

// CheckWritable checks that dir, or the nearest folder above it that
// exists (which it returns), takes a new file.
func CheckWritable(dir string) (existing string, err error) {
	d := dir
	for {
		fi, err := os.Stat(d)
		if err == nil && !fi.IsDir() {
			return d, fmt.Errorf("%s: not a folder", d)
		}
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return d, err
		}
		parent := filepath.Dir(d)
		if parent == d {
			return d, err
		}
		d = parent
	}
	f, err := os.CreateTemp(d, ".unico-reconcile-check-*")
	if err != nil {
		return d, fmt.Errorf("cannot create a file in %s: %w", d, errors.Unwrap(err))
	}
	name := f.Name()
	f.Close()
	return d, os.Remove(name)
}
