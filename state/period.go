package state

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

// A period is the runs whose start is in [from, to). Its runs are ordered
// by start (then by key); "later" below means later in that order.
//
// periodRuns numbers them; every period query starts with it.
const periodRuns = `p AS MATERIALIZED (
	SELECT key, id, row_number() OVER (ORDER BY started_at, key) AS ord
	FROM runs WHERE started_at >= ?1 AND started_at < ?2)`

// latestAnswers is, for each process some run of the period answered, the
// kind and run of the latest answer (SQLite takes the bare columns from the
// row where max() is reached).
const latestAnswers = `a AS MATERIALIZED (
	SELECT a.process_id AS pid, a.kind AS kind, p.id AS run_id, max(p.ord) AS ord
	FROM answers a JOIN p ON p.key = a.run GROUP BY a.process_id)`

// RunsBetween returns the runs that started in [from, to), oldest first.
func (db *DB) RunsBetween(ctx context.Context, from, to time.Time) ([]Run, error) {
	return db.listRuns(ctx, "SELECT "+runColumns+` FROM runs
		WHERE started_at >= ? AND started_at < ? ORDER BY started_at, key`, formatTime(from), formatTime(to))
}

// CheckedKinds counts the processes the runs that started in [from, to)
// answered, each once, by the kind of its latest answer among them.
func (db *DB) CheckedKinds(ctx context.Context, from, to time.Time) (map[reconcile.Kind]int, error) {
	x, err := db.pool()
	if err != nil {
		return nil, err
	}
	rows, err := x.QueryContext(ctx, `WITH `+periodRuns+`, `+latestAnswers+`
		SELECT kind, count(*) FROM a GROUP BY kind`, formatTime(from), formatTime(to))
	if err != nil {
		return nil, fmt.Errorf("count checked processes: %w", err)
	}
	defer rows.Close()
	counts := map[reconcile.Kind]int{}
	for rows.Next() {
		var kind string
		var n int
		if err := rows.Scan(&kind, &n); err != nil {
			return nil, fmt.Errorf("count checked processes: %w", err)
		}
		counts[reconcile.Kind(kind)] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count checked processes: %w", err)
	}
	return counts, nil
}

// PeriodDiscrepancy is one process that runs of a period listed.
type PeriodDiscrepancy struct {
	// Discrepancy is the latest listing of the process in the period.
	Discrepancy reconcile.Discrepancy
	// FirstRun and LastRun are the first and the latest runs that listed it.
	FirstRun, LastRun string
	// ResolvedBy is the run, later than LastRun, whose answer for the
	// process was the period's latest and a match or pending ("" while the
	// discrepancy is open); ResolvedKind is that answer's kind.
	ResolvedBy   string
	ResolvedKind reconcile.Kind
}

// Open reports whether no later run of the period resolved the discrepancy.
func (d PeriodDiscrepancy) Open() bool { return d.ResolvedBy == "" }

// EachPeriodDiscrepancy calls fn once for each process that a run started
// in [from, to) listed (an unusable row once per row), by process id, reading them as it goes (SQLite
// sorts on disk, not in this process's memory); it returns fn's first
// error. A discrepancy is resolved when the process's latest answer in the
// period came from a later run than the one that last listed it and was a
// match or pending; otherwise it is open. invalid_input rows have no
// answers: they stay open.
func (db *DB) EachPeriodDiscrepancy(ctx context.Context, from, to time.Time, fn func(PeriodDiscrepancy) error) error {
	x, err := db.pool()
	if err != nil {
		return err
	}
	rows, err := x.QueryContext(ctx, `WITH `+periodRuns+`, `+latestAnswers+`,
	l AS (
		SELECT l.process_id AS pid, l.kind AS kind, l.row AS row, l.data AS data, p.id AS run_id, p.ord AS ord,
			row_number() OVER (w ORDER BY p.ord DESC, l.pos DESC) AS rn, first_value(p.id) OVER (w ORDER BY p.ord, l.pos) AS first_run
		FROM listed l JOIN p ON p.key = l.run
		-- An unusable row is told apart by its row too: its id may be empty.
		WINDOW w AS (PARTITION BY l.process_id, CASE WHEN l.kind = ?3 THEN l.row END))
	SELECT l.pid, l.kind, l.row, l.data, l.run_id, l.first_run, l.ord,
		coalesce(a.kind, ''), coalesce(a.run_id, ''), coalesce(a.ord, 0)
	FROM l LEFT JOIN a ON l.kind != ?3 AND a.pid = unhex(replace(l.pid, '-', ''))
	WHERE l.rn = 1 ORDER BY l.pid, l.row`, formatTime(from), formatTime(to), string(reconcile.InvalidInput))
	if err != nil {
		return fmt.Errorf("read the period's discrepancies: %w", err)
	}
	defer rows.Close()
	var (
		pid, kind, runID, first, aKind, aRun string
		row, ord, aOrd                       int64
		data                                 sql.RawBytes
	)
	for rows.Next() {
		if err := rows.Scan(&pid, &kind, &row, &data, &runID, &first, &ord, &aKind, &aRun, &aOrd); err != nil {
			return fmt.Errorf("read the period's discrepancies: %w", err)
		}
		d, err := decodeListed(kind, int(row), pid, data)
		if err != nil {
			return fmt.Errorf("read the period's discrepancies: process %s in run %s: %w", pid, runID, err)
		}
		pd := PeriodDiscrepancy{Discrepancy: d, FirstRun: first, LastRun: runID}
		if k := reconcile.Kind(aKind); aOrd > ord && (k == reconcile.Match || k == reconcile.Pending) {
			pd.ResolvedBy, pd.ResolvedKind = aRun, k
		}
		if err := fn(pd); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read the period's discrepancies: %w", err)
	}
	return nil
}

// Saved is a process a source saved: its row, its id and when.
type Saved struct {
	Row       int
	ProcessID string // canonical
	SavedAt   time.Time
}

// EachUnchecked finds, among the processes that feed gives (each through
// add; a repeated id keeps its first row), those that no run of the
// history ever answered, and calls fn with each in feed's order. The ids
// wait in a temporary table on disk, not in memory.
func (db *DB) EachUnchecked(ctx context.Context, feed func(add func(Saved) error) error, fn func(Saved) error) (err error) {
	x, err := db.pool()
	if err != nil {
		return err
	}
	conn, err := x.Conn(ctx)
	if err != nil {
		return fmt.Errorf("find unchecked processes: %w", err)
	}
	defer conn.Close()
	defer func() {
		_, derr := conn.ExecContext(context.WithoutCancel(ctx), `DROP TABLE IF EXISTS temp.saved`)
		if err == nil && derr != nil {
			err = fmt.Errorf("find unchecked processes: %w", derr)
		}
	}()
	exec := func(q string, args ...any) error {
		_, err := conn.ExecContext(ctx, q, args...)
		return err
	}
	// A deferred transaction: writing the temporary table takes no lock
	// on the history, so a run going on at the same time is not held up.
	if err := exec(`CREATE TEMP TABLE saved (pid BLOB PRIMARY KEY, row INTEGER NOT NULL, id TEXT NOT NULL, saved_at TEXT NOT NULL) WITHOUT ROWID`); err != nil {
		return fmt.Errorf("find unchecked processes: %w", err)
	}
	if err := exec("BEGIN"); err != nil {
		return fmt.Errorf("find unchecked processes: %w", err)
	}
	ins, err := conn.PrepareContext(ctx, `INSERT OR IGNORE INTO temp.saved (pid, row, id, saved_at) VALUES (?, ?, ?, ?)`)
	if err != nil {
		exec("ROLLBACK")
		return fmt.Errorf("find unchecked processes: %w", err)
	}
	ferr := feed(func(s Saved) error {
		key, err := pidKey(s.ProcessID)
		if err != nil {
			return fmt.Errorf("row %d: %w", s.Row, err)
		}
		_, err = ins.ExecContext(ctx, key[:], s.Row, s.ProcessID, formatExact(s.SavedAt))
		return err
	})
	ins.Close()
	if ferr != nil {
		exec("ROLLBACK")
		return ferr
	}
	if err := exec("COMMIT"); err != nil {
		return fmt.Errorf("find unchecked processes: %w", err)
	}
	rows, err := conn.QueryContext(ctx, `SELECT row, id, saved_at FROM temp.saved s
		WHERE NOT EXISTS (SELECT 1 FROM answers a WHERE a.process_id = s.pid) ORDER BY row`)
	if err != nil {
		return fmt.Errorf("find unchecked processes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var s Saved
		var at string
		if err := rows.Scan(&s.Row, &s.ProcessID, &at); err != nil {
			return fmt.Errorf("find unchecked processes: %w", err)
		}
		if s.SavedAt, err = parseExact(at); err != nil {
			return fmt.Errorf("find unchecked processes: row %d: %w", s.Row, err)
		}
		if err := fn(s); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("find unchecked processes: %w", err)
	}
	return nil
}
