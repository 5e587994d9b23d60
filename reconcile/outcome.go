package reconcile

import (
	"strconv"
	"time"
)

// Status is a process status as the API numbers it. Zero means none was
// stored (the response was lost).
type Status int

// The API's process statuses.
const (
	StatusNone       Status = 0
	StatusProcessing Status = 1
	StatusDivergence Status = 2
	StatusFinished   Status = 3
	StatusCancelled  Status = 4
	StatusError      Status = 5
)

// Final reports whether s is a final status (3, 4 or 5).
func (s Status) Final() bool { return s >= StatusFinished && s <= StatusError }

// Valid reports whether s is one of the API's statuses 1..5.
func (s Status) Valid() bool { return s >= StatusProcessing && s <= StatusError }

// String returns the number, or "" for StatusNone.
func (s Status) String() string {
	if s == StatusNone {
		return ""
	}
	return strconv.Itoa(int(s))
}

// Outcome is a process's status and results, as stored locally or as the API
// returned them. An empty string or a nil pointer means the field is absent.
type Outcome struct {
	Status             Status
	UnicoID            string   // unicoId.result: yes, no, inconclusive
	IdentityFraudsters string   // identityFraudsters.result: yes, inconclusive (others kept as is)
	Serpro             *int     // government.serpro: 0..100, -1, -2
	Liveness           *int     // liveness: 1 passed, 2 failed
	Score              *float64 // score: -100..100
}

// Local is one saved outcome read from a source.
type Local struct {
	// Row is the 1-based number of the row in its source: for CSV the record
	// number counting the header as row 1, for SQL the result row.
	Row int
	// ProcessID is the id as the source holds it; when Invalid is nil it is a
	// UUID in canonical lower-case form.
	ProcessID string
	Outcome
	// SavedAt is when the outcome was saved; the zero time means unknown.
	SavedAt time.Time
	// Invalid, when not nil, says why the row cannot be used; its message
	// names the file, the row and the column. Such a row is never fetched.
	Invalid error
}

// Remote is a process's outcome as the API returned it.
type Remote struct {
	ID string
	Outcome
	// Gone is true when the API answered 410: the process ended in error and
	// the body carries only id and status 5.
	Gone bool
}

// Result is the answer to one fetch, successful or not.
type Result struct {
	// Remote is the outcome when the API answered 200 or 410, nil otherwise.
	Remote *Remote
	// NotFound is true when the API answered 404 (50001).
	NotFound bool
	// HTTPStatus is the status code of the last response, 0 if none came.
	HTTPStatus int
	// ErrorCode is the API's error code in the last response, if any.
	ErrorCode string
	// Err says why no answer could be had (the process is unverified); it is
	// nil when Remote is set or NotFound is true.
	Err error
	// Attempts counts the requests sent for this process; RateLimited counts
	// the 429 answers among them.
	Attempts    int
	RateLimited int
	// FetchedAt is when the last response arrived, in UTC; zero if none came.
	FetchedAt time.Time
}
