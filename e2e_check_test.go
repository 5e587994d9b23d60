package main

import (
	"cmp"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/unico-reconcile/unico-reconcile/simulator"
)

// setupCheckArgs are check's flags for the saved outcomes at source and the API
// at baseURL, with the report folder and history in a fresh folder.
func setupCheckArgs(tb testing.TB, source, baseURL string, extra ...string) []string {
	return append([]string{"check", "--source", source, "--base-url", baseURL,
		"--out", filepath.Join(tb.TempDir(), "out", "run"), "--timeout", "5s"}, extra...)
}

// checkLines maps each check's name to its line.
func checkLines(tb testing.TB, stdout string) map[string]string {
	tb.Helper()
	lines := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		mark, rest, ok := strings.Cut(l, " ")
		name, _, ok2 := strings.Cut(rest, ":")
		if !ok || !ok2 || (mark != "✓" && mark != "✗" && mark != "!") {
			tb.Fatalf("line %q is not \"✓|✗|! name: detail\"", l)
		}
		lines[name] = l
	}
	return lines
}

// TestCheck: each check passes on a good set-up and names the fix on a bad
// one; the exit code says whether all passed; at most 3 API requests go
// out, and no secret is printed.
func TestCheck(t *testing.T) {
	t.Parallel()
	idOnly := MustWrite(t, "ids.csv", "process_id\n019e60c8-d110-41dd-9295-c8b89177857b\n")
	notUnico := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(notUnico.Close)
	tests := []struct {
		name   string
		env    []string
		source string // default: the demo's saved outcomes
		url    string // default: the simulator
		extra  []string
		code   int
		want   map[string]string // check name → what its line must hold
	}{
		{name: "good", env: credentials, code: 0, want: map[string]string{
			"source": "✓ source: ", "out": "✓ out: ", "state": "does not exist yet", "api key": "✓", "token": "✓",
			"tls": "plain http", "clock": "✓ clock: 0s", "access": "✓ access: GET of a random id: 404 50001"}},
		{name: "id-only source", env: credentials, source: idOnly, code: 0, want: map[string]string{
			"source": "only process_id"}},
		{name: "missing source", env: credentials, source: "/nonexistent/saved.csv", code: 2, want: map[string]string{
			"source": "✗ source: ", "access": "✓"}},
		{name: "wrong api key", env: []string{"UNICO_API_KEY=wrong-api-key-123", "UNICO_ACCESS_TOKEN=" + testToken}, code: 2, want: map[string]string{
			"access": "✗ access: GET of a random id: 403 code 10201: APIKEY rejected"}},
		{name: "wrong token", env: []string{"UNICO_API_KEY=" + testAPIKey, "UNICO_ACCESS_TOKEN=wrong-token-1234"}, code: 2, want: map[string]string{
			"access": "code 10501: access token rejected"}},
		{name: "no token", env: []string{"UNICO_API_KEY=" + testAPIKey}, code: 2, want: map[string]string{
			"token": "✗ token: none given (fix: set $UNICO_ACCESS_TOKEN"}},
		{name: "not the API", env: credentials, url: notUnico.URL, code: 2, want: map[string]string{
			"access": "404 without its error body", "clock": "✓"}},
		{name: "no metrics folder", env: credentials, extra: []string{"--metrics-textfile", "/nonexistent/dir/x.prom"}, code: 2, want: map[string]string{
			"metrics": "✗ metrics: /nonexistent/dir is not a folder"}},
		{name: "unwritable out", env: credentials, extra: []string{"--out", "/proc/self/out/run", "--no-state"}, code: 2, want: map[string]string{
			"out": "✗ out: cannot create a file in /proc/self"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sim, srv := MustSimulator(t, "testdata/demo/processes.jsonl", simulator.Config{APIKey: testAPIKey, Token: testToken})
			source, url := cmp.Or(tt.source, "testdata/demo/saved.csv"), cmp.Or(tt.url, srv.URL)
			r := MustRun(t, tt.env, setupCheckArgs(t, source, url, tt.extra...)...)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, tt.code, r.stdout, r.stderr)
			}
			lines := checkLines(t, r.stdout)
			for name, want := range tt.want {
				if !strings.Contains(lines[name], want) {
					t.Errorf("check %q: %q, want it to hold %q", name, lines[name], want)
				}
			}
			if n := sim.Stats().Requests; n > 3 {
				t.Errorf("the simulator saw %d requests, want at most 3", n)
			}
			for _, s := range []string{testAPIKey, testToken, "wrong-api-key-123", "wrong-token-1234"} {
				if strings.Contains(r.stdout+r.stderr, s) {
					t.Errorf("a secret is printed: %s", s)
				}
			}
		})
	}
}

// TestCheck_ServiceAccount: the service account signs in with one token
// request, and the token it gets opens the API.
func TestCheck_ServiceAccount(t *testing.T) {
	t.Parallel()
	sim, srv, tp := MustAuthSimulator(t, "testdata/demo/processes.jsonl", simulator.Config{})
	args := append(setupCheckArgs(t, "testdata/demo/saved.csv", srv.URL), saArgs(MustKeyFile(t, saKey()), srv.URL+"/oauth2/token")...)
	r := MustRun(t, apiKeyEnv, args...)
	if r.code != 0 {
		t.Fatalf("exit %d, want 0\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	lines := checkLines(t, r.stdout)
	if want := "✓ token: service account " + saAccount; !strings.HasPrefix(lines["token"], want) {
		t.Errorf("token line %q, want it to start %q", lines["token"], want)
	}
	if st := sim.Stats(); st.TokenRequests != 1 || st.Requests != 2 {
		t.Errorf("%d token requests of %d requests, want 1 of 2", st.TokenRequests, st.Requests)
	}
	for _, s := range tp.secrets() {
		if strings.Contains(r.stdout+r.stderr, s) {
			t.Errorf("a secret of the token endpoint is printed")
		}
	}
}

// TestCheck_Clock: the API's Date header against this machine's clock.
func TestCheck_Clock(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		skew time.Duration
		code int
		want string
	}{
		{0, 0, "✓ clock: 0s"},
		{-time.Minute, 0, "! clock: 1m0s from the API's (fix: synchronise the clock"},
		{10 * time.Minute, 2, "✗ clock: -10m0s from the API's (fix: synchronise the clock (NTP): the token endpoint refuses"},
	} {
		t.Run(tt.skew.String(), func(t *testing.T) {
			t.Parallel()
			api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Date", time.Now().Add(tt.skew).UTC().Format(http.TimeFormat))
				w.WriteHeader(http.StatusNotFound)
				fmt.Fprint(w, `{"error":{"code":50001,"message":"process not found"}}`)
			}))
			t.Cleanup(api.Close)
			r := MustRun(t, credentials, setupCheckArgs(t, "testdata/demo/saved.csv", api.URL)...)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d\n%s", r.code, tt.code, r.stdout)
			}
			if got := checkLines(t, r.stdout)["clock"]; !strings.HasPrefix(got, tt.want) {
				t.Errorf("clock line %q, want it to start %q", got, tt.want)
			}
		})
	}
}

// TestCheck_Lock: a run holding the history's lock makes the state check
// fail, naming the holder; check itself leaves the lock alone.
func TestCheck_Lock(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data, saved, _ := MustDataset(t, dir, 400)
	sim := MustNewSimulator(t, data, simulator.Config{})
	_, url := MustSwitchable(t, sim)
	base := t.TempDir()
	holder := command(t, credentials, runArgs(saved, url, filepath.Join(base, "a"), "--rate", "20")...)
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer holder.Process.Kill()
	deadline := time.Now().Add(20 * time.Second)
	for sim.Stats().Requests < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	args := []string{"check", "--source", saved, "--base-url", url, "--out", filepath.Join(base, "b")}
	r := MustRun(t, credentials, args...)
	if r.code != 2 {
		t.Errorf("exit %d, want 2\n%s", r.code, r.stdout)
	}
	line := checkLines(t, r.stdout)["state"]
	if want := fmt.Sprintf("✗ state: %s is locked by pid %d", filepath.Join(base, "state.db"), holder.Process.Pid); !strings.HasPrefix(line, want) {
		t.Errorf("state line %q, want it to start %q", line, want)
	}
	if err := holder.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := holder.Wait(); err != nil && holder.ProcessState.ExitCode() != 3 {
		t.Fatalf("the holder: %v", err)
	}
	if _, err := os.Stat(filepath.Join(base, "b")); err == nil {
		t.Error("check created the report folder")
	}
	r = MustRun(t, credentials, args...)
	if line := checkLines(t, r.stdout)["state"]; !strings.Contains(line, "nobody holds its lock") || r.code != 0 {
		t.Errorf("after the holder ended: exit %d, state line %q", r.code, line)
	}
}
