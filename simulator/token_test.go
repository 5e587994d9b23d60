package simulator_test

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/unico-reconcile/unico-reconcile/simulator"
)

// Keys made once: the service account's, and another.
var (
	accountKey = sync.OnceValue(func() *rsa.PrivateKey { return mustRSA() })
	otherKey   = sync.OnceValue(func() *rsa.PrivateKey { return mustRSA() })
)

func mustRSA() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}

const jwtBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// MustStartAuth serves the fixture with the token endpoint on for
// reconciler@tenant-42, checked against accountKey, on a fixed clock.
func MustStartAuth(tb testing.TB, cfg simulator.Config) (*simulator.Server, *httptest.Server, *clock) {
	tb.Helper()
	clk := newClock()
	cfg.PublicKey = &accountKey().PublicKey
	cfg.Account, cfg.Tenant, cfg.Now = "reconciler", "tenant-42", clk.Now
	sim, srv := MustStart(tb, cfg)
	return sim, srv, clk
}

// claims returns the claims Unico accepts for srv at now, changed by edit
// (a nil value deletes the claim).
func claims(srv *httptest.Server, now time.Time, edit map[string]any) map[string]any {
	c := map[string]any{
		"iss":   "reconciler@tenant-42.iam.acesso.io",
		"aud":   srv.URL,
		"scope": "*",
		"iat":   now.Unix(),
		"exp":   now.Unix() + 3600,
	}
	for k, v := range edit {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// sign makes a JWT by hand, with the standard library only: header and
// claims as given, signed with RS256 by k (HS256 or none when header says
// so).
func sign(tb testing.TB, k *rsa.PrivateKey, header, claims map[string]any) string {
	tb.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			tb.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	input := enc(header) + "." + enc(claims)
	switch header["alg"] {
	case "none":
		return input + "."
	case "HS256":
		m := hmac.New(sha256.New, []byte("secret"))
		m.Write([]byte(input))
		return input + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, sum[:])
	if err != nil {
		tb.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

var rs256 = map[string]any{"alg": "RS256", "typ": "JWT"}

// postToken sends a token request with form.
func postToken(tb testing.TB, srv *httptest.Server, form url.Values) response {
	tb.Helper()
	resp, err := srv.Client().PostForm(srv.URL+"/oauth2/token", form)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, body}
}

func grant(assertion string) url.Values {
	return url.Values{"grant_type": {jwtBearer}, "assertion": {assertion}}
}

// MustToken signs in and returns the access token.
func MustToken(tb testing.TB, srv *httptest.Server, now time.Time) string {
	tb.Helper()
	r := postToken(tb, srv, grant(sign(tb, accountKey(), rs256, claims(srv, now, nil))))
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if r.status != http.StatusOK || json.Unmarshal(r.body, &body) != nil || body.AccessToken == "" {
		tb.Fatalf("token request: %d %s", r.status, r.body)
	}
	return body.AccessToken
}

func authFailure(code string) string {
	return `{"error":"server_error","error_description":"Falha na autenticação ` + code + `"}`
}

func TestServer_Token(t *testing.T) {
	sim, srv, clk := MustStartAuth(t, simulator.Config{TokenLifetime: 5 * time.Second})
	r := postToken(t, srv, grant(sign(t, accountKey(), rs256, claims(srv, clk.Now(), nil))))
	var body map[string]any
	if err := json.Unmarshal(r.body, &body); err != nil || r.status != http.StatusOK {
		t.Fatalf("token request: %d %s", r.status, r.body)
	}
	tok, _ := body["access_token"].(string)
	if len(body) != 3 || tok == "" || body["token_type"] != "Bearer" || body["expires_in"] != 5.0 {
		t.Fatalf("token answer %s, want access_token, token_type Bearer, expires_in 5", r.body)
	}
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
	if got := MustDo(t, srv, http.MethodGet, "/processes/v1/"+idYes, bearer(tok)); got.status != http.StatusOK {
		t.Errorf("with the issued token: %d %s, want 200", got.status, got.body)
	}
	checkJSON(t, MustDo(t, srv, http.MethodGet, "/processes/v1/"+idYes, bearer("sim-never-issued")), 403,
		`{"error":{"code":10501,"message":"access token is invalid"}}`)
	checkJSON(t, MustDo(t, srv, http.MethodGet, "/processes/v1/"+idYes, nil), 400,
		`{"error":{"code":20001,"message":"access token is missing"}}`)
	clk.Advance(5*time.Second - time.Nanosecond)
	if got := MustDo(t, srv, http.MethodGet, "/processes/v1/"+idYes, bearer(tok)); got.status != http.StatusOK {
		t.Errorf("just before expiry: %d, want 200", got.status)
	}
	clk.Advance(time.Nanosecond)
	checkJSON(t, MustDo(t, srv, http.MethodGet, "/processes/v1/"+idYes, bearer(tok)), 403,
		`{"error":{"code":10502,"message":"access token has expired"}}`)
	if got := MustToken(t, srv, clk.Now()); got == tok {
		t.Errorf("a second sign-in issued the same token")
	}
	s := sim.Stats()
	if s.TokenRequests != 2 || s.TokensIssued != 2 || s.TokenErrors != 0 || s.AuthErrors != 3 {
		t.Errorf("Stats %+v: want 2 token requests, 2 issued, 3 auth errors", s)
	}
}

// TestServer_Token_Rejected: every check of the assertion, with Unico's code.
func TestServer_Token_Rejected(t *testing.T) {
	_, srv, clk := MustStartAuth(t, simulator.Config{LockAfter: -1})
	now := clk.Now()
	good := func(edit map[string]any) string { return sign(t, accountKey(), rs256, claims(srv, now, edit)) }
	for _, tt := range []struct {
		name string
		form url.Values
		code string
	}{
		{"NoAssertion", url.Values{"grant_type": {jwtBearer}}, "1.2.20"},
		{"OtherGrant", url.Values{"grant_type": {"client_credentials"}, "assertion": {good(nil)}}, "1.2.20"},
		{"NotAJWT", grant("not.a-jwt"), "1.2.20"},
		{"OtherKey", grant(sign(t, otherKey(), rs256, claims(srv, now, nil))), "1.2.5"},
		{"HS256", grant(sign(t, nil, map[string]any{"alg": "HS256", "typ": "JWT"}, claims(srv, now, nil))), "1.2.5"},
		{"AlgNone", grant(sign(t, nil, map[string]any{"alg": "none", "typ": "JWT"}, claims(srv, now, nil))), "1.2.5"},
		{"HeaderTyp", grant(sign(t, accountKey(), map[string]any{"alg": "RS256", "typ": "JWS"}, claims(srv, now, nil))), "1.2.20"},
		{"HeaderExtra", grant(sign(t, accountKey(), map[string]any{"alg": "RS256", "typ": "JWT", "x5u": "https://x"}, claims(srv, now, nil))), "1.2.20"},
		{"Sub", grant(good(map[string]any{"sub": "someone"})), "1.2.22"},
		{"Jti", grant(good(map[string]any{"jti": "1"})), "1.2.22"},
		{"Nbf", grant(good(map[string]any{"nbf": now.Unix()})), "1.2.22"},
		{"OtherTenant", grant(good(map[string]any{"iss": "reconciler@tenant-43.iam.acesso.io"})), "1.0.1"},
		{"NoScope", grant(good(map[string]any{"scope": nil})), "1.1.1"},
		{"OtherScope", grant(good(map[string]any{"scope": "processes.read"})), "1.2.14"},
		{"AudTrailingSlash", grant(good(map[string]any{"aud": srv.URL + "/"})), "1.2.5"},
		{"AudTokenURL", grant(good(map[string]any{"aud": srv.URL + "/oauth2/token"})), "1.2.5"},
		{"AudOtherOrigin", grant(good(map[string]any{"aud": "https://identity.acesso.io"})), "1.2.5"},
		{"LifeTooLong", grant(good(map[string]any{"exp": now.Unix() + 3601})), "1.2.21"},
		{"ExpBeforeIat", grant(good(map[string]any{"exp": now.Unix() - 1})), "1.2.21"},
		{"NoExp", grant(good(map[string]any{"exp": nil})), "1.2.21"},
		{"IatString", grant(good(map[string]any{"iat": "1772366400"})), "1.2.21"},
		{"IatFraction", grant(good(map[string]any{"iat": float64(now.Unix()) + 0.5})), "1.2.21"},
		{"IatFuture", grant(good(map[string]any{"iat": now.Unix() + 120, "exp": now.Unix() + 600})), "1.2.21"},
		{"Expired", grant(good(map[string]any{"iat": now.Unix() - 3600, "exp": now.Unix()})), "1.2.4"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			checkJSON(t, postToken(t, srv, tt.form), http.StatusUnauthorized, authFailure(tt.code))
		})
	}
	// iat 10 s back, as x/oauth2 sends it, is fine.
	if r := postToken(t, srv, grant(good(map[string]any{"iat": now.Unix() - 10, "exp": now.Unix() + 3590}))); r.status != http.StatusOK {
		t.Errorf("iat 10 s back: %d %s, want 200", r.status, r.body)
	}
}

func TestServer_Token_Reused(t *testing.T) {
	_, srv, clk := MustStartAuth(t, simulator.Config{})
	a := sign(t, accountKey(), rs256, claims(srv, clk.Now(), nil))
	if r := postToken(t, srv, grant(a)); r.status != http.StatusOK {
		t.Fatalf("first use: %d %s", r.status, r.body)
	}
	checkJSON(t, postToken(t, srv, grant(a)), http.StatusUnauthorized, authFailure("1.2.7"))
}

// TestServer_Token_Audience: a configured audience wins over the origin.
func TestServer_Token_Audience(t *testing.T) {
	_, srv, clk := MustStartAuth(t, simulator.Config{Audience: "https://identityhomolog.acesso.io"})
	checkJSON(t, postToken(t, srv, grant(sign(t, accountKey(), rs256, claims(srv, clk.Now(), nil)))),
		http.StatusUnauthorized, authFailure("1.2.5"))
	a := sign(t, accountKey(), rs256, claims(srv, clk.Now(), map[string]any{"aud": "https://identityhomolog.acesso.io"}))
	if r := postToken(t, srv, grant(a)); r.status != http.StatusOK {
		t.Fatalf("configured audience: %d %s", r.status, r.body)
	}
}

// TestServer_Token_Lock: LockAfter failures in a row lock the account,
// which then refuses even a valid assertion; a success resets the count.
func TestServer_Token_Lock(t *testing.T) {
	sim, srv, clk := MustStartAuth(t, simulator.Config{LockAfter: 3})
	bad := func() response {
		return postToken(t, srv, grant(sign(t, otherKey(), rs256, claims(srv, clk.Now(), nil))))
	}
	bad()
	bad()
	MustToken(t, srv, clk.Now()) // resets the count
	clk.Advance(time.Second)
	for range 3 {
		checkJSON(t, bad(), http.StatusUnauthorized, authFailure("1.2.5"))
	}
	clk.Advance(time.Second)
	checkJSON(t, postToken(t, srv, grant(sign(t, accountKey(), rs256, claims(srv, clk.Now(), nil)))),
		http.StatusUnauthorized, authFailure("1.2.18"))
	s := sim.Stats()
	if s.TokenRequests != 7 || s.TokensIssued != 1 || s.TokenErrors != 6 {
		t.Errorf("Stats %+v: want 7 token requests, 1 issued, 6 errors", s)
	}
	if simulator.DefaultLockAfter != 5 {
		t.Errorf("DefaultLockAfter=%d, want 5", simulator.DefaultLockAfter)
	}
}

func TestServer_Token_Routes(t *testing.T) {
	_, srv, _ := MustStartAuth(t, simulator.Config{})
	if r := MustDo(t, srv, http.MethodGet, "/oauth2/token", nil); r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != "POST" {
		t.Errorf("GET /oauth2/token: %d (Allow %q), want 405 (POST)", r.status, r.header.Get("Allow"))
	}
	_, plain := MustStart(t, simulator.Config{})
	if r := postToken(t, plain, grant("x")); r.status != http.StatusNotFound {
		t.Errorf("token endpoint without PublicKey: %d, want 404", r.status)
	}
}

func TestParsePublicKey(t *testing.T) {
	pub := &accountKey().PublicKey
	pkix, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		pem  []byte
		ok   bool
	}{
		{"PKIX", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix}), true},
		{"PKCS1", pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(pub)}), true},
		{"ErrNotPEM", []byte("junk"), false},
		{"ErrJunk", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte("junk")}), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			k, err := simulator.ParsePublicKey(tt.pem)
			if tt.ok && (err != nil || !k.Equal(pub)) {
				t.Fatalf("ParsePublicKey: %v, want the key", err)
			}
			if !tt.ok && err == nil {
				t.Fatal("ParsePublicKey: nil error, want one")
			}
		})
	}
}
