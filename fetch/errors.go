package fetch

import (
	"errors"
	"strconv"
	"strings"
)

// Errors a caller can branch on with errors.Is. They reach the caller inside
// Result.Err (the process is unverified), except ErrTokenNotRenewed, which
// comes inside the fatal error that stops the run.
var (
	// ErrInvalidProcessID: the id is not a canonical UUID; it was not sent.
	ErrInvalidProcessID = errors.New("invalid process id")
	// ErrIDMismatch: the API answered with another process's id.
	ErrIDMismatch = errors.New("answer is for another process")
	// ErrBodyTooLarge: a 200 or 410 body exceeded MaxBodyBytes.
	ErrBodyTooLarge = errors.New("response body too large")
	// ErrMalformedBody: a 200 body that is not the process JSON.
	ErrMalformedBody = errors.New("malformed body")
	// ErrTokenNotRenewed: the token source had no token other than the
	// expired one.
	ErrTokenNotRenewed = errors.New("access token not renewed")
)

// APIError is an error answer of the API. Its text is scrubbed of secrets.
type APIError struct {
	// HTTPStatus is the response's status code.
	HTTPStatus int
	// Code is the API's error code as text ("50001"), "" when the body had
	// none.
	Code string
	// Message is the API's message or description, "" when the body had none.
	Message string
	// Body is the raw body, on one line, cut at 512 bytes: the evidence kept
	// when the body had an unknown shape.
	Body string
}

// Error returns "unico api: HTTP 403, code 10201: Invalid APIKEY".
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("unico api: HTTP ")
	b.WriteString(strconv.Itoa(e.HTTPStatus))
	if e.Code != "" {
		b.WriteString(", code ")
		b.WriteString(e.Code)
	}
	switch {
	case e.Message != "":
		b.WriteString(": ")
		b.WriteString(e.Message)
	case e.Body != "":
		b.WriteString(": body ")
		b.WriteString(strconv.Quote(e.Body))
	}
	return b.String()
}

// newAPIError builds the error for an answer with status and raw body,
// scrubbing the secrets from what it keeps.
func newAPIError(status int, body []byte, scrub func(string) string) *APIError {
	code, msg := decodeError(body)
	if len(body) > 8<<10 {
		// Only maxDetail bytes are kept; the margin lets a secret that
		// starts inside them be recognised whole before the cut.
		body = body[:8<<10]
	}
	return &APIError{
		HTTPStatus: status,
		Code:       printable(scrub(code)),
		Message:    printable(scrub(msg)),
		Body:       printable(scrub(string(body))),
	}
}

// fatalError stops the run. Its message names the cause and what to check,
// for a person reading stderr; errors.As finds the *APIError underneath.
type fatalError struct {
	msg string
	api *APIError // nil when no answer came
	err error     // why the token could not be renewed, or why no answer came
}

func (e *fatalError) Error() string { return e.msg }

func (e *fatalError) Unwrap() []error {
	var errs []error
	if e.api != nil { // a nil *APIError in the list would match errors.As
		errs = append(errs, e.api)
	}
	if e.err != nil {
		errs = append(errs, e.err)
	}
	return errs
}

// newTransportFatal explains a transport failure that no retry can mend:
// the server's certificate cannot be verified.
func newTransportFatal(err error) error {
	return &fatalError{
		msg: "TLS certificate not trusted: " + err.Error() +
			"; check the URL, or add the CA that signed it with --ca-file",
		err: err,
	}
}

// newRootFatal explains a 404 without the API's error body among the first
// answers: the API root is wrong, or a proxy in between does not route it.
func newRootFatal(api *APIError, endpoint string) error {
	msg := "the API root answers 404 without Unico's error body for " + Redact(endpoint) +
		"{id}: check --base-url (or --env): it must be the API's root, such as https://api.id.unico.app, and any proxy must pass /processes/v1/ through"
	if api.Body != "" {
		msg += "; the server says: " + strconv.Quote(api.Body)
	}
	return &fatalError{msg: msg, api: api}
}

// newFatal explains a fatal answer: "APIKEY rejected (403, code 10201):
// check --api-key ...; the API says: Invalid APIKEY".
func newFatal(api *APIError, renewErr error) error {
	cause, hint := fatalCause(api.Code)
	var te *TokenError
	if errors.As(renewErr, &te) {
		// The token endpoint's own words say what to fix.
		hint = "the token endpoint gave no new one"
	}
	var b strings.Builder
	b.WriteString(cause)
	b.WriteString(" (")
	b.WriteString(strconv.Itoa(api.HTTPStatus))
	if api.Code != "" {
		b.WriteString(", code ")
		b.WriteString(api.Code)
	}
	b.WriteString("): ")
	b.WriteString(hint)
	if renewErr != nil {
		b.WriteString("; renewal: ")
		b.WriteString(renewErr.Error())
	}
	if api.Message != "" {
		b.WriteString("; the API says: ")
		b.WriteString(api.Message)
	}
	return &fatalError{msg: b.String(), api: api, err: renewErr}
}

func fatalCause(code string) (cause, hint string) {
	switch code {
	case "20001":
		return "access token missing", "set --token or --token-file"
	case "20002":
		return "APIKEY missing", "set --api-key"
	case "10201":
		return "APIKEY rejected", "check --api-key and --env (keys are per environment)"
	case "10501":
		return "access token rejected", "check --token or --token-file and --env (tokens are per environment)"
	case "10502":
		return "access token expired", "put a fresh token in --token-file, or sign in with --service-account"
	case "30017":
		return "access token malformed or without permission", "check the token and the service account's permissions"
	default:
		return "access denied", "check --api-key, the access token and --env"
	}
}

// MinSecretLen is the length below which a value is not a secret: an API
// key or access token shorter than this is refused (New, OpenTokenFile,
// the token endpoint's answer), and the scrubber leaves such values alone,
// since replacing a one-letter "secret" everywhere garbles every message.
const MinSecretLen = 8

// scrubber returns a function that replaces every secret of at least
// MinSecretLen bytes in a string with "[redacted]".
func scrubber(secrets ...string) func(string) string {
	return func(s string) string {
		for _, sec := range secrets {
			if len(sec) >= MinSecretLen && strings.Contains(s, sec) {
				s = strings.ReplaceAll(s, sec, "[redacted]")
			}
		}
		return s
	}
}
