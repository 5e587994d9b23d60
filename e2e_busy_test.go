package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/unico-reconcile/unico-reconcile/simulator"
)

// TestRun_TenantBusy: 429s that recur while the job sends at its --rate
// mean the tenant's limit is in use: summary.json, the text summary and the
// end log line say how many, the lowest rate and for how long. A run at a
// rate the limit leaves room for says nothing of it.
func TestRun_TenantBusy(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data, saved, _ := MustDataset(t, dir, 300)
	for _, tt := range []struct {
		name string
		rate string
		busy bool
	}{
		{"busy", "80", true}, // four times the room the "production" left
		{"room", "15", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, srv := MustSimulator(t, data, simulator.Config{Rate: 20})
			out := filepath.Join(t.TempDir(), "out")
			r := MustRun(t, credentials, runArgs(saved, srv.URL, out, "--rate", tt.rate)...)
			if r.code != 0 && r.code != 1 {
				t.Fatalf("exit %d\n%s", r.code, r.stderr)
			}
			var s struct {
				RateLimited int `json:"rate_limited"`
				Slowdown    *struct {
					LowestRate       float64 `json:"lowest_rate"`
					BelowRateSeconds float64 `json:"below_rate_seconds"`
				} `json:"slowdown"`
			}
			if err := json.Unmarshal(MustRead(t, filepath.Join(out, "summary.json")), &s); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			end := lines[len(lines)-1]
			if !tt.busy {
				if s.Slowdown != nil || strings.Contains(end, "tenant_busy") {
					t.Fatalf("a run with room reports a slowdown: %+v\n%s", s.Slowdown, end)
				}
				return
			}
			if s.Slowdown == nil || s.RateLimited == 0 {
				t.Fatalf("no slowdown in summary.json after %d × 429", s.RateLimited)
			}
			if s.Slowdown.LowestRate <= 0 || s.Slowdown.LowestRate >= 80 || s.Slowdown.BelowRateSeconds <= 0 {
				t.Errorf("slowdown %+v: want a rate under 80/s and a time below it", *s.Slowdown)
			}
			if !strings.Contains(end, `"tenant_busy":"the tenant was busy: `) || !strings.Contains(end, "slowed to ") {
				t.Errorf("the end log line does not say the tenant was busy:\n%s", end)
			}
			if !strings.Contains(r.stdout, "the tenant was busy: ") {
				t.Errorf("the text summary does not say the tenant was busy:\n%s", r.stdout)
			}
		})
	}
}
