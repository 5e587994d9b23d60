package job_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/unico-reconcile/unico-reconcile/job"
	"github.com/unico-reconcile/unico-reconcile/reconcile"
	"github.com/unico-reconcile/unico-reconcile/reports"
	"github.com/unico-reconcile/unico-reconcile/simulator"
)

// The history's operations, called as a program would, without the
// binary: run, re-check, rewrite, verify, period, merge.

const (
	idMatch = "11111111-1111-4111-8111-111111111111"
	idLost  = "22222222-2222-4222-8222-222222222222"
	idDiff  = "33333333-3333-4333-8333-333333333333"
)

const apiData = `{"id":"` + idMatch + `","status":3,"unicoId":{"result":"yes"}}
{"id":"` + idLost + `","status":3,"unicoId":{"result":"no"}}
{"id":"` + idDiff + `","status":4}
`

const saved = `process_id,status,unico_id_result,identity_fraudsters_result,serpro_score,liveness,score,saved_at
` + idMatch + `,3,yes,,,,,2026-11-01T10:00:00Z
` + idLost + `,,,,,,,2026-11-01T11:00:00Z
` + idDiff + `,3,yes,,,,,2026-11-01T12:00:00Z
`

// MustSimulator is the fake API serving apiData.
func MustSimulator(tb testing.TB, cfg simulator.Config) *simulator.Server {
	tb.Helper()
	data, err := simulator.Load(strings.NewReader(apiData))
	if err != nil {
		tb.Fatal(err)
	}
	return simulator.New(data, cfg)
}

// MustAPI serves h's answers until it is given another handler.
func MustAPI(tb testing.TB, h http.Handler) (string, *atomic.Pointer[http.Handler]) {
	tb.Helper()
	var cur atomic.Pointer[http.Handler]
	cur.Store(&h)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*cur.Load()).ServeHTTP(w, r) }))
	tb.Cleanup(srv.Close)
	return srv.URL, &cur
}

func options(dir, root, out string) job.Options {
	return job.Options{
		Spec: job.Spec{Source: filepath.Join(dir, "saved.csv"), APIRoot: root, Rate: 0, Workers: 4,
			Timeout: 2 * time.Second, MaxRetries: 1, StaleAfter: 24 * time.Hour},
		BackoffBase: time.Millisecond,
		Out:         filepath.Join(dir, out),
		State:       filepath.Join(dir, "state.db"),
	}
}

func TestJob_HistoryOperations(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "saved.csv"), []byte(saved), 0o644); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state.db")

	// A run while every answer is a 500: all unverified, exit 3.
	root, api := MustAPI(t, MustSimulator(t, simulator.Config{ErrorRate: 1}))
	first, err := job.Run(ctx, options(dir, root, "first"))
	if err != nil || first.ExitCode != reconcile.ExitIncomplete || first.Counts[reconcile.Unverified] != 3 {
		t.Fatalf("first run: %v, exit %d, %v: want 3 unverified, exit 3", err, first.ExitCode, first.Counts)
	}

	// The re-check, once the API answers, fetches the three again.
	var up http.Handler = MustSimulator(t, simulator.Config{})
	api.Store(&up)
	o := options(dir, root, "recheck")
	o.Source, o.APIRoot, o.Recheck = "", root, "last"
	var stdout bytes.Buffer
	o.Stdout, o.SummaryJSON = &stdout, true
	re, err := job.Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if re.RecheckOf != first.RunID || re.Recovered != 3 || re.ExitCode != reconcile.ExitDiscrepancies ||
		re.Counts[reconcile.LostResponse] != 1 || re.Counts[reconcile.StatusMismatch] != 1 || re.Counts[reconcile.Match] != 1 {
		t.Fatalf("recheck: %+v", re)
	}
	if want := mustRead(t, filepath.Join(o.Out, reports.SummaryName)); !bytes.Equal(stdout.Bytes(), want) {
		t.Errorf("stdout is not summary.json:\n%s\nwant\n%s", stdout.Bytes(), want)
	}

	// Its reports, written again from the history alone, are the same bytes.
	again := filepath.Join(dir, "again")
	if err := job.Rewrite(ctx, state, "last", again); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{reports.CSVName, reports.JSONLName, reports.HTMLName, reports.SummaryName, reports.ManifestName} {
		if !bytes.Equal(mustRead(t, filepath.Join(o.Out, name)), mustRead(t, filepath.Join(again, name))) {
			t.Errorf("%s written again differs", name)
		}
	}

	// The chain and both folders verify; a changed file does not.
	var out bytes.Buffer
	if ok, err := job.Verify(ctx, nil, state, &out); err != nil || !ok {
		t.Fatalf("verify: %v, %v:\n%s", ok, err, out.String())
	}
	if ok, err := job.Verify(ctx, []string{o.Out, again}, state, &out); err != nil || !ok {
		t.Fatalf("verify folders: %v, %v:\n%s", ok, err, out.String())
	}
	if err := os.WriteFile(filepath.Join(again, reports.CSVName), []byte("process_id\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if ok, _ := job.Verify(ctx, []string{again}, "", &out); ok || !strings.Contains(out.String(), "FAIL") {
		t.Errorf("verify of a changed folder passed:\n%s", out.String())
	}

	// A repair of the re-check writes its lost response back to
	// repairs.csv; its folder is chained, and verify tells it from its run's.
	repaired := filepath.Join(dir, "repair")
	res, err := job.Repair(ctx, job.RepairOptions{State: state, Run: "last", Out: repaired})
	if err != nil || res.RunID != re.RunID || res.Counts.Selected != 1 || res.ExitCode != 0 {
		t.Fatalf("repair: %+v, %v: want the re-check's one lost response", res, err)
	}
	if rows := string(mustRead(t, filepath.Join(repaired, reports.RepairsName))); !strings.Contains(rows, idLost+",3,no,") {
		t.Errorf("repairs.csv lacks the remote outcome of %s:\n%s", idLost, rows)
	}
	out.Reset()
	if ok, err := job.Verify(ctx, []string{repaired}, state, &out); err != nil || !ok {
		t.Fatalf("verify of the repair folder: %v, %v:\n%s", ok, err, out.String())
	}
	out.Reset()
	if ok, err := job.Verify(ctx, nil, state, &out); err != nil || !ok || !strings.Contains(out.String(), "3 manifests chained") || !strings.Contains(out.String(), "3 report folders match") {
		t.Fatalf("verify of the chain with a repair: %v, %v:\n%s", ok, err, out.String())
	}
	if err := os.WriteFile(filepath.Join(repaired, reports.RepairsName), []byte("process_id\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if ok, _ := job.Verify(ctx, nil, state, &out); ok || !strings.Contains(out.String(), "FAIL") {
		t.Errorf("verify of a changed repair folder passed:\n%s", out.String())
	}

	// The period report counts both runs, and the one lost response is open.
	period := filepath.Join(dir, "period")
	if err := job.Period(ctx, job.PeriodOptions{State: state, From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Hour), Out: period}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := reports.Verify(period); err != nil {
		t.Errorf("period report: %v", err)
	}
	if p := string(mustRead(t, filepath.Join(period, reports.PeriodName))); !strings.Contains(p, first.RunID) || !strings.Contains(p, re.RunID) {
		t.Errorf("period.json lacks a run:\n%s", p)
	}
}

// TestJob_Shards: two shards at half the rate each, merged into the
// reports of one run.
func TestJob_Shards(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "saved.csv"), []byte(saved), 0o644); err != nil {
		t.Fatal(err)
	}
	root, _ := MustAPI(t, MustSimulator(t, simulator.Config{}))
	var dirs []string
	total := 0
	for i := range 2 {
		o := options(dir, root, "shard"+string(rune('0'+i)))
		o.Shard, o.Rate, o.NoState, o.State = reconcile.Shard{Index: i, Count: 2}, 100, true, ""
		sum, err := job.Run(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Rate != 50 {
			t.Errorf("shard %d ran at %g/s, want its half of 100", i, sum.Rate)
		}
		total += sum.Total
		dirs = append(dirs, o.Out)
	}
	merged, err := job.Merge(filepath.Join(dir, "merged"), dirs, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if total != 3 || merged.Total != 3 || merged.ExitCode != reconcile.ExitDiscrepancies {
		t.Errorf("shards saw %d, merged %+v: want 3 processes, exit 1", total, merged)
	}
}

func mustRead(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
