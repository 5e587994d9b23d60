package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

// Source streams saved outcomes.
type Source interface {
	// Each calls fn once per row, in source order, with Row numbers
	// increasing. A row that cannot be used is passed with Invalid set, never
	// skipped. Each returns fn's first error, or an error when the source
	// itself cannot be read (it is then unusable: exit 2).
	Each(ctx context.Context, fn func(Local) error) error
}

// Fetcher asks the API for one process.
type Fetcher interface {
	// Fetch returns the answer for one canonical process id. A failure that
	// concerns only this process (network, 5xx, 429, timeout, malformed body)
	// is reported in Result.Err. A non-nil error means the run cannot go on:
	// a fatal API error (bad credentials, missing header) or ctx's error;
	// Result then still counts the requests sent (Attempts, RateLimited).
	// Fetch is safe for concurrent use.
	Fetch(ctx context.Context, processID string) (Result, error)
}

// Sink receives the listed discrepancies in source order, from one
// goroutine at a time.
type Sink interface {
	Write(Discrepancy) error
}

// Journal remembers the answers a run has had, so that a run resumed after
// a crash, or re-checked after an outage, fetches nothing twice.
type Journal interface {
	// Lookup returns the answer recorded for the valid, first-seen process
	// processID at position seq of the run (seq counts the rows Run keeps,
	// from 0). Run calls it from one goroutine, with seq increasing. ok is
	// false when nothing is recorded; an error stops the run.
	Lookup(seq int, processID string) (r Result, ok bool, err error)
	// Record keeps r, the answer fetched for processID at position seq, and
	// the verdict kind it led to. It returns once the record is durable, so
	// that a crash loses at most the answers in flight. It is called from
	// many goroutines at once; an error stops the run.
	Record(seq int, processID string, r Result, kind Kind) error
}

// ErrOutage is what errors.Is finds in a Fetcher's error when the API has
// been unavailable too long: Run stops fetching, the process and every one
// not yet fetched are unverified with the error's text as detail, and the
// run is interrupted (--resume and --recheck pick it up), not failed.
var ErrOutage = errors.New("API unavailable")

// ErrStopped is what errors.Is finds in a Fetcher's error when Options.Stop
// closed before the process was sent at all (a Fetcher that holds many
// processes waiting for a request slot, fetch.Config.Stop): it is counted
// Unverified with DetailStopped, like one the run never handed out.
var ErrStopped = errors.New("stopped before this process was fetched")

// DefaultWindow is how many processes may be read ahead of the oldest one
// not yet reported, when Options.Window is zero.
const DefaultWindow = 4096

// Options tune Run.
type Options struct {
	// Workers is the number of fetches in flight at most; zero means 1.
	Workers int
	// InProgress, when larger than Workers, is how many processes may be
	// handed to the Fetcher at once, fetching or waiting to retry: for a
	// Fetcher that bounds its own requests in flight (fetch.Config.InFlight)
	// and holds none while it waits, so that a process waiting out a
	// back-off does not keep a worker idle. Zero means Workers.
	InProgress int
	// StaleAfter is how long after saved_at a process still in progress
	// remotely is reported as still_processing.
	StaleAfter time.Duration
	// Since and Until keep only rows whose saved_at is in [Since, Until);
	// a zero value leaves that side open. With either set, a row whose
	// saved_at is unknown is left out. Invalid rows are always reported.
	Since, Until time.Time
	// Window bounds how far reading may run ahead of reporting (memory);
	// zero means DefaultWindow. It is raised to at least Workers+1.
	Window int
	// Now is the clock for staleness; nil means time.Now.
	Now func() time.Time
	// Logger gets a debug line per discrepancy; nil means none.
	Logger *slog.Logger
	// Journal, when set, answers for processes already fetched (they are
	// compared again, not fetched) and records every new answer.
	Journal Journal
	// Stop, when closed, stops the run from starting new fetches: fetches
	// in flight finish, and the processes not yet fetched are counted
	// Unverified with DetailStopped. Nil never stops.
	Stop <-chan struct{}
	// Shard keeps only the rows of one shard (see Shard); the zero Shard
	// keeps them all. It applies after Since and Until.
	Shard Shard
	// Observer, when set, watches the run as it goes (progress, metrics).
	Observer Observer
	// Seen remembers the process ids met, for duplicate_id; nil means a
	// new MemorySeen.
	Seen Seen
}

// Observer watches a run. Run calls Read once per row read from the source
// (kept or not), from the reading goroutine, and Verdict once per verdict
// (listed or not), in source order, from one goroutine at a time. Both must
// return quickly: they are on the pipeline's path.
type Observer interface {
	Read()
	Verdict(Discrepancy)
}

// Interruption details, as reported for processes the run did not fetch.
const (
	DetailNotFetched  = "run interrupted before this process was fetched"
	DetailInterrupted = "run interrupted while this process was being fetched"
	DetailStopped     = "run reached its time limit before this process was fetched"
)

// Run reads every row of src, fetches each valid first-seen process with f
// (at most opt.Workers at once), compares, and writes the listed verdicts to
// sink in source order. It returns the counts.
//
// When ctx is cancelled (a signal), Run stops fetching: processes in flight
// or not yet fetched are counted Unverified, the rest of the source is still
// read so that every row is accounted for, and Summary.Interrupted is set;
// the error is nil. A fatal error from f, a source error or a sink error
// stops the run and is returned.
func Run(ctx context.Context, src Source, f Fetcher, sink Sink, opt Options) (Summary, error) {
	if opt.Workers < 1 {
		opt.Workers = 1
	}
	if opt.Window < 1 {
		opt.Window = DefaultWindow
	}
	inProgress := max(opt.Workers, opt.InProgress)
	if opt.Window <= inProgress {
		opt.Window = inProgress + 1
	}
	now := opt.Now
	if now == nil {
		now = time.Now
	}
	p := &pipeline{
		sink:   sink,
		log:    opt.Logger,
		ring:   make([]slot, opt.Window),
		window: make(chan struct{}, opt.Window),
		obs:    opt.Observer,
	}

	// Fetches stop on a signal (ctx) or on the first fatal error (gctx);
	// reading stops only on a fatal error, so that a signal still accounts
	// for every row.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(inProgress)
	readCtx, stopReading := context.WithCancelCause(context.WithoutCancel(ctx))
	defer stopReading(nil)

	seen := opt.Seen
	if seen == nil {
		seen = MemorySeen{}
	}
	var interrupted atomic.Bool
	var outage atomic.Pointer[string] // the detail of the outage that ended fetching
	var seq, reused int
	readErr := src.Each(readCtx, func(l Local) error {
		if opt.Observer != nil {
			opt.Observer.Read()
		}
		if l.Invalid == nil && !inWindow(l.SavedAt, opt.Since, opt.Until) {
			return nil
		}
		if !opt.Shard.Owns(l) {
			return nil
		}
		n := seq
		seq++
		if err := p.reserve(readCtx); err != nil {
			return err
		}
		if l.Invalid != nil {
			return p.done(n, Invalid(l))
		}
		key, ok := ProcessKey(l.ProcessID)
		if !ok { // a Source must not do this; never put such an id in a URL
			l.Invalid = fmt.Errorf("row %d, column process_id: %q is not a canonical UUID", l.Row, l.ProcessID)
			return p.done(n, Invalid(l))
		}
		first, dup, err := seen.Add(key, l.Row)
		if err != nil {
			return err
		}
		if dup {
			return p.done(n, Duplicate(l, first))
		}
		if opt.Journal != nil {
			r, ok, err := opt.Journal.Lookup(n, l.ProcessID)
			if err != nil {
				return err
			}
			if ok {
				reused++
				return p.done(n, Compare(l, r, now(), opt.StaleAfter))
			}
		}
		if gctx.Err() != nil {
			interrupted.Store(true)
			return p.done(n, Interrupted(l, DetailNotFetched))
		}
		if stopped(opt.Stop) {
			interrupted.Store(true)
			return p.done(n, Interrupted(l, DetailStopped))
		}
		if o := outage.Load(); o != nil {
			return p.done(n, Interrupted(l, *o))
		}
		g.Go(func() error {
			if stopped(opt.Stop) { // waited for a free worker past the limit
				interrupted.Store(true)
				return p.done(n, Interrupted(l, DetailStopped))
			}
			if o := outage.Load(); o != nil {
				return p.done(n, Interrupted(l, *o))
			}
			r, err := f.Fetch(gctx, l.ProcessID)
			if err == nil {
				d := Compare(l, r, now(), opt.StaleAfter)
				if opt.Journal != nil {
					if err := opt.Journal.Record(n, l.ProcessID, r, d.Kind); err != nil {
						err = fmt.Errorf("record answer: %w", err)
						stopReading(err)
						return err
					}
				}
				return p.done(n, d)
			}
			interrupted.Store(true)
			if errors.Is(err, ErrStopped) {
				return p.done(n, Interrupted(l, DetailStopped))
			}
			if errors.Is(err, ErrOutage) { // the API is gone: the rest is unverified, not fatal
				detail := err.Error()
				outage.CompareAndSwap(nil, &detail)
				d := Interrupted(l, detail)
				d.Attempts, d.RateLimited = r.Attempts, r.RateLimited // the requests it cost count
				return p.done(n, d)
			}
			d := Interrupted(l, DetailInterrupted)
			d.Attempts, d.RateLimited = r.Attempts, r.RateLimited // sent, so counted
			derr := p.done(n, d)
			if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
				return derr // a signal: the rest is counted, not fatal
			}
			stopReading(err)
			return err
		})
		return nil
	})
	fetchErr := g.Wait()
	if fetchErr != nil && (ctx.Err() == nil || !errors.Is(fetchErr, ctx.Err())) {
		return p.sum, fetchErr
	}
	if readErr != nil {
		if cause := context.Cause(readCtx); cause != nil && errors.Is(readErr, cause) {
			readErr = cause
		}
		return p.sum, readErr
	}
	if p.err != nil {
		return p.sum, p.err
	}
	if p.sum.Counts == nil {
		p.sum.Counts = make(map[Kind]int)
	}
	p.sum.Interrupted = interrupted.Load()
	p.sum.Reused = reused
	p.sum.Shard = opt.Shard
	return p.sum, nil
}

// stopped reports whether stop is closed.
func stopped(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}

// inWindow reports whether t is in [since, until), open where zero.
func inWindow(t, since, until time.Time) bool {
	if since.IsZero() && until.IsZero() {
		return true
	}
	if t.IsZero() {
		return false
	}
	return (since.IsZero() || !t.Before(since)) && (until.IsZero() || t.Before(until))
}

// pipeline re-sequences verdicts that complete in any order into source
// order. At most len(ring) verdicts are outstanding: the reader reserves a
// place before it hands a process out, and emitting releases it.
type pipeline struct {
	sink   Sink
	log    *slog.Logger
	obs    Observer
	window chan struct{}

	mu   sync.Mutex
	ring []slot
	next int
	sum  Summary
	err  error
}

type slot struct {
	d   Discrepancy
	set bool
}

// reserve waits for a free place in the window.
func (p *pipeline) reserve(ctx context.Context) error {
	select {
	case p.window <- struct{}{}:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// done records verdict n and emits every verdict that is now in order.
func (p *pipeline) done(n int, d Discrepancy) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ring[n%len(p.ring)] = slot{d: d, set: true}
	for {
		s := &p.ring[p.next%len(p.ring)]
		if !s.set {
			break
		}
		p.emit(s.d)
		*s = slot{}
		p.next++
		<-p.window
	}
	return p.err
}

func (p *pipeline) emit(d Discrepancy) {
	p.sum.Add(d)
	if p.obs != nil {
		p.obs.Verdict(d)
	}
	if !d.Kind.Listed() || p.err != nil {
		return
	}
	if p.log != nil && p.log.Enabled(context.Background(), slog.LevelDebug) {
		p.log.Debug("discrepancy", "row", d.Local.Row, "process_id", d.Local.ProcessID,
			"kind", string(d.Kind), "detail", d.Detail)
	}
	if err := p.sink.Write(d); err != nil {
		p.err = fmt.Errorf("write report: %w", err)
	}
}
