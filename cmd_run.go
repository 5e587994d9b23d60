package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/unico-reconcile/unico-reconcile/fetch"
	"github.com/unico-reconcile/unico-reconcile/reconcile"
	"github.com/unico-reconcile/unico-reconcile/reports"
	"github.com/unico-reconcile/unico-reconcile/store"
)

// API roots per --env.
var apiRoots = map[string]string{
	"production": "https://api.id.unico.app",
	"sandbox":    "https://api.id.uat.unico.app",
}

// runOptions is what the run command was asked to do.
type runOptions struct {
	Source      string
	Query       string
	APIRoot     string
	APIKey      string
	Tokens      fetch.TokenSource
	Rate        float64
	Workers     int
	Timeout     time.Duration
	MaxRetries  int
	BackoffBase time.Duration
	Out         string
	Since       time.Time
	Until       time.Time
	StaleAfter  time.Duration
	SummaryJSON bool
	Auth        authOptions // cmd_auth.go
}

const runExitStatus = `EXIT STATUS:
   0  every process verified, no discrepancy
   1  every process verified, discrepancies found (reports written)
   2  usage or configuration error, or a fatal error (bad credentials,
      unreadable source); the message is on stderr
   3  incomplete: some processes could not be verified (kind unverified),
      or the run was interrupted; reports written`

func runFlags() []cli.Flag {
	return append([]cli.Flag{
		&cli.StringFlag{Name: "source", EnvVars: []string{"UNICO_RECONCILE_SOURCE"}, Usage: "saved outcomes: a .csv file, a SQLite file (.db, .sqlite, .sqlite3) or sqlite:PATH"},
		&cli.StringFlag{Name: "query", Usage: "SQL for SQL sources (default: " + store.DefaultQuery + ")"},
		&cli.StringFlag{Name: "env", Value: "production", Usage: "production or sandbox: the API root"},
		&cli.StringFlag{Name: "base-url", EnvVars: []string{"UNICO_BASE_URL"}, Usage: "the API root, overriding --env"},
		&cli.Float64Flag{Name: "rate", Value: fetch.DefaultRate, Usage: "requests per second shared by all workers (0: unlimited)"},
		&cli.IntFlag{Name: "workers", Value: fetch.DefaultWorkers, Usage: "requests in flight at most"},
		&cli.DurationFlag{Name: "timeout", Value: fetch.DefaultTimeout, Usage: "one request"},
		&cli.IntFlag{Name: "max-retries", Value: fetch.DefaultMaxRetries, Usage: "retries per process for retryable failures"},
		&cli.DurationFlag{Name: "retry-base", Value: fetch.DefaultBackoffBase, Usage: "first retry back-off, doubled per retry up to 60s", Hidden: true},
		&cli.StringFlag{Name: "out", Usage: "folder for the reports (default: out/<UTC yyyymmddThhmmssZ>)"},
		&cli.StringFlag{Name: "since", Usage: "only outcomes saved at or after this time (RFC 3339 or YYYY-MM-DD)"},
		&cli.StringFlag{Name: "until", Usage: "only outcomes saved before this time (RFC 3339 or YYYY-MM-DD)"},
		&cli.DurationFlag{Name: "stale-after", Value: 24 * time.Hour, Usage: "report a process still in progress remotely this long after saved_at"},
		&cli.BoolFlag{Name: "summary-json", Usage: "print the summary on stdout as JSON (summary.json) instead of text"},
	}, authFlags()...)
}

func runCommand(code *int) *cli.Command {
	return &cli.Command{
		Name:        "run",
		Usage:       "reconcile saved outcomes with the API and write discrepancy reports",
		Description: "Reads --source, re-fetches every process from the API at --rate, compares, and writes\ndiscrepancies.csv, discrepancies.jsonl and summary.json to --out.\n\n" + runExitStatus,
		Flags:       runFlags(),
		Action: func(c *cli.Context) error {
			log, err := newLogger(c)
			if err != nil {
				return err
			}
			opts, err := runOptionsFrom(c, time.Now())
			if err != nil {
				return err
			}
			sum, err := runJob(c.Context, opts, c.App.Writer, log)
			if err != nil {
				return err
			}
			*code = sum.ExitCode
			return nil
		},
	}
}

// runOptionsFrom checks the flags and turns them into runOptions.
func runOptionsFrom(c *cli.Context, now time.Time) (runOptions, error) {
	o := runOptions{
		Source:      c.String("source"),
		Query:       c.String("query"),
		Rate:        c.Float64("rate"),
		Workers:     c.Int("workers"),
		Timeout:     c.Duration("timeout"),
		MaxRetries:  c.Int("max-retries"),
		BackoffBase: c.Duration("retry-base"),
		Out:         c.String("out"),
		StaleAfter:  c.Duration("stale-after"),
		SummaryJSON: c.Bool("summary-json"),
	}
	if o.Source == "" {
		return o, errors.New("--source is required (or UNICO_RECONCILE_SOURCE)")
	}
	if o.Rate < 0 {
		return o, fmt.Errorf("--rate %g: want a positive number of requests per second, or 0 for unlimited", o.Rate)
	}
	if o.Workers < 1 {
		return o, fmt.Errorf("--workers %d: want at least 1", o.Workers)
	}
	if o.Timeout <= 0 {
		return o, fmt.Errorf("--timeout %s: want a positive duration", o.Timeout)
	}
	if o.MaxRetries < 0 {
		return o, fmt.Errorf("--max-retries %d: want 0 or more", o.MaxRetries)
	}
	if o.StaleAfter < 0 {
		return o, fmt.Errorf("--stale-after %s: want 0 or more", o.StaleAfter)
	}
	o.APIRoot = c.String("base-url")
	if o.APIRoot == "" {
		root, ok := apiRoots[c.String("env")]
		if !ok {
			return o, fmt.Errorf("--env %q: want production or sandbox", c.String("env"))
		}
		o.APIRoot = root
	}
	var err error
	if o.Since, err = parseTime("--since", c.String("since")); err != nil {
		return o, err
	}
	if o.Until, err = parseTime("--until", c.String("until")); err != nil {
		return o, err
	}
	if !o.Since.IsZero() && !o.Until.IsZero() && !o.Since.Before(o.Until) {
		return o, fmt.Errorf("--since %s is not before --until %s", c.String("since"), c.String("until"))
	}
	if o.Out == "" {
		o.Out = filepath.Join("out", now.UTC().Format("20060102T150405Z"))
	}
	if err := credentialsFrom(c, &o); err != nil {
		return o, err
	}
	return o, nil
}

// parseTime reads an RFC 3339 time or a YYYY-MM-DD date (midnight UTC).
func parseTime(flag, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%s %q: want RFC 3339 (2026-01-02T15:04:05Z) or YYYY-MM-DD", flag, s)
}

// runJob runs one reconciliation and writes its reports; the returned
// summary carries the exit code. An error means exit 2 and no reports.
func runJob(ctx context.Context, o runOptions, stdout io.Writer, log *slog.Logger) (reconcile.Summary, error) {
	started := time.Now().UTC()
	runID := newRunID(started)
	var sum reconcile.Summary
	src, err := store.Open(o.Source, o.Query)
	if err != nil {
		return sum, err
	}
	defer src.Close()
	if missing := src.Missing(); len(missing) > 0 {
		log.Warn("source lacks columns; they read as not stored", "columns", strings.Join(missing, ","))
	}
	hc, err := o.httpClient()
	if err != nil {
		return sum, err
	}
	client, err := fetch.New(fetch.Config{
		BaseURL:     o.APIRoot,
		APIKey:      o.APIKey,
		Tokens:      o.Tokens,
		HTTPClient:  hc,
		Rate:        o.Rate,
		MaxRetries:  retries(o.MaxRetries),
		Timeout:     o.Timeout,
		BackoffBase: o.BackoffBase,
		Logger:      log,
	})
	if err != nil {
		return sum, err
	}
	set, err := reports.Create(o.Out)
	if err != nil {
		return sum, err
	}
	defer set.Abort()

	log.Info("run start", "run_id", runID, "source", o.Source, "api_root", o.APIRoot,
		"rate", o.Rate, "workers", o.Workers, "out", o.Out)
	sum, err = reconcile.Run(ctx, src, client, set, reconcile.Options{
		Workers:    o.Workers,
		StaleAfter: o.StaleAfter,
		Since:      o.Since,
		Until:      o.Until,
		Logger:     log,
	})
	if err != nil {
		log.Error("run stopped", "run_id", runID, "error", err.Error())
		return sum, err
	}
	// Run counts; the run's own description is added here.
	sum.RunID, sum.Version, sum.Source, sum.APIRoot = runID, appVersion(), o.Source, o.APIRoot
	sum.Rate, sum.Workers = o.Rate, o.Workers
	sum.StartedAt, sum.FinishedAt = started, time.Now().UTC()
	sum.ExitCode = sum.Code()
	if err := set.Commit(sum); err != nil {
		return sum, err
	}
	attrs := []any{"run_id", sum.RunID, "exit_code", sum.ExitCode, "total", sum.Total,
		"duration", sum.FinishedAt.Sub(sum.StartedAt).Round(time.Millisecond).String(),
		"interrupted", sum.Interrupted,
		"requests", sum.Requests, "retries", sum.Retries, "rate_limited", sum.RateLimited,
		"matched", sum.Counts[reconcile.Match], "pending", sum.Counts[reconcile.Pending]}
	for _, k := range reconcile.Kinds {
		attrs = append(attrs, string(k), sum.Counts[k])
	}
	log.Info("run end", attrs...)
	if o.SummaryJSON {
		err = reports.WriteSummary(stdout, sum)
	} else {
		err = reports.WriteText(stdout, sum, o.Out)
	}
	return sum, err
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
