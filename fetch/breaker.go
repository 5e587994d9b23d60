package fetch

import "time"

// The API's health, as every caller of one Client sees it: a retry budget
// and a circuit breaker, both pure state machines driven by the times their
// callers pass in (health.go shares them between goroutines).
//
// The budget follows gRPC's retry throttling (gRFC A6): a bucket of
// budgetTokens tokens; every answer that says "the API is unavailable" takes
// one, every other answer gives budgetRatio back (up to the full bucket).
// Once the bucket is down to half, failures dominate and the breaker opens.
// gRPC gives a token back per success at a ratio of 0.1, which throttles at
// about 9% of failures; a reconciliation must get through a flaky API (30%
// random 503s verify, only slower), so here a success gives back a whole
// token: the bucket drains only while failures outnumber successes, and
// budgetTokens/2 failures in a row from a full bucket open the breaker.
const (
	budgetTokens = 20
	budgetRatio  = 1.0
	// DefaultProbeMin and DefaultProbeMax bound the spacing of the probes
	// an open breaker sends: it doubles after each failed probe.
	DefaultProbeMin = time.Second
	DefaultProbeMax = 15 * time.Second
)

// retryBudget is gRPC's retry throttling token bucket.
type retryBudget struct {
	tokens float64 // budgetTokens when full; the zero value is full
	used   bool
}

func (b *retryBudget) level() float64 {
	if !b.used {
		return budgetTokens
	}
	return b.tokens
}

// fail takes a token for an unavailable answer and reports whether the
// budget is now spent (down to half).
func (b *retryBudget) fail() bool {
	b.tokens, b.used = max(b.level()-1, 0), true
	return b.spent()
}

// succeed gives budgetRatio back for any other answer.
func (b *retryBudget) succeed() {
	b.tokens, b.used = min(b.level()+budgetRatio, budgetTokens), true
}

func (b *retryBudget) spent() bool { return b.level() <= budgetTokens/2 }

// refill fills the bucket again: the API answered a probe.
func (b *retryBudget) refill() { b.tokens, b.used = budgetTokens, true }

// ticket is what breaker.admit grants.
type ticket int

const (
	// wait: do not send now.
	wait ticket = iota
	// pass: the breaker is closed; send.
	pass
	// probe: the breaker is open and this request is its one probe; its
	// answer must be reported with the probe ticket.
	probe
)

// breaker opens when the retry budget is spent: no caller sends, except one
// probe at a time, spaced ProbeMin, then twice as long after each failed
// probe up to ProbeMax. The first answer that is not "unavailable" closes
// it. Not safe for concurrent use; its zero value, with the spacings set,
// is closed.
type breaker struct {
	ProbeMin, ProbeMax time.Duration

	budget    retryBudget
	open      bool
	probing   bool      // a probe is in flight
	nextProbe time.Time // when open: the earliest time of the next probe
	spacing   time.Duration
	streak    time.Time // the first unavailable answer since the last other one
	since     time.Time // when open: when the outage began (streak's start)
	probes    int       // probes sent, over the breaker's life
	openings  int       // times it opened
}

// admit says whether a request may go at now. For wait, it also returns
// how long until the next probe may go (0 when a probe is in flight: the
// caller waits for its answer).
func (b *breaker) admit(now time.Time) (ticket, time.Duration) {
	switch {
	case !b.open:
		return pass, 0
	case b.probing:
		return wait, 0
	case now.Before(b.nextProbe):
		return wait, b.nextProbe.Sub(now)
	default:
		b.probing = true
		b.probes++
		return probe, 0
	}
}

// report records the answer to a request sent with t: unavailable says
// whether it showed the API unavailable. It reports whether the breaker is
// open afterwards.
func (b *breaker) report(now time.Time, t ticket, unavailable bool) bool {
	if t == probe {
		b.probing = false
	}
	if !unavailable {
		b.budget.succeed()
		b.streak = time.Time{}
		if b.open {
			b.open = false
			b.budget.refill()
		}
		return false
	}
	if b.streak.IsZero() {
		b.streak = now
	}
	spent := b.budget.fail()
	switch {
	case t == probe:
		b.spacing = min(2*b.spacing, b.ProbeMax)
		b.nextProbe = now.Add(b.spacing)
	case !b.open && spent:
		b.open = true
		b.openings++
		b.since = b.streak
		b.spacing = b.ProbeMin
		b.nextProbe = now.Add(b.spacing)
	}
	return b.open
}

// abandon gives back a probe that got no answer (its caller went away).
func (b *breaker) abandon(t ticket) {
	if t == probe {
		b.probing = false
	}
}

// down reports whether the breaker has been open for timeout or more,
// counting from the outage's start.
func (b *breaker) down(now time.Time, timeout time.Duration) bool {
	return b.open && now.Sub(b.since) >= timeout
}
