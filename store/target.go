package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jmoiron/sqlx"
	"github.com/mattn/go-sqlite3"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

const (
	// DefaultTable is the table a Target writes when TargetConfig.Table is
	// empty.
	DefaultTable = "processes"
	// TargetBusyTimeout is how long a write to a SQLite target waits for
	// another program's write lock before it fails (SQLite's busy timeout).
	TargetBusyTimeout = 30 * time.Second
)

// Errors of OpenTarget, for errors.Is; the error returned wraps one of them
// together with the target's name and the details.
var (
	// ErrNoTable: the target has no such table (or may not read it).
	ErrNoTable = errors.New("no such table")
	// ErrNoColumn: the table lacks a column that a repair reads or writes.
	ErrNoColumn = errors.New("no such column")
	// ErrBadMapping: TargetConfig.Columns names a column the contract does
	// not know, maps a column to an empty name, or maps two contract
	// columns to one table column.
	ErrBadMapping = errors.New("bad column mapping")
)

// TargetConfig says where repairs are written.
type TargetConfig struct {
	// Target is a SQLite database (a .db, .sqlite or .sqlite3 file, or
	// sqlite:PATH) or a postgres:// URL, as Open accepts for sources. A
	// CSV file is never a target.
	Target string
	// Table is the table to update, DefaultTable when empty. "schema.table"
	// names a table in a schema; each part is quoted on its own.
	Table string
	// Columns maps a contract column (Columns) to the table's column of
	// that meaning; a contract column that is absent has the same name in
	// the table. Only process_id and the ResultColumns are used.
	Columns map[string]string
}

// Repair is one row to write: the outcome the run saw in the local row (its
// guard) and the remote outcome to put there.
type Repair struct {
	Row int // the row in the run's source, for messages
	// ProcessID is the canonical (lower-case) UUID, as reconcile.Local
	// holds it. The row is found by it in lower or in upper case; a table
	// that holds ids in mixed case has no row for it (NotFound).
	ProcessID string
	// Before is what the local row held when the run read it, as the
	// source parsed it (reconcile.Local's Outcome).
	Before reconcile.Outcome
	// After is the remote outcome to write.
	After reconcile.Outcome
}

// Verdict is what Check found, or Apply did, for one Repair.
type Verdict int

const (
	// Changed: the row held Before and now holds After (Apply), or would
	// (Check).
	Changed Verdict = iota + 1
	// Conflict: the row holds neither Before nor After: it changed since
	// the run read it. It is left alone.
	Conflict
	// AlreadyApplied: the row already holds After (an earlier Apply of the
	// same repair, or an outside fix). It is left alone.
	AlreadyApplied
	// NotFound: no row has the repair's process id.
	NotFound
	// Ambiguous: more than one row has the repair's process id; none is
	// written.
	Ambiguous
)

// String returns the verdict's name for reports: changed, conflict,
// already_applied, not_found, ambiguous.
func (v Verdict) String() string {
	switch v {
	case Changed:
		return "changed"
	case Conflict:
		return "conflict"
	case AlreadyApplied:
		return "already_applied"
	case NotFound:
		return "not_found"
	case Ambiguous:
		return "ambiguous"
	}
	return "Verdict(" + strconv.Itoa(int(v)) + ")"
}

// Result is what Check found, or Apply did, for one Repair.
type Result struct {
	Repair  Repair
	Verdict Verdict
	// Current is what the row holds now (for Changed, what it held before
	// the write), read as a source reads it; the zero Outcome for NotFound
	// and Ambiguous. A value a source would reject is kept as its trimmed
	// text (a result) or left out (a number that is not one): Invalid says
	// which.
	Current reconcile.Outcome
	// Invalid, when not nil, is the *RowError a source would report for
	// the row's current values.
	Invalid error
}

// Target is a SQL table that repairs are written to. Its methods are safe
// for concurrent use; each Check or Apply is one transaction.
type Target struct {
	name  string // the path, or postgres://host:port/database: never a password
	dsn   string // as given, only to take its password out of errors
	db    *sqlx.DB
	pg    bool
	write bool
	table string    // as given, for messages
	cols  [7]string // quoted: process_id, then the six result columns
	sel   string    // SELECT of a row's columns by process id
	upd   string    // the guarded UPDATE
	// beforeUpdate, when set (tests only), runs between the SELECT that
	// decided to write row i of a batch and its UPDATE.
	beforeUpdate func(i int)
}

// OpenTarget opens the database cfg names and checks that its table has the
// columns a repair reads and writes (a SELECT of them that returns no row).
// With write false the database is opened read-only: a SQLite file as a
// source is (it stays byte-identical), PostgreSQL in READ ONLY transactions;
// Apply then fails. With write true a SQLite file is opened read-write (never
// created) and each transaction takes the write lock when it begins, waiting
// up to TargetBusyTimeout for another writer.
func OpenTarget(ctx context.Context, cfg TargetConfig, write bool) (*Target, error) {
	t := &Target{write: write, table: cfg.Table, dsn: cfg.Target}
	if t.table == "" {
		t.table = DefaultTable
	}
	names, err := targetColumns(cfg.Columns)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", Redact(cfg.Target), err)
	}
	switch {
	case IsPostgres(cfg.Target):
		pc, err := pgx.ParseConfig(cfg.Target)
		if err != nil {
			return nil, fmt.Errorf("%s: %w: %w", Redact(cfg.Target), ErrBadDSN, cleanError(err, cfg.Target))
		}
		t.name, t.pg = pgName(pc), true
		t.db = sqlx.NewDb(stdlib.OpenDB(*pc), "pgx")
		t.db.SetMaxIdleConns(1)
	default:
		path, err := sqlitePath(cfg.Target)
		if err != nil {
			return nil, err
		}
		params, err := checkSQLiteFile(path)
		if err != nil {
			return nil, err
		}
		t.name = path
		dsn := sqliteDSN(path, params)
		if write {
			dsn = sqliteWriteDSN(path)
		}
		if t.db, err = sqlx.Open("sqlite3", dsn); err != nil {
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
	}
	if err := t.check(ctx, names); err != nil {
		t.db.Close()
		return nil, err
	}
	t.prepare()
	return t, nil
}

// sqlitePath returns the file a SQLite target names; a CSV file or any
// other name is not a target.
func sqlitePath(target string) (string, error) {
	if path, ok := strings.CutPrefix(target, "sqlite:"); ok {
		if path == "" {
			return "", fmt.Errorf("%q: %w: no path after the sqlite: prefix", target, ErrUnsupportedSource)
		}
		return path, nil
	}
	switch strings.ToLower(filepath.Ext(target)) {
	case ".db", ".sqlite", ".sqlite3":
		return target, nil
	case ".csv":
		return "", fmt.Errorf("%s: %w: a CSV file is never written; import repairs.csv instead", target, ErrUnsupportedSource)
	}
	return "", fmt.Errorf("%q: %w: want a .db, .sqlite or .sqlite3 file, sqlite:PATH or a postgres:// URL", target, ErrUnsupportedSource)
}

// sqliteWriteDSN is a read-write URI for path that never creates the file,
// begins every transaction with BEGIN IMMEDIATE (the write lock is taken
// before the first read, so that a batch never fails half-way for another
// writer) and waits TargetBusyTimeout for the lock.
func sqliteWriteDSN(path string) string {
	p := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	return "file:" + p + "?mode=rw&_txlock=immediate&_busy_timeout=" + strconv.Itoa(int(TargetBusyTimeout/time.Millisecond))
}

// resultColumns are the columns a repair writes, in the contract's order.
var resultColumns = []string{colStatus, colUnicoID, colIdentityFraudsters, colSerpro, colLiveness, colScore}

// ResultColumns returns the columns a repair writes, in the contract's
// order: the columns of OutcomeText.
func ResultColumns() []string { return slices.Clone(resultColumns) }

// targetColumns returns the table's names of process_id and the result
// columns, in that order, from a mapping.
func targetColumns(mapping map[string]string) ([7]string, error) {
	var names [7]string
	for k, v := range mapping {
		if !slices.Contains(columns, k) {
			return names, fmt.Errorf("%w: %q is not a contract column (%s)", ErrBadMapping, k, strings.Join(columns, ", "))
		}
		if v == "" {
			return names, fmt.Errorf("%w: column %s maps to an empty name", ErrBadMapping, k)
		}
	}
	for i, c := range append([]string{colProcessID}, resultColumns...) {
		names[i] = c
		if v, ok := mapping[c]; ok {
			names[i] = v
		}
		for j := range i {
			if strings.EqualFold(names[j], names[i]) {
				return names, fmt.Errorf("%w: %s and %s both map to %s", ErrBadMapping, columns[j], c, quote(names[i]))
			}
		}
	}
	return names, nil
}

// ident quotes a table name, each dot-separated part on its own
// ("public"."processes"), or a column name.
func ident(name string, parts bool) string {
	if !parts {
		return sqliteIdent(name)
	}
	ps := strings.Split(name, ".")
	for i, p := range ps {
		ps[i] = sqliteIdent(p)
	}
	return strings.Join(ps, ".")
}

// check reads the table's columns with a SELECT that returns no row and
// finds the ones a repair needs among them.
func (t *Target) check(ctx context.Context, names [7]string) error {
	ctx, cancel := context.WithTimeout(ctx, PostgresConnectTimeout)
	defer cancel()
	query := t.db.QueryContext
	if t.pg {
		// READ ONLY, as for a source; SQLite reads with no transaction,
		// which on a write connection would take the write lock.
		tx, err := t.db.BeginTxx(ctx, &sql.TxOptions{ReadOnly: true})
		if err != nil {
			return fmt.Errorf("%s: %w: %w", t.name, ErrConnect, t.dbError(err))
		}
		defer tx.Rollback()
		query = tx.QueryContext
	}
	rows, err := query(ctx, "SELECT * FROM "+ident(t.table, true)+" LIMIT 0")
	var se sqlite3.Error
	var pe *pgconn.PgError
	switch {
	case err == nil:
	case errors.As(err, &se) && (se.Code == sqlite3.ErrNotADB || se.Code == sqlite3.ErrCorrupt):
		return fmt.Errorf("%s: %w: %v", t.name, ErrNotDatabase, err)
	case errors.As(err, &se) && se.Code == sqlite3.ErrError,
		errors.As(err, &pe) && !strings.HasPrefix(pe.Code, "08") && !strings.HasPrefix(pe.Code, "57"):
		// SQL the database rejects: no such table or schema, or no
		// right to read it.
		return fmt.Errorf("%s: %w %s: %w", t.name, ErrNoTable, quote(t.table), t.dbError(err))
	case t.pg:
		return fmt.Errorf("%s: %w: %w", t.name, ErrConnect, t.dbError(err))
	default:
		return fmt.Errorf("%s: table %s: %w", t.name, quote(t.table), t.dbError(err))
	}
	have, err := rows.Columns()
	rows.Close()
	if err != nil {
		return fmt.Errorf("%s: table %s: %w", t.name, quote(t.table), t.dbError(err))
	}
	for i, n := range names {
		// PostgreSQL matches a quoted name exactly; SQLite in any case.
		found := slices.ContainsFunc(have, func(h string) bool { return h == n || (!t.pg && strings.EqualFold(h, n)) })
		if !found {
			what := ""
			if n != columns[i] {
				what = " (for " + columns[i] + ")"
			}
			return fmt.Errorf("%s: table %s: %w %s%s (columns: %s)", t.name, quote(t.table), ErrNoColumn, quote(n), what, listNames(have))
		}
		t.cols[i] = ident(n, false)
	}
	return nil
}

// prepare builds the SELECT and the guarded UPDATE.
func (t *Target) prepare() {
	n := 0
	mark := func() string {
		n++
		if t.pg {
			return "$" + strconv.Itoa(n)
		}
		return "?"
	}
	same := " IS "
	if t.pg {
		same = " IS NOT DISTINCT FROM "
	}
	table := ident(t.table, true)

	t.sel = "SELECT " + strings.Join(t.cols[:], ", ") + " FROM " + table +
		" WHERE " + t.cols[0] + " IN (" + mark() + ", " + mark() + ") LIMIT 2"

	// PostgreSQL infers a parameter's type from the column it is compared
	// with or assigned to; the casts make the written values an integer, a
	// number and text whatever the column's type (an assignment cast then
	// converts them), so that a text column gets "3", not an error.
	casts := []string{"integer", "text", "text", "integer", "integer", "double precision"}
	n = 0
	set := make([]string, len(resultColumns))
	for i, c := range t.cols[1:] {
		v := mark()
		if t.pg {
			v = "CAST(" + v + " AS " + casts[i] + ")"
		}
		set[i] = c + " = " + v
	}
	where := []string{t.cols[0] + " = " + mark()}
	for _, c := range t.cols[1:] {
		where = append(where, c+same+mark())
	}
	t.upd = "UPDATE " + table + " SET " + strings.Join(set, ", ") + " WHERE " + strings.Join(where, " AND ")
}

// dbError makes an error of the database one line without the DSN's
// password.
func (t *Target) dbError(err error) error { return cleanError(err, t.dsn) }

// Close closes the database.
func (t *Target) Close() error { return t.db.Close() }
