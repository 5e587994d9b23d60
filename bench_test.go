package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/unico-reconcile/unico-reconcile/fetch"
	"github.com/unico-reconcile/unico-reconcile/internal/pgtest"
	"github.com/unico-reconcile/unico-reconcile/job"
	"github.com/unico-reconcile/unico-reconcile/reconcile"
	"github.com/unico-reconcile/unico-reconcile/simulator"
	"github.com/unico-reconcile/unico-reconcile/state"
	"github.com/unico-reconcile/unico-reconcile/store"
)

// The end-to-end benchmarks of make bench: the whole pipeline (read, fetch,
// compare, report) against the simulator on loopback. Each reports its
// figures with b.ReportMetric; targets are in issue 2 and the README.

// MustFixture writes n processes the simulator knows (status 3, matching)
// to processes.jsonl and saved.csv in dir.
func MustFixture(tb testing.TB, dir string, n int) (data, source string) {
	tb.Helper()
	data, source = filepath.Join(dir, "processes.jsonl"), filepath.Join(dir, "saved.csv")
	df, err := os.Create(data)
	if err != nil {
		tb.Fatal(err)
	}
	sf, err := os.Create(source)
	if err != nil {
		tb.Fatal(err)
	}
	dw, sw := bufio.NewWriter(df), bufio.NewWriter(sf)
	fmt.Fprint(sw, csvHeader)
	for i := range n {
		id := fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i)
		fmt.Fprintf(dw, `{"id":"%s","status":3,"unicoId":{"result":"yes"},"government":{"serpro":%d}}`+"\n", id, i%101)
		fmt.Fprintf(sw, "%s,3,yes,,%d,,,2026-01-02T03:04:05Z\n", id, i%101)
	}
	for _, err := range []error{dw.Flush(), sw.Flush(), df.Close(), sf.Close()} {
		if err != nil {
			tb.Fatal(err)
		}
	}
	return data, source
}

// benchOptions are the options of a benchmark run into dir/out<i>, with
// its run history in dir (unless NoState is set afterwards).
func benchOptions(dir string, i int, source, root string, rate float64, workers int) job.Options {
	return job.Options{
		Spec: job.Spec{
			Source: source, APIRoot: root, Rate: rate, Workers: workers,
			Timeout: fetch.DefaultTimeout, MaxRetries: fetch.DefaultMaxRetries, StaleAfter: 24 * time.Hour,
		},
		BackoffBase: fetch.DefaultBackoffBase,
		Out:         filepath.Join(dir, fmt.Sprint("out", i)), State: filepath.Join(dir, "state.db"),
	}
}

// MustRunJob runs the job in-process and fails unless it found nothing.
func MustRunJob(b *testing.B, o job.Options) (reconcile.Summary, time.Duration) {
	b.Helper()
	start := time.Now()
	sum, err := job.Run(context.Background(), o)
	elapsed := time.Since(start)
	if err != nil {
		b.Fatal(err)
	}
	if sum.ExitCode != 0 {
		b.Fatalf("exit code %d: %v", sum.ExitCode, sum.Counts)
	}
	return sum, elapsed
}

// benchRun runs the job in-process against sim and reports throughput.
func benchRun(b *testing.B, n int, cfg simulator.Config, rate float64, workers int) {
	dir := b.TempDir()
	data, source := MustFixture(b, dir, n)
	sim, srv := MustSimulator(b, data, cfg)
	b.ResetTimer()
	for i := range b.N {
		before := sim.Stats()
		_, elapsed := MustRunJob(b, benchOptions(dir, i, source, srv.URL, rate, workers))
		after := sim.Stats()
		b.ReportMetric(float64(n)/elapsed.Seconds(), "processes/s")
		b.ReportMetric(float64(after.Requests-before.Requests)/float64(n), "requests/process")
		b.ReportMetric(float64(after.RateLimited-before.RateLimited), "429s")
		if cfg.Rate > 0 {
			b.ReportMetric(100*float64(n)/elapsed.Seconds()/cfg.Rate, "%limit")
		}
	}
}

// BenchmarkRun_AtLimit: --rate R against a server limit of R must use the
// budget (>= 97 %limit) and get no 429.
func BenchmarkRun_AtLimit(b *testing.B) {
	const r = 20
	benchRun(b, 20*r, simulator.Config{Rate: r}, r, fetch.DefaultWorkers)
}

// BenchmarkRun_AboveLimit: --rate 3R against a server limit of R must adapt:
// <= 1.05 requests/process and >= 90 %limit, with and without Retry-After.
func BenchmarkRun_AboveLimit(b *testing.B) {
	const r = 20
	for _, noRetryAfter := range []bool{false, true} {
		b.Run(fmt.Sprintf("NoRetryAfter=%v", noRetryAfter), func(b *testing.B) {
			benchRun(b, 30*r, simulator.Config{Rate: r, NoRetryAfter: noRetryAfter}, 3*r, fetch.DefaultWorkers)
		})
	}
}

// BenchmarkRun_StrictLimiter: the same two scenarios against a server whose
// bucket holds a single token, so that any two requests closer than 1/R get
// 429 (a limiter stricter than "R requests in a second").
func BenchmarkRun_StrictLimiter(b *testing.B) {
	const r = 20
	for _, client := range []float64{r, 3 * r} {
		b.Run(fmt.Sprintf("rate=%gx", client/r), func(b *testing.B) {
			benchRun(b, 100*r, simulator.Config{Rate: r, Burst: 1}, client, fetch.DefaultWorkers)
		})
	}
}

// BenchmarkRun_Unlimited: no limit, loopback, server in the same process:
// the whole pipeline must do >= 10,000 processes/s on 2 cores.
func BenchmarkRun_Unlimited(b *testing.B) {
	benchRun(b, 100_000, simulator.Config{}, 0, fetch.DefaultWorkers)
}

// BenchmarkRun_UnlimitedState: recording every answer in the run history
// must keep >= 90% of the throughput without it. The two are run in turn,
// three times each, on the same fixture, and compared by their medians, so
// that a neighbour's load on the machine hits both alike.
func BenchmarkRun_UnlimitedState(b *testing.B) {
	const n = 100_000
	dir := b.TempDir()
	data, source := MustFixture(b, dir, n)
	_, srv := MustSimulator(b, data, simulator.Config{})
	b.ResetTimer()
	for i := range b.N {
		var with, without []float64
		for k := range 3 {
			o := benchOptions(dir, 2*(3*i+k), source, srv.URL, 0, fetch.DefaultWorkers)
			o.NoState = true
			_, d := MustRunJob(b, o)
			without = append(without, float64(n)/d.Seconds())
			o = benchOptions(dir, 2*(3*i+k)+1, source, srv.URL, 0, fetch.DefaultWorkers)
			_, d = MustRunJob(b, o)
			with = append(with, float64(n)/d.Seconds())
		}
		slices.Sort(with)
		slices.Sort(without)
		b.ReportMetric(without[1], "no-state-processes/s")
		b.ReportMetric(with[1], "state-processes/s")
		b.ReportMetric(100*with[1]/without[1], "%no-state")
	}
}

// BenchmarkRun_Resume1M resumes a 1,000,000-process run whose answers are
// all recorded: the built binary must skip them at > 200,000 processes/s
// (and fetch nothing: its API root answers no one).
func BenchmarkRun_Resume1M(b *testing.B) { benchResume(b, 1_000_000) }

// BenchmarkRun_Resume3M: the same over 3,000,000 recorded processes, in
// under 100 MB peak RSS: what a resume reads ahead has a fixed budget.
func BenchmarkRun_Resume3M(b *testing.B) { benchResume(b, 3_000_000) }

// benchResume resumes, with the built binary, a run of n processes whose
// answers are all recorded, and reports its throughput and peak RSS.
func benchResume(b *testing.B, n int) {
	dir := b.TempDir()
	_, source := MustFixture(b, dir, n)
	statePath := filepath.Join(dir, "state.db")
	MustRecordedRun(b, statePath, source, n)
	b.ResetTimer()
	for i := range b.N {
		out := filepath.Join(dir, fmt.Sprint("out", i))
		cmd := exec.Command(binary, "--log-format", "json", "run", "--source", source, "--resume",
			"--state", statePath, "--base-url", "http://127.0.0.1:9", "--rate", "0", "--out", out, "--summary-json")
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		elapsed, peak := MustRunMeasured(b, cmd, &stderr)
		var s struct {
			RunID    string `json:"run_id"`
			Reused   int    `json:"reused"`
			Requests int    `json:"requests"`
		}
		if err := json.Unmarshal(stdout.Bytes(), &s); err != nil || s.Reused != n {
			b.Fatalf("summary %s (%v): want every answer reused", stdout.String(), err)
		}
		b.ReportMetric(float64(n)/elapsed.Seconds(), "processes/s")
		b.ReportMetric(peak, "peak-RSS-MB")
		// The run is finished now: mark it unfinished again for the next.
		MustReopenRun(b, statePath, s.RunID)
	}
}

// MustRecordedRun records, through the state package, an unfinished run
// over source whose n answers (all matches) are in the history.
func MustRecordedRun(b *testing.B, statePath, source string, n int) {
	b.Helper()
	ctx := context.Background()
	db, err := state.Open(ctx, statePath)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	key, err := filepath.Abs(source) // the run history's key of a CSV source
	if err != nil {
		b.Fatal(err)
	}
	o := benchOptions(filepath.Dir(statePath), 0, source, "http://127.0.0.1:9", 0, fetch.DefaultWorkers)
	params, err := json.Marshal(o.Spec)
	if err != nil {
		b.Fatal(err)
	}
	started := time.Now().UTC()
	r := state.Run{ID: job.NewRunID(started), Source: key, APIRoot: o.APIRoot, Params: params, Out: o.Out,
		StartedAt: started, State: state.RunRunning, ExitCode: -1}
	if err := db.CreateRun(ctx, r); err != nil {
		b.Fatal(err)
	}
	j, err := db.Journal(ctx, r.ID)
	if err != nil {
		b.Fatal(err)
	}
	var g errgroup.Group
	g.SetLimit(fetch.DefaultWorkers)
	for i := range n {
		g.Go(func() error {
			id := fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i)
			serpro := i % 101
			res := reconcile.Result{Remote: &reconcile.Remote{ID: id, Outcome: reconcile.Outcome{
				Status: 3, UnicoID: "yes", Serpro: &serpro}}, HTTPStatus: 200, Attempts: 1, FetchedAt: started}
			return j.Record(i, id, res, reconcile.Match)
		})
	}
	if err := errors.Join(g.Wait(), j.Close()); err != nil {
		b.Fatal(err)
	}
}

// MustReopenRun marks run id unfinished again.
func MustReopenRun(b *testing.B, statePath, id string) {
	b.Helper()
	ctx := context.Background()
	db, err := state.Open(ctx, statePath)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	r, err := db.Run(ctx, id)
	if err != nil {
		b.Fatal(err)
	}
	r.State = state.RunStopped
	if err := db.UpdateRun(ctx, r); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRun_Memory1M runs the built binary over 1,000,000 processes
// against the simulator in another process, and reports the job's peak RSS:
// it must stay under 100 MB.
func BenchmarkRun_Memory1M(b *testing.B) {
	const n = 1_000_000
	dir := b.TempDir()
	data, source := MustFixture(b, dir, n)
	root := MustSimulateProcess(b, data)
	b.ResetTimer()
	for i := range b.N {
		elapsed, peak := MustMeasuredRun(b, dir, i, source, root)
		b.ReportMetric(peak, "peak-RSS-MB")
		b.ReportMetric(float64(n)/elapsed.Seconds(), "processes/s")
	}
}

// BenchmarkRun_MemoryFlat runs the built binary over 100,000 processes,
// then over UNICO_BENCH_ROWS (default 3,000,000), and reports the peak RSS
// of both and their ratio: memory must not grow with the source (at most
// 1.5x the 100,000-row run at 3,000,000 rows; under 100 MB at 10,000,000,
// run by hand: UNICO_BENCH_ROWS=10000000 go test -run '^$' -bench
// MemoryFlat -benchtime 1x -timeout 2h .). make bench clears UNICO_*
// variables, so it runs the default.
func BenchmarkRun_MemoryFlat(b *testing.B) {
	const base = 100_000
	n := 3_000_000
	if s := os.Getenv("UNICO_BENCH_ROWS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			b.Fatalf("UNICO_BENCH_ROWS=%q: want a number of rows", s)
		}
		n = v
	}
	dir := b.TempDir()
	data, source := MustFixture(b, dir, max(n, base))
	baseSource := filepath.Join(dir, "base.csv")
	MustHead(b, source, baseSource, base+1) // the header and base rows
	root := MustSimulateProcess(b, data)
	b.ResetTimer()
	for i := range b.N {
		_, basePeak := MustMeasuredRun(b, dir, 2*i, baseSource, root)
		elapsed, peak := MustMeasuredRun(b, dir, 2*i+1, source, root)
		b.ReportMetric(float64(n), "rows")
		b.ReportMetric(peak, "peak-RSS-MB")
		b.ReportMetric(basePeak, "100k-peak-RSS-MB")
		b.ReportMetric(peak/basePeak, "x100k")
		b.ReportMetric(float64(n)/elapsed.Seconds(), "processes/s")
	}
}

// MustMeasuredRun runs the built binary over source into dir/out<i>, with
// its run history in dir, unlimited against root, and returns how long it
// took and its peak RSS in MB.
func MustMeasuredRun(b *testing.B, dir string, i int, source, root string) (time.Duration, float64) {
	b.Helper()
	out := filepath.Join(dir, fmt.Sprint("out", i))
	cmd := exec.Command(binary, "--log-format", "json", "run", "--source", source,
		"--base-url", root, "--rate", "0", "--out", out)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	return MustRunMeasured(b, cmd, &stderr)
}

// MustHead copies the first n lines of the file src to dst.
func MustHead(tb testing.TB, src, dst string, n int) {
	tb.Helper()
	in, err := os.Open(src)
	if err != nil {
		tb.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		tb.Fatal(err)
	}
	r, w := bufio.NewReader(in), bufio.NewWriter(out)
	for range n {
		line, err := r.ReadBytes('\n')
		if _, werr := w.Write(line); werr != nil {
			tb.Fatal(werr)
		}
		if err != nil {
			break
		}
	}
	if err := errors.Join(w.Flush(), out.Close()); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkRun_Postgres1M runs the built binary over 1,000,000 processes
// read from PostgreSQL (a server-side cursor), unlimited, against the
// simulator in another process: the throughput ceiling with a database
// source, and its peak RSS.
func BenchmarkRun_Postgres1M(b *testing.B) {
	const n = 1_000_000
	dir := b.TempDir()
	data, _ := MustFixture(b, dir, n)
	dsn := pgtest.MustDatabase(b)
	pgtest.MustExec(b, dsn, `CREATE TABLE processes (process_id uuid PRIMARY KEY, status integer, unico_id_result text,
		identity_fraudsters_result text, serpro_score integer, liveness integer, score double precision, saved_at timestamptz)`,
		fmt.Sprintf(`INSERT INTO processes (process_id, status, unico_id_result, serpro_score, saved_at)
		SELECT (lpad(to_hex(i), 8, '0') || '-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, 3, 'yes', i %% 101,
			timestamptz '2026-01-02T03:04:05Z' FROM generate_series(0, %d) AS i`, n-1),
		"VACUUM ANALYZE processes")
	root := MustSimulateProcess(b, data)
	b.ResetTimer()
	for i := range b.N {
		out := filepath.Join(dir, fmt.Sprint("out", i))
		cmd := exec.Command(binary, "--log-format", "json", "run", "--source", dsn,
			"--query", store.DefaultQuery+" ORDER BY process_id", "--base-url", root, "--rate", "0", "--out", out)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		elapsed, peak := MustRunMeasured(b, cmd, &stderr)
		b.ReportMetric(peak, "peak-RSS-MB")
		b.ReportMetric(float64(n)/elapsed.Seconds(), "processes/s")
	}
}

// MustRunMeasured runs cmd (the built binary) to its end and returns how
// long it took and its peak resident set in MB: the high-water mark of its
// own memory (VmHWM), read from /proc every 10 ms while it runs. The
// rusage of a child is no measure here: Go starts it with vfork, so its
// ru_maxrss counts this process's memory before exec, and the benchmarks
// that built a big history in-process would charge the binary with it.
func MustRunMeasured(b *testing.B, cmd *exec.Cmd, stderr *bytes.Buffer) (time.Duration, float64) {
	b.Helper()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	status := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
	var peakKB int
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if kb, ok := vmHWM(status, filepath.Base(binary)); ok {
			peakKB = max(peakKB, kb)
		}
		select {
		case err := <-done:
			if err != nil {
				b.Fatalf("run: %v\n%s", err, stderr.String())
			}
			elapsed := time.Since(start)
			// CPU seconds do not depend on what else the machine runs.
			b.ReportMetric((cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds(), "cpu-s")
			return elapsed, float64(peakKB) / 1024
		case <-tick.C:
		}
	}
}

// vmHWM reads the VmHWM line (kB) of a /proc/PID/status file, once the
// process runs the program named name (before exec it is still this one).
func vmHWM(status, name string) (int, bool) {
	b, err := os.ReadFile(status)
	if err != nil {
		return 0, false
	}
	var comm string
	kb := -1
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Name:"); ok {
			comm = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
		}
	}
	// The kernel keeps 15 bytes of a program's name.
	return kb, kb >= 0 && comm == name[:min(len(name), 15)]
}

// MustSimulateProcess starts "unico-reconcile simulate" on data (with
// more simulate flags in args, if any) on a free loopback port, and returns
// its API root; the process is stopped at cleanup.
func MustSimulateProcess(tb testing.TB, data string, args ...string) string {
	tb.Helper()
	cmd := exec.Command(binary, append([]string{"--log-format", "json", "simulate", "--data", data,
		"--addr", "127.0.0.1:0", "--rate", "0"}, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + tb.TempDir()}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	})
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		var line struct{ Msg, Addr string }
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "simulator listening" {
			go func() { _, _ = io.Copy(io.Discard, stderr) }()
			return "http://" + line.Addr
		}
	}
	tb.Fatalf("simulate exited before listening: %v", sc.Err())
	return ""
}

// The API failing (issue 10): each benchmark plays one of the issue's
// situations against the simulator and reports the figures its targets
// are about.

// runOutage runs the job in-process and returns its summary, whatever its
// exit code.
func runOutage(b *testing.B, o job.Options) (reconcile.Summary, time.Duration) {
	b.Helper()
	start := time.Now()
	sum, err := job.Run(context.Background(), o)
	if err != nil {
		b.Fatal(err)
	}
	return sum, time.Since(start)
}

// BenchmarkRun_APIDies: 2,000 processes at --rate 200; the API dies after
// half of them (connections reset from then on), --outage-timeout 20s. The
// run must exit 3 within 20 s + 10 s of the death, with at most one request
// in flight to the dead API once the breaker opened and no wrong verdict;
// --recheck last, once the API is back, must verify every one left.
func BenchmarkRun_APIDies(b *testing.B) {
	const n, r = 2000, 200
	dir := b.TempDir()
	data, source := MustFixture(b, dir, n)
	for i := range b.N {
		sim, root, stop := MustStartSimulator(b, data, "127.0.0.1:0", simulator.Config{})
		addr := strings.TrimPrefix(root, "http://")
		var died time.Time
		var dead *deadAPI
		killed := make(chan struct{})
		go func() {
			defer close(killed)
			for sim.Stats().Requests < n/2 {
				time.Sleep(time.Millisecond)
			}
			_ = stop()
			died = time.Now()
			dead = MustDeadAPI(b, addr, time.Second)
		}()
		o := benchOptions(dir, 2*i, source, root, r, fetch.DefaultWorkers)
		o.OutageTimeout = 20 * time.Second
		sum, _ := runOutage(b, o)
		<-killed
		ended := time.Since(died)
		dead.close()
		if sum.ExitCode != reconcile.ExitIncomplete || sum.Outage == nil {
			b.Fatalf("exit %d, outage %+v: want 3 and the outage", sum.ExitCode, sum.Outage)
		}
		wrong := sum.Total - sum.Counts[reconcile.Match] - sum.Counts[reconcile.Unverified]
		unverified := sum.Counts[reconcile.Unverified]

		MustStartSimulator(b, data, addr, simulator.Config{})
		o = benchOptions(dir, 2*i+1, source, root, r, fetch.DefaultWorkers)
		o.Source, o.Recheck = "", "last"
		rs, _ := runOutage(b, o)
		b.ReportMetric(ended.Seconds(), "s-death-to-exit")
		b.ReportMetric(float64(dead.peak.Load()), "max-in-flight-to-dead-API")
		b.ReportMetric(float64(dead.total.Load()), "requests-to-dead-API")
		b.ReportMetric(float64(sum.Outage.Probes), "probes")
		b.ReportMetric(float64(wrong), "wrong-verdicts")
		b.ReportMetric(float64(unverified), "unverified")
		b.ReportMetric(float64(rs.Recovered), "recheck-recovered")
		if rs.ExitCode != 0 || rs.Recovered != unverified {
			b.Fatalf("recheck: exit %d, recovered %d of %d", rs.ExitCode, rs.Recovered, unverified)
		}
	}
}

// BenchmarkRun_Flaky503: 30% of the requests get 503, 2,000 processes at
// --rate 200: every process verified, <= 1.6 requests per process, >= 60%
// of --rate in processes per second.
func BenchmarkRun_Flaky503(b *testing.B) {
	const n, r = 2000, 200
	dir := b.TempDir()
	data, source := MustFixture(b, dir, n)
	sim, srv := MustSimulator(b, data, simulator.Config{UnavailableRate: 0.3, Seed: 10})
	b.ResetTimer()
	for i := range b.N {
		before := sim.Stats()
		sum, elapsed := MustRunJob(b, benchOptions(dir, i, source, srv.URL, r, fetch.DefaultWorkers))
		after := sim.Stats()
		b.ReportMetric(float64(n)/elapsed.Seconds(), "processes/s")
		b.ReportMetric(100*float64(n)/elapsed.Seconds()/r, "%rate")
		b.ReportMetric(float64(after.Requests-before.Requests)/n, "requests/process")
		b.ReportMetric(float64(sum.Counts[reconcile.Unverified]), "unverified")
	}
}

// BenchmarkRun_Sick20s: every request fails with 503 for 20 s (from 2 s
// into the run), then the API is healthy: at most 4 requests/s go into the
// failing API, and the run finishes with nothing unverified.
func BenchmarkRun_Sick20s(b *testing.B) {
	const n, r = 2000, 200
	const sick = 20 * time.Second
	dir := b.TempDir()
	data, source := MustFixture(b, dir, n)
	b.ResetTimer()
	for i := range b.N {
		sim, srv := MustSimulator(b, data, simulator.Config{FailAfter: 2 * time.Second, FailFor: sick})
		sum, elapsed := MustRunJob(b, benchOptions(dir, i, source, srv.URL, r, fetch.DefaultWorkers))
		st := sim.Stats()
		b.ReportMetric(float64(st.Unavailable)/sick.Seconds(), "requests/s-into-failing-API")
		b.ReportMetric(float64(st.Unavailable), "requests-into-failing-API")
		b.ReportMetric(float64(sum.Counts[reconcile.Unverified]), "unverified")
		b.ReportMetric(elapsed.Seconds(), "s-wall")
	}
}

// BenchmarkRun_Isolated429: 2,000 processes at --rate 200 against a limit
// of 400/s, with one-off 429s (Retry-After: 1) on about 0.65% of the
// requests and 4% random 500s: the wall time must stay within 1.2 x (N/R +
// the sum of Retry-After).
func BenchmarkRun_Isolated429(b *testing.B) {
	const n, r = 2000, 200
	dir := b.TempDir()
	data, source := MustFixture(b, dir, n)
	sim, srv := MustSimulator(b, data, simulator.Config{Rate: 2 * r, RandomRateLimited: 0.0065, ErrorRate: 0.04, Seed: 4})
	b.ResetTimer()
	for i := range b.N {
		before := sim.Stats()
		_, elapsed := MustRunJob(b, benchOptions(dir, i, source, srv.URL, r, fetch.DefaultWorkers))
		after := sim.Stats()
		limited := after.RateLimited - before.RateLimited
		bound := 1.2 * (float64(n)/r + float64(limited))
		b.ReportMetric(elapsed.Seconds(), "s-wall")
		b.ReportMetric(float64(limited), "429s")
		b.ReportMetric(bound, "s-bound")
		b.ReportMetric(100*elapsed.Seconds()/bound, "%bound")
	}
}
