package fetch

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// NewHTTPClient returns the one *http.Client a run shares: its Transport
// keeps up to workers idle connections to the API alive (zero or less means
// DefaultWorkers), verifies TLS certificates (TLS 1.2 at least) against the
// system's roots, takes a proxy from HTTPS_PROXY/NO_PROXY as net/http does,
// and never follows redirects. It sets no overall timeout: Config.Timeout
// bounds each request.
func NewHTTPClient(workers int) *http.Client {
	return NewHTTPClientWithRoots(workers, nil)
}

// NewHTTPClientWithRoots is NewHTTPClient verifying certificates against
// roots instead (see LoadCAFile); nil means the system's roots. Certificate
// verification cannot be turned off.
func NewHTTPClientWithRoots(workers int, roots *x509.CertPool) *http.Client {
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
			TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots},
		},
		CheckRedirect: refuseRedirect,
	}
}

// maxCAFile caps what is read from a CA file, in bytes.
const maxCAFile = 1 << 20

// LoadCAFile returns the system's certificate pool plus the PEM
// certificates in path (a corporate proxy's CA, say). It fails when the
// file cannot be read or holds no PEM certificate.
func LoadCAFile(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	if len(b) > maxCAFile {
		return nil, fmt.Errorf("read CA file %s: larger than 1 MiB", path)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("read CA file %s: no PEM certificate in it", path)
	}
	return pool, nil
}

// ErrInsecureURL: a URL that credentials would cross the network over in
// clear text (http to a host other than loopback).
var ErrInsecureURL = errors.New("plain http to a host other than loopback would send the credentials in clear text")

// CheckSecureURL checks that credentials can be sent to raw: an https URL,
// or an http one to a loopback host (localhost, 127.0.0.0/8, ::1), without
// user info or query. An http URL to another host is an error wrapping
// ErrInsecureURL. The error names the URL without user info or query.
func CheckSecureURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("not a URL")
	}
	shown := Redact(raw)
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return fmt.Errorf("%s: must start with https://", shown)
	case u.Host == "":
		return fmt.Errorf("%s: no host", shown)
	case u.User != nil:
		return fmt.Errorf("%s: user info is not allowed", shown)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return fmt.Errorf("%s: query and fragment are not allowed", shown)
	case u.Scheme == "http" && !IsLoopback(u.Hostname()):
		return fmt.Errorf("%s: %w", shown, ErrInsecureURL)
	}
	return nil
}

// IsLoopback reports whether host (a name or an IP, without port) is this
// machine: "localhost" or a loopback address.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Redact returns raw without user info, query or fragment, for logs and
// errors; a string that is not a URL becomes "[not a URL]".
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "[not a URL]"
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	return u.String()
}

// refuseRedirect makes the client return a 3xx as it is: a redirect would
// carry the APIKEY header to wherever it points.
func refuseRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// isCertificateError reports whether err is a failure to verify the
// server's TLS certificate: no retry can mend it.
func isCertificateError(err error) bool {
	var (
		verify   *tls.CertificateVerificationError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
	)
	return errors.As(err, &verify) || errors.As(err, &unknown) ||
		errors.As(err, &hostname) || errors.As(err, &invalid)
}
