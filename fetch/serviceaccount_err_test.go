package fetch_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/unico-reconcile/unico-reconcile/fetch"
	"github.com/unico-reconcile/unico-reconcile/internal/keytest"
)

// TestServiceAccount_ErrEndpoint: a failure of the token endpoint is a
// *TokenError naming the endpoint's code, sent once and never again (the
// account would lock), holding no assertion, key or token.
func TestServiceAccount_ErrEndpoint(t *testing.T) {
	for _, tt := range []struct {
		name     string
		answer   func(w http.ResponseWriter, assertion string)
		status   int
		authCode string
		want     string // in the error text
	}{
		{"Locked", func(w http.ResponseWriter, _ string) { refuse(w, "1.2.18") }, 401, "1.2.18",
			"401 server_error: Falha na autenticação 1.2.18 (the account is locked"},
		{"BadSignature", func(w http.ResponseWriter, _ string) { refuse(w, "1.2.5") }, 401, "1.2.5", "check --private-key-file"},
		{"ExtraClaims", func(w http.ResponseWriter, _ string) { refuse(w, "1.2.22") }, 401, "1.2.22", "claims that are not allowed"},
		{"UnknownCode", func(w http.ResponseWriter, _ string) { refuse(w, "9.9.9") }, 401, "9.9.9", "Falha na autenticação 9.9.9"},
		{"EchoesAssertion", func(w http.ResponseWriter, assertion string) {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_grant","error_description":"bad assertion ` + assertion + `"}`))
		}, 400, "", "400 invalid_grant: bad assertion [redacted]"},
		{"HTMLPage", func(w http.ResponseWriter, _ string) {
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte("<html>proxy error</html>"))
		}, 502, "", `502: body "<html>proxy error</html>"`},
		{"Redirect", func(w http.ResponseWriter, _ string) {
			w.Header().Set("Location", "https://elsewhere.example/oauth2/token")
			w.WriteHeader(http.StatusFound)
		}, 302, "", "302"},
		{"NoToken", func(w http.ResponseWriter, _ string) {
			_, _ = w.Write([]byte(`{"token_type":"Bearer","expires_in":3600}`))
		},
			200, "", "no usable token"},
		{"NotJSON", func(w http.ResponseWriter, _ string) { _, _ = w.Write([]byte(`access_token=x`)) }, 200, "", "no usable token"},
		{"TokenTooShort", func(w http.ResponseWriter, _ string) {
			_, _ = w.Write([]byte(`{"access_token":"abc","token_type":"Bearer","expires_in":3600}`))
		}, 200, "", "shorter than 8 characters"},
		{"OtherTokenType", func(w http.ResponseWriter, _ string) {
			_, _ = w.Write([]byte(`{"access_token":"sa-token-leak","token_type":"mac","expires_in":3600}`))
		}, 200, "", `token_type "mac"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := newTokenServer(t, func(_ int, w http.ResponseWriter, r *http.Request) {
				tt.answer(w, r.PostForm.Get("assertion"))
			})
			sa := MustServiceAccount(t, ts, fetch.ServiceAccountConfig{})
			ctx := context.Background()
			_, err := sa.Token(ctx)
			var te *fetch.TokenError
			if !errors.As(err, &te) {
				t.Fatalf("Token: %v, want a *TokenError", err)
			}
			if te.HTTPStatus != tt.status || te.AuthCode() != tt.authCode || te.Endpoint != ts.tokenURL() {
				t.Errorf("TokenError %+v, want status %d, code %q, endpoint %s", te, tt.status, tt.authCode, ts.tokenURL())
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "token endpoint "+ts.tokenURL()+": ") || !strings.Contains(msg, tt.want) {
				t.Errorf("error %q, want it to name the endpoint and %q", msg, tt.want)
			}
			// Never again: the same error, no new request.
			if _, err2 := sa.Token(ctx); err2 == nil || err2.Error() != msg {
				t.Errorf("second Token: %v, want the same error", err2)
			}
			if _, err2 := sa.Renew(ctx, "sa-token-1"); err2 == nil || err2.Error() != msg {
				t.Errorf("Renew: %v, want the same error", err2)
			}
			if got := len(ts.requests()); got != 1 {
				t.Errorf("%d token requests, want 1: an auth failure is never retried", got)
			}
			MustNoSecrets(t, msg, append(ts.assertions(), "sa-token-leak")...)
		})
	}
}

// MustNoSecrets fails when text holds a secret or a line of the test key.
func MustNoSecrets(tb testing.TB, text string, secrets ...string) {
	tb.Helper()
	for _, s := range append(secrets, keytest.Lines(keytest.PEM(tb, rsaKey()))...) {
		if s != "" && strings.Contains(text, s) {
			tb.Errorf("%q holds a secret", text)
		}
	}
	// A piece of the assertion would show as a long base64url run.
	for _, part := range strings.FieldsFunc(text, func(r rune) bool { return r == ' ' || r == '"' }) {
		if len(part) > 200 {
			tb.Errorf("%q holds a long token-like run", text)
		}
	}
}

// TestServiceAccount_ErrNoAnswer: no answer is a *TokenError too, final.
func TestServiceAccount_ErrNoAnswer(t *testing.T) {
	t.Run("Refused", func(t *testing.T) {
		ts := newTokenServer(t, nil)
		ts.Close()
		sa := MustServiceAccount(t, ts, fetch.ServiceAccountConfig{})
		_, err := sa.Token(context.Background())
		var te *fetch.TokenError
		if !errors.As(err, &te) || te.HTTPStatus != 0 || te.Err == nil {
			t.Fatalf("Token: %v, want a *TokenError without answer", err)
		}
		if _, err2 := sa.Token(context.Background()); err2 == nil || err2.Error() != err.Error() {
			t.Fatalf("second Token: %v, want the same error", err2)
		}
	})
	t.Run("Timeout", func(t *testing.T) {
		ts := newTokenServer(t, func(_ int, w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		})
		sa := MustServiceAccount(t, ts, fetch.ServiceAccountConfig{Timeout: 50 * time.Millisecond})
		_, err := sa.Token(context.Background())
		var te *fetch.TokenError
		if !errors.As(err, &te) || !strings.Contains(err.Error(), "no answer after 50ms") {
			t.Fatalf("Token: %v, want a *TokenError naming the timeout", err)
		}
	})
}

// TestServiceAccount_Canceled: a cancelled caller is not a failure of the
// endpoint: the next caller asks again.
func TestServiceAccount_Canceled(t *testing.T) {
	hold := make(chan struct{})
	ts := newTokenServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			close(hold)
			<-r.Context().Done()
			return
		}
		issue(w, "sa-token-2", 3600)
	})
	sa := MustServiceAccount(t, ts, fetch.ServiceAccountConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-hold; cancel() }()
	if _, err := sa.Token(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Token: %v, want context.Canceled", err)
	}
	var te *fetch.TokenError
	if tok, err := sa.Token(context.Background()); err != nil || tok != "sa-token-2" || errors.As(err, &te) {
		t.Fatalf("Token after a cancel: %q, %v; want sa-token-2", tok, err)
	}
}

// TestClient_Fetch_ErrTokenEndpoint: the token endpoint's failure stops
// the run before any API request, and names the endpoint's code.
func TestClient_Fetch_ErrTokenEndpoint(t *testing.T) {
	ts := newTokenServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) { refuse(w, "1.2.18") })
	f, api := newFake(t, reply{200, MustReadFixture(t, "ok.json"), nil})
	c := MustNew(t, api, fetch.Config{Tokens: MustServiceAccount(t, ts, fetch.ServiceAccountConfig{})})
	for range 3 {
		_, err := c.Fetch(context.Background(), askID)
		var te *fetch.TokenError
		if !errors.As(err, &te) || te.AuthCode() != "1.2.18" {
			t.Fatalf("Fetch: %v, want the token endpoint's 1.2.18", err)
		}
	}
	if f.requests() != 0 || len(ts.requests()) != 1 {
		t.Fatalf("API saw %d requests, token endpoint %d; want 0 and 1", f.requests(), len(ts.requests()))
	}
}

func TestNewServiceAccount(t *testing.T) {
	good := keytest.PEM(t, rsaKey())
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ec)
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey())})
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("junk")})
	for _, tt := range []struct {
		name string
		cfg  fetch.ServiceAccountConfig
		want string // "" for success
	}{
		{"OK", fetch.ServiceAccountConfig{}, ""},
		{"PKCS1", fetch.ServiceAccountConfig{PrivateKey: pkcs1}, ""},
		{"CertificateFirst", fetch.ServiceAccountConfig{PrivateKey: append(cert, good...)}, ""},
		{"ErrNoAccount", fetch.ServiceAccountConfig{Tenant: "t", Account: ""}, "service account: empty"},
		{"ErrAtInTenant", fetch.ServiceAccountConfig{Account: "a", Tenant: "t@x"}, "tenant"},
		{"ErrNotPEM", fetch.ServiceAccountConfig{PrivateKey: []byte("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC")}, "no PEM private key"},
		{"ErrEncrypted", fetch.ServiceAccountConfig{PrivateKey: pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1}})}, "encrypted"},
		{"ErrECKey", fetch.ServiceAccountConfig{PrivateKey: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER})}, "want RSA"},
		{"ErrJunkKey", fetch.ServiceAccountConfig{PrivateKey: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("junk")})}, "not an RSA key"},
		{"ErrTokenURLQuery", fetch.ServiceAccountConfig{TokenURL: "https://id.example/oauth2/token?secret=1"}, "query"},
		{"ErrTokenURLScheme", fetch.ServiceAccountConfig{TokenURL: "ftp://id.example/oauth2/token"}, "https://"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			if cfg.Account == "" && cfg.Tenant == "" {
				cfg.Account, cfg.Tenant = "reconciler", "tenant-42"
			}
			if cfg.PrivateKey == nil {
				cfg.PrivateKey = good
			}
			if cfg.TokenURL == "" {
				cfg.TokenURL = "https://identity.example/oauth2/token"
			}
			sa, err := fetch.NewServiceAccount(cfg)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got, want := sa.String(), "service account reconciler@tenant-42.iam.acesso.io"; got != want {
					t.Errorf("String()=%q, want %q", got, want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewServiceAccount: %v, want an error naming %q", err, tt.want)
			}
			MustNoSecrets(t, err.Error(), "secret=1", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC")
		})
	}
}

// TestClient_Fetch_ErrRenewal: on 10502 the token is renewed at once; a
// refused renewal stops the run naming both the expiry and the endpoint's
// code.
func TestClient_Fetch_ErrRenewal(t *testing.T) {
	ts := newTokenServer(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			issue(w, "sa-token-1", 3600)
			return
		}
		refuse(w, "1.2.18")
	})
	_, api := newFake(t, reply{403, MustReadFixture(t, "error_10502.json"), nil})
	c := MustNew(t, api, fetch.Config{Tokens: MustServiceAccount(t, ts, fetch.ServiceAccountConfig{})})
	_, err := c.Fetch(context.Background(), askID)
	var te *fetch.TokenError
	var ae *fetch.APIError
	if !errors.As(err, &te) || !errors.As(err, &ae) || ae.Code != "10502" || te.AuthCode() != "1.2.18" {
		t.Fatalf("Fetch: %v, want the 10502 and the endpoint's 1.2.18", err)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "access token expired (403, code 10502): the token endpoint gave no new one; renewal: token endpoint ") {
		t.Errorf("error %q", msg)
	}
	if got := len(ts.requests()); got != 2 {
		t.Errorf("%d token requests, want 2 (the first token, one renewal)", got)
	}
	MustNoSecrets(t, err.Error(), append(ts.assertions(), "sa-token-1")...)
}
