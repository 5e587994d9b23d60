package main

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/unico-reconcile/unico-reconcile/fetch"
)

// authFlags are the run flags that say how to authenticate.
func authFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "api-key", EnvVars: []string{"UNICO_API_KEY"}, Usage: "the APIKEY header value (prefer the variable or --api-key-file)"},
		&cli.StringFlag{Name: "api-key-file", Usage: "a file holding the APIKEY header value"},
		&cli.StringFlag{Name: "token", EnvVars: []string{"UNICO_ACCESS_TOKEN"}, Usage: "the Bearer access token (prefer the variable or --token-file)"},
		&cli.StringFlag{Name: "token-file", Usage: "a file holding the access token, read again when the API says it expired"},
	}
}

// authOptions holds what the authentication flags ask for beyond APIKey
// and Tokens (kept in runOptions).
type authOptions struct{}

// httpClient returns the HTTP client the run shares.
func (o runOptions) httpClient() (*http.Client, error) {
	return fetch.NewHTTPClient(o.Workers), nil
}

// credentialsFrom reads the credentials flags into o (APIKey, Tokens).
func credentialsFrom(c *cli.Context, o *runOptions) error {
	var err error
	if o.APIKey, err = secret(c, "api-key"); err != nil {
		return err
	}
	switch tok, file := c.String("token"), c.String("token-file"); {
	case tok != "" && file != "":
		return errors.New("--token and --token-file: give one")
	case file != "":
		if o.Tokens, err = fetch.OpenTokenFile(file); err != nil {
			return fmt.Errorf("--token-file: %w", err)
		}
	case tok != "":
		o.Tokens = fetch.StaticToken(tok)
	}
	return nil
}

// secret returns the value of --NAME or the content of --NAME-file.
func secret(c *cli.Context, name string) (string, error) {
	v, file := c.String(name), c.String(name+"-file")
	if file == "" {
		return v, nil
	}
	if v != "" {
		return "", fmt.Errorf("--%s and --%s-file: give one", name, name)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("--%s-file: %w", name, err)
	}
	v = strings.TrimSpace(string(b))
	if v == "" {
		return "", fmt.Errorf("--%s-file %s is empty", name, file)
	}
	return v, nil
}
