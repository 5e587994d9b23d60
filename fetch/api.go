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

// errorBody is an error answer. Pages disagree: the code may be a number or a
// string, the text may be in message or description, and some proxies put
// them at the top level. Every shape decodes; what does not is kept raw.
type errorBody struct {
	Error       json.RawMessage `json:"error"`
	Code        flexCode        `json:"code"`
	Message     string          `json:"message"`
	Description string          `json:"description"`
}

type errorDetail struct {
	Code        flexCode `json:"code"`
	Message     string   `json:"message"`
	Description string   `json:"description"`
}

// flexCode is an error code sent as a JSON number or a JSON string.
type flexCode string

func (c *flexCode) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '"' {
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		*c = flexCode(strings.TrimSpace(s))
		return nil
	}
	if bytes.Equal(data, []byte("null")) {
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(data, &n); err != nil {
		return err
	}
	*c = flexCode(n.String())
	return nil
}

// decodeError extracts the code and text of an error body. It never fails:
// an unknown shape gives an empty code and message (the caller keeps the raw
// body).
func decodeError(data []byte) (code, message string) {
	var b errorBody
	if json.Unmarshal(data, &b) != nil {
		return "", ""
	}
	code, message = string(b.Code), firstNonEmpty(b.Message, b.Description)
	var d errorDetail
	if len(b.Error) > 0 && json.Unmarshal(b.Error, &d) == nil {
		if d.Code != "" {
			code = string(d.Code)
		}
		if m := firstNonEmpty(d.Message, d.Description); m != "" {
			message = m
		}
	} else if len(b.Error) > 0 && message == "" {
		// {"error":"server_error", ...}: a string where an object was expected.
		var s string
		if json.Unmarshal(b.Error, &s) == nil {
			message = s
		}
	}
	return code, message
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
