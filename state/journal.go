package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

// Journal records the answers of one run and looks them up again when the
// run is resumed. It implements reconcile.Journal.
//
// Record is safe for concurrent use: it copies its answer into the
// answers log, a memory-mapped file that a killed process leaves whole in
// the page cache, and returns; an importer goroutine moves the answers into
// the database in large transactions (answerlog.go). Lookup must be called
// from one goroutine, with seq increasing.
//
// Open a Journal only while holding the database's lock (Lock): on opening
// it imports, and then removes, whatever answers log a killed process left.
type Journal struct {
	db    *DB
	x     *sqlx.DB
	run   int64
	runID string

	mu       sync.Mutex
	room     sync.Cond // signalled when the importer takes records
	closed   bool
	done     atomic.Bool           // closed, for Lookup's fast path
	seg      *segment              // the log segment being written
	pending  []record              // logged in seg, not yet taken by the importer
	sealed   []importItem          // whole segments waiting for the importer, in order
	queued   int                   // records in pending and sealed
	kick     chan struct{}         // cap 1: the importer has work
	stop     chan struct{}         // closed by Close
	imported chan struct{}         // closed by the importer when it returns
	failure  atomic.Pointer[error] // the first error of the log or the importer

	conn       *sql.Conn // the importer's connection
	insert     *sql.Stmt // one answer, prepared on conn
	insertMany *sql.Stmt // insertRows answers at once, prepared on conn
	args       []any     // insertMany's arguments, reused

	commits int    // transactions the importer committed; read after Close
	look    lookup // Lookup's state; see lookup.go
}

// importItem is the records of one segment, and whether that segment is
// complete (then it is removed once they are committed).
type importItem struct {
	recs []record
	seg  *segment // nil: more records may follow in the same segment
}

// How the importer batches: a transaction when importBatch records wait,
// and every importEvery. Record waits while maxQueued records are queued
// (the database is slower than the run for a while): memory stays bounded.
const importBatch = 4096

var (
	importEvery = 100 * time.Millisecond
	maxQueued   = 1 << 14
)

var _ reconcile.Journal = (*Journal)(nil)

type record struct {
	seq  int64
	key  [16]byte
	kind string
	data []byte
}

// walCheckpointPages is the WAL's size, in pages, past which the importer's
// commit also checkpoints it: ten times SQLite's default. A checkpoint
// copies each page once however many times the WAL holds it, and ten times
// fewer checkpoints copy far fewer pages.
const walCheckpointPages = 10000

// Journal opens the journal of the run runID, which must exist. Close it
// before closing db.
func (db *DB) Journal(ctx context.Context, runID string) (*Journal, error) {
	x, err := db.acquire()
	if err != nil {
		return nil, err
	}
	j := &Journal{db: db, x: x, runID: runID,
		kick: make(chan struct{}, 1), stop: make(chan struct{}), imported: make(chan struct{})}
	j.room.L = &j.mu
	if err := j.open(ctx); err != nil {
		j.closeConns()
		db.release()
		return nil, fmt.Errorf("open journal of run %s: %w", runID, err)
	}
	go j.importer()
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
	j.insert, err = j.conn.PrepareContext(ctx, insertSQL(1))
	if err != nil {
		return err
	}
	if j.insertMany, err = j.conn.PrepareContext(ctx, insertSQL(insertRows)); err != nil {
		return err
	}
	next, err := j.replay()
	if err != nil {
		return err
	}
	j.seg, err = createSegment(j.db.path, next, segmentBytes)
	return err
}

// replay imports the answers log a killed process left, segment by
// segment, and removes each once its answers are committed. It returns
// the number the next segment takes.
func (j *Journal) replay() (next int, err error) {
	ns, err := segments(j.db.path)
	if err != nil {
		return 0, err
	}
	for _, n := range ns {
		frames, err := readSegment(j.db.path, n)
		if err != nil {
			return 0, err
		}
		for len(frames) > 0 {
			chunk := frames[:min(len(frames), importBatch)]
			frames = frames[len(chunk):]
			if err := j.commitLogged(chunk); err != nil {
				return 0, fmt.Errorf("import answers log: %w", err)
			}
		}
		if err := removeSegment(j.db.path, n); err != nil {
			return 0, err
		}
		next = n + 1
	}
	return next, nil
}

// Record keeps r, the answer fetched for processID (canonical UUID) at
// position seq of the run, and the verdict kind it led to. It returns once
// the record is in the answers log, from which a crash cannot take it. The
// same process recorded again at the same seq replaces its record. After
// the log or the importer failed, Record returns that error. After Close it
// returns ErrClosed.
func (j *Journal) Record(seq int, processID string, r reconcile.Result, kind reconcile.Kind) error {
	key, err := pidKey(processID)
	if err != nil {
		return fmt.Errorf("record answer: %w", err)
	}
	rec := record{seq: int64(seq), key: key, kind: string(kind), data: encodeResult(nil, key, r)}
	var buf [128]byte
	frame := appendFrame(buf[:0], j.run, &rec)
	j.mu.Lock()
	defer j.mu.Unlock()
	for j.queued >= maxQueued && !j.closed && j.failed() == nil {
		j.wake()
		j.room.Wait()
	}
	if j.closed {
		return fmt.Errorf("record answer: %w", ErrClosed)
	}
	if err := j.failed(); err != nil {
		return fmt.Errorf("record answer: %w", err)
	}
	if !j.seg.fits(len(frame)) {
		if err := j.rotate(len(frame)); err != nil {
			j.failure.CompareAndSwap(nil, &err)
			return fmt.Errorf("record answer: %w", err)
		}
	}
	j.seg.append(frame)
	j.pending = append(j.pending, rec)
	j.queued++
	if len(j.pending) == importBatch {
		j.wake()
	}
	return nil
}

// rotate starts the next segment, big enough for a frame of n bytes, and
// queues the full one for the importer. Called with mu held.
func (j *Journal) rotate(n int) error {
	next, err := createSegment(j.db.path, j.seg.n+1, max(segmentBytes, int64(n)))
	if err != nil {
		return err
	}
	j.sealed = append(j.sealed, importItem{recs: j.pending, seg: j.seg})
	j.pending, j.seg = nil, next
	j.wake()
	return nil
}

// wake tells the importer it has work. Called with mu held.
func (j *Journal) wake() {
	select {
	case j.kick <- struct{}{}:
	default:
	}
}

// failed returns the first error of the log or the importer, if any.
func (j *Journal) failed() error {
	if p := j.failure.Load(); p != nil {
		return *p
	}
	return nil
}

// importer commits the logged records into the database in large
// transactions, and removes each full segment once all its records are
// committed. After an error it imports nothing more: the segments stay for
// the next run to import.
func (j *Journal) importer() {
	defer close(j.imported)
	tick := time.NewTicker(importEvery)
	defer tick.Stop()
	for {
		var last bool
		select {
		case <-j.kick:
		case <-tick.C:
		case <-j.stop:
			last = true
		}
		j.mu.Lock()
		items := j.sealed
		if len(j.pending) > 0 || last {
			var seg *segment
			if last {
				seg = j.seg // Close: the segment being written is complete too
			}
			items = append(items, importItem{recs: j.pending, seg: seg})
		}
		j.sealed, j.pending, j.queued = nil, nil, 0
		j.room.Broadcast()
		j.mu.Unlock()
		for _, it := range items {
			j.importItem(it)
		}
		if last {
			return
		}
	}
}

// importItem commits one item's records and, when its segment is complete
// and every record of it is committed, removes the segment.
func (j *Journal) importItem(it importItem) {
	if j.failed() == nil && len(it.recs) > 0 {
		for recs := it.recs; len(recs) > 0; {
			chunk := recs[:min(len(recs), importBatch)]
			recs = recs[len(chunk):]
			if err := j.commit(j.run, chunk); err != nil {
				err = fmt.Errorf("import answers: %w", err)
				j.failure.CompareAndSwap(nil, &err)
				break
			}
			j.commits++
		}
	}
	if it.seg == nil {
		return
	}
	err := it.seg.close()
	if j.failed() == nil && err == nil {
		err = removeSegment(j.db.path, it.seg.n)
	}
	if err != nil {
		j.failure.CompareAndSwap(nil, &err)
	}
}

// commitLogged commits answers read back from the log, of any run.
func (j *Journal) commitLogged(ls []logged) error {
	for len(ls) > 0 {
		n := 1
		for n < len(ls) && ls[n].run == ls[0].run {
			n++
		}
		recs := make([]record, n)
		for i := range n {
			recs[i] = ls[i].rec
		}
		if err := j.commit(ls[0].run, recs); err != nil {
			return err
		}
		ls = ls[n:]
	}
	return nil
}

// insertRows is how many answers one INSERT statement carries: one
// statement step per row costs more than the row itself.
const insertRows = 64

// insertSQL inserts n answers.
func insertSQL(n int) string {
	return "INSERT OR REPLACE INTO answers (run, seq, process_id, kind, result) VALUES " +
		strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?), ", n), ", ")
}

// commit writes recs, answers of run, in one transaction.
func (j *Journal) commit(run int64, recs []record) error {
	ctx := context.Background()
	if _, err := j.conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return err
	}
	err := j.insertAll(ctx, run, recs)
	if err == nil {
		_, err = j.conn.ExecContext(ctx, "COMMIT")
	}
	if err != nil {
		j.conn.ExecContext(ctx, "ROLLBACK")
		return err
	}
	return nil
}

func (j *Journal) insertAll(ctx context.Context, run int64, recs []record) error {
	for len(recs) >= insertRows {
		j.args = j.args[:0]
		for i := range insertRows {
			r := &recs[i]
			j.args = append(j.args, run, r.seq, r.key[:], r.kind, r.data)
		}
		if _, err := j.insertMany.ExecContext(ctx, j.args...); err != nil {
			return fmt.Errorf("answers of processes %s..%s: %w", pidString(recs[0].key[:]), pidString(recs[insertRows-1].key[:]), err)
		}
		recs = recs[insertRows:]
	}
	for i := range recs {
		r := &recs[i]
		if _, err := j.insert.ExecContext(ctx, run, r.seq, r.key[:], r.kind, r.data); err != nil {
			return fmt.Errorf("process %s: %w", pidString(r.key[:]), err)
		}
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
	j.room.Broadcast()
	j.mu.Unlock()
	close(j.stop)
	<-j.imported
	err := j.failed()
	if lerr := j.look.close(); err == nil {
		err = lerr
	}
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
	if j.insertMany != nil {
		errs = append(errs, j.insertMany.Close())
	}
	if j.insert != nil {
		errs = append(errs, j.insert.Close())
	}
	if j.conn != nil {
		errs = append(errs, j.conn.Close())
	}
	return errors.Join(errs...)
}
