package fetch

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2/jwt"
)

// ServiceAccountConfig configures a ServiceAccount.
type ServiceAccountConfig struct {
	// Account is the service account's name and Tenant its tenant id: the
	// assertions' issuer is Account@Tenant.iam.acesso.io. Both required.
	Account, Tenant string
	// PrivateKey is the account's RSA private key in PEM form (PKCS #1 or
	// PKCS #8, not encrypted). Required.
	PrivateKey []byte
	// TokenURL is the token endpoint, such as
	// https://identity.acesso.io/oauth2/token. Required; http or https,
	// without user info, query or fragment (CheckSecureURL is the caller's
	// business). The assertions' audience is its origin,
	// scheme://host[:port].
	TokenURL string
	// HTTPClient sends the token requests; give the run's client, so that
	// its TLS roots and proxy apply. Nil means NewHTTPClient(1). Redirects
	// are never followed.
	HTTPClient *http.Client
	// Timeout bounds one token request. Zero means DefaultTimeout.
	Timeout time.Duration
	// Logger receives an info line per token obtained. Nil discards.
	Logger *slog.Logger
	// Now is the clock that decides when a token is due for renewal. Nil
	// means time.Now. (The assertions' iat and exp come from x/oauth2's
	// own use of time.Now.)
	Now func() time.Time
}

// ServiceAccount gets access tokens with the OAuth2 JWT-bearer grant
// (RFC 7523), as Unico's service accounts do: for every token request it
// signs a fresh RS256 assertion whose claims are exactly iss, aud, scope
// ("*"), iat and exp (at most iat + 1 h), and posts it to the token
// endpoint.
//
// The token is cached and shared: Token returns it until it is due for
// renewal (RenewMargin before expires_in runs out), then one caller gets
// the next while the others wait for it. Renew gets one at once unless the
// token has changed already. At most one token request is in flight.
//
// A failure of the token endpoint (an error answer, no answer, no usable
// token) is a *TokenError, and it is final: every later call returns it
// without asking the endpoint again, since repeated invalid attempts lock
// the account. A cancelled context is not a failure of the endpoint.
//
// Safe for concurrent use. Its String method names the account only.
type ServiceAccount struct {
	conf     jwt.Config
	endpoint string // TokenURL, for errors and logs
	base     http.RoundTripper
	timeout  time.Duration
	log      *slog.Logger
	now      func() time.Time

	sem    chan struct{} // a one-slot lock, held while a token is requested
	recent []pickedLife  // the assertion lifetimes picked in the last seconds; under sem

	mu       sync.Mutex
	token    string
	renewAt  time.Time // zero: renewed only on Renew
	err      error     // the endpoint's failure: final
	requests int
}

var _ TokenSource = (*ServiceAccount)(nil)

// NewServiceAccount checks cfg and returns a ServiceAccount. It sends
// nothing: the first token is requested by the first call to Token.
func NewServiceAccount(cfg ServiceAccountConfig) (*ServiceAccount, error) {
	if err := checkIdentifier("service account", cfg.Account); err != nil {
		return nil, err
	}
	if err := checkIdentifier("tenant", cfg.Tenant); err != nil {
		return nil, err
	}
	key, err := privateKeyPEM(cfg.PrivateKey)
	if err != nil {
		return nil, err
	}
	aud, err := origin(cfg.TokenURL)
	if err != nil {
		return nil, err
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = NewHTTPClient(1)
	}
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	s := &ServiceAccount{
		conf: jwt.Config{
			Email:      cfg.Account + "@" + cfg.Tenant + ".iam.acesso.io",
			PrivateKey: key,
			Scopes:     []string{"*"},
			TokenURL:   cfg.TokenURL,
			Audience:   aud,
			// Expires is set per request (assertionExpires). It counts
			// from now, not from iat (now - 10 s): an Expires of an hour
			// would give exp = iat + 3610, which Unico refuses.
		},
		endpoint: cfg.TokenURL,
		base:     base,
		timeout:  cmpOr(cfg.Timeout, DefaultTimeout),
		log:      cfg.Logger,
		now:      cfg.Now,
		sem:      make(chan struct{}, 1),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

func checkIdentifier(what, v string) error {
	switch {
	case v == "":
		return fmt.Errorf("%s: empty", what)
	case strings.ContainsAny(v, "@/") || !validHeaderValue(v):
		return fmt.Errorf("%s %q: white space, control characters, @ or / inside", what, printable(v))
	}
	return nil
}

// privateKeyPEM finds the RSA private key in a PEM file and returns it as
// one PEM block. Its errors never quote the file.
func privateKeyPEM(b []byte) ([]byte, error) {
	for rest := b; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("private key: no PEM private key block in it")
		}
		if !strings.HasSuffix(block.Type, "PRIVATE KEY") {
			continue
		}
		if strings.Contains(block.Type, "ENCRYPTED") || block.Headers["Proc-Type"] != "" {
			return nil, errors.New("private key: encrypted keys are not supported; decrypt it first (openssl pkey -in key.pem -out plain.pem)")
		}
		if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
			if _, ok := k.(*rsa.PrivateKey); !ok {
				return nil, fmt.Errorf("private key: a %T, want RSA (RS256)", k)
			}
		} else if _, err := x509.ParsePKCS1PrivateKey(block.Bytes); err != nil {
			return nil, errors.New("private key: not an RSA key in PKCS #1 or PKCS #8 form")
		}
		return pem.EncodeToMemory(&pem.Block{Type: block.Type, Bytes: block.Bytes}), nil
	}
}

// origin returns scheme://host[:port] of a token URL.
func origin(raw string) (string, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "", errors.New("token url: not a URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("token url %s: must start with https://", Redact(raw))
	case u.Host == "":
		return "", fmt.Errorf("token url %s: no host", Redact(raw))
	case u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "", fmt.Errorf("token url %s: user info, query and fragment are not allowed", Redact(raw))
	}
	return u.Scheme + "://" + u.Host, nil
}

// String names the account, never the key or a token.
func (s *ServiceAccount) String() string { return "service account " + s.conf.Email }

// GoString is String.
func (s *ServiceAccount) GoString() string { return s.String() }

// Requests returns how many token requests were sent so far.
func (s *ServiceAccount) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Token returns the cached token, or gets one when there is none yet or it
// is due for renewal.
func (s *ServiceAccount) Token(ctx context.Context) (string, error) {
	s.mu.Lock()
	tok, ok, err := s.cachedLocked()
	s.mu.Unlock()
	if ok || err != nil {
		return tok, err
	}
	return s.refresh(ctx, "")
}

// Renew gets a new token, unless the current one is already another than
// expired and not yet due for renewal: then it returns that one.
func (s *ServiceAccount) Renew(ctx context.Context, expired string) (string, error) {
	return s.refresh(ctx, expired)
}

// cachedLocked returns the token when it can be used as is.
func (s *ServiceAccount) cachedLocked() (string, bool, error) {
	if s.err != nil {
		return "", false, s.err
	}
	fresh := s.token != "" && (s.renewAt.IsZero() || s.now().Before(s.renewAt))
	return s.token, fresh, nil
}

// refresh requests a token, one caller at a time; a caller that waited
// takes the token the one before it got, when that is fresh and is not
// expired.
func (s *ServiceAccount) refresh(ctx context.Context, expired string) (string, error) {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-s.sem }()
	s.mu.Lock()
	tok, fresh, err := s.cachedLocked()
	s.mu.Unlock()
	if err != nil {
		return "", err
	}
	if fresh && tok != expired {
		return tok, nil
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}

	s.mu.Lock()
	s.requests++
	s.mu.Unlock()
	sent := s.now()
	tok, lifetime, err := s.request(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		var te *TokenError
		if errors.As(err, &te) {
			s.err = err // final: the endpoint is not asked again
		}
		return "", err
	}
	s.token, s.renewAt = tok, time.Time{}
	if lifetime <= 0 {
		s.log.LogAttrs(ctx, slog.LevelWarn, "access token obtained without expires_in: it is renewed when the API says it expired",
			slog.String("account", s.conf.Email), slog.String("token_url", s.endpoint))
		return tok, nil
	}
	s.renewAt = sent.Add(lifetime - RenewMargin(lifetime))
	s.log.LogAttrs(ctx, slog.LevelInfo, "access token obtained",
		slog.String("account", s.conf.Email), slog.String("token_url", s.endpoint),
		slog.Duration("expires_in", lifetime), slog.Duration("renew_in", s.renewAt.Sub(sent)))
	return tok, nil
}

// Bounds of an assertion's lifetime, exp - iat, in seconds. Unico takes
// at most 3600; the assertion is used at once.
const (
	minAssertionLife = 600
	maxAssertionLife = 3600
	// iatBack is how far x/oauth2 dates iat back from now.
	iatBack = 10 * time.Second
)

// pickedLife is an assertion lifetime picked at a Unix second.
type pickedLife struct {
	at   int64
	life int
}

// assertionExpires picks the Expires of the next assertion: a lifetime
// (exp - iat) drawn from [600 s, 3600 s]. x/oauth2 puts iat and exp in
// whole seconds and RS256 signatures are deterministic, so two assertions
// signed in one second with the same lifetime would be the same bytes,
// which the endpoint rejects as reused (1.2.7). Within this process the
// lifetime differs by more than a second from every one picked in the last
// two seconds (iat and exp are read from the clock at two moments, which a
// second's turn may split); between processes signing in the same second
// (two jobs of one account started together), the chance that they match
// is about 1 in 1000. Called with sem held.
func (s *ServiceAccount) assertionExpires() time.Duration {
	now := time.Now().Unix()
	recent := s.recent[:0]
	for _, p := range s.recent {
		if p.at >= now-2 {
			recent = append(recent, p)
		}
	}
	// At most 500 are remembered (each rules out 3 of the 3001 values), so
	// that a pick always exists; no account renews that often anyway.
	s.recent = recent[max(0, len(recent)-500):]
pick:
	for {
		life := minAssertionLife + rand.IntN(maxAssertionLife-minAssertionLife+1)
		for _, p := range s.recent {
			if life >= p.life-1 && life <= p.life+1 {
				continue pick
			}
		}
		s.recent = append(s.recent, pickedLife{at: now, life: life})
		// exp = (now + Expires), iat = (now - 10 s), both truncated to
		// the second: exp - iat = life.
		return time.Duration(life)*time.Second - iatBack
	}
}

// RenewMargin is how long before its end a token that lives lifetime is
// renewed: a minute, or a tenth of the lifetime when that is shorter (half
// a second for a 5 s token). Requests in flight and a clock that differs a
// little from the server's then never meet an expired token.
func RenewMargin(lifetime time.Duration) time.Duration {
	return min(time.Minute, lifetime/10)
}
