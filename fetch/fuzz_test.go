package fetch

// Fuzz tests of the parsers of what the API and the token endpoint send.
// Seed corpora are under testdata/fuzz/FuzzX/; `make fuzz` runs each
// target for $(FUZZTIME). Anything a fuzzer finds becomes a case of the
// regular tests (api_test.go, policy_test.go) and is fixed.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

// fuzzSecret stands for an API key or token a hostile body echoes.
const fuzzSecret = "fuzz-5ecret-k3y-0f-the-tenant"

// oneLine fails unless s is valid UTF-8 on one line: what errors and logs
// need so that a hostile answer cannot forge a log line.
func oneLine(t *testing.T, what, s string) {
	t.Helper()
	if !utf8.ValidString(s) || strings.ContainsAny(s, "\r\n\x00") {
		t.Fatalf("%s is not one line of valid UTF-8: %q", what, s)
	}
}

// FuzzDecodeProcess: a 200 body either fails to decode or gives a Remote
// within the contract (status 1..5, finite score), which encoded back into
// the wire format decodes to the same Remote.
func FuzzDecodeProcess(f *testing.F) {
	f.Add([]byte(`{"id":"80371b2a-3ac7-432e-866d-57fe37896ac6","status":3,"unicoId":{"result":"yes"},"identityFraudsters":{"result":"inconclusive"},"government":{"serpro":87},"liveness":1,"score":-12.5}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := decodeProcess(data)
		if err != nil {
			oneLine(t, "the error", printable(err.Error()))
			return
		}
		if !r.Status.Valid() {
			t.Fatalf("decodeProcess(%q): status %d accepted", data, r.Status)
		}
		if r.Score != nil && (math.IsNaN(*r.Score) || math.IsInf(*r.Score, 0)) {
			t.Fatalf("decodeProcess(%q): score %v accepted", data, *r.Score)
		}
		again, err := decodeProcess(encodeProcess(t, r))
		if err != nil {
			t.Fatalf("decodeProcess(%q) = %+v, which does not decode again: %v", data, r, err)
		}
		if !reflect.DeepEqual(again, r) {
			t.Fatalf("decodeProcess(%q) = %+v; encoded and decoded again: %+v", data, r, again)
		}
	})
}

// encodeProcess writes r in the API's wire format, by hand: the decoder's
// structs are not used, so a misspelt tag is not mirrored.
func encodeProcess(t *testing.T, r reconcile.Remote) []byte {
	t.Helper()
	m := map[string]any{"id": r.ID, "status": int(r.Status)}
	if r.UnicoID != "" {
		m["unicoId"] = map[string]any{"result": r.UnicoID}
	}
	if r.IdentityFraudsters != "" {
		m["identityFraudsters"] = map[string]any{"result": r.IdentityFraudsters}
	}
	if r.Serpro != nil {
		m["government"] = map[string]any{"serpro": *r.Serpro}
	}
	if r.Liveness != nil {
		m["liveness"] = *r.Liveness
	}
	if r.Score != nil {
		m["score"] = *r.Score
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzDecodeError: any error body decodes without failing; the code is
// trimmed and canonical; and the APIError built from it, with a secret
// spliced in anywhere, is one line of valid UTF-8 of bounded length that
// never shows the secret.
func FuzzDecodeError(f *testing.F) {
	f.Add([]byte(`{"error":{"code":50001,"message":"Process not found"}}`), uint16(0))
	f.Fuzz(func(t *testing.T, data []byte, at uint16) {
		code, _ := decodeError(data)
		if strings.TrimSpace(code) != code || canonicalCode(code) != code {
			t.Fatalf("decodeError(%q): code %q is not trimmed and canonical", data, code)
		}
		i := int(at) % (len(data) + 1)
		body := append(append(append([]byte{}, data[:i]...), fuzzSecret...), data[i:]...)
		e := newAPIError(http.StatusInternalServerError, body, scrubber(fuzzSecret))
		for what, s := range map[string]string{"Error()": e.Error(), "Code": e.Code, "Message": e.Message, "Body": e.Body} {
			oneLine(t, what, s)
			if strings.Contains(s, fuzzSecret) {
				t.Fatalf("newAPIError(%q): %s shows the secret: %q", body, what, s)
			}
		}
		if n := len(e.Error()); n > 3*(maxDetail+8)+64 {
			t.Fatalf("newAPIError(%q): Error() is %d bytes long", body, n)
		}
	})
}

// FuzzErrorCode: whatever the message holds and whichever shape carries it,
// the code of an error body is read.
func FuzzErrorCode(f *testing.F) {
	f.Add(int64(50001), []byte(`"Process not found"`), uint8(0))
	f.Add(int64(50001), []byte(`{"pt":"não","en":"no"}`), uint8(2))
	f.Fuzz(func(t *testing.T, code int64, message []byte, shape uint8) {
		msg := message
		if !json.Valid(msg) {
			msg, _ = json.Marshal(string(message))
		}
		c := strconv.FormatInt(code, 10)
		var body string
		switch shape % 7 {
		case 0:
			body = `{"error":{"code":` + c + `,"message":` + string(msg) + `}}`
		case 1:
			body = `{"error":{"code":"` + c + `","description":` + string(msg) + `}}`
		case 2:
			body = `{"error":{"code":` + c + `.0,"message":` + string(msg) + `}}`
		case 3:
			body = `{"message":` + string(msg) + `,"code":` + c + `}`
		case 4:
			body = `{"errors":[{"code":` + c + `,"message":` + string(msg) + `}]}`
		case 5:
			body = `{"error":{"code":{"value":` + c + `},"message":` + string(msg) + `}}`
		case 6:
			body = `{"error":{"code":[" ` + c + ` "],"message":` + string(msg) + `}}`
		}
		if got, _ := decodeError([]byte(body)); got != c {
			t.Fatalf("decodeError(%s): code %q, want %q", body, got, c)
		}
	})
}

var fuzzNow = time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)

// FuzzRetryAfter: Retry-After parses to a delay that is never negative,
// seconds and HTTP dates give what they say, white space around does not
// matter, and the 429 verdict honours the server's delay however long (the
// Client ends the run as an outage past --outage-timeout), or else backs off
// within the cap.
func FuzzRetryAfter(f *testing.F) {
	f.Add("120", uint64(120), int32(30), 0.5)
	f.Fuzz(func(t *testing.T, v string, secs uint64, ahead int32, jitter float64) {
		d, ok := retryAfter(v, fuzzNow)
		if d < 0 || (!ok && d != 0) {
			t.Fatalf("retryAfter(%q) = %v, %v", v, d, ok)
		}
		if d2, ok2 := retryAfter(" \t"+v+" ", fuzzNow); d2 != d || ok2 != ok {
			t.Fatalf("retryAfter(%q) = %v, %v but with white space around %v, %v", v, d, ok, d2, ok2)
		}
		if digits := strings.TrimSpace(v); digits != "" && strings.Trim(digits, "0123456789") == "" && !ok {
			t.Fatalf("retryAfter(%q): delay-seconds not accepted", v)
		}
		const maxSecs = uint64(math.MaxInt64 / int64(time.Second))
		if d, ok := retryAfter(strconv.FormatUint(secs, 10), fuzzNow); !ok || d != time.Duration(min(secs, maxSecs))*time.Second {
			t.Fatalf("retryAfter(%d) = %v, %v", secs, d, ok)
		}
		date := fuzzNow.Add(time.Duration(ahead) * time.Second).Format(http.TimeFormat)
		if d, ok := retryAfter(date, fuzzNow); !ok || d != time.Duration(max(ahead, 0))*time.Second {
			t.Fatalf("retryAfter(%q) = %v, %v; want %ds", date, d, ok, max(ahead, 0))
		}
		p := Policy{MaxRetries: 3, BackoffBase: time.Second, BackoffCap: time.Minute}
		vd := p.Decide(Attempt{N: 1, HTTPStatus: http.StatusTooManyRequests, RetryAfter: v, Now: fuzzNow, Jitter: jitter})
		switch {
		case vd.Action != Retry || vd.Delay < 0 || vd.Pause < 0:
			t.Fatalf("Decide(429, Retry-After %q) = %+v; want a retry", v, vd)
		case ok && (vd.Delay != d || vd.Pause != d) && d > 0:
			t.Fatalf("Decide(429, Retry-After %q) = %+v; want the server's %v honoured, however long", v, vd, d)
		case !ok && (vd.Delay > p.BackoffCap || vd.Pause > p.BackoffCap):
			t.Fatalf("Decide(429, Retry-After %q) = %+v; want our own back-off, within the cap", v, vd)
		}
	})
}

// FuzzTokenErrorAnswer: an error answer of the token endpoint, which may
// echo the assertion, gives a TokenError on one line that never shows it.
func FuzzTokenErrorAnswer(f *testing.F) {
	f.Add(401, []byte(`{"error":"server_error","error_description":"Falha na autenticação 1.2.18"}`), uint16(0))
	f.Fuzz(func(t *testing.T, status int, data []byte, at uint16) {
		i := int(at) % (len(data) + 1)
		body := append(append(append([]byte{}, data[:i]...), fuzzSecret...), data[i:]...)
		e := newTokenErrorAnswer("https://identity.example/oauth2/token", status, body, scrubber(fuzzSecret))
		oneLine(t, "Error()", e.Error())
		if strings.Contains(e.Error(), fuzzSecret) {
			t.Fatalf("newTokenErrorAnswer(%q): %q shows the secret", body, e.Error())
		}
		var wire struct {
			Error any `json:"error"`
		}
		if json.Unmarshal(body, &wire) == nil {
			if s, ok := wire.Error.(string); ok && e.Code != printable(scrubber(fuzzSecret)(s)) {
				t.Fatalf("newTokenErrorAnswer(%q): Code %q, want %q", body, e.Code, printable(scrubber(fuzzSecret)(s)))
			}
		}
	})
}

// fuzzKey is one RSA key for every FuzzTokenAnswer input: making one takes
// longer than a hundred token requests.
var fuzzKey = sync.OnceValue(func() []byte {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
})

// answer is a canned response to req, in which "ASSERTION" is replaced
// by assertion.
func answer(req *http.Request, status int, contentType string, body []byte, assertion string) *http.Response {
	body = bytes.ReplaceAll(body, []byte("ASSERTION"), []byte(assertion))
	return &http.Response{
		StatusCode: status, Status: fmt.Sprintf("%d %s", status, http.StatusText(status)),
		Header: http.Header{"Content-Type": {contentType}}, Body: io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)), Request: req, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
	}
}

// parseForm returns the assertion of a token request's form body.
func parseForm(b []byte) (string, error) {
	for _, kv := range strings.Split(string(b), "&") {
		if v, ok := strings.CutPrefix(kv, "assertion="); ok {
			return v, nil
		}
	}
	return "", errors.New("no assertion")
}

var contentTypes = []string{"application/json", "application/json; charset=utf-8", "application/x-www-form-urlencoded", "text/plain", ""}

// FuzzTokenAnswer: whatever the token endpoint answers, the service
// account either gets a token it can send (a header value of at least
// MinSecretLen bytes) with a sane lifetime, or a TokenError on one line
// that never shows the assertion, even when the answer echoes it.
func FuzzTokenAnswer(f *testing.F) {
	f.Add(uint16(200), uint8(0), []byte(`{"access_token":"eyJhbGciOiJSUzI1NiJ9.e30.sig","token_type":"Bearer","expires_in":3600}`))
	f.Fuzz(func(t *testing.T, status uint16, ct uint8, body []byte) {
		code := 100 + int(status)%500 // 100..599
		if code < 200 {
			code += 100 // a 1xx is not a final answer
		}
		var seen string
		hc := &http.Client{Transport: roundTripFunc(func(req *http.Request) (*http.Response, error) {
			b, _ := io.ReadAll(req.Body)
			_ = req.Body.Close()
			seen, _ = parseForm(b)
			return answer(req, code, contentTypes[int(ct)%len(contentTypes)], body, seen), nil
		})}
		sa, err := NewServiceAccount(ServiceAccountConfig{
			Account: "fuzz", Tenant: "tenant", PrivateKey: fuzzKey(),
			TokenURL: "https://identity.example/oauth2/token", HTTPClient: hc, Timeout: 5 * time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		tok, life, err := sa.request(context.Background())
		if err == nil {
			if !validHeaderValue(tok) || len(tok) < MinSecretLen {
				t.Fatalf("answer %d %q: token %q accepted", code, body, tok)
			}
			if life < 0 || life > 1e9*time.Second {
				t.Fatalf("answer %d %q: lifetime %v", code, body, life)
			}
			return
		}
		var te *TokenError
		if !errors.As(err, &te) {
			t.Fatalf("answer %d %q: %v is not a *TokenError", code, body, err)
		}
		oneLine(t, "Error()", err.Error())
		if seen == "" {
			t.Fatal("no assertion was sent")
		}
		if strings.Contains(err.Error(), seen) {
			t.Fatalf("answer %d %q: the error shows the assertion: %v", code, body, err)
		}
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }
