package simulator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// ShutdownTimeout bounds how long Serve waits for requests in flight once its
// context is cancelled; those still running then are cut.
const ShutdownTimeout = 5 * time.Second

// Serve answers requests on ln until ctx is cancelled, then stops taking
// connections, lets requests in flight finish (up to ShutdownTimeout) and
// returns nil. It closes ln. It returns an error only when ln fails.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.log.Info("simulator listening",
		"addr", ln.Addr().String(),
		"processes", s.data.Len(),
		"rate", s.cfg.Rate,
		"retry_after", !s.cfg.NoRetryAfter,
		"latency", s.cfg.Latency,
		"error_rate", s.cfg.ErrorRate,
		"api_key_required", s.cfg.APIKey != "",
		"token_required", s.cfg.Token != "" || len(s.cfg.ExpiredTokens) > 0 || s.cfg.PublicKey != nil,
		"token_endpoint", s.cfg.PublicKey != nil)

	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve simulator: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		s.log.Warn("simulator: requests still in flight at shutdown were cut", "timeout", ShutdownTimeout)
		_ = hs.Close() // cancels the requests' contexts, ending their sleeps
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve simulator: %w", err)
	}
	s.log.Debug("simulator stopped", "addr", ln.Addr().String())
	return nil
}

// ListenAndServe listens on the TCP address addr (use "127.0.0.1:0" for a
// free loopback port) and calls Serve. With Config.DownAfter it stops
// serving that long after the first request (its listener closed, its
// connections cut: clients get "connection refused"), and with
// Config.DownFor it listens again on the same address after that long.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("simulator: %w", err)
	}
	if s.cfg.DownAfter <= 0 {
		return s.Serve(ctx, ln)
	}
	addr = ln.Addr().String() // the port, if addr asked for any
	up, down := context.WithCancel(ctx)
	go func() {
		defer down()
		select {
		case <-s.first:
		case <-up.Done():
			return
		}
		t := time.NewTimer(s.cfg.DownAfter)
		defer t.Stop()
		select {
		case <-t.C:
		case <-up.Done():
		}
	}()
	if err := s.serveUntil(up, ln); err != nil || ctx.Err() != nil {
		return err
	}
	s.log.Info("simulator down", "addr", addr, "for", s.cfg.DownFor)
	if s.cfg.DownFor <= 0 {
		<-ctx.Done()
		return nil
	}
	t := time.NewTimer(s.cfg.DownFor)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return nil
	}
	if ln, err = lc.Listen(ctx, "tcp", addr); err != nil {
		return fmt.Errorf("simulator: listen again: %w", err)
	}
	return s.Serve(ctx, ln)
}

// serveUntil serves ln until ctx ends, then cuts every connection at once:
// an API that dies does not finish its requests.
func (s *Server) serveUntil(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.log.Info("simulator listening", "addr", ln.Addr().String(), "processes", s.data.Len(), "down_after", s.cfg.DownAfter)
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve simulator: %w", err)
	case <-ctx.Done():
	}
	_ = hs.Close()
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve simulator: %w", err)
	}
	return nil
}

// Start listens on the TCP address addr and serves in the background. It
// returns the API root to give a client (for example "http://127.0.0.1:41234",
// to which the client appends /processes/v1/{id}) and stop, which shuts the
// server down as Serve does and returns Serve's error; stop may be called
// more than once.
func (s *Server) Start(addr string) (baseURL string, stop func() error, err error) {
	ctx, cancel := context.WithCancel(context.Background())
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		cancel()
		return "", nil, fmt.Errorf("simulator: %w", err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()
	var (
		once     sync.Once
		serveErr error
	)
	stop = func() error {
		once.Do(func() {
			cancel()
			serveErr = <-served
		})
		return serveErr
	}
	return "http://" + ln.Addr().String(), stop, nil
}
