// Package redact hides the secrets a URL may carry before it is shown: in
// a report (reports) or an error (metrics).
package redact

import "net/url"

// URL hides the user information in u, which may hold a secret
// (https://xxxxx@host); u is returned as is when it has none or is not a URL.
func URL(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.User == nil {
		return u
	}
	p.User = url.User("xxxxx")
	return p.String()
}
