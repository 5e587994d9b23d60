package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/unico-reconcile/unico-reconcile/job"
	"github.com/unico-reconcile/unico-reconcile/simulator"
)

// MustDataset writes n saved outcomes (saved.csv) and the API's bodies
// (processes.jsonl) into dir. Every kind a fault-free API can give appears:
// of each ten rows, four match, then a lost response, a status mismatch, a
// result mismatch, a process the API does not know, an invalid row and a
// repeat. It returns the two paths and how many processes are fetchable.
func MustDataset(tb testing.TB, dir string, n int) (data, saved string, fetchable int) {
	tb.Helper()
	var api, csv bytes.Buffer
	csv.WriteString("process_id,status,unico_id_result,identity_fraudsters_result,serpro_score,liveness,score,saved_at\n")
	id := func(i int) string { return fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i) }
	for i := range n {
		remote, local := 3, "3"
		unico := "yes"
		switch i % 10 {
		case 4:
			local = ""
		case 5:
			remote = 4
		case 6:
			unico = "no"
		case 8:
			fmt.Fprintf(&csv, "not-a-uuid-%d,3,yes,,,,,2026-01-01T00:00:00Z\n", i)
			continue
		case 9:
			fmt.Fprintf(&csv, "%s,3,yes,,,,,2026-01-01T00:00:00Z\n", id(i-9))
			continue
		}
		fetchable++
		fmt.Fprintf(&csv, "%s,%s,%s,,,,,2026-01-01T00:00:00Z\n", id(i), local, unico)
		if i%10 == 7 {
			continue // unknown to the API
		}
		fmt.Fprintf(&api, `{"id":%q,"status":%d,"unicoId":{"result":"yes"}}`+"\n", id(i), remote)
	}
	data, saved = filepath.Join(dir, "processes.jsonl"), filepath.Join(dir, "saved.csv")
	for path, b := range map[string][]byte{data: api.Bytes(), saved: csv.Bytes()} {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	return data, saved, fetchable
}

// switchable serves through whichever simulator is current, so that a test
// can change the API's behaviour (an outage, then recovery) at one URL.
type switchable struct {
	cur atomic.Pointer[simulator.Server]
}

func (s *switchable) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.cur.Load().ServeHTTP(w, r) }

// MustSwitchable serves sim on loopback behind a switchable handler.
func MustSwitchable(tb testing.TB, sim *simulator.Server) (*switchable, string) {
	tb.Helper()
	sw := &switchable{}
	sw.cur.Store(sim)
	srv := httptest.NewServer(sw)
	tb.Cleanup(srv.Close)
	return sw, srv.URL
}

func MustNewSimulator(tb testing.TB, data string, cfg simulator.Config) *simulator.Server {
	tb.Helper()
	d, err := simulator.LoadFile(data)
	if err != nil {
		tb.Fatal(err)
	}
	cfg.APIKey, cfg.Token = testAPIKey, testToken
	return simulator.New(d, cfg)
}

var fetchedAt = regexp.MustCompile(`"fetched_at":("[^"]*"|null)`)

// MustSameReports fails unless dir holds the same discrepancies as want,
// byte for byte except the time each answer arrived, and the same counts.
func MustSameReports(tb testing.TB, want, dir string) {
	tb.Helper()
	if got, want := string(MustRead(tb, filepath.Join(dir, "discrepancies.csv"))), string(MustRead(tb, filepath.Join(want, "discrepancies.csv"))); got != want {
		tb.Errorf("discrepancies.csv differs (-want +got):\n%s", cmp.Diff(want, got))
	}
	strip := func(p string) string { return fetchedAt.ReplaceAllString(string(MustRead(tb, p)), `"fetched_at":"-"`) }
	if got, want := strip(filepath.Join(dir, "discrepancies.jsonl")), strip(filepath.Join(want, "discrepancies.jsonl")); got != want {
		tb.Errorf("discrepancies.jsonl differs (-want +got):\n%s", cmp.Diff(want, got))
	}
	g, w := MustSummary(tb, dir), MustSummary(tb, want)
	if !cmp.Equal(g.Counts, w.Counts) || g.ExitCode != w.ExitCode || g.Requests != w.Requests {
		tb.Errorf("summary: counts %v exit %d requests %d, want %v exit %d requests %d",
			g.Counts, g.ExitCode, g.Requests, w.Counts, w.ExitCode, w.Requests)
	}
}

// TestRun_ResumeAfterKill kills the binary with SIGKILL at several moments,
// resumes it, and checks that the reports equal an uninterrupted run's and
// that the server saw at most --workers repeated requests per kill.
func TestRun_ResumeAfterKill(t *testing.T) {
	const workers = 8
	dir := t.TempDir()
	data, saved, fetchable := MustDataset(t, dir, 3000)
	cfg := simulator.Config{Latency: 2 * time.Millisecond}

	_, refURL := MustSwitchable(t, MustNewSimulator(t, data, cfg))
	ref := filepath.Join(dir, "ref", "out")
	if r := MustRun(t, credentials, runArgs(saved, refURL, ref, "--workers", fmt.Sprint(workers))...); r.code != 1 {
		t.Fatalf("reference run: exit %d, want 1\n%s", r.code, r.stderr)
	}

	for _, kills := range [][]int{{0}, {1}, {400}, {1500}, {fetchable - 5}, {300, 1200}} {
		t.Run(fmt.Sprint(kills), func(t *testing.T) {
			sim := MustNewSimulator(t, data, cfg)
			_, url := MustSwitchable(t, sim)
			base := t.TempDir()
			out := filepath.Join(base, "out")
			args := runArgs(saved, url, out, "--workers", fmt.Sprint(workers), "--resume")
			for _, at := range kills {
				cmd := command(t, credentials, args...)
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				deadline := time.Now().Add(30 * time.Second)
				for sim.Stats().Requests < at && time.Now().Before(deadline) {
					time.Sleep(200 * time.Microsecond)
				}
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				_ = cmd.Wait()
			}
			r := MustRun(t, credentials, args...)
			if r.code != 1 {
				t.Fatalf("resumed run: exit %d, want 1\n%s", r.code, r.stderr)
			}
			MustSameReports(t, ref, out)
			MustNoTempFiles(t, out) // the killed runs' temporary files are gone too
			extra := sim.Stats().Requests - fetchable
			t.Logf("%d repeated requests after %d kill(s)", extra, len(kills))
			if extra > workers*len(kills) {
				t.Errorf("the server saw %d requests for %d processes: %d repeats, want at most %d (--workers per kill)",
					sim.Stats().Requests, fetchable, extra, workers*len(kills))
			}
			// Besides the reports, the run history is all that was written,
			// and its answers log is gone once imported.
			for _, e := range MustReadDirNames(t, base) {
				if e != "out" && e != "state.db" && e != "state.db-wal" && e != "state.db-shm" {
					t.Errorf("the run left %s beside its reports and history", e)
				}
			}
			runs := MustRuns(t, filepath.Join(base, "state.db"))
			if len(runs) != 1 || runs[0].State != "finished" || runs[0].ExitCode == nil || *runs[0].ExitCode != 1 {
				t.Errorf("run history %+v, want one finished run (resumed, not restarted) with exit 1", runs)
			}
		})
	}
}

// MustReadDirNames lists the names in dir.
func MustReadDirNames(tb testing.TB, dir string) []string {
	tb.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// MustRuns lists the run history through `runs` (JSON when not on a terminal).
func MustRuns(tb testing.TB, statePath string) []job.RunView {
	tb.Helper()
	r := MustRun(tb, nil, "runs", "--state", statePath)
	if r.code != 0 {
		tb.Fatalf("runs: exit %d\n%s", r.code, r.stderr)
	}
	var runs []job.RunView
	if err := json.Unmarshal([]byte(r.stdout), &runs); err != nil {
		tb.Fatalf("runs output is not JSON: %v\n%s", err, r.stdout)
	}
	return runs
}

// TestRun_Recheck runs through an outage (a third of the answers are 500s,
// no retries), then re-checks the run once the API is well: only the
// unverified processes are fetched, all are recovered, and the new run's
// reports equal a run that never saw the outage.
func TestRun_Recheck(t *testing.T) {
	dir := t.TempDir()
	data, saved, fetchable := MustDataset(t, dir, 600)
	_, refURL := MustSwitchable(t, MustNewSimulator(t, data, simulator.Config{}))
	ref := filepath.Join(dir, "ref", "out")
	if r := MustRun(t, credentials, runArgs(saved, refURL, ref)...); r.code != 1 {
		t.Fatalf("reference run: exit %d\n%s", r.code, r.stderr)
	}

	sw, url := MustSwitchable(t, MustNewSimulator(t, data, simulator.Config{ErrorRate: 0.35, Seed: 3}))
	base := t.TempDir()
	first := filepath.Join(base, "night")
	r := MustRun(t, credentials, runArgs(saved, url, first, "--max-retries", "0")...)
	if r.code != 3 {
		t.Fatalf("run during the outage: exit %d, want 3\n%s", r.code, r.stderr)
	}
	unverified := MustSummary(t, first).Counts["unverified"]
	if unverified < fetchable/5 {
		t.Fatalf("only %d unverified: the outage did not happen", unverified)
	}

	for _, which := range []string{"last", MustSummary(t, first).RunID} {
		t.Run(which, func(t *testing.T) {
			well := MustNewSimulator(t, data, simulator.Config{})
			sw.cur.Store(well)
			out := filepath.Join(base, "recheck-"+which)
			r := MustRun(t, credentials, "--log-format", "json", "run", "--recheck", which, "--state", filepath.Join(base, "state.db"),
				"--out", out, "--rate", "0", "--retry-base", "5ms", "--summary-json")
			if r.code != 1 {
				t.Fatalf("recheck: exit %d, want 1\n%s", r.code, r.stderr)
			}
			if got := well.Stats().Requests; got != unverified {
				t.Errorf("the recheck sent %d requests, want %d (the unverified processes only)", got, unverified)
			}
			var s struct {
				RecheckOf string `json:"recheck_of"`
				Rechecked int    `json:"rechecked"`
				Recovered int    `json:"recovered"`
				Reused    int    `json:"reused"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
				t.Fatal(err)
			}
			if s.RecheckOf != MustSummary(t, first).RunID || s.Rechecked != unverified || s.Recovered != unverified {
				t.Errorf("summary says recheck_of %q rechecked %d recovered %d, want %q %d %d",
					s.RecheckOf, s.Rechecked, s.Recovered, MustSummary(t, first).RunID, unverified, unverified)
			}
			if got, want := s.Reused, fetchable-unverified; got != want {
				t.Errorf("reused %d answers, want %d", got, want)
			}
			g, w := MustSummary(t, out), MustSummary(t, ref)
			if !cmp.Equal(g.Counts, w.Counts) {
				t.Errorf("recheck counts %v, want %v (as without the outage)", g.Counts, w.Counts)
			}
			if got, want := string(MustRead(t, filepath.Join(out, "discrepancies.csv"))), string(MustRead(t, filepath.Join(ref, "discrepancies.csv"))); got != want {
				t.Errorf("discrepancies.csv differs from the run without outage:\n%s", cmp.Diff(want, got))
			}
		})
	}
}

// TestReport_Rewrite writes past runs' reports again from the history and
// compares them byte for byte with what the runs wrote.
func TestReport_Rewrite(t *testing.T) {
	dir := t.TempDir()
	data, saved, _ := MustDataset(t, dir, 500)
	_, url := MustSwitchable(t, MustNewSimulator(t, data, simulator.Config{ErrorRate: 0.1, Seed: 5}))
	base := t.TempDir()
	var ids []string
	for i, extra := range [][]string{{"--max-retries", "0"}, {"--since", "2027-01-01"}, nil} {
		out := filepath.Join(base, fmt.Sprint("run", i))
		if r := MustRun(t, credentials, runArgs(saved, url, out, extra...)...); r.code == 2 {
			t.Fatalf("run %d: exit 2\n%s", i, r.stderr)
		}
		ids = append(ids, MustSummary(t, out).RunID)
	}
	for i, id := range append(ids, "last") {
		orig := filepath.Join(base, fmt.Sprint("run", min(i, 2)))
		again := filepath.Join(t.TempDir(), "again")
		r := MustRun(t, nil, "report", "--state", filepath.Join(base, "state.db"), "--run", id, "--out", again)
		if r.code != 0 {
			t.Fatalf("report --run %s: exit %d\n%s", id, r.code, r.stderr)
		}
		for _, name := range []string{"discrepancies.csv", "discrepancies.jsonl", "summary.json"} {
			if !bytes.Equal(MustRead(t, filepath.Join(again, name)), MustRead(t, filepath.Join(orig, name))) {
				t.Errorf("report --run %s: %s differs from the original", id, name)
			}
		}
	}
	r := MustRun(t, nil, "report", "--state", filepath.Join(base, "state.db"), "--run", "20200101T000000Z-000000", "--out", t.TempDir())
	if r.code != 2 || !strings.Contains(r.stderr, "20200101T000000Z-000000") {
		t.Errorf("report of an unknown run: exit %d, stderr %q; want 2 naming the run", r.code, r.stderr)
	}
}

// TestRun_Lock starts a long run, checks that a second run on the same
// history is refused at once naming the holder, then kills the first and
// checks that the next run takes the lock over.
func TestRun_Lock(t *testing.T) {
	dir := t.TempDir()
	data, saved, _ := MustDataset(t, dir, 400)
	sim := MustNewSimulator(t, data, simulator.Config{})
	_, url := MustSwitchable(t, sim)
	base := t.TempDir()
	first := command(t, credentials, runArgs(saved, url, filepath.Join(base, "a"), "--rate", "20")...)
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	defer first.Process.Kill()
	deadline := time.Now().Add(20 * time.Second)
	for sim.Stats().Requests < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}

	start := time.Now()
	r := MustRun(t, credentials, runArgs(saved, url, filepath.Join(base, "b"))...)
	if r.code != 2 {
		t.Fatalf("second run: exit %d, want 2\n%s", r.code, r.stderr)
	}
	// The holder runs for 16 s (320 processes at 20/s): a second run that
	// waited for the lock would take that long.
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the second run took %s to give up: want at once", took)
	}
	host, _ := os.Hostname()
	for _, want := range []string{fmt.Sprintf("pid %d", first.Process.Pid), host, "in use"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("the refusal does not say %q:\n%s", want, r.stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(base, "b")); err == nil {
		t.Error("the refused run created its report folder")
	}

	_ = first.Process.Signal(syscall.SIGKILL)
	_ = first.Wait()
	r = MustRun(t, credentials, runArgs(saved, url, filepath.Join(base, "c"))...)
	if r.code != 1 {
		t.Fatalf("run after the holder was killed: exit %d, want 1\n%s", r.code, r.stderr)
	}
	if want := fmt.Sprintf(`"pid":%d`, first.Process.Pid); !strings.Contains(r.stderr, "took over") || !strings.Contains(r.stderr, want) {
		t.Errorf("the take-over is not logged with the dead holder's pid:\n%s", r.stderr)
	}
}

// TestRun_MaxDuration: a plan longer than the limit is announced, the run
// stops at the limit with exit 3, and --resume finishes the work.
func TestRun_MaxDuration(t *testing.T) {
	dir := t.TempDir()
	data, saved, fetchable := MustDataset(t, dir, 400) // 320 to fetch at 40/s: 8 s
	sim := MustNewSimulator(t, data, simulator.Config{})
	_, url := MustSwitchable(t, sim)
	ref := filepath.Join(dir, "ref")
	_, refURL := MustSwitchable(t, MustNewSimulator(t, data, simulator.Config{}))
	if r := MustRun(t, credentials, runArgs(saved, refURL, ref)...); r.code != 1 {
		t.Fatalf("reference run: exit %d\n%s", r.code, r.stderr)
	}

	out := filepath.Join(t.TempDir(), "out")
	r := MustRun(t, credentials, runArgs(saved, url, out, "--rate", "40", "--workers", "4", "--max-duration", "1s")...)
	if r.code != 3 {
		t.Fatalf("run with --max-duration: exit %d, want 3\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "plan exceeds --max-duration") || !strings.Contains(r.stderr, `"to_fetch":400`) {
		t.Errorf("no plan warning with 400 to fetch in the log:\n%s", r.stderr)
	}
	// 400 processes in 1 s: the warning says which --rate would fit.
	if !strings.Contains(r.stderr, "--rate 400 would fit") || !strings.Contains(r.stderr, `"rate_to_fit":400`) {
		t.Errorf("the plan warning does not say which --rate would fit:\n%s", r.stderr)
	}
	s := MustSummary(t, out)
	if !s.Interrupted || s.Counts["total"] != 400 {
		t.Errorf("summary at the limit: interrupted=%v counts=%v; want interrupted with every row counted", s.Interrupted, s.Counts)
	}
	if !strings.Contains(string(MustRead(t, filepath.Join(out, "discrepancies.csv"))), "time limit") {
		t.Error("the processes left at the limit are not reported as such")
	}
	// About 40 requests fit in the second at 40/s; the whole work is 320.
	fetched := sim.Stats().Requests
	if fetched >= fetchable/2 {
		t.Errorf("%d of %d processes fetched before the run stopped: the limit did not stop it", fetched, fetchable)
	}

	r = MustRun(t, credentials, runArgs(saved, url, out, "--resume")...)
	if r.code != 1 {
		t.Fatalf("resume: exit %d, want 1\n%s", r.code, r.stderr)
	}
	MustSameReports(t, ref, out)
	if got := sim.Stats().Requests; got != fetchable {
		t.Errorf("the server saw %d requests in all (%d before the limit), want %d: in-flight fetches finish and are not repeated",
			got, fetched, fetchable)
	}
}

// TestRun_ResumePicksTheSameJob: --resume continues the newest run of the
// same source and window when it did not finish, and starts a new run
// otherwise (another window, or the newest run finished).
func TestRun_ResumePicksTheSameJob(t *testing.T) {
	dir := t.TempDir()
	data, saved, _ := MustDataset(t, dir, 200)
	_, url := MustSwitchable(t, MustNewSimulator(t, data, simulator.Config{}))
	base := t.TempDir()
	statePath := filepath.Join(base, "state.db")
	window := []string{"--since", "2026-01-01", "--until", "2026-01-02"}
	step := func(name string, code int, extra ...string) string {
		t.Helper()
		out := filepath.Join(base, name)
		r := MustRun(t, credentials, runArgs(saved, url, out, append(extra, "--summary-json")...)...)
		if r.code != code {
			t.Fatalf("%s: exit %d, want %d\n%s", name, r.code, code, r.stderr)
		}
		var s summary
		if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
			t.Fatal(err)
		}
		return s.RunID
	}
	a := step("a", 3, append(window, "--rate", "20", "--max-duration", "200ms")...)
	b := step("b", 1, "--resume") // no window: another job
	if b == a {
		t.Fatalf("--resume without the window continued run %s of another window", a)
	}
	if got := step("c", 1, append(window, "--resume")...); got != a {
		t.Errorf("--resume with the window started %s, want run %s continued", got, a)
	}
	d := step("d", 1, append(window, "--resume")...)
	if d == a {
		t.Errorf("--resume continued run %s, which had finished", a)
	}
	runs := MustRuns(t, statePath)
	if len(runs) != 3 {
		t.Fatalf("%d runs in the history, want 3: %+v", len(runs), runs)
	}
	for _, r := range runs {
		if r.State != "finished" {
			t.Errorf("run %s is %s, want finished", r.RunID, r.State)
		}
	}
}

// TestRun_ResumeKeepsTheShard: --resume without --shard continues a sharded
// run as that shard, at its share of the tenant's rate.
func TestRun_ResumeKeepsTheShard(t *testing.T) {
	dir := t.TempDir()
	data, saved, _ := MustDataset(t, dir, 400)
	_, url := MustSwitchable(t, MustNewSimulator(t, data, simulator.Config{}))
	out := filepath.Join(t.TempDir(), "out")
	r := MustRun(t, credentials, runArgs(saved, url, out, "--shard", "1/4", "--rate", "40", "--max-duration", "300ms")...)
	if r.code != 3 {
		t.Fatalf("sharded run at its limit: exit %d, want 3\n%s", r.code, r.stderr)
	}
	first := MustSummary(t, out).RunID
	r = MustRun(t, credentials, runArgs(saved, url, out, "--rate", "40", "--resume", "--summary-json")...)
	if r.code != 1 {
		t.Fatalf("resume: exit %d, want 1\n%s", r.code, r.stderr)
	}
	var s struct {
		RunID string  `json:"run_id"`
		Shard string  `json:"shard"`
		Rate  float64 `json:"rate"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		t.Fatal(err)
	}
	if s.RunID != first || s.Shard != "1/4" || s.Rate != 10 {
		t.Errorf("resumed run %s shard %q rate %g, want run %s, shard 1/4 at 10/s (40/4)", s.RunID, s.Shard, s.Rate, first)
	}
}
