package job

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

// Spec is what a run is asked to do: the part of its options that the run
// history keeps (never a secret), that its manifest vouches for, and that a
// resumed or re-checking run takes over from the run it continues.
type Spec struct {
	Source      string          // as shown: a path, or a PostgreSQL DSN without its password
	Query       string          // SQL for SQL sources; "" means store.DefaultQuery
	APIRoot     string          // the API root, e.g. https://api.id.unico.app
	Since       time.Time       // only outcomes saved at or after; zero: no bound
	Until       time.Time       // only outcomes saved before; zero: no bound
	StaleAfter  time.Duration   // a process still in progress this long after saved_at is reported
	Rate        float64         // the tenant's --rate, requests per second for all shards; 0: unlimited
	Workers     int             // requests in flight at most
	Timeout     time.Duration   // one request
	MaxRetries  int             // retries per process; 0: none
	MaxDuration time.Duration   // stop taking new processes after this long; 0: no limit
	Shard       reconcile.Shard // the part of the source the run takes; zero: all
	// SourceSHA256 is what the run read (store.Survey), so that the
	// manifest vouches for the input as well as the reports.
	SourceSHA256 string
}

// ShardRate is the rate this run's requests go at: its shard's share of
// the tenant's rate (reconcile.Shard.ShareOf).
func (s Spec) ShardRate() float64 { return s.Shard.ShareOf(s.Rate) }

// specJSON is a Spec as the run history and the manifests store it. Its
// fields and their order are those of every history written so far: a
// manifest's parameters stay byte for byte what they were.
type specJSON struct {
	Source       string  `json:"source"`
	Query        string  `json:"query,omitempty"`
	APIRoot      string  `json:"api_root"`
	Since        string  `json:"since,omitempty"`
	Until        string  `json:"until,omitempty"`
	StaleAfter   string  `json:"stale_after"`
	Rate         float64 `json:"rate"` // the shard's share, what the requests went at
	Workers      int     `json:"workers"`
	Timeout      string  `json:"timeout"`
	MaxRetries   int     `json:"max_retries"`
	MaxDuration  string  `json:"max_duration,omitempty"`
	Shard        string  `json:"shard,omitempty"`
	SourceSHA256 string  `json:"source_sha256,omitempty"`
	TenantRate   float64 `json:"tenant_rate,omitempty"` // sharded runs only: --rate as given
}

// MarshalJSON writes s as the run history keeps it.
func (s Spec) MarshalJSON() ([]byte, error) {
	j := specJSON{
		Source: s.Source, Query: s.Query, APIRoot: s.APIRoot,
		StaleAfter: s.StaleAfter.String(), Rate: s.ShardRate(), Workers: s.Workers,
		Timeout: s.Timeout.String(), MaxRetries: s.MaxRetries, Shard: s.Shard.String(),
		SourceSHA256: s.SourceSHA256,
	}
	if !s.Since.IsZero() {
		j.Since = s.Since.Format(time.RFC3339Nano)
	}
	if !s.Until.IsZero() {
		j.Until = s.Until.Format(time.RFC3339Nano)
	}
	if s.MaxDuration > 0 {
		j.MaxDuration = s.MaxDuration.String()
	}
	if s.Shard.Sharded() {
		j.TenantRate = s.Rate
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads a Spec as any version of the run history kept it. A
// sharded run recorded before tenant_rate was kept reads its tenant's rate
// back as its share times the shards.
func (s *Spec) UnmarshalJSON(b []byte) error {
	var j specJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	shard, err := parseShardField(j.Shard)
	if err != nil {
		return err
	}
	v := Spec{Source: j.Source, Query: j.Query, APIRoot: j.APIRoot, Rate: j.Rate, Workers: j.Workers,
		MaxRetries: j.MaxRetries, Shard: shard, SourceSHA256: j.SourceSHA256}
	if shard.Sharded() {
		v.Rate = j.TenantRate
		if v.Rate == 0 {
			v.Rate = j.Rate * float64(shard.Parts())
		}
	}
	err = errors.Join(
		parseTimeField("since", j.Since, &v.Since),
		parseTimeField("until", j.Until, &v.Until),
		parseDurationField("stale_after", j.StaleAfter, &v.StaleAfter),
		parseDurationField("timeout", j.Timeout, &v.Timeout),
		parseDurationField("max_duration", j.MaxDuration, &v.MaxDuration),
	)
	if err != nil {
		return err
	}
	*s = v
	return nil
}

func parseShardField(s string) (reconcile.Shard, error) {
	if s == "" {
		return reconcile.Shard{}, nil
	}
	sh, err := reconcile.ParseShard(s)
	if err != nil {
		return sh, fmt.Errorf("shard %q: %w", s, err)
	}
	return sh, nil
}

func parseTimeField(name, s string, t *time.Time) error {
	if s == "" {
		return nil
	}
	v, err := ParseTime(s)
	if err != nil {
		return fmt.Errorf("%s %q: %w", name, s, err)
	}
	*t = v
	return nil
}

func parseDurationField(name, s string, d *time.Duration) error {
	if s == "" {
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	*d = v
	return nil
}

// ParseTime reads an RFC 3339 time or a YYYY-MM-DD date (midnight UTC).
func ParseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, errors.New("want RFC 3339 (2026-01-02T15:04:05Z) or YYYY-MM-DD")
}

// Fields names the settings given on the command line (or in the
// environment) that an earlier run's own must not contradict when a run
// continues it: each is a flag.
type Fields uint16

// The settings a continued run takes from the run it continues.
const (
	GivenSource Fields = 1 << iota
	GivenQuery
	GivenEnv
	GivenBaseURL
	GivenSince
	GivenUntil
	GivenStaleAfter
	GivenShard
	GivenOut
)

// Has reports whether every field of g is in f.
func (f Fields) Has(g Fields) bool { return f&g == g }

// adopt returns the spec of a run that continues run r, whose spec was
// prev: its source, query, window, staleness, API root and shard (which
// sets its share of the rate). A setting given now that says otherwise is
// an error naming its flag, never a silent change. Workers, rate, timeout,
// retries and the time limit are s's: they may change between runs.
func adopt(s Spec, given Fields, id, source string, prev Spec) (Spec, error) {
	conflict := func(f Fields, flag string, differs bool, was string) error {
		if given.Has(f) && differs {
			return fmt.Errorf("--%s differs from run %s's (%s): leave it out to continue that run, or start a new one", flag, id, was)
		}
		return nil
	}
	if err := errors.Join(
		conflict(GivenSource, "source", s.Source != "" && !sameSource(s.Source, source), prev.Source),
		conflict(GivenQuery, "query", s.Query != prev.Query, prev.Query),
		conflict(GivenSince, "since", !s.Since.Equal(prev.Since), formatTime(prev.Since)),
		conflict(GivenUntil, "until", !s.Until.Equal(prev.Until), formatTime(prev.Until)),
		conflict(GivenStaleAfter, "stale-after", s.StaleAfter != prev.StaleAfter, prev.StaleAfter.String()),
		conflict(GivenBaseURL, "base-url", s.APIRoot != prev.APIRoot, prev.APIRoot),
		conflict(GivenEnv, "env", s.APIRoot != prev.APIRoot, prev.APIRoot),
		conflict(GivenShard, "shard", s.Shard.String() != prev.Shard.String(), prev.Shard.String()),
	); err != nil {
		return s, err
	}
	if s.Source == "" || !given.Has(GivenSource) {
		s.Source = source // absolute: the run may have started elsewhere
	}
	s.Query, s.Since, s.Until, s.StaleAfter, s.APIRoot = prev.Query, prev.Since, prev.Until, prev.StaleAfter, prev.APIRoot
	s.Shard = prev.Shard
	return s, nil
}

// formatTime is t as a run's parameters hold it, "" for no bound.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339Nano)
}
