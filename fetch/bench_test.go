package fetch_test

// Speed lives here, never in tests. Run with
//
//	go test -run '^$' -bench . -benchtime 1x ./fetch/
//
// The limited benchmarks run against a fake API with a token bucket of
// limit req/s and burst limit (golang.org/x/time/rate), answering raw JSON
// from testdata/api, with the client's real back-off (1 s base).

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/unico-reconcile/unico-reconcile/fetch"
)

// limitedAPI answers 200 while its token bucket has a token, 429 otherwise.
type limitedAPI struct {
	lim        *rate.Limiter
	retryAfter bool // send Retry-After (whole seconds until a token) on 429

	ok, limitedBody  []byte
	requests, denied atomic.Int64
}

func newLimitedAPI(tb testing.TB, limit float64, burst int, retryAfter bool) (*limitedAPI, string) {
	a := &limitedAPI{
		lim:         rate.NewLimiter(rate.Limit(limit), burst),
		retryAfter:  retryAfter,
		ok:          MustReadFixture(tb, "ok.json"),
		limitedBody: MustReadFixture(tb, "rate_limited.json"),
	}
	return a, newServer(tb, a.serve).URL
}

func (a *limitedAPI) serve(w http.ResponseWriter, r *http.Request) {
	a.requests.Add(1)
	id := strings.TrimPrefix(r.URL.Path, "/processes/v1/")
	if !a.lim.Allow() {
		a.denied.Add(1)
		if a.retryAfter {
			res := a.lim.Reserve()
			d := res.Delay()
			res.Cancel()
			w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(d.Seconds())))))
		}
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write(a.limitedBody)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(withID(a.ok, id))
}

// scenario is one run of processes through a client against a limitedAPI.
type scenario struct {
	limit, clientRate float64
	processes         int
	workers           int
	retryAfter        bool
	burst             int // the server's bucket; 0 means limit (one second's worth)
	recover           int // processes fetched after the limit is lifted
}

type figures struct {
	perSecond, requestsPerProcess float64
	steady                        float64
	denied                        int64
	minRate, endRate              float64
	unverified                    int
}

func (s scenario) run(b *testing.B) figures {
	b.Helper()
	burst := s.burst
	if burst == 0 {
		burst = int(s.limit)
	}
	api, url := newLimitedAPI(b, s.limit, burst, s.retryAfter)
	c, err := fetch.New(fetch.Config{
		BaseURL:    url,
		APIKey:     testKey,
		Tokens:     fetch.StaticToken(testToken),
		HTTPClient: fetch.NewHTTPClient(s.workers),
		Rate:       s.clientRate,
	})
	if err != nil {
		b.Fatal(err)
	}
	var f figures
	var mu sync.Mutex
	f.minRate = c.Rate()
	fetchAll := func(first, n int) {
		ids := make(chan string)
		var wg sync.WaitGroup
		for range s.workers {
			wg.Go(func() {
				for id := range ids {
					res, err := c.Fetch(context.Background(), id)
					if err != nil {
						b.Error(err)
					}
					mu.Lock()
					f.minRate = min(f.minRate, c.Rate())
					if res.Err != nil {
						f.unverified++
					}
					mu.Unlock()
				}
			})
		}
		for i := first; i < first+n; i++ {
			ids <- fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		}
		close(ids)
		wg.Wait()
	}
	start := time.Now()
	fetchAll(0, s.processes)
	elapsed := time.Since(start)
	f.perSecond = float64(s.processes) / elapsed.Seconds()
	// The bucket starts full: burst requests come free. Without them:
	f.steady = float64(s.processes-burst) / elapsed.Seconds()
	f.requestsPerProcess = float64(api.requests.Load()) / float64(s.processes)
	f.denied = api.denied.Load()
	if s.recover > 0 {
		api.lim.SetLimit(rate.Inf)
		fetchAll(s.processes, s.recover)
	}
	f.endRate = c.Rate()
	return f
}

func (s scenario) bench(b *testing.B) {
	var sum figures
	for i := 0; i < b.N; i++ {
		f := s.run(b)
		sum.perSecond += f.perSecond
		sum.steady += f.steady
		sum.requestsPerProcess += f.requestsPerProcess
		sum.denied += f.denied
		sum.minRate += f.minRate
		sum.endRate += f.endRate
		sum.unverified += f.unverified
	}
	n := float64(b.N)
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(sum.perSecond/n, "proc/s")
	b.ReportMetric(100*sum.perSecond/n/s.limit, "%limit")
	b.ReportMetric(float64(sum.denied)/n, "429s")
	b.ReportMetric(sum.requestsPerProcess/n, "req/proc")
	b.ReportMetric(float64(sum.unverified)/n, "unverified")
	if s.clientRate > s.limit {
		// The server's bucket starts full, which flatters a client
		// above the limit: throughput without those free requests.
		b.ReportMetric(100*sum.steady/n/s.limit, "%limit-no-burst")
		b.ReportMetric(sum.minRate/n, "min-rate")
		b.ReportMetric(sum.endRate/n, "end-rate")
	}
}

// BenchmarkClient_Fetch_AtLimit: client rate = server limit. Target: at
// least 97% of the limit, no 429.
func BenchmarkClient_Fetch_AtLimit(b *testing.B) {
	scenario{limit: 50, clientRate: 50, processes: 300, workers: 16}.bench(b)
}

// BenchmarkClient_Fetch_AboveLimit: client rate = 3 × server limit. Target:
// requests ≤ 1.05 × processes, throughput ≥ 90% of the limit, and the rate
// back at the configured one once the limit is lifted.
func BenchmarkClient_Fetch_AboveLimit(b *testing.B) {
	for _, ra := range []bool{true, false} {
		b.Run(fmt.Sprintf("RetryAfter=%v", ra), func(b *testing.B) {
			scenario{limit: 50, clientRate: 150, processes: 400, workers: 16, retryAfter: ra, recover: 1500}.bench(b)
		})
	}
	// A server whose bucket holds a tenth of a second: pauses cost more.
	for _, ra := range []bool{true, false} {
		b.Run(fmt.Sprintf("SmallBurst/RetryAfter=%v", ra), func(b *testing.B) {
			scenario{limit: 50, clientRate: 150, processes: 400, workers: 16, retryAfter: ra, burst: 5, recover: 1500}.bench(b)
		})
	}
}

// BenchmarkClient_Fetch_Unlimited: the client's own cost per process on
// loopback with no limit, the fake server's included (same process).
func BenchmarkClient_Fetch_Unlimited(b *testing.B) {
	ok := MustReadFixture(b, "ok.json")
	prefix, suffix, _ := bytes.Cut(ok, []byte(fixtureID))
	srv := newServer(b, func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = []string{"application/json"}
		_, _ = w.Write(prefix)
		_, _ = w.Write([]byte(r.URL.Path[len("/processes/v1/"):]))
		_, _ = w.Write(suffix)
	})
	const workers = 8
	c, err := fetch.New(fetch.Config{
		BaseURL:    srv.URL,
		APIKey:     testKey,
		Tokens:     fetch.StaticToken(testToken),
		HTTPClient: fetch.NewHTTPClient(workers),
	})
	if err != nil {
		b.Fatal(err)
	}
	var next atomic.Int64
	b.SetParallelism(4) // 4 × GOMAXPROCS callers
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := fmt.Sprintf("00000000-0000-4000-8000-%012d", next.Add(1))
			res, err := c.Fetch(context.Background(), id)
			if err != nil || res.Remote == nil {
				b.Fatalf("Fetch=%+v, %v", res, err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "proc/s")
}
