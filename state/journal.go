package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/jmoiron/sqlx"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

// Journal records the answers of one run and looks them up again when the
// run is resumed. It implements reconcile.Journal.
//
// Record is safe for concurrent use: the records that wait are written by
// one writer goroutine in one transaction (group commit), and each call
// returns once its record is committed. Lookup must be called from one
// goroutine, with seq increasing.
type Journal struct {
	db    *DB
	x     *sqlx.DB
	run   int64
	runID string

	mu     sync.Mutex
	cur    *batch // the records waiting for the writer
	closed bool
	done   atomic.Bool   // closed, for Lookup's fast path
	kick   chan struct{} // cap 1: the writer has work
	stop   chan struct{} // closed by Close
	exited chan struct{} // closed by the writer when it returns
	conn   *sql.Conn     // the writer's connection
	insert *sql.Stmt     // prepared on conn

	commits int    // transactions the writer committed; read after Close
	look    lookup // Lookup's state; see lookup.go
}

var _ reconcile.Journal = (*Journal)(nil)

// batch is the records of one group commit; done is closed once they are
// committed, or failed with err.
type batch struct {
	recs []record
	done chan struct{}
	err  error
}

type record struct {
	seq  int64
	key  [16]byte
	kind string
	data []byte
}

// walCheckpointPages is the WAL's size, in pages, past which the writer's
// commit also checkpoints it: ten times SQLite's default. A checkpoint
// copies each page once however many times the WAL holds it, and ten times
// fewer checkpoints copy far fewer pages.
const walCheckpointPages = 10000

func newBatch() *batch { return &batch{done: make(chan struct{})} }

// Journal opens the journal of the run runID, which must exist. Close it
// before closing db.
func (db *DB) Journal(ctx context.Context, runID string) (*Journal, error) {
	x, err := db.acquire()
	if err != nil {
		return nil, err
	}
	j := &Journal{db: db, x: x, runID: runID, cur: newBatch(),
		kick: make(chan struct{}, 1), stop: make(chan struct{}), exited: make(chan struct{})}
	if err := j.open(ctx); err != nil {
		j.closeConns()
		db.release()
		return nil, fmt.Errorf("open journal of run %s: %w", runID, err)
	}
	go j.writer()
	return j, nil
}

func (j *Journal) open(ctx context.Context) (err error) {
	if j.run, err = runKey(ctx, j.x, j.runID); err != nil {
		return err
	}
	if j.conn, err = j.x.Conn(ctx); err != nil {
		return err
	}
	if _, err = j.conn.ExecContext(ctx, fmt.Sprintf("PRAGMA wal_autocheckpoint = %d", walCheckpointPages)); err != nil {
		return err
	}
	j.insert, err = j.conn.PrepareContext(ctx,
		"INSERT OR REPLACE INTO answers (run, seq, process_id, kind, result) VALUES (?, ?, ?, ?, ?)")
	if err != nil {
		return err
	}
	return nil
}

// Record keeps r, the answer fetched for processID (canonical UUID) at
// position seq of the run, and the verdict kind it led to. It returns once
// the record is committed. The same process recorded again at the same seq
// replaces its record.
// After Close it returns ErrClosed.
func (j *Journal) Record(seq int, processID string, r reconcile.Result, kind reconcile.Kind) error {
	key, err := pidKey(processID)
	if err != nil {
		return fmt.Errorf("record answer: %w", err)
	}
	rec := record{seq: int64(seq), key: key, kind: string(kind), data: encodeResult(nil, key, r)}
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return fmt.Errorf("record answer: %w", ErrClosed)
	}
	b := j.cur
	b.recs = append(b.recs, rec)
	if len(b.recs) == 1 {
		select {
		case j.kick <- struct{}{}:
		default:
		}
	}
	j.mu.Unlock()
	<-b.done
	if b.err != nil {
		return fmt.Errorf("record answer: %w", b.err)
	}
	return nil
}

// writer commits the waiting records, all of them in one transaction,
// until Close. While it commits, new records gather in the next batch.
func (j *Journal) writer() {
	defer close(j.exited)
	for {
		select {
		case <-j.kick:
		case <-j.stop:
			j.mu.Lock()
			b := j.cur
			j.cur = nil
			j.mu.Unlock()
			if len(b.recs) > 0 {
				b.err = j.commit(b.recs)
			}
			close(b.done)
			return
		}
		j.mu.Lock()
		b := j.cur
		j.cur = newBatch()
		j.mu.Unlock()
		b.err = j.commit(b.recs)
		j.commits++
		close(b.done)
	}
}

// commit writes recs in one transaction.
func (j *Journal) commit(recs []record) error {
	ctx := context.Background()
	if _, err := j.conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return err
	}
	for i := range recs {
		r := &recs[i]
		if _, err := j.insert.ExecContext(ctx, j.run, r.seq, r.key[:], r.kind, r.data); err != nil {
			j.conn.ExecContext(ctx, "ROLLBACK")
			return fmt.Errorf("process %s: %w", pidString(r.key[:]), err)
		}
	}
	if _, err := j.conn.ExecContext(ctx, "COMMIT"); err != nil {
		j.conn.ExecContext(ctx, "ROLLBACK")
		return err
	}
	return nil
}

// Close commits the records waiting, stops the writer and Lookup's reader,
// and returns the first error met in closing. Record and Lookup then
// return ErrClosed.
func (j *Journal) Close() error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return nil
	}
	j.closed = true
	j.done.Store(true)
	j.mu.Unlock()
	close(j.stop)
	<-j.exited
	err := j.look.close()
	if cerr := j.closeConns(); err == nil {
		err = cerr
	}
	j.db.release()
	if err != nil {
		return fmt.Errorf("close journal of run %s: %w", j.runID, err)
	}
	return nil
}

func (j *Journal) closeConns() error {
	var errs []error
	if j.look.point != nil {
		errs = append(errs, j.look.point.Close())
	}
	if j.insert != nil {
		errs = append(errs, j.insert.Close())
	}
	if j.conn != nil {
		errs = append(errs, j.conn.Close())
	}
	return errors.Join(errs...)
}
