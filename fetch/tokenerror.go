package fetch

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
)

// TokenError is a failure of the token endpoint: an error answer (HTTPStatus
// set), no answer at all (Err set, HTTPStatus 0), or an answer that holds no
// usable token. It stops the run: the endpoint is never asked again, since
// repeated invalid attempts lock the account. Its text holds no assertion,
// key or token.
type TokenError struct {
	// Endpoint is the token URL, without query or user info.
	Endpoint string
	// HTTPStatus is the answer's status code, 0 when none came.
	HTTPStatus int
	// Code is the answer's RFC 6749 "error" ("server_error"), "" when none.
	Code string
	// Description is the answer's "error_description" ("Falha na
	// autenticação 1.2.18"), cut short and made printable; "" when none.
	Description string
	// Body is the raw answer, on one line and cut short, kept when it had
	// neither Code nor Description.
	Body string
	// Err is why no answer came, or why a 2xx answer is unusable.
	Err error
}

// Error returns "token endpoint https://identity.acesso.io/oauth2/token:
// 401 server_error: Falha na autenticação 1.2.18 (the account is locked ...)".
func (e *TokenError) Error() string {
	var b strings.Builder
	b.WriteString("token endpoint ")
	b.WriteString(e.Endpoint)
	b.WriteString(": ")
	if e.HTTPStatus != 0 {
		b.WriteString(strconv.Itoa(e.HTTPStatus))
	}
	if e.Code != "" {
		b.WriteString(" ")
		b.WriteString(e.Code)
	}
	switch {
	case e.Description != "":
		b.WriteString(": ")
		b.WriteString(e.Description)
	case e.Body != "" && e.Code == "":
		b.WriteString(": body ")
		b.WriteString(strconv.Quote(e.Body))
	}
	if hint := authHints[e.AuthCode()]; hint != "" {
		b.WriteString(" (")
		b.WriteString(hint)
		b.WriteString(")")
	}
	if e.Err != nil {
		if e.HTTPStatus != 0 {
			b.WriteString(": ")
		}
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns Err.
func (e *TokenError) Unwrap() error { return e.Err }

var authCodeRE = regexp.MustCompile(`\b\d+\.\d+\.\d+\b`)

// AuthCode returns Unico's authentication error code ("1.2.18") from the
// description, or "".
func (e *TokenError) AuthCode() string {
	return authCodeRE.FindString(e.Description)
}

// authHints say what Unico's authentication error codes mean, from its
// developer documentation ("Authentication Errors").
var authHints = map[string]string{
	"1.0.1":  "the tenant in iss is wrong: check --tenant",
	"1.0.14": "the application is not active",
	"1.1.1":  "the assertion has no scope",
	"1.2.4":  "the assertion has expired: check this machine's clock",
	"1.2.5":  "the assertion cannot be validated: check --private-key-file, --service-account and --token-url",
	"1.2.6":  "the private key is no longer accepted: ask for new credentials",
	"1.2.7":  "the assertion was used before",
	"1.2.11": "the account is not active",
	"1.2.14": "the account lacks the permissions",
	"1.2.18": "the account is locked after too many invalid attempts: fix the credentials, then wait before trying again",
	"1.2.19": "the account may not impersonate another (sub claim)",
	"1.2.20": "the assertion cannot be decoded",
	"1.2.21": "the assertion cannot be decoded",
	"1.2.22": "the assertion has claims that are not allowed",
	"1.3.1":  "the account is restricted to other source addresses",
	"1.3.2":  "the account is restricted to other times",
}

// newTokenErrorAnswer builds the error for an error answer with status and
// raw body, scrubbing the secrets from what it keeps.
func newTokenErrorAnswer(endpoint string, status int, body []byte, scrub func(string) string) *TokenError {
	var wire struct {
		Error       any    `json:"error"`
		Description string `json:"error_description"`
	}
	e := &TokenError{Endpoint: endpoint, HTTPStatus: status}
	if json.Unmarshal(body, &wire) == nil {
		if code, ok := wire.Error.(string); ok {
			e.Code = printable(scrub(code))
		}
		e.Description = printable(scrub(wire.Description))
	}
	if e.Code == "" && e.Description == "" {
		if len(body) > 8<<10 {
			body = body[:8<<10]
		}
		e.Body = printable(scrub(string(body)))
	}
	return e
}
