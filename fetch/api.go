package fetch

// The API's wire format. These structs exist only to decode what the server
// sends; they become reconcile.Remote or *APIError at the boundary and go no
// further. Tests never encode them: fakes answer raw JSON from testdata/api.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

// processBody is the 200 (and 410) body of GET /processes/v1/{id}. Every
// field but id and status is optional; numbers are decoded as json.Number so
// that a float score, or a number sent as a string, is not a decoding error.
type processBody struct {
	ID                 string        `json:"id"`
	Status             *json.Number  `json:"status"`
	UnicoID            *resultObject `json:"unicoId"`
	IdentityFraudsters *resultObject `json:"identityFraudsters"`
	Government         *struct {
		Serpro *json.Number `json:"serpro"`
	} `json:"government"`
	Liveness *json.Number `json:"liveness"`
	Score    *json.Number `json:"score"`
}

type resultObject struct {
	Result string `json:"result"`
}

// decodeProcess decodes a 200 body into a Remote. It fails when the body is
// not JSON, when status is missing or not 1..5, or when a number field is not
// a number; it does not check the id (the caller does).
func decodeProcess(data []byte) (reconcile.Remote, error) {
	var b processBody
	if err := json.Unmarshal(data, &b); err != nil {
		return reconcile.Remote{}, err
	}
	r := reconcile.Remote{ID: b.ID}
	if b.Status == nil {
		return r, errors.New("no status")
	}
	st, err := intField("status", *b.Status)
	if err != nil {
		return r, err
	}
	r.Status = reconcile.Status(st)
	if !r.Status.Valid() {
		return r, fmt.Errorf("status %d is not 1..5", st)
	}
	if b.UnicoID != nil {
		r.UnicoID = b.UnicoID.Result
	}
	if b.IdentityFraudsters != nil {
		// Unknown values (one page lists "suspicious") are kept as they are.
		r.IdentityFraudsters = b.IdentityFraudsters.Result
	}
	if b.Government != nil && b.Government.Serpro != nil {
		v, err := intField("government.serpro", *b.Government.Serpro)
		if err != nil {
			return r, err
		}
		r.Serpro = &v
	}
	if b.Liveness != nil {
		v, err := intField("liveness", *b.Liveness)
		if err != nil {
			return r, err
		}
		r.Liveness = &v
	}
	if b.Score != nil {
		v, err := b.Score.Float64()
		if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
			return r, fmt.Errorf("score %q is not a number", b.Score.String())
		}
		r.Score = &v
	}
	return r, nil
}

// intField parses an integer field; an integral float ("87.0") is accepted.
func intField(name string, n json.Number) (int, error) {
	if v, err := n.Int64(); err == nil && v >= math.MinInt32 && v <= math.MaxInt32 {
		return int(v), nil
	}
	f, err := n.Float64()
	if err != nil || f != math.Trunc(f) || f < math.MinInt32 || f > math.MaxInt32 {
		return 0, fmt.Errorf("%s %q is not an integer", name, n.String())
	}
	return int(f), nil
}

// decodeError extracts the code and text of an error body. Pages disagree
// on its shape: the code may be a number (50001, 50001.0, 5.0001e4) or a
// string ("50001"), the text may be in message or description and may itself
// be an object, and some proxies put them at the top level or in an
// "errors" list. Every shape is read as far as it goes and it never fails:
// what it cannot read gives an empty code or message (the caller keeps the
// raw body).
func decodeError(data []byte) (code, message string) {
	top, ok := jsonObject(data)
	if !ok {
		return "", ""
	}
	code = codeOf(field(top, "code"), 0)
	message = firstNonEmpty(textOf(field(top, "message")), textOf(field(top, "description")))
	inner := field(top, "error")
	if inner == nil {
		// {"errors":[{"code":50001,"message":"..."}]}
		var list []json.RawMessage
		if json.Unmarshal(field(top, "errors"), &list) == nil && len(list) > 0 {
			inner = list[0]
		}
	}
	if d, ok := jsonObject(inner); ok {
		if c := codeOf(field(d, "code"), 0); c != "" {
			code = c
		}
		if m := firstNonEmpty(textOf(field(d, "message")), textOf(field(d, "description"))); m != "" {
			message = m
		}
	} else if inner != nil && message == "" {
		// {"error":"server_error", ...}: a string where an object was expected.
		message = textOf(inner)
	}
	return code, message
}

// jsonObject decodes data as a JSON object, reporting false when it is not
// one.
func jsonObject(data []byte) (map[string]json.RawMessage, bool) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return nil, false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(data, &m) != nil {
		return nil, false
	}
	return m, true
}

// field returns the member name of m, matched as encoding/json matches
// struct fields (an exact match first, then any case); nil when absent or
// null.
func field(m map[string]json.RawMessage, name string) json.RawMessage {
	v, ok := m[name]
	if !ok {
		for k, kv := range m {
			if strings.EqualFold(k, name) {
				v, ok = kv, true
				break
			}
		}
	}
	if !ok || bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
		return nil
	}
	return v
}

// maxCodeDepth bounds how deep codeOf looks into nested objects and lists.
const maxCodeDepth = 4

// codeOf reads an error code from any JSON value: a number (an integral
// float such as 50001.0 gives "50001"), a string (trimmed, and normalised
// the same way when it holds a number), an object holding code, value or id,
// or a list whose first element holds one. Anything else gives "".
func codeOf(raw json.RawMessage, depth int) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || depth > maxCodeDepth {
		return ""
	}
	switch raw[0] {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return ""
		}
		return canonicalCode(strings.TrimSpace(s))
	case '{':
		m, ok := jsonObject(raw)
		if !ok {
			return ""
		}
		for _, name := range []string{"code", "value", "id"} {
			if c := codeOf(field(m, name), depth+1); c != "" {
				return c
			}
		}
		return ""
	case '[':
		var list []json.RawMessage
		if json.Unmarshal(raw, &list) != nil || len(list) == 0 {
			return ""
		}
		return codeOf(list[0], depth+1)
	case 't', 'f', 'n':
		return ""
	default:
		var n json.Number
		if json.Unmarshal(raw, &n) != nil {
			return ""
		}
		return canonicalCode(n.String())
	}
}

// canonicalCode writes a code that is an integral number in decimal digits
// ("50001.0", "5.0001e4" and "050001" all give "50001"); any other text is
// kept as it is.
func canonicalCode(s string) string {
	if s == "" || strings.IndexFunc(s, func(r rune) bool { return !strings.ContainsRune("0123456789+-.eE", r) }) >= 0 {
		return s
	}
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return strconv.FormatInt(v, 10)
	}
	// 9007199254740993.0: exact, where a float64 would round.
	if whole, frac, ok := strings.Cut(s, "."); ok && strings.Trim(frac, "0") == "" {
		if v, err := strconv.ParseInt(whole, 10, 64); err == nil {
			return strconv.FormatInt(v, 10)
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) >= 1<<53 {
		return s
	}
	return strconv.FormatInt(int64(f), 10)
}

// textOf reads an error text from any JSON value: a string as it is, an
// object's message, description or text member, and anything else (a
// number, a list, an object without those) as its compact JSON, which keeps
// the evidence.
func textOf(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
		return ""
	}
	if m, ok := jsonObject(raw); ok {
		for _, name := range []string{"message", "description", "text"} {
			if v := field(m, name); len(v) > 0 && v[0] == '"' {
				if t := strings.TrimSpace(textOf(v)); t != "" {
					return t
				}
			}
		}
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return ""
	}
	return b.String()
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}

// maxDetail caps the raw body and the message kept in an error.
const maxDetail = 512

// printable returns s as one line of valid UTF-8 of at most maxDetail bytes:
// control characters become spaces, so a hostile body cannot forge log lines.
func printable(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) > maxDetail {
		cut := maxDetail
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}
