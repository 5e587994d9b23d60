package fetch

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

// DefaultOutageTimeout is how long the API may stay unavailable before the
// run ends (Config.OutageTimeout).
const DefaultOutageTimeout = 5 * time.Minute

// OutageError is the error Fetch returns once the API has been unavailable
// for Config.OutageTimeout (or asked, with Retry-After, to be left alone for
// longer): the run cannot go on, and what it has not fetched is unverified.
// errors.Is(err, reconcile.ErrOutage) is true.
type OutageError struct {
	// Since is when the outage began: the first unavailable answer of the
	// spell that opened the breaker.
	Since time.Time
	// Watched is how long it was watched before the run gave up.
	Watched time.Duration
	// Probes counts the probes the open breaker sent.
	Probes int
	// Err is the last failure seen.
	Err error
}

// Error returns "API unavailable since 02:14:07Z: dial tcp ...: connection
// refused".
func (e *OutageError) Error() string {
	msg := "API unavailable since " + e.Since.UTC().Format("15:04:05Z")
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Is makes errors.Is(err, reconcile.ErrOutage) true.
func (e *OutageError) Is(target error) bool { return target == reconcile.ErrOutage }

// health shares one breaker between every caller of a Client.
type health struct {
	timeout time.Duration
	clock   func() time.Time

	mu      sync.Mutex
	b       breaker
	changed chan struct{} // closed (and replaced) when the breaker closes or a probe ends
	lastErr error
	outage  *OutageError // set once, when the run must end
}

func newHealth(timeout time.Duration, clock func() time.Time) *health {
	return &health{
		timeout: timeout,
		clock:   clock,
		b:       breaker{ProbeMin: DefaultProbeMin, ProbeMax: DefaultProbeMax},
		changed: make(chan struct{}),
	}
}

// admit waits until the breaker lets a request go, and says whether it is
// the probe. It returns the *OutageError once the outage lasted too long,
// or ctx's error.
func (h *health) admit(ctx context.Context) (ticket, error) {
	for {
		h.mu.Lock()
		now := h.clock()
		if h.outage == nil && h.b.down(now, h.timeout) {
			h.declare(now, nil)
		}
		if h.outage != nil {
			err := h.outage
			h.mu.Unlock()
			return wait, err
		}
		t, d := h.b.admit(now)
		left := h.b.since.Add(h.timeout).Sub(now) // the outage deadline
		ch := h.changed
		h.mu.Unlock()
		if t != wait {
			return t, nil
		}
		if d <= 0 || d > left {
			d = left
		}
		timer := time.NewTimer(d)
		select {
		case <-ctx.Done():
			timer.Stop()
			return wait, ctx.Err()
		case <-ch:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// open reports whether the breaker is open now.
func (h *health) open() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.b.open || h.outage != nil
}

// report records one answer; failure is the error an unavailable answer
// came with. It reports whether the breaker is open afterwards.
func (h *health) report(t ticket, unavailable bool, failure error) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	wasOpen := h.b.open
	open := h.b.report(h.clock(), t, unavailable)
	if unavailable && failure != nil {
		h.lastErr = failure
	}
	if t == probe || wasOpen != open {
		h.wake()
	}
	return open
}

// abandon gives back a probe that got no answer.
func (h *health) abandon(t ticket) {
	if t != probe {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.b.abandon(t)
	h.wake()
}

// giveUp ends the run as an outage now: the API asked to be left alone
// longer than the outage timeout.
func (h *health) giveUp(why error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.outage == nil {
		h.declare(h.clock(), why)
		h.wake()
	}
}

// declare records the outage that ends the run; called with mu held.
func (h *health) declare(now time.Time, why error) {
	since := h.b.since
	if !h.b.open {
		since = now
	}
	last := h.lastErr
	if why != nil {
		last = why
	}
	if last == nil {
		last = errors.New("no answer")
	}
	h.outage = &OutageError{Since: since, Watched: now.Sub(since), Probes: h.b.probes, Err: last}
}

func (h *health) wake() {
	close(h.changed)
	h.changed = make(chan struct{})
}

// Outage returns the outage that ended the run, or nil when there was none.
func (c *Client) Outage() *OutageError {
	c.health.mu.Lock()
	defer c.health.mu.Unlock()
	if c.health.outage == nil {
		return nil
	}
	o := *c.health.outage
	return &o
}

// Probes returns how many probes the breaker has sent so far, and whether
// it is open now.
func (c *Client) Probes() (int, bool) {
	c.health.mu.Lock()
	defer c.health.mu.Unlock()
	return c.health.b.probes, c.health.b.open
}
