package fetch_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/unico-reconcile/unico-reconcile/fetch"
	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

func idN(i int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", i) }

// gauge counts requests in flight at the server and keeps the highest.
type gauge struct {
	now, peak, total atomic.Int64
}

func (g *gauge) enter() {
	g.total.Add(1)
	n := g.now.Add(1)
	for {
		p := g.peak.Load()
		if n <= p || g.peak.CompareAndSwap(p, n) {
			return
		}
	}
}

func (g *gauge) leave() { g.now.Add(-1) }

// TestClient_Fetch_WrongRoot: a 404 without the API's error body among the
// first answers stops the run naming --base-url; later, it is one
// process's unexpected answer.
func TestClient_Fetch_WrongRoot(t *testing.T) {
	_, srv := newFake(t, reply{404, []byte("404 page not found\n"), nil})
	c := MustNew(t, srv, fetch.Config{})
	_, err := c.Fetch(context.Background(), askID)
	if err == nil || !strings.Contains(err.Error(), "--base-url") || !strings.Contains(err.Error(), "404") {
		t.Fatalf("Fetch: %v, want a fatal error naming --base-url", err)
	}

	ok := MustReadFixture(t, "ok.json")
	var n atomic.Int64
	srv = newServer(t, func(w http.ResponseWriter, r *http.Request) {
		id := strings.TrimPrefix(r.URL.Path, "/processes/v1/")
		if n.Add(1) <= fetch.EarlyAnswers {
			reply{200, ok, nil}.write(w, id)
			return
		}
		reply{404, []byte("404 page not found\n"), nil}.write(w, id)
	})
	c = MustNew(t, srv, fetch.Config{})
	for i := range fetch.EarlyAnswers {
		if res, err := c.Fetch(context.Background(), idN(i)); err != nil || res.Remote == nil {
			t.Fatalf("Fetch %d: %+v, %v", i, res, err)
		}
	}
	res, err := c.Fetch(context.Background(), askID)
	if err != nil || res.Err == nil || res.HTTPStatus != 404 {
		t.Fatalf("Fetch after %d answers: %+v, %v; want the process unverified, the run going on", fetch.EarlyAnswers, res, err)
	}
}

// TestClient_Fetch_BackoffHoldsNoSlot: with one request in flight at most, a
// process waiting out its back-off lets another be fetched meanwhile.
func TestClient_Fetch_BackoffHoldsNoSlot(t *testing.T) {
	ok := MustReadFixture(t, "ok.json")
	var g gauge
	var failed atomic.Bool
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		g.enter()
		defer g.leave()
		id := strings.TrimPrefix(r.URL.Path, "/processes/v1/")
		if id == askID && !failed.Swap(true) {
			reply{500, MustReadFixture(t, "error_99999.json"), nil}.write(w, id)
			return
		}
		time.Sleep(5 * time.Millisecond)
		reply{200, ok, nil}.write(w, id)
	})
	c := MustNew(t, srv, fetch.Config{InFlight: 1, BackoffBase: 2 * time.Second})
	start := time.Now()
	first := make(chan time.Duration, 1)
	go func() {
		if res, err := c.Fetch(context.Background(), askID); err != nil || res.Remote == nil {
			t.Errorf("Fetch(%s)=%+v, %v", askID, res, err)
		}
		first <- time.Since(start)
	}()
	for !failed.Load() {
		time.Sleep(time.Millisecond)
	}
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			if res, err := c.Fetch(context.Background(), idN(i)); err != nil || res.Remote == nil {
				t.Errorf("Fetch(%s)=%+v, %v", idN(i), res, err)
			}
		})
	}
	wg.Wait()
	others := time.Since(start)
	if others >= time.Second {
		t.Fatalf("the others took %v: the back-off held the only slot", others)
	}
	if d := <-first; d < time.Second {
		t.Fatalf("the retried process ended after %v, want its back-off (1s at least)", d)
	}
	if p := g.peak.Load(); p > 1 {
		t.Fatalf("%d requests in flight at once, want at most InFlight=1", p)
	}
}

// TestClient_Fetch_Outage: the API refuses everything. The breaker opens,
// sends one probe at a time, and after OutageTimeout every caller gets the
// *OutageError, none charged with a failure of its own.
func TestClient_Fetch_Outage(t *testing.T) {
	var g gauge
	var opened atomic.Int64 // requests seen once the breaker had opened
	var openPeak atomic.Int64
	var openedAt atomic.Int64
	var c *fetch.Client
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		g.enter()
		defer g.leave()
		if _, open := c.Probes(); open {
			// Requests sent just before it opened may still arrive: count
			// from 100 ms after it was first seen open.
			now := time.Now().UnixNano()
			openedAt.CompareAndSwap(0, now)
			if now > openedAt.Load()+int64(100*time.Millisecond) {
				opened.Add(1)
				if n := g.now.Load(); n > openPeak.Load() {
					openPeak.Store(n)
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
		hijack(t, w, func(interface{ Write([]byte) (int, error) }) {}) // reset
	})
	c = MustNew(t, srv, fetch.Config{InFlight: 4, OutageTimeout: 2500 * time.Millisecond, BackoffBase: 10 * time.Millisecond})
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, 16)
	results := make([]reconcile.Result, 16)
	for i := range errs {
		wg.Go(func() { results[i], errs[i] = c.Fetch(context.Background(), idN(i)) })
	}
	wg.Wait()
	took := time.Since(start)
	for i, err := range errs {
		var oe *fetch.OutageError
		if !errors.Is(err, reconcile.ErrOutage) || !errors.As(err, &oe) {
			t.Fatalf("Fetch %d: %+v, %v; want the outage", i, results[i], err)
		}
		if results[i].Err != nil {
			t.Fatalf("Fetch %d: charged with %v", i, results[i].Err)
		}
		if !strings.HasPrefix(err.Error(), "API unavailable since ") || !strings.Contains(err.Error(), "EOF") && !strings.Contains(err.Error(), "reset") {
			t.Fatalf("Fetch %d: %q, want the outage's start and its last error", i, err)
		}
	}
	if took < 2500*time.Millisecond || took > 4*time.Second {
		t.Fatalf("the outage ended the fetches after %v, want the 2.5s outage timeout", took)
	}
	o := c.Outage()
	if o == nil || o.Probes < 1 || o.Probes > 3 || o.Watched < 2500*time.Millisecond {
		t.Fatalf("Outage()=%+v, want 1 to 3 probes (at 1s, 2s) and 2.5s watched", o)
	}
	if p := openPeak.Load(); p > 1 {
		t.Fatalf("%d requests in flight at once while the breaker was open, want 1", p)
	}
	if n := opened.Load(); n > int64(o.Probes) {
		t.Fatalf("%d requests reached the API while the breaker was open, want its %d probes", n, o.Probes)
	}
	// Once given up, Fetch returns at once.
	t0 := time.Now()
	if _, err := c.Fetch(context.Background(), askID); !errors.Is(err, reconcile.ErrOutage) || time.Since(t0) > 100*time.Millisecond {
		t.Fatalf("Fetch after the outage: %v after %v", err, time.Since(t0))
	}
}

// TestClient_Fetch_Blip: the API fails every request for a second, then
// answers: the breaker holds the processes, none is charged, all verify.
func TestClient_Fetch_Blip(t *testing.T) {
	ok := MustReadFixture(t, "ok.json")
	var until atomic.Int64
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		id := strings.TrimPrefix(r.URL.Path, "/processes/v1/")
		if time.Now().UnixNano() < until.Load() {
			reply{503, nil, nil}.write(w, id)
			return
		}
		reply{200, ok, nil}.write(w, id)
	})
	c := MustNew(t, srv, fetch.Config{InFlight: 4, MaxRetries: 1, BackoffBase: 10 * time.Millisecond})
	until.Store(time.Now().Add(1500 * time.Millisecond).UnixNano())
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			if res, err := c.Fetch(context.Background(), idN(i)); err != nil || res.Remote == nil {
				t.Errorf("Fetch %d: %+v, %v; want it verified after the blip", i, res, err)
			}
		})
	}
	wg.Wait()
	if probes, open := c.Probes(); probes < 1 || open {
		t.Fatalf("probes %d, open %v; want the breaker to have probed and closed", probes, open)
	}
}

// TestClient_Fetch_RetryAfterPastOutageTimeout: a Retry-After longer than
// the outage timeout is honoured by ending the run at once, not by a
// retry that comes too early.
func TestClient_Fetch_RetryAfterPastOutageTimeout(t *testing.T) {
	_, srv := newFake(t, reply{503, nil, hdr("Retry-After", "3600")})
	c := MustNew(t, srv, fetch.Config{OutageTimeout: time.Minute})
	t0 := time.Now()
	_, err := c.Fetch(context.Background(), askID)
	if !errors.Is(err, reconcile.ErrOutage) || !strings.Contains(err.Error(), "Retry-After 1h0m0s") {
		t.Fatalf("Fetch: %v, want the outage naming the Retry-After", err)
	}
	if d := time.Since(t0); d > time.Second {
		t.Fatalf("took %v, want at once", d)
	}
}

// TestClient_Fetch_UnavailableRetryAfterPausesAll: a 503's Retry-After holds
// every caller, like a 429's.
func TestClient_Fetch_UnavailableRetryAfterPausesAll(t *testing.T) {
	ok := MustReadFixture(t, "ok.json")
	var n atomic.Int64
	var mu sync.Mutex
	var at503 time.Time
	var early []time.Duration
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		id := strings.TrimPrefix(r.URL.Path, "/processes/v1/")
		mu.Lock()
		defer mu.Unlock()
		if n.Add(1) == 1 {
			at503 = time.Now()
			reply{503, nil, hdr("Retry-After", "1")}.write(w, id)
			return
		}
		if d := time.Since(at503); d < time.Second {
			early = append(early, d)
		}
		reply{200, ok, nil}.write(w, id)
	})
	c := MustNew(t, srv, fetch.Config{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		if res, err := c.Fetch(context.Background(), askID); err != nil || res.Remote == nil {
			t.Errorf("Fetch=%+v, %v", res, err)
		}
	}()
	for c.PausedUntil().IsZero() {
		time.Sleep(time.Millisecond)
	}
	for i := range 4 {
		if res, err := c.Fetch(context.Background(), idN(i)); err != nil || res.Remote == nil {
			t.Fatalf("Fetch=%+v, %v", res, err)
		}
	}
	<-done
	if len(early) > 0 {
		t.Fatalf("requests came %v after the 503's Retry-After: 1, want none before 1s", early)
	}
}

// TestClient_Fetch_RenewalPaysRate: a token renewal waits for the shared
// rate like a request.
func TestClient_Fetch_RenewalPaysRate(t *testing.T) {
	ok := MustReadFixture(t, "ok.json")
	_, srv := newFake(t, reply{403, MustReadFixture(t, "error_10502.json"), nil}, reply{200, ok, nil})
	c := MustNew(t, srv, fetch.Config{Rate: 2, Tokens: &countingSource{token: "old-token"}})
	t0 := time.Now()
	if res, err := c.Fetch(context.Background(), askID); err != nil || res.Remote == nil {
		t.Fatalf("Fetch=%+v, %v", res, err)
	}
	// Request, renewal, request: three slots 500 ms apart.
	if d := time.Since(t0); d < 950*time.Millisecond {
		t.Fatalf("took %v, want 1s: the renewal must pay a slot of the 2/s rate", d)
	}
}

// TestClient_Fetch_HeldNotCharged: one process, the API failing for 2 s.
// Its failures open the breaker after half the budget (10); those while it
// is open (the probe at 1 s) are not charged, so it is not given up for
// them and gets its answer from the probe at 3 s.
func TestClient_Fetch_HeldNotCharged(t *testing.T) {
	ok := MustReadFixture(t, "ok.json")
	var until atomic.Int64
	var n atomic.Int64
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if time.Now().UnixNano() < until.Load() {
			reply{503, nil, nil}.write(w, askID)
			return
		}
		reply{200, ok, nil}.write(w, askID)
	})
	// 5 retries: 11 unavailable answers, one more than open the breaker.
	c := MustNew(t, srv, fetch.Config{MaxRetries: 5, BackoffBase: 10 * time.Millisecond})
	until.Store(time.Now().Add(2 * time.Second).UnixNano())
	res, err := c.Fetch(context.Background(), askID)
	if err != nil || res.Remote == nil {
		t.Fatalf("Fetch=%+v, %v after %d requests; want the answer once the API is back", res, err, n.Load())
	}
	if probes, _ := c.Probes(); probes != 2 {
		t.Fatalf("%d probes, want 2 (at 1s, failed; at 3s, answered)", probes)
	}
}

// TestClient_Fetch_Stop: once Config.Stop is closed, a process not yet sent
// is not sent; Fetch says so with reconcile.ErrStopped.
func TestClient_Fetch_Stop(t *testing.T) {
	f, srv := newFake(t, reply{200, MustReadFixture(t, "ok.json"), nil})
	stop := make(chan struct{})
	c := MustNew(t, srv, fetch.Config{InFlight: 1, Stop: stop})
	if res, err := c.Fetch(context.Background(), askID); err != nil || res.Remote == nil {
		t.Fatalf("before the stop: %+v, %v", res, err)
	}
	close(stop)
	if _, err := c.Fetch(context.Background(), askID); !errors.Is(err, reconcile.ErrStopped) {
		t.Fatalf("after the stop: %v, want reconcile.ErrStopped", err)
	}
	if got := f.requests(); got != 1 {
		t.Fatalf("%d requests, want only the one before the stop", got)
	}
}
