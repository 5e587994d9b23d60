package fetch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// request asks the token endpoint for one token, with a fresh assertion.
// It returns the token's lifetime from expires_in, 0 when the answer had
// none. Its error is a *TokenError, or ctx's error.
func (s *ServiceAccount) request(ctx context.Context) (string, time.Duration, error) {
	rctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	tr := &boundTransport{ctx: rctx, base: s.base}
	hc := &http.Client{Transport: tr, CheckRedirect: refuseRedirect}
	conf := s.conf
	conf.Expires = s.assertionExpires()
	tok, err := conf.TokenSource(context.WithValue(rctx, oauth2.HTTPClient, hc)).Token()
	scrub := scrubber(tr.assertion)
	if err != nil {
		var re *oauth2.RetrieveError
		switch {
		case errors.As(err, &re) && re.Response != nil:
			return "", 0, newTokenErrorAnswer(s.endpoint, re.Response.StatusCode, re.Body, scrub)
		case ctx.Err() != nil:
			return "", 0, fmt.Errorf("token endpoint %s: %w", s.endpoint, ctx.Err())
		case tr.err != nil && errors.Is(tr.err, context.DeadlineExceeded):
			return "", 0, &TokenError{Endpoint: s.endpoint, Err: fmt.Errorf("no answer after %s: %w", s.timeout, tr.err)}
		case tr.err != nil:
			return "", 0, &TokenError{Endpoint: s.endpoint, Err: scrubError(tr.err, scrub)}
		default: // a 2xx that holds no token
			return "", 0, &TokenError{Endpoint: s.endpoint, HTTPStatus: tr.status,
				Err: fmt.Errorf("%w: %s", errNoToken, printable(scrub(err.Error())))}
		}
	}
	scrub = scrubber(tr.assertion, tok.AccessToken)
	if len(tok.AccessToken) < MinSecretLen || !validHeaderValue(tok.AccessToken) {
		return "", 0, &TokenError{Endpoint: s.endpoint, HTTPStatus: tr.status,
			Err: fmt.Errorf("%w: access_token is shorter than %d characters or holds white space", errNoToken, MinSecretLen)}
	}
	if typ := tok.TokenType; typ != "" && !strings.EqualFold(typ, "Bearer") {
		return "", 0, &TokenError{Endpoint: s.endpoint, HTTPStatus: tr.status,
			Err: fmt.Errorf("%w: token_type %q, want Bearer", errNoToken, printable(scrub(typ)))}
	}
	return tok.AccessToken, expiresIn(tok.Extra("expires_in")), nil
}

var errNoToken = errors.New("the answer holds no usable token")

// expiresIn reads expires_in, a number of seconds (or, from some servers, a
// string holding one); 0 when absent or not positive.
func expiresIn(v any) time.Duration {
	var secs float64
	switch v := v.(type) {
	case float64:
		secs = v
	case json.Number:
		secs, _ = v.Float64()
	case string:
		secs, _ = strconv.ParseFloat(v, 64)
	}
	if secs <= 0 || secs > 1e9 {
		return 0
	}
	return time.Duration(secs * float64(time.Second))
}

// boundTransport sends x/oauth2's token request (which carries no context
// of its own) under ctx, and keeps what the errors need: why no answer
// came, the status, and the assertion sent, to scrub it from any text.
// It serves one request at a time.
type boundTransport struct {
	ctx       context.Context
	base      http.RoundTripper
	err       error
	status    int
	assertion string
}

func (t *boundTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.GetBody != nil {
		if body, err := req.GetBody(); err == nil {
			b, _ := io.ReadAll(io.LimitReader(body, 64<<10))
			_ = body.Close()
			if form, err := url.ParseQuery(string(b)); err == nil {
				t.assertion = form.Get("assertion")
			}
		}
	}
	resp, err := t.base.RoundTrip(req.WithContext(t.ctx))
	if err != nil {
		t.err = err
		return nil, err
	}
	t.status = resp.StatusCode
	return resp, nil
}
