package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
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
			&cli.Float64Flag{Name: "unavailable-rate", Usage: "probability (0..1) of a random 503 without a body (a gateway in front of an overloaded API)"},
			&cli.Float64Flag{Name: "random-429-rate", Usage: "probability (0..1) of a one-off 429 (Retry-After: 1) although the tenant is under its rate"},
			&cli.DurationFlag{Name: "fail-after", Usage: "with --fail-for: from this long after the first request, answer every request 503"},
			&cli.DurationFlag{Name: "fail-for", Usage: "how long every request is answered 503 (0: never)"},
			&cli.DurationFlag{Name: "down-after", Usage: "stop serving this long after the first request: listener closed, connections cut (0: never)"},
			&cli.DurationFlag{Name: "down-for", Usage: "with --down-after: listen again on the same address after this long (0: down for good)"},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed of the random errors"},
			&cli.StringFlag{Name: "api-key", Usage: "APIKEY the clients must send (none: not checked)"},
			&cli.StringFlag{Name: "token", Usage: "Bearer token the clients must send (none: not checked)"},
			&cli.StringSliceFlag{Name: "expired-token", Usage: "a Bearer token answered 403 10502 (expired); repeatable"},
			&cli.StringFlag{Name: "public-key-file", Usage: "turn the token endpoint (POST /oauth2/token) on: the service account's RSA public key (PEM) that verifies assertions"},
			&cli.StringFlag{Name: "service-account", Usage: "the service account the token endpoint knows (with --public-key-file)"},
			&cli.StringFlag{Name: "tenant", Usage: "its tenant id (with --public-key-file)"},
			&cli.DurationFlag{Name: "token-lifetime", Value: simulator.DefaultTokenLifetime, Usage: "how long an issued access token is accepted"},
			&cli.StringFlag{Name: "audience", Usage: "the aud assertions must carry (default: the origin the token request was sent to)"},
			&cli.IntFlag{Name: "lock-after", Value: simulator.DefaultLockAfter, Usage: "failed token requests in a row that lock the account (1.2.18); negative: never, 0: the default"},
		},
		Action: func(c *cli.Context) error {
			log, err := newLogger(c)
			if err != nil {
				return err
			}
			for _, name := range []string{"error-rate", "unavailable-rate", "random-429-rate"} {
				if r := c.Float64(name); r < 0 || r > 1 {
					return fmt.Errorf("--%s %g: want 0..1", name, r)
				}
			}
			for _, name := range []string{"fail-after", "fail-for", "down-after", "down-for"} {
				if d := c.Duration(name); d < 0 {
					return fmt.Errorf("--%s %s: want 0 or more", name, d)
				}
			}
			data, err := simulator.LoadFile(c.String("data"))
			if err != nil {
				return err
			}
			pub, err := simulatorKey(c)
			if err != nil {
				return err
			}
			srv := simulator.New(data, simulator.Config{
				Rate:         c.Float64("rate"),
				NoRetryAfter: c.Bool("no-retry-after"),
				Latency:      c.Duration("latency"),
				ErrorRate:    c.Float64("error-rate"),
				Seed:         c.Uint64("seed"),

				UnavailableRate:   c.Float64("unavailable-rate"),
				RandomRateLimited: c.Float64("random-429-rate"),
				FailAfter:         c.Duration("fail-after"),
				FailFor:           c.Duration("fail-for"),
				DownAfter:         c.Duration("down-after"),
				DownFor:           c.Duration("down-for"),

				APIKey:        c.String("api-key"),
				Token:         c.String("token"),
				ExpiredTokens: c.StringSlice("expired-token"),
				PublicKey:     pub,
				Account:       c.String("service-account"),
				Tenant:        c.String("tenant"),
				TokenLifetime: c.Duration("token-lifetime"),
				Audience:      c.String("audience"),
				LockAfter:     c.Int("lock-after"),
				Logger:        log,
			})
			return srv.ListenAndServe(c.Context, c.String("addr"))
		},
	}
}

// simulatorKey reads --public-key-file, which turns the token endpoint on.
func simulatorKey(c *cli.Context) (*rsa.PublicKey, error) {
	file := c.String("public-key-file")
	if file == "" {
		if c.String("service-account") != "" || c.String("tenant") != "" {
			return nil, errors.New("--service-account and --tenant need --public-key-file")
		}
		return nil, nil
	}
	if c.String("service-account") == "" || c.String("tenant") == "" {
		return nil, errors.New("--public-key-file needs --service-account and --tenant")
	}
	if d := c.Duration("token-lifetime"); d < time.Second {
		return nil, fmt.Errorf("--token-lifetime %s: want a second or more", d)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("--public-key-file: %w", err)
	}
	pub, err := simulator.ParsePublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("--public-key-file %s: %w", file, err)
	}
	return pub, nil
}

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

// demoKey makes the key pair of the demo's service account: it stays in
// memory; the simulator gets the public half.
func demoKey() (*rsa.PublicKey, []byte, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, fmt.Errorf("demo key pair: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("demo key pair: %w", err)
	}
	return &key.PublicKey, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

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
			cfg := simulator.Config{
				Rate:      demoRate,
				ErrorRate: 0.02,
				Seed:      1,
				APIKey:    demoAPIKey,
				Token:     demoToken,
				SlowDelay: 10 * time.Second,
				Logger:    log,
			}
			var privateKey []byte
			if c.Bool("service-account") {
				pub, key, err := demoKey()
				if err != nil {
					return err
				}
				privateKey = key
				cfg.Token, cfg.PublicKey, cfg.Account, cfg.Tenant = "", pub, demoAccount, demoTenant
				cfg.TokenLifetime = demoTokenLifetime
			}
			srv := simulator.New(in.data, cfg)
			root, stop, err := srv.Start("127.0.0.1:0")
			if err != nil {
				return err
			}
			defer stop()
			hc := fetch.NewHTTPClient(fetch.DefaultWorkers)
			var tokens fetch.TokenSource = fetch.StaticToken(demoToken)
			if privateKey != nil {
				if tokens, err = fetch.NewServiceAccount(fetch.ServiceAccountConfig{
					Account:    demoAccount,
					Tenant:     demoTenant,
					PrivateKey: privateKey,
					TokenURL:   root + "/oauth2/token",
					HTTPClient: hc,
					Timeout:    2 * time.Second,
					Logger:     log,
				}); err != nil {
					return err
				}
			}
			opts := runOptions{
				Source:      in.saved,
				APIRoot:     root,
				APIKey:      demoAPIKey,
				Tokens:      tokens,
				Auth:        authOptions{client: hc},
				Rate:        demoRate,
				Workers:     fetch.DefaultWorkers,
				Timeout:     2 * time.Second,
				MaxRetries:  2,
				BackoffBase: 100 * time.Millisecond,
				Out:         c.String("out"),
				StaleAfter:  24 * time.Hour,
				SummaryJSON: c.Bool("summary-json"),
			}
			// What `check` says of this set-up, once, before the run
			// (on stderr when stdout must be JSON alone).
			w := c.App.Writer
			if opts.SummaryJSON {
				w = c.App.ErrWriter
			}
			fmt.Fprintln(w, "unico-reconcile check, against the simulator:")
			if !runChecks(c.Context, opts, w) {
				return errors.New("demo: a check failed (above)")
			}
			fmt.Fprintln(w)
			sum, err := runJob(c.Context, opts, c.App.Writer, log)
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "\nNext: %s check --source YOUR.csv, then %[1]s run --source YOUR.csv (see README, First night).\n", c.App.Name)
			// The demo shows every kind on purpose, unverified included: it
			// succeeded when the run completed, whatever it found.
			if sum.ExitCode == reconcile.ExitFatal {
				*code = reconcile.ExitFatal
			}
			return stop()
		},
	}
}
