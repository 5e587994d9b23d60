// Package dedup remembers the process ids a run has met, for duplicate_id,
// in memory that does not grow with the source: a Bloom filter in memory
// (about 1.2 bytes a process) answers "never seen" for almost every id, and
// the ids themselves, with the row each was first met at, are kept on disk
// in a temporary SQLite database that is looked up only on the filter's
// hits. A repeat is always a hit (a Bloom filter has no false negatives),
// and a hit is a repeat only when the disk says so: the verdicts are exact.
//
// On disk the ids are sorted runs, as in a log-structured merge tree: the
// ids waiting in memory are written, in key order, as a new table (an
// append, whatever the order of the ids); every mergeRuns tables of the
// same size are merged, by a merge of sorted tables, into one table that
// many times larger. Each id is thus written a few times, always in key
// order, where inserting random ids (v4 UUIDs) into one big B-tree would
// read and write a page of it per id once it outgrows the cache.
package dedup

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/bits-and-blooms/bloom/v3"
	_ "github.com/mattn/go-sqlite3" // the sqlite3 driver

	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

// DefaultFalsePositives is the filter's target rate of false hits when
// Config.FalsePositives is zero. Each false hit costs one lookup on disk
// (a few microseconds): at 1%, ten million new ids cost about half a
// second, for 9.6 bits of filter a process.
const DefaultFalsePositives = 0.01

// minCapacity is the smallest filter, in ids: a few KiB.
const minCapacity = 1 << 14

// flushEvery is how many new ids wait in memory (a map, exactly) before
// they are written to disk as a new table: about 1 MiB.
const flushEvery = 1 << 14

// mergeRuns is how many tables of one size are merged into one.
const mergeRuns = 4

// insertRows is how many ids one INSERT statement carries.
const insertRows = 128

// cacheKiB is the page cache of the database on disk: a lookup descends a
// few B-trees, and a merge reads and writes its tables in key order.
const cacheKiB = 4096

// Config says where and how big a Set is.
type Config struct {
	// Dir is the folder of the temporary database. The file is removed as
	// soon as it is open: nothing is left behind, even by a killed process.
	Dir string
	// Expected is how many ids the set should expect (a source's row
	// count); zero or less means unknown. More ids than expected are fine:
	// the set adds a filter twice as large each time the last one is full,
	// each with half the false-positive rate, so that the overall rate
	// stays under twice FalsePositives.
	Expected int
	// FalsePositives is the first filter's target rate of false hits; zero
	// means DefaultFalsePositives.
	FalsePositives float64
}

// Set is a reconcile.Seen. It is not safe for concurrent use: Run calls it
// from its reading goroutine.
type Set struct {
	db   *sql.DB
	conn *sql.Conn
	runs []run // the tables on disk, oldest first
	next int   // the number of the next table

	filters  []*bloom.BloomFilter // the newest last
	capacity int                  // ids the newest filter is sized for
	fill     int                  // ids added to the newest filter
	fp       float64              // the newest filter's target rate

	pending map[[16]byte]int // added, not yet on disk
	keys    [][16]byte       // pending's keys, reused when flushing
	args    []any            // insert arguments, reused

	hits, repeats int // filter hits, and those that were repeats
}

// run is one table of ids on disk, sorted by its primary key.
type run struct {
	name string
	n    int // ids
	tier int // n is about flushEvery * mergeRuns^tier
	find *sql.Stmt
}

var _ reconcile.Seen = (*Set)(nil)

// Open creates an empty Set whose database is a temporary file in
// cfg.Dir. Close it.
func Open(ctx context.Context, cfg Config) (*Set, error) {
	fp := cfg.FalsePositives
	if fp == 0 {
		fp = DefaultFalsePositives
	}
	if fp <= 0 || fp >= 1 {
		return nil, fmt.Errorf("duplicate detection: false-positive rate %g: want a rate between 0 and 1", fp)
	}
	return open(ctx, cfg.Dir, max(cfg.Expected, minCapacity), fp)
}

// open is Open with the first filter's capacity as given (tests make it
// tiny, so that ids collide in it).
func open(ctx context.Context, dir string, capacity int, fp float64) (s *Set, err error) {
	f, err := os.CreateTemp(dir, ".unico-reconcile-seen-*.db")
	if err != nil {
		return nil, fmt.Errorf("duplicate detection: %w", err)
	}
	path := f.Name()
	f.Close()
	// Removed once open (or on failure): SQLite keeps using its open file
	// descriptor. With journal_mode=OFF it never opens the path again (no
	// journal, no WAL), and with locking_mode=EXCLUSIVE no other
	// connection shares the file.
	defer os.Remove(path)
	p := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	db, err := sql.Open("sqlite3", "file:"+p+"?_journal_mode=OFF&_synchronous=OFF&_locking_mode=EXCLUSIVE")
	if err != nil {
		return nil, fmt.Errorf("duplicate detection: %w", err)
	}
	s = &Set{db: db, pending: make(map[[16]byte]int, flushEvery)}
	defer func() {
		if err != nil {
			s.Close()
			err = fmt.Errorf("duplicate detection: %w", err)
		}
	}()
	if s.conn, err = db.Conn(ctx); err != nil {
		return nil, err
	}
	for _, q := range []string{
		fmt.Sprintf("PRAGMA cache_size = -%d", cacheKiB),
		"PRAGMA temp_store = MEMORY",
	} {
		if _, err = s.conn.ExecContext(ctx, q); err != nil {
			return nil, err
		}
	}
	s.grow(capacity, fp)
	return s, nil
}

func insertSQL(table string, n int) string {
	return "INSERT INTO " + table + " (key, row) VALUES " + strings.TrimSuffix(strings.Repeat("(?, ?), ", n), ", ")
}

// grow adds an empty filter for capacity more ids at false-positive rate fp.
func (s *Set) grow(capacity int, fp float64) {
	s.filters = append(s.filters, bloom.NewWithEstimates(uint(capacity), fp))
	s.capacity, s.fill, s.fp = capacity, 0, fp
}

// Add remembers that key is first met at row and returns false; when key
// was added before, it returns the row it was first added at and true.
func (s *Set) Add(key [16]byte, row int) (first int, dup bool, err error) {
	// The newest filter tests and adds in one pass (a repeat already in
	// it sets no new bit); the older ones, or all when the newest is full,
	// only test, and a new filter is added only for a new id.
	full := s.fill >= s.capacity
	last := len(s.filters) - 1
	hit := false
	if !full {
		hit = s.filters[last].TestAndAdd(key[:])
		last--
	}
	for _, f := range s.filters[:last+1] {
		hit = hit || f.Test(key[:])
	}
	if hit {
		s.hits++
		first, dup, err = s.find1(key)
		if err != nil || dup {
			if dup {
				s.repeats++
			}
			return first, dup, err
		}
	}
	if full {
		s.grow(2*s.capacity, s.fp/2)
		s.filters[len(s.filters)-1].Add(key[:])
	}
	s.fill++
	s.pending[key] = row
	if len(s.pending) >= flushEvery {
		if err := s.flush(); err != nil {
			return 0, false, fmt.Errorf("duplicate detection: %w", err)
		}
	}
	return 0, false, nil
}

// find1 looks key up exactly: among the ids waiting in memory, then on
// disk, newest table first.
func (s *Set) find1(key [16]byte) (int, bool, error) {
	if row, ok := s.pending[key]; ok {
		return row, true, nil
	}
	for i := len(s.runs) - 1; i >= 0; i-- {
		var row int
		err := s.runs[i].find.QueryRow(key[:]).Scan(&row)
		if err == nil {
			return row, true, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return 0, false, fmt.Errorf("duplicate detection: look up: %w", err)
		}
	}
	return 0, false, nil
}

// flush writes the pending ids to disk as a new table, in key order (an
// append to its B-tree), then merges tables as due.
func (s *Set) flush() error {
	if len(s.pending) == 0 {
		return nil
	}
	s.keys = s.keys[:0]
	for k := range s.pending {
		s.keys = append(s.keys, k)
	}
	slices.SortFunc(s.keys, func(a, b [16]byte) int { return bytes.Compare(a[:], b[:]) })
	ctx := context.Background()
	name, err := s.create(ctx)
	if err != nil {
		return err
	}
	err = s.tx(ctx, func() error { return s.insert(ctx, name) })
	if err != nil {
		return err
	}
	if err := s.add(ctx, name, len(s.keys), 0); err != nil {
		return err
	}
	clear(s.pending)
	return s.compact(ctx)
}

// create creates the next table, empty.
func (s *Set) create(ctx context.Context) (string, error) {
	name := "r" + strconv.Itoa(s.next)
	s.next++
	_, err := s.conn.ExecContext(ctx, "CREATE TABLE "+name+" (key BLOB PRIMARY KEY, row INTEGER NOT NULL) WITHOUT ROWID")
	return name, err
}

// add makes the table name, of n ids, the newest run.
func (s *Set) add(ctx context.Context, name string, n, tier int) error {
	find, err := s.conn.PrepareContext(ctx, "SELECT row FROM "+name+" WHERE key = ?")
	if err != nil {
		return err
	}
	s.runs = append(s.runs, run{name: name, n: n, tier: tier, find: find})
	return nil
}

// compact merges the newest mergeRuns tables into one while they are of
// one tier. The tables are sorted by key, and SQLite merges sorted inputs
// of a compound SELECT ... ORDER BY without sorting: the new table is
// written in key order, an append.
func (s *Set) compact(ctx context.Context) error {
	for len(s.runs) >= mergeRuns {
		tail := s.runs[len(s.runs)-mergeRuns:]
		if slices.ContainsFunc(tail, func(r run) bool { return r.tier != tail[0].tier }) {
			return nil
		}
		name, err := s.create(ctx)
		if err != nil {
			return err
		}
		n := 0
		for _, r := range tail {
			n += r.n
		}
		err = s.tx(ctx, func() error {
			if _, err := s.conn.ExecContext(ctx, mergeSQL(name, tail)); err != nil {
				return err
			}
			for _, r := range tail {
				if err := r.find.Close(); err != nil {
					return err
				}
				if _, err := s.conn.ExecContext(ctx, "DROP TABLE "+r.name); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		tier := tail[0].tier + 1
		s.runs = s.runs[:len(s.runs)-mergeRuns]
		if err := s.add(ctx, name, n, tier); err != nil {
			return err
		}
	}
	return nil
}

// mergeSQL writes the ids of runs into table, in key order.
func mergeSQL(table string, runs []run) string {
	selects := make([]string, len(runs))
	for i, r := range runs {
		selects[i] = "SELECT key, row FROM " + r.name
	}
	return "INSERT INTO " + table + " (key, row) " + strings.Join(selects, " UNION ALL ") + " ORDER BY key"
}

// tx runs fn in a transaction.
func (s *Set) tx(ctx context.Context, fn func() error) error {
	if _, err := s.conn.ExecContext(ctx, "BEGIN"); err != nil {
		return err
	}
	err := fn()
	if err == nil {
		_, err = s.conn.ExecContext(ctx, "COMMIT")
	}
	if err != nil {
		s.conn.ExecContext(ctx, "ROLLBACK")
		return err
	}
	return nil
}

// insert writes s.keys, sorted, and their rows into table.
func (s *Set) insert(ctx context.Context, table string) error {
	keys := s.keys
	var many, one *sql.Stmt
	var err error
	if many, err = s.conn.PrepareContext(ctx, insertSQL(table, insertRows)); err != nil {
		return err
	}
	defer many.Close()
	if one, err = s.conn.PrepareContext(ctx, insertSQL(table, 1)); err != nil {
		return err
	}
	defer one.Close()
	for len(keys) >= insertRows {
		s.args = s.args[:0]
		for i := range insertRows {
			s.args = append(s.args, keys[i][:], s.pending[keys[i]])
		}
		if _, err := many.ExecContext(ctx, s.args...); err != nil {
			return err
		}
		keys = keys[insertRows:]
	}
	for _, k := range keys {
		if _, err := one.ExecContext(ctx, k[:], s.pending[k]); err != nil {
			return err
		}
	}
	return nil
}

// Stats says how many Adds hit the filter, and how many of those were
// repeats: the others were false hits, each a lookup on disk.
func (s *Set) Stats() (hits, repeats int) { return s.hits, s.repeats }

// FilterBytes is the memory the filters take.
func (s *Set) FilterBytes() int {
	n := 0
	for _, f := range s.filters {
		n += int(f.Cap()+7) / 8
	}
	return n
}

// Close closes the database; its file is gone already.
func (s *Set) Close() error {
	var errs []error
	for _, r := range s.runs {
		errs = append(errs, r.find.Close())
	}
	if s.conn != nil {
		errs = append(errs, s.conn.Close())
	}
	errs = append(errs, s.db.Close())
	s.filters, s.pending = nil, nil
	return errors.Join(errs...)
}
