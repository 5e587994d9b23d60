package reports

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

// ReadDiscrepancy decodes one line of discrepancies.jsonl, as JSONLWriter
// wrote it, back into a Discrepancy: every key the line holds, times in
// UTC, field values as their text. A saved row's Invalid comes back as an
// error with the message the line holds. It is the inverse of
// JSONLWriter.Write as far as the line carries the discrepancy, which is
// everything report.html shows.
func ReadDiscrepancy(line []byte) (reconcile.Discrepancy, error) {
	var r record
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber() // a field's value comes back as the text it was written from
	if err := dec.Decode(&r); err != nil {
		return reconcile.Discrepancy{}, fmt.Errorf("read %s record: %w", JSONLName, err)
	}
	d := reconcile.Discrepancy{
		Kind:        reconcile.Kind(r.Kind),
		Local:       localOf(r),
		HTTPStatus:  derefInt(r.HTTPStatus),
		ErrorCode:   derefString(r.ErrorCode),
		Detail:      derefString(r.Detail),
		Attempts:    r.Attempts,
		RateLimited: r.RateLimited,
	}
	if r.FetchedAt != nil {
		d.FetchedAt = r.FetchedAt.UTC()
	}
	for _, f := range r.FieldDiffs {
		local, err := fieldText(f.Local)
		if err != nil {
			return reconcile.Discrepancy{}, fmt.Errorf("read %s record: field %s: %w", JSONLName, f.Name, err)
		}
		remote, err := fieldText(f.Remote)
		if err != nil {
			return reconcile.Discrepancy{}, fmt.Errorf("read %s record: field %s: %w", JSONLName, f.Name, err)
		}
		d.Fields = append(d.Fields, reconcile.FieldDiff{Name: f.Name, Local: local, Remote: remote})
	}
	if r.Remote != nil {
		d.Remote = &reconcile.Remote{ID: r.Remote.ID, Outcome: outcomeOf(r.Remote.outcomeView), Gone: r.Remote.Gone}
	}
	return d, nil
}

// localOf is the saved row a record describes.
func localOf(r record) reconcile.Local {
	l := reconcile.Local{Row: r.Row, ProcessID: derefString(r.ProcessID), Outcome: outcomeOf(r.Local.outcomeView)}
	if r.Local.SavedAt != nil {
		l.SavedAt = r.Local.SavedAt.UTC()
	}
	if r.Local.Invalid != "" {
		l.Invalid = errors.New(r.Local.Invalid)
	}
	return l
}

func outcomeOf(v outcomeView) reconcile.Outcome {
	o := reconcile.Outcome{Status: reconcile.Status(v.Status), Liveness: v.Liveness, Score: v.Score}
	if v.UnicoID != nil {
		o.UnicoID = v.UnicoID.Result
	}
	if v.IdentityFraudsters != nil {
		o.IdentityFraudsters = v.IdentityFraudsters.Result
	}
	if v.Government != nil {
		serpro := v.Government.Serpro
		o.Serpro = &serpro
	}
	return o
}

// fieldText is a field_diffs value as a FieldDiff holds it: "" for null,
// a number's or a string's text.
func fieldText(v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case json.Number:
		return v.String(), nil
	}
	return "", fmt.Errorf("value %v is neither a string nor a number", v)
}

func derefString(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func derefInt(n *int) int {
	if n == nil {
		return 0
	}
	return *n
}
