package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/unico-reconcile/unico-reconcile/fetch"
	"github.com/unico-reconcile/unico-reconcile/job"
)

// Where secrets may come from besides their flags. The variables are read
// here rather than through the flags' EnvVars, so that a secret typed on
// the command line (and visible in process listings) can be told apart
// from one in the environment.
const (
	envAPIKey = job.EnvAPIKey
	envToken  = job.EnvToken
)

// authFlags are the run flags that say how to authenticate.
func authFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "api-key", Usage: "the APIKEY header value; prefer $" + envAPIKey + " or --api-key-file: a flag shows in process listings"},
		&cli.StringFlag{Name: "api-key-file", Usage: "a file holding the APIKEY header value"},
		&cli.StringFlag{Name: "token", Usage: "the Bearer access token; prefer $" + envToken + " or --token-file: a flag shows in process listings"},
		&cli.StringFlag{Name: "token-file", Usage: "a file holding the access token, read again when the API says it expired"},
		&cli.StringFlag{Name: "service-account", EnvVars: []string{"UNICO_SERVICE_ACCOUNT"}, Usage: "sign in as this service account (with --tenant and --private-key-file) instead of --token"},
		&cli.StringFlag{Name: "tenant", EnvVars: []string{"UNICO_TENANT"}, Usage: "the service account's tenant id"},
		&cli.StringFlag{Name: "private-key-file", EnvVars: []string{"UNICO_PRIVATE_KEY_FILE"}, Usage: "the service account's RSA private key (PEM, not encrypted)"},
		&cli.StringFlag{Name: "token-url", EnvVars: []string{"UNICO_TOKEN_URL"}, Usage: "the token endpoint (default: from --env; required with --base-url)"},
		&cli.StringFlag{Name: "ca-file", Usage: "a PEM file of CA certificates to trust besides the system's (a corporate proxy's)"},
		&cli.BoolFlag{Name: "insecure-http", Usage: "FOR TESTS ONLY: allow plain http to hosts other than loopback, sending the credentials in clear text"},
	}
}

// httpClientFrom builds the HTTP client the run shares: TLS certificates
// always verified, against the system's roots plus --ca-file's.
func httpClientFrom(c *cli.Context, workers int) (*http.Client, error) {
	file := c.String("ca-file")
	if file == "" {
		return fetch.NewHTTPClient(workers), nil
	}
	roots, err := fetch.LoadCAFile(file)
	if err != nil {
		return nil, fmt.Errorf("--ca-file: %w", err)
	}
	return fetch.NewHTTPClientWithRoots(workers, roots), nil
}

// credentialsFrom reads the credentials flags into o (APIKey, Tokens,
// HTTPClient), checks that they would not cross the network in clear text, and
// warns, on the run's log, about secrets others can read. o.APIRoot and
// o.Workers must be set.
func credentialsFrom(c *cli.Context, log *slog.Logger, o *job.Options) error {
	var err error
	if o.APIKey, err = secret(c, log, "api-key", envAPIKey); err != nil {
		return err
	}
	tok, from := flagOrEnv(c, log, "token", envToken)
	tokenFile := c.String("token-file")
	if tok != "" && tokenFile != "" {
		return fmt.Errorf("%s and --token-file: give one", from)
	}
	if err := fetch.CheckSecret(from, "access token", tok); err != nil {
		return err
	}
	if o.HTTPClient, err = httpClientFrom(c, o.Workers); err != nil {
		return err
	}
	insecure := []string{}
	if err := checkURL(c, "--base-url", o.APIRoot, &insecure); err != nil {
		return err
	}

	account, tenant, keyFile := c.String("service-account"), c.String("tenant"), c.String("private-key-file")
	switch {
	case account != "" || tenant != "" || keyFile != "":
		if tokenFile != "" || tok != "" {
			return errors.New("--service-account and --token, --token-file or $" + envToken + ": give one way to sign in")
		}
		if o.Tokens, err = serviceAccount(c, log, o, &insecure); err != nil {
			return err
		}
	case c.String("token-url") != "":
		return errors.New("--token-url needs --service-account, --tenant and --private-key-file")
	case tokenFile != "":
		fetch.WarnShared(log, "--token-file", tokenFile)
		if o.Tokens, err = fetch.OpenTokenFile(tokenFile); err != nil {
			return fmt.Errorf("--token-file: %w", err)
		}
	case tok != "":
		o.Tokens = fetch.StaticToken(tok)
	}
	if c.Bool("insecure-http") {
		log.Warn("--insecure-http is on: credentials may cross the network in clear text; it is for tests only",
			"clear_text_urls", strings.Join(insecure, " "))
	}
	return nil
}

// serviceAccount builds the token source of --service-account.
func serviceAccount(c *cli.Context, log *slog.Logger, o *job.Options, insecure *[]string) (*fetch.ServiceAccount, error) {
	account, tenant, keyFile := c.String("service-account"), c.String("tenant"), c.String("private-key-file")
	if account == "" || tenant == "" || keyFile == "" {
		return nil, errors.New("--service-account, --tenant and --private-key-file go together: give all three")
	}
	tokenURL := c.String("token-url")
	if tokenURL == "" {
		if c.String("base-url") != "" {
			return nil, errors.New("--service-account with --base-url: give --token-url too (the token endpoint is not on the API host)")
		}
		tokenURL = fetch.Environments[c.String("env")].TokenURL
	}
	if err := checkURL(c, "--token-url", tokenURL, insecure); err != nil {
		return nil, err
	}
	fetch.WarnShared(log, "--private-key-file", keyFile)
	key, err := fetch.ReadSecretFile(keyFile, 64<<10)
	if err != nil {
		return nil, fmt.Errorf("--private-key-file: %w", err)
	}
	defer clear(key)
	sa, err := fetch.NewServiceAccount(fetch.ServiceAccountConfig{
		Account:    account,
		Tenant:     tenant,
		PrivateKey: key,
		TokenURL:   tokenURL,
		HTTPClient: o.HTTPClient,
		Timeout:    o.Timeout,
		Logger:     log,
	})
	if err != nil {
		return nil, fmt.Errorf("--service-account: %w", err)
	}
	return sa, nil
}

// checkURL refuses a URL that would carry credentials in clear text over
// the network, unless --insecure-http, when it is added to insecure.
func checkURL(c *cli.Context, flag, raw string, insecure *[]string) error {
	err := fetch.CheckSecureURL(raw)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fetch.ErrInsecureURL) && c.Bool("insecure-http"):
		*insecure = append(*insecure, fetch.Redact(raw))
		return nil
	case errors.Is(err, fetch.ErrInsecureURL):
		return fmt.Errorf("%s %w: use https (--insecure-http is for tests only)", flag, err)
	default:
		return fmt.Errorf("%s %w", flag, err)
	}
}

// secret returns the value of --NAME, of the variable env, or the content
// of --NAME-file, whichever is given (more than one is an error), without
// surrounding white space. A value that cannot be sent as a header, or is
// too short to be a secret, is an error naming where it came from.
func secret(c *cli.Context, log *slog.Logger, name, env string) (string, error) {
	v, from := flagOrEnv(c, log, name, env)
	file := c.String(name + "-file")
	if file == "" {
		return v, fetch.CheckSecret(from, strings.ReplaceAll(name, "-", " "), v)
	}
	if v != "" {
		return "", fmt.Errorf("%s and --%s-file: give one", from, name)
	}
	fetch.WarnShared(log, "--"+name+"-file", file)
	b, err := fetch.ReadSecretFile(file, 64<<10)
	if err != nil {
		return "", fmt.Errorf("--%s-file: %w", name, err)
	}
	v = strings.TrimSpace(string(b))
	if v == "" {
		return "", fmt.Errorf("--%s-file %s is empty", name, file)
	}
	return v, fetch.CheckSecret("--"+name+"-file "+file, strings.ReplaceAll(name, "-", " "), v)
}

// flagOrEnv returns the value of --NAME, or else of the variable env,
// without surrounding white space (a Kubernetes Secret or $(cat file) often
// ends in a newline), and where it came from. A value typed on the command
// line works, with a warning: other users see it in process listings.
func flagOrEnv(c *cli.Context, log *slog.Logger, name, env string) (value, from string) {
	if c.IsSet(name) {
		log.Warn("a secret is on the command line, where other users can see it in process listings; use the variable or the file instead",
			"flag", "--"+name, "variable", env, "file_flag", "--"+name+"-file")
		return strings.TrimSpace(c.String(name)), "--" + name
	}
	return strings.TrimSpace(os.Getenv(env)), "$" + env
}
