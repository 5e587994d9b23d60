package fetch_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/unico-reconcile/unico-reconcile/fetch"
)

// MustWriteFile writes content to a file in a fresh temp dir and returns its
// path.
func MustWriteFile(tb testing.TB, content string) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "token")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

func TestOpenTokenFile(t *testing.T) {
	for _, tt := range []struct {
		name, content, want string
		ok                  bool
	}{
		{"OK", "abc.def.ghi", "abc.def.ghi", true},
		{"OKTrimmed", "  abc.def.ghi\r\n\n", "abc.def.ghi", true},
		{"ErrEmpty", " \n", "", false},
		{"ErrTwoLines", "abc\ndef\n", "", false},
		{"ErrTooShort", "abc1234\n", "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, err := fetch.OpenTokenFile(MustWriteFile(t, tt.content))
			if got, want := err == nil, tt.ok; got != want {
				t.Fatalf("OpenTokenFile: %v, want ok=%v", err, want)
			}
			if err != nil {
				if strings.Contains(err.Error(), "abc") {
					t.Fatalf("error %q shows the file's content", err)
				}
				return
			}
			if got, _ := f.Token(context.Background()); got != tt.want {
				t.Fatalf("Token()=%q, want %q", got, tt.want)
			}
		})
	}
	t.Run("ErrMissing", func(t *testing.T) {
		if _, err := fetch.OpenTokenFile(filepath.Join(t.TempDir(), "nope")); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("OpenTokenFile: %v, want ErrNotExist", err)
		}
	})
}

func TestTokenFile_Renew(t *testing.T) {
	path := MustWriteFile(t, "old-token\n")
	f, err := fetch.OpenTokenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := f.Renew(ctx, "old-token"); !errors.Is(err, fetch.ErrTokenNotRenewed) {
		t.Fatalf("Renew with the file unchanged: %v, want ErrTokenNotRenewed", err)
	}
	if err := os.WriteFile(path, []byte(" new-token \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := f.Renew(ctx, "old-token"); err != nil || got != "new-token" {
		t.Fatalf("Renew=%q, %v; want %q", got, err, "new-token")
	}
	if got, _ := f.Token(ctx); got != "new-token" {
		t.Fatalf("Token()=%q after Renew, want %q", got, "new-token")
	}
}

func TestStaticToken(t *testing.T) {
	tok := fetch.StaticToken(testToken)
	if _, err := tok.Renew(context.Background(), testToken); !errors.Is(err, fetch.ErrTokenNotRenewed) {
		t.Fatalf("Renew: %v, want ErrTokenNotRenewed", err)
	}
	for _, s := range []string{fmt.Sprint(tok), fmt.Sprintf("%v %+v %#v %s", tok, tok, tok, tok)} {
		if strings.Contains(s, testToken) {
			t.Fatalf("printing a StaticToken shows it: %s", s)
		}
	}
}

// expiringAPI answers 10502 to every token but good, and 200 to good.
func expiringAPI(t *testing.T, good string, n *atomic.Int64) http.HandlerFunc {
	expired := MustReadFixture(t, "error_10502.json")
	ok := MustReadFixture(t, "ok.json")
	return func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		id := strings.TrimPrefix(r.URL.Path, "/processes/v1/")
		if r.Header.Get("Authorization") != "Bearer "+good {
			reply{403, expired, nil}.write(w, id)
			return
		}
		reply{200, ok, nil}.write(w, id)
	}
}

func TestClient_Fetch_TokenExpired(t *testing.T) {
	t.Run("FileReRead", func(t *testing.T) {
		var n atomic.Int64
		srv := newServer(t, expiringAPI(t, "fresh-token", &n))
		path := MustWriteFile(t, "stale-token\n")
		tf, err := fetch.OpenTokenFile(path)
		if err != nil {
			t.Fatal(err)
		}
		// Another process refreshes the file after the client read it.
		if err := os.WriteFile(path, []byte("fresh-token\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		c := MustNew(t, srv, fetch.Config{Tokens: tf})
		res, err := c.Fetch(context.Background(), askID)
		if err != nil || res.Remote == nil {
			t.Fatalf("Fetch=%+v, %v; want the process after renewal", res, err)
		}
		if got, want := res.Attempts, 2; got != want {
			t.Fatalf("Attempts=%d, want %d", got, want)
		}
	})
	t.Run("ErrFileUnchanged", func(t *testing.T) {
		var n atomic.Int64
		srv := newServer(t, expiringAPI(t, "fresh-token", &n))
		tf, err := fetch.OpenTokenFile(MustWriteFile(t, "stale-token"))
		if err != nil {
			t.Fatal(err)
		}
		c := MustNew(t, srv, fetch.Config{Tokens: tf})
		_, err = c.Fetch(context.Background(), askID)
		var apiErr *fetch.APIError
		if !errors.As(err, &apiErr) || apiErr.Code != "10502" || !errors.Is(err, fetch.ErrTokenNotRenewed) {
			t.Fatalf("Fetch: %v, want a fatal 10502 with ErrTokenNotRenewed", err)
		}
		if strings.Contains(err.Error(), "stale-token") {
			t.Fatalf("error %q shows the token", err)
		}
		if got, want := n.Load(), int64(1); got != want {
			t.Fatalf("server saw %d requests, want %d", got, want)
		}
	})
	t.Run("ErrRenewedTokenExpiredToo", func(t *testing.T) {
		var n atomic.Int64
		srv := newServer(t, expiringAPI(t, "never-this", &n))
		path := MustWriteFile(t, "stale-token")
		tf, err := fetch.OpenTokenFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("also-stale"), 0o600); err != nil {
			t.Fatal(err)
		}
		c := MustNew(t, srv, fetch.Config{Tokens: tf})
		_, err = c.Fetch(context.Background(), askID)
		var apiErr *fetch.APIError
		if !errors.As(err, &apiErr) || apiErr.Code != "10502" {
			t.Fatalf("Fetch: %v, want a fatal 10502", err)
		}
		if got, want := n.Load(), int64(2); got != want {
			t.Fatalf("server saw %d requests, want %d (one renewal)", got, want)
		}
	})
}

// TestClient_Fetch_RenewalNotARetry: the attempt repeated after a token
// renewal does not use up one of the process's retries.
func TestClient_Fetch_RenewalNotARetry(t *testing.T) {
	ok := MustReadFixture(t, "ok.json")
	expired := MustReadFixture(t, "error_10502.json")
	var fresh atomic.Int64
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer fresh-token" {
			reply{403, expired, nil}.write(w, askID)
			return
		}
		if fresh.Add(1) == 1 {
			reply{503, nil, nil}.write(w, askID)
			return
		}
		reply{200, ok, nil}.write(w, askID)
	})
	src := &countingSource{token: "stale-token"}
	c := MustNew(t, srv, fetch.Config{Tokens: src, MaxRetries: 1})
	res, err := c.Fetch(context.Background(), askID)
	if err != nil || res.Remote == nil {
		t.Fatalf("Fetch=%+v, %v; want the process: expired, renewed, 503, retried once, 200", res, err)
	}
	if got, want := res.Attempts, 3; got != want {
		t.Fatalf("Attempts=%d, want %d", got, want)
	}
	if got := src.renewed.Load(); got != 1 {
		t.Fatalf("%d renewals, want 1", got)
	}
}

// TestClient_Fetch_ErrUnusableToken: a token that cannot be a header stops
// the run before anything is sent, instead of failing every request.
func TestClient_Fetch_ErrUnusableToken(t *testing.T) {
	for _, tok := range []string{testToken + "\n", "tok en-with-space", "sh0rt"} {
		f, srv := newFake(t, reply{200, MustReadFixture(t, "ok.json"), nil})
		c := MustNew(t, srv, fetch.Config{Tokens: fetch.StaticToken(tok)})
		_, err := c.Fetch(context.Background(), askID)
		if err == nil || !strings.Contains(err.Error(), "access token") || strings.Contains(err.Error(), strings.TrimSpace(tok)) {
			t.Fatalf("Fetch with token %q: %v, want an error naming the access token, not showing it", tok, err)
		}
		if n := f.requests(); n != 0 {
			t.Fatalf("server saw %d requests, want none", n)
		}
	}
}

// countingSource is a token source that counts renewals.
type countingSource struct {
	mu      sync.Mutex
	token   string
	renewed atomic.Int64
}

func (s *countingSource) Token(context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.token, nil
}

func (s *countingSource) Renew(_ context.Context, expired string) (string, error) {
	s.renewed.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token = "fresh-token"
	return s.token, nil
}

// TestClient_Fetch_TokenExpiredTogether: callers that learn of the expiry
// at once cause one renewal.
func TestClient_Fetch_TokenExpiredTogether(t *testing.T) {
	const callers = 8
	expired := MustReadFixture(t, "error_10502.json")
	ok := MustReadFixture(t, "ok.json")
	var stale atomic.Int64
	allStale := make(chan struct{})
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		id := strings.TrimPrefix(r.URL.Path, "/processes/v1/")
		if r.Header.Get("Authorization") == "Bearer fresh-token" {
			reply{200, ok, nil}.write(w, id)
			return
		}
		// Hold every stale request until all have come: they all get
		// 10502 together.
		if stale.Add(1) == callers {
			close(allStale)
		}
		select {
		case <-allStale:
		case <-time.After(10 * time.Second):
			t.Error("not every caller sent the stale token")
		}
		reply{403, expired, nil}.write(w, id)
	})
	src := &countingSource{token: "stale-token"}
	c := MustNew(t, srv, fetch.Config{Tokens: src, HTTPClient: fetch.NewHTTPClient(callers)})
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
	if got, want := src.renewed.Load(), int64(1); got != want {
		t.Fatalf("Renew called %d times, want %d", got, want)
	}
}
