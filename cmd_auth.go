package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/unico-reconcile/unico-reconcile/fetch"
)

// Token endpoints per --env (unico-api.md, "Environments").
var tokenURLs = map[string]string{
	"production": "https://identity.acesso.io/oauth2/token",
	"sandbox":    "https://identityhomolog.acesso.io/oauth2/token",
}

// Where secrets may come from besides their flags. The variables are read
// here rather than through the flags' EnvVars, so that a secret typed on
// the command line (and visible in process listings) can be told apart
// from one in the environment.
const (
	envAPIKey = "UNICO_API_KEY"
	envToken  = "UNICO_ACCESS_TOKEN"
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

// authOptions holds what the authentication flags ask for beyond APIKey
// and Tokens (kept in runOptions). It holds no secret.
type authOptions struct {
	// CAFile is a PEM file of CAs trusted besides the system's.
	CAFile string
	// client is the HTTP client built by credentialsFrom and shared by the
	// API and the token endpoint.
	client *http.Client
}

// httpClient returns the HTTP client the run shares: TLS certificates
// always verified, against the system's roots plus --ca-file's.
func (o runOptions) httpClient() (*http.Client, error) {
	if o.Auth.client != nil {
		return o.Auth.client, nil
	}
	if o.Auth.CAFile == "" {
		return fetch.NewHTTPClient(o.Workers), nil
	}
	roots, err := fetch.LoadCAFile(o.Auth.CAFile)
	if err != nil {
		return nil, fmt.Errorf("--ca-file: %w", err)
	}
	return fetch.NewHTTPClientWithRoots(o.Workers, roots), nil
}

// credentialsFrom reads the credentials flags into o (APIKey, Tokens,
// Auth), checks that they would not cross the network in clear text, and
// warns, on the run's log, about secrets others can read. o.APIRoot and
// o.Workers must be set.
func credentialsFrom(c *cli.Context, o *runOptions) error {
	log, err := newLogger(c)
	if err != nil {
		return err
	}
	if o.APIKey, err = secret(c, log, "api-key", envAPIKey); err != nil {
		return err
	}
	tok, from := flagOrEnv(c, log, "token", envToken)
	tokenFile := c.String("token-file")
	if tok != "" && tokenFile != "" {
		return fmt.Errorf("%s and --token-file: give one", from)
	}
	if err := checkSecret(from, "access token", tok); err != nil {
		return err
	}
	o.Auth.CAFile = c.String("ca-file")
	if o.Auth.client, err = o.httpClient(); err != nil {
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
		warnShared(log, "--token-file", tokenFile)
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
func serviceAccount(c *cli.Context, log *slog.Logger, o *runOptions, insecure *[]string) (*fetch.ServiceAccount, error) {
	account, tenant, keyFile := c.String("service-account"), c.String("tenant"), c.String("private-key-file")
	if account == "" || tenant == "" || keyFile == "" {
		return nil, errors.New("--service-account, --tenant and --private-key-file go together: give all three")
	}
	tokenURL := c.String("token-url")
	if tokenURL == "" {
		if c.String("base-url") != "" {
			return nil, errors.New("--service-account with --base-url: give --token-url too (the token endpoint is not on the API host)")
		}
		tokenURL = tokenURLs[c.String("env")]
	}
	if err := checkURL(c, "--token-url", tokenURL, insecure); err != nil {
		return nil, err
	}
	warnShared(log, "--private-key-file", keyFile)
	key, err := readSecretFile(keyFile, 64<<10)
	if err != nil {
		return nil, fmt.Errorf("--private-key-file: %w", err)
	}
	defer clear(key)
	sa, err := fetch.NewServiceAccount(fetch.ServiceAccountConfig{
		Account:    account,
		Tenant:     tenant,
		PrivateKey: key,
		TokenURL:   tokenURL,
		HTTPClient: o.Auth.client,
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
		return v, checkSecret(from, strings.ReplaceAll(name, "-", " "), v)
	}
	if v != "" {
		return "", fmt.Errorf("%s and --%s-file: give one", from, name)
	}
	warnShared(log, "--"+name+"-file", file)
	b, err := readSecretFile(file, 64<<10)
	if err != nil {
		return "", fmt.Errorf("--%s-file: %w", name, err)
	}
	v = strings.TrimSpace(string(b))
	if v == "" {
		return "", fmt.Errorf("--%s-file %s is empty", name, file)
	}
	return v, checkSecret("--"+name+"-file "+file, strings.ReplaceAll(name, "-", " "), v)
}

// checkSecret refuses a credential (what: "api key", "access token") that
// would fail far from its cause: one Go cannot send as a header, or one too
// short to be real (and to be scrubbed from messages). Its error names
// where the value came from, never the value. An empty value is not given.
func checkSecret(from, what, v string) error {
	switch {
	case v == "":
		return nil
	case !fetch.ValidHeaderValue(v):
		return fmt.Errorf("%s: the %s holds white space or control characters inside: it cannot be sent as an HTTP header", from, what)
	case len(v) < fetch.MinSecretLen:
		return fmt.Errorf("%s: the %s is shorter than %d characters: not a real one", from, what, fetch.MinSecretLen)
	}
	return nil
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

// readSecretFile reads at most limit bytes of path; its errors name the
// file, never its content.
func readSecretFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d KiB: not a secret of this kind", path, limit>>10)
	}
	return b, nil
}

// warnShared warns when a secret file can be read or written by others
// than its owner. It says nothing about what the file holds.
func warnShared(log *slog.Logger, flag, path string) {
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm()&0o077 == 0 {
		return // a missing file is reported when it is read
	}
	log.Warn("a secret file can be read by other users than its owner: chmod 600 it",
		"flag", flag, "file", path, "mode", fmt.Sprintf("%04o", fi.Mode().Perm()))
}
