package simulator_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/unico-reconcile/unico-reconcile/simulator"
)

func TestServer_UnavailableRate(t *testing.T) {
	sim, srv := MustStart(t, simulator.Config{UnavailableRate: 0.3, Seed: 7})
	n503 := 0
	for range 1000 {
		r := get(t, srv, idYes)
		switch r.status {
		case http.StatusServiceUnavailable:
			n503++
			if len(r.body) != 0 {
				t.Fatalf("503 with body %q, want none (a gateway's)", r.body)
			}
		case http.StatusOK:
		default:
			t.Fatalf("status %d", r.status)
		}
	}
	if n503 < 250 || n503 > 350 {
		t.Fatalf("%d 503s in 1000, want about 300", n503)
	}
	if got := sim.Stats().Unavailable; got != n503 {
		t.Fatalf("Stats().Unavailable=%d, want %d", got, n503)
	}
}

func TestServer_RandomRateLimited(t *testing.T) {
	_, srv := MustStart(t, simulator.Config{RandomRateLimited: 0.1, Seed: 7})
	n := 0
	for range 1000 {
		if r := get(t, srv, idYes); r.status == http.StatusTooManyRequests {
			n++
			if got := r.header.Get("Retry-After"); got != "1" {
				t.Fatalf("Retry-After %q, want 1", got)
			}
		}
	}
	if n < 60 || n > 140 {
		t.Fatalf("%d 429s in 1000, want about 100", n)
	}
}

func TestServer_FailWindow(t *testing.T) {
	clk := newClock()
	_, srv := MustStart(t, simulator.Config{FailAfter: 10 * time.Second, FailFor: 20 * time.Second, Now: clk.Now})
	for _, tt := range []struct {
		advance time.Duration
		want    int
	}{
		{0, 200}, // the first request starts the clock
		{9 * time.Second, 200},
		{time.Second, 503},
		{19 * time.Second, 503},
		{time.Second, 200},
	} {
		clk.Advance(tt.advance)
		if got := get(t, srv, idYes).status; got != tt.want {
			t.Fatalf("after +%v: status %d, want %d", tt.advance, got, tt.want)
		}
	}
}

// TestServer_DownAndUp: with DownAfter and DownFor, ListenAndServe stops
// answering (connection refused), then answers again on the same address.
func TestServer_DownAndUp(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	sim := simulator.New(MustLoad(t), simulator.Config{DownAfter: 300 * time.Millisecond, DownFor: time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- sim.ListenAndServe(ctx, addr) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Error(err)
		}
	}()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	status := func() (int, error) {
		resp, err := client.Get("http://" + addr + "/processes/v1/" + idYes)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	var code int
	for start := time.Now(); time.Since(start) < 2*time.Second; time.Sleep(10 * time.Millisecond) {
		if code, err = status(); err == nil {
			break
		}
	}
	if code != http.StatusOK {
		t.Fatalf("first request: %d, %v", code, err)
	}
	time.Sleep(500 * time.Millisecond)
	if _, err := status(); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("while down: %v, want connection refused", err)
	}
	time.Sleep(1200 * time.Millisecond)
	if code, err := status(); err != nil || code != http.StatusOK {
		t.Fatalf("after DownFor: %d, %v; want 200 on the same address", code, err)
	}
}
