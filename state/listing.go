package state

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

// listBatch is how many discrepancies a Listing writes in one transaction.
const listBatch = 1024

// Listing writes the discrepancies a run lists in its reports, in report
// order, so that the reports can be written again from the state alone.
// It implements reconcile.Sink and is used from one goroutine.
//
// Write only queues: a writer goroutine encodes and commits each batch of
// listBatch discrepancies while the next one gathers. A write error is
// returned by a later Write, or by Close.
type Listing struct {
	db    *DB
	runID string
	run   int64
	conn  *sql.Conn
	ins   *sql.Stmt

	buf    []reconcile.Discrepancy
	pos    int64 // position of buf[0] in the reports
	closed bool
	queue  chan batchOf // to the writer
	exited chan struct{}

	mu  sync.Mutex
	err error // the writer's first error
}

var _ reconcile.Sink = (*Listing)(nil)

type batchOf struct {
	pos int64
	ds  []reconcile.Discrepancy
}

// Listing starts the listing of the run runID, which must exist: it first
// deletes what the run listed before (a resumed run lists everything
// again). Close it before closing db.
func (db *DB) Listing(ctx context.Context, runID string) (*Listing, error) {
	x, err := db.acquire()
	if err != nil {
		return nil, err
	}
	l := &Listing{db: db, runID: runID, queue: make(chan batchOf, 2), exited: make(chan struct{})}
	fail := func(err error) (*Listing, error) {
		if l.ins != nil {
			l.ins.Close()
		}
		if l.conn != nil {
			l.conn.Close()
		}
		db.release()
		return nil, fmt.Errorf("start listing of run %s: %w", runID, err)
	}
	if l.run, err = runKey(ctx, x, runID); err != nil {
		return fail(err)
	}
	if _, err := x.ExecContext(ctx, "DELETE FROM listed WHERE run = ?", l.run); err != nil {
		return fail(err)
	}
	if l.conn, err = x.Conn(ctx); err != nil {
		return fail(err)
	}
	l.ins, err = l.conn.PrepareContext(ctx,
		"INSERT INTO listed (run, pos, row, process_id, kind, data) VALUES (?, ?, ?, ?, ?, ?)")
	if err != nil {
		return fail(err)
	}
	go l.writer()
	return l, nil
}

// Write queues d, the next discrepancy of the reports. Write keeps d until
// it is written: the caller must not modify what d points to. It returns
// an error met in writing an earlier batch, or ErrClosed after Close.
func (l *Listing) Write(d reconcile.Discrepancy) error {
	if l.closed {
		return fmt.Errorf("list discrepancy: %w", ErrClosed)
	}
	if err := l.failed(); err != nil {
		return err
	}
	l.buf = append(l.buf, d)
	if len(l.buf) >= listBatch {
		l.flush()
	}
	return nil
}

func (l *Listing) flush() {
	if len(l.buf) == 0 {
		return
	}
	l.queue <- batchOf{pos: l.pos, ds: l.buf}
	l.pos += int64(len(l.buf))
	l.buf = make([]reconcile.Discrepancy, 0, listBatch)
}

func (l *Listing) failed() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Close writes what is queued, stops the writer and returns the first
// error met in writing.
func (l *Listing) Close() error {
	if l.closed {
		return nil
	}
	l.closed = true
	l.flush()
	close(l.queue)
	<-l.exited
	err := errors.Join(l.failed(), l.ins.Close(), l.conn.Close())
	l.db.release()
	return err
}

// writer commits each queued batch in one transaction; after an error it
// drops the rest.
func (l *Listing) writer() {
	defer close(l.exited)
	for b := range l.queue {
		if l.failed() != nil {
			continue
		}
		if err := l.commit(b); err != nil {
			l.mu.Lock()
			l.err = fmt.Errorf("list discrepancies of run %s: %w", l.runID, err)
			l.mu.Unlock()
		}
	}
}

func (l *Listing) commit(b batchOf) error {
	ctx := context.Background()
	if _, err := l.conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return err
	}
	for i, d := range b.ds {
		data, err := encodeListed(d)
		if err == nil {
			_, err = l.ins.ExecContext(ctx, l.run, b.pos+int64(i), d.Local.Row, d.Local.ProcessID, string(d.Kind), data)
		}
		if err != nil {
			l.conn.ExecContext(ctx, "ROLLBACK")
			return fmt.Errorf("row %d: %w", d.Local.Row, err)
		}
	}
	if _, err := l.conn.ExecContext(ctx, "COMMIT"); err != nil {
		l.conn.ExecContext(ctx, "ROLLBACK")
		return err
	}
	return nil
}

// EachListed calls fn with each discrepancy the run runID listed, in report
// order, reading them as it goes (in one read transaction); it returns fn's
// first error. Fields comes back nil where there were none.
func (db *DB) EachListed(ctx context.Context, runID string, fn func(reconcile.Discrepancy) error) error {
	return db.EachListedOf(ctx, runID, nil, fn)
}

// EachListedOf is EachListed for the discrepancies of kinds only (all of
// them when kinds is empty), in report order.
func (db *DB) EachListedOf(ctx context.Context, runID string, kinds []reconcile.Kind, fn func(reconcile.Discrepancy) error) error {
	x, err := db.pool()
	if err != nil {
		return err
	}
	key, err := runKey(ctx, x, runID)
	if err != nil {
		return fmt.Errorf("read listed: %w", err)
	}
	q := "SELECT pos, row, process_id, kind, data FROM listed WHERE run = ?"
	args := []any{key}
	if len(kinds) > 0 {
		// The kinds' rows come from listed_by_kind, not from a scan of all
		// the run listed (a run may list millions of unverified and a few
		// lost responses); SQLite's sorter puts them back in report order,
		// spilling to disk when they are many.
		q = `SELECT pos, row, process_id, kind, data FROM listed INDEXED BY listed_by_kind
			WHERE run = ? AND kind IN (SELECT value FROM json_each(?))`
		b, err := json.Marshal(kinds)
		if err != nil {
			return fmt.Errorf("read listed of run %s: %w", runID, err)
		}
		args = append(args, string(b))
	}
	rows, err := x.QueryContext(ctx, q+" ORDER BY pos", args...)
	if err != nil {
		return fmt.Errorf("read listed of run %s: %w", runID, err)
	}
	defer rows.Close()
	var (
		pos, row  int64
		pid, kind string
		data      sql.RawBytes
	)
	for rows.Next() {
		if err := rows.Scan(&pos, &row, &pid, &kind, &data); err != nil {
			return fmt.Errorf("read listed of run %s: %w", runID, err)
		}
		d, err := decodeListed(kind, int(row), pid, data)
		if err != nil {
			return fmt.Errorf("read listed of run %s at %d: %w", runID, pos, err)
		}
		if err := fn(d); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read listed of run %s: %w", runID, err)
	}
	return nil
}
