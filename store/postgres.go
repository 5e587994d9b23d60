package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jmoiron/sqlx"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

const (
	// PostgresFetchSize is how many rows one FETCH from the server-side
	// cursor brings: memory holds at most one batch, whatever the table's
	// size.
	PostgresFetchSize = 1000
	// PostgresConnectTimeout bounds connecting and checking the query in
	// OpenPostgres (a connect_timeout in the DSN also applies).
	PostgresConnectTimeout = 30 * time.Second
	// cursorName is the cursor Each declares in its own transaction.
	cursorName = "unico_reconcile_rows"
)

// Postgres is a PostgreSQL database of saved outcomes, read with a query
// whose result columns are matched by name (without regard to case) to the
// contract's columns, as for SQLite.
//
// Each opens a READ ONLY transaction, declares a server-side cursor for the
// query (DECLARE ... NO SCROLL CURSOR) and FETCHes PostgresFetchSize rows at
// a time, so that memory stays flat however many rows the query returns; row
// numbers count the result's rows from 1. The transaction lasts as long as
// Each: for a run at 10 requests/s that can be hours, during which the
// server keeps the rows that the snapshot may still see (VACUUM waits).
// Point long runs at a replica. Each lifts idle_in_transaction_session_timeout
// for its own transaction only, since the pipeline reads in bursts.
//
// Values may be of any type; they are read as their text (integers, numeric,
// real and double precision by value; timestamps and dates as instants).
// NULL reads as not stored.
//
// The DSN's password never appears in an error or in Name: errors name the
// source as postgres://host:port/database.
type Postgres struct {
	name    string // postgres://host:port/database, for messages
	query   string
	db      *sqlx.DB
	missing []string
}

var _ reconcile.Source = (*Postgres)(nil)

// IsPostgres reports whether source names a PostgreSQL database: a URL
// starting with postgres:// or postgresql://.
func IsPostgres(source string) bool {
	s := strings.ToLower(source)
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// Redact returns source as it may be shown: a PostgreSQL URL with its
// password (in the user information or a password parameter) replaced by
// "xxxxx"; any other source unchanged.
func Redact(source string) string {
	if !IsPostgres(source) {
		return source
	}
	u, err := url.Parse(source)
	if err != nil {
		return "postgres://(unparsable DSN, redacted)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// OpenPostgres connects to the database dsn names (a postgres:// or
// postgresql:// URL; the PG* environment variables and ~/.pgpass fill in
// what it leaves out, as for psql) and checks, in a READ ONLY transaction,
// that query (DefaultQuery when empty) is a query the database accepts
// whose result has a process_id column. A malformed DSN (ErrBadDSN), a
// server that cannot be reached or refuses the login (ErrConnect) and a bad
// query (ErrBadQuery) are errors of one line that never hold the password.
func OpenPostgres(dsn, query string) (*Postgres, error) {
	query = strings.TrimRight(strings.TrimSpace(query), "; \t\r\n")
	if query == "" {
		query = DefaultQuery
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", Redact(dsn), ErrBadDSN, cleanError(err, dsn))
	}
	p := &Postgres{name: pgName(cfg), query: query, db: sqlx.NewDb(stdlib.OpenDB(*cfg), "pgx")}
	p.db.SetMaxIdleConns(1)
	ctx, cancel := context.WithTimeout(context.Background(), PostgresConnectTimeout)
	defer cancel()
	if err := p.check(ctx, dsn); err != nil {
		p.db.Close()
		return nil, err
	}
	return p, nil
}

// pgName names the database for messages: postgres://host:port/database.
func pgName(cfg *pgx.ConnConfig) string {
	return "postgres://" + cfg.Host + ":" + strconv.Itoa(int(cfg.Port)) + "/" + cfg.Database
}

// check connects, declares the cursor and reads the result's columns
// without running the query.
func (p *Postgres) check(ctx context.Context, dsn string) error {
	tx, err := p.begin(ctx)
	var de *declareError
	if errors.As(err, &de) {
		return p.queryError(err)
	}
	if err != nil {
		return fmt.Errorf("%s: %w: %w", p.name, ErrConnect, cleanError(err, dsn))
	}
	defer tx.Rollback()
	// FETCH 0 from a cursor that has not started returns no row and runs
	// nothing, but describes the result's columns.
	rows, err := tx.QueryxContext(ctx, "FETCH FORWARD 0 FROM "+cursorName)
	if err != nil {
		return p.queryError(err)
	}
	cols, err := rows.Columns()
	rows.Close()
	if err == nil {
		_, p.missing, err = p.match(cols)
	}
	return err
}

// begin opens the READ ONLY transaction and declares the cursor in it.
func (p *Postgres) begin(ctx context.Context) (*sqlx.Tx, error) {
	tx, err := p.db.BeginTxx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, "SET LOCAL idle_in_transaction_session_timeout = 0"); err != nil {
		tx.Rollback()
		return nil, err
	}
	// The extended protocol (QueryExecModeExec) takes one statement only:
	// a query such as "SELECT 1; COMMIT; DELETE ..." is refused whole,
	// where the simple protocol would end the READ ONLY transaction.
	rows, err := tx.QueryContext(ctx, "DECLARE "+cursorName+" NO SCROLL CURSOR FOR "+p.query, pgx.QueryExecModeExec)
	if err == nil {
		err = errors.Join(rows.Close(), rows.Err())
	}
	if err != nil {
		tx.Rollback()
		return nil, &declareError{err}
	}
	return tx, nil
}

// declareError marks an error from DECLARE: the query, not the connection.
type declareError struct{ err error }

func (e *declareError) Error() string { return e.err.Error() }
func (e *declareError) Unwrap() error { return e.err }

// Missing lists the contract's columns the query's result lacks.
func (p *Postgres) Missing() []string { return slices.Clone(p.missing) }

// Close closes the connections.
func (p *Postgres) Close() error { return p.db.Close() }

// match finds the contract's columns among the result's columns.
func (p *Postgres) match(cols []string) (names, missing []string, err error) {
	names = make([]string, len(cols))
	for i, c := range cols {
		names[i] = strings.ToLower(strings.TrimSpace(c))
	}
	if _, missing, err = matchColumns(names, cols); err != nil {
		return nil, nil, fmt.Errorf("%s: query result: %w", p.name, err)
	}
	return names, missing, nil
}

// queryError classifies an error from declaring or reading the cursor: an
// error the server raised for the query is ErrBadQuery; a lost connection
// is a read error.
func (p *Postgres) queryError(err error) error {
	var pe *pgconn.PgError
	var de *declareError
	if errors.As(err, &pe) && !strings.HasPrefix(pe.Code, "08") && !strings.HasPrefix(pe.Code, "57") {
		return fmt.Errorf("%s: %w: %w", p.name, ErrBadQuery, cleanError(err, ""))
	}
	if errors.As(err, &de) {
		return fmt.Errorf("%s: %w: %w", p.name, ErrBadQuery, cleanError(err, ""))
	}
	return fmt.Errorf("query %s: %w", p.name, cleanError(err, ""))
}

// Each declares the cursor in a READ ONLY transaction and calls fn once per
// result row, fetching PostgresFetchSize rows at a time.
func (p *Postgres) Each(ctx context.Context, fn func(reconcile.Local) error) error {
	tx, err := p.begin(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var de *declareError
		if errors.As(err, &de) {
			return p.queryError(err)
		}
		return fmt.Errorf("%s: %w: %w", p.name, ErrConnect, cleanError(err, ""))
	}
	defer tx.Rollback()

	fetch := "FETCH FORWARD " + strconv.Itoa(PostgresFetchSize) + " FROM " + cursorName
	var (
		raw    rawRow
		values []any
		dest   []any
		fields []*string
	)
	row := 0
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		rows, err := tx.QueryxContext(ctx, fetch)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return p.queryError(err)
		}
		if dest == nil {
			cols, err := rows.Columns()
			if err != nil {
				rows.Close()
				return p.queryError(err)
			}
			names, _, err := p.match(cols)
			if err != nil {
				rows.Close()
				return err
			}
			values, dest, fields = make([]any, len(cols)), make([]any, len(cols)), make([]*string, len(cols))
			for i, n := range names {
				if fields[i] = raw.field(n); fields[i] != nil {
					dest[i] = &values[i]
				} else {
					dest[i] = new(sql.RawBytes)
				}
			}
		}
		n, err := p.batch(ctx, rows, &row, &raw, values, dest, fields, fn)
		rows.Close()
		if err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return p.queryError(err)
		}
		if n < PostgresFetchSize {
			return nil
		}
	}
}

// batch hands the rows of one FETCH to fn and returns how many there were.
func (p *Postgres) batch(ctx context.Context, rows *sqlx.Rows, row *int, raw *rawRow,
	values, dest []any, fields []*string, fn func(reconcile.Local) error) (int, error) {
	n := 0
	for rows.Next() {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		n++
		*row++
		if err := rows.Scan(dest...); err != nil {
			return n, fmt.Errorf("%s: row %d: %w", p.name, *row, err)
		}
		*raw = rawRow{}
		for i, f := range fields {
			if f != nil {
				*f = text(values[i])
			}
		}
		if err := fn(parseRow(p.name, *row, raw)); err != nil {
			return n, err
		}
	}
	return n, nil
}

// Survey counts the query's rows on the server. A database is no file:
// SHA256 is empty.
func (p *Postgres) Survey(ctx context.Context) (Survey, error) {
	var sv Survey
	tx, err := p.db.BeginTxx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return sv, fmt.Errorf("%s: %w: %w", p.name, ErrConnect, cleanError(err, ""))
	}
	defer tx.Rollback()
	if err := tx.QueryRowxContext(ctx, "SELECT count(*) FROM ("+p.query+") AS q").Scan(&sv.Rows); err != nil {
		return sv, p.queryError(err)
	}
	return sv, nil
}

// cleanError keeps err's chain but makes its text one line without the
// DSN's password, found however malformed the DSN is.
func cleanError(err error, dsn string) error {
	msg := strings.Join(strings.Fields(err.Error()), " ")
	var secrets []string
	if u, perr := url.Parse(dsn); perr == nil {
		if pw, ok := u.User.Password(); ok {
			secrets = append(secrets, pw)
		}
		secrets = append(secrets, u.Query().Get("password"))
	}
	if m := dsnPassword.FindStringSubmatch(dsn); m != nil {
		secrets = append(secrets, m[1])
	}
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "xxxxx")
			msg = strings.ReplaceAll(msg, url.QueryEscape(s), "xxxxx")
		}
	}
	return &cleaned{msg: msg, err: err}
}

// dsnPassword finds the password in a URL that url.Parse may reject.
var dsnPassword = regexp.MustCompile(`^(?i:postgres(?:ql)?)://[^:@/]*:([^@]*)@`)

type cleaned struct {
	msg string
	err error
}

func (e *cleaned) Error() string { return e.msg }
func (e *cleaned) Unwrap() error { return e.err }
