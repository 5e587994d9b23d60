package main

import (
	"bytes"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	_ "github.com/mattn/go-sqlite3"

	"github.com/unico-reconcile/unico-reconcile/simulator"
)

// binary is the unico-reconcile built once for the end-to-end tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "unico-reconcile-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	binary = filepath.Join(dir, "unico-reconcile")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build:", err)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const (
	testAPIKey = "e2e-secret-api-key-4f1c9a"
	testToken  = "e2e-secret-token-77d2b0"
)

// MustSimulator serves data (a JSON Lines file) on loopback.
func MustSimulator(tb testing.TB, data string, cfg simulator.Config) (*simulator.Server, *httptest.Server) {
	tb.Helper()
	d, err := simulator.LoadFile(data)
	if err != nil {
		tb.Fatal(err)
	}
	sim := simulator.New(d, cfg)
	srv := httptest.NewServer(sim)
	tb.Cleanup(srv.Close)
	return sim, srv
}

// result is what one run of the binary left behind.
type result struct {
	code           int
	stdout, stderr string
}

// command prepares the binary with args and a clean environment.
func command(tb testing.TB, env []string, args ...string) *exec.Cmd {
	tb.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + tb.TempDir()}, env...)
	return cmd
}

// MustRun runs the binary to the end.
func MustRun(tb testing.TB, env []string, args ...string) result {
	tb.Helper()
	cmd := command(tb, env, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		tb.Fatalf("run %v: %v", args, err)
	}
	return result{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
}

// runArgs are the flags every test run shares: fast retries, no limit.
func runArgs(source, baseURL, out string, extra ...string) []string {
	return append([]string{"--log-format", "json", "run", "--source", source, "--base-url", baseURL,
		"--out", out, "--rate", "0", "--retry-base", "5ms", "--timeout", "2s"}, extra...)
}

var credentials = []string{"UNICO_API_KEY=" + testAPIKey, "UNICO_ACCESS_TOKEN=" + testToken}

type summary struct {
	RunID       string         `json:"run_id"`
	Source      string         `json:"source"`
	APIRoot     string         `json:"api_root"`
	StartedAt   time.Time      `json:"started_at"`
	FinishedAt  time.Time      `json:"finished_at"`
	Requests    int            `json:"requests"`
	ExitCode    int            `json:"exit_code"`
	Interrupted bool           `json:"interrupted"`
	Counts      map[string]int `json:"counts"`
}

func MustSummary(tb testing.TB, dir string) summary {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var s summary
	if err := json.Unmarshal(b, &s); err != nil {
		tb.Fatal(err)
	}
	return s
}

// verdict is one row of testdata/demo/expected.csv, or of a JSONL report.
type verdict struct {
	Row                       int
	Kind, LocalStatus, Remote string
	Fields                    string
}

func TestRun_Demo(t *testing.T) {
	sim, srv := MustSimulator(t, "testdata/demo/processes.jsonl", simulator.Config{
		APIKey: testAPIKey, Token: testToken, ErrorRate: 0.05, Seed: 7,
	})
	out := filepath.Join(t.TempDir(), "reports")
	r := MustRun(t, credentials, runArgs("testdata/demo/saved.csv", srv.URL, out, "--max-retries", "4")...)
	if got, want := r.code, 3; got != want {
		t.Fatalf("exit code %d, want %d\nstderr: %s", got, want, r.stderr)
	}
	if !strings.Contains(r.stdout, "unverified") || !strings.Contains(r.stdout, out) {
		t.Errorf("stdout lacks the summary:\n%s", r.stdout)
	}

	var wantCounts map[string]int
	if err := json.Unmarshal(MustRead(t, "testdata/demo/expected_counts.json"), &wantCounts); err != nil {
		t.Fatal(err)
	}
	s := MustSummary(t, out)
	if diff := cmp.Diff(wantCounts, s.Counts); diff != "" {
		t.Errorf("summary.json counts (-want +got):\n%s", diff)
	}
	if s.RunID == "" || s.Source != "testdata/demo/saved.csv" || s.APIRoot != srv.URL || !s.StartedAt.Before(s.FinishedAt) {
		t.Errorf("summary.json describes the run as %+v", s)
	}
	if got, want := s.Requests, sim.Stats().Requests; got != want {
		t.Errorf("summary requests=%d, the server saw %d", got, want)
	}

	// The golden set: every listed verdict of expected.csv, in source order.
	var want []verdict
	expected := MustCSV(t, "testdata/demo/expected.csv")
	for _, rec := range expected[1:] {
		if rec[2] == "match" || rec[2] == "pending" {
			if rec[2] == "match" && rec[1] != "" {
				if n := sim.RequestsFor(rec[1]); n == 0 {
					t.Errorf("row %s (%s) was never fetched", rec[0], rec[1])
				}
			}
			continue
		}
		row, _ := strconv.Atoi(rec[0])
		v := verdict{Row: row, Kind: rec[2], LocalStatus: rec[3], Remote: rec[4], Fields: rec[5]}
		if v.Kind == "invalid_input" {
			v.LocalStatus = "" // an unusable row carries no outcome; its detail names the column
		}
		want = append(want, v)
	}
	if diff := cmp.Diff(want, MustVerdicts(t, out)); diff != "" {
		t.Errorf("discrepancies.jsonl (-want +got):\n%s", diff)
	}
	if got, want := len(MustCSV(t, filepath.Join(out, "discrepancies.csv")))-1, len(want); got != want {
		t.Errorf("discrepancies.csv has %d rows, want %d", got, want)
	}
	// Invalid rows are never sent (some of them name ids the API knows).
	for _, rec := range expected[1:] {
		if n := sim.RequestsFor(rec[1]); rec[2] == "invalid_input" && n != 0 {
			t.Errorf("invalid row %s was sent %d times", rec[0], n)
		}
	}
	MustNoTempFiles(t, out)
}

// MustVerdicts reads the listed verdicts back from discrepancies.jsonl.
func MustVerdicts(tb testing.TB, dir string) []verdict {
	tb.Helper()
	var got []verdict
	for _, line := range bytes.Split(bytes.TrimSpace(MustRead(tb, filepath.Join(dir, "discrepancies.jsonl"))), []byte("\n")) {
		var d struct {
			Row          int    `json:"row"`
			Kind         string `json:"kind"`
			LocalStatus  *int   `json:"local_status"`
			RemoteStatus *int   `json:"remote_status"`
			Fields       string `json:"fields"`
		}
		if err := json.Unmarshal(line, &d); err != nil {
			tb.Fatalf("%s: %v", line, err)
		}
		v := verdict{Row: d.Row, Kind: d.Kind, Fields: d.Fields}
		if d.LocalStatus != nil {
			v.LocalStatus = strconv.Itoa(*d.LocalStatus)
		}
		if d.RemoteStatus != nil {
			v.Remote = strconv.Itoa(*d.RemoteStatus)
		}
		got = append(got, v)
	}
	return got
}

func MustRead(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func MustCSV(tb testing.TB, path string) [][]string {
	tb.Helper()
	recs, err := csv.NewReader(bytes.NewReader(MustRead(tb, path))).ReadAll()
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return recs
}

// MustNoTempFiles fails when dir holds anything but the five reports.
func MustNoTempFiles(tb testing.TB, dir string) {
	tb.Helper()
	if diff := cmp.Diff([]string{"discrepancies.csv", "discrepancies.jsonl", "manifest.json", "report.html", "summary.json"}, MustReadDirNames(tb, dir)); diff != "" {
		tb.Errorf("report folder (-want +got):\n%s", diff)
	}
}

// MustWrite writes content to name in a new temporary folder.
func MustWrite(tb testing.TB, name, content string) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

const (
	idMatch   = "019e60c8-d110-41dd-9295-c8b89177857b" // status 3 in the demo data
	idMissing = "00000000-0000-4000-8000-000000000001" // not in the demo data
	idFaulty  = "2038eaac-5d89-4ce5-9ba1-9817ef3b5715" // x-sim-fault error
	csvHeader = "process_id,status,unico_id_result,identity_fraudsters_result,serpro_score,liveness,score,saved_at\n"
)

func TestRun_ExitCodes(t *testing.T) {
	_, srv := MustSimulator(t, "testdata/demo/processes.jsonl", simulator.Config{APIKey: testAPIKey, Token: testToken})
	match := MustDemoRow(t, idMatch)
	for _, tt := range []struct {
		name   string
		source string
		env    []string
		extra  []string
		code   int
		stderr string // a part of the one line on stderr, for exit 2
	}{
		{name: "OK", source: MustWrite(t, "ok.csv", csvHeader+match), env: credentials, code: 0},
		{name: "Discrepancies", source: MustWrite(t, "d.csv", csvHeader+match+idMissing+",3,,,,,,\n"), env: credentials, code: 1},
		{name: "Unverified", source: MustWrite(t, "u.csv", csvHeader+match+idFaulty+",3,,,,,,\n"), env: credentials, extra: []string{"--max-retries", "1"}, code: 3},
		{name: "EmptySource", source: MustWrite(t, "empty.csv", ""), env: credentials, code: 2, stderr: "empty.csv"},
		{name: "HeaderOnly", source: MustWrite(t, "header.csv", csvHeader), env: credentials, code: 0},
		{name: "NoProcessIDColumn", source: MustWrite(t, "nocol.csv", "id,status\nx,3\n"), env: credentials, code: 2, stderr: "process_id"},
		{name: "BinaryJunk", source: MustWrite(t, "junk.csv", "\x00\x01\x02\xff\xfe binary"), env: credentials, code: 2, stderr: "junk.csv"},
		{name: "NotADatabase", source: MustWrite(t, "junk.db", "this is not sqlite at all, just text....."), env: credentials, code: 2, stderr: "junk.db"},
		{name: "MissingFile", source: "testdata/does-not-exist.csv", env: credentials, code: 2, stderr: "does-not-exist.csv"},
		{name: "WrongAPIKey", source: "testdata/demo/saved.csv", env: []string{"UNICO_API_KEY=wrong-key-123456", "UNICO_ACCESS_TOKEN=" + testToken}, code: 2, stderr: "10201"},
		{name: "WrongToken", source: "testdata/demo/saved.csv", env: []string{"UNICO_API_KEY=" + testAPIKey, "UNICO_ACCESS_TOKEN=wrong-token-654321"}, code: 2, stderr: "10501"},
		{name: "NoAPIKey", source: "testdata/demo/saved.csv", env: []string{"UNICO_ACCESS_TOKEN=" + testToken}, code: 2, stderr: "20002"},
		{name: "NoToken", source: "testdata/demo/saved.csv", env: []string{"UNICO_API_KEY=" + testAPIKey}, code: 2, stderr: "20001"},
		{name: "BadFlag", source: "testdata/demo/saved.csv", env: credentials, extra: []string{"--since", "yesterday"}, code: 2, stderr: "--since"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "reports")
			r := MustRun(t, tt.env, runArgs(tt.source, srv.URL, out, tt.extra...)...)
			if r.code != tt.code {
				t.Fatalf("exit code %d, want %d\nstderr: %s", r.code, tt.code, r.stderr)
			}
			if tt.code == 2 {
				line := MustLastLine(t, r.stderr)
				// At most the plan, the start and the stop log lines before it.
				if !strings.Contains(line, tt.stderr) || strings.Count(r.stderr, "\n") > 4 {
					t.Errorf("stderr ends %q, want one line naming %q\nall: %s", line, tt.stderr, r.stderr)
				}
				if _, err := os.Stat(filepath.Join(out, "summary.json")); err == nil {
					t.Error("summary.json written on a fatal error")
				}
				return
			}
			if got := MustSummary(t, out).ExitCode; got != tt.code {
				t.Errorf("summary.json exit_code=%d, want %d", got, tt.code)
			}
			MustNoTempFiles(t, out)
		})
	}
}

// MustDemoRow returns the saved.csv line of the demo for id.
func MustDemoRow(tb testing.TB, id string) string {
	tb.Helper()
	for _, line := range strings.Split(string(MustRead(tb, "testdata/demo/saved.csv")), "\n") {
		if strings.HasPrefix(line, id+",") {
			return strings.TrimRight(line, "\r") + "\n"
		}
	}
	tb.Fatalf("%s not in testdata/demo/saved.csv", id)
	return ""
}

// MustLastLine returns stderr's last line that is not a JSON log line.
func MustLastLine(tb testing.TB, stderr string) string {
	tb.Helper()
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if !strings.HasPrefix(lines[i], "{") {
			return lines[i]
		}
	}
	tb.Fatalf("no message on stderr: %q", stderr)
	return ""
}

func TestRun_Signal(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			sim, srv := MustSimulator(t, "testdata/demo/processes.jsonl", simulator.Config{APIKey: testAPIKey, Token: testToken})
			out := filepath.Join(t.TempDir(), "reports")
			cmd := command(t, credentials, "--log-format", "json", "run", "--source", "testdata/demo/saved.csv",
				"--base-url", srv.URL, "--out", out, "--rate", "20")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(30 * time.Second)
			for sim.Stats().Requests < 10 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			_ = cmd.Wait()
			if got, want := cmd.ProcessState.ExitCode(), 3; got != want {
				t.Fatalf("exit code %d, want %d\nstderr: %s", got, want, stderr.String())
			}
			s := MustSummary(t, out)
			if !s.Interrupted || s.Counts["total"] != 300 || s.Counts["unverified"] < 100 {
				t.Errorf("summary after %s: interrupted=%v counts=%v; want interrupted, 300 rows, most unverified", sig, s.Interrupted, s.Counts)
			}
			if seen := sim.Stats().Requests; seen > 100 {
				t.Errorf("the server saw %d requests: the job went on after the signal", seen)
			}
			MustNoTempFiles(t, out)
		})
	}
}

func TestRun_TokenFileReread(t *testing.T) {
	d, err := simulator.LoadFile("testdata/demo/processes.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	sim := simulator.New(d, simulator.Config{APIKey: testAPIKey, ExpiredTokens: []string{"old-token"}})
	tokenFile := MustWrite(t, "token", "old-token\n")
	for _, tt := range []struct {
		name    string
		refresh bool // does the outside refresher write a new token?
		code    int
	}{
		{name: "Renewed", refresh: true, code: 0},
		{name: "StillExpired", refresh: false, code: 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := os.WriteFile(tokenFile, []byte("old-token\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			// The refresher writes the new token when the API first says
			// the old one expired.
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.refresh && r.Header.Get("Authorization") == "Bearer old-token" {
					_ = os.WriteFile(tokenFile, []byte("new-token\n"), 0o600)
				}
				sim.ServeHTTP(w, r)
			}))
			t.Cleanup(srv.Close)
			source := MustWrite(t, "ok.csv", csvHeader+MustDemoRow(t, idMatch))
			out := filepath.Join(t.TempDir(), "reports")
			r := MustRun(t, []string{"UNICO_API_KEY=" + testAPIKey}, runArgs(source, srv.URL, out, "--token-file", tokenFile)...)
			if r.code != tt.code {
				t.Fatalf("exit code %d, want %d\nstderr: %s", r.code, tt.code, r.stderr)
			}
			if tt.code == 2 && !strings.Contains(MustLastLine(t, r.stderr), "10502") {
				t.Errorf("stderr does not name the expired token (10502): %s", r.stderr)
			}
		})
	}
}

// TestRun_NoSecrets runs through the success and failure paths with known
// secrets and looks for them everywhere the job writes.
func TestRun_NoSecrets(t *testing.T) {
	_, srv := MustSimulator(t, "testdata/demo/processes.jsonl", simulator.Config{APIKey: testAPIKey, Token: testToken})
	for _, tt := range []struct {
		name string
		env  []string
	}{
		{"OK", credentials},
		{"WrongAPIKey", []string{"UNICO_API_KEY=" + testAPIKey + "x", "UNICO_ACCESS_TOKEN=" + testToken}},
		{"WrongToken", []string{"UNICO_API_KEY=" + testAPIKey, "UNICO_ACCESS_TOKEN=" + testToken + "x"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "reports")
			r := MustRun(t, tt.env, append([]string{"--log-level", "debug"}, runArgs("testdata/demo/saved.csv", srv.URL, out, "--max-retries", "1")...)...)
			if r.code == 2 && !strings.Contains(r.stderr, "rejected") {
				t.Fatalf("exit 2 for another cause than the credentials: %s", MustLastLine(t, r.stderr))
			}
			texts := map[string]string{"stdout": r.stdout, "stderr": r.stderr}
			entries, _ := os.ReadDir(out)
			for _, e := range entries {
				texts[e.Name()] = string(MustRead(t, filepath.Join(out, e.Name())))
			}
			for name, text := range texts {
				for _, secret := range []string{testAPIKey, testToken} {
					if strings.Contains(text, secret) {
						t.Errorf("%s holds a secret", name)
					}
				}
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"UnknownCommand", []string{"nosuch"}, `no command "nosuch"`},
		{"UnknownFlag", []string{"run", "--bogus"}, "bogus"},
		{"BadFlagValue", []string{"run", "--source", "x.csv", "--rate", "abc"}, "rate"},
		{"NoSource", []string{"run"}, "--source is required"},
		{"BadLogLevel", []string{"--log-level", "loud", "run", "--source", "x.csv"}, "--log-level"},
		{"BadEnv", []string{"run", "--source", "x.csv", "--env", "staging"}, "--env"},
		{"BadOutageTimeout", []string{"run", "--source", "x.csv", "--outage-timeout", "0s"}, "--outage-timeout"},
		{"BadSimulateRate", []string{"simulate", "--data", "x.jsonl", "--unavailable-rate", "2"}, "--unavailable-rate"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := MustRun(t, nil, tt.args...)
			if got, want := r.code, 2; got != want {
				t.Errorf("exit code %d, want %d", got, want)
			}
			if r.stdout != "" {
				t.Errorf("stdout %q, want nothing (it carries only the summary)", r.stdout)
			}
			if line := MustLastLine(t, r.stderr); !strings.Contains(line, tt.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
				t.Errorf("stderr %q, want one line naming %q", r.stderr, tt.want)
			}
		})
	}
}

// TestRun_SQLiteSource runs the binary on a SQLite source, with the default
// query and with --query, and checks that the database is left as it was.
func TestRun_SQLiteSource(t *testing.T) {
	_, srv := MustSimulator(t, "testdata/demo/processes.jsonl", simulator.Config{APIKey: testAPIKey, Token: testToken})
	path := filepath.Join(t.TempDir(), "outcomes.db")
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`CREATE TABLE outcomes (pid TEXT, st INTEGER, unico TEXT, fraud TEXT, serpro INTEGER, live INTEGER, score REAL, saved TEXT)`,
		`INSERT INTO outcomes VALUES ('` + idMatch + `', 3, NULL, NULL, NULL, NULL, NULL, '2026-01-02T03:04:05Z')`,
		`INSERT INTO outcomes VALUES ('` + idMissing + `', 3, 'yes', NULL, 90, NULL, NULL, NULL)`,
		`CREATE VIEW processes AS SELECT pid AS process_id, st AS status, unico AS unico_id_result,
			fraud AS identity_fraudsters_result, serpro AS serpro_score, live AS liveness, score, saved AS saved_at FROM outcomes`,
	} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	before := MustRead(t, path)
	for _, tt := range []struct {
		name  string
		extra []string
		total int
	}{
		{"DefaultQuery", nil, 2},
		{"Query", []string{"--query", "SELECT pid AS process_id, st AS status FROM outcomes WHERE serpro IS NULL"}, 1},
		{"BadQuery", []string{"--query", "SELECT process_id FROM nowhere"}, -1},
		{"QueryWithoutProcessID", []string{"--query", "SELECT pid, st AS status FROM outcomes"}, -1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "reports")
			r := MustRun(t, credentials, runArgs("sqlite:"+path, srv.URL, out, tt.extra...)...)
			if tt.total < 0 {
				if r.code != 2 || !strings.Contains(MustLastLine(t, r.stderr), "outcomes.db") {
					t.Errorf("exit code %d, stderr %q; want 2 and one line naming the database", r.code, r.stderr)
				}
				return
			}
			if r.code > 1 {
				t.Fatalf("exit code %d\nstderr: %s", r.code, r.stderr)
			}
			if got := MustSummary(t, out).Counts["total"]; got != tt.total {
				t.Errorf("total=%d, want %d", got, tt.total)
			}
		})
	}
	if !bytes.Equal(before, MustRead(t, path)) {
		t.Error("the source database changed")
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("the source folder holds %d entries, want only the database (no journal, -wal or -shm)", len(entries))
	}
}

// TestDemo runs the demo command as make demo does.
func TestDemo(t *testing.T) {
	out := filepath.Join(t.TempDir(), "demo")
	r := MustRun(t, nil, "demo", "--out", out)
	if r.code != 0 {
		t.Fatalf("exit code %d, want 0\nstderr: %s", r.code, r.stderr)
	}
	for _, k := range []string{"matched", "pending", "lost_response", "status_mismatch", "result_mismatch",
		"not_found", "still_processing", "unverified", "invalid_input", "duplicate_id"} {
		if !strings.Contains(r.stdout, k) {
			t.Errorf("the demo's summary lacks %s:\n%s", k, r.stdout)
		}
	}
	sum := MustSummary(t, out)
	for k, n := range sum.Counts {
		if n == 0 {
			t.Errorf("the demo shows no %s", k)
		}
	}
	MustNoTempFiles(t, out)

	// Its end names the repair of what it found, and that command works.
	state := filepath.Join(filepath.Dir(out), "state.db")
	advice := "repair --run last --state " + state + " --out " + out + "-repair"
	if !strings.Contains(r.stdout, advice) {
		t.Fatalf("the demo does not end with %q:\n%s", advice, r.stdout)
	}
	rep := MustRun(t, nil, strings.Fields(advice)...)
	if rows := MustCSV(t, filepath.Join(out+"-repair", "repairs.csv")); rep.code != 0 || len(rows)-1 != sum.Counts["lost_response"] {
		t.Errorf("repair: exit %d, %d rows for %d lost responses\n%s", rep.code, len(rows)-1, sum.Counts["lost_response"], rep.stderr)
	}
}

// TestSimulate starts the simulate command and asks it for a known and an
// unknown process.
func TestSimulate(t *testing.T) {
	root := MustSimulateProcess(t, "testdata/demo/processes.jsonl")
	for _, tt := range []struct {
		id   string
		code int
	}{
		{idMatch, http.StatusOK},
		{idMissing, http.StatusNotFound},
		{"not-a-uuid", http.StatusBadRequest},
	} {
		resp, err := http.Get(root + "/processes/v1/" + tt.id)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.code {
			t.Errorf("GET %s: %d, want %d", tt.id, resp.StatusCode, tt.code)
		}
	}
}

// TestRun_Logs: at info, one line when the run starts and one when it ends
// with the counts; a line per discrepancy only at debug.
func TestRun_Logs(t *testing.T) {
	_, srv := MustSimulator(t, "testdata/demo/processes.jsonl", simulator.Config{APIKey: testAPIKey, Token: testToken})
	source := MustWrite(t, "d.csv", csvHeader+MustDemoRow(t, idMatch)+idMissing+",3,,,,,,\n")
	for _, tt := range []struct {
		level         string
		discrepancies int
	}{
		{"info", 0},
		{"debug", 1},
	} {
		t.Run(tt.level, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "reports")
			r := MustRun(t, credentials, append([]string{"--log-level", tt.level}, runArgs(source, srv.URL, out)...)...)
			msgs := map[string]int{}
			var end map[string]any
			for _, line := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
				var l map[string]any
				if err := json.Unmarshal([]byte(line), &l); err != nil {
					t.Fatalf("not a JSON log line: %q", line)
				}
				msg, _ := l["msg"].(string)
				msgs[msg]++
				if msg == "run end" {
					end = l
				}
			}
			if msgs["run start"] != 1 || msgs["run end"] != 1 || msgs["discrepancy"] != tt.discrepancies {
				t.Errorf("log messages %v; want one run start, one run end, %d discrepancy", msgs, tt.discrepancies)
			}
			if end["total"] != 2.0 || end["not_found"] != 1.0 || end["exit_code"] != 1.0 {
				t.Errorf("run end line %v lacks the counts", end)
			}
		})
	}
}
