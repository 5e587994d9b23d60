package simulator_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/unico-reconcile/unico-reconcile/simulator"
)

// The processes of ../testdata/simulator/processes.jsonl.
const (
	idYes       = "80371b2a-3ac7-432e-866d-57fe37896ac6"
	idSpaced    = "4f9c2d1e-8b7a-4c6d-9e5f-0a1b2c3d4e5f" // a line with spaces and id after status
	idError5    = "0f4c7d3e-2b1a-4c5d-8e6f-7a8b9c0d1e2f" // status 5 with results in the file
	idRunning   = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
	idUpper     = "9A8B7C6D-5E4F-4A3B-8C2D-1E0F9A8B7C6D" // status 4, upper case in the file
	idFaultErr  = "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e"
	idReset     = "3c4d5e6f-7a8b-4c9d-8e1f-2a3b4c5d6e7f"
	idMalformed = "4d5e6f7a-8b9c-4d0e-9f2a-3b4c5d6e7f80"
	idTruncated = "5e6f7a8b-9c0d-4e1f-8a3b-4c5d6e7f8091"
	idWrongID   = "6f7a8b9c-0d1e-4f2a-9b4c-5d6e7f8091a2"
	idSlow      = "7a8b9c0d-1e2f-4a3b-8c5d-6e7f8091a2b3"
	idSlowGone  = "8b9c0d1e-2f3a-4b4c-9d6e-7f8091a2b3c4"
	idUnknown   = "00000000-0000-4000-8000-000000000000"
)

const fixture = "../testdata/simulator/processes.jsonl"

// MustLoad loads the simulator fixture.
func MustLoad(tb testing.TB) *simulator.Data {
	tb.Helper()
	d, err := simulator.LoadFile(fixture)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// MustStart serves the fixture with cfg on an httptest server closed at the
// end of the test.
func MustStart(tb testing.TB, cfg simulator.Config) (*simulator.Server, *httptest.Server) {
	tb.Helper()
	sim := simulator.New(MustLoad(tb), cfg)
	srv := httptest.NewServer(sim)
	tb.Cleanup(srv.Close)
	return sim, srv
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// MustDo sends a request and reads the whole response; it fails the test
// when no complete response comes.
func MustDo(tb testing.TB, srv *httptest.Server, method, path string, header map[string]string) response {
	tb.Helper()
	req, err := http.NewRequestWithContext(tb.Context(), method, srv.URL+path, nil)
	if err != nil {
		tb.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return response{resp.StatusCode, resp.Header, body}
}

func get(tb testing.TB, srv *httptest.Server, id string) response {
	tb.Helper()
	return MustDo(tb, srv, http.MethodGet, "/processes/v1/"+id, nil)
}

// MustJSON parses a JSON document written by hand (want) or received (got).
func MustJSON(tb testing.TB, b []byte) any {
	tb.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		tb.Fatalf("not JSON: %v: %q", err, b)
	}
	return v
}

// checkJSON checks the status, the Content-Type and the body, compared as
// parsed JSON with want, a document written by hand from unico-api.md.
func checkJSON(t *testing.T, got response, status int, want string) {
	t.Helper()
	if got.status != status {
		t.Errorf("status=%d, want %d (body %s)", got.status, status, got.body)
	}
	if ct := got.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type=%q, want application/json", ct)
	}
	if g, w := MustJSON(t, got.body), MustJSON(t, []byte(want)); !reflect.DeepEqual(g, w) {
		t.Errorf("body=%s, want %s", got.body, want)
	}
}

func TestServer_Process(t *testing.T) {
	_, srv := MustStart(t, simulator.Config{SlowDelay: time.Millisecond})
	for _, tt := range []struct {
		name   string
		path   string
		status int
		want   string
	}{
		{"OK", "/processes/v1/" + idYes, 200,
			`{"id":"80371b2a-3ac7-432e-866d-57fe37896ac6","status":3,"unicoId":{"result":"yes"},"identityFraudsters":{"result":"inconclusive"},"government":{"serpro":87},"liveness":1}`},
		{"OKUpperCaseRequest", "/processes/v1/" + strings.ToUpper(idYes), 200,
			`{"id":"80371b2a-3ac7-432e-866d-57fe37896ac6","status":3,"unicoId":{"result":"yes"},"identityFraudsters":{"result":"inconclusive"},"government":{"serpro":87},"liveness":1}`},
		{"OKUpperCaseData", "/processes/v1/" + strings.ToLower(idUpper), 200,
			`{"id":"9A8B7C6D-5E4F-4A3B-8C2D-1E0F9A8B7C6D","status":4}`},
		{"OKInProgress", "/processes/v1/" + idRunning, 200,
			`{"id":"1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d","status":1}`},
		{"GoneOnlyIDAndStatus", "/processes/v1/" + idError5, 410,
			`{"id":"0f4c7d3e-2b1a-4c5d-8e6f-7a8b9c0d1e2f","status":5}`},
		{"ErrNotFound", "/processes/v1/" + idUnknown, 404,
			`{"error":{"code":50001,"message":"process not found"}}`},
		{"ErrMalformedID", "/processes/v1/not-a-uuid", 400,
			`{"error":{"code":20023,"message":"processId is missing or malformed"}}`},
		{"ErrMalformedIDNoDashes", "/processes/v1/80371b2a3ac7432e866d57fe37896ac6", 400,
			`{"error":{"code":20023,"message":"processId is missing or malformed"}}`},
		{"ErrMissingID", "/processes/v1/", 400,
			`{"error":{"code":20023,"message":"processId is missing or malformed"}}`},
		{"ErrIDWithSubpath", "/processes/v1/" + idYes + "/x", 400,
			`{"error":{"code":20023,"message":"processId is missing or malformed"}}`},
		{"ErrNoRoute", "/processes/v2/" + idYes, 404,
			`{"message":"no Route matched with those values"}`},
		{"ErrNoRouteRoot", "/", 404,
			`{"message":"no Route matched with those values"}`},
		{"FaultError", "/processes/v1/" + idFaultErr, 500,
			`{"error":{"code":99999,"message":"internal failure, try again later"}}`},
		{"FaultSlowThenOK", "/processes/v1/" + idSlow, 200,
			`{"id":"7a8b9c0d-1e2f-4a3b-8c5d-6e7f8091a2b3","status":3,"unicoId":{"result":"inconclusive"},"score":12.5}`},
		{"FaultSlowThenGone", "/processes/v1/" + idSlowGone, 410,
			`{"id":"8b9c0d1e-2f3a-4b4c-9d6e-7f8091a2b3c4","status":5}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			checkJSON(t, MustDo(t, srv, http.MethodGet, tt.path, nil), tt.status, tt.want)
		})
	}
}

// A body is served byte for byte as the file has it, spaces and key order
// included; one with simulator keys loses them and nothing else.
func TestServer_Process_Verbatim(t *testing.T) {
	_, srv := MustStart(t, simulator.Config{SlowDelay: time.Millisecond})
	for _, tt := range []struct {
		id, want string
	}{
		{idSpaced, `{"status": 3, "id": "4f9c2d1e-8b7a-4c6d-9e5f-0a1b2c3d4e5f", "unicoId": {"result": "inconclusive"}, "government": {"serpro": -2}, "liveness": 2, "score": -40}`},
		{idYes, `{"id":"80371b2a-3ac7-432e-866d-57fe37896ac6","status":3,"unicoId":{"result":"yes"},"identityFraudsters":{"result":"inconclusive"},"government":{"serpro":87},"liveness":1}`},
		{idSlow, `{"id":"7a8b9c0d-1e2f-4a3b-8c5d-6e7f8091a2b3","status":3,"unicoId":{"result":"inconclusive"},"score":12.5}`},
	} {
		if got := get(t, srv, tt.id); string(got.body) != tt.want {
			t.Errorf("GET %s body=%s, want %s", tt.id, got.body, tt.want)
		}
	}
}

func TestServer_Process_Gone(t *testing.T) {
	_, srv := MustStart(t, simulator.Config{})
	resp := get(t, srv, idError5)
	var m map[string]any
	if err := json.Unmarshal(resp.body, &m); err != nil {
		t.Fatal(err)
	}
	if got, want := len(m), 2; got != want {
		t.Errorf("410 body has %d keys (%s), want only id and status", got, resp.body)
	}
}

func TestServer_Methods(t *testing.T) {
	_, srv := MustStart(t, simulator.Config{})
	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
		got := MustDo(t, srv, method, "/processes/v1/"+idYes, nil)
		checkJSON(t, got, http.StatusMethodNotAllowed, `{"message":"method not allowed"}`)
		if allow := got.header.Get("Allow"); allow != "GET, HEAD" {
			t.Errorf("%s: Allow=%q, want GET, HEAD", method, allow)
		}
	}
	head := MustDo(t, srv, http.MethodHead, "/processes/v1/"+idYes, nil)
	if head.status != http.StatusOK || len(head.body) != 0 {
		t.Errorf("HEAD: status=%d body=%q, want 200 and no body", head.status, head.body)
	}
}

func TestServer_Auth(t *testing.T) {
	_, srv := MustStart(t, simulator.Config{
		APIKey:        "key-1",
		Token:         "token-new",
		ExpiredTokens: []string{"token-old"},
	})
	const (
		noAPIKey  = `{"error":{"code":20002,"message":"APIKEY header is missing"}}`
		noToken   = `{"error":{"code":20001,"message":"access token is missing"}}`
		badAPIKey = `{"error":{"code":10201,"message":"APIKEY is invalid"}}`
		badToken  = `{"error":{"code":10501,"message":"access token is invalid"}}`
		expired   = `{"error":{"code":10502,"message":"access token has expired"}}`
		badJWT    = `{"error":{"code":30017,"message":"malformed access token or no permission"}}`
	)
	for _, tt := range []struct {
		name   string
		header map[string]string
		status int
		want   string
	}{
		{"OK", map[string]string{"APIKEY": "key-1", "Authorization": "Bearer token-new"}, 200,
			`{"id":"80371b2a-3ac7-432e-866d-57fe37896ac6","status":3,"unicoId":{"result":"yes"},"identityFraudsters":{"result":"inconclusive"},"government":{"serpro":87},"liveness":1}`},
		{"OKLowerCaseHeaderAndScheme", map[string]string{"apikey": "key-1", "authorization": "bearer token-new"}, 200,
			`{"id":"80371b2a-3ac7-432e-866d-57fe37896ac6","status":3,"unicoId":{"result":"yes"},"identityFraudsters":{"result":"inconclusive"},"government":{"serpro":87},"liveness":1}`},
		{"ErrNoAPIKey", map[string]string{"Authorization": "Bearer token-new"}, 400, noAPIKey},
		{"ErrNoHeaders", nil, 400, noAPIKey},
		{"ErrEmptyAPIKey", map[string]string{"APIKEY": "", "Authorization": "Bearer token-new"}, 400, noAPIKey},
		{"ErrNoToken", map[string]string{"APIKEY": "key-1"}, 400, noToken},
		{"ErrEmptyBearer", map[string]string{"APIKEY": "key-1", "Authorization": "Bearer "}, 400, noToken},
		{"ErrNotBearer", map[string]string{"APIKEY": "key-1", "Authorization": "Basic a2V5OnNlY3JldA=="}, 403, badJWT},
		{"ErrWrongAPIKey", map[string]string{"APIKEY": "key-2", "Authorization": "Bearer token-new"}, 403, badAPIKey},
		{"ErrWrongToken", map[string]string{"APIKEY": "key-1", "Authorization": "Bearer token-other"}, 403, badToken},
		{"ErrExpiredToken", map[string]string{"APIKEY": "key-1", "Authorization": "Bearer token-old"}, 403, expired},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := MustDo(t, srv, http.MethodGet, "/processes/v1/"+idYes, tt.header)
			checkJSON(t, got, tt.status, tt.want)
		})
	}
}

func TestServer_Auth_ExpiredOnly(t *testing.T) {
	sim, srv := MustStart(t, simulator.Config{ExpiredTokens: []string{"old"}})
	path := "/processes/v1/" + idRunning
	if got := MustDo(t, srv, "GET", path, map[string]string{"Authorization": "Bearer old"}); got.status != 403 {
		t.Errorf("expired token: status=%d, want 403", got.status)
	}
	if got := MustDo(t, srv, "GET", path, map[string]string{"Authorization": "Bearer any"}); got.status != 200 {
		t.Errorf("other token: status=%d, want 200", got.status)
	}
	if got := MustDo(t, srv, "GET", path, nil); got.status != 400 {
		t.Errorf("no token: status=%d, want 400", got.status)
	}
	if got, want := sim.Stats().AuthErrors, 2; got != want {
		t.Errorf("AuthErrors=%d, want %d", got, want)
	}
}

// clock is a settable Config.Now: while it stands still no token refills.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }
func countStatus(rs []response, code int) (n int) {
	for _, r := range rs {
		if r.status == code {
			n++
		}
	}
	return n
}

func TestServer_RateLimit(t *testing.T) {
	for _, tt := range []struct {
		name       string
		rate       float64
		burst      int
		retryAfter string
	}{
		{"TenPerSecond", 10, 10, "1"},
		{"Fractional", 2.5, 3, "1"},
		{"OneEveryTwoSeconds", 0.5, 1, "2"},
		{"OneEveryTenSeconds", 0.1, 1, "10"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			sim, srv := MustStart(t, simulator.Config{Rate: tt.rate, Now: clk.Now})
			var rs []response
			for range tt.burst + 5 {
				rs = append(rs, get(t, srv, idYes))
			}
			if got, want := countStatus(rs, 200), tt.burst; got != want {
				t.Errorf("200s=%d, want %d (the burst)", got, want)
			}
			for _, r := range rs[tt.burst:] {
				checkJSON(t, r, http.StatusTooManyRequests, `{"message":"API rate limit exceeded"}`)
				if got := r.header.Get("Retry-After"); got != tt.retryAfter {
					t.Errorf("Retry-After=%q, want %q", got, tt.retryAfter)
				}
			}
			if got, want := sim.Stats().RateLimited, 5; got != want {
				t.Errorf("RateLimited=%d, want %d", got, want)
			}
			// A token comes back after 1/rate seconds.
			clk.Advance(time.Duration(float64(time.Second) / tt.rate))
			if got := get(t, srv, idYes); got.status != 200 {
				t.Errorf("after a refill: status=%d, want 200", got.status)
			}
			if got := get(t, srv, idYes); got.status != 429 {
				t.Errorf("after the refill is spent: status=%d, want 429", got.status)
			}
		})
	}
}

func TestServer_RateLimit_NoRetryAfter(t *testing.T) {
	clk := newClock()
	_, srv := MustStart(t, simulator.Config{Rate: 2, NoRetryAfter: true, Now: clk.Now})
	var rs []response
	for range 4 {
		rs = append(rs, get(t, srv, idYes))
	}
	if got, want := countStatus(rs, 429), 2; got != want {
		t.Fatalf("429s=%d, want %d", got, want)
	}
	for _, r := range rs {
		if v, ok := r.header["Retry-After"]; ok {
			t.Errorf("Retry-After=%q, want none", v)
		}
	}
}

// The bucket is the tenant's: requests for different processes share it,
// and auth failures do not take tokens.
func TestServer_RateLimit_Shared(t *testing.T) {
	clk := newClock()
	_, srv := MustStart(t, simulator.Config{Rate: 3, APIKey: "k", Now: clk.Now})
	key := map[string]string{"APIKEY": "k"}
	if got := MustDo(t, srv, "GET", "/processes/v1/"+idYes, nil); got.status != 400 {
		t.Fatalf("no key: status=%d, want 400", got.status)
	}
	var rs []response
	for _, id := range []string{idYes, idRunning, idUnknown, idError5} {
		rs = append(rs, MustDo(t, srv, "GET", "/processes/v1/"+id, key))
	}
	if got, want := []int{rs[0].status, rs[1].status, rs[2].status, rs[3].status}, []int{200, 200, 404, 429}; !reflect.DeepEqual(got, want) {
		t.Errorf("statuses=%v, want %v", got, want)
	}
}

func TestServer_ErrorRate(t *testing.T) {
	pattern := func(seed uint64, errorRate float64) string {
		t.Helper()
		_, srv := MustStart(t, simulator.Config{ErrorRate: errorRate, Seed: seed})
		var b strings.Builder
		for range 60 {
			r := get(t, srv, idRunning)
			switch r.status {
			case 200:
				b.WriteByte('.')
			case 500:
				checkJSON(t, r, 500, `{"error":{"code":99999,"message":"internal failure, try again later"}}`)
				b.WriteByte('E')
			default:
				t.Fatalf("status=%d, want 200 or 500", r.status)
			}
		}
		return b.String()
	}
	a, b, c := pattern(7, 0.3), pattern(7, 0.3), pattern(8, 0.3)
	if a != b {
		t.Errorf("same seed, different errors:\n%s\n%s", a, b)
	}
	if a == c {
		t.Errorf("seeds 7 and 8 gave the same errors: %s", a)
	}
	if n := strings.Count(a, "E"); n == 0 || n == len(a) {
		t.Errorf("error rate 0.3 gave %d errors in %d: %s", n, len(a), a)
	}
	if got := pattern(1, 1); strings.Contains(got, ".") {
		t.Errorf("error rate 1: %s, want only errors", got)
	}
	if got := pattern(1, 0); strings.Contains(got, "E") {
		t.Errorf("error rate 0: %s, want no errors", got)
	}
}

func TestServer_Fault(t *testing.T) {
	t.Run("ErrorEveryTime", func(t *testing.T) {
		sim, srv := MustStart(t, simulator.Config{})
		for range 3 {
			checkJSON(t, get(t, srv, idFaultErr), 500, `{"error":{"code":99999,"message":"internal failure, try again later"}}`)
		}
		if got, want := sim.Stats().ServerErrors, 3; got != want {
			t.Errorf("ServerErrors=%d, want %d", got, want)
		}
	})
	t.Run("Reset", func(t *testing.T) {
		sim, srv := MustStart(t, simulator.Config{})
		for range 2 { // the client must not get an answer on a fresh connection either
			resp, err := srv.Client().Get(srv.URL + "/processes/v1/" + idReset)
			if err == nil {
				resp.Body.Close()
				t.Fatalf("GET: status %d, want a connection error", resp.StatusCode)
			}
		}
		if got, want := sim.Stats().Resets, 2; got != want {
			t.Errorf("Resets=%d, want %d", got, want)
		}
		// The server is still up.
		if got := get(t, srv, idYes); got.status != 200 {
			t.Errorf("after a reset: status=%d, want 200", got.status)
		}
	})
	t.Run("Malformed", func(t *testing.T) {
		_, srv := MustStart(t, simulator.Config{})
		got := get(t, srv, idMalformed)
		if got.status != 200 || got.header.Get("Content-Type") != "application/json" {
			t.Errorf("status=%d Content-Type=%q, want 200 application/json", got.status, got.header.Get("Content-Type"))
		}
		if json.Valid(got.body) || len(got.body) == 0 {
			t.Errorf("body=%q, want non-empty invalid JSON", got.body)
		}
		const whole = `{"id":"4d5e6f7a-8b9c-4d0e-9f2a-3b4c5d6e7f80","status":3,"unicoId":{"result":"yes"},"government":{"serpro":91}}`
		if !strings.HasPrefix(whole, string(got.body)) {
			t.Errorf("body=%q, want the start of the process's body", got.body)
		}
	})
	t.Run("Truncated", func(t *testing.T) {
		_, srv := MustStart(t, simulator.Config{})
		resp, err := srv.Client().Get(srv.URL + "/processes/v1/" + idTruncated)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("status=%d, want 200", resp.StatusCode)
		}
		body, err := io.ReadAll(resp.Body)
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("read body: %q, %v; want io.ErrUnexpectedEOF", body, err)
		}
		if int64(len(body)) >= resp.ContentLength {
			t.Errorf("read %d bytes of %d, want fewer", len(body), resp.ContentLength)
		}
	})
	t.Run("WrongID", func(t *testing.T) {
		_, srv := MustStart(t, simulator.Config{})
		checkJSON(t, get(t, srv, idWrongID), 200,
			`{"id":"6f7a8b9c-0d1e-4f2a-9b4c-5d6e7f8091a3","status":3,"unicoId":{"result":"no"},"identityFraudsters":{"result":"yes"},"liveness":2}`)
	})
	t.Run("SlowOutlastsClientTimeout", func(t *testing.T) {
		sim, srv := MustStart(t, simulator.Config{SlowDelay: time.Hour})
		client := srv.Client()
		client.Timeout = 20 * time.Millisecond
		resp, err := client.Get(srv.URL + "/processes/v1/" + idSlow)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("GET: status %d, want a timeout", resp.StatusCode)
		}
		if got := get(t, srv, idYes); got.status != 200 { // others are not held
			t.Errorf("status=%d, want 200", got.status)
		}
		if got, want := sim.Stats().Faults, 1; got != want {
			t.Errorf("Faults=%d, want %d", got, want)
		}
	})
}

func TestServer_Latency_ClientGone(t *testing.T) {
	sim, srv := MustStart(t, simulator.Config{Latency: time.Hour})
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/processes/v1/"+idYes, nil)
	resp, err := srv.Client().Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("GET: status %d, want the client's deadline", resp.StatusCode)
	}
	srv.Close() // returns once the handler has seen the client go
	if got, want := sim.Stats(), (simulator.Stats{Requests: 1}); got != want {
		t.Errorf("Stats=%+v, want %+v", got, want)
	}
}

func TestServer_Latency(t *testing.T) {
	_, srv := MustStart(t, simulator.Config{Latency: time.Millisecond})
	if got := get(t, srv, idYes); got.status != 200 {
		t.Errorf("status=%d, want 200", got.status)
	}
}

func TestServer_Stats(t *testing.T) {
	clk := newClock()
	sim, srv := MustStart(t, simulator.Config{Rate: 100, Token: "t", Now: clk.Now})
	auth := map[string]string{"Authorization": "Bearer t"}
	for _, path := range []string{
		"/processes/v1/" + idYes,
		"/processes/v1/" + strings.ToUpper(idYes),
		"/processes/v1/" + idError5,
		"/processes/v1/" + idUnknown,
		"/processes/v1/" + idUnknown,
		"/processes/v1/nope",
		"/processes/v1/" + idFaultErr,
		"/processes/v1/" + idWrongID,
		"/other",
	} {
		MustDo(t, srv, "GET", path, auth)
	}
	MustDo(t, srv, "GET", "/processes/v1/"+idYes, nil)
	want := simulator.Stats{
		Requests: 10, OK: 3, Gone: 1, NotFound: 2, BadRequests: 1, AuthErrors: 1,
		ServerErrors: 1, Unrouted: 1, Faults: 2,
	}
	if got := sim.Stats(); got != want {
		t.Errorf("Stats=%+v\nwant   %+v", got, want)
	}
	for _, tt := range []struct {
		id   string
		want int
	}{
		{idYes, 3}, {strings.ToUpper(idYes), 3}, {idError5, 1}, {idUnknown, 2},
		{strings.ToUpper(idUnknown), 2}, {idRunning, 0}, {"nope", 0},
	} {
		if got := sim.RequestsFor(tt.id); got != tt.want {
			t.Errorf("RequestsFor(%s)=%d, want %d", tt.id, got, tt.want)
		}
	}
}

// Concurrent requests under -race: counters add up.
func TestServer_Concurrent(t *testing.T) {
	sim, srv := MustStart(t, simulator.Config{Rate: 1e6, ErrorRate: 0.2, Seed: 3})
	ids := []string{idYes, idRunning, idError5, idUnknown}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 25 {
				resp, err := srv.Client().Get(srv.URL + "/processes/v1/" + ids[(w+i)%len(ids)])
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	st := sim.Stats()
	if got, want := st.Requests, 200; got != want {
		t.Errorf("Requests=%d, want %d", got, want)
	}
	if got, want := st.OK+st.Gone+st.NotFound+st.ServerErrors, 200; got != want {
		t.Errorf("answers=%d, want %d (%+v)", got, want, st)
	}
	sum := 0
	for _, id := range ids {
		sum += sim.RequestsFor(id)
	}
	if got, want := sum, 200; got != want {
		t.Errorf("sum of RequestsFor=%d, want %d", got, want)
	}
}

func TestNew_NilData(t *testing.T) {
	srv := httptest.NewServer(simulator.New(nil, simulator.Config{}))
	t.Cleanup(srv.Close)
	checkJSON(t, get(t, srv, idYes), 404, `{"error":{"code":50001,"message":"process not found"}}`)
}
