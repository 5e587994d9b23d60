package fetch_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/unico-reconcile/unico-reconcile/fetch"
	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

const askID = "0b9f5c1e-7d2a-4c3b-9e8f-1a2b3c4d5e6f"

func intp(v int) *int                   { return &v }
func floatp(v float64) *float64         { return &v }
func hdr(k, v string) map[string]string { return map[string]string{k: v} }

// summary is the part of a Result a test compares.
type summary struct {
	Remote      *reconcile.Remote
	NotFound    bool
	HTTPStatus  int
	ErrorCode   string
	Attempts    int
	RateLimited int
	Unverified  bool
}

func summarize(r reconcile.Result) summary {
	return summary{r.Remote, r.NotFound, r.HTTPStatus, r.ErrorCode, r.Attempts, r.RateLimited, r.Err != nil}
}

func TestClient_Fetch(t *testing.T) {
	ok := MustReadFixture(t, "ok.json")
	for _, tt := range []struct {
		name    string
		replies []reply
		want    summary
		wantErr error // errors.Is on Result.Err
	}{
		{"OK", []reply{{200, ok, nil}}, summary{
			Remote: &reconcile.Remote{ID: askID, Outcome: reconcile.Outcome{
				Status: 3, UnicoID: "yes", IdentityFraudsters: "inconclusive", Serpro: intp(87), Liveness: intp(1)}},
			HTTPStatus: 200, Attempts: 1,
		}, nil},
		{"OKMinimal", []reply{{200, MustReadFixture(t, "ok_minimal.json"), nil}}, summary{
			Remote:     &reconcile.Remote{ID: askID, Outcome: reconcile.Outcome{Status: 1}},
			HTTPStatus: 200, Attempts: 1,
		}, nil},
		{"OKUnknownValuesAndFloatScore", []reply{{200, MustReadFixture(t, "ok_inconclusive.json"), nil}}, summary{
			Remote: &reconcile.Remote{ID: askID, Outcome: reconcile.Outcome{
				Status: 3, UnicoID: "inconclusive", IdentityFraudsters: "suspicious", Serpro: intp(-2), Liveness: intp(2), Score: floatp(-12.5)}},
			HTTPStatus: 200, Attempts: 1,
		}, nil},
		{"OKUpperCaseID", []reply{{200, withID(ok, strings.ToUpper(askID)), nil}}, summary{
			Remote: &reconcile.Remote{ID: askID, Outcome: reconcile.Outcome{
				Status: 3, UnicoID: "yes", IdentityFraudsters: "inconclusive", Serpro: intp(87), Liveness: intp(1)}},
			HTTPStatus: 200, Attempts: 1,
		}, nil},
		{"Gone", []reply{{410, MustReadFixture(t, "gone.json"), nil}}, summary{
			Remote:     &reconcile.Remote{ID: askID, Outcome: reconcile.Outcome{Status: 5}, Gone: true},
			HTTPStatus: 410, Attempts: 1,
		}, nil},
		{"GoneEmptyBody", []reply{{410, nil, nil}}, summary{
			Remote:     &reconcile.Remote{ID: askID, Outcome: reconcile.Outcome{Status: 5}, Gone: true},
			HTTPStatus: 410, Attempts: 1,
		}, nil},
		{"NotFound", []reply{{404, MustReadFixture(t, "not_found.json"), nil}},
			summary{NotFound: true, HTTPStatus: 404, ErrorCode: "50001", Attempts: 1}, nil},
		{"NotFoundStringCode", []reply{{404, MustReadFixture(t, "not_found_string_code.json"), nil}},
			summary{NotFound: true, HTTPStatus: 404, ErrorCode: "50001", Attempts: 1}, nil},
		{"NotFoundFloatCodeObjectMessage", []reply{{404, MustReadFixture(t, "not_found_float_code.json"), nil}},
			summary{NotFound: true, HTTPStatus: 404, ErrorCode: "50001", Attempts: 1}, nil},
		{"NotFoundCodeInErrorsList", []reply{{404, []byte(`{"errors":[{"code":"50001.0","message":["gone"]}]}`), nil}},
			summary{NotFound: true, HTTPStatus: 404, ErrorCode: "50001", Attempts: 1}, nil},
		{"ErrBadProcessID", []reply{{400, MustReadFixture(t, "error_20023.json"), nil}},
			summary{HTTPStatus: 400, ErrorCode: "20023", Attempts: 1, Unverified: true}, nil},
		{"ErrUnknownClientStatus", []reply{{418, []byte(`{"error":"teapot"}`), nil}},
			summary{HTTPStatus: 418, Attempts: 1, Unverified: true}, nil},
		{"ErrRedirect", []reply{{302, nil, hdr("Location", "http://127.0.0.1:1/elsewhere")}},
			summary{HTTPStatus: 302, Attempts: 1, Unverified: true}, nil},
		{"ServerErrorThenOK", []reply{{500, MustReadFixture(t, "error_99999.json"), nil}, {200, ok, nil}}, summary{
			Remote: &reconcile.Remote{ID: askID, Outcome: reconcile.Outcome{
				Status: 3, UnicoID: "yes", IdentityFraudsters: "inconclusive", Serpro: intp(87), Liveness: intp(1)}},
			HTTPStatus: 200, Attempts: 2,
		}, nil},
		{"ErrServerError", []reply{{500, MustReadFixture(t, "error_99999.json"), nil}},
			summary{HTTPStatus: 500, ErrorCode: "99999", Attempts: 3, Unverified: true}, nil},
		{"ErrBadGateway", []reply{{502, MustReadFixture(t, "bad_gateway.html"), nil}},
			summary{HTTPStatus: 502, Attempts: 5, Unverified: true}, nil},
		{"ErrUnavailable", []reply{{503, nil, nil}},
			summary{HTTPStatus: 503, Attempts: 5, Unverified: true}, nil},
		{"ErrGatewayTimeout", []reply{{504, []byte(`{"message":"upstream timed out"}`), nil}},
			summary{HTTPStatus: 504, Attempts: 5, Unverified: true}, nil},
		{"ErrMalformedBody", []reply{{200, MustReadFixture(t, "malformed.json"), nil}},
			summary{HTTPStatus: 200, Attempts: 3, Unverified: true}, fetch.ErrMalformedBody},
		{"ErrTruncatedJSON", []reply{{200, MustReadFixture(t, "truncated.json"), nil}},
			summary{HTTPStatus: 200, Attempts: 3, Unverified: true}, fetch.ErrMalformedBody},
		{"ErrHTMLBody", []reply{{200, MustReadFixture(t, "bad_gateway.html"), nil}},
			summary{HTTPStatus: 200, Attempts: 3, Unverified: true}, fetch.ErrMalformedBody},
		{"ErrStatusOutOfRange", []reply{{200, []byte(`{"id":"` + fixtureID + `","status":7}`), nil}},
			summary{HTTPStatus: 200, Attempts: 3, Unverified: true}, fetch.ErrMalformedBody},
		{"MalformedThenOK", []reply{{200, MustReadFixture(t, "malformed.json"), nil}, {200, MustReadFixture(t, "ok_minimal.json"), nil}}, summary{
			Remote:     &reconcile.Remote{ID: askID, Outcome: reconcile.Outcome{Status: 1}},
			HTTPStatus: 200, Attempts: 2,
		}, nil},
		{"ErrBodyTooLarge", []reply{{200, append(bytes.Repeat([]byte(" "), fetch.MaxBodyBytes), ok...), nil}},
			summary{HTTPStatus: 200, Attempts: 1, Unverified: true}, fetch.ErrBodyTooLarge},
		{"LargeErrorBodyRetried", []reply{{503, bytes.Repeat([]byte("x"), 2*fetch.MaxBodyBytes), nil}, {200, ok, nil}}, summary{
			Remote: &reconcile.Remote{ID: askID, Outcome: reconcile.Outcome{
				Status: 3, UnicoID: "yes", IdentityFraudsters: "inconclusive", Serpro: intp(87), Liveness: intp(1)}},
			HTTPStatus: 200, Attempts: 2,
		}, nil},
		{"ErrRateLimited", []reply{{429, MustReadFixture(t, "rate_limited.json"), nil}},
			summary{HTTPStatus: 429, Attempts: 3, RateLimited: 3, Unverified: true}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, srv := newFake(t, tt.replies...)
			c := MustNew(t, srv, fetch.Config{})
			res, err := c.Fetch(context.Background(), askID)
			if err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			if diff := cmp.Diff(tt.want, summarize(res)); diff != "" {
				t.Fatalf("Fetch: result mismatch (-want +got):\n%s\nErr: %v", diff, res.Err)
			}
			if tt.wantErr != nil && !errors.Is(res.Err, tt.wantErr) {
				t.Fatalf("Result.Err=%v, want %v", res.Err, tt.wantErr)
			}
			if got, want := f.requests(), res.Attempts; got != want {
				t.Fatalf("server saw %d requests, want %d", got, want)
			}
			if !tt.want.Unverified && res.FetchedAt.IsZero() {
				t.Fatalf("FetchedAt is zero")
			}
			if res.Err != nil && len(res.Err.Error()) > 1200 {
				t.Fatalf("Result.Err is %d bytes long, want the body capped", len(res.Err.Error()))
			}
		})
	}
}

func TestClient_Fetch_Headers(t *testing.T) {
	f, srv := newFake(t, reply{200, MustReadFixture(t, "ok.json"), nil})
	c := MustNew(t, srv, fetch.Config{})
	if _, err := c.Fetch(context.Background(), strings.ToUpper(askID)); err != nil {
		t.Fatal(err)
	}
	r := f.seen[0]
	if got, want := r.URL.Path, "/processes/v1/"+askID; got != want {
		t.Errorf("path=%q, want %q", got, want)
	}
	if got, want := r.Header.Get("Authorization"), "Bearer "+testToken; got != want {
		t.Errorf("Authorization=%q, want %q", got, want)
	}
	if got, want := r.Header.Get("APIKEY"), testKey; got != want {
		t.Errorf("APIKEY=%q, want %q", got, want)
	}
}

func TestClient_Fetch_ErrInvalidProcessID(t *testing.T) {
	f, srv := newFake(t, reply{200, MustReadFixture(t, "ok.json"), nil})
	c := MustNew(t, srv, fetch.Config{})
	for _, id := range []string{"", "../../admin", askID + "?x=1", "80371b2a3ac7432e866d57fe37896ac6"} {
		res, err := c.Fetch(context.Background(), id)
		if err != nil {
			t.Fatalf("Fetch(%q): %v", id, err)
		}
		if !errors.Is(res.Err, fetch.ErrInvalidProcessID) {
			t.Errorf("Fetch(%q).Err=%v, want ErrInvalidProcessID", id, res.Err)
		}
	}
	if got := f.requests(); got != 0 {
		t.Fatalf("server saw %d requests, want 0", got)
	}
}

func TestClient_Fetch_ErrIDMismatch(t *testing.T) {
	for _, tt := range []struct {
		name string
		r    reply
	}{
		{"OK", reply{200, []byte(`{"id":"11111111-2222-3333-4444-555555555555","status":3}`), nil}},
		{"NoID", reply{200, []byte(`{"status":3}`), nil}},
		{"Gone", reply{410, []byte(`{"id":"11111111-2222-3333-4444-555555555555","status":5}`), nil}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, srv := newFake(t, tt.r)
			c := MustNew(t, srv, fetch.Config{})
			res, err := c.Fetch(context.Background(), askID)
			if err != nil {
				t.Fatal(err)
			}
			if !errors.Is(res.Err, fetch.ErrIDMismatch) || res.Remote != nil {
				t.Fatalf("Fetch=%+v, want ErrIDMismatch and no Remote", res)
			}
			if got, want := f.requests(), 1; got != want {
				t.Fatalf("server saw %d requests, want %d (no retry)", got, want)
			}
		})
	}
}

func TestClient_Fetch_Fatal(t *testing.T) {
	for _, tt := range []struct {
		name     string
		r        reply
		wantCode string
		wantText string
	}{
		{"TokenMissing", reply{400, MustReadFixture(t, "error_20001.json"), nil}, "20001", "access token missing (400, code 20001)"},
		{"APIKeyMissing", reply{400, MustReadFixture(t, "error_20002.json"), nil}, "20002", "APIKEY missing (400, code 20002): set --api-key"},
		{"APIKeyInvalid", reply{403, MustReadFixture(t, "error_10201.json"), nil}, "10201", "APIKEY rejected (403, code 10201): check --api-key"},
		{"APIKeyInvalid401", reply{401, MustReadFixture(t, "error_10201.json"), nil}, "10201", "APIKEY rejected (401, code 10201)"},
		{"TokenInvalid", reply{403, MustReadFixture(t, "error_10501.json"), nil}, "10501", "access token rejected (403, code 10501)"},
		{"MalformedJWT", reply{403, MustReadFixture(t, "error_30017.json"), nil}, "30017", "access token malformed or without permission (403, code 30017)"},
		{"MalformedJWT401", reply{401, MustReadFixture(t, "error_30017.json"), nil}, "30017", "(401, code 30017)"},
		{"ForbiddenHTML", reply{403, []byte("<html>Forbidden</html>"), nil}, "", "access denied (403)"},
		{"TokenExpiredStatic", reply{403, MustReadFixture(t, "error_10502.json"), nil}, "10502", "access token expired (403, code 10502)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, srv := newFake(t, tt.r)
			c := MustNew(t, srv, fetch.Config{})
			res, err := c.Fetch(context.Background(), askID)
			if err == nil {
				t.Fatalf("Fetch=%+v, want a fatal error", res)
			}
			var apiErr *fetch.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("Fetch: %v, want an *APIError inside", err)
			}
			if got, want := apiErr.HTTPStatus, tt.r.status; got != want {
				t.Errorf("APIError.HTTPStatus=%d, want %d", got, want)
			}
			if got, want := apiErr.Code, tt.wantCode; got != want {
				t.Errorf("APIError.Code=%q, want %q", got, want)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q does not say %q", err, tt.wantText)
			}
			if got, want := f.requests(), 1; got != want {
				t.Errorf("server saw %d requests, want %d", got, want)
			}
		})
	}
}

// TestClient_Fetch_FatalEveryCall: a fatal answer is never retried; a caller
// that goes on regardless sends one request per call.
func TestClient_Fetch_FatalEveryCall(t *testing.T) {
	f, srv := newFake(t, reply{403, MustReadFixture(t, "error_10201.json"), nil})
	c := MustNew(t, srv, fetch.Config{})
	for i := range 3 {
		if _, err := c.Fetch(context.Background(), askID); err == nil {
			t.Fatalf("call %d: no error", i)
		}
	}
	if got, want := f.requests(), 3; got != want {
		t.Fatalf("server saw %d requests, want %d (no retries)", got, want)
	}
}

func TestClient_Fetch_RateLimited(t *testing.T) {
	ok := MustReadFixture(t, "ok.json")
	limited := MustReadFixture(t, "rate_limited.json")
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name     string
		header   map[string]string
		minDelay time.Duration
	}{
		{"RetryAfterSeconds", hdr("Retry-After", "1"), time.Second},
		// The client's clock is fixed: the date is one second after it.
		{"RetryAfterHTTPDate", hdr("Retry-After", now.Add(time.Second).Format(http.TimeFormat)), time.Second},
		{"NoRetryAfter", nil, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var first time.Time
			var gap atomic.Int64
			var n atomic.Int64
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				if n.Add(1) == 1 {
					first = time.Now()
					reply{429, limited, tt.header}.write(w, askID)
					return
				}
				gap.Store(int64(time.Since(first)))
				reply{200, ok, nil}.write(w, askID)
			})
			c := MustNew(t, srv, fetch.Config{BackoffCap: 5 * time.Second, Now: func() time.Time { return now }})
			res, err := c.Fetch(context.Background(), askID)
			if err != nil {
				t.Fatal(err)
			}
			if res.Remote == nil || res.Attempts != 2 || res.RateLimited != 1 {
				t.Fatalf("Fetch=%+v, want Remote after 2 attempts, 1 rate limited", res)
			}
			if got, want := time.Duration(gap.Load()), tt.minDelay; got < want {
				t.Fatalf("retry came %v after the 429, want at least %v", got, want)
			}
			if got := c.Rate(); got != 0 {
				// An isolated 429 costs its pause and cuts nothing.
				t.Fatalf("Rate()=%v after one 429, want 0 (still unlimited)", got)
			}
		})
	}
}

// TestClient_Fetch_RateLimitedSlowsAll: after a 429 with Retry-After, no
// request reaches the server before it elapses, whichever caller sends it.
func TestClient_Fetch_RateLimitedSlowsAll(t *testing.T) {
	ok := MustReadFixture(t, "ok.json")
	limited := MustReadFixture(t, "rate_limited.json")

	type server struct {
		mu      sync.Mutex
		at429   time.Time
		arrived []time.Time
		n       atomic.Int64
	}
	start := func(t *testing.T) (*server, string) {
		s := &server{}
		srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			id := strings.TrimPrefix(r.URL.Path, "/processes/v1/")
			if s.n.Add(1) == 1 {
				s.mu.Lock()
				s.at429 = time.Now()
				s.mu.Unlock()
				reply{429, limited, hdr("Retry-After", "1")}.write(w, id)
				return
			}
			s.mu.Lock()
			s.arrived = append(s.arrived, time.Now())
			s.mu.Unlock()
			reply{200, ok, nil}.write(w, id)
		})
		return s, srv.URL
	}
	check := func(t *testing.T, s *server, want int) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if got := len(s.arrived); got != want {
			t.Fatalf("server saw %d requests after the 429, want %d", got, want)
		}
		for i, at := range s.arrived {
			if d := at.Sub(s.at429); d < time.Second {
				t.Errorf("request %d arrived %v after the 429, want at least 1s", i, d)
			}
		}
	}
	ids := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		}
		return out
	}

	t.Run("StartedDuringPause", func(t *testing.T) {
		s, url := start(t)
		c := MustNew(t, nil, fetch.Config{BaseURL: url, BackoffCap: 5 * time.Second})
		done := make(chan reconcile.Result, 1)
		go func() {
			res, _ := c.Fetch(context.Background(), askID)
			done <- res
		}()
		for c.PausedUntil().IsZero() {
			select {
			case res := <-done:
				t.Fatalf("Fetch ended with %+v before the pause was seen", res)
			case <-time.After(time.Millisecond):
			}
		}
		var wg sync.WaitGroup
		for _, id := range ids(6) {
			wg.Go(func() {
				if res, err := c.Fetch(context.Background(), id); err != nil || res.Remote == nil {
					t.Errorf("Fetch(%s)=%+v, %v", id, res, err)
				}
			})
		}
		wg.Wait()
		if res := <-done; res.RateLimited != 1 || res.Remote == nil {
			t.Errorf("rate-limited Fetch=%+v", res)
		}
		check(t, s, 7)
	})

	t.Run("QueuedInLimiter", func(t *testing.T) {
		// At 4 req/s the others hold limiter slots 250 ms apart when the
		// first request's 429 arrives; the pause must still hold them.
		s, url := start(t)
		c := MustNew(t, nil, fetch.Config{BaseURL: url, Rate: 4, BackoffCap: 5 * time.Second})
		var wg sync.WaitGroup
		for _, id := range ids(4) {
			wg.Go(func() {
				if res, err := c.Fetch(context.Background(), id); err != nil || res.Remote == nil {
					t.Errorf("Fetch(%s)=%+v, %v", id, res, err)
				}
			})
		}
		wg.Wait()
		check(t, s, 4)
	})
}

// TestClient_Fetch_RateAdapts: recurring 429s lower the shared rate;
// successes bring it back to the configured one.
func TestClient_Fetch_RateAdapts(t *testing.T) {
	ok := MustReadFixture(t, "ok.json")
	limited := reply{429, MustReadFixture(t, "rate_limited.json"), nil}
	_, srv := newFake(t, limited, limited, reply{200, ok, nil})
	c := MustNew(t, srv, fetch.Config{Rate: 2000, BackoffBase: time.Millisecond})
	if got, want := c.Rate(), 2000.0; got != want {
		t.Fatalf("Rate()=%v before any 429, want %v", got, want)
	}
	if _, err := c.Fetch(context.Background(), askID); err != nil {
		t.Fatal(err)
	}
	if got, want := c.Rate(), 2000.0; got >= want {
		t.Fatalf("Rate()=%v after two 429s in a row, want less than %v", got, want)
	}
	low := c.Rate()
	for i := 0; i < 5000 && c.Rate() < 2000; i++ {
		if _, err := c.Fetch(context.Background(), askID); err != nil {
			t.Fatal(err)
		}
		if c.Rate() < low {
			t.Fatalf("Rate() fell from %v to %v on success", low, c.Rate())
		}
	}
	if got, want := c.Rate(), 2000.0; got != want {
		t.Fatalf("Rate()=%v after many successes, want %v", got, want)
	}
}

// TestClient_Fetch_RateProbesNearLimit: after recurring 429s the rate climbs
// back quickly to just under where the 429 came (the limit lies about there),
// then only slowly past it, so that probing for more rarely trips the limit
// again.
func TestClient_Fetch_RateProbesNearLimit(t *testing.T) {
	ok := MustReadFixture(t, "ok.json")
	limited := reply{429, MustReadFixture(t, "rate_limited.json"), nil}
	_, srv := newFake(t, limited, limited, reply{200, ok, nil})
	c := MustNew(t, srv, fetch.Config{Rate: 2000, BackoffBase: time.Millisecond})
	if _, err := c.Fetch(context.Background(), askID); err != nil {
		t.Fatal(err)
	}
	// The retry's success already adds its +0.2%.
	if got := c.Rate(); got < 1500 || got > 1505 {
		t.Fatalf("Rate()=%v after the second 429, want about 1500 (cut by a quarter)", got)
	}
	for range 200 {
		if _, err := c.Fetch(context.Background(), askID); err != nil {
			t.Fatal(err)
		}
	}
	// 200 successes at +0.2% each would be +49%: past the configured rate.
	if got := c.Rate(); got < 0.97*2000 || got >= 2000 {
		t.Fatalf("Rate()=%v after 200 successes, want in [%v, 2000): back near the limit, probing slowly", got, 0.97*2000)
	}
}

func TestClient_Fetch_ResetConnection(t *testing.T) {
	ok := MustReadFixture(t, "ok.json")
	for _, tt := range []struct {
		name       string
		resets     int64
		wantRemote bool
		attempts   int
	}{
		{"ThenOK", 1, true, 2},
		// A reset says "unavailable": half a retry each.
		{"ErrAlways", 1 << 20, false, 5},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var n atomic.Int64
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				if n.Add(1) <= tt.resets {
					hijack(t, w, func(interface{ Write([]byte) (int, error) }) {})
					return
				}
				reply{200, ok, nil}.write(w, askID)
			})
			c := MustNew(t, srv, fetch.Config{})
			res, err := c.Fetch(context.Background(), askID)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := res.Remote != nil, tt.wantRemote; got != want {
				t.Fatalf("Fetch=%+v, want Remote %v", res, want)
			}
			if got, want := res.Attempts, tt.attempts; got != want {
				t.Fatalf("Attempts=%d, want %d", got, want)
			}
			if !tt.wantRemote && (res.Err == nil || res.HTTPStatus != 0) {
				t.Fatalf("Fetch=%+v, want Err and no status", res)
			}
		})
	}
}

// TestClient_Fetch_ResetReusedConnection: when a reused keep-alive
// connection is reset before any response, Go's transport resends the GET by
// itself, unseen by the retry loop. Attempts must count those resends too,
// or the summary's requests and the rate budget would be understated.
func TestClient_Fetch_ResetReusedConnection(t *testing.T) {
	ok := MustReadFixture(t, "ok.json")
	const resetID = "11111111-2222-4333-8444-555555555555"
	var seen atomic.Int64
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, resetID) {
			seen.Add(1)
			hijack(t, w, func(interface{ Write([]byte) (int, error) }) {})
			return
		}
		reply{200, ok, nil}.write(w, strings.TrimPrefix(r.URL.Path, "/processes/v1/"))
	})
	c := MustNew(t, srv, fetch.Config{HTTPClient: fetch.NewHTTPClient(8)})
	// Fill the pool with idle connections, so that the next request reuses
	// one and the transport may resend it on several of them.
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Fetch(context.Background(), fmt.Sprintf("00000000-0000-4000-8000-%012d", i)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	res, err := c.Fetch(context.Background(), resetID)
	if err != nil {
		t.Fatal(err)
	}
	if res.Err == nil {
		t.Fatalf("Fetch=%+v, want Err", res)
	}
	if got, want := res.Attempts, int(seen.Load()); got != want {
		t.Fatalf("Attempts=%d, the server saw %d requests", got, want)
	}
}

func TestClient_Fetch_TruncatedBody(t *testing.T) {
	ok := MustReadFixture(t, "ok.json")
	var n atomic.Int64
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			hijack(t, w, func(c interface{ Write([]byte) (int, error) }) {
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(ok))
				_, _ = c.Write(withID(ok, askID)[:len(ok)/2])
			})
			return
		}
		reply{200, ok, nil}.write(w, askID)
	})
	c := MustNew(t, srv, fetch.Config{MaxRetries: fetch.NoRetries})
	res, err := c.Fetch(context.Background(), askID)
	if err != nil {
		t.Fatal(err)
	}
	if res.Err == nil || res.Attempts != 1 || res.HTTPStatus != 200 {
		t.Fatalf("Fetch=%+v, want Err after 1 attempt with status 200", res)
	}
	c = MustNew(t, srv, fetch.Config{})
	if res, err = c.Fetch(context.Background(), askID); err != nil || res.Remote == nil {
		t.Fatalf("Fetch=%+v, %v; want the retry to succeed", res, err)
	}
}

func TestClient_Fetch_Timeout(t *testing.T) {
	var n atomic.Int64
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		<-r.Context().Done()
	})
	c := MustNew(t, srv, fetch.Config{Timeout: 20 * time.Millisecond, MaxRetries: 1})
	res, err := c.Fetch(context.Background(), askID)
	if err != nil {
		t.Fatalf("Fetch: %v, want the timeout in Result.Err", err)
	}
	if !errors.Is(res.Err, context.DeadlineExceeded) || !strings.Contains(res.Err.Error(), "timed out") {
		t.Fatalf("Result.Err=%v, want a timeout", res.Err)
	}
	if got, want := res.Attempts, 3; got != want { // a timeout is half a retry
		t.Fatalf("Attempts=%d, want %d", got, want)
	}
}

func TestClient_Fetch_Canceled(t *testing.T) {
	arrived := make(chan struct{}, 1)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-r.Context().Done()
	})
	c := MustNew(t, srv, fetch.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-arrived
		cancel()
	}()
	if _, err := c.Fetch(ctx, askID); !errors.Is(err, context.Canceled) {
		t.Fatalf("Fetch: %v, want context.Canceled", err)
	}
}

// TestClient_Fetch_Secrets: a server that echoes the credentials everywhere
// gets them into no error and no log line.
func TestClient_Fetch_Secrets(t *testing.T) {
	echo := func(status int, tmpl string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			body := strings.NewReplacer("KEY", r.Header.Get("APIKEY"), "AUTH", r.Header.Get("Authorization")).Replace(tmpl)
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
		}
	}
	for _, tt := range []struct {
		name string
		h    http.HandlerFunc
	}{
		{"Fatal", echo(403, `{"error":{"code":10201,"message":"bad key KEY for AUTH"}}`)},
		{"FatalUnknownShape", echo(401, `KEY AUTH`)},
		{"ServerError", echo(500, `{"error":{"code":"99999","description":"KEY AUTH"}}`)},
		{"Unexpected", echo(418, `{"message":"KEY","description":"AUTH"}`)},
		{"Mismatch", echo(200, `{"id":"KEY AUTH","status":3}`)},
		{"Malformed", echo(200, `{"id":"`+askID+`","status":"KEY AUTH"}`)},
		{"ExpiredNotRenewed", echo(403, `{"error":{"code":10502,"message":"KEY AUTH expired"}}`)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, tt.h)
			var logs bytes.Buffer
			logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			c := MustNew(t, srv, fetch.Config{Logger: logger})
			res, err := c.Fetch(context.Background(), askID)
			if err == nil && res.Err == nil {
				t.Fatalf("Fetch=%+v: no error to inspect", res)
			}
			for _, s := range []string{fmt.Sprint(err), fmt.Sprint(res.Err), fmt.Sprintf("%+v", res), logs.String()} {
				if strings.Contains(s, testKey) || strings.Contains(s, testToken) {
					t.Errorf("secret leaked: %s", s)
				}
			}
		})
	}
}

func TestNew(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  fetch.Config
		ok   bool
	}{
		{"OK", fetch.Config{BaseURL: "https://api.id.unico.app"}, true},
		{"OKTrailingSlashAndPath", fetch.Config{BaseURL: "http://127.0.0.1:8080/proxy/"}, true},
		{"ErrEmpty", fetch.Config{}, false},
		{"ErrScheme", fetch.Config{BaseURL: "ftp://api.id.unico.app"}, false},
		{"ErrNoHost", fetch.Config{BaseURL: "https://"}, false},
		{"ErrUserInfo", fetch.Config{BaseURL: "https://user:pw@api.id.unico.app"}, false},
		{"ErrQuery", fetch.Config{BaseURL: "https://api.id.unico.app?a=b"}, false},
		{"ErrNegativeRate", fetch.Config{BaseURL: "https://api.id.unico.app", Rate: -1}, false},
		{"ErrKeyWithNewline", fetch.Config{BaseURL: "https://api.id.unico.app", APIKey: "abc\n"}, false},
		{"ErrKeyTooShort", fetch.Config{BaseURL: "https://api.id.unico.app", APIKey: "abc1234"}, false},
		{"OKKeyOfEight", fetch.Config{BaseURL: "https://api.id.unico.app", APIKey: "abc12345"}, true},
		{"ErrNegativeTimeout", fetch.Config{BaseURL: "https://api.id.unico.app", Timeout: -time.Second}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := fetch.New(tt.cfg)
			if got, want := err == nil, tt.ok; got != want {
				t.Fatalf("New(%+v): %v, want ok=%v", tt.cfg, err, want)
			}
			if err != nil && strings.Contains(err.Error(), "pw") {
				t.Fatalf("New: %v shows the password", err)
			}
		})
	}
}

func TestClient_Fetch_PathPrefix(t *testing.T) {
	f, srv := newFake(t, reply{200, MustReadFixture(t, "ok.json"), nil})
	c := MustNew(t, srv, fetch.Config{BaseURL: srv.URL + "/proxy/"})
	if _, err := c.Fetch(context.Background(), askID); err != nil {
		t.Fatal(err)
	}
	if got, want := f.seen[0].URL.Path, "/proxy/processes/v1/"+askID; got != want {
		t.Fatalf("path=%q, want %q", got, want)
	}
}

// TestClient_Fetch_Concurrent: many callers at once, under -race.
func TestClient_Fetch_Concurrent(t *testing.T) {
	ok := MustReadFixture(t, "ok.json")
	var n atomic.Int64
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		id := strings.TrimPrefix(r.URL.Path, "/processes/v1/")
		switch k := n.Add(1); {
		case k%7 == 3:
			reply{503, nil, nil}.write(w, id)
		case k%50 == 5:
			reply{429, nil, nil}.write(w, id)
		default:
			reply{200, ok, nil}.write(w, id)
		}
	})
	c := MustNew(t, srv, fetch.Config{Rate: 100_000, MaxRetries: 10})
	var wg sync.WaitGroup
	var attempts atomic.Int64
	for i := range 200 {
		wg.Go(func() {
			id := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
			res, err := c.Fetch(context.Background(), id)
			if err != nil || res.Remote == nil || res.Remote.ID != id {
				t.Errorf("Fetch(%s)=%+v, %v", id, res, err)
			}
			attempts.Add(int64(res.Attempts))
		})
	}
	wg.Wait()
	if got, want := attempts.Load(), n.Load(); got != want {
		t.Fatalf("Attempts sum to %d, server saw %d", got, want)
	}
}
