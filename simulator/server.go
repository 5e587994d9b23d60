package simulator

import (
	"crypto/rsa"
	"crypto/subtle"
	"encoding/json"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// DefaultSlowDelay is how long the "slow" fault holds a response when
// Config.SlowDelay is zero: longer than unico-reconcile's default 30s timeout.
const DefaultSlowDelay = time.Minute

// Config tunes a Server. The zero Config serves every process at once, with
// no rate limit, no errors and no credentials.
type Config struct {
	// Rate is how many requests per second the whole tenant may send, as a
	// token bucket holding Rate tokens (at least 1); a request that finds the
	// bucket empty gets 429. Zero means unlimited.
	Rate float64
	// Burst is how many tokens the bucket holds: how many requests may come
	// at once after a quiet spell. Zero means Rate rounded up ("Rate
	// requests in a second"); 1 is a strict limiter that answers 429 to any
	// two requests closer than 1/Rate.
	Burst int
	// NoRetryAfter leaves the Retry-After header out of 429 answers. By
	// default it says, in whole seconds (at least 1), when a token is free.
	NoRetryAfter bool
	// Latency is added to every request that passes the rate limit, before it
	// is answered; a request whose client goes away meanwhile is dropped.
	// Zero means none.
	Latency time.Duration
	// ErrorRate is the probability, from 0 to 1, that a request that passes
	// the rate limit is answered 500 (99999). Zero means never.
	ErrorRate float64
	// UnavailableRate is the probability, from 0 to 1, that a request that
	// passes the rate limit is answered 503 without a body, as a gateway
	// in front of an overloaded API does. Zero means never.
	UnavailableRate float64
	// RandomRateLimited is the probability, from 0 to 1, that a request is
	// answered 429 (Retry-After: 1) although the bucket has tokens: the
	// tenant's limit brushed by another of its clients. Zero means never.
	RandomRateLimited float64
	// FailAfter and FailFor make a window of time in which every request
	// is answered 503 without a body: from FailAfter after the first
	// request the server sees, for FailFor. FailFor zero means no window.
	FailAfter, FailFor time.Duration
	// DownAfter and DownFor stop ListenAndServe from serving at all, as a
	// dead API: DownAfter after the first request it sees, its listener
	// and connections are closed (connection refused); after DownFor it
	// listens again on the same address. DownAfter zero means never;
	// DownFor zero means down for good.
	DownAfter, DownFor time.Duration
	// Seed seeds the random errors: the same Seed and the same sequence of
	// requests give the same errors.
	Seed uint64
	// APIKey, when not empty, must be sent in the APIKEY header: missing is
	// 400 (20002), another value is 403 (10201).
	APIKey string
	// Token, when not empty, must be sent as "Authorization: Bearer Token":
	// missing or empty is 400 (20001), another scheme is 403 (30017), another
	// token is 403 (10501).
	Token string
	// ExpiredTokens are bearer tokens answered 403 (10502, expired). When it
	// is set and Token is empty, a bearer token is still required and any
	// token not listed is accepted.
	ExpiredTokens []string
	// PublicKey, when set, turns the token endpoint on: POST /oauth2/token
	// takes the JWT-bearer grant of Unico's service accounts, checks the
	// assertion's RS256 signature against PublicKey and its claims as
	// Unico does (token.go), and issues access tokens that the process API
	// then accepts until they expire (403 10502 after, 10501 for a token
	// it never issued, unless it is Token). Nil: no token endpoint (404).
	PublicKey *rsa.PublicKey
	// Account and Tenant name the service account: assertions must have
	// iss = Account@Tenant.iam.acesso.io.
	Account, Tenant string
	// Audience is the aud assertions must carry. Empty means the origin the
	// request was sent to (http://Host, or https:// over TLS), which is
	// what a client derives from the token URL it was given.
	Audience string
	// TokenLifetime is how long an issued token is accepted; expires_in
	// says it in whole seconds (at least 1). Zero means
	// DefaultTokenLifetime.
	TokenLifetime time.Duration
	// LockAfter is how many failed token requests in a row lock the account
	// for the server's life (1.2.18 to every later request, valid or not).
	// Zero means DefaultLockAfter; negative, never.
	LockAfter int
	// SlowDelay is how long the "slow" fault holds a response. Zero means
	// DefaultSlowDelay.
	SlowDelay time.Duration
	// Logger receives a line when serving starts and, at debug level, one
	// line per request. Nil discards. Secrets are never logged.
	Logger *slog.Logger
	// Now is the clock of the rate limit and of the access tokens' expiry.
	// Nil means time.Now; tests fix it so that no token comes back during
	// a burst.
	Now func() time.Time
}

// Server serves Unico's process API from a Data. It is an http.Handler and
// is safe for concurrent use.
type Server struct {
	data    *Data
	cfg     Config
	log     *slog.Logger
	now     func() time.Time
	limiter *rate.Limiter // nil: unlimited
	mux     *http.ServeMux

	randMu sync.Mutex
	rand   *rand.Rand

	counters
	perID     []atomic.Int64 // by process index
	unknownMu sync.Mutex
	unknown   map[string]int // requests for valid ids the data lacks

	auth tokenAuth // token.go

	firstOnce sync.Once
	first     chan struct{} // closed at the first request
	firstAt   atomic.Int64  // its time, Unix nanoseconds
}

// New returns a Server answering from data, which must not change
// afterwards. A nil data knows no process.
func New(data *Data, cfg Config) *Server {
	if data == nil {
		data = &Data{}
	}
	s := &Server{
		data:    data,
		cfg:     cfg,
		log:     cfg.Logger,
		now:     cfg.Now,
		rand:    rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		perID:   make([]atomic.Int64, data.Len()),
		unknown: make(map[string]int),
		auth:    tokenAuth{issued: make(map[string]time.Time), used: make(map[[32]byte]time.Time)},
		first:   make(chan struct{}),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.cfg.SlowDelay <= 0 {
		s.cfg.SlowDelay = DefaultSlowDelay
	}
	if cfg.Rate > 0 {
		burst := cfg.Burst
		if burst <= 0 {
			burst = max(1, int(math.Ceil(cfg.Rate)))
		}
		s.limiter = rate.NewLimiter(rate.Limit(cfg.Rate), burst)
	}
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("/processes/v1/{id...}", s.serveProcess)
	if cfg.PublicKey != nil {
		s.mux.HandleFunc("/oauth2/token", s.serveToken)
	}
	s.mux.HandleFunc("/", s.serveNoRoute)
	return s
}

// ServeHTTP answers one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	s.firstOnce.Do(func() {
		s.firstAt.Store(s.now().UnixNano())
		close(s.first)
	})
	if !s.log.Enabled(r.Context(), slog.LevelDebug) {
		s.mux.ServeHTTP(w, r)
		return
	}
	start := time.Now()
	rec := &recorder{ResponseWriter: w}
	defer func() {
		s.log.Debug("simulator request", "method", r.Method, "path", r.URL.Path,
			"status", rec.status, "duration", time.Since(start))
	}()
	s.mux.ServeHTTP(rec, r)
}

// Canned bodies, written by hand from unico-api.md. Error bodies use the
// canonical shape {"error":{"code":N,"message":"..."}}.
var (
	bodyMalformedID  = errorBody(20023, "processId is missing or malformed")
	bodyNoAPIKey     = errorBody(20002, "APIKEY header is missing")
	bodyNoToken      = errorBody(20001, "access token is missing")
	bodyBadJWT       = errorBody(30017, "malformed access token or no permission")
	bodyBadAPIKey    = errorBody(10201, "APIKEY is invalid")
	bodyBadToken     = errorBody(10501, "access token is invalid")
	bodyExpiredToken = errorBody(10502, "access token has expired")
	bodyNotFound     = errorBody(50001, "process not found")
	bodyInternal     = errorBody(99999, "internal failure, try again later")
	// The API documents no body for 429 or for unknown routes; these are what
	// an API gateway typically sends, in a shape unlike the API's own.
	bodyRateLimited = []byte(`{"message":"API rate limit exceeded"}`)
	bodyNoRoute     = []byte(`{"message":"no Route matched with those values"}`)
	bodyNoMethod    = []byte(`{"message":"method not allowed"}`)
)

func errorBody(code int, message string) []byte {
	m, _ := json.Marshal(message) // a string always marshals
	return []byte(`{"error":{"code":` + strconv.Itoa(code) + `,"message":` + string(m) + `}}`)
}

func (s *Server) serveNoRoute(w http.ResponseWriter, r *http.Request) {
	s.unrouted.Add(1)
	writeJSON(w, http.StatusNotFound, bodyNoRoute)
}

func (s *Server) serveProcess(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.unrouted.Add(1)
		w.Header().Set("Allow", "GET, HEAD")
		writeJSON(w, http.StatusMethodNotAllowed, bodyNoMethod)
		return
	}
	id := r.PathValue("id")
	validID := isUUID(id)
	if validID {
		s.countID(id)
	}
	if s.failing() {
		s.unavailable.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	if status, body := s.authorize(r); body != nil {
		s.authErrors.Add(1)
		writeJSON(w, status, body)
		return
	}
	if s.random(s.cfg.RandomRateLimited) {
		s.rateLimited.Add(1)
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusTooManyRequests, bodyRateLimited)
		return
	}
	if ok, retryAfter := s.allow(); !ok {
		s.rateLimited.Add(1)
		if !s.cfg.NoRetryAfter {
			w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
		}
		writeJSON(w, http.StatusTooManyRequests, bodyRateLimited)
		return
	}
	if !sleep(r, s.cfg.Latency) {
		return
	}
	if s.randomError() {
		s.serverErrors.Add(1)
		writeJSON(w, http.StatusInternalServerError, bodyInternal)
		return
	}
	if s.random(s.cfg.UnavailableRate) {
		s.unavailable.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	if !validID {
		s.badRequests.Add(1)
		writeJSON(w, http.StatusBadRequest, bodyMalformedID)
		return
	}
	p, ok := s.data.lookup(id)
	if !ok {
		s.notFound.Add(1)
		writeJSON(w, http.StatusNotFound, bodyNotFound)
		return
	}
	switch p.fault {
	case FaultError:
		s.faults.Add(1)
		s.serverErrors.Add(1)
		writeJSON(w, http.StatusInternalServerError, bodyInternal)
		return
	case FaultReset:
		s.faults.Add(1)
		s.resets.Add(1)
		closeConn(w, nil, true)
		return
	case FaultMalformed:
		s.faults.Add(1)
		s.ok.Add(1)
		writeJSON(w, http.StatusOK, p.body[:len(p.body)/2])
		return
	case FaultTruncated:
		s.faults.Add(1)
		s.ok.Add(1)
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", strconv.Itoa(len(p.body)))
		w.WriteHeader(http.StatusOK)
		closeConn(w, p.body[:len(p.body)/2], false)
		return
	case FaultWrongID:
		s.faults.Add(1)
		s.ok.Add(1)
		writeJSON(w, http.StatusOK, withOtherID(p.body))
		return
	case FaultSlow:
		s.faults.Add(1)
		if !sleep(r, s.cfg.SlowDelay) {
			return
		}
	}
	if p.status == 5 {
		s.gone.Add(1)
		writeJSON(w, http.StatusGone, goneBody(p.id))
		return
	}
	s.ok.Add(1)
	writeJSON(w, http.StatusOK, p.body)
}

// authorize checks the credentials Config asks for. It returns a nil body
// when the request may go on.
func (s *Server) authorize(r *http.Request) (int, []byte) {
	checkToken := s.cfg.Token != "" || len(s.cfg.ExpiredTokens) > 0 || s.cfg.PublicKey != nil
	apiKey, haveKey := r.Header["Apikey"] // canonical form of APIKEY
	if s.cfg.APIKey != "" && (!haveKey || apiKey[0] == "") {
		return http.StatusBadRequest, bodyNoAPIKey
	}
	var token string
	if checkToken {
		auth := strings.TrimSpace(r.Header.Get("Authorization"))
		if auth == "" {
			return http.StatusBadRequest, bodyNoToken
		}
		scheme, rest, _ := strings.Cut(auth, " ")
		if !strings.EqualFold(scheme, "Bearer") {
			return http.StatusForbidden, bodyBadJWT
		}
		token = strings.TrimSpace(rest)
		if token == "" {
			return http.StatusBadRequest, bodyNoToken
		}
	}
	if s.cfg.APIKey != "" && !equal(apiKey[0], s.cfg.APIKey) {
		return http.StatusForbidden, bodyBadAPIKey
	}
	if !checkToken {
		return 0, nil
	}
	for _, t := range s.cfg.ExpiredTokens {
		if equal(token, t) {
			return http.StatusForbidden, bodyExpiredToken
		}
	}
	if s.cfg.PublicKey != nil {
		switch issued, live := s.tokenState(token); {
		case live:
			return 0, nil
		case issued:
			return http.StatusForbidden, bodyExpiredToken
		case s.cfg.Token == "":
			return http.StatusForbidden, bodyBadToken
		}
	}
	if s.cfg.Token != "" && !equal(token, s.cfg.Token) {
		return http.StatusForbidden, bodyBadToken
	}
	return 0, nil
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// allow takes a token from the bucket. When there is none it returns false
// and the whole seconds (at least 1) until one is free.
func (s *Server) allow() (bool, int) {
	if s.limiter == nil {
		return true, 0
	}
	now := s.now()
	if s.limiter.AllowN(now, 1) {
		return true, 0
	}
	missing := 1 - s.limiter.TokensAt(now)
	secs := int(math.Ceil(missing / s.cfg.Rate))
	return false, max(1, secs)
}

func (s *Server) randomError() bool { return s.random(s.cfg.ErrorRate) }

// random reports true with probability p.
func (s *Server) random(p float64) bool {
	if p <= 0 {
		return false
	}
	s.randMu.Lock()
	v := s.rand.Float64()
	s.randMu.Unlock()
	return v < p
}

// failing reports whether now is in the FailAfter/FailFor window.
func (s *Server) failing() bool {
	if s.cfg.FailFor <= 0 {
		return false
	}
	since := time.Duration(s.now().UnixNano() - s.firstAt.Load())
	return since >= s.cfg.FailAfter && since < s.cfg.FailAfter+s.cfg.FailFor
}

// sleep waits d, or less when the request's context ends first; it reports
// whether the whole of d went by.
func sleep(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body) // the client may be gone; nothing to do about it
}

func goneBody(id string) []byte {
	m, _ := json.Marshal(id) // a string always marshals
	return []byte(`{"id":` + string(m) + `,"status":5}`)
}

// withOtherID returns body with its "id" changed to another UUID: the last
// hex digit moved on by one.
func withOtherID(body []byte) []byte {
	ms, err := parseObject(body)
	if err != nil {
		return body // cannot happen: Add parsed it
	}
	return encodeObject(ms, func(m member) (member, bool) {
		if m.key != "id" {
			return m, true
		}
		var id string
		_ = json.Unmarshal(m.value, &id) // Add checked it is a UUID string
		last := strings.IndexByte("0123456789abcdef", lower(id[len(id)-1]))
		id = id[:len(id)-1] + string("0123456789abcdef"[(last+1)%16])
		m.value, _ = json.Marshal(id)
		return m, true
	})
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// recorder notes the status code for the debug log.
type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (closeConn).
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
