package fetch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

// Defaults, as the contract's flags have them.
const (
	// DefaultRate is the API's default per-tenant limit, in requests per
	// second.
	DefaultRate = 10.0
	// DefaultWorkers is how many requests the pipeline keeps in flight, and
	// how many idle connections NewHTTPClient keeps.
	DefaultWorkers = 16
	// DefaultTimeout bounds one request, body included.
	DefaultTimeout = 30 * time.Second
	// DefaultMaxRetries is how often one process is retried.
	DefaultMaxRetries = 5
	// DefaultBackoffBase and DefaultBackoffCap bound the retry back-off:
	// 1 s, 2 s, 4 s ... up to 60 s, jittered.
	DefaultBackoffBase = time.Second
	DefaultBackoffCap  = 60 * time.Second
	// MaxBodyBytes caps a response body; a longer 200 or 410 body is an
	// error (ErrBodyTooLarge). A process body is well under 1 KiB.
	MaxBodyBytes = 256 << 10
	// NoRetries, as Config.MaxRetries, turns retries off (zero means
	// DefaultMaxRetries).
	NoRetries = -1
)

// Config configures a Client. Zero values mean the defaults, as each field
// says.
type Config struct {
	// BaseURL is the API root, such as https://api.id.unico.app; the path
	// /processes/v1/{id} is appended. Required; http or https, without
	// query, fragment or user info.
	BaseURL string
	// APIKey is sent in the APIKEY header. Empty means the header is not
	// sent (the local simulator may need none; the API answers 400 20002,
	// which stops the run).
	APIKey string
	// Tokens gives the Bearer access token. Nil means no Authorization
	// header (the API answers 400 20001, which stops the run).
	Tokens TokenSource
	// HTTPClient sends the requests. Nil means NewHTTPClient(DefaultWorkers).
	// The Client never follows redirects, which would carry the APIKEY
	// header to another host: when CheckRedirect is nil it uses a copy of
	// HTTPClient that refuses them.
	HTTPClient *http.Client
	// Rate is the request rate shared by every caller, in requests per
	// second. Zero means unlimited; the zero Config is therefore unlimited,
	// and callers wanting the API's limit pass DefaultRate.
	Rate float64
	// MaxRetries is how many times one process is retried after its first
	// attempt, for 429, 5xx, transport and body failures. Zero means
	// DefaultMaxRetries; NoRetries (or any negative number) means none.
	MaxRetries int
	// Timeout bounds one request, body included. Zero means DefaultTimeout.
	Timeout time.Duration
	// BackoffBase is the nominal delay before the first retry, doubled at
	// each retry up to BackoffCap, which also caps Retry-After. Zero means
	// DefaultBackoffBase and DefaultBackoffCap.
	BackoffBase, BackoffCap time.Duration
	// Logger receives a debug line per retry and rate change, and an info
	// line per token renewal. Nil means no logs.
	Logger *slog.Logger
	// Now is the clock of Result.FetchedAt and of HTTP-date Retry-After
	// values. Nil means time.Now. Waiting uses the monotonic clock.
	Now func() time.Time
	// InFlight bounds the requests in flight, over every caller; a caller
	// waiting out a back-off or an open breaker holds none, so callers may
	// be many more (the pipeline's window). Zero means no bound: as many
	// as there are callers.
	InFlight int
	// Stop, when closed, makes Fetch return reconcile.ErrStopped for a
	// process not yet sent, instead of waiting for a request slot; those
	// already sent go on to their answer. Nil never stops.
	Stop <-chan struct{}
	// OutageTimeout is how long the API may stay unavailable (the breaker
	// open) before Fetch gives up with an *OutageError; a Retry-After
	// longer than it gives up at once. Zero means DefaultOutageTimeout.
	OutageTimeout time.Duration
}

// Client fetches processes from the API. It implements reconcile.Fetcher and
// is safe for concurrent use; every caller shares its rate.
type Client struct {
	endpoint string // root + "/processes/v1/"
	apiKey   string
	tokens   TokenSource
	hc       *http.Client
	policy   Policy
	timeout  time.Duration
	log      *slog.Logger
	now      func() time.Time
	pacer    *pacer
	renewing chan struct{} // a one-slot lock: one renewal at a time
	health   *health
	slots    chan struct{} // requests in flight; nil: no bound
	stop     <-chan struct{}
	answers  atomic.Int64 // answers received, for Attempt.Early

	mu        sync.Mutex
	responses map[int]int64 // requests sent, by the HTTP status they got
}

var _ reconcile.Fetcher = (*Client)(nil)

// New returns a Client for cfg, or an error naming the field that is wrong.
func New(cfg Config) (*Client, error) {
	endpoint, err := endpointOf(cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	if !validHeaderValue(cfg.APIKey) {
		return nil, errors.New("api key: white space or control characters inside")
	}
	if cfg.APIKey != "" && len(cfg.APIKey) < MinSecretLen {
		return nil, fmt.Errorf("api key: shorter than %d characters, not a key", MinSecretLen)
	}
	if math.IsNaN(cfg.Rate) || cfg.Rate < 0 {
		return nil, fmt.Errorf("rate %v: must be 0 (unlimited) or more", cfg.Rate)
	}
	if cfg.Timeout < 0 || cfg.BackoffBase < 0 || cfg.BackoffCap < 0 || cfg.OutageTimeout < 0 || cfg.InFlight < 0 {
		return nil, errors.New("timeout, back-off, outage timeout and in-flight bound must not be negative")
	}
	c := &Client{
		endpoint: endpoint,
		apiKey:   cfg.APIKey,
		tokens:   cfg.Tokens,
		hc:       cfg.HTTPClient,
		policy: Policy{
			MaxRetries:  cfg.MaxRetries,
			BackoffBase: cmpOr(cfg.BackoffBase, DefaultBackoffBase),
			BackoffCap:  cmpOr(cfg.BackoffCap, DefaultBackoffCap),
		},
		timeout:  cmpOr(cfg.Timeout, DefaultTimeout),
		log:      cfg.Logger,
		now:      cfg.Now,
		pacer:    newPacer(limitOf(cfg.Rate)),
		renewing: make(chan struct{}, 1),
		health:   newHealth(cmpOr(cfg.OutageTimeout, DefaultOutageTimeout), time.Now),
		stop:     cfg.Stop,
	}
	if cfg.InFlight > 0 {
		c.slots = make(chan struct{}, cfg.InFlight)
	}
	switch {
	case cfg.MaxRetries == 0:
		c.policy.MaxRetries = DefaultMaxRetries
	case cfg.MaxRetries < 0:
		c.policy.MaxRetries = 0
	}
	if c.policy.BackoffCap < c.policy.BackoffBase {
		c.policy.BackoffCap = c.policy.BackoffBase
	}
	if c.hc == nil {
		c.hc = NewHTTPClient(DefaultWorkers)
	} else if c.hc.CheckRedirect == nil {
		hc := *c.hc
		hc.CheckRedirect = refuseRedirect
		c.hc = &hc
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

func cmpOr(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

func endpointOf(root string) (string, error) {
	u, err := url.Parse(root)
	if err != nil {
		return "", errors.New("api root: not a URL")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("api root %q: must start with https:// or http://", Redact(root))
	case u.Host == "":
		return "", fmt.Errorf("api root %q: no host", Redact(root))
	case u.User != nil:
		return "", fmt.Errorf("api root %q: user info is not allowed", Redact(root))
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "", fmt.Errorf("api root %q: query and fragment are not allowed", Redact(root))
	}
	return strings.TrimRight(u.String(), "/") + "/processes/v1/", nil
}

// Rate returns the current shared rate in requests per second, lowered
// after 429s and creeping back on success; 0 means unlimited.
func (c *Client) Rate() float64 { return c.pacer.rate() }

// Slowdown returns the lowest rate, in requests per second, to which
// recurring 429s cut the shared rate (0 when they never did), and how long
// the Client ran below its configured rate because of them: 429s while the
// job keeps to its own rate mean that someone else, production most likely,
// is using the tenant's budget.
func (c *Client) Slowdown() (lowest float64, below time.Duration) { return c.pacer.slowdown() }

// Responses returns how many requests this Client has sent, by the HTTP
// status of their response; status 0 counts those that got none (network
// errors, timeouts, and the requests the transport resent by itself). The
// counts add up to the requests sent. The map is the caller's.
func (c *Client) Responses() map[int]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.responses)
}

func (c *Client) countResponse(status, replays int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.responses == nil {
		c.responses = make(map[int]int64)
	}
	c.responses[status]++
	if replays > 0 {
		c.responses[0] += int64(replays)
	}
}

// PausedUntil returns when the pause that a 429 imposed on every caller
// ends, or the zero time when none is in force.
func (c *Client) PausedUntil() time.Time { return c.pacer.pausedUntil() }

// Fetch asks the API for one process, retrying as Policy decides. See
// reconcile.Fetcher for the contract: a per-process failure is in
// Result.Err; the error is non-nil only when the run must stop (a fatal API
// answer, whose *APIError errors.As finds, a token source failure, an
// *OutageError, or ctx's error).
//
// A request holds one of Config.InFlight slots only while it is sent; a
// process waiting out a back-off or an open breaker holds none. Answers
// that show the API unavailable while the breaker is open (or that open
// it) are not charged to the process: it waits for the breaker instead.
// Any other unavailable answer is charged half a retry, other failures a
// whole one.
func (c *Client) Fetch(ctx context.Context, processID string) (reconcile.Result, error) {
	var res reconcile.Result
	id, ok := reconcile.ParseProcessID(processID)
	if !ok {
		res.Err = fmt.Errorf("%w: %q", ErrInvalidProcessID, printable(processID))
		return res, nil
	}
	renewed := false
	var charged, halves int // retries charged: whole ones, and halves for unavailable answers
	sent := 0
	for {
		n := 1 + charged + halves/2
		t, err := c.health.admit(ctx)
		if err != nil {
			return res, c.stopped(id, err)
		}
		var stop <-chan struct{}
		if sent == 0 {
			stop = c.stop // not sent yet: a stop keeps it from being sent
		}
		release, err := c.acquire(ctx, stop)
		if err != nil {
			c.health.abandon(t)
			if errors.Is(err, reconcile.ErrStopped) {
				return res, err
			}
			return res, fmt.Errorf("fetch %s: %w", id, err)
		}
		sentAt, err := c.pacer.wait(ctx)
		if err != nil {
			release()
			c.health.abandon(t)
			return res, fmt.Errorf("fetch %s: %w", id, err)
		}
		if t == pass && c.health.open() {
			release() // the breaker opened meanwhile: wait for it
			continue
		}
		token, err := c.token(ctx)
		if err != nil {
			release()
			c.health.abandon(t)
			return res, err
		}
		o := c.attempt(ctx, id, token)
		release()
		sent++
		res.Attempts += 1 + o.replays
		c.countResponse(o.status, o.replays)
		c.pacer.charge(o.replays)
		early := false
		if o.status != 0 {
			res.HTTPStatus, res.ErrorCode, res.FetchedAt = o.status, o.code, o.at
			early = c.answers.Add(1) <= EarlyAnswers
		}
		if o.status == http.StatusTooManyRequests {
			res.RateLimited++
		}
		if err := ctx.Err(); err != nil {
			c.health.abandon(t)
			return res, fmt.Errorf("fetch %s: %w", id, err)
		}
		a := Attempt{
			N: n, HTTPStatus: o.status, Code: o.code, Err: o.err,
			RetryAfter: o.retryAfter, Now: o.at, Renewed: renewed,
			Jitter: rand.Float64(), Early: early,
		}
		down := Unavailable(a)
		open := c.health.report(t, down, o.failure())
		if t == probe && !open {
			c.pacer.resume()
			c.log.LogAttrs(ctx, slog.LevelInfo, "API available again", slog.String("process_id", id))
		}
		v := c.policy.Decide(a)
		c.pace(ctx, o.status, sentAt, v)
		if v.Pause > c.health.timeout {
			c.health.giveUp(fmt.Errorf("Retry-After %s is longer than the outage timeout %s: %w",
				v.Pause, c.health.timeout, o.failure()))
			continue // admit returns the outage
		}
		if down && open && v.Action != Fatal {
			continue // held by the breaker, not charged
		}
		switch v.Action {
		case Done:
			if o.status == http.StatusNotFound {
				res.NotFound = true
			} else {
				res.Remote = o.remote
			}
			return res, nil
		case Retry:
			if down {
				halves++
			} else {
				charged++
			}
			c.log.LogAttrs(ctx, slog.LevelDebug, "retry",
				slog.String("process_id", id), slog.Int("attempt", n),
				slog.Int("status", o.status), slog.String("code", o.code),
				slog.String("reason", v.Reason), slog.Duration("delay", v.Delay),
				slog.String("url", c.endpoint+id), slog.Any("error", o.failure()))
			if err := sleep(ctx, v.Delay); err != nil {
				return res, fmt.Errorf("fetch %s: %w", id, err)
			}
		case GiveUp:
			res.Err = o.failure()
			if sent > 1 {
				res.Err = fmt.Errorf("no answer after %d attempts: %w", sent, res.Err)
			}
			return res, nil
		case Fatal:
			if o.api == nil {
				return res, newTransportFatal(o.err)
			}
			if o.status == http.StatusNotFound {
				return res, newRootFatal(o.api, c.endpoint)
			}
			var why error
			if renewed && o.code == "10502" {
				why = errors.New("the renewed token was reported expired too")
			}
			return res, newFatal(o.api, why)
		case Renew:
			if err := c.renew(ctx, token); err != nil {
				if ctx.Err() != nil {
					return res, fmt.Errorf("fetch %s: %w", id, ctx.Err())
				}
				return res, newFatal(o.api, scrubError(err, scrubber(c.apiKey, token)))
			}
			renewed = true
		}
	}
}

// acquire takes one of the InFlight slots and returns its release. It
// returns reconcile.ErrStopped once stop is closed.
func (c *Client) acquire(ctx context.Context, stop <-chan struct{}) (func(), error) {
	select {
	case <-stop:
		return nil, reconcile.ErrStopped
	default:
	}
	if c.slots == nil {
		return func() {}, nil
	}
	select {
	case c.slots <- struct{}{}:
		return func() { <-c.slots }, nil
	case <-stop:
		return nil, reconcile.ErrStopped
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// stopped is the error of a Fetch that admit refused: the outage as is (its
// text is the process's detail), ctx's error named.
func (c *Client) stopped(id string, err error) error {
	if errors.Is(err, reconcile.ErrOutage) {
		return err
	}
	return fmt.Errorf("fetch %s: %w", id, err)
}

// pace feeds one verdict to the shared pacer: a 429 pauses everyone and,
// when 429s recur, cuts the rate; a 503 with Retry-After pauses everyone; a
// final answer lets the rate creep back.
func (c *Client) pace(ctx context.Context, status int, sentAt int64, v Verdict) {
	switch {
	case status == http.StatusServiceUnavailable && v.Pause > 0:
		c.pacer.pause(v.Pause)
	case status == http.StatusTooManyRequests:
		c.pacer.pause(v.Pause)
		if c.pacer.attack(sentAt) {
			c.log.LogAttrs(ctx, slog.LevelDebug, "rate lowered",
				slog.Float64("rate", c.pacer.rate()), slog.Duration("pause", v.Pause))
		}
	case v.Action == Done:
		c.pacer.succeed()
	}
}

func (c *Client) token(ctx context.Context) (string, error) {
	if c.tokens == nil {
		return "", nil
	}
	tok, err := c.tokens.Token(ctx)
	if err != nil {
		return "", fmt.Errorf("access token: %w", scrubError(err, scrubber(c.apiKey)))
	}
	// Go refuses such a header before sending it: every process would
	// burn its retries on a failure no retry mends.
	if tok != "" && (!validHeaderValue(tok) || len(tok) < MinSecretLen) {
		return "", fmt.Errorf("access token: %w", errUnusableToken)
	}
	return tok, nil
}

// renew asks the token source for a token other than expired. Callers that
// notice the expiry together queue here; the first renews, the others find
// the token already changed and return at once.
func (c *Client) renew(ctx context.Context, expired string) error {
	if c.tokens == nil {
		return fmt.Errorf("%w: no token source", ErrTokenNotRenewed)
	}
	select {
	case c.renewing <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-c.renewing }()
	if cur, err := c.tokens.Token(ctx); err == nil && cur != expired && cur != "" {
		return nil
	}
	if _, err := c.pacer.wait(ctx); err != nil { // a renewal pays the shared rate too
		return err
	}
	fresh, err := c.tokens.Renew(ctx, expired)
	if err != nil {
		return err
	}
	if fresh == "" || fresh == expired {
		return ErrTokenNotRenewed
	}
	c.log.LogAttrs(ctx, slog.LevelInfo, "access token renewed")
	return nil
}

// errUnusableToken: a token source gave a token that cannot be sent.
var errUnusableToken = fmt.Errorf("the token source gave a token that holds white space or control characters, or is shorter than %d characters", MinSecretLen)

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// scrubError keeps err's chain but rewrites its text without secrets.
func scrubError(err error, scrub func(string) string) error {
	if err == nil {
		return nil
	}
	return &scrubbed{msg: scrub(err.Error()), err: err}
}

type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }
