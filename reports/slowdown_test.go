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

// TestSummary_Slowdown: a run that 429s slowed below its rate says so in
// summary.json (which reads back), the text summary and report.html: how
// many 429s, the lowest rate and how long, so that an operator knows
// production may have felt it.
func TestSummary_Slowdown(t *testing.T) {
	s := summaryOf(allKinds())
	s.RateLimited = 37
	s.Slowdown = &reconcile.Slowdown{Lowest: 3.125, Below: 14*time.Minute + 2500*time.Millisecond}
	got := MustWriteSummary(t, s)
	want := map[string]any{"lowest_rate": 3.125, "below_rate_seconds": 842.5}
	if diff := cmp.Diff(want, got["slowdown"]); diff != "" {
		t.Fatalf("slowdown (-want +got):\n%s", diff)
	}
	if _, ok := MustWriteSummary(t, summaryOf(allKinds()))["slowdown"]; ok {
		t.Fatal("slowdown present in a run without one")
	}
	var buf bytes.Buffer
	if err := reports.WriteSummary(&buf, s); err != nil {
		t.Fatal(err)
	}
	back, err := reports.ReadSummary(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s.Slowdown, back.Slowdown); diff != "" {
		t.Fatalf("read back (-want +got):\n%s", diff)
	}
	buf.Reset()
	if err := reports.WriteText(&buf, s, "out"); err != nil {
		t.Fatal(err)
	}
	if want := "the tenant was busy: 37 × 429, slowed to 3.1/s for 14m3s"; !strings.Contains(buf.String(), want) {
		t.Errorf("text summary lacks %q:\n%s", want, buf.String())
	}
	buf.Reset()
	if err := reports.WriteHTML(&buf, reports.Page{Summary: s}); err != nil {
		t.Fatal(err)
	}
	for _, part := range []string{"Tenant busy", "37 × 429, slowed to 3.1/s for 14m3s"} {
		if !strings.Contains(buf.String(), part) {
			t.Errorf("report.html lacks %q", part)
		}
	}
}

// TestMerge_Slowdown: merged shards report the worst: the lowest rate and
// the longest time below.
func TestMerge_Slowdown(t *testing.T) {
	a, b, c := summaryOf(allKinds()), summaryOf(allKinds()), summaryOf(allKinds())
	a.Slowdown = &reconcile.Slowdown{Lowest: 2, Below: time.Minute}
	c.Slowdown = &reconcile.Slowdown{Lowest: 4, Below: 3 * time.Minute}
	m := reports.MergeSummaries([]reconcile.Summary{a, b, c})
	if diff := cmp.Diff(&reconcile.Slowdown{Lowest: 2, Below: 3 * time.Minute}, m.Slowdown); diff != "" {
		t.Fatalf("merged slowdown (-want +got):\n%s", diff)
	}
}
