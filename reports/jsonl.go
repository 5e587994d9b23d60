package reports

import (
	"encoding/json"
	"io"
	"math"
	"regexp"
	"time"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

// JSONLWriter encodes discrepancies as the lines of discrepancies.jsonl: one
// JSON object per Write, with the CSV's columns and the evidence behind them.
// Values are written as they are (no formula neutralising: JSON is not run).
// It is not safe for concurrent use.
type JSONLWriter struct {
	enc *json.Encoder
}

// NewJSONLWriter returns a writer that encodes to w.
func NewJSONLWriter(w io.Writer) *JSONLWriter {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return &JSONLWriter{enc: enc}
}

// Write encodes d as one line, in one call to the underlying writer, and
// returns that writer's error.
//
// Every top-level key is always present; an absent value (empty string, zero
// status or HTTP status, zero time) is null, and field_diffs is a list,
// possibly empty. Inside local and remote an absent field is left out, as the
// API leaves it out of its body.
func (jw *JSONLWriter) Write(d reconcile.Discrepancy) error {
	return jw.enc.Encode(newRecord(d))
}

// Close returns nil: every Write has already reached the underlying writer,
// which Close does not close. It is there so that both encoders are used
// alike.
func (jw *JSONLWriter) Close() error { return nil }

// record is one line of discrepancies.jsonl.
type record struct {
	Row          int             `json:"row"`
	ProcessID    *string         `json:"process_id"`
	Kind         string          `json:"kind"`
	LocalStatus  *int            `json:"local_status"`
	RemoteStatus *int            `json:"remote_status"`
	Fields       *string         `json:"fields"`
	HTTPStatus   *int            `json:"http_status"`
	ErrorCode    *string         `json:"error_code"`
	Detail       *string         `json:"detail"`
	FieldDiffs   []fieldDiffView `json:"field_diffs"`
	Local        localView       `json:"local"`
	Remote       *remoteView     `json:"remote"`
	Attempts     int             `json:"attempts"`
	RateLimited  int             `json:"rate_limited"`
	FetchedAt    *time.Time      `json:"fetched_at"`
}

// fieldDiffView is one differing field. Local and Remote are JSON numbers for
// the API's numeric fields, strings otherwise, null when absent.
type fieldDiffView struct {
	Name   string `json:"name"`
	Local  any    `json:"local"`
	Remote any    `json:"remote"`
}

// localView is the saved row, shaped like the API's body so that local and
// remote read side by side.
type localView struct {
	ProcessID string `json:"process_id,omitempty"`
	outcomeView
	SavedAt *time.Time `json:"saved_at,omitempty"`
	// Invalid says why the row could not be used.
	Invalid string `json:"invalid,omitempty"`
}

// remoteView is the API's answer, with the API's names and nesting.
type remoteView struct {
	ID string `json:"id"`
	outcomeView
	// Gone is true when the API answered 410.
	Gone bool `json:"gone,omitempty"`
}

type outcomeView struct {
	Status             int             `json:"status,omitempty"`
	UnicoID            *resultView     `json:"unicoId,omitempty"`
	IdentityFraudsters *resultView     `json:"identityFraudsters,omitempty"`
	Government         *governmentView `json:"government,omitempty"`
	Liveness           *int            `json:"liveness,omitempty"`
	Score              *float64        `json:"score,omitempty"`
}

type resultView struct {
	Result string `json:"result"`
}

type governmentView struct {
	Serpro int `json:"serpro"`
}

func newRecord(d reconcile.Discrepancy) record {
	r := record{
		Row:         d.Local.Row,
		ProcessID:   stringOrNull(d.Local.ProcessID),
		Kind:        string(d.Kind),
		LocalStatus: intOrNull(int(d.Local.Status)),
		Fields:      stringOrNull(d.FieldsString()),
		HTTPStatus:  intOrNull(d.HTTPStatus),
		ErrorCode:   stringOrNull(d.ErrorCode),
		Detail:      stringOrNull(d.Detail),
		FieldDiffs:  make([]fieldDiffView, 0, len(d.Fields)),
		Local:       newLocalView(d.Local),
		Attempts:    d.Attempts,
		RateLimited: d.RateLimited,
		FetchedAt:   timeOrNull(d.FetchedAt),
	}
	for _, f := range d.Fields {
		r.FieldDiffs = append(r.FieldDiffs, fieldDiffView{
			Name:   f.Name,
			Local:  fieldValue(f.Name, f.Local),
			Remote: fieldValue(f.Name, f.Remote),
		})
	}
	if d.Remote != nil {
		r.RemoteStatus = intOrNull(int(d.Remote.Status))
		r.Remote = &remoteView{
			ID:          d.Remote.ID,
			outcomeView: newOutcomeView(d.Remote.Outcome),
			Gone:        d.Remote.Gone,
		}
	}
	return r
}

func newLocalView(l reconcile.Local) localView {
	v := localView{
		ProcessID:   l.ProcessID,
		outcomeView: newOutcomeView(l.Outcome),
		SavedAt:     timeOrNull(l.SavedAt),
	}
	if l.Invalid != nil {
		v.Invalid = l.Invalid.Error()
	}
	return v
}

func newOutcomeView(o reconcile.Outcome) outcomeView {
	v := outcomeView{
		Status:   int(o.Status),
		Liveness: o.Liveness,
	}
	if o.UnicoID != "" {
		v.UnicoID = &resultView{Result: o.UnicoID}
	}
	if o.IdentityFraudsters != "" {
		v.IdentityFraudsters = &resultView{Result: o.IdentityFraudsters}
	}
	if o.Serpro != nil {
		v.Government = &governmentView{Serpro: *o.Serpro}
	}
	// JSON has no NaN or infinity; such a score cannot be a real one.
	if o.Score != nil && !math.IsNaN(*o.Score) && !math.IsInf(*o.Score, 0) {
		v.Score = o.Score
	}
	return v
}

// jsonNumber matches the JSON grammar for numbers.
var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

// fieldValue is a FieldDiff value as JSON: null when absent, a number for the
// API's numeric fields, a string otherwise.
func fieldValue(name, v string) any {
	switch {
	case v == "":
		return nil
	case name == reconcile.FieldSerpro || name == reconcile.FieldLiveness || name == reconcile.FieldScore:
		if jsonNumber.MatchString(v) {
			return json.Number(v)
		}
	}
	return v
}

func stringOrNull(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func intOrNull(n int) *int {
	if n == 0 {
		return nil
	}
	return &n
}

// timeOrNull returns t in UTC, or nil for the zero time.
func timeOrNull(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}
