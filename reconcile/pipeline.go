package reconcile

import "context"

// Source streams saved outcomes.
type Source interface {
	// Each calls fn once per row, in source order, with Row numbers
	// increasing. A row that cannot be used is passed with Invalid set, never
	// skipped. Each returns fn's first error, or an error when the source
	// itself cannot be read (it is then unusable: exit 2).
	Each(ctx context.Context, fn func(Local) error) error
}

// Fetcher asks the API for one process.
type Fetcher interface {
	// Fetch returns the answer for one canonical process id. A failure that
	// concerns only this process (network, 5xx, 429, timeout, malformed body)
	// is reported in Result.Err. A non-nil error means the run cannot go on:
	// a fatal API error (bad credentials, missing header) or ctx's error.
	// Fetch is safe for concurrent use.
	Fetch(ctx context.Context, processID string) (Result, error)
}

// Sink receives the listed discrepancies in source order, from one
// goroutine at a time.
type Sink interface {
	Write(Discrepancy) error
}
