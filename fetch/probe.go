package fetch

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"net/http"
	"time"
)

// Probe is what one GET of a process id that exists nowhere says about a
// set-up: the API's answer to the key, the token and the tenant, the TLS
// connection and the API's clock.
type Probe struct {
	ID      string               // the random id asked for
	Status  int                  // the HTTP status
	Code    string               // Unico's error code, "" when the body has none
	Message string               // the error's text, printable and capped
	Date    time.Time            // the answer's Date header; zero when absent or unreadable
	TLS     *tls.ConnectionState // nil over plain http
	Elapsed time.Duration        // from sending to the answer's headers
}

// ProofOfAccess reports whether the answer proves the key, the token and
// the tenant: only an authenticated request for the tenant gets to "this
// process does not exist" (404 50001).
func (p Probe) ProofOfAccess() bool {
	return p.Status == http.StatusNotFound && p.Code == "50001"
}

// Problem names what an answer other than ProofOfAccess says is wrong and
// how to fix it, as a run that got it would.
func (p Probe) Problem() (cause, hint string) {
	switch {
	case p.Status == http.StatusBadRequest || p.Status == http.StatusUnauthorized || p.Status == http.StatusForbidden:
		return fatalCause(p.Code)
	case p.Status == http.StatusNotFound:
		return "not Unico's process API (404 without its error body)", "check --base-url: the API root, without /processes/v1"
	case p.Status == http.StatusTooManyRequests:
		return "rate limited (429)", "the tenant's limit is in use by someone else: try again, and keep --rate under the tenant's limit"
	case p.Status >= 500:
		return fmt.Sprintf("the API failed (%d)", p.Status), "try again later; the run would retry"
	default:
		return fmt.Sprintf("unexpected answer %d", p.Status), "check --base-url and --env"
	}
}

// ProbeAPI sends one GET for a random version 4 UUID to the API at root,
// with the credentials a run would send, no retry. An error means no answer
// came (DNS, connection, TLS, timeout); its text never holds a secret.
func ProbeAPI(ctx context.Context, hc *http.Client, root, apiKey, token string) (Probe, error) {
	endpoint, err := endpointOf(root)
	if err != nil {
		return Probe{}, err
	}
	p := Probe{ID: randomUUID()}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+p.ID, nil)
	if err != nil {
		return p, err
	}
	authorize(req, apiKey, token)
	start := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		return p, scrubError(err, scrubber(apiKey, token))
	}
	defer resp.Body.Close()
	p.Elapsed = time.Since(start)
	p.Status, p.TLS = resp.StatusCode, resp.TLS
	if d, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
		p.Date = d
	}
	buf := getBuffer()
	defer putBuffer(buf)
	if _, err := readBody(resp.Body, buf); err == nil && resp.StatusCode != http.StatusOK {
		code, msg := decodeError(buf.Bytes())
		p.Code, p.Message = code, printable(scrubber(apiKey, token)(msg))
	}
	return p, nil
}

// authorize sets the credentials' headers by hand: the API documents the
// header as "APIKEY", which Header.Set would send as "Apikey".
func authorize(req *http.Request, apiKey, token string) {
	if token != "" {
		req.Header["Authorization"] = []string{"Bearer " + token}
	}
	if apiKey != "" {
		req.Header["APIKEY"] = []string{apiKey}
	}
	req.Header["Accept"] = acceptJSON
}

// randomUUID is a version 4 UUID from crypto/rand.
func randomUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
