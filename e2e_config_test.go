package main

import (
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/unico-reconcile/unico-reconcile/simulator"
)

// countingSimulator serves the demo data with the test credentials and
// counts the requests it gets.
func countingSimulator(tb testing.TB) (*httptest.Server, *atomic.Int64) {
	tb.Helper()
	d, err := simulator.LoadFile("testdata/demo/processes.jsonl")
	if err != nil {
		tb.Fatal(err)
	}
	sim := simulator.New(d, simulator.Config{APIKey: testAPIKey, Token: testToken})
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		sim.ServeHTTP(w, r)
	}))
	tb.Cleanup(srv.Close)
	return srv, &n
}

// TestRun_CredentialsTrimmed: a token or API key with a trailing newline
// (a Kubernetes Secret, $(cat file)) works, from the variable or the flag.
func TestRun_CredentialsTrimmed(t *testing.T) {
	srv, _ := countingSimulator(t)
	source := MustWrite(t, "ok.csv", csvHeader+MustDemoRow(t, idMatch))
	for _, tt := range []struct {
		name string
		env  []string
		args []string
	}{
		{"Variables", []string{"UNICO_API_KEY=" + testAPIKey + "\r\n", "UNICO_ACCESS_TOKEN=" + testToken + "\n"}, nil},
		{"Flags", nil, []string{"--api-key", " " + testAPIKey + "\n", "--token", testToken + "\n"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := MustRun(t, tt.env, runArgs(source, srv.URL, filepath.Join(t.TempDir(), "r"), tt.args...)...)
			if r.code != 0 {
				t.Fatalf("exit code %d, want 0\nstderr: %s", r.code, r.stderr)
			}
		})
	}
}

// TestRun_ErrUnusableCredentials: a credential that still cannot be a
// header after trimming, or is too short to be one, stops the run at once
// with exit 2, naming the variable, flag or file, and nothing is sent.
func TestRun_ErrUnusableCredentials(t *testing.T) {
	srv, requests := countingSimulator(t)
	source := MustWrite(t, "ok.csv", csvHeader+MustDemoRow(t, idMatch))
	shortKeyFile := MustWrite(t, "key", "k3y\n")
	for _, tt := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"TokenVariableNewlineInside", []string{"UNICO_API_KEY=" + testAPIKey, "UNICO_ACCESS_TOKEN=" + testToken + "\nX-Other: 1"}, nil,
			"$UNICO_ACCESS_TOKEN: the access token holds white space or control characters inside"},
		{"TokenFlagSpaceInside", []string{"UNICO_API_KEY=" + testAPIKey}, []string{"--token", "Bearer " + testToken},
			"--token: the access token holds white space"},
		{"KeyVariableControl", []string{"UNICO_API_KEY=" + testAPIKey + "\x7fx", "UNICO_ACCESS_TOKEN=" + testToken}, nil,
			"$UNICO_API_KEY: the api key holds white space"},
		{"ShortToken", []string{"UNICO_API_KEY=" + testAPIKey, "UNICO_ACCESS_TOKEN=t0k"}, nil,
			"$UNICO_ACCESS_TOKEN: the access token is shorter than 8 characters"},
		{"ShortKeyFlag", []string{"UNICO_ACCESS_TOKEN=" + testToken}, []string{"--api-key", "k3y"},
			"--api-key: the api key is shorter than 8 characters"},
		{"ShortKeyFile", []string{"UNICO_ACCESS_TOKEN=" + testToken}, []string{"--api-key-file", shortKeyFile},
			"--api-key-file " + shortKeyFile + ": the api key is shorter than 8 characters"},
		{"ShortTokenFile", []string{"UNICO_API_KEY=" + testAPIKey}, []string{"--token-file", shortKeyFile},
			"--token-file: read token file " + shortKeyFile + ": the token in the file is shorter than 8 characters"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := requests.Load()
			out := filepath.Join(t.TempDir(), "r")
			r := MustRun(t, tt.env, runArgs(source, srv.URL, out, tt.args...)...)
			if r.code != 2 {
				t.Fatalf("exit code %d, want 2\nstderr: %s", r.code, r.stderr)
			}
			if line := MustLastLine(t, r.stderr); !strings.Contains(line, tt.want) {
				t.Errorf("last line %q, want it to say %q", line, tt.want)
			}
			for _, secret := range []string{testToken, testAPIKey, "t0k", "k3y"} {
				if strings.Contains(r.stderr, secret) {
					t.Errorf("stderr shows the secret %q:\n%s", secret, r.stderr)
				}
			}
			if n := requests.Load() - before; n != 0 {
				t.Errorf("the API got %d requests, want none", n)
			}
		})
	}
}

// TestRun_ErrEnvWithBaseURL: --env is checked even when --base-url gives
// the API root.
func TestRun_ErrEnvWithBaseURL(t *testing.T) {
	r := MustRun(t, credentials, "run", "--source", "x.csv", "--base-url", "https://api.example.com", "--env", "staging")
	if line := MustLastLine(t, r.stderr); r.code != 2 || !strings.Contains(line, `--env "staging": want production or sandbox`) {
		t.Fatalf("exit %d, stderr %q; want 2 naming --env", r.code, r.stderr)
	}
}

// TestRun_GlobalFlagsAnywhere: --log-level and --log-format work after the
// command, as people type them, and before it; after wins over before.
func TestRun_GlobalFlagsAnywhere(t *testing.T) {
	srv, _ := countingSimulator(t)
	source := MustWrite(t, "d.csv", csvHeader+MustDemoRow(t, idMatch)+idMissing+",3,,,,,,\n")
	run := func(out string, before, after []string) []string {
		args := append(append([]string{}, before...), "run")
		args = append(args, after...)
		return append(args, "--source", source, "--base-url", srv.URL, "--out", out, "--rate", "0")
	}
	for _, tt := range []struct {
		name          string
		before, after []string
		discrepancy   bool // the debug line "discrepancy" is logged
	}{
		{"After", nil, []string{"--log-level", "debug", "--log-format", "json"}, true},
		{"Before", []string{"--log-level", "debug", "--log-format", "json"}, nil, true},
		{"Split", []string{"--log-format", "json"}, []string{"--log-level", "debug"}, true},
		{"AfterWins", []string{"--log-level", "debug"}, []string{"--log-level", "info", "--log-format", "json"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := MustRun(t, credentials, run(filepath.Join(t.TempDir(), "r"), tt.before, tt.after)...)
			if r.code != 1 {
				t.Fatalf("exit code %d, want 1\nstderr: %s", r.code, r.stderr)
			}
			msgs := map[string]int{}
			for _, line := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
				var l map[string]any
				if err := json.Unmarshal([]byte(line), &l); err != nil {
					t.Fatalf("not a JSON log line: %q", line)
				}
				msg, _ := l["msg"].(string)
				msgs[msg]++
			}
			if got := msgs["discrepancy"] > 0; got != tt.discrepancy || msgs["run start"] != 1 {
				t.Errorf("log messages %v; want run start, and a debug discrepancy line: %v", msgs, tt.discrepancy)
			}
		})
	}
	t.Run("ErrAfter", func(t *testing.T) {
		r := MustRun(t, credentials, "run", "--log-level", "loud", "--source", source)
		if line := MustLastLine(t, r.stderr); r.code != 2 || !strings.Contains(line, `--log-level "loud"`) {
			t.Fatalf("exit %d, stderr %q; want 2 naming --log-level", r.code, r.stderr)
		}
	})
	t.Run("OtherCommand", func(t *testing.T) {
		r := MustRun(t, nil, "version", "--log-level", "debug")
		if r.code != 0 || !strings.Contains(r.stdout, "commit") {
			t.Fatalf("version --log-level debug: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
	})
}

// TestRun_PushgatewayCAFile: the push goes through the run's HTTP client,
// so a Pushgateway behind a private CA is trusted with --ca-file.
func TestRun_PushgatewayCAFile(t *testing.T) {
	srv, _ := countingSimulator(t)
	var mu sync.Mutex
	var pushes []string
	gw := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		defer mu.Unlock()
		pushes = append(pushes, r.Method+" "+r.URL.Path)
	}))
	gw.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	gw.StartTLS()
	t.Cleanup(gw.Close)
	ca := MustWrite(t, "ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: gw.Certificate().Raw})))
	source := MustWrite(t, "ok.csv", csvHeader+MustDemoRow(t, idMatch))
	r := MustRun(t, credentials, runArgs(source, srv.URL, filepath.Join(t.TempDir(), "r"), "--pushgateway", gw.URL, "--ca-file", ca)...)
	if r.code != 0 {
		t.Fatalf("exit code %d, want 0\nstderr: %s", r.code, r.stderr)
	}
	if strings.Contains(r.stderr, `"msg":"pushgateway"`) {
		t.Errorf("the push failed:\n%s", r.stderr)
	}
	mu.Lock()
	defer mu.Unlock()
	if got, want := strings.Join(pushes, ","), "POST /metrics/job/unico_reconcile"; got != want {
		t.Fatalf("pushes %q, want %q", got, want)
	}
}
