package reports

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"strconv"
	"time"

	"github.com/unico-reconcile/unico-reconcile/internal/redact"
	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

// summaryView is summary.json. Times are UTC, null when unknown.
type summaryView struct {
	RunID           string     `json:"run_id"`
	Version         string     `json:"version"`
	StartedAt       *time.Time `json:"started_at"`
	FinishedAt      *time.Time `json:"finished_at"`
	DurationSeconds *float64   `json:"duration_seconds"`
	Source          string     `json:"source"`
	Shard           string     `json:"shard,omitempty"`
	MergedFrom      []string   `json:"merged_from,omitempty"`
	APIRoot         string     `json:"api_root"`
	Rate            float64    `json:"rate"`
	Workers         int        `json:"workers"`
	Requests        int        `json:"requests"`
	Retries         int        `json:"retries"`
	RateLimited     int        `json:"rate_limited"`
	Reused          int        `json:"reused"`
	RecheckOf       string     `json:"recheck_of,omitempty"`
	Rechecked       *int       `json:"rechecked,omitempty"`
	Recovered       *int       `json:"recovered,omitempty"`
	Interrupted     bool       `json:"interrupted"`
	Outage          *outage    `json:"outage,omitempty"`
	Slowdown        *slowdown  `json:"slowdown,omitempty"`
	ExitCode        int        `json:"exit_code"`
	Counts          counts     `json:"counts"`
}

// outage is summary.json's "outage": the API outage that ended the run.
type outage struct {
	Since          time.Time `json:"since"`
	WatchedSeconds float64   `json:"watched_seconds"`
	Probes         int       `json:"probes"`
	LastError      string    `json:"last_error"`
}

// slowdown is summary.json's "slowdown": 429s slowed the run below its
// rate (the tenant was busy), down to lowest_rate, for below_rate_seconds.
type slowdown struct {
	LowestRate       float64 `json:"lowest_rate"`
	BelowRateSeconds float64 `json:"below_rate_seconds"`
}

// counts encodes as {"total", "matched", "pending", then one key per kind in
// reconcile.Kinds order}, zeros included.
type counts struct {
	total  int
	byKind map[reconcile.Kind]int
}

func (c counts) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	field := func(key string, n int) {
		if b.Len() == 0 {
			b.WriteByte('{')
		} else {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Quote(key)) // kinds are plain ASCII names
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(n))
	}
	field("total", c.total)
	field("matched", c.byKind[reconcile.Match])
	field("pending", c.byKind[reconcile.Pending])
	for _, k := range reconcile.Kinds {
		field(string(k), c.byKind[k])
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// WriteSummary writes s to w as summary.json: one indented object ending in
// a newline. recheck_of, rechecked and recovered appear for a re-check only;
// shard ("I/N", the part of the source a sharded run took; its rate is its
// share of the tenant's) for a sharded run only; merged_from (the shards'
// run ids) for merged reports only; outage (since,
// watched_seconds, probes, last_error) for a run an API outage ended only. Times are written in UTC, null when zero; user information in
// the API root (it may hold a secret) is redacted; a rate that is not finite is written as 0 (unlimited).
func WriteSummary(w io.Writer, s reconcile.Summary) error {
	v := summaryView{
		RunID:       s.RunID,
		Version:     s.Version,
		StartedAt:   timeOrNull(s.StartedAt),
		FinishedAt:  timeOrNull(s.FinishedAt),
		Source:      s.Source,
		Shard:       s.Shard.String(),
		MergedFrom:  s.MergedFrom,
		APIRoot:     redact.URL(s.APIRoot),
		Rate:        s.Rate,
		Workers:     s.Workers,
		Requests:    s.Requests,
		Retries:     s.Retries,
		RateLimited: s.RateLimited,
		Reused:      s.Reused,
		RecheckOf:   s.RecheckOf,
		Interrupted: s.Interrupted,
		ExitCode:    s.ExitCode,
		Counts:      counts{total: s.Total, byKind: s.Counts},
	}
	if s.RecheckOf != "" {
		v.Rechecked, v.Recovered = &s.Rechecked, &s.Recovered
	}
	if o := s.Outage; o != nil {
		v.Outage = &outage{Since: o.Since.UTC(), WatchedSeconds: math.Round(o.Watched.Seconds()*1000) / 1000,
			Probes: o.Probes, LastError: o.LastError}
	}
	if sd := s.Slowdown; sd != nil {
		v.Slowdown = &slowdown{LowestRate: math.Round(sd.Lowest*1000) / 1000, BelowRateSeconds: math.Round(sd.Below.Seconds()*1000) / 1000}
	}
	if d, ok := duration(s); ok {
		secs := math.Round(d.Seconds()*1000) / 1000
		v.DurationSeconds = &secs
	}
	if math.IsNaN(v.Rate) || math.IsInf(v.Rate, 0) {
		v.Rate = 0
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// duration is the run's length, when both ends are known.
func duration(s reconcile.Summary) (time.Duration, bool) {
	if s.StartedAt.IsZero() || s.FinishedAt.IsZero() {
		return 0, false
	}
	return s.FinishedAt.Sub(s.StartedAt), true
}
