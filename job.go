package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/unico-reconcile/unico-reconcile/dedup"
	"github.com/unico-reconcile/unico-reconcile/fetch"
	"github.com/unico-reconcile/unico-reconcile/reconcile"
	"github.com/unico-reconcile/unico-reconcile/reports"
	"github.com/unico-reconcile/unico-reconcile/state"
	"github.com/unico-reconcile/unico-reconcile/store"
)

// runParams is what a run was asked to do, as the run history keeps it
// (never a secret). A resumed run takes its window and API root from here.
type runParams struct {
	Source      string  `json:"source"`
	Query       string  `json:"query,omitempty"`
	APIRoot     string  `json:"api_root"`
	Since       string  `json:"since,omitempty"`
	Until       string  `json:"until,omitempty"`
	StaleAfter  string  `json:"stale_after"`
	Rate        float64 `json:"rate"`
	Workers     int     `json:"workers"`
	Timeout     string  `json:"timeout"`
	MaxRetries  int     `json:"max_retries"`
	MaxDuration string  `json:"max_duration,omitempty"`
	Shard       string  `json:"shard,omitempty"`
	// SourceSHA256 is what the run read (store.Survey), so that the
	// manifest vouches for the input as well as the reports.
	SourceSHA256 string `json:"source_sha256,omitempty"`
}

func paramsOf(o runOptions) runParams {
	p := runParams{
		Source: o.Source, Query: o.Query, APIRoot: o.APIRoot,
		StaleAfter: o.StaleAfter.String(), Rate: o.Rate, Workers: o.Workers,
		Timeout: o.Timeout.String(), MaxRetries: o.MaxRetries, Shard: o.Shard.String(),
	}
	if !o.Since.IsZero() {
		p.Since = o.Since.Format(time.RFC3339Nano)
	}
	if !o.Until.IsZero() {
		p.Until = o.Until.Format(time.RFC3339Nano)
	}
	if o.MaxDuration > 0 {
		p.MaxDuration = o.MaxDuration.String()
	}
	return p
}

// job is one run being set up: the options, and the run history's record.
type job struct {
	o       runOptions
	log     *slog.Logger
	db      *state.DB // nil with --no-state
	run     state.Run
	resumed bool
}

// runJob runs one reconciliation and writes its reports; the returned
// summary carries the exit code. An error means exit 2 and no reports.
func runJob(ctx context.Context, o runOptions, stdout io.Writer, log *slog.Logger) (sum reconcile.Summary, err error) {
	started := time.Now().UTC()
	j := &job{o: o, log: log}
	if !o.NoState {
		if o.State == "" {
			o.State = filepath.Join(filepath.Dir(o.Out), "state.db")
		}
		db, err := openState(ctx, o.State, started, log)
		if err != nil {
			return sum, err
		}
		defer db.Close()
		j.db = db
	}
	if err := j.pick(ctx, started); err != nil {
		return sum, err
	}
	o = j.o // a resumed run's own parameters

	src, err := store.Open(o.source(), o.Query)
	if err != nil {
		return sum, err
	}
	defer src.Close()
	if missing := src.Missing(); len(missing) > 0 {
		log.Warn("source lacks columns; they read as not stored", "columns", strings.Join(missing, ","))
	}
	survey, err := src.Survey(ctx)
	if err != nil {
		return sum, err
	}
	hc, err := o.httpClient()
	if err != nil {
		return sum, err
	}
	// --max-duration: at the limit no new process is sent (fetch.Config.Stop,
	// reconcile.Options.Stop); those sent finish.
	var stop chan struct{}
	if o.MaxDuration > 0 {
		stop = make(chan struct{})
	}
	client, err := fetch.New(fetch.Config{
		Stop:        stop,
		BaseURL:     o.APIRoot,
		APIKey:      o.APIKey,
		Tokens:      o.Tokens,
		HTTPClient:  hc,
		Rate:        o.Rate,
		MaxRetries:  retries(o.MaxRetries),
		Timeout:     o.Timeout,
		BackoffBase: o.BackoffBase,
		Logger:      log,
		// --workers bounds requests in flight; processes waiting out a
		// back-off or an open breaker hold none (opt.InProgress).
		InFlight:      o.Workers,
		OutageTimeout: o.OutageTimeout,
	})
	if err != nil {
		return sum, err
	}
	if err := j.record(ctx, survey); err != nil {
		return sum, err
	}
	set, err := reports.Create(o.Out)
	if err != nil {
		return sum, err
	}
	defer set.Abort()
	seen, err := openSeen(ctx, o, survey.Rows)
	if err != nil {
		return sum, err
	}
	defer seen.Close()

	opt := reconcile.Options{
		Workers:    o.Workers,
		InProgress: inProgress(o.Workers),
		StaleAfter: o.StaleAfter,
		Since:      o.Since,
		Until:      o.Until,
		Logger:     log,
		Shard:      o.Shard,
		Seen:       seen,
	}
	var sink reconcile.Sink = set
	var journal *state.Journal
	var listing *state.Listing
	// The history is written to the end even after a signal cancels ctx.
	hctx := context.WithoutCancel(ctx)
	if j.db != nil {
		if journal, err = j.db.Journal(hctx, j.run.ID); err != nil {
			return sum, err
		}
		defer journal.Close()
		if listing, err = j.db.Listing(hctx, j.run.ID); err != nil {
			return sum, err
		}
		defer listing.Close()
		opt.Journal, sink = journal, tee{set, listing}
	}
	j.plan(ctx, survey.Rows)
	obs, err := j.observe(started, survey.Rows, client, hc) // job_observe.go
	if err != nil {
		return sum, err
	}
	defer func() { obs.finish(sum, err) }()
	opt.Observer = obs
	if o.MaxDuration > 0 {
		timer := time.AfterFunc(o.MaxDuration-time.Since(started), func() {
			log.Warn("time limit reached: no new processes; finishing those in flight",
				"run_id", j.run.ID, "max_duration", o.MaxDuration.String())
			close(stop)
		})
		defer timer.Stop()
		opt.Stop = stop
	}

	log.Info("run start", "run_id", j.run.ID, "resumed", j.resumed, "recheck_of", j.run.RecheckOf,
		"source", o.Source, "source_sha256", survey.SHA256, "api_root", o.APIRoot,
		"rate", o.Rate, "workers", o.Workers, "out", o.Out, "state", j.statePath(),
		"shard", o.Shard.String(), "tenant_rate", o.TenantRate)
	sum, err = reconcile.Run(ctx, src, client, sink, opt)
	if lowest, below := client.Slowdown(); lowest > 0 && err == nil {
		sum.Slowdown = &reconcile.Slowdown{Lowest: lowest, Below: below}
	}
	if out := client.Outage(); out != nil && err == nil {
		sum.Outage = &reconcile.Outage{Since: out.Since.UTC(), Watched: out.Watched, Probes: out.Probes, LastError: out.Err.Error()}
	}
	if err == nil && journal != nil {
		err = journal.Close()
	}
	if err == nil && listing != nil {
		err = listing.Close()
	}
	if err != nil {
		log.Error("run stopped", "run_id", j.run.ID, "error", err.Error())
		j.end(sum, nil, reconcile.ExitFatal)
		return sum, err
	}
	// Run counts; the run's own description is added here.
	sum.RunID, sum.Version, sum.Source, sum.APIRoot = j.run.ID, appVersion(), o.Source, o.APIRoot
	sum.Rate, sum.Workers = o.Rate, o.Workers
	sum.StartedAt, sum.FinishedAt = j.run.StartedAt, time.Now().UTC()
	if j.run.RecheckOf != "" {
		sum.RecheckOf = j.run.RecheckOf
		if sum.Rechecked, sum.Recovered, err = j.db.Recovered(hctx, j.run.RecheckOf, j.run.ID); err != nil {
			return sum, err
		}
	}
	sum.ExitCode = sum.Code()
	var summary bytes.Buffer
	if err := reports.WriteSummary(&summary, sum); err != nil {
		return sum, err
	}
	login, host := runner()
	if err := set.CommitReport(summary.Bytes(), pageMeta(paramsOf(o), survey.SHA256, login, host)); err != nil {
		return sum, err
	}
	if err := j.seal(hctx, set.Dir()); err != nil {
		return sum, err
	}
	if err := j.end(sum, summary.Bytes(), sum.ExitCode); err != nil {
		return sum, err
	}
	logEnd(log, sum)
	if o.SummaryJSON {
		_, err = stdout.Write(summary.Bytes())
	} else {
		err = reports.WriteText(stdout, sum, o.Out)
	}
	return sum, err
}

// openSeen opens the set of process ids met, for duplicate_id: a Bloom
// filter sized from the source's rows (this shard's share of them), and
// the ids on disk in a temporary file in the report folder, removed at
// once.
func openSeen(ctx context.Context, o runOptions, rows int) (*dedup.Set, error) {
	if o.Shard.Sharded() {
		rows = rows/o.Shard.Count + 1
	}
	return dedup.Open(ctx, dedup.Config{Dir: o.Out, Expected: rows})
}

func countsOf(sum reconcile.Summary) map[string]int {
	c := map[string]int{"total": sum.Total, "matched": sum.Counts[reconcile.Match], "pending": sum.Counts[reconcile.Pending]}
	for _, k := range reconcile.Kinds {
		c[string(k)] = sum.Counts[k]
	}
	return c
}

func logEnd(log *slog.Logger, sum reconcile.Summary) {
	attrs := []any{"run_id", sum.RunID, "exit_code", sum.ExitCode, "total", sum.Total,
		"duration", sum.FinishedAt.Sub(sum.StartedAt).Round(time.Millisecond).String(),
		"interrupted", sum.Interrupted, "reused", sum.Reused,
		"requests", sum.Requests, "retries", sum.Retries, "rate_limited", sum.RateLimited,
		"matched", sum.Counts[reconcile.Match], "pending", sum.Counts[reconcile.Pending]}
	for _, k := range reconcile.Kinds {
		attrs = append(attrs, string(k), sum.Counts[k])
	}
	if sum.RecheckOf != "" {
		attrs = append(attrs, "recheck_of", sum.RecheckOf, "rechecked", sum.Rechecked, "recovered", sum.Recovered)
	}
	if sd := sum.Slowdown; sd != nil {
		attrs = append(attrs, "tenant_busy", fmt.Sprintf("the tenant was busy: %d × 429, %s", sum.RateLimited, sd),
			"lowest_rate", sd.Lowest, "below_rate", sd.Below.Round(time.Millisecond).String())
	}
	if o := sum.Outage; o != nil {
		attrs = append(attrs, "outage_since", o.Since.Format(time.RFC3339), "outage_watched", o.Watched.Round(time.Millisecond).String(),
			"probes", o.Probes, "last_error", o.LastError,
			"next", "the API stayed unavailable: --resume picks the run up; --recheck last fetches only what was left")
		log.Warn("run end", attrs...)
		return
	}
	log.Info("run end", attrs...)
}

// sourceKey identifies a source across runs: its absolute path, keeping a
// "sqlite:" prefix.
func sourceKey(source string) (string, error) {
	if store.IsPostgres(source) {
		return store.Redact(source), nil // a DSN, never with its password
	}
	path, prefixed := strings.CutPrefix(source, "sqlite:")
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("source %s: %w", source, err)
	}
	if prefixed {
		return "sqlite:" + abs, nil
	}
	return abs, nil
}

func sameSource(source, key string) bool {
	k, err := sourceKey(source)
	return err == nil && k == key
}

// tee writes each discrepancy to the reports, then to the run history.
type tee struct {
	reports reconcile.Sink
	history reconcile.Sink
}

func (t tee) Write(d reconcile.Discrepancy) error {
	if err := t.reports.Write(d); err != nil {
		return err
	}
	return t.history.Write(d)
}

// inProgress is how many processes may be in progress at once, fetching or
// waiting to retry, for workers requests in flight: enough that retries
// waiting out their back-off do not idle the workers, few enough that the
// goroutines holding them stay a few MB.
func inProgress(workers int) int {
	return min(max(16*workers, 256), reconcile.DefaultWindow/2)
}

// retries maps the flag (0 = none) to fetch's Config (0 = default).
func retries(n int) int {
	if n == 0 {
		return fetch.NoRetries
	}
	return n
}

// newRunID is the start time and a random suffix: sortable and unique.
func newRunID(t time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return t.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}
