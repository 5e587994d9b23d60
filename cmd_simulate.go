package main

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/unico-reconcile/unico-reconcile/fetch"
	"github.com/unico-reconcile/unico-reconcile/simulator"
)

func simulateCommand() *cli.Command {
	return &cli.Command{
		Name:  "simulate",
		Usage: "serve the process API locally from a JSON Lines file, with rate limit and faults",
		Flags: simulateFlags(),
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
			srv := simulator.New(data, simulatorConfig(c, pub, log))
			return srv.ListenAndServe(c.Context, c.String("addr"))
		},
	}
}

// simulatorConfig is the simulator's configuration from its flags.
func simulatorConfig(c *cli.Context, pub *rsa.PublicKey, log *slog.Logger) simulator.Config {
	return simulator.Config{
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
	}
}

// simulateFlags are the simulator's: its data, its rate limit, its faults
// and the credentials it checks.
func simulateFlags() []cli.Flag {
	return []cli.Flag{
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
