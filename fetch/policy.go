package fetch

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Action is what Fetch does after one attempt.
type Action int

// The actions of a Verdict.
const (
	// Done: the answer is final (200, 410, or 404 with code 50001).
	Done Action = iota
	// Retry: try again after Verdict.Delay.
	Retry
	// GiveUp: no answer can be had for this process; it is unverified.
	GiveUp
	// Fatal: the run cannot go on (missing header, rejected credentials,
	// a server certificate that cannot be verified).
	Fatal
	// Renew: renew the access token, then try again at once.
	Renew
)

func (a Action) String() string {
	switch a {
	case Done:
		return "done"
	case Retry:
		return "retry"
	case GiveUp:
		return "give up"
	case Fatal:
		return "fatal"
	case Renew:
		return "renew token"
	default:
		return "action(" + strconv.Itoa(int(a)) + ")"
	}
}

// Attempt is what one request for one process came to: the input of
// Policy.Decide. It holds no clock and no randomness of its own.
type Attempt struct {
	// N is the attempt's number for this process: 1 for the first request.
	N int
	// HTTPStatus is the response's status code, 0 when none came.
	HTTPStatus int
	// Code is the API's error code from the body, "" when there is none.
	Code string
	// Err is why the response cannot be used: a transport error, a timeout,
	// a truncated or malformed body (ErrMalformedBody), an oversize body
	// (ErrBodyTooLarge) or an answer for another id (ErrIDMismatch). Nil
	// when the response was read whole.
	Err error
	// RetryAfter is the response's Retry-After header as sent.
	RetryAfter string
	// Now is when the response arrived; an HTTP-date Retry-After counts from
	// it.
	Now time.Time
	// Renewed reports whether the access token was already renewed for this
	// process.
	Renewed bool
	// Jitter is a number in [0, 1) that spreads back-off delays: 0 gives
	// half the nominal delay, values near 1 give nearly all of it.
	Jitter float64
	// Early reports whether this is one of the first answers the Client
	// got (EarlyAnswers): a 404 without the API's error body then means a
	// wrong API root, not a missing process.
	Early bool
}

// EarlyAnswers is how many of a Client's first answers may reveal a wrong
// API root (Attempt.Early).
const EarlyAnswers = 20

// Verdict is Policy.Decide's answer.
type Verdict struct {
	Action Action
	// Delay is how long this process waits before its next attempt (Retry).
	Delay time.Duration
	// Pause is how long every caller of the Client waits before its next
	// request. It is set for every 429, and for a 503 with Retry-After,
	// whatever the Action.
	Pause time.Duration
	// Reason says why, in a few words, for logs.
	Reason string
}

// Policy decides what to do after each attempt. Its zero value never
// retries; Client uses one built from its Config.
type Policy struct {
	// MaxRetries is how many times one process is retried after its first
	// attempt for a retryable failure (429, 5xx, transport, body).
	MaxRetries int
	// BackoffBase is the nominal delay before the first retry; it doubles
	// with every retry up to BackoffCap. Retry-After is honoured whatever
	// its length (the Client ends the run when it exceeds the outage
	// timeout).
	BackoffBase, BackoffCap time.Duration
}

// Decide maps one attempt's outcome to a verdict. It is a pure function: the
// same Attempt always gives the same Verdict.
func (p Policy) Decide(a Attempt) Verdict {
	if a.HTTPStatus == http.StatusTooManyRequests {
		// Before a.Err: a 429 whose body broke is still a 429.
		d, ok := retryAfter(a.RetryAfter, a.Now)
		if !ok {
			d = p.Backoff(a.N, a.Jitter)
		}
		v := p.retry(a, "rate limited")
		v.Delay, v.Pause = d, d
		if v.Action != Retry {
			v.Delay = 0
		}
		return v
	}
	if a.HTTPStatus == http.StatusServiceUnavailable {
		// Retry-After on a 503 is honoured like on a 429: everyone waits.
		if d, ok := retryAfter(a.RetryAfter, a.Now); ok {
			v := p.retry(a, "unavailable")
			v.Delay, v.Pause = d, d
			if v.Action != Retry {
				v.Delay = 0
			}
			return v
		}
	}
	if a.Err != nil {
		switch {
		case isCertificateError(a.Err):
			return Verdict{Action: Fatal, Reason: "certificate not trusted"}
		case errors.Is(a.Err, ErrIDMismatch):
			return Verdict{Action: GiveUp, Reason: "answer for another id"}
		case errors.Is(a.Err, ErrBodyTooLarge):
			return Verdict{Action: GiveUp, Reason: "body too large"}
		case errors.Is(a.Err, ErrMalformedBody):
			return p.retry(a, "malformed body")
		case a.HTTPStatus != 0:
			return p.retry(a, "body read failed")
		default:
			return p.retry(a, "no response")
		}
	}
	switch s := a.HTTPStatus; {
	case s == http.StatusOK || s == http.StatusGone:
		return Verdict{Action: Done}
	case s == http.StatusNotFound && a.Code == "50001":
		return Verdict{Action: Done}
	case s == http.StatusBadRequest && (a.Code == "20001" || a.Code == "20002"):
		return Verdict{Action: Fatal, Reason: "missing credentials"}
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		// Sources disagree on which of the two the API sends: same meaning.
		if a.Code == "10502" && !a.Renewed {
			return Verdict{Action: Renew, Reason: "access token expired"}
		}
		return Verdict{Action: Fatal, Reason: "credentials rejected"}
	case s >= 500 && s <= 599:
		return p.retry(a, "server error")
	case s == http.StatusRequestTimeout:
		return p.retry(a, "request timeout")
	case s == http.StatusNotFound && a.Code == "" && a.Early:
		// A 404 without the API's error body for the first requests: the
		// API root is wrong (or a proxy does not route it), not the process.
		return Verdict{Action: Fatal, Reason: "wrong API root"}
	default:
		// 400 20023, a 404 without code 50001 (a wrong API root answers
		// 404 for everything: that is not "not found"), other 4xx, 3xx.
		return Verdict{Action: GiveUp, Reason: "unexpected answer"}
	}
}

// retry is Retry after a back-off, or GiveUp when the retries are spent. An
// unavailable answer is retried after a short back-off whatever N (unavailableShift).
func (p Policy) retry(a Attempt, reason string) Verdict {
	if a.N > p.MaxRetries {
		return Verdict{Action: GiveUp, Reason: reason + ", retries spent"}
	}
	if Unavailable(a) {
		// The shared breaker, not each process, backs off from an API-wide
		// failure; a process unlucky with a flaky API retries soon: after
		// an eighth of the first back-off, whatever N. Its retry still pays
		// the shared rate, and a run's last processes do not idle out a
		// whole back-off each while nothing else is left to send.
		return Verdict{Action: Retry, Delay: p.Backoff(1, a.Jitter) >> unavailableShift, Reason: reason}
	}
	return Verdict{Action: Retry, Delay: p.Backoff(a.N, a.Jitter), Reason: reason}
}

// unavailableShift shortens the back-off after an unavailable answer
// (without Retry-After) to 2^-unavailableShift of the first one: 62-125 ms
// with the default 1 s. Tuned with BenchmarkRun_Flaky503.
const unavailableShift = 3

// Backoff is the delay after failed attempt n (1-based): nominally
// BackoffBase·2^(n-1), capped at BackoffCap, of which jitter in [0, 1) keeps
// between half and all ("equal jitter").
func (p Policy) Backoff(n int, jitter float64) time.Duration {
	d := p.BackoffBase
	for i := 1; i < n && d < p.BackoffCap; i++ {
		d *= 2
	}
	d = min(d, p.BackoffCap)
	jitter = min(max(jitter, 0), 1)
	return d/2 + time.Duration(float64(d/2)*jitter)
}

// retryAfter parses a Retry-After value: seconds or an HTTP date, counted
// from now. It reports false when v is absent or neither. Seconds too many
// for a Duration are the longest one (RFC 9110 1.2.2: large numbers must
// not overflow), which the caller caps.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	// ParseUint gives ErrRange, and the largest value, only for digits.
	if secs, err := strconv.ParseUint(v, 10, 63); err == nil || errors.Is(err, strconv.ErrRange) {
		const maxSecs = uint64(1<<63-1) / uint64(time.Second)
		return time.Duration(min(secs, maxSecs)) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// Unavailable reports whether an attempt's outcome says that the API is
// unavailable, rather than answering: no response (refused or reset
// connection, timeout), 408, 502, 503, 504, or 500 without the API's error
// body. These drain the retry budget and open the breaker; a certificate
// error is not one (it is fatal).
func Unavailable(a Attempt) bool {
	switch s := a.HTTPStatus; {
	case s == 0:
		return a.Err != nil && !isCertificateError(a.Err)
	case s == http.StatusRequestTimeout, s == http.StatusBadGateway,
		s == http.StatusServiceUnavailable, s == http.StatusGatewayTimeout:
		return true
	case s == http.StatusInternalServerError:
		return a.Code == ""
	default:
		return false
	}
}
