package reports_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
	"github.com/unico-reconcile/unico-reconcile/reports"
)

func TestWriteSummary(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		s := reconcile.Summary{
			RunID:      "r1",
			StartedAt:  time.Date(2026, 3, 14, 6, 0, 0, 0, brt),
			FinishedAt: time.Date(2026, 3, 14, 6, 0, 1, 0, brt),
			APIRoot:    "https://user:secret@api.example/",
			Rate:       math.Inf(1),
		}
		got := MustWriteSummary(t, s)
		want := map[string]any{
			"run_id": "r1", "version": "", "source": "",
			"started_at": "2026-03-14T09:00:00Z", "finished_at": "2026-03-14T09:00:01Z", "duration_seconds": 1.0,
			"api_root": "https://xxxxx@api.example/", "rate": 0.0, "workers": 0.0,
			"requests": 0.0, "retries": 0.0, "rate_limited": 0.0, "reused": 0.0, "interrupted": false, "exit_code": 0.0,
			"counts": map[string]any{
				"total": 0.0, "matched": 0.0, "pending": 0.0,
				"lost_response": 0.0, "status_mismatch": 0.0, "result_mismatch": 0.0, "not_found": 0.0,
				"still_processing": 0.0, "unverified": 0.0, "invalid_input": 0.0, "duplicate_id": 0.0,
			},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("(-want +got):\n%s", diff)
		}
	})

	t.Run("UnknownTimes", func(t *testing.T) {
		got := MustWriteSummary(t, reconcile.Summary{})
		for _, k := range []string{"started_at", "finished_at", "duration_seconds"} {
			if v, ok := got[k]; !ok || v != nil {
				t.Fatalf("%s=%v (present %v), want null", k, v, ok)
			}
		}
	})

	t.Run("ErrWrite", func(t *testing.T) {
		if err := reports.WriteSummary(&errWriter{}, summaryOf(allKinds())); !errors.Is(err, errDiskFull) {
			t.Fatalf("err=%v, want %v", err, errDiskFull)
		}
	})
}

// MustWriteSummary writes s and decodes it back, checking the layout.
func MustWriteSummary(tb testing.TB, s reconcile.Summary) map[string]any {
	tb.Helper()
	var buf bytes.Buffer
	if err := reports.WriteSummary(&buf, s); err != nil {
		tb.Fatal(err)
	}
	if got := buf.String(); !strings.HasPrefix(got, "{\n  \"") || !strings.HasSuffix(got, "}\n") {
		tb.Fatalf("summary is not an indented object ending in a newline:\n%s", got)
	}
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		tb.Fatal(err)
	}
	return m
}

func TestWriteText(t *testing.T) {
	t.Run("NoDir", func(t *testing.T) {
		var buf bytes.Buffer
		if err := reports.WriteText(&buf, summaryOf(allKinds()), ""); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(buf.String(), "reports ") {
			t.Fatalf("summary names a report folder:\n%s", buf.String())
		}
	})
	t.Run("EveryKind", func(t *testing.T) {
		var buf bytes.Buffer
		if err := reports.WriteText(&buf, reconcile.Summary{}, "out"); err != nil {
			t.Fatal(err)
		}
		for _, k := range reconcile.Kinds {
			if !strings.Contains(buf.String(), "  "+string(k)+" ") {
				t.Fatalf("summary lacks %s:\n%s", k, buf.String())
			}
		}
	})
	t.Run("ErrWrite", func(t *testing.T) {
		if err := reports.WriteText(&errWriter{}, summaryOf(allKinds()), "out"); !errors.Is(err, errDiskFull) {
			t.Fatalf("err=%v, want %v", err, errDiskFull)
		}
	})
}
