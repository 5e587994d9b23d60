package main

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/unico-reconcile/unico-reconcile/fetch"
	"github.com/unico-reconcile/unico-reconcile/reconcile"
	"github.com/unico-reconcile/unico-reconcile/simulator"
)

func simulateCommand() *cli.Command {
	return &cli.Command{
		Name:  "simulate",
		Usage: "serve the process API locally from a JSON Lines file, with rate limit and faults",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "data", Required: true, Usage: "JSON Lines file of process bodies as the API returns them"},
			&cli.StringFlag{Name: "addr", Value: "127.0.0.1:8080", Usage: "address to listen on"},
			&cli.Float64Flag{Name: "rate", Value: fetch.DefaultRate, Usage: "requests per second for the tenant before 429 (0: unlimited)"},
			&cli.BoolFlag{Name: "no-retry-after", Usage: "answer 429 without a Retry-After header"},
			&cli.DurationFlag{Name: "latency", Usage: "added to every request"},
			&cli.Float64Flag{Name: "error-rate", Usage: "probability (0..1) of a random 500 (99999)"},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed of the random errors"},
			&cli.StringFlag{Name: "api-key", Usage: "APIKEY the clients must send (none: not checked)"},
			&cli.StringFlag{Name: "token", Usage: "Bearer token the clients must send (none: not checked)"},
			&cli.StringSliceFlag{Name: "expired-token", Usage: "a Bearer token answered 403 10502 (expired); repeatable"},
		},
		Action: func(c *cli.Context) error {
			log, err := newLogger(c)
			if err != nil {
				return err
			}
			if r := c.Float64("error-rate"); r < 0 || r > 1 {
				return fmt.Errorf("--error-rate %g: want 0..1", r)
			}
			data, err := simulator.LoadFile(c.String("data"))
			if err != nil {
				return err
			}
			srv := simulator.New(data, simulator.Config{
				Rate:          c.Float64("rate"),
				NoRetryAfter:  c.Bool("no-retry-after"),
				Latency:       c.Duration("latency"),
				ErrorRate:     c.Float64("error-rate"),
				Seed:          c.Uint64("seed"),
				APIKey:        c.String("api-key"),
				Token:         c.String("token"),
				ExpiredTokens: c.StringSlice("expired-token"),
				Logger:        log,
			})
			return srv.ListenAndServe(c.Context, c.String("addr"))
		},
	}
}

// The demo's fixed settings: fast enough to finish in seconds, with random
// 500s and credentials so that retries and auth are exercised.
const (
	demoRate   = 50
	demoAPIKey = "demo-api-key"
	demoToken  = "demo-token"
)

func demoCommand(code *int) *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "run the job against the simulator on testdata/demo and write out/demo",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "data", Value: filepath.Join("testdata", "demo"), Usage: "folder with processes.jsonl (the API) and saved.csv (the saved outcomes)"},
			&cli.StringFlag{Name: "out", Value: filepath.Join("out", "demo"), Usage: "folder for the reports"},
			&cli.BoolFlag{Name: "summary-json", Usage: "print the summary on stdout as JSON"},
		},
		Action: func(c *cli.Context) error {
			log, err := newLogger(c)
			if err != nil {
				return err
			}
			dir := c.String("data")
			data, err := simulator.LoadFile(filepath.Join(dir, "processes.jsonl"))
			if err != nil {
				return fmt.Errorf("demo data: %w (run it from the repository root, or give --data)", err)
			}
			srv := simulator.New(data, simulator.Config{
				Rate:      demoRate,
				ErrorRate: 0.02,
				Seed:      1,
				APIKey:    demoAPIKey,
				Token:     demoToken,
				SlowDelay: 10 * time.Second,
				Logger:    log,
			})
			root, stop, err := srv.Start("127.0.0.1:0")
			if err != nil {
				return err
			}
			defer stop()
			sum, err := runJob(c.Context, runOptions{
				Source:      filepath.Join(dir, "saved.csv"),
				APIRoot:     root,
				APIKey:      demoAPIKey,
				Tokens:      fetch.StaticToken(demoToken),
				Rate:        demoRate,
				Workers:     fetch.DefaultWorkers,
				Timeout:     2 * time.Second,
				MaxRetries:  2,
				BackoffBase: 100 * time.Millisecond,
				Out:         c.String("out"),
				StaleAfter:  24 * time.Hour,
				SummaryJSON: c.Bool("summary-json"),
			}, c.App.Writer, log)
			if err != nil {
				return err
			}
			// The demo shows every kind on purpose, unverified included: it
			// succeeded when the run completed, whatever it found.
			if sum.ExitCode == reconcile.ExitFatal {
				*code = reconcile.ExitFatal
			}
			return stop()
		},
	}
}
