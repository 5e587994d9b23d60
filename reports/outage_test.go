package reports_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
	"github.com/unico-reconcile/unico-reconcile/reports"
)

func outageSummary() reconcile.Summary {
	s := summaryOf(allKinds())
	s.Interrupted, s.ExitCode = true, reconcile.ExitIncomplete
	s.Outage = &reconcile.Outage{Since: time.Date(2026, 12, 7, 2, 14, 7, 0, time.UTC), Watched: 20500 * time.Millisecond,
		Probes: 4, LastError: "dial tcp 127.0.0.1:9: connect: connection refused"}
	return s
}

// TestSummary_Outage: summary.json, the text summary and report.html say
// when the outage began, how long it was watched, the probes and the last
// error; summary.json reads back.
func TestSummary_Outage(t *testing.T) {
	s := outageSummary()
	got := MustWriteSummary(t, s)
	want := map[string]any{"since": "2026-12-07T02:14:07Z", "watched_seconds": 20.5, "probes": 4.0,
		"last_error": "dial tcp 127.0.0.1:9: connect: connection refused"}
	if diff := cmp.Diff(want, got["outage"]); diff != "" {
		t.Fatalf("outage (-want +got):\n%s", diff)
	}
	if _, ok := MustWriteSummary(t, summaryOf(allKinds()))["outage"]; ok {
		t.Fatal("outage present in a run without one")
	}
	var buf bytes.Buffer
	if err := reports.WriteSummary(&buf, s); err != nil {
		t.Fatal(err)
	}
	back, err := reports.ReadSummary(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s.Outage, back.Outage); diff != "" {
		t.Fatalf("read back (-want +got):\n%s", diff)
	}

	buf.Reset()
	if err := reports.WriteText(&buf, s, "out"); err != nil {
		t.Fatal(err)
	}
	for _, part := range []string{"API unavailable since 2026-12-07T02:14:07Z", "watched 21s", "4 probes", "connection refused", "--resume", "--recheck last"} {
		if !strings.Contains(buf.String(), part) {
			t.Errorf("text summary lacks %q:\n%s", part, buf.String())
		}
	}
	buf.Reset()
	if err := reports.WriteHTML(&buf, reports.Page{Summary: s}); err != nil {
		t.Fatal(err)
	}
	for _, part := range []string{"API outage", "watched 21s", "connection refused", "--recheck last"} {
		if !strings.Contains(buf.String(), part) {
			t.Errorf("report.html lacks %q", part)
		}
	}
}
