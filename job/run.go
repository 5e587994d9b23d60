package job

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
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

// job is one run being set up: the options, and the run history's record.
type job struct {
	o       Options
	log     *slog.Logger
	started time.Time
	db      *state.DB // nil with NoState
	run     state.Run
	resumed bool
}

// Run runs one reconciliation and writes its reports: a new run, the
// unfinished one to continue (Resume) or a re-check of an earlier one
// (Recheck). The returned summary carries the exit code; an error means
// exit 2 and no reports.
func Run(ctx context.Context, o Options) (sum reconcile.Summary, err error) {
	o = o.withDefaults()
	j := &job{o: o, log: o.Logger, started: time.Now().UTC()}
	if err := j.begin(ctx); err != nil {
		return sum, err
	}
	defer j.close()
	src, survey, err := j.openSource(ctx)
	if err != nil {
		return sum, err
	}
	defer src.Close()
	// --max-duration: at the limit no new process is sent (fetch.Config.Stop,
	// reconcile.Options.Stop); those sent finish.
	var stop chan struct{}
	if j.o.MaxDuration > 0 {
		stop = make(chan struct{})
	}
	client, err := j.client(stop)
	if err != nil {
		return sum, err
	}
	if err := j.record(ctx, survey); err != nil {
		return sum, err
	}
	set, err := reports.Create(j.o.Out)
	if err != nil {
		return sum, err
	}
	defer set.Abort()
	p, err := j.pipeline(ctx, set, survey.Rows)
	if err != nil {
		return sum, err
	}
	defer p.close()
	j.plan(ctx, survey.Rows)
	obs, err := j.observe(survey.Rows, client) // observe.go
	if err != nil {
		return sum, err
	}
	defer func() { obs.finish(sum, err) }()
	p.opt.Observer = obs
	if j.o.MaxDuration > 0 {
		defer j.limit(stop).Stop()
		p.opt.Stop = stop
	}
	j.logStart(survey.SHA256)
	if sum, err = j.reconcile(ctx, src, client, p); err != nil {
		return sum, err
	}
	return j.conclude(ctx, sum, set, survey.SHA256)
}

// begin opens the run history, unless NoState, and decides which run this
// is (history.go).
func (j *job) begin(ctx context.Context) error {
	if !j.o.NoState {
		if j.o.State == "" {
			j.o.State = filepath.Join(filepath.Dir(j.o.Out), "state.db")
		}
		db, err := openState(ctx, j.o.State, j.started, j.log)
		if err != nil {
			return err
		}
		j.db = db
	}
	if err := j.pick(ctx); err != nil {
		j.close()
		return err
	}
	return nil
}

func (j *job) close() {
	if j.db != nil {
		j.db.Close()
		j.db = nil
	}
}

// openSource opens the source and reads it through once (store.Survey):
// its rows and its SHA-256.
func (j *job) openSource(ctx context.Context) (*store.Source, store.Survey, error) {
	src, err := store.Open(j.o.source(), j.o.Query)
	if err != nil {
		return nil, store.Survey{}, err
	}
	if missing := src.Missing(); len(missing) > 0 {
		j.log.Warn("source lacks columns; they read as not stored", "columns", strings.Join(missing, ","))
	}
	survey, err := src.Survey(ctx)
	if err != nil {
		src.Close()
		return nil, survey, err
	}
	return src, survey, nil
}

// client builds the API client of the run, at its shard's share of the
// rate.
func (j *job) client(stop chan struct{}) (*fetch.Client, error) {
	o := j.o
	return fetch.New(fetch.Config{
		Stop:        stop,
		BaseURL:     o.APIRoot,
		APIKey:      o.APIKey,
		Tokens:      o.Tokens,
		HTTPClient:  o.HTTPClient,
		Rate:        o.ShardRate(),
		MaxRetries:  retries(o.MaxRetries),
		Timeout:     o.Timeout,
		BackoffBase: o.BackoffBase,
		Logger:      j.log,
		// Workers bounds requests in flight; processes waiting out a
		// back-off or an open breaker hold none (opt.InProgress).
		InFlight:      o.Workers,
		OutageTimeout: o.OutageTimeout,
	})
}

// limit closes stop when MaxDuration has passed since the start.
func (j *job) limit(stop chan struct{}) *time.Timer {
	return time.AfterFunc(j.o.MaxDuration-time.Since(j.started), func() {
		j.log.Warn("time limit reached: no new processes; finishing those in flight",
			"run_id", j.run.ID, "max_duration", j.o.MaxDuration.String())
		close(stop)
	})
}

func (j *job) logStart(sourceSHA256 string) {
	o := j.o
	j.log.Info("run start", "run_id", j.run.ID, "resumed", j.resumed, "recheck_of", j.run.RecheckOf,
		"source", o.Source, "source_sha256", sourceSHA256, "api_root", o.APIRoot,
		"rate", o.ShardRate(), "workers", o.Workers, "out", o.Out, "state", j.statePath(),
		"shard", o.Shard.String(), "tenant_rate", o.Rate)
}

// reconcile runs the pipeline and adds to its summary what the client saw
// of the tenant and the API. An error has been recorded as the run's end.
func (j *job) reconcile(ctx context.Context, src reconcile.Source, client *fetch.Client, p *pipeline) (reconcile.Summary, error) {
	sum, err := reconcile.Run(ctx, src, client, p.sink, p.opt)
	if lowest, below := client.Slowdown(); lowest > 0 && err == nil {
		sum.Slowdown = &reconcile.Slowdown{Lowest: lowest, Below: below}
	}
	if out := client.Outage(); out != nil && err == nil {
		sum.Outage = &reconcile.Outage{Since: out.Since.UTC(), Watched: out.Watched, Probes: out.Probes, LastError: out.Err.Error()}
	}
	if err == nil {
		err = p.flush()
	}
	if err != nil {
		j.log.Error("run stopped", "run_id", j.run.ID, "error", err.Error())
		_ = j.end(sum, nil, reconcile.ExitFatal)
	}
	return sum, err
}

// conclude describes the run in its summary, writes summary.json and
// report.html, seals the folder, records the run's end and prints the
// summary.
func (j *job) conclude(ctx context.Context, sum reconcile.Summary, set *reports.Set, sourceSHA256 string) (reconcile.Summary, error) {
	o := j.o
	hctx := context.WithoutCancel(ctx) // the history is written to the end even after a signal
	sum.RunID, sum.Version, sum.Source, sum.APIRoot = j.run.ID, o.Version, o.Source, o.APIRoot
	sum.Rate, sum.Workers = o.ShardRate(), o.Workers
	sum.StartedAt, sum.FinishedAt = j.run.StartedAt, time.Now().UTC()
	if j.run.RecheckOf != "" {
		var err error
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
	login, host := Runner()
	if err := set.CommitReport(summary.Bytes(), pageMeta(o.Spec, sourceSHA256, login, host)); err != nil {
		return sum, err
	}
	if err := j.seal(hctx, set.Dir()); err != nil {
		return sum, err
	}
	if err := j.end(sum, summary.Bytes(), sum.ExitCode); err != nil {
		return sum, err
	}
	logEnd(j.log, sum)
	if o.SummaryJSON {
		_, err := o.Stdout.Write(summary.Bytes())
		return sum, err
	}
	return sum, reports.WriteText(o.Stdout, sum, o.Out)
}

// pipeline is what reconcile.Run is given: its options and where the
// discrepancies go (the reports, and the history's listing), with the
// history's journal of answers.
type pipeline struct {
	opt     reconcile.Options
	sink    reconcile.Sink
	seen    *dedup.Set
	journal *state.Journal
	listing *state.Listing
}

func (j *job) pipeline(ctx context.Context, set *reports.Set, rows int) (*pipeline, error) {
	o := j.o
	seen, err := openSeen(ctx, o, rows)
	if err != nil {
		return nil, err
	}
	p := &pipeline{seen: seen, sink: set, opt: reconcile.Options{
		Workers:    o.Workers,
		InProgress: inProgress(o.Workers),
		StaleAfter: o.StaleAfter,
		Since:      o.Since,
		Until:      o.Until,
		Logger:     j.log,
		Shard:      o.Shard,
		Seen:       seen,
	}}
	if j.db == nil {
		return p, nil
	}
	// The history is written to the end even after a signal cancels ctx.
	hctx := context.WithoutCancel(ctx)
	if p.journal, err = j.db.Journal(hctx, j.run.ID); err != nil {
		p.close()
		return nil, err
	}
	if p.listing, err = j.db.Listing(hctx, j.run.ID); err != nil {
		p.close()
		return nil, err
	}
	p.opt.Journal, p.sink = p.journal, tee{set, p.listing}
	return p, nil
}

// flush writes what the history has buffered; its error is the run's.
func (p *pipeline) flush() error {
	if p.journal != nil {
		if err := p.journal.Close(); err != nil {
			return err
		}
	}
	if p.listing != nil {
		return p.listing.Close()
	}
	return nil
}

func (p *pipeline) close() {
	if p.listing != nil {
		p.listing.Close()
	}
	if p.journal != nil {
		p.journal.Close()
	}
	p.seen.Close()
}

// openSeen opens the set of process ids met, for duplicate_id: a Bloom
// filter sized from the source's rows (this shard's share of them), and
// the ids on disk in a temporary file in the report folder, removed at
// once.
func openSeen(ctx context.Context, o Options, rows int) (*dedup.Set, error) {
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

// NewRunID is the start time and a random suffix: sortable and unique.
func NewRunID(t time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return t.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}
