package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"github.com/jmoiron/sqlx"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

// Lookup merges the pipeline's rows with the run's recorded answers: both
// come in seq order, so that when the source is unchanged each lookup is a
// step along a stream. Background readers stream the answers ORDER BY seq,
// in chunks of seqs read and decoded in parallel (startReader).
//
// When the stream has nothing for (seq, processID), the source changed
// since the answers were recorded, or the process was never recorded: a
// point lookup by process id tells which, so that a recorded answer
// is found at any position. Once the stream is exhausted and every streamed
// answer was a hit, no recorded answer is left to find and the point
// lookup is skipped.
const (
	// lookupChunk is how many seqs one read transaction covers. No reader
	// holds one transaction for the whole run: a long read transaction
	// would keep the WAL from being checkpointed, and the WAL would grow by
	// every answer the resumed run records.
	lookupChunk = 4096
	// lookupAhead is how many chunks the readers may read and decode ahead,
	// and lookupReady how many decoded chunks wait for Lookup: with the one
	// Lookup consumes and the one handed over, at most lookupAhead +
	// lookupReady + 2 chunks (32,768 answers, about 10 MB) are in memory,
	// whatever the size of the run.
	lookupAhead = 4
	lookupReady = 2
	// lookupReaders is how many goroutines read chunks at once.
	lookupReaders = 2
)

type lookup struct {
	point *sqlx.Stmt // by process_id, in the run; nil until first needed

	started bool
	chunks  chan []answer // the answers, in seq order
	cancel  context.CancelFunc
	done    chan struct{} // closed when every reader goroutine has returned
	err     error         // the readers' error, read once chunks is closed

	buf      []answer
	eof      bool
	streamed int // answers received from the reader
	hits     int // of those, answers returned by Lookup
}

type answer struct {
	seq int64
	key [16]byte
	r   reconcile.Result
}

// Lookup returns the answer recorded for processID at position seq of the
// run. It is called from one goroutine, with seq increasing (a smaller seq
// is still answered, by a point lookup). Answers recorded by this Journal
// after the first Lookup may go unseen. After Close it returns ErrClosed.
func (j *Journal) Lookup(seq int, processID string) (reconcile.Result, bool, error) {
	if j.done.Load() {
		return reconcile.Result{}, false, fmt.Errorf("look up answer: %w", ErrClosed)
	}
	key, err := pidKey(processID)
	if err != nil {
		return reconcile.Result{}, false, fmt.Errorf("look up answer: %w", err)
	}
	l := &j.look
	if !l.started {
		if err := j.startReader(); err != nil {
			return reconcile.Result{}, false, fmt.Errorf("look up answer: %w", err)
		}
	}
	for {
		if len(l.buf) == 0 && !l.eof {
			if err := l.next(); err != nil {
				return reconcile.Result{}, false, fmt.Errorf("look up answer: %w", err)
			}
			continue
		}
		if len(l.buf) == 0 || l.buf[0].seq > int64(seq) {
			break
		}
		a := &l.buf[0]
		l.buf = l.buf[1:]
		if a.seq == int64(seq) && a.key == key {
			l.hits++
			return a.r, true, nil
		}
	}
	if l.eof && l.hits == l.streamed {
		return reconcile.Result{}, false, nil
	}
	return j.pointLookup(key)
}

// next waits for the reader's next chunk.
func (l *lookup) next() error {
	c, ok := <-l.chunks
	if !ok {
		l.eof = true
		return l.err
	}
	l.buf = c
	l.streamed += len(c)
	return nil
}

func (j *Journal) pointLookup(key [16]byte) (reconcile.Result, bool, error) {
	if j.look.point == nil {
		if err := j.indexByProcess(); err != nil {
			return reconcile.Result{}, false, fmt.Errorf("look up answer: %w", err)
		}
	}
	var data []byte
	err := j.look.point.Get(&data, key[:])
	if errors.Is(err, sql.ErrNoRows) {
		return reconcile.Result{}, false, nil
	}
	if err != nil {
		return reconcile.Result{}, false, fmt.Errorf("look up answer: %w", err)
	}
	r, err := decodeResult(data, key[:])
	if err != nil {
		return reconcile.Result{}, false, fmt.Errorf("look up answer of %s: %w", pidString(key[:]), err)
	}
	return r, true, nil
}

// indexByProcess builds, on first need, an index of the run's answers by
// process id, and prepares the point lookup. Answers are not indexed so
// as they are recorded: a random-order index costs every record a page
// write, which halves how fast a run records. The index is partial, on
// this run alone, so recording in other runs never maintains it; it is
// needed only when a resumed run's source changed since the answers were
// recorded. The run key is an integer of ours, written into the SQL
// because a partial index serves only queries that name its constant.
func (j *Journal) indexByProcess() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return ErrClosed
	}
	if _, err := j.x.Exec(fmt.Sprintf(
		"CREATE INDEX IF NOT EXISTS answers_of_run_%d ON answers (process_id) WHERE run = %d", j.run, j.run)); err != nil {
		return fmt.Errorf("index answers by process id: %w", err)
	}
	var err error
	j.look.point, err = j.x.Preparex(fmt.Sprintf(
		"SELECT result FROM answers WHERE run = %d AND process_id = ?", j.run))
	return err
}

// startReader starts the goroutines that stream the run's answers: the
// seq range up to the largest seq recorded is cut into chunks of
// lookupChunk seqs, which lookupReaders goroutines read and decode in
// parallel, each on its own connection, one short read transaction per
// chunk; chunks are delivered in order.
func (j *Journal) startReader() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return ErrClosed
	}
	l := &j.look
	var maxSeq sql.NullInt64
	if err := j.x.Get(&maxSeq, "SELECT max(seq) FROM answers WHERE run = ?", j.run); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	l.started = true
	l.chunks = make(chan []answer, lookupReady)
	l.cancel = cancel
	l.done = make(chan struct{})
	nChunks := int64(0)
	if maxSeq.Valid {
		nChunks = maxSeq.Int64/lookupChunk + 1
	}
	futures := make(chan chan result, lookupAhead)
	jobs := make(chan job)
	var readers sync.WaitGroup
	for range min(lookupReaders, int(nChunks)) {
		readers.Go(func() { j.readChunks(ctx, jobs) })
	}
	go func() { // hands out the chunks, in order
		defer close(futures)
		defer close(jobs)
		for c := range nChunks {
			f := make(chan result, 1)
			select {
			case futures <- f:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- job{lo: c * lookupChunk, hi: (c + 1) * lookupChunk, out: f}:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { // delivers them, in order
		defer close(l.done)
		defer readers.Wait()
		defer close(l.chunks)
		for f := range futures {
			var r result
			select {
			case r = <-f:
			case <-ctx.Done():
				return
			}
			if r.err != nil {
				l.err = r.err
				cancel()
				return
			}
			if len(r.answers) == 0 {
				continue
			}
			select {
			case l.chunks <- r.answers:
			case <-ctx.Done():
				return
			}
		}
	}()
	return nil
}

// job asks a reader for the answers whose seq is in [lo, hi).
type job struct {
	lo, hi int64
	out    chan<- result
}

type result struct {
	answers []answer
	err     error
}

// readChunks reads the chunks jobs asks for, on its own connection.
func (j *Journal) readChunks(ctx context.Context, jobs <-chan job) {
	conn, err := j.x.Connx(ctx)
	var stmt *sqlx.Stmt
	if err == nil {
		defer conn.Close()
		stmt, err = conn.PreparexContext(ctx, `SELECT seq, process_id, result FROM answers
			WHERE run = ? AND seq >= ? AND seq < ? ORDER BY seq, process_id`)
	}
	if err == nil {
		defer stmt.Close()
	}
	for jb := range jobs {
		if err != nil {
			jb.out <- result{err: err}
			continue
		}
		as, rerr := j.readChunk(ctx, stmt, jb.lo, jb.hi)
		jb.out <- result{answers: as, err: rerr}
	}
}

// readChunk reads and decodes the answers whose seq is in [lo, hi).
func (j *Journal) readChunk(ctx context.Context, stmt *sqlx.Stmt, lo, hi int64) ([]answer, error) {
	rows, err := stmt.QueryContext(ctx, j.run, lo, hi)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	c := make([]answer, 0, hi-lo)
	var pid, data sql.RawBytes
	for rows.Next() {
		var a answer
		if err := rows.Scan(&a.seq, &pid, &data); err != nil {
			return nil, err
		}
		if len(pid) != 16 {
			return nil, fmt.Errorf("answer at seq %d: %w: process id of %d bytes", a.seq, errCorrupt, len(pid))
		}
		copy(a.key[:], pid)
		if a.r, err = decodeResult(data, pid); err != nil {
			return nil, fmt.Errorf("answer of %s: %w", pidString(pid), err)
		}
		c = append(c, a)
	}
	return c, rows.Err()
}

// close stops the reader, if it started.
func (l *lookup) close() error {
	if !l.started {
		return nil
	}
	l.cancel()
	<-l.done
	return nil
}
