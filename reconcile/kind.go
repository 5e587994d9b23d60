package reconcile

// Kind is what a comparison found for one saved process. The listed kinds are
// the contract's discrepancy kinds; Match and Pending are counted, not listed.
type Kind string

// The contract's discrepancy kinds, in report order.
const (
	LostResponse    Kind = "lost_response"
	StatusMismatch  Kind = "status_mismatch"
	ResultMismatch  Kind = "result_mismatch"
	NotFound        Kind = "not_found"
	StillProcessing Kind = "still_processing"
	Unverified      Kind = "unverified"
	InvalidInput    Kind = "invalid_input"
	DuplicateID     Kind = "duplicate_id"
)

// Outcomes that are counted but are not discrepancies.
const (
	Match   Kind = "match"
	Pending Kind = "pending"
)

// Kinds lists every discrepancy kind in a stable order (the order of the
// contract's table). Callers must not modify it.
var Kinds = []Kind{
	LostResponse, StatusMismatch, ResultMismatch, NotFound,
	StillProcessing, Unverified, InvalidInput, DuplicateID,
}

// Listed reports whether a process of kind k is a discrepancy that goes into
// the reports (everything but Match and Pending).
func (k Kind) Listed() bool { return k != Match && k != Pending }
