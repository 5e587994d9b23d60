package main

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/unico-reconcile/unico-reconcile/fetch"
	"github.com/unico-reconcile/unico-reconcile/job"
	"github.com/unico-reconcile/unico-reconcile/store"
)

// defaultRate is half of the API's default per-tenant limit: every call of
// the tenant counts against that one limit, and the integrator's production
// calls (real people signing up) need the other half.
const defaultRate = fetch.DefaultRate / 2

const runExitStatus = `EXIT STATUS:
   0  every process verified, no discrepancy
   1  every process verified, discrepancies found (reports written)
   2  usage or configuration error, or a fatal error (bad credentials,
      unreadable source); the message is on stderr
   3  incomplete: some processes could not be verified (kind unverified),
      or the run was interrupted; reports written`

func runFlags() []cli.Flag {
	return append([]cli.Flag{
		&cli.StringFlag{Name: "source", EnvVars: []string{"UNICO_RECONCILE_SOURCE"}, Usage: "saved outcomes: a .csv file, a SQLite file (.db, .sqlite, .sqlite3), sqlite:PATH, or a postgres:// URL"},
		&cli.StringFlag{Name: "query", Usage: "SQL for SQL sources (default: " + store.DefaultQuery + ")"},
		&cli.StringFlag{Name: "env", Value: "production", Usage: "production or sandbox: the API root"},
		&cli.StringFlag{Name: "base-url", EnvVars: []string{"UNICO_BASE_URL"}, Usage: "the API root, overriding --env"},
		&cli.Float64Flag{Name: "rate", Value: defaultRate, Usage: "requests per second shared by all workers, shards split it (0: unlimited); the tenant's limit (10 by default) is shared with production"},
		&cli.IntFlag{Name: "workers", Value: fetch.DefaultWorkers, Usage: "requests in flight at most"},
		&cli.DurationFlag{Name: "timeout", Value: fetch.DefaultTimeout, Usage: "one request"},
		&cli.IntFlag{Name: "max-retries", Value: fetch.DefaultMaxRetries, Usage: "retries per process for retryable failures"},
		&cli.DurationFlag{Name: "retry-base", Value: fetch.DefaultBackoffBase, Usage: "first retry back-off, doubled per retry up to 60s", Hidden: true},
		&cli.StringFlag{Name: "out", Usage: "folder for the reports (default: out/<UTC yyyymmddThhmmssZ>)"},
		&cli.StringFlag{Name: "since", Usage: "only outcomes saved at or after this time (RFC 3339 or YYYY-MM-DD)"},
		&cli.StringFlag{Name: "until", Usage: "only outcomes saved before this time (RFC 3339 or YYYY-MM-DD)"},
		&cli.DurationFlag{Name: "stale-after", Value: 24 * time.Hour, Usage: "report a process still in progress remotely this long after saved_at"},
		&cli.BoolFlag{Name: "summary-json", Usage: "print the summary on stdout as JSON (summary.json) instead of text"},
		&cli.StringFlag{Name: "state", EnvVars: []string{"UNICO_RECONCILE_STATE"}, Usage: "the run history, a SQLite database (default: state.db in the folder that holds --out)"},
		&cli.BoolFlag{Name: "no-state", Usage: "keep no run history (no --resume or --recheck later)"},
		&cli.BoolFlag{Name: "resume", Usage: "continue the newest unfinished run of --source: recorded processes are not fetched again"},
		&cli.StringFlag{Name: "recheck", Usage: "`RUN_ID` or last: fetch again only what that run left unverified, as a new run"},
		&cli.DurationFlag{Name: "outage-timeout", Value: fetch.DefaultOutageTimeout, Usage: "when the API stays unavailable this long, end the run: the rest unverified, reports written, exit 3 (--resume or --recheck last continues)"},
		&cli.DurationFlag{Name: "max-duration", Usage: "stop taking new processes after this long, finish those in flight, write the reports and exit 3 (--resume continues)"},
		&cli.StringFlag{Name: "shard", EnvVars: []string{"UNICO_RECONCILE_SHARD"}, Usage: "take only the processes whose id hashes to shard `I/N`, at --rate/N; auto/N takes I from JOB_COMPLETION_INDEX (a Kubernetes Indexed Job)"},
		&cli.StringFlag{Name: "metrics-textfile", EnvVars: []string{"UNICO_RECONCILE_METRICS_TEXTFILE"}, Usage: "write Prometheus metrics to this `FILE.prom` for node_exporter's textfile collector (every 30s and at the end)"},
		&cli.StringFlag{Name: "pushgateway", EnvVars: []string{"UNICO_RECONCILE_PUSHGATEWAY"}, Usage: "push Prometheus metrics to this Pushgateway `URL` at the end (job unico_reconcile)"},
		&cli.DurationFlag{Name: "progress-interval", Value: job.DefaultProgressEvery, Hidden: true, Usage: "period of the progress log line and of the metrics textfile"},
	}, authFlags()...)
}

func runCommand(code *int) *cli.Command {
	return &cli.Command{
		Name:        "run",
		Usage:       "reconcile saved outcomes with the API and write discrepancy reports",
		Description: "Reads --source, re-fetches every process from the API at --rate, compares, and writes\ndiscrepancies.csv, discrepancies.jsonl and summary.json to --out.\n\n" + runExitStatus,
		Flags:       runFlags(),
		Action: func(c *cli.Context) error {
			opts, err := runOptionsFrom(c, time.Now())
			if err != nil {
				return err
			}
			sum, err := job.Run(c.Context, opts)
			if err != nil {
				return err
			}
			*code = sum.ExitCode
			return nil
		},
	}
}

// givenFlags are the flags whose value a continued run (--resume,
// --recheck) must not contradict: given, each must agree with that run's.
var givenFlags = []struct {
	name string
	f    job.Fields
}{
	{"source", job.GivenSource}, {"query", job.GivenQuery}, {"env", job.GivenEnv}, {"base-url", job.GivenBaseURL},
	{"since", job.GivenSince}, {"until", job.GivenUntil}, {"stale-after", job.GivenStaleAfter},
	{"out", job.GivenOut}, {"shard", job.GivenShard},
}

// runOptionsFrom checks the flags and turns them into the run's options.
func runOptionsFrom(c *cli.Context, now time.Time) (job.Options, error) {
	log, err := newLogger(c)
	if err != nil {
		return job.Options{}, err
	}
	o := job.Options{
		Spec: job.Spec{
			Source: c.String("source"), Query: c.String("query"), Rate: c.Float64("rate"),
			Workers: c.Int("workers"), Timeout: c.Duration("timeout"), MaxRetries: c.Int("max-retries"),
			StaleAfter: c.Duration("stale-after"), MaxDuration: c.Duration("max-duration"),
		},
		BackoffBase: c.Duration("retry-base"), Out: c.String("out"), SummaryJSON: c.Bool("summary-json"),
		State: c.String("state"), NoState: c.Bool("no-state"), Resume: c.Bool("resume"), Recheck: c.String("recheck"),
		OutageTimeout:   c.Duration("outage-timeout"),
		MetricsTextfile: c.String("metrics-textfile"), Pushgateway: c.String("pushgateway"),
		ProgressEvery: c.Duration("progress-interval"),
		Stdout:        c.App.Writer, Version: appVersion(), Logger: log,
	}
	for _, g := range givenFlags {
		if c.IsSet(g.name) {
			o.Given |= g.f
		}
	}
	if err := checkRunFlags(o); err != nil {
		return o, err
	}
	if err := productionFrom(c, &o); err != nil {
		return o, err
	}
	if err := checkRequests(o); err != nil {
		return o, err
	}
	if err := windowFrom(c, &o); err != nil {
		return o, err
	}
	if o.Out == "" {
		o.Out = filepath.Join("out", now.UTC().Format("20060102T150405Z"))
	}
	return o, credentialsFrom(c, log, &o)
}

// checkRunFlags refuses the history and time flags that cannot go
// together or make no sense.
func checkRunFlags(o job.Options) error {
	switch {
	case o.Resume && o.Recheck != "":
		return errors.New("--resume and --recheck: give one")
	case o.NoState && (o.Resume || o.Recheck != ""):
		return errors.New("--no-state: --resume and --recheck need the run history")
	case o.NoState && o.State != "":
		return errors.New("--state and --no-state: give one")
	case o.MaxDuration < 0:
		return fmt.Errorf("--max-duration %s: want a positive duration", o.MaxDuration)
	case o.OutageTimeout <= 0:
		return fmt.Errorf("--outage-timeout %s: want a positive duration", o.OutageTimeout)
	case o.Source == "" && o.Recheck == "":
		return errors.New("--source is required (or UNICO_RECONCILE_SOURCE)")
	case o.Rate < 0:
		return fmt.Errorf("--rate %g: want a positive number of requests per second, or 0 for unlimited", o.Rate)
	}
	return nil
}

// checkRequests refuses request settings out of range.
func checkRequests(o job.Options) error {
	switch {
	case o.Workers < 1:
		return fmt.Errorf("--workers %d: want at least 1", o.Workers)
	case o.Timeout <= 0:
		return fmt.Errorf("--timeout %s: want a positive duration", o.Timeout)
	case o.MaxRetries < 0:
		return fmt.Errorf("--max-retries %d: want 0 or more", o.MaxRetries)
	case o.StaleAfter < 0:
		return fmt.Errorf("--stale-after %s: want 0 or more", o.StaleAfter)
	}
	return nil
}

// windowFrom reads the API root (--env, --base-url) and the window
// (--since, --until).
func windowFrom(c *cli.Context, o *job.Options) error {
	// --env is checked even when --base-url overrides its API root: it
	// still picks the token endpoint, and a typo must not pass silently.
	env, ok := fetch.Environments[c.String("env")]
	if !ok {
		return fmt.Errorf("--env %q: want production or sandbox", c.String("env"))
	}
	if o.APIRoot = c.String("base-url"); o.APIRoot == "" {
		o.APIRoot = env.APIRoot
	}
	var err error
	if o.Since, err = parseTime("--since", c.String("since")); err != nil {
		return err
	}
	if o.Until, err = parseTime("--until", c.String("until")); err != nil {
		return err
	}
	if !o.Since.IsZero() && !o.Until.IsZero() && !o.Since.Before(o.Until) {
		return fmt.Errorf("--since %s is not before --until %s", c.String("since"), c.String("until"))
	}
	return nil
}

// parseTime reads an RFC 3339 time or a YYYY-MM-DD date (midnight UTC);
// "" is no time.
func parseTime(flag, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := job.ParseTime(s)
	if err != nil {
		return t, fmt.Errorf("%s %q: %w", flag, s, err)
	}
	return t, nil
}

// productionFrom reads the flags of a run in production: the PostgreSQL
// DSN (kept out of Source), the shard, metrics and progress.
func productionFrom(c *cli.Context, o *job.Options) error {
	if store.IsPostgres(o.Source) {
		o.DSN, o.Source = o.Source, store.Redact(o.Source)
	}
	if s := c.String("shard"); s != "" {
		sh, err := job.ParseShard(s, os.Getenv("JOB_COMPLETION_INDEX"))
		if err != nil {
			return err
		}
		o.Shard = sh
	}
	if p := o.MetricsTextfile; p != "" && filepath.Ext(p) != ".prom" {
		return fmt.Errorf("--metrics-textfile %s: node_exporter's textfile collector reads only *.prom files", p)
	}
	if p := o.Pushgateway; p != "" {
		u, err := url.Parse(p)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("--pushgateway: want an http:// or https:// URL")
		}
	}
	if isTerminal(c.App.ErrWriter) {
		o.Progress = c.App.ErrWriter
	}
	return nil
}
