package fetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

// outcome is what one request came to.
type outcome struct {
	status     int    // 0 when no response came
	code       string // the API's error code
	retryAfter string
	at         time.Time         // when the response came, UTC
	remote     *reconcile.Remote // 200 and 410
	api        *APIError         // any other status
	err        error             // why the response cannot be used
	// replays counts the requests the transport sent again by itself: Go's
	// http.Transport silently resends an idempotent request once a reused
	// connection fails before any response, and can do so repeatedly.
	replays int
}

// failure is the error that makes the process unverified.
func (o outcome) failure() error {
	switch {
	case o.err != nil && o.api != nil:
		return fmt.Errorf("%w (%w)", o.api, o.err)
	case o.err != nil:
		return o.err
	case o.api != nil:
		return o.api
	default:
		return nil
	}
}

var acceptJSON = []string{"application/json"}

// attempt sends one request for id and reads its answer.
func (c *Client) attempt(ctx context.Context, id, token string) (o outcome) {
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	// Count what really goes on the wire, so that Result.Attempts, the
	// summary's requests and the rate budget include the transport's own
	// resends.
	var written atomic.Int32 // the transport writes in its own goroutine
	actx = httptrace.WithClientTrace(actx, &httptrace.ClientTrace{WroteHeaders: func() { written.Add(1) }})
	defer func() { o.replays = max(0, int(written.Load())-1) }()
	req, err := http.NewRequestWithContext(actx, http.MethodGet, c.endpoint+id, nil)
	if err != nil {
		o.err = err
		return o
	}
	authorize(req, c.apiKey, token)

	resp, err := c.hc.Do(req)
	if err != nil {
		o.err = c.transportError(ctx, err)
		return o
	}
	o.at = c.now().UTC()
	o.status = resp.StatusCode
	o.retryAfter = resp.Header.Get("Retry-After")

	buf := getBuffer()
	defer putBuffer(buf)
	tooLarge, err := readBody(resp.Body, buf)
	body := buf.Bytes()
	if err != nil {
		err = fmt.Errorf("read body: %w", c.transportError(ctx, err))
	}
	scrub := scrubber(c.apiKey, token)

	switch o.status {
	case http.StatusOK, http.StatusGone:
		switch {
		case err != nil:
			o.err = err
		case tooLarge:
			o.err = fmt.Errorf("%w: more than %d bytes", ErrBodyTooLarge, MaxBodyBytes)
		case o.status == http.StatusGone:
			o.remote, o.err = gone(id, body, scrub)
		default:
			o.remote, o.err = found(id, body, scrub)
		}
	default:
		o.api = newAPIError(o.status, body, scrub)
		o.code = o.api.Code
		o.err = err
	}
	return o
}

// found decodes a 200 body and checks that it is the process asked for.
func found(id string, body []byte, scrub func(string) string) (*reconcile.Remote, error) {
	r, err := decodeProcess(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrMalformedBody, scrub(err.Error()))
	}
	if !strings.EqualFold(r.ID, id) {
		return nil, fmt.Errorf("%w: asked for %s, the body has id %q", ErrIDMismatch, id, printable(scrub(r.ID)))
	}
	r.ID = id
	return &r, nil
}

// gone is the answer to a 410: the process ended in error (status 5). The
// body should carry only id and status; it is not needed, but an id in it
// must be the one asked for.
func gone(id string, body []byte, scrub func(string) string) (*reconcile.Remote, error) {
	if r, err := decodeProcess(body); err == nil && r.ID != "" && !strings.EqualFold(r.ID, id) {
		return nil, fmt.Errorf("%w: asked for %s, the 410 body has id %q", ErrIDMismatch, id, printable(scrub(r.ID)))
	}
	return &reconcile.Remote{ID: id, Outcome: reconcile.Outcome{Status: reconcile.StatusError}, Gone: true}, nil
}

// transportError names a per-request timeout as such; ctx is the caller's
// context, whose own end is not a timeout of the request.
func (c *Client) transportError(ctx context.Context, err error) error {
	if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("request timed out after %s: %w", c.timeout, err)
	}
	return err
}

// maxDrain is how much of an unread body is read to keep the connection
// alive; past it the connection is closed instead.
const maxDrain = 64 << 10

// readBody reads at most MaxBodyBytes+1 bytes of body into buf, reporting
// whether the body is longer than MaxBodyBytes (buf then holds the first
// MaxBodyBytes+1 bytes), then drains a little and closes it.
func readBody(body io.ReadCloser, buf *bytes.Buffer) (tooLarge bool, err error) {
	defer func() {
		_, _ = io.CopyN(io.Discard, body, maxDrain)
		_ = body.Close()
	}()
	_, err = buf.ReadFrom(io.LimitReader(body, MaxBodyBytes+1))
	return buf.Len() > MaxBodyBytes, err
}

var buffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func getBuffer() *bytes.Buffer { return buffers.Get().(*bytes.Buffer) }

func putBuffer(b *bytes.Buffer) {
	if b.Cap() > 64<<10 {
		return // let an oversize buffer go rather than pin it
	}
	b.Reset()
	buffers.Put(b)
}

// ValidHeaderValue reports whether s can go into the APIKEY or
// Authorization header as is: no white space or control characters (a
// pasted token with a newline would otherwise fail far from its cause).
func ValidHeaderValue(s string) bool { return validHeaderValue(s) }

// validHeaderValue is ValidHeaderValue.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}
