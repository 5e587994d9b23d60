package main

import (
	"bytes"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/unico-reconcile/unico-reconcile/simulator"
)

// TestRun_SignalCountsInFlight: the requests in flight when a signal comes
// were sent (and count against the tenant's limit): summary.json counts
// them. The server holds every answer for a minute, so that all four
// workers are waiting when the signal comes.
func TestRun_SignalCountsInFlight(t *testing.T) {
	sim, srv := MustSimulator(t, "testdata/demo/processes.jsonl",
		simulator.Config{APIKey: testAPIKey, Token: testToken, Latency: time.Minute})
	out := filepath.Join(t.TempDir(), "reports")
	cmd := command(t, credentials, runArgs("testdata/demo/saved.csv", srv.URL, out, "--workers", "4", "--timeout", "2m")...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for sim.Stats().Requests < 4 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if got, want := cmd.ProcessState.ExitCode(), 3; got != want {
		t.Fatalf("exit code %d, want %d\nstderr: %s", got, want, stderr.String())
	}
	s := MustSummary(t, out)
	if got, want := s.Requests, sim.Stats().Requests; got != want || got != 4 {
		t.Errorf("summary.json requests=%d, the server saw %d; want both 4", got, want)
	}
	if !s.Interrupted || s.Counts["total"] != 300 || s.Counts["matched"] != 0 {
		t.Errorf("interrupted=%v counts=%v; want interrupted, 300 rows, none verified", s.Interrupted, s.Counts)
	}
}
