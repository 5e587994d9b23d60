package fetch_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/unico-reconcile/unico-reconcile/fetch"
)

// fixtureID is the process id in the testdata/api fixtures.
const fixtureID = "80371b2a-3ac7-432e-866d-57fe37896ac6"

// Test credentials: long and unusual, so that finding them in a string
// means they leaked.
const (
	testKey   = "key-5ecret-0f-the-tenant"
	testToken = "tok-5ecret-eyJhbGciOiJSUzI1NiJ9"
)

// MustReadFixture returns the raw body testdata/api/name.
func MustReadFixture(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "api", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// withID returns the fixture body with its process id replaced by id.
func withID(body []byte, id string) []byte {
	return bytes.ReplaceAll(body, []byte(fixtureID), []byte(id))
}

// newServer starts h on loopback and closes it when the test ends.
func newServer(tb testing.TB, h http.HandlerFunc) *httptest.Server {
	tb.Helper()
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	return srv
}

// MustNew returns a client for srv with test defaults: the test credentials,
// unlimited rate, tiny back-off, two retries.
func MustNew(tb testing.TB, srv *httptest.Server, cfg fetch.Config) *fetch.Client {
	tb.Helper()
	if cfg.BaseURL == "" {
		cfg.BaseURL = srv.URL
	}
	if cfg.APIKey == "" {
		cfg.APIKey = testKey
	}
	if cfg.Tokens == nil {
		cfg.Tokens = fetch.StaticToken(testToken)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = fetch.NewHTTPClient(4)
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = 2
	}
	if cfg.BackoffBase == 0 {
		cfg.BackoffBase = time.Millisecond
	}
	if cfg.BackoffCap == 0 {
		cfg.BackoffCap = 10 * time.Millisecond
	}
	c, err := fetch.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// reply is one canned answer.
type reply struct {
	status int
	body   []byte
	header map[string]string
}

func (r reply) write(w http.ResponseWriter, id string) {
	for k, v := range r.header {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(r.status)
	_, _ = w.Write(withID(r.body, id))
}

// fake is an API that answers the replies in turn, repeating the last, and
// records what it saw.
type fake struct {
	tb      testing.TB
	replies []reply
	n       atomic.Int64

	mu   sync.Mutex
	seen []*http.Request
}

func newFake(tb testing.TB, replies ...reply) (*fake, *httptest.Server) {
	f := &fake{tb: tb, replies: replies}
	return f, newServer(tb, f.serve)
}

func (f *fake) serve(w http.ResponseWriter, r *http.Request) {
	i := int(f.n.Add(1)) - 1
	f.mu.Lock()
	f.seen = append(f.seen, r)
	f.mu.Unlock()
	_, id, ok := strings.Cut(r.URL.Path, "/processes/v1/")
	if !ok || r.Method != http.MethodGet {
		f.tb.Errorf("request %s %s", r.Method, r.URL.Path)
	}
	f.replies[min(i, len(f.replies)-1)].write(w, id)
}

func (f *fake) requests() int { return int(f.n.Load()) }

// hijack answers by taking over the connection and calling fn on it.
func hijack(tb testing.TB, w http.ResponseWriter, fn func(conn interface{ Write([]byte) (int, error) })) {
	tb.Helper()
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		tb.Error(err)
		return
	}
	_ = buf.Flush()
	fn(conn)
	_ = conn.Close()
}
