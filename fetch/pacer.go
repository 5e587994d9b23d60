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
//   - attack: a 429 multiplies the rate by 1 - 2^-attackShift (3/4): the
//     rate is cut by a quarter, once per congestion event: 429s for requests
//     sent before the last cut are echoes of it and cut nothing;
//   - decay: every success divides it by 1 - 2^-decayShift, about +0.2% at
//     9, until it is back at the configured rate. At 10 req/s that is +20%
//     in 10 s; at 50 req/s, +20% in 2 s.
//
// The pause that a 429 sets holds everyone for the Retry-After (or the
// back-off); the rate cut keeps the next burst from tripping the limit again.
// Tuned with BenchmarkClient_Fetch_AboveLimit (bench_test.go).
const (
	attackShift = 2
	decayShift  = 9
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
	full    atomic.Bool // current == ceiling: a success has nothing to do

	mu         sync.Mutex
	current    rate.Limit
	lastAttack int64
}

func newPacer(r rate.Limit) *pacer {
	p := &pacer{
		lim:     rate.NewLimiter(r, 1),
		ceiling: r,
		current: r,
		epoch:   time.Now(),
	}
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

// attack cuts the rate after a 429 for a request sent at sentAt. It reports
// whether the rate changed.
func (p *pacer) attack(sentAt int64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if sentAt < p.lastAttack {
		return false // sent before the last cut: the same congestion
	}
	p.lastAttack = p.now()
	if p.current == rate.Inf {
		p.current = DefaultRate
	} else {
		p.current -= p.current / (1 << attackShift)
	}
	p.current = max(p.current, min(minRate, p.ceiling))
	p.full.Store(false)
	p.lim.SetLimit(p.current)
	return true
}

// succeed lets the rate creep back towards the ceiling after a success.
func (p *pacer) succeed() {
	if p.full.Load() {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.current >= p.ceiling {
		return
	}
	p.current /= 1 - 1.0/(1<<decayShift)
	if p.current >= p.ceiling || (p.ceiling == rate.Inf && p.current >= unlimitedAbove) {
		p.current = p.ceiling
		p.full.Store(true)
	}
	p.lim.SetLimit(p.current)
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
