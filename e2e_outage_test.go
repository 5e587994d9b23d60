package main

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/unico-reconcile/unico-reconcile/fetch"
	"github.com/unico-reconcile/unico-reconcile/simulator"
)

// The API failing under a run of the built binary: dead mid-run, flaky,
// gone for a blip, or not the API at all (issue 10).

// MustStartSimulator serves data on addr ("127.0.0.1:0" for any port) from
// a real listener, so that it can be stopped and started again on the same
// address; it returns the simulator, its API root and stop.
func MustStartSimulator(tb testing.TB, data, addr string, cfg simulator.Config) (*simulator.Server, string, func() error) {
	tb.Helper()
	d, err := simulator.LoadFile(data)
	if err != nil {
		tb.Fatal(err)
	}
	sim := simulator.New(d, cfg)
	root, stop, err := sim.Start(addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = stop() })
	return sim, root, stop
}

// deadAPI listens where the API was and answers nothing: each connection
// is held a little, then reset, as a dying API does. It counts the
// connections, and the most open at once among those that came after
// settle.
type deadAPI struct {
	ln     net.Listener
	settle time.Time
	open   atomic.Int64
	total  atomic.Int64
	late   atomic.Int64 // connections after settle
	peak   atomic.Int64 // most open at once, after settle
	wg     sync.WaitGroup
}

func MustDeadAPI(tb testing.TB, addr string, settle time.Duration) *deadAPI {
	tb.Helper()
	var ln net.Listener
	var err error
	for range 50 { // the simulator's port may take a moment to be free
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		tb.Fatal(err)
	}
	a := &deadAPI{ln: ln, settle: time.Now().Add(settle)}
	a.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			a.total.Add(1)
			n := a.open.Add(1)
			if time.Now().After(a.settle) {
				a.late.Add(1)
				for p := a.peak.Load(); n > p && !a.peak.CompareAndSwap(p, n); p = a.peak.Load() {
				}
			}
			a.wg.Go(func() {
				time.Sleep(50 * time.Millisecond)
				if tc, ok := c.(*net.TCPConn); ok {
					_ = tc.SetLinger(0)
				}
				a.open.Add(-1)
				_ = c.Close()
			})
		}
	})
	return a
}

func (a *deadAPI) close() {
	_ = a.ln.Close()
	a.wg.Wait()
}

type outageSummary struct {
	summary
	Rechecked *int `json:"rechecked"`
	Recovered *int `json:"recovered"`
	Outage    *struct {
		Since          time.Time `json:"since"`
		WatchedSeconds float64   `json:"watched_seconds"`
		Probes         int       `json:"probes"`
		LastError      string    `json:"last_error"`
	} `json:"outage"`
}

func MustOutageSummary(tb testing.TB, dir string) outageSummary {
	tb.Helper()
	var s outageSummary
	if err := json.Unmarshal(MustRead(tb, filepath.Join(dir, "summary.json")), &s); err != nil {
		tb.Fatal(err)
	}
	return s
}

// MustDetails returns the kind and detail of every listed discrepancy.
func MustDetails(tb testing.TB, dir string) (kinds map[string]int, details []string) {
	tb.Helper()
	kinds = map[string]int{}
	b := bytes.TrimSpace(MustRead(tb, filepath.Join(dir, "discrepancies.jsonl")))
	if len(b) == 0 {
		return kinds, nil
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		var d struct{ Kind, Detail string }
		if err := json.Unmarshal(line, &d); err != nil {
			tb.Fatalf("%s: %v", line, err)
		}
		kinds[d.Kind]++
		details = append(details, d.Detail)
	}
	return kinds, details
}

// TestRun_APIDiesMidRun: the API dies after a third of the run. The run
// ends within --outage-timeout (plus the detection), exit 3, with one
// request at a time going to the dead API once the breaker opened, every
// process left unverified with the outage as detail, never a wrong
// verdict; once the API is back, --recheck last verifies every one.
func TestRun_APIDiesMidRun(t *testing.T) {
	const n = 600
	dir := t.TempDir()
	data, source := MustFixture(t, dir, n)
	sim, root, stop := MustStartSimulator(t, data, "127.0.0.1:0", simulator.Config{})
	addr := strings.TrimPrefix(root, "http://")

	var died time.Time
	var dead *deadAPI
	killed := make(chan struct{})
	go func() {
		defer close(killed)
		for sim.Stats().Requests < n/3 {
			time.Sleep(2 * time.Millisecond)
		}
		_ = stop()
		died = time.Now()
		// The breaker opens within a second: from then on, one at a time.
		dead = MustDeadAPI(t, addr, time.Second)
	}()
	out := filepath.Join(dir, "out1")
	r := MustRun(t, nil, append(runArgs(source, root, out, "--outage-timeout", "5s"), "--rate", "200")...)
	<-killed
	ended := time.Now()
	dead.close()

	if r.code != 3 {
		t.Fatalf("exit %d, want 3\n%s", r.code, r.stderr)
	}
	if took := ended.Sub(died); took > 15*time.Second {
		t.Errorf("the run ended %v after the API died, want within --outage-timeout 5s + 10s", took)
	}
	if p := dead.peak.Load(); p > 1 {
		t.Errorf("%d requests in flight at once to the dead API once the breaker opened, want 1", p)
	}
	t.Logf("dead API: %d connections, %d after the first second, at most %d at once then", dead.total.Load(), dead.late.Load(), dead.peak.Load())
	s := MustOutageSummary(t, out)
	if s.Outage == nil || s.Outage.Probes < 1 || s.Outage.WatchedSeconds < 5 || s.Outage.LastError == "" || !s.Interrupted {
		t.Fatalf("summary %+v outage %+v: want the outage with its probes, 5s watched, last error", s.summary, s.Outage)
	}
	if since := s.Outage.Since; since.Before(died.Add(-time.Second)) || since.After(died.Add(2*time.Second)) {
		t.Errorf("outage since %v, the API died at %v", since, died)
	}
	kinds, details := MustDetails(t, out)
	unv := s.Counts["unverified"]
	if s.Counts["matched"]+unv != n || len(kinds) != 1 || kinds["unverified"] != unv || unv < n/2 {
		t.Fatalf("counts %v, listed %v: want only matches and unverified (no wrong verdict), most unverified", s.Counts, kinds)
	}
	for _, d := range details {
		if !strings.HasPrefix(d, "API unavailable since ") {
			t.Fatalf("unverified detail %q, want the outage", d)
		}
	}
	var end string
	for _, line := range strings.Split(r.stderr, "\n") {
		if strings.Contains(line, `"msg":"run end"`) {
			end = line
		}
	}
	for _, part := range []string{`"msg":"run end"`, `"probes":`, `"outage_since":`, `--resume`, `--recheck last`} {
		if !strings.Contains(end, part) {
			t.Errorf("end log line lacks %s: %s", part, end)
		}
	}
	if html := string(MustRead(t, filepath.Join(out, "report.html"))); !strings.Contains(html, "API outage") {
		t.Error("report.html does not mention the outage")
	}

	// The API is back on the same address: the re-check verifies the rest.
	_, root2, _ := MustStartSimulator(t, data, addr, simulator.Config{})
	if root2 != root {
		t.Fatalf("simulator back on %s, want %s", root2, root)
	}
	out2 := filepath.Join(dir, "out2")
	r = MustRun(t, nil, append(runArgs(source, root, out2), "--recheck", "last")...)
	if r.code != 0 {
		t.Fatalf("recheck: exit %d, want 0\n%s", r.code, r.stderr)
	}
	s2 := MustOutageSummary(t, out2)
	if s2.Recovered == nil || *s2.Recovered != unv || *s2.Rechecked != unv || s2.Outage != nil {
		t.Fatalf("recheck summary: rechecked %v recovered %v outage %+v, want all %d recovered", s2.Rechecked, s2.Recovered, s2.Outage, unv)
	}
}

// TestRun_Flaky503: 30% of the requests get 503: every process verified,
// at most 1.6 requests per process.
func TestRun_Flaky503(t *testing.T) {
	const n = 1000
	dir := t.TempDir()
	data, source := MustFixture(t, dir, n)
	sim, srv := MustSimulator(t, data, simulator.Config{UnavailableRate: 0.3, Seed: 10})
	out := filepath.Join(dir, "out")
	r := MustRun(t, nil, append(runArgs(source, srv.URL, out), "--rate", "500", "--retry-base", "100ms")...)
	if r.code != 0 {
		t.Fatalf("exit %d, want 0 (every process verified)\n%s", r.code, r.stderr)
	}
	st := sim.Stats()
	if perProcess := float64(st.Requests) / n; perProcess > 1.6 || st.Unavailable == 0 {
		t.Fatalf("%d requests (%d 503s) for %d processes: %.2f per process, want at most 1.6", st.Requests, st.Unavailable, n, perProcess)
	}
}

// TestRun_Blip: the API is gone for two seconds mid-run, then back on the
// same address: the run completes with nothing unverified.
func TestRun_Blip(t *testing.T) {
	const n = 600
	dir := t.TempDir()
	data, source := MustFixture(t, dir, n)
	sim, root, stop := MustStartSimulator(t, data, "127.0.0.1:0", simulator.Config{})
	addr := strings.TrimPrefix(root, "http://")
	back := make(chan struct{})
	go func() {
		defer close(back)
		for sim.Stats().Requests < n/3 {
			time.Sleep(2 * time.Millisecond)
		}
		_ = stop()
		time.Sleep(2 * time.Second)
		MustStartSimulator(t, data, addr, simulator.Config{})
	}()
	out := filepath.Join(dir, "out")
	r := MustRun(t, nil, append(runArgs(source, root, out), "--rate", "200")...)
	<-back
	if r.code != 0 {
		t.Fatalf("exit %d, want 0: nothing unverified after a blip\n%s", r.code, r.stderr)
	}
	if s := MustOutageSummary(t, out); s.Counts["matched"] != n || s.Outage != nil {
		t.Fatalf("counts %v outage %+v, want all %d matched", s.Counts, s.Outage, n)
	}
}

// TestRun_WrongBaseURL: a server that answers 404 without Unico's error
// body (a wrong --base-url, a proxy that does not route the API) stops the
// run at once with exit 2 naming --base-url, instead of thousands of
// unverified.
func TestRun_WrongBaseURL(t *testing.T) {
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.NotFound(w, r)
	}))
	defer srv.Close()
	dir := t.TempDir()
	_, source := MustFixture(t, dir, 1000)
	out := filepath.Join(dir, "out")
	r := MustRun(t, nil, runArgs(source, srv.URL, out)...)
	if r.code != 2 || !strings.Contains(r.stderr, "--base-url") {
		t.Fatalf("exit %d, want 2 naming --base-url\n%s", r.code, r.stderr)
	}
	if got := requests.Load(); got > 100 {
		t.Errorf("%d requests before stopping, want the run to stop at once", got)
	}
	if _, err := os.Stat(filepath.Join(out, "summary.json")); err == nil {
		t.Error("summary.json written for a fatal run")
	}
}

// TestRun_ResumeAfterOutage: a run ended by an outage is picked up by
// --resume once the API is back: the same run, only the processes it had
// no answer for are fetched, and its reports cover the whole source.
func TestRun_ResumeAfterOutage(t *testing.T) {
	const n = 400
	dir := t.TempDir()
	data, source := MustFixture(t, dir, n)
	sick := MustNewSimulator(t, data, simulator.Config{FailAfter: 500 * time.Millisecond, FailFor: time.Hour})
	sw, api := MustSwitchable(t, sick)
	out := filepath.Join(dir, "out")
	r := MustRun(t, credentials, append(runArgs(source, api, out, "--outage-timeout", "2s"), "--rate", "200")...)
	if r.code != 3 {
		t.Fatalf("exit %d, want 3 (the outage)\n%s", r.code, r.stderr)
	}
	first := MustOutageSummary(t, out)
	unv := first.Counts["unverified"]
	if first.Outage == nil || unv == 0 || unv == n {
		t.Fatalf("first run: outage %+v, %d unverified of %d: want an outage after some answers", first.Outage, unv, n)
	}
	if runs := MustRuns(t, filepath.Join(dir, "state.db")); len(runs) != 1 || runs[0].State != "stopped" {
		t.Fatalf("runs %+v: want the one run, stopped (resumable)", runs)
	}

	healthy := MustNewSimulator(t, data, simulator.Config{})
	sw.cur.Store(healthy)
	r = MustRun(t, credentials, append(runArgs(source, api, out), "--resume")...)
	if r.code != 0 {
		t.Fatalf("resume: exit %d, want 0\n%s", r.code, r.stderr)
	}
	s := MustOutageSummary(t, out)
	if s.RunID != first.RunID || s.Outage != nil || s.Counts["matched"] != n || s.Counts["unverified"] != 0 {
		t.Fatalf("resumed summary %+v (outage %+v): want run %s, all %d matched, no outage", s.summary, s.Outage, first.RunID, n)
	}
	// The answers the first attempt had are reused; a process it was
	// fetching when the outage began may be asked again, nothing else.
	if got := healthy.Stats().Requests; got < unv || got > unv+fetch.DefaultWorkers {
		t.Errorf("the resumed run sent %d requests, want the %d left unverified (+ at most the %d in flight)", got, unv, fetch.DefaultWorkers)
	}
}
