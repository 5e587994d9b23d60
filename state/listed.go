package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

// listedData is a listed discrepancy's data column: everything but the
// kind, the row and the process id, which have columns of their own. It is
// lossless: times keep their zone offset and precision, a nil pointer stays
// nil, an error keeps its message.
type listedData struct {
	Local       listedLocal   `json:"local"`
	Remote      *listedRemote `json:"remote,omitempty"`
	Fields      []listedField `json:"fields,omitempty"`
	HTTPStatus  int           `json:"http_status,omitempty"`
	ErrorCode   string        `json:"error_code,omitempty"`
	Detail      string        `json:"detail,omitempty"`
	FetchedAt   string        `json:"fetched_at,omitempty"` // RFC 3339 with nanoseconds, "" for zero
	Attempts    int           `json:"attempts,omitempty"`
	RateLimited int           `json:"rate_limited,omitempty"`
}

type listedLocal struct {
	listedOutcome
	SavedAt string  `json:"saved_at,omitempty"` // RFC 3339 with nanoseconds and the original offset
	Invalid *string `json:"invalid,omitempty"`  // the error's message
}

type listedRemote struct {
	ID string `json:"id"`
	listedOutcome
	Gone bool `json:"gone,omitempty"`
}

type listedOutcome struct {
	Status             int        `json:"status,omitempty"`
	UnicoID            string     `json:"unico_id,omitempty"`
	IdentityFraudsters string     `json:"identity_fraudsters,omitempty"`
	Serpro             *int       `json:"serpro,omitempty"`
	Liveness           *int       `json:"liveness,omitempty"`
	Score              *jsonFloat `json:"score,omitempty"`
}

type listedField struct {
	Name   string `json:"name"`
	Local  string `json:"local"`
	Remote string `json:"remote"`
}

// jsonFloat is a float64 that JSON keeps exactly: a number (Go writes the
// shortest form that reads back the same), or "NaN", "+Inf", "-Inf".
type jsonFloat float64

func (f jsonFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.AppendQuote(nil, strconv.FormatFloat(v, 'g', -1, 64)), nil
	}
	return json.Marshal(v)
}

func (f *jsonFloat) UnmarshalJSON(b []byte) error {
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		var err error
		if s, err = strconv.Unquote(s); err != nil {
			return err
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return err
	}
	*f = jsonFloat(v)
	return nil
}

func toOutcome(o reconcile.Outcome) listedOutcome {
	lo := listedOutcome{Status: int(o.Status), UnicoID: o.UnicoID,
		IdentityFraudsters: o.IdentityFraudsters, Serpro: o.Serpro, Liveness: o.Liveness}
	if o.Score != nil {
		f := jsonFloat(*o.Score)
		lo.Score = &f
	}
	return lo
}

func (lo listedOutcome) outcome() reconcile.Outcome {
	o := reconcile.Outcome{Status: reconcile.Status(lo.Status), UnicoID: lo.UnicoID,
		IdentityFraudsters: lo.IdentityFraudsters, Serpro: lo.Serpro, Liveness: lo.Liveness}
	if lo.Score != nil {
		f := float64(*lo.Score)
		o.Score = &f
	}
	return o
}

func formatExact(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339Nano)
}

func parseExact(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339Nano, s)
}

// encodeListed returns d's data column.
func encodeListed(d reconcile.Discrepancy) ([]byte, error) {
	ld := listedData{
		Local:      listedLocal{listedOutcome: toOutcome(d.Local.Outcome), SavedAt: formatExact(d.Local.SavedAt)},
		HTTPStatus: d.HTTPStatus, ErrorCode: d.ErrorCode, Detail: d.Detail,
		FetchedAt: formatExact(d.FetchedAt), Attempts: d.Attempts, RateLimited: d.RateLimited,
	}
	if d.Local.Invalid != nil {
		msg := d.Local.Invalid.Error()
		ld.Local.Invalid = &msg
	}
	if d.Remote != nil {
		ld.Remote = &listedRemote{ID: d.Remote.ID, listedOutcome: toOutcome(d.Remote.Outcome), Gone: d.Remote.Gone}
	}
	for _, f := range d.Fields {
		ld.Fields = append(ld.Fields, listedField(f))
	}
	return json.Marshal(ld)
}

// decodeListed rebuilds a discrepancy from its columns. Fields comes back
// nil when there were none, whether they were nil or empty.
func decodeListed(kind string, row int, processID string, data []byte) (reconcile.Discrepancy, error) {
	var ld listedData
	if err := json.Unmarshal(data, &ld); err != nil {
		return reconcile.Discrepancy{}, err
	}
	d := reconcile.Discrepancy{
		Kind:       reconcile.Kind(kind),
		Local:      reconcile.Local{Row: row, ProcessID: processID, Outcome: ld.Local.outcome()},
		HTTPStatus: ld.HTTPStatus, ErrorCode: ld.ErrorCode, Detail: ld.Detail,
		Attempts: ld.Attempts, RateLimited: ld.RateLimited,
	}
	var err error
	if d.Local.SavedAt, err = parseExact(ld.Local.SavedAt); err != nil {
		return reconcile.Discrepancy{}, fmt.Errorf("saved_at: %w", err)
	}
	if d.FetchedAt, err = parseExact(ld.FetchedAt); err != nil {
		return reconcile.Discrepancy{}, fmt.Errorf("fetched_at: %w", err)
	}
	if ld.Local.Invalid != nil {
		d.Local.Invalid = errors.New(*ld.Local.Invalid)
	}
	if ld.Remote != nil {
		d.Remote = &reconcile.Remote{ID: ld.Remote.ID, Outcome: ld.Remote.outcome(), Gone: ld.Remote.Gone}
	}
	for _, f := range ld.Fields {
		d.Fields = append(d.Fields, reconcile.FieldDiff(f))
	}
	return d, nil
}
