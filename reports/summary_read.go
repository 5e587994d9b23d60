package reports

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

// ReadSummary decodes summary.json as WriteSummary wrote it back into a
// Summary: the run's description, its shard and merged_from, its request
// counts and the counts of every kind ("matched" and "pending" become
// reconcile.Match and Pending). The API root comes back as summary.json
// holds it: redacted.
func ReadSummary(b []byte) (reconcile.Summary, error) {
	var v summaryView
	if err := json.Unmarshal(b, &v); err != nil {
		return reconcile.Summary{}, fmt.Errorf("read %s: %w", SummaryName, err)
	}
	s := reconcile.Summary{
		RunID: v.RunID, Version: v.Version, Source: v.Source, MergedFrom: v.MergedFrom, APIRoot: v.APIRoot,
		Rate: v.Rate, Workers: v.Workers, Requests: v.Requests, Retries: v.Retries,
		RateLimited: v.RateLimited, Reused: v.Reused, RecheckOf: v.RecheckOf,
		Interrupted: v.Interrupted, ExitCode: v.ExitCode, Total: v.Counts.total, Counts: v.Counts.byKind,
	}
	if v.Shard != "" {
		var err error
		if s.Shard, err = reconcile.ParseShard(v.Shard); err != nil {
			return reconcile.Summary{}, fmt.Errorf("read %s: shard %q: %w", SummaryName, v.Shard, err)
		}
	}
	if o := v.Outage; o != nil {
		s.Outage = &reconcile.Outage{Since: o.Since.UTC(), Watched: time.Duration(o.WatchedSeconds * float64(time.Second)),
			Probes: o.Probes, LastError: o.LastError}
	}
	if sd := v.Slowdown; sd != nil {
		s.Slowdown = &reconcile.Slowdown{Lowest: sd.LowestRate, Below: time.Duration(sd.BelowRateSeconds * float64(time.Second))}
	}
	if v.Rechecked != nil {
		s.Rechecked = *v.Rechecked
	}
	if v.Recovered != nil {
		s.Recovered = *v.Recovered
	}
	if v.StartedAt != nil {
		s.StartedAt = v.StartedAt.UTC()
	}
	if v.FinishedAt != nil {
		s.FinishedAt = v.FinishedAt.UTC()
	}
	return s, nil
}

// UnmarshalJSON reads counts as MarshalJSON writes them; a key that is
// absent reads as zero.
func (c *counts) UnmarshalJSON(b []byte) error {
	var m map[string]int
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	c.total = m["total"]
	c.byKind = make(map[reconcile.Kind]int, len(reconcile.Kinds)+2)
	c.byKind[reconcile.Match] = m["matched"]
	c.byKind[reconcile.Pending] = m["pending"]
	for _, k := range reconcile.Kinds {
		c.byKind[k] = m[string(k)]
	}
	return nil
}
