package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

// Journal records the answers of one run and looks them up again when the
// run is resumed. It implements reconcile.Journal.
//
// Record is safe for concurrent use: the records that wait are appended by
// one writer goroutine to the answers log in one write (group commit), and
// each call returns once its record is there; an importer goroutine moves
// them into the database in large transactions (answerlog.go). Lookup must
// be called from one goroutine, with seq increasing.
//
// Open a Journal only while holding the database's lock (Lock): on opening
// it imports, and then removes, whatever answers log a killed process left.
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
	conn   *sql.Conn     // the importer's connection
	insert *sql.Stmt     // prepared on conn

	seg      *segment              // the log segment being written; the writer's
	frames   []byte                // the writer's buffer
	imports  chan importItem       // writer -> importer, in log order
	imported chan struct{}         // closed by the importer when it returns
	failure  atomic.Pointer[error] // the importer's first error

	commits int    // transactions the importer committed; read after Close
	look    lookup // Lookup's state; see lookup.go
}

// importItem is either records the writer logged, or the news that segment
// sealed is complete (all its records were sent before).
type importItem struct {
	recs   []record
	sealed int // -1: none
}

// How the importer batches: a transaction when importBatch records wait,
// and every importEvery.
const importBatch = 4096

var importEvery = 100 * time.Millisecond

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
		kick: make(chan struct{}, 1), stop: make(chan struct{}), exited: make(chan struct{}),
		imports: make(chan importItem, 1024), imported: make(chan struct{})}
	if err := j.open(ctx); err != nil {
		j.closeConns()
		db.release()
		return nil, fmt.Errorf("open journal of run %s: %w", runID, err)
	}
	go j.importer()
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
	next, err := j.replay()
	if err != nil {
		return err
	}
	j.seg, err = createSegment(j.db.path, next)
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
// the importer failed, Record returns its error.
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

// writer appends the waiting records to the log, all of them in one
// write, until Close. While it writes, new records gather in the next
// batch.
func (j *Journal) writer() {
	defer close(j.exited)
	defer close(j.imports)
	for {
		var last bool
		select {
		case <-j.kick:
		case <-j.stop:
			last = true
		}
		j.mu.Lock()
		b := j.cur
		j.cur = newBatch()
		if last {
			j.cur = nil
		}
		j.mu.Unlock()
		if len(b.recs) > 0 {
			b.err = j.log(b.recs)
		}
		close(b.done)
		if last {
			j.seal()
			return
		}
	}
}

// log appends recs to the log and hands them to the importer; past
// segmentBytes it starts the next segment.
func (j *Journal) log(recs []record) error {
	if err := j.failed(); err != nil {
		return err
	}
	j.frames = j.frames[:0]
	for i := range recs {
		j.frames = appendFrame(j.frames, j.run, &recs[i])
	}
	if err := j.seg.write(j.frames); err != nil {
		return err
	}
	j.imports <- importItem{recs: recs, sealed: -1}
	if j.seg.size < segmentBytes {
		return nil
	}
	next, err := createSegment(j.db.path, j.seg.n+1)
	if err != nil {
		return err
	}
	j.seal()
	j.seg = next
	return nil
}

// seal closes the segment being written and tells the importer it is
// complete.
func (j *Journal) seal() {
	j.seg.f.Close()
	j.imports <- importItem{sealed: j.seg.n}
}

// failed returns the importer's first error, if any.
func (j *Journal) failed() error {
	if p := j.failure.Load(); p != nil {
		return *p
	}
	return nil
}

// importer commits the logged records into the database in large
// transactions, and removes each sealed segment once all its records are
// committed. After an error it keeps draining (the writer must not block)
// but imports nothing more: the segments stay for the next run to import.
func (j *Journal) importer() {
	defer close(j.imported)
	var pending []record
	tick := time.NewTicker(importEvery)
	defer tick.Stop()
	flush := func() {
		if len(pending) == 0 || j.failed() != nil {
			pending = pending[:0]
			return
		}
		if err := j.commit(j.run, pending); err != nil {
			err = fmt.Errorf("import answers: %w", err)
			j.failure.CompareAndSwap(nil, &err)
		}
		j.commits++
		pending = pending[:0]
	}
	for {
		select {
		case it, ok := <-j.imports:
			if !ok {
				flush()
				return
			}
			if it.sealed >= 0 {
				flush()
				if j.failed() == nil {
					if err := removeSegment(j.db.path, it.sealed); err != nil {
						j.failure.CompareAndSwap(nil, &err)
					}
				}
				continue
			}
			pending = append(pending, it.recs...)
			if len(pending) >= importBatch {
				flush()
			}
		case <-tick.C:
			flush()
		}
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

// commit writes recs, answers of run, in one transaction.
func (j *Journal) commit(run int64, recs []record) error {
	ctx := context.Background()
	if _, err := j.conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return err
	}
	for i := range recs {
		r := &recs[i]
		if _, err := j.insert.ExecContext(ctx, run, r.seq, r.key[:], r.kind, r.data); err != nil {
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
	if j.insert != nil {
		errs = append(errs, j.insert.Close())
	}
	if j.conn != nil {
		errs = append(errs, j.conn.Close())
	}
	return errors.Join(errs...)
}
