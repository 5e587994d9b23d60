package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/mattn/go-sqlite3"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

// sqliteMagic opens every SQLite 3 database file.
var sqliteMagic = []byte("SQLite format 3\x00")

// SQLite is a SQLite database of saved outcomes, read with a query whose
// result columns are matched by name (without regard to case) to the
// contract's columns; other result columns are ignored.
//
// The database is opened read-only (mode=ro, query_only): the job never
// writes to it nor creates it. Each runs the query once and streams its
// result; row numbers count the result's rows from 1.
//
// Values may be INTEGER, REAL, TEXT, BLOB or NULL (NULL reads as not stored;
// a REAL with no fraction reads as the integer). The driver turns the values
// of columns declared DATE, DATETIME or TIMESTAMP into times (text in its
// formats, Unix seconds or milliseconds) and would turn text it cannot parse
// there into the zero time: Each reads such a column's text beside it (the
// query runs as a subquery) and reports text that is not a time as invalid.
//
// A database in WAL mode that no program has open (no -wal or -shm file
// beside it) is read as immutable, so that reading leaves no -wal or -shm
// file behind; no program may then start writing to it until Each returns.
// One that is open elsewhere is read through its -wal and -shm files.
//
// Each holds one read transaction for as long as it runs: on a database that
// another program writes to, in rollback-journal mode, writers wait for it.
// Read a copy, or a database in WAL mode.
type SQLite struct {
	path    string
	query   string
	db      *sqlx.DB
	missing []string
	// run is the SQL Each runs: query, or query wrapped to add the text of
	// each result column in timeCols (by index) after its own columns.
	run      string
	timeCols []int
}

var _ reconcile.Source = (*SQLite)(nil)

// OpenSQLite opens the SQLite database at path read-only and checks that
// query (DefaultQuery when empty) compiles and returns a process_id column.
// It never creates the file.
func OpenSQLite(path, query string) (*SQLite, error) {
	if strings.TrimSpace(query) == "" {
		query = DefaultQuery
	}
	params, err := checkSQLiteFile(path)
	if err != nil {
		return nil, err
	}
	db, err := sqlx.Open("sqlite3", sqliteDSN(path, params))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	s := &SQLite{path: path, query: query, db: db, run: query}

	// Query prepares the statement and takes its first step: enough to
	// learn the columns, and to reject a bad query or a damaged file now.
	rows, err := db.Queryx(query)
	if err != nil {
		db.Close()
		return nil, s.queryError(err)
	}
	cols, err := rows.Columns()
	var types []*sql.ColumnType
	if err == nil {
		types, err = rows.ColumnTypes()
	}
	rows.Close()
	var names []string
	if err == nil {
		names, s.missing, err = s.match(cols)
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	s.wrapTimes(cols, names, types)
	return s, nil
}

// wrapTimes sets run and timeCols when a contract column of the query's
// result is declared as a time: the query becomes a subquery, and the text
// of each such column is selected after the query's own columns. A query
// that cannot be a subquery (several statements) runs as it is.
func (s *SQLite) wrapTimes(cols, names []string, types []*sql.ColumnType) {
	var idx []int
	var extra []string
	for i, t := range types {
		switch strings.ToLower(t.DatabaseTypeName()) {
		case "date", "datetime", "timestamp":
			if i < len(names) && slices.Contains(columns, names[i]) {
				idx = append(idx, i)
				extra = append(extra, "CAST("+sqliteIdent(cols[i])+" AS TEXT)")
			}
		}
	}
	if len(idx) == 0 {
		return
	}
	q := strings.TrimRight(strings.TrimSpace(s.query), "; \t\r\n")
	run := "SELECT *, " + strings.Join(extra, ", ") + " FROM (\n" + q + "\n)"
	rows, err := s.db.Queryx(run)
	if err != nil {
		return
	}
	got, err := rows.Columns()
	rows.Close()
	if err != nil || len(got) != len(cols)+len(idx) {
		return
	}
	s.run, s.timeCols = run, idx
}

// sqliteIdent quotes a column name for SQL.
func sqliteIdent(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// checkSQLiteFile fails unless path is an existing file that starts as a
// SQLite database does: SQLite itself would take an empty file for an empty
// database, and a missing one is never to be created. It returns the URI
// parameters the file calls for.
func checkSQLiteFile(path string) (params string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	head := make([]byte, 100) // the database header
	n, err := io.ReadFull(f, head)
	switch {
	case n == 0 && err == io.EOF:
		return "", fmt.Errorf("%s: %w", path, ErrEmpty)
	case err == io.ErrUnexpectedEOF || (err == nil && !bytes.HasPrefix(head, sqliteMagic)):
		return "", fmt.Errorf("%s: %w", path, ErrNotDatabase)
	case err != nil:
		return "", readError(path, err)
	}

	// A database in WAL mode (file format versions 2 at offsets 18 and 19)
	// is read through its -wal and -shm files, which SQLite creates if they
	// are missing and, on a read-only connection, cannot remove again.
	// Missing, they say that no program has the database open and that
	// every page is in the main file: read it as immutable, which creates
	// nothing and takes no lock.
	if head[18] == 2 && head[19] == 2 && !exists(path+"-wal") && !exists(path+"-shm") {
		return "&immutable=1", nil
	}
	return "", nil
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return !errors.Is(err, fs.ErrNotExist)
}

// sqliteDSN is a read-only URI for path. "?" and "#" would end the path in
// a URI, and "%" would start an escape, so they are escaped.
func sqliteDSN(path, params string) string {
	p := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	return "file:" + p + "?mode=ro&_query_only=1" + params
}

// Missing lists the contract's columns the query's result lacks.
func (s *SQLite) Missing() []string { return slices.Clone(s.missing) }

// Close closes the database.
func (s *SQLite) Close() error { return s.db.Close() }

// match finds the contract's columns among the query's result columns. It
// returns the names in lower case and the optional columns that are missing.
func (s *SQLite) match(cols []string) (names, missing []string, err error) {
	names = make([]string, len(cols))
	for i, c := range cols {
		names[i] = strings.ToLower(strings.TrimSpace(c))
	}
	if _, missing, err = matchColumns(names, cols); err != nil {
		return nil, nil, fmt.Errorf("%s: query result: %w", s.path, err)
	}
	return names, missing, nil
}

// queryError classifies an error from running the query.
func (s *SQLite) queryError(err error) error {
	var se sqlite3.Error
	if errors.As(err, &se) && (se.Code == sqlite3.ErrNotADB || se.Code == sqlite3.ErrCorrupt) {
		return fmt.Errorf("%s: %w: %v", s.path, ErrNotDatabase, err)
	}
	// ErrError is SQL the database rejects; a plain ErrReadonly (not, say,
	// a hot journal that needs a rollback) is a query that tries to write.
	if errors.As(err, &se) && (se.Code == sqlite3.ErrError || se.ExtendedCode == sqlite3.ErrNoExtended(sqlite3.ErrReadonly)) {
		return fmt.Errorf("%s: %w: %v", s.path, ErrBadQuery, err)
	}
	return fmt.Errorf("query %s: %w", s.path, err)
}

// Each runs the query and calls fn once per result row.
func (s *SQLite) Each(ctx context.Context, fn func(reconcile.Local) error) error {
	rows, err := s.db.QueryxContext(ctx, s.run)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return s.queryError(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return s.queryError(err)
	}
	names, _, err := s.match(cols[:len(cols)-len(s.timeCols)])
	if err != nil {
		return err
	}

	// Contract columns scan into values; the others into RawBytes, which
	// the driver fills without allocating.
	var raw rawRow
	values := make([]any, len(cols))
	dest := make([]any, len(cols))
	fields := make([]*string, len(cols))
	for i, n := range names {
		if fields[i] = raw.field(n); fields[i] != nil {
			dest[i] = &values[i]
		} else {
			dest[i] = new(sql.RawBytes)
		}
	}
	for i := len(names); i < len(cols); i++ {
		dest[i] = &values[i]
	}

	for row := 1; ; row++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !rows.Next() {
			break
		}
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("%s: row %d: %w", s.path, row, err)
		}
		raw = rawRow{}
		for i, f := range fields {
			if f != nil {
				*f = text(values[i])
			}
		}
		// The driver turns text that is not a time into the zero time:
		// the text itself is checked instead.
		for j, i := range s.timeCols {
			if t, ok := values[i].(time.Time); ok && t.IsZero() {
				*fields[i] = text(values[len(names)+j])
			}
		}
		if err := fn(parseRow(s.path, row, &raw)); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return s.queryError(err)
	}
	return nil
}

// text renders a driver value as the text the column rules check. A zero
// time is what the driver makes of text it could not parse as a time, and
// reads as empty.
func text(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case []byte:
		return string(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	case time.Time:
		if v.IsZero() {
			return ""
		}
		return v.Format(time.RFC3339Nano)
	}
	return fmt.Sprint(v)
}
