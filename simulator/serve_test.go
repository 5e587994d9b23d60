package simulator_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/unico-reconcile/unico-reconcile/simulator"
)

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestServer_Start(t *testing.T) {
	var logs syncBuffer
	sim := simulator.New(MustLoad(t), simulator.Config{
		APIKey: "secret-key", Token: "secret-token",
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	base, stop, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stop() })
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Errorf("base=%q, want http://127.0.0.1:port", base)
	}
	for range 3 {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", base+"/processes/v1/"+idYes, nil)
		req.Header.Set("APIKEY", "secret-key")
		req.Header.Set("Authorization", "Bearer secret-token")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status=%d, want 200", resp.StatusCode)
		}
	}
	if err := stop(); err != nil {
		t.Errorf("stop: %v", err)
	}
	if err := stop(); err != nil {
		t.Errorf("second stop: %v", err)
	}
	if _, err := http.Get(base + "/processes/v1/" + idYes); err == nil {
		t.Errorf("GET after stop succeeded, want a connection error")
	}

	out := logs.String()
	if got, want := strings.Count(out, "\n"), 1; got != want {
		t.Errorf("%d log lines, want %d (one at start, none per request):\n%s", got, want, out)
	}
	addr := strings.TrimPrefix(base, "http://")
	if !strings.Contains(out, "addr="+addr) {
		t.Errorf("log does not name the address %s:\n%s", addr, out)
	}
	if strings.Contains(out, "secret") {
		t.Errorf("log shows a secret:\n%s", out)
	}
}

func TestServer_Start_DebugLogsRequests(t *testing.T) {
	var logs syncBuffer
	sim := simulator.New(MustLoad(t), simulator.Config{
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	base, stop, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(base + "/processes/v1/" + idError5)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if out := logs.String(); !strings.Contains(out, "status=410") {
		t.Errorf("debug log lacks the request:\n%s", out)
	}
}

func TestServer_Start_ErrAddrInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if _, _, err := simulator.New(nil, simulator.Config{}).Start(ln.Addr().String()); err == nil {
		t.Error("Start on a busy address: no error")
	}
}

func TestServer_ListenAndServe(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- simulator.New(nil, simulator.Config{}).ListenAndServe(ctx, "127.0.0.1:0") }()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("ListenAndServe after cancel: %v, want nil", err)
	}
}

// Serve lets a request in flight finish when it is asked to stop.
func TestServer_Serve_Graceful(t *testing.T) {
	sim := simulator.New(MustLoad(t), simulator.Config{Latency: 200 * time.Millisecond})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- sim.Serve(ctx, ln) }()

	got := make(chan int, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/processes/v1/" + idRunning)
		if err != nil {
			t.Error(err)
			got <- 0
			return
		}
		resp.Body.Close()
		got <- resp.StatusCode
	}()
	for sim.Stats().Requests == 0 { // the request is in flight
		runtime.Gosched()
	}
	cancel()
	if err := <-served; err != nil {
		t.Errorf("Serve: %v, want nil", err)
	}
	if status := <-got; status != 200 {
		t.Errorf("status=%d, want 200", status)
	}
}
