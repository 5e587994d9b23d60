package reconcile_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

// inFlight is a Fetcher that has sent three requests for each process, two
// of them answered 429, and is waiting to retry when the run is stopped: it
// returns ctx's error with the requests it sent counted, as fetch.Client
// does.
type inFlight struct {
	started atomic.Int64
}

func (f *inFlight) Fetch(ctx context.Context, id string) (reconcile.Result, error) {
	if err := ctx.Err(); err != nil {
		return reconcile.Result{}, err // stopped before sending anything
	}
	f.started.Add(1)
	<-ctx.Done()
	return reconcile.Result{Attempts: 3, RateLimited: 2, HTTPStatus: 429}, ctx.Err()
}

// TestRun_InterruptedCountsWhatWasSent: on a signal, the requests, retries
// and 429s of the processes in flight are in the summary, since they were
// sent (and count against the tenant's rate limit).
func TestRun_InterruptedCountsWhatWasSent(t *testing.T) {
	var src rows
	for i := range 50 {
		src = append(src, reconcile.Local{Row: i + 2, ProcessID: id(i)})
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &inFlight{}
	sawAll := make(chan struct{})
	go func() {
		defer close(sawAll)
		for f.started.Load() < 4 {
			time.Sleep(time.Millisecond)
		}
		cancel() // a signal while 4 fetches are in flight
	}()
	var out sink
	sum, err := reconcile.Run(ctx, src, f, &out, reconcile.Options{Workers: 4})
	<-sawAll
	if err != nil {
		t.Fatalf("Run: %v, want nil", err)
	}
	if got, want := f.started.Load(), int64(4); got != want {
		t.Fatalf("%d fetches started, want %d", got, want)
	}
	if got, want := [3]int{sum.Requests, sum.Retries, sum.RateLimited}, [3]int{4 * 3, 4 * 2, 4 * 2}; got != want {
		t.Errorf("requests, retries, rate_limited = %v, want %v", got, want)
	}
	if got, want := sum.Counts[reconcile.Unverified], 50; got != want {
		t.Errorf("unverified=%d, want %d", got, want)
	}
	var attempts int
	for _, d := range out.got {
		attempts += d.Attempts
		if d.Attempts > 0 && d.Detail != reconcile.DetailInterrupted {
			t.Errorf("row %d: %d attempts, detail %q; want only in-flight ones to carry attempts", d.Local.Row, d.Attempts, d.Detail)
		}
	}
	if attempts != 12 {
		t.Errorf("the listed verdicts carry %d attempts, want 12", attempts)
	}
}
