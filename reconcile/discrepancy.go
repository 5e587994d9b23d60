package reconcile

import (
	"strings"
	"time"
)

// Field names, as the API spells them.
const (
	FieldUnicoID            = "unicoId.result"
	FieldIdentityFraudsters = "identityFraudsters.result"
	FieldSerpro             = "government.serpro"
	FieldLiveness           = "liveness"
	FieldScore              = "score"
)

// FieldDiff is one result field that differs: its local value and its remote
// value, "" where the remote side lacks it.
type FieldDiff struct {
	Name   string
	Local  string
	Remote string
}

// String formats the difference as name=local->remote. A value that holds
// ";", "->" or a quote is Go-quoted (see Printable), so that the fields column
// reads back one way only.
func (f FieldDiff) String() string {
	return f.Name + "=" + fieldValue(f.Local) + "->" + fieldValue(f.Remote)
}

// Discrepancy is the verdict on one saved row. Kinds Match and Pending are
// verdicts too, but only Listed kinds go into the reports.
type Discrepancy struct {
	Kind  Kind
	Local Local
	// Remote is the outcome as observed, nil when the API gave none.
	Remote *Remote
	// Fields lists the differing result fields (kind result_mismatch).
	Fields     []FieldDiff
	HTTPStatus int
	ErrorCode  string
	// Detail explains the verdict in one line for a person.
	Detail    string
	FetchedAt time.Time
	// Attempts and RateLimited are copied from the fetch's Result.
	Attempts    int
	RateLimited int
}

// FieldsString joins Fields as the reports show them: name=local->remote
// separated by ";".
func (d Discrepancy) FieldsString() string {
	var b strings.Builder
	for i, f := range d.Fields {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(f.String())
	}
	return b.String()
}
