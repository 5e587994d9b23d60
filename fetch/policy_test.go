package fetch_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math"
	"testing"
	"time"

	"github.com/unico-reconcile/unico-reconcile/fetch"
)

func TestPolicy_Decide(t *testing.T) {
	p := fetch.Policy{MaxRetries: 2, BackoffBase: time.Second, BackoffCap: 60 * time.Second}
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	httpDate := now.Add(7 * time.Second).Format("Mon, 02 Jan 2006 15:04:05 GMT")
	pastDate := now.Add(-time.Minute).Format("Mon, 02 Jan 2006 15:04:05 GMT")
	longest := time.Duration(math.MaxInt64/int64(time.Second)) * time.Second // Retry-After saturated
	reset := errors.New("read: connection reset by peer")

	for _, tt := range []struct {
		name string
		in   fetch.Attempt
		want fetch.Verdict
	}{
		{"OK", fetch.Attempt{N: 1, HTTPStatus: 200}, fetch.Verdict{Action: fetch.Done}},
		{"Gone", fetch.Attempt{N: 1, HTTPStatus: 410}, fetch.Verdict{Action: fetch.Done}},
		{"NotFound", fetch.Attempt{N: 1, HTTPStatus: 404, Code: "50001"}, fetch.Verdict{Action: fetch.Done}},
		{"NotFoundWithoutCode", fetch.Attempt{N: 1, HTTPStatus: 404}, fetch.Verdict{Action: fetch.GiveUp, Reason: "unexpected answer"}},
		{"BadProcessID", fetch.Attempt{N: 1, HTTPStatus: 400, Code: "20023"}, fetch.Verdict{Action: fetch.GiveUp, Reason: "unexpected answer"}},
		{"TokenMissing", fetch.Attempt{N: 1, HTTPStatus: 400, Code: "20001"}, fetch.Verdict{Action: fetch.Fatal, Reason: "missing credentials"}},
		{"APIKeyMissing", fetch.Attempt{N: 1, HTTPStatus: 400, Code: "20002"}, fetch.Verdict{Action: fetch.Fatal, Reason: "missing credentials"}},
		{"APIKeyInvalid403", fetch.Attempt{N: 1, HTTPStatus: 403, Code: "10201"}, fetch.Verdict{Action: fetch.Fatal, Reason: "credentials rejected"}},
		{"APIKeyInvalid401", fetch.Attempt{N: 1, HTTPStatus: 401, Code: "10201"}, fetch.Verdict{Action: fetch.Fatal, Reason: "credentials rejected"}},
		{"TokenInvalid", fetch.Attempt{N: 1, HTTPStatus: 403, Code: "10501"}, fetch.Verdict{Action: fetch.Fatal, Reason: "credentials rejected"}},
		{"MalformedJWT", fetch.Attempt{N: 1, HTTPStatus: 403, Code: "30017"}, fetch.Verdict{Action: fetch.Fatal, Reason: "credentials rejected"}},
		{"MalformedJWT401", fetch.Attempt{N: 1, HTTPStatus: 401, Code: "30017"}, fetch.Verdict{Action: fetch.Fatal, Reason: "credentials rejected"}},
		{"ForbiddenUnknownCode", fetch.Attempt{N: 1, HTTPStatus: 403}, fetch.Verdict{Action: fetch.Fatal, Reason: "credentials rejected"}},
		{"TokenExpired", fetch.Attempt{N: 1, HTTPStatus: 403, Code: "10502"}, fetch.Verdict{Action: fetch.Renew, Reason: "access token expired"}},
		{"TokenExpired401", fetch.Attempt{N: 3, HTTPStatus: 401, Code: "10502"}, fetch.Verdict{Action: fetch.Renew, Reason: "access token expired"}},
		{"TokenExpiredAfterRenewal", fetch.Attempt{N: 2, HTTPStatus: 403, Code: "10502", Renewed: true}, fetch.Verdict{Action: fetch.Fatal, Reason: "credentials rejected"}},
		{"ServerError", fetch.Attempt{N: 1, HTTPStatus: 500, Code: "99999"}, fetch.Verdict{Action: fetch.Retry, Delay: 500 * time.Millisecond, Reason: "server error"}},
		// Unavailable answers: an eighth of the first back-off whatever N (the breaker backs off for everyone).
		{"BadGateway", fetch.Attempt{N: 2, HTTPStatus: 502, Jitter: 0.5}, fetch.Verdict{Action: fetch.Retry, Delay: 750 * time.Millisecond / 8, Reason: "server error"}},
		{"ServerErrorWithCodeGrows", fetch.Attempt{N: 2, HTTPStatus: 500, Code: "99999", Jitter: 0.5}, fetch.Verdict{Action: fetch.Retry, Delay: 1500 * time.Millisecond, Reason: "server error"}},
		{"Unavailable", fetch.Attempt{N: 1, HTTPStatus: 503, Jitter: 0.999999999}, fetch.Verdict{Action: fetch.Retry, Delay: 999999999 / 8, Reason: "server error"}},
		{"GatewayTimeout", fetch.Attempt{N: 1, HTTPStatus: 504}, fetch.Verdict{Action: fetch.Retry, Delay: 500 * time.Millisecond / 8, Reason: "server error"}},
		{"UnknownServerStatus", fetch.Attempt{N: 1, HTTPStatus: 599}, fetch.Verdict{Action: fetch.Retry, Delay: 500 * time.Millisecond, Reason: "server error"}},
		{"ServerErrorRetriesSpent", fetch.Attempt{N: 3, HTTPStatus: 500}, fetch.Verdict{Action: fetch.GiveUp, Reason: "server error, retries spent"}},
		{"UnknownClientStatus", fetch.Attempt{N: 1, HTTPStatus: 418}, fetch.Verdict{Action: fetch.GiveUp, Reason: "unexpected answer"}},
		{"Redirect", fetch.Attempt{N: 1, HTTPStatus: 302}, fetch.Verdict{Action: fetch.GiveUp, Reason: "unexpected answer"}},
		{"Reset", fetch.Attempt{N: 1, Err: reset}, fetch.Verdict{Action: fetch.Retry, Delay: 500 * time.Millisecond / 8, Reason: "no response"}},
		{"CertificateNotTrusted", fetch.Attempt{N: 1, Err: fmt.Errorf("get: %w", x509.UnknownAuthorityError{})}, fetch.Verdict{Action: fetch.Fatal, Reason: "certificate not trusted"}},
		{"ResetRetriesSpent", fetch.Attempt{N: 3, Err: reset}, fetch.Verdict{Action: fetch.GiveUp, Reason: "no response, retries spent"}},
		{"TruncatedBody", fetch.Attempt{N: 1, HTTPStatus: 200, Err: io.ErrUnexpectedEOF}, fetch.Verdict{Action: fetch.Retry, Delay: 500 * time.Millisecond, Reason: "body read failed"}},
		{"TruncatedErrorBody", fetch.Attempt{N: 1, HTTPStatus: 403, Code: "10201", Err: io.ErrUnexpectedEOF}, fetch.Verdict{Action: fetch.Retry, Delay: 500 * time.Millisecond, Reason: "body read failed"}},
		{"MalformedBody", fetch.Attempt{N: 1, HTTPStatus: 200, Err: fmt.Errorf("%w: x", fetch.ErrMalformedBody)}, fetch.Verdict{Action: fetch.Retry, Delay: 500 * time.Millisecond, Reason: "malformed body"}},
		{"BodyTooLarge", fetch.Attempt{N: 1, HTTPStatus: 200, Err: fmt.Errorf("%w: x", fetch.ErrBodyTooLarge)}, fetch.Verdict{Action: fetch.GiveUp, Reason: "body too large"}},
		{"IDMismatch", fetch.Attempt{N: 1, HTTPStatus: 200, Err: fmt.Errorf("%w: x", fetch.ErrIDMismatch)}, fetch.Verdict{Action: fetch.GiveUp, Reason: "answer for another id"}},
		{"RateLimitedSeconds", fetch.Attempt{N: 1, HTTPStatus: 429, RetryAfter: "3", Now: now}, fetch.Verdict{Action: fetch.Retry, Delay: 3 * time.Second, Pause: 3 * time.Second, Reason: "rate limited"}},
		{"RateLimitedZero", fetch.Attempt{N: 1, HTTPStatus: 429, RetryAfter: "0", Now: now}, fetch.Verdict{Action: fetch.Retry, Reason: "rate limited"}},
		{"RateLimitedHTTPDate", fetch.Attempt{N: 1, HTTPStatus: 429, RetryAfter: httpDate, Now: now}, fetch.Verdict{Action: fetch.Retry, Delay: 7 * time.Second, Pause: 7 * time.Second, Reason: "rate limited"}},
		{"RateLimitedPastDate", fetch.Attempt{N: 1, HTTPStatus: 429, RetryAfter: pastDate, Now: now}, fetch.Verdict{Action: fetch.Retry, Reason: "rate limited"}},
		// Honoured however long: the Client ends the run past its outage timeout.
		{"RateLimitedLong", fetch.Attempt{N: 1, HTTPStatus: 429, RetryAfter: "3600", Now: now}, fetch.Verdict{Action: fetch.Retry, Delay: time.Hour, Pause: time.Hour, Reason: "rate limited"}},
		{"UnavailableRetryAfter", fetch.Attempt{N: 1, HTTPStatus: 503, RetryAfter: "7", Now: now}, fetch.Verdict{Action: fetch.Retry, Delay: 7 * time.Second, Pause: 7 * time.Second, Reason: "unavailable"}},
		{"UnavailableRetryAfterSpent", fetch.Attempt{N: 3, HTTPStatus: 503, RetryAfter: "7", Now: now}, fetch.Verdict{Action: fetch.GiveUp, Pause: 7 * time.Second, Reason: "unavailable, retries spent"}},
		{"RequestTimeout", fetch.Attempt{N: 1, HTTPStatus: 408}, fetch.Verdict{Action: fetch.Retry, Delay: 500 * time.Millisecond / 8, Reason: "request timeout"}},
		{"NotFoundWithoutCodeEarly", fetch.Attempt{N: 1, HTTPStatus: 404, Early: true}, fetch.Verdict{Action: fetch.Fatal, Reason: "wrong API root"}},
		{"NotFoundOtherCodeEarly", fetch.Attempt{N: 1, HTTPStatus: 404, Code: "12345", Early: true}, fetch.Verdict{Action: fetch.GiveUp, Reason: "unexpected answer"}},
		// Found by FuzzRetryAfter: delay-seconds past 2^63 were garbage, so
		// the server's "wait very long" became a half-second back-off; now
		// it saturates (and the Client ends the run past its outage timeout).
		{"RateLimitedHuge", fetch.Attempt{N: 1, HTTPStatus: 429, RetryAfter: "99999999999999999999", Now: now}, fetch.Verdict{Action: fetch.Retry, Delay: longest, Pause: longest, Reason: "rate limited"}},
		{"RateLimitedNoHeader", fetch.Attempt{N: 1, HTTPStatus: 429, Now: now}, fetch.Verdict{Action: fetch.Retry, Delay: 500 * time.Millisecond, Pause: 500 * time.Millisecond, Reason: "rate limited"}},
		{"RateLimitedNoHeaderThird", fetch.Attempt{N: 3, HTTPStatus: 429, Jitter: 0.5, Now: now}, fetch.Verdict{Action: fetch.GiveUp, Pause: 3 * time.Second, Reason: "rate limited, retries spent"}},
		{"RateLimitedGarbageHeader", fetch.Attempt{N: 2, HTTPStatus: 429, RetryAfter: "soon", Now: now}, fetch.Verdict{Action: fetch.Retry, Delay: time.Second, Pause: time.Second, Reason: "rate limited"}},
		{"RateLimitedBrokenBody", fetch.Attempt{N: 1, HTTPStatus: 429, RetryAfter: "2", Err: io.ErrUnexpectedEOF, Now: now}, fetch.Verdict{Action: fetch.Retry, Delay: 2 * time.Second, Pause: 2 * time.Second, Reason: "rate limited"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got, want := p.Decide(tt.in), tt.want; got != want {
				t.Fatalf("Decide(%+v)=%+v, want %+v", tt.in, got, want)
			}
		})
	}
}

func TestPolicy_Backoff(t *testing.T) {
	p := fetch.Policy{BackoffBase: time.Second, BackoffCap: 60 * time.Second}
	for _, tt := range []struct {
		n      int
		jitter float64
		want   time.Duration
	}{
		{1, 0, 500 * time.Millisecond},
		{1, 1, time.Second},
		{2, 1, 2 * time.Second},
		{3, 1, 4 * time.Second},
		{4, 0.5, 6 * time.Second},
		{7, 1, 60 * time.Second},
		{100, 1, 60 * time.Second},
		{100, 0, 30 * time.Second},
		{2, -3, time.Second},
		{2, 7, 2 * time.Second},
	} {
		if got, want := p.Backoff(tt.n, tt.jitter), tt.want; got != want {
			t.Errorf("Backoff(%d, %v)=%v, want %v", tt.n, tt.jitter, got, want)
		}
	}
}

func TestAction_String(t *testing.T) {
	for a, want := range map[fetch.Action]string{
		fetch.Done: "done", fetch.Retry: "retry", fetch.GiveUp: "give up",
		fetch.Fatal: "fatal", fetch.Renew: "renew token", fetch.Action(42): "action(42)",
	} {
		if got := a.String(); got != want {
			t.Errorf("Action(%d).String()=%q, want %q", int(a), got, want)
		}
	}
}

func TestUnavailable(t *testing.T) {
	refused := errors.New("dial tcp 127.0.0.1:9: connect: connection refused")
	for _, tt := range []struct {
		name string
		in   fetch.Attempt
		want bool
	}{
		{"Refused", fetch.Attempt{Err: refused}, true},
		{"Timeout", fetch.Attempt{Err: fmt.Errorf("request timed out: %w", context.DeadlineExceeded)}, true},
		{"Certificate", fetch.Attempt{Err: fmt.Errorf("get: %w", x509.UnknownAuthorityError{})}, false},
		{"RequestTimeout", fetch.Attempt{HTTPStatus: 408}, true},
		{"BadGateway", fetch.Attempt{HTTPStatus: 502}, true},
		{"ServiceUnavailable", fetch.Attempt{HTTPStatus: 503}, true},
		{"GatewayTimeout", fetch.Attempt{HTTPStatus: 504}, true},
		{"InternalWithoutCode", fetch.Attempt{HTTPStatus: 500}, true},
		{"InternalWithCode", fetch.Attempt{HTTPStatus: 500, Code: "99999"}, false},
		{"RateLimited", fetch.Attempt{HTTPStatus: 429}, false},
		{"OK", fetch.Attempt{HTTPStatus: 200}, false},
		{"MalformedBody", fetch.Attempt{HTTPStatus: 200, Err: fetch.ErrMalformedBody}, false},
		{"NotFound", fetch.Attempt{HTTPStatus: 404}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := fetch.Unavailable(tt.in); got != tt.want {
				t.Fatalf("Unavailable(%+v)=%v, want %v", tt.in, got, tt.want)
			}
		})
	}
}
