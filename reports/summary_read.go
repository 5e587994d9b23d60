package reports

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

// ReadSummary decodes summary.json as WriteSummary wrote it back into a
// Summary: the run's description, its request counts and the counts of
// every kind ("matched" and "pending" become reconcile.Match and Pending).
// The API root comes back as summary.json holds it: redacted.
func ReadSummary(b []byte) (reconcile.Summary, error) {
	var v struct {
		RunID       string         `json:"run_id"`
		Version     string         `json:"version"`
		StartedAt   *time.Time     `json:"started_at"`
		FinishedAt  *time.Time     `json:"finished_at"`
		Source      string         `json:"source"`
		APIRoot     string         `json:"api_root"`
		Rate        float64        `json:"rate"`
		Workers     int            `json:"workers"`
		Requests    int            `json:"requests"`
		Retries     int            `json:"retries"`
		RateLimited int            `json:"rate_limited"`
		Reused      int            `json:"reused"`
		RecheckOf   string         `json:"recheck_of"`
		Rechecked   int            `json:"rechecked"`
		Recovered   int            `json:"recovered"`
		Interrupted bool           `json:"interrupted"`
		ExitCode    int            `json:"exit_code"`
		Counts      map[string]int `json:"counts"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return reconcile.Summary{}, fmt.Errorf("read %s: %w", SummaryName, err)
	}
	s := reconcile.Summary{
		RunID: v.RunID, Version: v.Version, Source: v.Source, APIRoot: v.APIRoot,
		Rate: v.Rate, Workers: v.Workers, Requests: v.Requests, Retries: v.Retries,
		RateLimited: v.RateLimited, Reused: v.Reused, RecheckOf: v.RecheckOf,
		Rechecked: v.Rechecked, Recovered: v.Recovered, Interrupted: v.Interrupted,
		ExitCode: v.ExitCode, Total: v.Counts["total"], Counts: make(map[reconcile.Kind]int, len(reconcile.Kinds)+2),
	}
	if v.StartedAt != nil {
		s.StartedAt = v.StartedAt.UTC()
	}
	if v.FinishedAt != nil {
		s.FinishedAt = v.FinishedAt.UTC()
	}
	s.Counts[reconcile.Match] = v.Counts["matched"]
	s.Counts[reconcile.Pending] = v.Counts["pending"]
	for _, k := range reconcile.Kinds {
		s.Counts[k] = v.Counts[string(k)]
	}
	return s, nil
}
