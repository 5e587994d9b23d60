package fetch

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Adaptive pacing, after rclone's lib/pacer, applied to a shared limiter's
// rate instead of to per-caller sleeps. The constants are shifts, as there:
//
//   - attack: a 429 cuts the rate once per congestion event (429s for
//     requests sent before the last cut are echoes of it and cut nothing):
//     by 2^-attackShift (a quarter) when the previous event was recent, the
//     client still being far above the limit; by 2^-gentleShift (an eighth)
//     after calmAfter without one, when it only brushed the limit;
//
//   - memory: the rate at which the 429 came, less 3%, becomes the soft
//     ceiling: the limit is known to lie about there;
//
//   - decay: every success divides the rate by 1 - 2^-decayShift, about
//     +0.2% at 9, up to the soft ceiling (at 10 req/s, +20% in 10 s); above
//     it, by 1 - 2^-probeShift, about +0.01% at 13, so that probing for
//     more brushes the limit rarely. The memory lasts forgetAfter without a
//     429: then the limit may have been lifted, and the rate climbs at the
//     decay pace back to the configured one.
//
//   - recurrence: an isolated 429 (the tenant's limit brushed by someone
//     else, a gateway's hiccup) costs its pause and cuts nothing; the rate
//     is cut only when 429s recur: a congestion event within
//     recoveryRequests requests of the previous one, as a client above the
//     limit sees them (at 3x the limit, one every few dozen requests).
//
//   - proof: the gap alone cannot tell a client above the limit from
//     one-off 429s at a high rate (one every ~150 requests at 200/s, half
//     of them within recoveryRequests of the previous by chance). A rate
//     that carried more than recoveryRequests requests without a 429 is
//     proven: under the limit. 429s that recur while the rate is no higher
//     than the proven one are strikes and cut nothing, proofStrikes of
//     them in a row; the next one cuts (the limit may have come down, as
//     when the tenant's production traffic rises, or the rate brushes a
//     strict limiter) and lowers the proven rate by an eighth, so that a
//     limit that did come down is followed down, proofStrikes+1 429s a
//     step. A run of one-off 429s cannot drag the rate down for a minute
//     this way: below the proven rate only every third one cuts. (The soft
//     ceiling is not held at the proven rate either: a span can be quiet
//     above the limit while the server's bucket, refilled during a pause,
//     drains.)
//
// Every 429 costs a pause of everyone (Retry-After, at least a second in
// practice), so the pacer's job is to make them rare, not just survivable.
// Tuned with BenchmarkRun_AboveLimit and BenchmarkRun_StrictLimiter (the
// root package) and BenchmarkClient_Fetch_AboveLimit (bench_test.go).
const (
	attackShift = 2
	gentleShift = 3
	calmAfter   = 10 * time.Second
	softMargin  = 0.97
	decayShift  = 9
	probeShift  = 13
	forgetAfter = time.Minute
	// recurEvents congestion events within recoveryRequests requests sent
	// (this one and the previous) make 429s recurring: only then is the
	// rate cut.
	recurEvents      = 2
	recoveryRequests = 100
	// proofStrikes recurring congestion events in a row at a proven rate
	// are forgiven; the next one cuts and lowers the proven rate.
	proofStrikes = 2
	// minRate is the floor of the adaptive rate, in requests per second.
	minRate = 0.5
	// unlimitedAbove is where an unlimited client, slowed by a 429 to
	// DefaultRate, is unlimited again.
	unlimitedAbove = 100_000
)

// pacer is the rate shared by every caller of one Client. Safe for
// concurrent use.
type pacer struct {
	lim     *rate.Limiter
	ceiling rate.Limit // the configured rate; rate.Inf when unlimited
	epoch   time.Time  // monotonic origin of the nanosecond counters
	until   atomic.Int64
	full    atomic.Bool  // current == ceiling: a success has nothing to do
	sent    atomic.Int64 // requests granted so far

	mu         sync.Mutex
	current    rate.Limit
	soft       rate.Limit // where the last 429 came, less 3%; 0 before any
	attacked   bool
	lastAttack int64 // the last congestion event; earlier requests are its echoes
	lastCut    int64
	events     [recurEvents - 1]int64 // sent at the last congestion events, newest first
	nEvents    int
	spanStart  int64      // sent at the last congestion event: the quiet span began there
	spanRate   rate.Limit // the rate at the span's start, its lowest (only successes raise it)
	proven     rate.Limit // the highest rate a quiet span began at: under the limit; 0: none
	strikes    int        // recurring events forgiven since the last proof
	// How far and how long 429s slowed the rate below the configured
	// one: the lowest rate a cut led to (0 before any), and the time spent
	// below, from a cut until the rate is back to the configured one.
	lowest    rate.Limit
	slowed    bool
	slowSince int64
	slowFor   time.Duration
}

func newPacer(r rate.Limit) *pacer {
	p := &pacer{
		lim:     rate.NewLimiter(r, 1),
		ceiling: r,
		current: r,
		epoch:   time.Now(),
	}
	p.spanRate = r
	p.full.Store(true)
	return p
}

// now is the monotonic time since epoch, in nanoseconds.
func (p *pacer) now() int64 { return int64(time.Since(p.epoch)) }

// wait blocks until no pause is in force and the limiter grants a request,
// and returns the moment it did. A pause that began while the caller waited
// for its token sends it back to wait again, so no request leaves during a
// pause it could know about.
func (p *pacer) wait(ctx context.Context) (int64, error) {
	for {
		if err := p.sleepPause(ctx); err != nil {
			return 0, err
		}
		if err := p.lim.Wait(ctx); err != nil {
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
			// The next slot lies past ctx's deadline.
			return 0, fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
		}
		if t := p.now(); p.until.Load() <= t {
			p.sent.Add(1)
			return t, nil
		}
	}
}

func (p *pacer) sleepPause(ctx context.Context) error {
	for {
		d := time.Duration(p.until.Load() - p.now())
		if d <= 0 {
			return nil
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// charge takes n more requests out of the shared budget, for requests that
// went out without waiting for it (the transport's own resends).
func (p *pacer) charge(n int) {
	for range n {
		p.lim.Reserve()
	}
}

// pause holds every caller for d from now (a longer pause in force stays).
func (p *pacer) pause(d time.Duration) {
	end := p.now() + int64(d)
	for {
		old := p.until.Load()
		if old >= end || p.until.CompareAndSwap(old, end) {
			return
		}
	}
}

// pausedUntil returns when the pause in force ends, or the zero time.
func (p *pacer) pausedUntil() time.Time {
	u := p.until.Load()
	if u <= p.now() {
		return time.Time{}
	}
	return p.epoch.Add(time.Duration(u))
}

// attack notes a 429 for a request sent at sentAt, and cuts the rate when
// 429s recur. It reports whether the rate changed.
func (p *pacer) attack(sentAt int64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if sentAt < p.lastAttack {
		return false // sent before the last cut: the same congestion
	}
	now := p.now()
	p.lastAttack = now
	sent := p.sent.Load()
	if cut, recurring := p.proved(sent), p.recur(sent); !cut || !recurring {
		p.startSpan(sent)
		return false // isolated, or at a rate known to be under the limit
	}
	defer p.startSpan(sent)
	calm := p.attacked && time.Duration(now-p.lastCut) >= calmAfter
	p.attacked, p.lastCut = true, now
	if p.current == rate.Inf {
		p.current = DefaultRate
	} else {
		p.soft = p.current * softMargin
		shift := attackShift
		if calm {
			shift = gentleShift
		}
		p.current -= p.current / rate.Limit(int(1)<<shift)
	}
	p.current = max(p.current, min(minRate, p.ceiling))
	p.full.Store(false)
	p.lim.SetLimit(p.current)
	if p.lowest == 0 || p.current < p.lowest {
		p.lowest = p.current
	}
	if !p.slowed {
		p.slowed, p.slowSince = true, now
	}
	return true
}

// proved notes a congestion event at request count sent, and reports
// whether it may cut the rate as far as the proof goes: false while the
// rate is no higher than one that carried a quiet span, for proofStrikes
// recurring events in a row. Called with mu held, before recur.
func (p *pacer) proved(sent int64) bool {
	if sent-p.spanStart > recoveryRequests {
		if p.spanRate != rate.Inf { // unlimited is never under a limit
			p.proven, p.strikes = max(p.proven, p.spanRate), 0
		}
		return true // not recurring anyway
	}
	if p.proven == 0 || p.current > p.proven || !p.recurring(sent) {
		return true
	}
	if p.strikes < proofStrikes {
		p.strikes++
		return false
	}
	// The limit may have come down: the proof weakens.
	p.strikes = 0
	p.proven -= p.proven / (1 << gentleShift)
	return true
}

// startSpan begins a quiet span at request count sent, at the current rate;
// called with mu held.
func (p *pacer) startSpan(sent int64) {
	p.spanStart, p.spanRate = sent, p.current
}

// recurring reports whether a congestion event at request count sent would
// make 429s recurring; called with mu held.
func (p *pacer) recurring(sent int64) bool {
	return p.nEvents == len(p.events) && sent-p.events[len(p.events)-1] <= recoveryRequests
}

// recur notes a congestion event at request count sent and reports whether
// it makes 429s recurring; called with mu held.
func (p *pacer) recur(sent int64) bool {
	recurring := p.recurring(sent)
	copy(p.events[1:], p.events[:len(p.events)-1])
	p.events[0] = sent
	p.nEvents = min(p.nEvents+1, len(p.events))
	return recurring
}

// succeed lets the rate creep back towards the ceiling after a success:
// quickly up to the soft ceiling, slowly past it.
func (p *pacer) succeed() {
	if p.full.Load() {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.current >= p.ceiling {
		return
	}
	if p.soft != 0 && time.Duration(p.now()-p.lastCut) >= forgetAfter {
		p.soft = 0
	}
	if p.soft == 0 || p.current < p.soft {
		p.current /= 1 - 1.0/(1<<decayShift)
		if p.soft != 0 {
			p.current = min(p.current, p.soft)
		}
	} else {
		p.current /= 1 - 1.0/(1<<probeShift)
	}
	if p.current >= p.ceiling || (p.ceiling == rate.Inf && p.current >= unlimitedAbove) {
		p.current = p.ceiling
		p.full.Store(true)
		if p.slowed {
			p.slowed, p.slowFor = false, p.slowFor+time.Duration(p.now()-p.slowSince)
		}
	}
	p.lim.SetLimit(p.current)
}

// resume starts the rate again at half the configured one after an
// outage, from which it climbs back at the decay pace: the waiting callers
// do not all rush at a server that has just come back.
func (p *pacer) resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ceiling == rate.Inf {
		return
	}
	p.current = max(min(p.current, p.ceiling/2), min(minRate, p.ceiling))
	p.soft = 0
	p.full.Store(false)
	p.lim.SetLimit(p.current)
}

// slowdown returns the lowest rate 429s cut the pacer to (0 when none
// did) and how long it has run below the configured rate since.
func (p *pacer) slowdown() (lowest float64, below time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	below = p.slowFor
	if p.slowed {
		below += time.Duration(p.now() - p.slowSince)
	}
	return float64(p.lowest), below
}

// rate returns the current rate in requests per second, 0 when unlimited.
func (p *pacer) rate() float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.current == rate.Inf {
		return 0
	}
	return float64(p.current)
}

// limitOf converts a configured rate (0 = unlimited) to a rate.Limit.
func limitOf(r float64) rate.Limit {
	if r == 0 || math.IsInf(r, 1) {
		return rate.Inf
	}
	return rate.Limit(r)
}
