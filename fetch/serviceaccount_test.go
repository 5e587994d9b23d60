package fetch_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/unico-reconcile/unico-reconcile/fetch"
)

// clock is a settable clock for renewals.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// TestServiceAccount_Assertion decodes what x/oauth2 really sends and checks
// it against unico-api.md: the form, the header and exactly the claims
// iss, aud, scope, iat and exp <= iat + 3600, signed with the key.
func TestServiceAccount_Assertion(t *testing.T) {
	ts := newTokenServer(t, nil)
	sa := MustServiceAccount(t, ts, fetch.ServiceAccountConfig{})
	before := time.Now().Unix()
	tok, err := sa.Token(context.Background())
	after := time.Now().Unix()
	if err != nil || tok != "sa-token-1" {
		t.Fatalf("Token()=%q, %v; want sa-token-1", tok, err)
	}
	reqs := ts.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d token requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.method != http.MethodPost || r.path != "/oauth2/token" || r.contentType != "application/x-www-form-urlencoded" {
		t.Errorf("request %s %s (%s), want a form POSTed to /oauth2/token", r.method, r.path, r.contentType)
	}
	var keys []string
	for k := range r.form {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if diff := cmp.Diff([]string{"assertion", "grant_type"}, keys); diff != "" {
		t.Errorf("form fields (-want +got):\n%s", diff)
	}
	if got, want := r.form.Get("grant_type"), "urn:ietf:params:oauth:grant-type:jwt-bearer"; got != want {
		t.Errorf("grant_type=%q, want %q", got, want)
	}

	header, claims := MustDecodeJWT(t, r.form.Get("assertion"), &rsaKey().PublicKey)
	if diff := cmp.Diff(map[string]any{"alg": "RS256", "typ": "JWT"}, header); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}
	iat, _ := claims["iat"].(json.Number).Int64()
	exp, _ := claims["exp"].(json.Number).Int64()
	want := map[string]any{
		"iss":   "reconciler@tenant-42.iam.acesso.io",
		"aud":   ts.URL, // the origin: no path, no trailing slash
		"scope": "*",
		"iat":   claims["iat"],
		"exp":   claims["exp"],
	}
	if diff := cmp.Diff(want, claims); diff != "" {
		t.Errorf("claims (-want +got):\n%s", diff)
	}
	if exp-iat < 600 || exp-iat > 3600 {
		t.Errorf("exp-iat=%d, want 600 to 3600 (at most 3600 is allowed)", exp-iat)
	}
	// x/oauth2 dates iat 10 s back for clocks that run ahead.
	if iat < before-10 || iat > after-10 {
		t.Errorf("iat=%d, want now-10s in [%d, %d]", iat, before-10, after-10)
	}
}

// TestServiceAccount_FreshAssertions: every token request carries a new
// assertion, even many within one second (RS256 signatures are
// deterministic, iat is in whole seconds, and an assertion is single-use);
// and several processes signing in within one second differ too, but for
// a small chance.
func TestServiceAccount_FreshAssertions(t *testing.T) {
	ts := newTokenServer(t, nil)
	sa := MustServiceAccount(t, ts, fetch.ServiceAccountConfig{})
	ctx := context.Background()
	tok := ""
	for range 20 {
		var err error
		if tok, err = sa.Renew(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	for _, a := range ts.assertions() {
		if seen[a] {
			t.Fatal("one account sent an assertion twice")
		}
		seen[a] = true
	}
	// Ten accounts as in ten processes, one request each, within a second
	// or so: without a random lifetime they would mostly be the same bytes.
	others := newTokenServer(t, nil)
	for range 10 {
		if _, err := MustServiceAccount(t, others, fetch.ServiceAccountConfig{}).Token(ctx); err != nil {
			t.Fatal(err)
		}
	}
	seen = map[string]bool{}
	for _, a := range others.assertions() {
		seen[a] = true
	}
	if len(seen) < 9 {
		t.Fatalf("%d distinct assertions from 10 accounts, want 10 (9 by a small chance)", len(seen))
	}
}

func TestServiceAccount_Token_Cached(t *testing.T) {
	ts := newTokenServer(t, nil)
	sa := MustServiceAccount(t, ts, fetch.ServiceAccountConfig{})
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			if tok, err := sa.Token(context.Background()); err != nil || tok != "sa-token-1" {
				t.Errorf("Token()=%q, %v; want sa-token-1", tok, err)
			}
		})
	}
	wg.Wait()
	if got, want := len(ts.requests()), 1; got != want {
		t.Fatalf("%d token requests, want %d", got, want)
	}
	if got, want := sa.Requests(), 1; got != want {
		t.Fatalf("Requests()=%d, want %d", got, want)
	}
}

// TestServiceAccount_Token_EarlyRenewal: the token is renewed RenewMargin
// before expires_in runs out, counted from when the request was sent.
func TestServiceAccount_Token_EarlyRenewal(t *testing.T) {
	for _, tt := range []struct {
		expiresIn int
		renewAt   time.Duration // after the first request
	}{
		{5, 4500 * time.Millisecond},
		{300, 270 * time.Second},
		{3600, 3540 * time.Second},
	} {
		t.Run(fmt.Sprint(tt.expiresIn), func(t *testing.T) {
			ts := newTokenServer(t, func(n int, w http.ResponseWriter, _ *http.Request) {
				issue(w, fmt.Sprint("sa-token-", n), tt.expiresIn)
			})
			clk := newClock()
			start := clk.Now()
			sa := MustServiceAccount(t, ts, fetch.ServiceAccountConfig{Now: clk.Now})
			ctx := context.Background()
			for _, step := range []struct {
				at   time.Duration
				want string
			}{
				{0, "sa-token-1"},
				{tt.renewAt - time.Millisecond, "sa-token-1"},
				{tt.renewAt, "sa-token-2"},
				{2*tt.renewAt - time.Millisecond, "sa-token-2"},
				{2 * tt.renewAt, "sa-token-3"},
			} {
				clk.Set(start.Add(step.at))
				if got, err := sa.Token(ctx); err != nil || got != step.want {
					t.Fatalf("at +%s: Token()=%q, %v; want %q", step.at, got, err, step.want)
				}
			}
			if got, want := len(ts.requests()), 3; got != want {
				t.Fatalf("%d token requests, want %d", got, want)
			}
		})
	}
	if got, want := fetch.RenewMargin(5*time.Second), 500*time.Millisecond; got != want {
		t.Errorf("RenewMargin(5s)=%s, want %s", got, want)
	}
}

// TestServiceAccount_Token_NoExpiresIn: without expires_in, the token is
// kept until the API says it expired.
func TestServiceAccount_Token_NoExpiresIn(t *testing.T) {
	ts := newTokenServer(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(fmt.Sprintf(`{"access_token":"sa-token-%d","token_type":"Bearer"}`, n)))
	})
	clk := newClock()
	sa := MustServiceAccount(t, ts, fetch.ServiceAccountConfig{Now: clk.Now})
	ctx := context.Background()
	tok, _ := sa.Token(ctx)
	clk.Set(clk.Now().Add(48 * time.Hour))
	if got, err := sa.Token(ctx); err != nil || got != tok {
		t.Fatalf("Token()=%q, %v after two days; want %q", got, err, tok)
	}
	if got, err := sa.Renew(ctx, tok); err != nil || got != "sa-token-2" {
		t.Fatalf("Renew()=%q, %v; want sa-token-2", got, err)
	}
}

// TestServiceAccount_Renew_Concurrent: 32 callers that find the same
// token expired at once cause one token request; a Renew for a token that
// was already replaced sends none.
func TestServiceAccount_Renew_Concurrent(t *testing.T) {
	ts := newTokenServer(t, nil)
	sa := MustServiceAccount(t, ts, fetch.ServiceAccountConfig{})
	ctx := context.Background()
	first, err := sa.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			<-start
			if tok, err := sa.Renew(ctx, first); err != nil || tok != "sa-token-2" {
				t.Errorf("Renew()=%q, %v; want sa-token-2", tok, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if got, want := len(ts.requests()), 2; got != want {
		t.Fatalf("%d token requests, want %d (the first token and one renewal)", got, want)
	}
	if got, err := sa.Token(ctx); err != nil || got != "sa-token-2" {
		t.Fatalf("Token()=%q, %v after Renew; want sa-token-2", got, err)
	}
}

// TestClient_Fetch_ServiceAccountExpired: 32 workers of one Client that
// all meet 10502 at once renew the service account's token once.
func TestClient_Fetch_ServiceAccountExpired(t *testing.T) {
	const callers = 32
	ts := newTokenServer(t, nil)
	expired := MustReadFixture(t, "error_10502.json")
	ok := MustReadFixture(t, "ok.json")
	var mu sync.Mutex
	stale := 0
	allStale := make(chan struct{})
	api := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		id := strings.TrimPrefix(r.URL.Path, "/processes/v1/")
		if r.Header.Get("Authorization") == "Bearer sa-token-2" {
			reply{200, ok, nil}.write(w, id)
			return
		}
		mu.Lock()
		if stale++; stale == callers {
			close(allStale)
		}
		mu.Unlock()
		select {
		case <-allStale:
		case <-time.After(10 * time.Second):
			t.Error("not every caller sent the first token")
		}
		reply{403, expired, nil}.write(w, id)
	})
	sa := MustServiceAccount(t, ts, fetch.ServiceAccountConfig{})
	c := MustNew(t, api, fetch.Config{Tokens: sa, HTTPClient: fetch.NewHTTPClient(callers)})
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			id := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
			if res, err := c.Fetch(context.Background(), id); err != nil || res.Remote == nil {
				t.Errorf("Fetch(%s)=%+v, %v", id, res, err)
			}
		})
	}
	wg.Wait()
	if got, want := len(ts.requests()), 2; got != want {
		t.Fatalf("%d token requests, want %d (the first token and one renewal)", got, want)
	}
}
