package main

import (
	"bytes"
	"crypto/rsa"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/unico-reconcile/unico-reconcile/fetch"
	"github.com/unico-reconcile/unico-reconcile/internal/keytest"
	"github.com/unico-reconcile/unico-reconcile/simulator"
)

// The service account of these tests, and a key that is not its own.
const (
	saAccount = "reconciler"
	saTenant  = "tenant-42"
)

var (
	saKey    = sync.OnceValue(keytest.New)
	otherKey = sync.OnceValue(keytest.New)
)

// MustKeyFile writes k as a 0600 PEM file in a folder of its own.
func MustKeyFile(tb testing.TB, k *rsa.PrivateKey) string {
	tb.Helper()
	return MustWrite(tb, "key.pem", string(keytest.PEM(tb, k)))
}

// tap records, on their way through, the secrets of the token endpoint:
// every assertion sent and every access token issued.
type tap struct {
	h  http.Handler
	mu sync.Mutex
	s  []string
}

func (t *tap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/oauth2/token" {
		t.h.ServeHTTP(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	form, _ := url.ParseQuery(string(body))
	rec := &teeWriter{ResponseWriter: w}
	t.h.ServeHTTP(rec, r)
	var answer struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.Unmarshal(rec.buf.Bytes(), &answer)
	t.mu.Lock()
	defer t.mu.Unlock()
	if a := form.Get("assertion"); a != "" {
		t.s = append(t.s, a, a[strings.LastIndexByte(a, '.')+1:]) // and its signature alone
	}
	if answer.AccessToken != "" {
		t.s = append(t.s, answer.AccessToken)
	}
}

// secrets returns what the tap saw.
func (t *tap) secrets() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.s...)
}

type teeWriter struct {
	http.ResponseWriter
	buf bytes.Buffer
}

func (w *teeWriter) Write(b []byte) (int, error) {
	w.buf.Write(b)
	return w.ResponseWriter.Write(b)
}

// MustAuthSimulator serves data with the APIKEY testAPIKey and the token
// endpoint on for the test's service account. As Unico's identity host,
// it wants its own origin (http://127.0.0.1:port) in aud.
func MustAuthSimulator(tb testing.TB, data string, cfg simulator.Config) (*simulator.Server, *httptest.Server, *tap) {
	tb.Helper()
	d, err := simulator.LoadFile(data)
	if err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	cfg.APIKey, cfg.PublicKey, cfg.Account, cfg.Tenant = testAPIKey, &saKey().PublicKey, saAccount, saTenant
	cfg.Audience = "http://" + srv.Listener.Addr().String()
	sim := simulator.New(d, cfg)
	tp := &tap{h: sim}
	srv.Config.Handler = tp
	srv.Start()
	tb.Cleanup(srv.Close)
	return sim, srv, tp
}

// saArgs are the flags that sign in as the test's service account.
func saArgs(keyFile, tokenURL string) []string {
	return []string{"--service-account", saAccount, "--tenant", saTenant, "--private-key-file", keyFile, "--token-url", tokenURL}
}

var apiKeyEnv = []string{"UNICO_API_KEY=" + testAPIKey}

// TestRun_ServiceAccount_Renewals: a whole run that outlives its tokens
// several times over signs in again shortly before each expires: nothing
// fails, and no more tokens are asked for than the run needs.
func TestRun_ServiceAccount_Renewals(t *testing.T) {
	t.Parallel()
	const lifetime, rate, n = 5 * time.Second, 20, 320 // 16 s
	data, source := MustFixture(t, t.TempDir(), n)
	sim, srv, _ := MustAuthSimulator(t, data, simulator.Config{TokenLifetime: lifetime})
	out := filepath.Join(t.TempDir(), "reports")
	args := append(runArgs(source, srv.URL, out, "--rate", fmt.Sprint(rate)), saArgs(MustKeyFile(t, saKey()), srv.URL+"/oauth2/token")...)
	r := MustRun(t, apiKeyEnv, args...)
	if r.code != 0 {
		t.Fatalf("exit code %d, want 0\nstderr: %s", r.code, r.stderr)
	}
	s := MustSummary(t, out)
	if s.Counts["total"] != n || s.Counts["matched"] != n || s.Counts["unverified"] != 0 {
		t.Errorf("counts %v, want all %d matched", s.Counts, n)
	}
	d := s.FinishedAt.Sub(s.StartedAt)
	interval := lifetime - fetch.RenewMargin(lifetime)
	st := sim.Stats()
	bound := int(math.Ceil(d.Seconds()/interval.Seconds())) + 1
	if st.TokenRequests < 3 || st.TokenRequests > bound || st.TokenErrors != 0 {
		t.Errorf("%d token requests (%d failed) in %s; want from 3 to %d (one per %s, and one more)",
			st.TokenRequests, st.TokenErrors, d, bound, interval)
	}
	// Renewed before expiry: the API hardly ever sees an expired token (a
	// request held up half a second by a loaded machine may meet one, and
	// is then renewed at once); renewing only on 10502 would meet one at
	// every expiry.
	if st.AuthErrors > 1 {
		t.Errorf("the API answered %d requests 10502 (or another auth error), want at most 1", st.AuthErrors)
	}
	if got := strings.Count(r.stderr, `"msg":"access token obtained"`); got != st.TokensIssued {
		t.Errorf("%d tokens logged as obtained, the endpoint issued %d", got, st.TokensIssued)
	}
	t.Logf("run of %s: %d requests, %d token requests (bound %d), %d answered 10502 or other auth errors",
		d.Round(time.Millisecond), s.Requests, st.TokenRequests, bound, st.AuthErrors)
}

// TestRun_ServiceAccount_Refused: a refused sign-in stops the run with exit
// 2 and the endpoint's code, after exactly one token request and no API
// request.
func TestRun_ServiceAccount_Refused(t *testing.T) {
	source := MustWrite(t, "ok.csv", csvHeader+MustDemoRow(t, idMatch))
	good, bad := MustKeyFile(t, saKey()), MustKeyFile(t, otherKey())
	for _, tt := range []struct {
		name string
		args func(srv *httptest.Server) []string
		want string
	}{
		{"BadKey", func(srv *httptest.Server) []string { return saArgs(bad, srv.URL+"/oauth2/token") }, "1.2.5"},
		{"WrongAudience", func(srv *httptest.Server) []string {
			// The same server under another name: the assertion's aud is
			// http://localhost:port, the simulator wants its own origin.
			return saArgs(good, strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)+"/oauth2/token")
		}, "1.2.5"},
		{"WrongTenant", func(srv *httptest.Server) []string {
			return append(saArgs(good, srv.URL+"/oauth2/token"), "--tenant", "tenant-43")
		}, "1.0.1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sim, srv, _ := MustAuthSimulator(t, "testdata/demo/processes.jsonl", simulator.Config{})
			MustRefused(t, sim, MustRun(t, apiKeyEnv, append(runArgs(source, srv.URL, t.TempDir()+"/r"), tt.args(srv)...)...), tt.want, 1)
		})
	}
	t.Run("Locked", func(t *testing.T) {
		sim, srv, _ := MustAuthSimulator(t, "testdata/demo/processes.jsonl", simulator.Config{LockAfter: 3})
		for i := 1; i <= 3; i++ {
			r := MustRun(t, apiKeyEnv, append(runArgs(source, srv.URL, t.TempDir()+"/r"), saArgs(bad, srv.URL+"/oauth2/token")...)...)
			MustRefused(t, sim, r, "1.2.5", i)
		}
		r := MustRun(t, apiKeyEnv, append(runArgs(source, srv.URL, t.TempDir()+"/r"), saArgs(good, srv.URL+"/oauth2/token")...)...)
		MustRefused(t, sim, r, "1.2.18", 4)
	})
	t.Run("EndpointDown", func(t *testing.T) {
		sim, srv, _ := MustAuthSimulator(t, "testdata/demo/processes.jsonl", simulator.Config{})
		down := httptest.NewServer(http.NotFoundHandler())
		down.Close()
		r := MustRun(t, apiKeyEnv, append(runArgs(source, srv.URL, t.TempDir()+"/r"), saArgs(good, down.URL+"/oauth2/token")...)...)
		MustRefused(t, sim, r, "token endpoint "+down.URL, 0)
	})
}

// MustRefused checks a run stopped with exit 2 and one line naming want,
// after tokenRequests token requests in all and no API request.
func MustRefused(tb testing.TB, sim *simulator.Server, r result, want string, tokenRequests int) {
	tb.Helper()
	if r.code != 2 {
		tb.Fatalf("exit code %d, want 2\nstderr: %s", r.code, r.stderr)
	}
	if line := MustLastLine(tb, r.stderr); !strings.Contains(line, want) || !strings.Contains(line, "token endpoint") {
		tb.Errorf("stderr ends %q, want the token endpoint's %q", line, want)
	}
	st := sim.Stats()
	if st.TokenRequests != tokenRequests || st.Requests != st.TokenRequests {
		tb.Errorf("simulator saw %d token requests and %d others, want %d and none (no retry after a refusal)",
			st.TokenRequests, st.Requests-st.TokenRequests, tokenRequests)
	}
}

// TestRun_AuthUsageErrors: ways to sign in that cannot work are refused
// before anything is sent, with exit 2 and one line.
func TestRun_AuthUsageErrors(t *testing.T) {
	key := MustKeyFile(t, saKey())
	junk := MustWrite(t, "junk.pem", "not a key")
	sa := []string{"--service-account", saAccount, "--tenant", saTenant, "--private-key-file", key}
	for _, tt := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"ServiceAccountAndToken", nil, append([]string{"--token-file", key}, sa...), "give one way to sign in"},
		{"ServiceAccountAndTokenVariable", []string{"UNICO_ACCESS_TOKEN=" + testToken}, sa, "give one way to sign in"},
		{"ServiceAccountWithoutTenant", nil, []string{"--service-account", saAccount, "--private-key-file", key}, "go together"},
		{"BaseURLWithoutTokenURL", nil, append([]string{"--base-url", "https://api.example.com"}, sa...), "give --token-url too"},
		{"TokenURLAlone", nil, []string{"--token-url", "https://id.example.com/oauth2/token"}, "--token-url needs --service-account"},
		{"PlainHTTPAPI", nil, []string{"--base-url", "http://api.example.com"}, "--base-url http://api.example.com: plain http"},
		{"PlainHTTPTokenURL", nil, append([]string{"--base-url", "https://api.example.com", "--token-url", "http://id.example.com/oauth2/token"}, sa...), "--token-url http://id.example.com/oauth2/token: plain http"},
		{"QueryInBaseURL", nil, []string{"--base-url", "https://api.example.com/?key=" + testAPIKey}, "query"},
		{"MissingCAFile", nil, []string{"--ca-file", "/nonexistent/ca.pem"}, "--ca-file"},
		{"MissingKeyFile", nil, []string{"--service-account", saAccount, "--tenant", saTenant, "--private-key-file", "/nonexistent/key.pem"}, "--private-key-file"},
		{"JunkKeyFile", nil, []string{"--service-account", saAccount, "--tenant", saTenant, "--private-key-file", junk}, "no PEM private key"},
		{"APIKeyTwice", []string{"UNICO_API_KEY=" + testAPIKey}, []string{"--api-key-file", key}, "$UNICO_API_KEY and --api-key-file: give one"},
		{"TokenTwice", nil, []string{"--token", testToken, "--token-file", key}, "--token and --token-file: give one"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := MustRun(t, tt.env, append([]string{"run", "--source", "x.csv"}, tt.args...)...)
			if r.code != 2 {
				t.Fatalf("exit code %d, want 2\nstderr: %s", r.code, r.stderr)
			}
			if line := MustLastLine(t, r.stderr); !strings.Contains(line, tt.want) || strings.Contains(r.stderr, testAPIKey) || strings.Contains(r.stderr, testToken) {
				t.Errorf("stderr %q, want one line naming %q and no secret", r.stderr, tt.want)
			}
		})
	}
}

// TestRun_InsecureHTTP: --insecure-http lets plain http through, loudly.
func TestRun_InsecureHTTP(t *testing.T) {
	source := MustWrite(t, "ok.csv", csvHeader+MustDemoRow(t, idMatch))
	// 192.0.2.1 (TEST-NET-1) is not loopback and answers nothing.
	r := MustRun(t, credentials, runArgs(source, "http://192.0.2.1:9", t.TempDir()+"/r",
		"--insecure-http", "--timeout", "300ms", "--max-retries", "0")...)
	if r.code != 3 {
		t.Fatalf("exit code %d, want 3 (unverified: nothing answers)\nstderr: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, `"level":"WARN","msg":"--insecure-http is on`) || !strings.Contains(r.stderr, "http://192.0.2.1:9") {
		t.Errorf("no warning naming the clear-text URL:\n%s", r.stderr)
	}
}

// TestRun_CAFile: certificates are always verified; --ca-file trusts a
// private CA, for the API and the token endpoint alike.
func TestRun_CAFile(t *testing.T) {
	d, err := simulator.LoadFile("testdata/demo/processes.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(simulator.New(d, simulator.Config{APIKey: testAPIKey,
		PublicKey: &saKey().PublicKey, Account: saAccount, Tenant: saTenant}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ca := MustWrite(t, "ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})))
	source := MustWrite(t, "ok.csv", csvHeader+MustDemoRow(t, idMatch))
	sa := saArgs(MustKeyFile(t, saKey()), srv.URL+"/oauth2/token")

	r := MustRun(t, credentials, runArgs(source, srv.URL, t.TempDir()+"/r")...)
	if line := MustLastLine(t, r.stderr); r.code != 2 || !strings.Contains(line, "TLS certificate not trusted") || !strings.Contains(line, "--ca-file") {
		t.Errorf("API without --ca-file: exit %d, %q; want 2 naming --ca-file", r.code, line)
	}
	r = MustRun(t, apiKeyEnv, append(runArgs(source, srv.URL, t.TempDir()+"/r"), sa...)...)
	if line := MustLastLine(t, r.stderr); r.code != 2 || !strings.Contains(line, "token endpoint") || !strings.Contains(line, "certificate") {
		t.Errorf("token endpoint without --ca-file: exit %d, %q; want 2 naming the certificate", r.code, line)
	}
	r = MustRun(t, apiKeyEnv, append(runArgs(source, srv.URL, t.TempDir()+"/r", "--ca-file", ca), sa...)...)
	if r.code != 0 {
		t.Errorf("with --ca-file: exit %d, want 0\nstderr: %s", r.code, r.stderr)
	}
}

// TestRun_SecretWarnings: a secret typed on the command line, or kept in a
// file others can read, works but is warned about, without the secret.
func TestRun_SecretWarnings(t *testing.T) {
	_, srv := MustSimulator(t, "testdata/demo/processes.jsonl", simulator.Config{APIKey: testAPIKey, Token: testToken})
	source := MustWrite(t, "ok.csv", csvHeader+MustDemoRow(t, idMatch))
	shared := MustWrite(t, "apikey", testAPIKey)
	if err := os.Chmod(shared, 0o644); err != nil {
		t.Fatal(err)
	}
	private := MustWrite(t, "apikey", testAPIKey)
	sharedToken := MustWrite(t, "token", testToken)
	if err := os.Chmod(sharedToken, 0o640); err != nil {
		t.Fatal(err)
	}
	const listing, chmod = "process listings", "chmod 600"
	for _, tt := range []struct {
		name string
		env  []string
		args []string
		want []string // warnings: "message part flag=... [file=... mode=...]"
	}{
		{"Variables", credentials, nil, nil},
		{"APIKeyFlag", []string{"UNICO_ACCESS_TOKEN=" + testToken}, []string{"--api-key", testAPIKey}, []string{listing + " flag=--api-key"}},
		{"TokenFlag", apiKeyEnv, []string{"--token", testToken}, []string{listing + " flag=--token"}},
		{"PrivateFile", []string{"UNICO_ACCESS_TOKEN=" + testToken}, []string{"--api-key-file", private}, nil},
		{"SharedFile", []string{"UNICO_ACCESS_TOKEN=" + testToken}, []string{"--api-key-file", shared}, []string{chmod + " flag=--api-key-file file=" + shared + " mode=0644"}},
		{"SharedTokenFile", apiKeyEnv, []string{"--token-file", sharedToken}, []string{chmod + " flag=--token-file file=" + sharedToken + " mode=0640"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := MustRun(t, tt.env, runArgs(source, srv.URL, t.TempDir()+"/r", tt.args...)...)
			if r.code != 0 {
				t.Fatalf("exit code %d, want 0\nstderr: %s", r.code, r.stderr)
			}
			if diff := cmp.Diff(tt.want, MustWarnings(t, r.stderr, listing, chmod)); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
			if strings.Contains(r.stderr, testAPIKey) || strings.Contains(r.stderr, testToken) {
				t.Errorf("stderr holds a secret")
			}
		})
	}
}

// MustWarnings returns the WARN lines of a JSON log whose message holds one
// of parts, as "part flag=F [file=P mode=M]".
func MustWarnings(tb testing.TB, stderr string, parts ...string) []string {
	tb.Helper()
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		var l struct{ Level, Msg, Flag, File, Mode string }
		if json.Unmarshal([]byte(line), &l) != nil || l.Level != "WARN" {
			continue
		}
		for _, p := range parts {
			if strings.Contains(l.Msg, p) {
				w := p + " flag=" + l.Flag
				if l.File != "" {
					w += " file=" + l.File + " mode=" + l.Mode
				}
				got = append(got, w)
			}
		}
	}
	return got
}
