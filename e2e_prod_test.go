package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/google/go-cmp/cmp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/unico-reconcile/unico-reconcile/metrics"
	"github.com/unico-reconcile/unico-reconcile/reports"
	"github.com/unico-reconcile/unico-reconcile/simulator"
)

// TestRun_ShardsMerged: four shards of a run, run side by side at a
// quarter of the rate each (one of them as a Kubernetes Indexed Job's pod,
// with auto/4), merged, equal one unsharded run.
func TestRun_ShardsMerged(t *testing.T) {
	dir := t.TempDir()
	data, saved, _ := MustDataset(t, dir, 400)
	_, url := MustSwitchable(t, MustNewSimulator(t, data, simulator.Config{}))
	ref := filepath.Join(dir, "ref", "out")
	if r := MustRun(t, credentials, runArgs(saved, url, ref)...); r.code != 1 {
		t.Fatalf("reference run: exit %d, want 1\n%s", r.code, r.stderr)
	}
	var wg sync.WaitGroup
	shards := make([]string, 4)
	results := make([]result, 4)
	for i := range shards {
		shards[i] = filepath.Join(dir, fmt.Sprint("shard", i), "out")
		args := runArgs(saved, url, shards[i], "--rate", "400", "--shard", fmt.Sprintf("%d/4", i))
		env := credentials
		if i == 3 {
			args = runArgs(saved, url, shards[i], "--rate", "400", "--shard", "auto/4")
			env = append([]string{"JOB_COMPLETION_INDEX=3"}, credentials...)
		}
		wg.Go(func() { results[i] = MustRun(t, env, args...) })
	}
	wg.Wait()
	for i, r := range results {
		if r.code != 1 && r.code != 0 {
			t.Fatalf("shard %d: exit %d\n%s", i, r.code, r.stderr)
		}
		var s struct {
			Shard string  `json:"shard"`
			Rate  float64 `json:"rate"`
		}
		if err := json.Unmarshal(MustRead(t, filepath.Join(shards[i], "summary.json")), &s); err != nil {
			t.Fatal(err)
		}
		if got, want := s.Shard, fmt.Sprintf("%d/4", i); got != want {
			t.Errorf("shard %d: summary shard %q, want %q", i, got, want)
		}
		if got, want := s.Rate, 100.0; got != want {
			t.Errorf("shard %d: summary rate %v, want a quarter of --rate 400: %v", i, got, want)
		}
		if start := MustLogLine(t, r.stderr, "run start"); start["shard"] != fmt.Sprintf("%d/4", i) || start["rate"] != 100.0 || start["tenant_rate"] != 400.0 {
			t.Errorf("shard %d: run start line %v, want shard, rate 100 and tenant_rate 400", i, start)
		}
	}
	merged := filepath.Join(dir, "merged")
	r := MustRun(t, nil, "merge", "--out", merged, shards[2], shards[0], shards[3], shards[1])
	if r.code != 1 {
		t.Fatalf("merge: exit %d, want 1 (as the run)\n%s", r.code, r.stderr)
	}
	MustSameReports(t, ref, merged)
	if r := MustRun(t, nil, "verify", merged); r.code != 0 || !strings.HasPrefix(r.stdout, "OK: ") {
		t.Fatalf("verify of the merged folder: exit %d, stdout %q, want 0 and OK", r.code, r.stdout)
	}
	// Past the run's facts (id, times, who, rate), the merged page is the
	// unsharded run's: the same counts, chart and rows.
	pageBody := func(dir string) string {
		page := string(MustRead(t, filepath.Join(dir, reports.HTMLName)))
		_, body, ok := strings.Cut(page, "<h2>Counts</h2>")
		if !ok {
			t.Fatalf("%s/report.html has no counts", dir)
		}
		return body
	}
	if got, want := pageBody(merged), pageBody(ref); got != want {
		t.Errorf("merged report.html differs from the run's past its facts (-run +merged):\n%s", cmp.Diff(want, got))
	}

	t.Run("ErrStaleShard", func(t *testing.T) {
		// Shard 1's folder holds the reports of a night before: its pod died
		// before committing tonight's.
		stale := filepath.Join(t.TempDir(), "shard1")
		if err := os.CopyFS(stale, os.DirFS(shards[1])); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(stale, reports.SummaryName)
		var s struct {
			StartedAt time.Time `json:"started_at"`
		}
		b := MustRead(t, path)
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatal(err)
		}
		before := s.StartedAt.Add(-13 * time.Hour)
		b = bytes.Replace(b, []byte(s.StartedAt.Format(time.RFC3339Nano)), []byte(before.Format(time.RFC3339Nano)), 1)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(t.TempDir(), "m")
		r := MustRun(t, nil, "merge", "--out", out, shards[0], stale, shards[2], shards[3])
		if r.code != 2 || !strings.Contains(r.stderr, stale) || !strings.Contains(r.stderr, before.Format(time.RFC3339)) || strings.Count(r.stderr, "\n") != 1 {
			t.Fatalf("merge with a shard 13 h older: exit %d, stderr %q; want 2 and one line naming it and its start", r.code, r.stderr)
		}
		if _, err := os.Stat(out); err == nil {
			t.Fatal("merge refused, but wrote its folder")
		}
		if r := MustRun(t, nil, "merge", "--max-spread", "14h", "--out", out, shards[0], stale, shards[2], shards[3]); r.code != 1 {
			t.Fatalf("merge --max-spread 14h with a shard 13 h older: exit %d, want 1\n%s", r.code, r.stderr)
		}
	})
	t.Run("ErrMissing", func(t *testing.T) {
		r := MustRun(t, nil, "merge", "--out", filepath.Join(t.TempDir(), "m"), shards[0], shards[1], shards[3])
		if r.code != 2 || !strings.Contains(r.stderr, "shard 2/4 missing") || strings.Count(r.stderr, "\n") != 1 {
			t.Fatalf("merge without shard 2: exit %d, stderr %q; want 2 and one line naming it", r.code, r.stderr)
		}
	})
	t.Run("ErrDoubled", func(t *testing.T) {
		r := MustRun(t, nil, "merge", "--out", filepath.Join(t.TempDir(), "m"), shards[0], shards[1], shards[2], shards[3], shards[1])
		if r.code != 2 || !strings.Contains(r.stderr, "shard 1/4 given twice") {
			t.Fatalf("merge with shard 1 twice: exit %d, stderr %q; want 2 naming it", r.code, r.stderr)
		}
	})
	t.Run("ErrAutoWithoutIndex", func(t *testing.T) {
		r := MustRun(t, credentials, runArgs(saved, url, filepath.Join(t.TempDir(), "o"), "--shard", "auto/4")...)
		if r.code != 2 || !strings.Contains(r.stderr, "JOB_COMPLETION_INDEX is not set") {
			t.Fatalf("auto/4 without an index: exit %d, stderr %q", r.code, r.stderr)
		}
	})
}

// MustLogLine returns the first JSON log line whose msg is msg.
func MustLogLine(tb testing.TB, stderr, msg string) map[string]any {
	tb.Helper()
	for _, line := range strings.Split(stderr, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == msg {
			return m
		}
	}
	tb.Fatalf("no %q line in:\n%s", msg, stderr)
	return nil
}

// metricValue returns the value of name's series whose labels include want.
func metricValue(families map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	mf := families[name]
series:
	for _, m := range mf.GetMetric() {
		for _, l := range m.GetLabel() {
			if v, ok := want[l.GetName()]; ok && v != l.GetValue() {
				continue series
			}
		}
		if m.GetCounter() != nil {
			return m.GetCounter().GetValue(), true
		}
		return m.GetGauge().GetValue(), true
	}
	return 0, false
}

// fullSummary is summary.json's fields the metrics report.
type fullSummary struct {
	StartedAt   time.Time      `json:"started_at"`
	Requests    int            `json:"requests"`
	Retries     int            `json:"retries"`
	RateLimited int            `json:"rate_limited"`
	ExitCode    int            `json:"exit_code"`
	Counts      map[string]int `json:"counts"`
}

// checkMetrics compares the metrics with summary.json in dir.
func checkMetrics(t *testing.T, families map[string]*dto.MetricFamily, dir string) {
	t.Helper()
	var s fullSummary
	if err := json.Unmarshal(MustRead(t, filepath.Join(dir, "summary.json")), &s); err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for key, n := range s.Counts {
		kind := key
		switch key {
		case "total":
			continue
		case "matched":
			kind = "match"
		}
		got, ok := metricValue(families, metrics.MetricProcesses, map[string]string{"kind": kind})
		if !ok || got != float64(n) {
			t.Errorf("%s{kind=%q}=%v, want summary.json's %d", metrics.MetricProcesses, kind, got, n)
		}
		total += got
	}
	if total != float64(s.Counts["total"]) {
		t.Errorf("processes add up to %v, want total %d", total, s.Counts["total"])
	}
	requests := 0.0
	for _, m := range families[metrics.MetricRequests].GetMetric() {
		requests += m.GetCounter().GetValue()
	}
	for _, c := range []struct {
		name string
		want float64
	}{
		{metrics.MetricRequests, float64(s.Requests)},
		{metrics.MetricRetries, float64(s.Retries)},
		{metrics.MetricRateLimited, float64(s.RateLimited)},
		{metrics.MetricLastRunExitCode, float64(s.ExitCode)},
		{metrics.MetricLastRunStart, float64(s.StartedAt.UnixNano()) / 1e9},
	} {
		got, _ := metricValue(families, c.name, nil)
		if c.name == metrics.MetricRequests {
			got = requests
		}
		if got != c.want {
			t.Errorf("%s=%v, want %v (summary.json)", c.name, got, c.want)
		}
	}
	success, ok := metricValue(families, metrics.MetricLastSuccess, nil)
	if wantOK := s.ExitCode <= 1; ok != wantOK || (ok && success < float64(s.StartedAt.Unix())) {
		t.Errorf("%s=%v (present %v), want present after a success (exit %d)", metrics.MetricLastSuccess, success, ok, s.ExitCode)
	}
}

// TestRun_MetricsTextfile parses the textfile back with Prometheus's own
// parser and checks it against summary.json; it is written at start and
// rewritten while the run goes on.
func TestRun_MetricsTextfile(t *testing.T) {
	dir := t.TempDir()
	data, saved, _ := MustDataset(t, dir, 300)
	_, url := MustSwitchable(t, MustNewSimulator(t, data, simulator.Config{ErrorRate: 0.1, Seed: 3, Rate: 150}))
	textfile := filepath.Join(dir, "node", "unico_reconcile.prom")
	if err := os.MkdirAll(filepath.Dir(textfile), 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	cmd := command(t, credentials, runArgs(saved, url, out, "--rate", "100", "--max-retries", "8",
		"--metrics-textfile", textfile, "--progress-interval", "50ms")...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sawRunning := false
	for !sawRunning && cmd.ProcessState == nil {
		if b, err := os.ReadFile(textfile); err == nil {
			p := expfmt.NewTextParser(model.UTF8Validation)
			fams, err := p.TextToMetricFamilies(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("a textfile read while the run goes on does not parse: %v\n%s", err, b)
			}
			code, _ := metricValue(fams, metrics.MetricLastRunExitCode, nil)
			sawRunning = code == -1
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Wait(); err != nil && cmd.ProcessState.ExitCode() == 2 {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	if !sawRunning {
		t.Error("no textfile was seen while the run went on")
	}
	f, err := os.Open(textfile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(f)
	if err != nil {
		t.Fatal(err)
	}
	if retries, _ := metricValue(families, metrics.MetricRetries, nil); retries == 0 {
		t.Error("no retries: the test does not cover them")
	}
	checkMetrics(t, families, out)
	if _, ok := metricValue(families, metrics.MetricRequests, map[string]string{"code": "500"}); !ok {
		t.Errorf("no requests_total{code=\"500\"} though the API answered 500s")
	}
	if got := MustReadDirNames(t, filepath.Dir(textfile)); len(got) != 1 {
		t.Errorf("textfile folder holds %q, want the textfile only (no temporary file left)", got)
	}

	t.Run("ErrNotProm", func(t *testing.T) {
		r := MustRun(t, credentials, runArgs(saved, url, filepath.Join(t.TempDir(), "o"), "--metrics-textfile", filepath.Join(dir, "m.txt"))...)
		if r.code != 2 || !strings.Contains(r.stderr, "*.prom") {
			t.Fatalf("exit %d, stderr %q; want 2 and a word on *.prom", r.code, r.stderr)
		}
	})
	t.Run("ErrNoFolder", func(t *testing.T) {
		r := MustRun(t, credentials, runArgs(saved, url, filepath.Join(t.TempDir(), "o"), "--metrics-textfile", filepath.Join(dir, "absent", "m.prom"))...)
		if r.code != 2 || !strings.Contains(r.stderr, "--metrics-textfile") {
			t.Fatalf("exit %d, stderr %q; want 2 naming --metrics-textfile", r.code, r.stderr)
		}
	})
}

// TestRun_Pushgateway: at the end the run pushes its metrics (POST, job
// unico_reconcile), and what a gateway receives matches summary.json.
func TestRun_Pushgateway(t *testing.T) {
	dir := t.TempDir()
	data, saved, _ := MustDataset(t, dir, 100)
	_, url := MustSwitchable(t, MustNewSimulator(t, data, simulator.Config{}))
	var mu sync.Mutex
	var pushes []string
	families := map[string]*dto.MetricFamily{}
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		pushes = append(pushes, r.Method+" "+r.URL.Path)
		dec := expfmt.NewDecoder(r.Body, expfmt.ResponseFormat(r.Header))
		for {
			var mf dto.MetricFamily
			if err := dec.Decode(&mf); err != nil {
				if err != io.EOF {
					t.Errorf("decode push: %v", err)
				}
				break
			}
			families[mf.GetName()] = &mf
		}
	}))
	t.Cleanup(gw.Close)
	out := filepath.Join(dir, "out")
	if r := MustRun(t, credentials, runArgs(saved, url, out, "--pushgateway", gw.URL)...); r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s", r.code, r.stderr)
	}
	mu.Lock()
	defer mu.Unlock()
	if got, want := strings.Join(pushes, ","), "POST /metrics/job/unico_reconcile"; got != want {
		t.Fatalf("pushes %q, want %q", got, want)
	}
	checkMetrics(t, families, out)
}

// TestRun_Progress: the progress bar appears on a terminal (a real
// pseudo-terminal), and nothing of it when stderr is not one: there a
// "progress" log line comes every --progress-interval instead.
func TestRun_Progress(t *testing.T) {
	dir := t.TempDir()
	data, saved, _ := MustDataset(t, dir, 200)
	_, url := MustSwitchable(t, MustNewSimulator(t, data, simulator.Config{}))
	// --rate 200: the run lasts about a second, time for a few redraws.
	args := []string{"run", "--source", saved, "--base-url", url, "--rate", "200", "--progress-interval", "100ms"}

	t.Run("Terminal", func(t *testing.T) {
		ptmx, tty, err := pty.Open()
		if err != nil {
			t.Fatalf("open a pseudo-terminal: %v", err)
		}
		defer ptmx.Close()
		cmd := command(t, credentials, append(args, "--out", filepath.Join(t.TempDir(), "out"))...)
		cmd.Stderr = tty
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		tty.Close()
		var screen bytes.Buffer
		done := make(chan struct{})
		go func() { _, _ = io.Copy(&screen, ptmx); close(done) }() // ends with EIO when the child exits
		_ = cmd.Wait()
		<-done
		got := screen.String()
		if code := cmd.ProcessState.ExitCode(); code != 1 {
			t.Fatalf("exit %d, want 1\n%s", code, got)
		}
		for _, want := range []string{"reconciling", "rows/s", "/200", "match "} {
			if !strings.Contains(got, want) {
				t.Errorf("no %q on the terminal:\n%q", want, got)
			}
		}
		if strings.Contains(got, "msg=progress") {
			t.Errorf("progress log lines on a terminal, want the bar only:\n%s", got)
		}
	})
	t.Run("NotTerminal", func(t *testing.T) {
		r := MustRun(t, credentials, append(args, "--out", filepath.Join(t.TempDir(), "out"))...)
		if r.code != 1 {
			t.Fatalf("exit %d, want 1\n%s", r.code, r.stderr)
		}
		if strings.Contains(r.stderr, "reconciling") || strings.Contains(r.stderr, "\r") {
			t.Errorf("a progress bar on a pipe:\n%q", r.stderr)
		}
		line := MustLogLine(t, r.stderr, "progress")
		for _, key := range []string{"read", "rows", "processes", "rows_per_second"} {
			if _, ok := line[key]; !ok {
				t.Errorf("progress line %v lacks %s", line, key)
			}
		}
	})
	t.Run("DevNull", func(t *testing.T) {
		null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer null.Close()
		if isTerminal(null) {
			t.Fatalf("isTerminal(%s)=true, want false", os.DevNull)
		}
	})
}
