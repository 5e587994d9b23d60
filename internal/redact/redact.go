// Package redact hides the secrets a URL may carry before it is shown: in
// a report (reports) or an error (metrics).
package redact

import (
	"net/url"
	"strings"
)

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

// Text returns s with the user information of the URL u (a password, a
// token) replaced wherever it appears, as URL replaces it in u: for the
// errors of libraries that print the URL they were given.
func Text(s, u string) string {
	p, err := url.Parse(u)
	if err != nil || p.User == nil {
		return s
	}
	s = strings.ReplaceAll(s, p.User.String()+"@", "xxxxx@")
	if pw, ok := p.User.Password(); ok && pw != "" {
		s = strings.ReplaceAll(s, pw, "xxxxx")
	}
	return s
}
