package state_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
	"github.com/unico-reconcile/unico-reconcile/state"
)

// MustOpen opens a state database, closed when the test ends.
func MustOpen(tb testing.TB, path string) *state.DB {
	tb.Helper()
	db, err := state.Open(context.Background(), path)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// MustOpenTemp opens a new state database in a temporary folder.
func MustOpenTemp(tb testing.TB) *state.DB {
	tb.Helper()
	return MustOpen(tb, filepath.Join(tb.TempDir(), "state.db"))
}

// MustCreateRun records a running run with id, started at start.
func MustCreateRun(tb testing.TB, db *state.DB, id string, start time.Time) state.Run {
	tb.Helper()
	r := state.Run{ID: id, Source: "/data/saved.csv", APIRoot: "http://127.0.0.1:1",
		StartedAt: start, State: state.RunRunning, ExitCode: -1}
	if err := db.CreateRun(context.Background(), r); err != nil {
		tb.Fatalf("CreateRun(%s): %v", id, err)
	}
	return r
}

// MustJournal opens the journal of run id, closed when the test ends.
func MustJournal(tb testing.TB, db *state.DB, id string) *state.Journal {
	tb.Helper()
	j, err := db.Journal(context.Background(), id)
	if err != nil {
		tb.Fatalf("Journal(%s): %v", id, err)
	}
	tb.Cleanup(func() { j.Close() })
	return j
}

// uuid is the i-th test process id, in canonical form.
func uuid(i int) string {
	return fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", i*2654435761%(1<<32), i%0xffff, i%0xfff, (i/7)%0xfff, i)
}

func ptr[T any](v T) *T { return &v }

// at is a time with nanoseconds, in UTC.
var at = time.Date(2026, 11, 27, 16, 0, 0, 123456789, time.UTC)

// results covers every field of a Result, nil and not.
var results = []reconcile.Result{
	{ // a full answer
		Remote: &reconcile.Remote{ID: uuid(0), Outcome: reconcile.Outcome{Status: 3, UnicoID: "yes",
			IdentityFraudsters: "inconclusive", Serpro: ptr(87), Liveness: ptr(1), Score: ptr(0.1)}},
		HTTPStatus: 200, Attempts: 3, RateLimited: 2, FetchedAt: at,
	},
	{ // negative numbers, nothing else
		Remote: &reconcile.Remote{ID: uuid(1), Outcome: reconcile.Outcome{Status: 4,
			Serpro: ptr(-1), Liveness: ptr(2), Score: ptr(-100.0)}},
		HTTPStatus: 200, Attempts: 1, FetchedAt: at.Add(time.Nanosecond),
	},
	{ // 410
		Remote:     &reconcile.Remote{ID: uuid(2), Outcome: reconcile.Outcome{Status: 5}, Gone: true},
		HTTPStatus: 410, Attempts: 1, FetchedAt: at.Add(time.Second),
	},
	{ // the API spells the id in upper case
		Remote:     &reconcile.Remote{ID: "ABCDEF01-2345-6789-ABCD-EF0123456789", Outcome: reconcile.Outcome{Status: 1, Score: ptr(0.0)}},
		HTTPStatus: 200, Attempts: 1, FetchedAt: at,
	},
	{NotFound: true, HTTPStatus: 404, ErrorCode: "50001", Attempts: 1, FetchedAt: at},
	{ // unverified
		HTTPStatus: 503, ErrorCode: "99999", Err: errors.New("503 Service Unavailable after 6 attempts"),
		Attempts: 6, RateLimited: 0, FetchedAt: at,
	},
	{Err: errors.New("dial tcp: connection refused"), Attempts: 6}, // no response ever came
	{Err: errors.New(""), Attempts: 1},                             // an error with no message is still an error
	{Remote: &reconcile.Remote{ID: uuid(8), Outcome: reconcile.Outcome{Status: 3, Score: ptr(math.MaxFloat64)}}},
}

// kinds are the verdicts recorded with results.
var kinds = []reconcile.Kind{reconcile.Match, reconcile.StatusMismatch, reconcile.Match, reconcile.Pending,
	reconcile.NotFound, reconcile.Unverified, reconcile.Unverified, reconcile.Unverified, reconcile.ResultMismatch}

// result is the i-th test result, for process uuid(i).
func result(i int) (reconcile.Result, reconcile.Kind) {
	r := results[i%len(results)]
	if r.Remote != nil && i%len(results) != 3 {
		rm := *r.Remote
		rm.ID = uuid(i)
		r.Remote = &rm
	}
	return r, kinds[i%len(kinds)]
}

// exact compares errors by message and times by instant, zone offset and
// precision (their RFC 3339 text), so that what is read back formats as
// the original did.
var exact = cmp.Options{
	cmp.Comparer(func(a, b error) bool {
		if a == nil || b == nil {
			return a == nil && b == nil
		}
		return a.Error() == b.Error()
	}),
	cmp.Comparer(func(a, b time.Time) bool {
		return a.Equal(b) && a.Format(time.RFC3339Nano) == b.Format(time.RFC3339Nano)
	}),
}

// MustGlob lists the files matching pattern.
func MustGlob(tb testing.TB, pattern string) []string {
	tb.Helper()
	m, err := filepath.Glob(pattern)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}
