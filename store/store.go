package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

// DefaultQuery is the SQL a SQL source runs when no query is given.
const DefaultQuery = `SELECT process_id, status, unico_id_result, identity_fraudsters_result, serpro_score, liveness, score, saved_at FROM processes`

// Errors that make a source unusable, for errors.Is. The error returned wraps
// one of them together with the file name and the details.
var (
	// ErrUnsupportedSource: the source is neither a .csv file, nor a SQLite
	// file (.db, .sqlite, .sqlite3 or sqlite:PATH), nor a postgres:// URL.
	ErrUnsupportedSource = errors.New("unsupported source")
	// ErrEmpty: the file has no bytes, or a CSV file has no header row.
	ErrEmpty = errors.New("empty file")
	// ErrNotCSV: the file is not CSV text (NUL bytes, a header that is not
	// UTF-8, a quoting error that leaves the rest unreadable, a row longer
	// than 1 MiB).
	ErrNotCSV = errors.New("not a CSV file")
	// ErrNotDatabase: the file is not a SQLite database.
	ErrNotDatabase = errors.New("not a SQLite database")
	// ErrBadQuery: the database rejected the query.
	ErrBadQuery = errors.New("bad query")
	// ErrBadDSN: a postgres:// URL that cannot be parsed.
	ErrBadDSN = errors.New("bad DSN")
	// ErrConnect: the PostgreSQL server cannot be reached, or refuses the
	// login or the database.
	ErrConnect = errors.New("cannot connect")
	// ErrNoProcessIDColumn: the CSV header or the query's result has no
	// process_id column.
	ErrNoProcessIDColumn = errors.New("no process_id column")
	// ErrDuplicateColumn: a contract column appears twice, so which value
	// counts would be a guess.
	ErrDuplicateColumn = errors.New("duplicate column")
)

// Source is a source opened by Open: a CSV, SQLite or PostgreSQL source.
type Source struct {
	src source
}

// source is what CSV and SQLite have in common.
type source interface {
	reconcile.Source
	io.Closer
	Missing() []string
	Survey(context.Context) (Survey, error)
}

var _ reconcile.Source = (*Source)(nil)

// Open opens source by its name: a path ending in .csv is a CSV file; a path
// ending in .db, .sqlite or .sqlite3, or any path after a "sqlite:" prefix,
// is a SQLite database read with query (DefaultQuery when query is empty);
// a postgres:// or postgresql:// URL is a PostgreSQL database read with
// query. Extensions match in any case. A query given for a CSV file is an
// error.
func Open(source, query string) (*Source, error) {
	if IsPostgres(source) {
		p, err := OpenPostgres(source, query)
		if err != nil {
			return nil, err
		}
		return &Source{p}, nil
	}
	if path, ok := strings.CutPrefix(source, "sqlite:"); ok {
		if path == "" {
			return nil, fmt.Errorf("%q: %w: no path after the sqlite: prefix", source, ErrUnsupportedSource)
		}
		s, err := OpenSQLite(path, query)
		if err != nil {
			return nil, err
		}
		return &Source{s}, nil
	}
	switch strings.ToLower(filepath.Ext(source)) {
	case ".csv":
		if query != "" && query != DefaultQuery {
			return nil, fmt.Errorf("%s: a query applies to SQL sources only", source)
		}
		c, err := OpenCSV(source)
		if err != nil {
			return nil, err
		}
		return &Source{c}, nil
	case ".db", ".sqlite", ".sqlite3":
		s, err := OpenSQLite(source, query)
		if err != nil {
			return nil, err
		}
		return &Source{s}, nil
	}
	return nil, fmt.Errorf("%q: %w: want a .csv, .db, .sqlite or .sqlite3 file, sqlite:PATH or a postgres:// URL", source, ErrUnsupportedSource)
}

// Each calls fn once per row, in source order; see reconcile.Source.
func (s *Source) Each(ctx context.Context, fn func(reconcile.Local) error) error {
	return s.src.Each(ctx, fn)
}

// Missing lists the contract's optional columns that the source lacks; every
// row reads them as not stored. A caller may warn about them: a misspelt
// column name looks like this.
func (s *Source) Missing() []string { return s.src.Missing() }

// Close releases the file or the database.
func (s *Source) Close() error { return s.src.Close() }

// Columns returns the contract's columns, in its order.
func Columns() []string { return slices.Clone(columns) }
