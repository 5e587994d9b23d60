package fetch_test

import (
	"context"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/unico-reconcile/unico-reconcile/fetch"
)

func TestCheckSecureURL(t *testing.T) {
	for _, tt := range []struct {
		url      string
		want     string // "" for OK
		insecure bool   // wraps ErrInsecureURL
	}{
		{"https://api.id.unico.app", "", false},
		{"https://identity.acesso.io/oauth2/token", "", false},
		{"http://127.0.0.1:8080", "", false},
		{"http://127.9.9.9", "", false},
		{"http://localhost:8080/oauth2/token", "", false},
		{"http://[::1]:8080", "", false},
		{"http://api.id.unico.app", "http://api.id.unico.app: plain http", true},
		{"http://10.0.0.7:8080", "plain http", true},
		{"http://localhost.example.com", "plain http", true},
		{"ftp://api.id.unico.app", "must start with https://", false},
		{"https://", "no host", false},
		{"https://user:pa55w0rd@api.id.unico.app", "user info", false},
		{"https://api.id.unico.app/?key=s3cr3t", "query", false},
	} {
		t.Run(tt.url, func(t *testing.T) {
			err := fetch.CheckSecureURL(tt.url)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("CheckSecureURL: %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("CheckSecureURL: %v, want an error naming %q", err, tt.want)
			}
			if got := errors.Is(err, fetch.ErrInsecureURL); got != tt.insecure {
				t.Errorf("errors.Is(ErrInsecureURL)=%v, want %v", got, tt.insecure)
			}
			if strings.Contains(err.Error(), "pa55w0rd") || strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error %q shows a secret of the URL", err)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	if got, want := fetch.Redact("https://u:p@h.example:8443/a/b?token=x#f"), "https://h.example:8443/a/b"; got != want {
		t.Fatalf("Redact=%q, want %q", got, want)
	}
}

// MustCAFile writes srv's certificate as a PEM file.
func MustCAFile(tb testing.TB, srv *httptest.Server) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "ca.pem")
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(path, b, 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

func TestLoadCAFile(t *testing.T) {
	if _, err := fetch.LoadCAFile(filepath.Join(t.TempDir(), "none.pem")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadCAFile(missing): %v, want ErrNotExist", err)
	}
	if _, err := fetch.LoadCAFile(MustWriteFile(t, "not a certificate")); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("LoadCAFile(junk): %v, want an error", err)
	}
}

// TestClient_Fetch_TLS: certificates are always verified; a CA file makes
// a private CA trusted; an untrusted certificate stops the run at once
// (no retry can mend it) instead of leaving every process unverified.
func TestClient_Fetch_TLS(t *testing.T) {
	var n atomic.Int64
	ok := MustReadFixture(t, "ok.json")
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		reply{200, ok, nil}.write(w, strings.TrimPrefix(r.URL.Path, "/processes/v1/"))
	}))
	t.Cleanup(srv.Close)

	t.Run("ErrUntrusted", func(t *testing.T) {
		c := MustNew(t, srv, fetch.Config{HTTPClient: fetch.NewHTTPClient(1)})
		res, err := c.Fetch(context.Background(), askID)
		if err == nil || !strings.Contains(err.Error(), "TLS certificate not trusted") || !strings.Contains(err.Error(), "--ca-file") {
			t.Fatalf("Fetch=%+v, %v; want a fatal error naming --ca-file", res, err)
		}
		if got, want := res.Attempts, 1; got != want {
			t.Errorf("Attempts=%d, want %d (no retry)", got, want)
		}
		if n.Load() != 0 {
			t.Errorf("the server answered %d requests over an untrusted connection", n.Load())
		}
	})
	t.Run("CAFile", func(t *testing.T) {
		roots, err := fetch.LoadCAFile(MustCAFile(t, srv))
		if err != nil {
			t.Fatal(err)
		}
		c := MustNew(t, srv, fetch.Config{HTTPClient: fetch.NewHTTPClientWithRoots(1, roots)})
		if res, err := c.Fetch(context.Background(), askID); err != nil || res.Remote == nil {
			t.Fatalf("Fetch=%+v, %v; want the process", res, err)
		}
	})
}

// TestServiceAccount_TLS: the token endpoint is reached with the client
// given, so that its CA file applies there too.
func TestServiceAccount_TLS(t *testing.T) {
	ts := &tokenServer{}
	ts.Server = httptest.NewTLSServer(http.HandlerFunc(ts.serve))
	t.Cleanup(ts.Close)

	sa := MustServiceAccount(t, ts, fetch.ServiceAccountConfig{HTTPClient: fetch.NewHTTPClient(1)})
	_, err := sa.Token(context.Background())
	var te *fetch.TokenError
	if !errors.As(err, &te) || te.HTTPStatus != 0 || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("Token: %v, want a *TokenError about the certificate", err)
	}
	roots, err := fetch.LoadCAFile(MustCAFile(t, ts.Server))
	if err != nil {
		t.Fatal(err)
	}
	sa = MustServiceAccount(t, ts, fetch.ServiceAccountConfig{HTTPClient: fetch.NewHTTPClientWithRoots(1, roots)})
	if tok, err := sa.Token(context.Background()); err != nil || tok == "" {
		t.Fatalf("Token()=%q, %v; want a token", tok, err)
	}
}
