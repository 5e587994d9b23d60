package fetch

import (
	"crypto/tls"
	"net"
	"net/http"
	"time"
)

// NewHTTPClient returns the one *http.Client a run shares: its Transport
// keeps up to workers idle connections to the API alive (zero or less means
// DefaultWorkers), verifies TLS certificates (TLS 1.2 at least), takes a
// proxy from HTTPS_PROXY/NO_PROXY as net/http does, and never follows
// redirects. It sets no overall timeout: Config.Timeout bounds each request.
func NewHTTPClient(workers int) *http.Client {
	if workers <= 0 {
		workers = DefaultWorkers
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           dialer.DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          workers,
			MaxIdleConnsPerHost:   workers,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
			TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
		},
		CheckRedirect: refuseRedirect,
	}
}

// refuseRedirect makes the client return a 3xx as it is: a redirect would
// carry the APIKEY header to wherever it points.
func refuseRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
