package main

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/unico-reconcile/unico-reconcile/internal/keytest"
	"github.com/unico-reconcile/unico-reconcile/simulator"
)

// TestRun_NoSecrets_Auth runs the binary with known secrets through the
// ways to sign in and the ways to fail, at debug level, and looks for the
// secrets in stdout, stderr and every file the runs left (the reports, the
// run history): the API key, the access tokens (given, expired, issued by
// the token endpoint), the lines of the private keys, and the assertions
// signed with them.
func TestRun_NoSecrets_Auth(t *testing.T) {
	const (
		expiredToken = "e2e-secret-expired-token-5be2"
		wrongAPIKey  = "e2e-secret-wrong-api-key-0c41"
		wrongToken   = "e2e-secret-wrong-token-93fa"
	)
	good, bad := MustKeyFile(t, saKey()), MustKeyFile(t, otherKey())
	tokenFile := MustWrite(t, "token", expiredToken+"\n")
	wrongKeyFile := MustWrite(t, "apikey", wrongAPIKey)
	if err := os.Chmod(wrongKeyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	sim, srv, tp := MustAuthSimulator(t, "testdata/demo/processes.jsonl", simulator.Config{
		Token: testToken, ExpiredTokens: []string{expiredToken}, LockAfter: -1, TokenLifetime: 2 * time.Second})
	_, locked, tpLocked := MustAuthSimulator(t, "testdata/demo/processes.jsonl", simulator.Config{LockAfter: 1})
	sa := func(key string, srv string) []string { return saArgs(key, srv+"/oauth2/token") }
	localhost := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)

	type run struct {
		name   string
		root   string // the API root
		env    []string
		args   []string
		want   string // in the last line of stderr, for exit 2
		signal bool   // interrupt the run once it is under way
	}
	runs := []run{
		{name: "ServiceAccount", root: srv.URL, env: apiKeyEnv, args: sa(good, srv.URL)},
		{name: "ServiceAccountFlags", root: srv.URL, args: append([]string{"--api-key", testAPIKey}, sa(good, srv.URL)...)},
		{name: "StaticToken", root: srv.URL, env: credentials},
		{name: "BadKey", root: srv.URL, env: apiKeyEnv, args: sa(bad, srv.URL), want: "1.2.5"},
		{name: "WrongAudience", root: srv.URL, env: apiKeyEnv, args: sa(good, localhost), want: "1.2.5"},
		{name: "Lock", root: locked.URL, env: apiKeyEnv, args: sa(bad, locked.URL), want: "1.2.5"},
		{name: "Locked", root: locked.URL, env: apiKeyEnv, args: sa(good, locked.URL), want: "1.2.18"},
		{name: "WrongToken", root: srv.URL, env: apiKeyEnv, args: []string{"--token", wrongToken}, want: "10501"},
		{name: "ExpiredTokenFile", root: srv.URL, env: apiKeyEnv, args: []string{"--token-file", tokenFile}, want: "10502"},
		{name: "WrongAPIKey", root: srv.URL, args: append([]string{"--api-key-file", wrongKeyFile}, sa(good, srv.URL)...), want: "10201"},
		{name: "BadSource", root: srv.URL, env: credentials, args: []string{"--source", "testdata/does-not-exist.csv"}, want: "does-not-exist.csv"},
		{name: "Interrupted", root: srv.URL, env: apiKeyEnv, args: append([]string{"--rate", "20"}, sa(good, srv.URL)...), signal: true},
	}
	texts := map[string]string{} // where -> what was written there
	for _, r := range runs {
		work := t.TempDir() // reports and run history: everything the run leaves
		args := append([]string{"--log-level", "debug"}, runArgs("testdata/demo/saved.csv", r.root, filepath.Join(work, "reports"), "--max-retries", "1")...)
		args = append(args, r.args...)
		var res result
		if r.signal {
			res = MustInterrupt(t, sim, r.env, args...)
		} else {
			res = MustRun(t, r.env, args...)
		}
		switch {
		case r.want != "" && (res.code != 2 || !strings.Contains(MustLastLine(t, res.stderr), r.want)):
			t.Errorf("%s: exit %d, stderr %q; want 2 naming %q", r.name, res.code, MustLastLine(t, res.stderr), r.want)
		case r.want == "" && res.code != 3:
			t.Errorf("%s: exit %d, want 3 (the demo data has unverifiable processes)\nstderr: %s", r.name, res.code, res.stderr)
		}
		texts[r.name+": stdout"], texts[r.name+": stderr"] = res.stdout, res.stderr
		_ = filepath.WalkDir(work, func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				texts[r.name+": "+strings.TrimPrefix(path, work)] = string(MustRead(t, path))
			}
			return nil
		})
	}

	issued := append(tp.secrets(), tpLocked.secrets()...)
	if len(issued) < 6 {
		t.Fatalf("the tap saw %d assertions and tokens: the test would prove nothing", len(issued))
	}
	secrets := append(issued, testAPIKey, testToken, expiredToken, wrongAPIKey, wrongToken)
	secrets = append(secrets, keytest.Lines(keytest.PEM(t, saKey()))...)
	secrets = append(secrets, keytest.Lines(keytest.PEM(t, otherKey()))...)
	files := 0
	for where, text := range texts {
		if !strings.HasSuffix(where, ": stdout") && !strings.HasSuffix(where, ": stderr") {
			files++
		}
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("%s holds a secret (%.12s...)", where, s)
			}
		}
	}
	t.Logf("%d runs, %d files and %d output streams searched for %d secrets", len(runs), files, 2*len(runs), len(secrets))
}

// MustInterrupt runs the binary and sends it SIGINT once sim has answered
// ten process requests.
func MustInterrupt(tb testing.TB, sim *simulator.Server, env []string, args ...string) result {
	tb.Helper()
	cmd := command(tb, env, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	base := sim.Stats()
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for s := sim.Stats(); s.OK-base.OK < 10 && time.Now().Before(deadline); s = sim.Stats() {
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		tb.Fatal(err)
	}
	_ = cmd.Wait()
	return result{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
}

// TestDemo_ServiceAccount: the demo signs in with a key pair of its own and
// renews its two-second tokens as it goes.
func TestDemo_ServiceAccount(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "demo")
	r := MustRun(t, nil, "--log-format", "json", "demo", "--service-account", "--out", out)
	if r.code != 0 {
		t.Fatalf("exit code %d, want 0\nstderr: %s", r.code, r.stderr)
	}
	if n := strings.Count(r.stderr, `"msg":"access token obtained"`); n < 2 {
		t.Errorf("%d tokens obtained, want the first and renewals", n)
	}
	if got, want := MustSummary(t, out).Counts["total"], 300; got != want {
		t.Errorf("total=%d, want %d", got, want)
	}
}

// TestSimulate_TokenEndpoint: the simulate command serves the token
// endpoint for a public key file, and run signs in to it.
func TestSimulate_TokenEndpoint(t *testing.T) {
	pub := MustWrite(t, "pub.pem", string(MustPublicPEM(t)))
	root := MustSimulateProcess(t, "testdata/demo/processes.jsonl", "--api-key", testAPIKey,
		"--public-key-file", pub, "--service-account", saAccount, "--tenant", saTenant, "--token-lifetime", "5s")
	resp, err := http.Get(root + "/processes/v1/" + idMatch)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("GET without a token: %d, want 400 (a token is required)", resp.StatusCode)
	}
	source := MustWrite(t, "ok.csv", csvHeader+MustDemoRow(t, idMatch))
	out := filepath.Join(t.TempDir(), "reports")
	r := MustRun(t, apiKeyEnv, append(runArgs(source, root, out), saArgs(MustKeyFile(t, saKey()), root+"/oauth2/token")...)...)
	if r.code != 0 {
		t.Fatalf("exit code %d, want 0\nstderr: %s", r.code, r.stderr)
	}
	for _, args := range [][]string{
		{"--data", "testdata/demo/processes.jsonl", "--public-key-file", pub},
		{"--data", "testdata/demo/processes.jsonl", "--service-account", saAccount, "--tenant", saTenant},
		{"--data", "testdata/demo/processes.jsonl", "--public-key-file", MustWrite(t, "junk.pem", "junk"), "--service-account", "a", "--tenant", "t"},
	} {
		if r := MustRun(t, nil, append([]string{"simulate", "--addr", "127.0.0.1:0"}, args...)...); r.code != 2 {
			t.Errorf("simulate %v: exit %d, want 2", args, r.code)
		}
	}
}

// MustPublicPEM is the public half of saKey as PKIX PEM.
func MustPublicPEM(tb testing.TB) []byte {
	tb.Helper()
	der, err := x509.MarshalPKIXPublicKey(&saKey().PublicKey)
	if err != nil {
		tb.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}
