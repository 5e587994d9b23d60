package fetch_test

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/unico-reconcile/unico-reconcile/fetch"
	"github.com/unico-reconcile/unico-reconcile/internal/keytest"
)

// rsaKey is the service account's key in these tests, made once.
var rsaKey = sync.OnceValue(keytest.New)

// tokenServer is a fake token endpoint written from unico-api.md with the
// standard library only (not x/oauth2, which the client uses). It records
// every request and answers with answer(n), n counting from 1; a nil
// answer issues "sa-token-<n>" for an hour.
type tokenServer struct {
	*httptest.Server
	answer func(n int, w http.ResponseWriter, r *http.Request)

	mu   sync.Mutex
	seen []tokenRequest
}

type tokenRequest struct {
	method, path, contentType string
	form                      url.Values
	at                        time.Time
}

func newTokenServer(tb testing.TB, answer func(n int, w http.ResponseWriter, r *http.Request)) *tokenServer {
	tb.Helper()
	ts := &tokenServer{answer: answer}
	ts.Server = httptest.NewServer(http.HandlerFunc(ts.serve))
	tb.Cleanup(ts.Close)
	return ts
}

func (ts *tokenServer) serve(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	ts.mu.Lock()
	ts.seen = append(ts.seen, tokenRequest{r.Method, r.URL.Path, r.Header.Get("Content-Type"), r.PostForm, time.Now()})
	n := len(ts.seen)
	ts.mu.Unlock()
	if ts.answer != nil {
		ts.answer(n, w, r)
		return
	}
	issue(w, "sa-token-"+strconv.Itoa(n), 3600)
}

// issue answers a token as Unico does.
func issue(w http.ResponseWriter, token string, expiresIn int) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"access_token":"` + token + `","token_type":"Bearer","expires_in":` + strconv.Itoa(expiresIn) + `}`))
}

// refuse answers an authentication failure as Unico does.
func refuse(w http.ResponseWriter, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = w.Write([]byte(`{"error":"server_error","error_description":"Falha na autenticação ` + code + `"}`))
}

// tokenURL is the endpoint's URL, with the path Unico uses.
func (ts *tokenServer) tokenURL() string { return ts.URL + "/oauth2/token" }

func (ts *tokenServer) requests() []tokenRequest {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]tokenRequest(nil), ts.seen...)
}

// assertions returns every assertion the endpoint was sent.
func (ts *tokenServer) assertions() []string {
	var as []string
	for _, r := range ts.requests() {
		as = append(as, r.form.Get("assertion"))
	}
	return as
}

// MustServiceAccount returns a ServiceAccount for ts with test defaults:
// account reconciler, tenant tenant-42, rsaKey.
func MustServiceAccount(tb testing.TB, ts *tokenServer, cfg fetch.ServiceAccountConfig) *fetch.ServiceAccount {
	tb.Helper()
	if cfg.Account == "" {
		cfg.Account, cfg.Tenant = "reconciler", "tenant-42"
	}
	if cfg.PrivateKey == nil {
		cfg.PrivateKey = keytest.PEM(tb, rsaKey())
	}
	if cfg.TokenURL == "" {
		cfg.TokenURL = ts.tokenURL()
	}
	sa, err := fetch.NewServiceAccount(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return sa
}

// MustDecodeJWT checks an RS256 JWT's signature against pub and returns its
// header and claims, numbers as json.Number.
func MustDecodeJWT(tb testing.TB, jwt string, pub *rsa.PublicKey) (header, claims map[string]any) {
	tb.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		tb.Fatalf("assertion has %d parts, want 3", len(parts))
	}
	decode := func(s string) map[string]any {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			tb.Fatalf("assertion part %q: %v", s, err)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			tb.Fatalf("assertion part %s: %v", b, err)
		}
		return m
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		tb.Fatal(err)
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		tb.Fatalf("assertion signature: %v", err)
	}
	return decode(parts[0]), decode(parts[1])
}
