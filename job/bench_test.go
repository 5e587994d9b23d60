package job_test

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/unico-reconcile/unico-reconcile/internal/csvtest"
	"github.com/unico-reconcile/unico-reconcile/job"
	"github.com/unico-reconcile/unico-reconcile/reconcile"
	"github.com/unico-reconcile/unico-reconcile/state"
)

// BenchmarkRepair applies the lost responses of a recorded run to a SQLite
// table: UNICO_BENCH_ROWS of them (default 100,000), in transactions of
// 1,000. It reports the rows repaired per second and the peak heap in use
// while repairing, which must stay flat as the rows grow (the discrepancies
// stream from the history, the rows go in batches).
func BenchmarkRepair(b *testing.B) {
	n := 100_000
	if s := os.Getenv("UNICO_BENCH_ROWS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	dir := b.TempDir()
	statePath, dbPath := filepath.Join(dir, "state.db"), filepath.Join(dir, "app.db")
	MustRecordedLost(b, statePath, dbPath, n)
	b.ResetTimer()
	for i := range b.N {
		peak := MustPeakHeap(b, func() {
			start := time.Now()
			res, err := job.Repair(context.Background(), job.RepairOptions{State: statePath, Run: "last",
				Out: filepath.Join(dir, fmt.Sprint("repair", i)), Target: "sqlite:" + dbPath, Apply: true})
			if err != nil || res.ExitCode != 0 || res.Counts.Changed+res.Counts.Done != n {
				b.Fatalf("repair: %+v, %v", res, err)
			}
			b.ReportMetric(float64(n)/time.Since(start).Seconds(), "rows/s")
		})
		b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
	}
}

// MustRecordedLost records, through the state package, a finished run
// that listed n lost responses, and the table they came from.
func MustRecordedLost(b *testing.B, statePath, dbPath string, n int) {
	b.Helper()
	ctx := context.Background()
	csvPath := filepath.Join(filepath.Dir(dbPath), "saved.csv")
	f, err := os.Create(csvPath)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "process_id,status,unico_id_result,identity_fraudsters_result,serpro_score,liveness,score,saved_at")
	for i := range n {
		fmt.Fprintf(w, "%08x-0000-4000-8000-%012x,2,,,,,,2026-11-01T00:00:00Z\n", i, i)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	db, err := sql.Open("sqlite3", dbPath)
	if err != nil {
		b.Fatal(err)
	}
	csvtest.MustLoad(b, db, csvPath, sqliteDialect)
	if _, err := db.Exec("CREATE INDEX processes_id ON processes (process_id)"); err != nil {
		b.Fatal(err)
	}
	db.Close()

	h, err := state.Open(ctx, statePath)
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	started := time.Now().UTC()
	r := state.Run{ID: job.NewRunID(started), Source: "sqlite:" + dbPath, APIRoot: "http://127.0.0.1:9", Out: filepath.Join(filepath.Dir(dbPath), "run"),
		StartedAt: started, State: state.RunRunning, ExitCode: -1}
	if err := h.CreateRun(ctx, r); err != nil {
		b.Fatal(err)
	}
	l, err := h.Listing(ctx, r.ID)
	if err != nil {
		b.Fatal(err)
	}
	serpro := 90
	for i := range n {
		id := fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i)
		d := reconcile.Discrepancy{Kind: reconcile.LostResponse,
			Local:      reconcile.Local{Row: i + 2, ProcessID: id, Outcome: reconcile.Outcome{Status: 2}, SavedAt: started},
			Remote:     &reconcile.Remote{ID: id, Outcome: reconcile.Outcome{Status: 3, UnicoID: "yes", Serpro: &serpro}},
			HTTPStatus: 200, FetchedAt: started}
		if err := l.Write(d); err != nil {
			b.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
	r.State, r.ExitCode, r.FinishedAt, r.Summary = state.RunFinished, 1, time.Now().UTC(), []byte("{}")
	if err := h.UpdateRun(ctx, r); err != nil {
		b.Fatal(err)
	}
}

// MustPeakHeap runs fn and returns the most heap in use seen while it ran,
// sampled every 10 ms.
func MustPeakHeap(b *testing.B, fn func()) uint64 {
	b.Helper()
	runtime.GC()
	var peak atomic.Uint64
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	fn()
	close(done)
	<-stopped
	return peak.Load()
}
