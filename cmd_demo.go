package main

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/unico-reconcile/unico-reconcile/fetch"
	"github.com/unico-reconcile/unico-reconcile/job"
	"github.com/unico-reconcile/unico-reconcile/reconcile"
	"github.com/unico-reconcile/unico-reconcile/simulator"
	"github.com/urfave/cli/v2"
)

// The demo's fixed settings: fast enough to finish in seconds, with random
// 500s and credentials so that retries and auth are exercised.
const (
	demoRate   = 50
	demoAPIKey = "demo-api-key"
	demoToken  = "demo-token"
	// With --service-account: tokens short-lived enough that the demo
	// renews them a few times.
	demoAccount       = "demo"
	demoTenant        = "demo-tenant"
	demoTokenLifetime = 2 * time.Second
)

func demoCommand(code *int) *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "run the job against the simulator on the demo data built in (testdata/demo) and write out/demo",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "data", Usage: "folder with processes.jsonl (the API) and saved.csv (the saved outcomes) (default: the copy of testdata/demo built into the binary)"},
			&cli.StringFlag{Name: "out", Value: filepath.Join("out", "demo"), Usage: "folder for the reports"},
			&cli.BoolFlag{Name: "summary-json", Usage: "print the summary on stdout as JSON"},
			&cli.BoolFlag{Name: "service-account", Usage: "sign in with a service account whose key pair is made for the demo, through the simulator's token endpoint"},
		},
		Action: func(c *cli.Context) error {
			log, err := newLogger(c)
			if err != nil {
				return err
			}
			in, err := loadDemo(c.String("data"), c.String("out"))
			if err != nil {
				return err
			}
			o, stop, err := demoOptions(c, in, log)
			if err != nil {
				return err
			}
			defer stop()
			sum, err := demo(c, o)
			if err != nil {
				return err
			}
			if sum.ExitCode == reconcile.ExitFatal {
				*code = reconcile.ExitFatal
			}
			return stop()
		},
	}
}

// demoOptions starts the simulator on the demo data, with the token
// endpoint when --service-account, and returns the options of a run
// against it; stop stops the simulator.
func demoOptions(c *cli.Context, in demoInput, log *slog.Logger) (job.Options, func() error, error) {
	cfg := simulator.Config{
		Rate: demoRate, ErrorRate: 0.02, Seed: 1, APIKey: demoAPIKey, Token: demoToken,
		SlowDelay: 10 * time.Second, Logger: log,
	}
	var privateKey []byte
	if c.Bool("service-account") {
		pub, key, err := simulator.NewKeyPair()
		if err != nil {
			return job.Options{}, nil, err
		}
		privateKey = key
		cfg.Token, cfg.PublicKey, cfg.Account, cfg.Tenant = "", pub, demoAccount, demoTenant
		cfg.TokenLifetime = demoTokenLifetime
	}
	root, stop, err := simulator.New(in.data, cfg).Start("127.0.0.1:0")
	if err != nil {
		return job.Options{}, nil, err
	}
	hc := fetch.NewHTTPClient(fetch.DefaultWorkers)
	var tokens fetch.TokenSource = fetch.StaticToken(demoToken)
	if privateKey != nil {
		if tokens, err = fetch.NewServiceAccount(fetch.ServiceAccountConfig{
			Account: demoAccount, Tenant: demoTenant, PrivateKey: privateKey,
			TokenURL: root + "/oauth2/token", HTTPClient: hc, Timeout: 2 * time.Second, Logger: log,
		}); err != nil {
			stop()
			return job.Options{}, nil, err
		}
	}
	return job.Options{
		Spec: job.Spec{
			Source: in.saved, APIRoot: root, Rate: demoRate, Workers: fetch.DefaultWorkers,
			Timeout: 2 * time.Second, MaxRetries: 2, StaleAfter: 24 * time.Hour,
		},
		APIKey: demoAPIKey, Tokens: tokens, HTTPClient: hc, BackoffBase: 100 * time.Millisecond,
		Out: c.String("out"), SummaryJSON: c.Bool("summary-json"),
		Stdout: c.App.Writer, Version: appVersion(), Logger: log,
	}, stop, nil
}

// demo checks the set-up as `check` would, once, then runs the job. The
// demo shows every kind on purpose, unverified included: it succeeded when
// the run completed, whatever it found.
func demo(c *cli.Context, o job.Options) (reconcile.Summary, error) {
	// What check says of this set-up goes on stderr when stdout must be
	// JSON alone.
	w := c.App.Writer
	if o.SummaryJSON {
		w = c.App.ErrWriter
	}
	fmt.Fprintln(w, "unico-reconcile check, against the simulator:")
	if !job.Check(c.Context, o, w) {
		return reconcile.Summary{}, errors.New("demo: a check failed (above)")
	}
	fmt.Fprintln(w)
	sum, err := job.Run(c.Context, o)
	if err != nil {
		return sum, err
	}
	fmt.Fprintf(w, "\nLost responses found: %d. %s repair --run last --state %s --out %s writes their results\n"+
		"in the input's columns (add --target DB --apply to update a SQL table; README, Repairing lost responses).\n",
		sum.Counts[reconcile.LostResponse], c.App.Name, filepath.Join(filepath.Dir(o.Out), "state.db"), o.Out+"-repair")
	fmt.Fprintf(w, "Next: %s check --source YOUR.csv, then %[1]s run --source YOUR.csv (see README, First night).\n", c.App.Name)
	return sum, nil
}
