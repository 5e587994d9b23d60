package state_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
	"github.com/unico-reconcile/unico-reconcile/state"
)

// discrepancies covers every field of a Discrepancy, nil and not.
func discrepancies() []reconcile.Discrepancy {
	plus3 := time.FixedZone("", 3*3600)
	saved := time.Date(2026, 11, 26, 9, 30, 0, 120000000, plus3) // .12 +03:00
	return []reconcile.Discrepancy{
		{
			Kind: reconcile.ResultMismatch,
			Local: reconcile.Local{Row: 2, ProcessID: uuid(1), SavedAt: saved, Outcome: reconcile.Outcome{
				Status: 3, UnicoID: "yes", IdentityFraudsters: "inconclusive", Serpro: ptr(-2), Liveness: ptr(1), Score: ptr(0.1)}},
			Remote: &reconcile.Remote{ID: uuid(1), Outcome: reconcile.Outcome{
				Status: 3, UnicoID: "no", Serpro: ptr(0), Liveness: ptr(2), Score: ptr(-100.0)}},
			Fields: []reconcile.FieldDiff{{Name: reconcile.FieldUnicoID, Local: "yes", Remote: "no"},
				{Name: reconcile.FieldIdentityFraudsters, Local: "inconclusive", Remote: ""}},
			HTTPStatus: 200, Detail: "unicoId.result differs", FetchedAt: at, Attempts: 2, RateLimited: 1,
		},
		{
			Kind:       reconcile.LostResponse,
			Local:      reconcile.Local{Row: 3, ProcessID: uuid(2), SavedAt: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)},
			Remote:     &reconcile.Remote{ID: uuid(2), Outcome: reconcile.Outcome{Status: 5}, Gone: true},
			Fields:     []reconcile.FieldDiff{}, // empty comes back nil
			HTTPStatus: 410, FetchedAt: at.Add(time.Nanosecond), Attempts: 1,
		},
		{
			Kind:       reconcile.Unverified,
			Local:      reconcile.Local{Row: 4, ProcessID: uuid(3)},
			HTTPStatus: 503, ErrorCode: "99999", Detail: "503 after 6 attempts, \"quoted\" and\nnewline",
			FetchedAt: at, Attempts: 6,
		},
		{
			Kind: reconcile.InvalidInput,
			Local: reconcile.Local{Row: 5, ProcessID: "not a uuid, ünïcode",
				Invalid: errors.New(`saved.csv: row 5, column process_id: "not a uuid" is not a UUID`)},
			Detail: "invalid",
		},
		{
			Kind:  reconcile.StatusMismatch,
			Local: reconcile.Local{Row: 6, ProcessID: uuid(5), Outcome: reconcile.Outcome{Status: 4, Score: ptr(math.Inf(1))}},
			Remote: &reconcile.Remote{ID: "ABCDEF01-2345-6789-ABCD-EF0123456789",
				Outcome: reconcile.Outcome{Status: 3, Score: ptr(math.Copysign(0, -1))}},
			FetchedAt: time.Date(2026, 11, 27, 19, 0, 0, 1, plus3),
		},
		{Kind: reconcile.DuplicateID, Local: reconcile.Local{Row: 7, ProcessID: uuid(1), Invalid: errors.New("")}},
	}
}

func TestListing_RoundTrip(t *testing.T) {
	ctx := context.Background()
	db := MustOpenTemp(t)
	MustCreateRun(t, db, "r", at)
	fixture := discrepancies()
	var want []reconcile.Discrepancy
	for i := range 2500 { // several batches
		d := fixture[i%len(fixture)]
		d.Local.Row = i + 2
		want = append(want, d)
	}

	l, err := db.Listing(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range want {
		if err := l.Write(d); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if want[i].Fields != nil && len(want[i].Fields) == 0 {
			want[i].Fields = nil
		}
	}
	var got []reconcile.Discrepancy
	if err := db.EachListed(ctx, "r", func(d reconcile.Discrepancy) error {
		got = append(got, d)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, exact); diff != "" {
		t.Errorf("EachListed (-want +got):\n%s", diff)
	}
	if s := *got[4].Remote.Score; !math.Signbit(s) {
		t.Errorf("score -0 read back as %v", s)
	}
}

func TestListing_Again(t *testing.T) {
	ctx := context.Background()
	db := MustOpenTemp(t)
	MustCreateRun(t, db, "r", at)
	MustCreateRun(t, db, "other", at)
	list := func(run string, n int) {
		l, err := db.Listing(ctx, run)
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if err := l.Write(reconcile.Discrepancy{Kind: reconcile.NotFound, Local: reconcile.Local{Row: i, ProcessID: uuid(i)}}); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	count := func(run string) int {
		n := 0
		if err := db.EachListed(ctx, run, func(reconcile.Discrepancy) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	list("r", 3000)
	list("other", 5)
	list("r", 2) // a resumed run lists everything again
	if got, want := count("r"), 2; got != want {
		t.Errorf("listed after listing again = %d, want %d", got, want)
	}
	if got, want := count("other"), 5; got != want {
		t.Errorf("listed of another run = %d, want %d", got, want)
	}
}

func TestListing_Errors(t *testing.T) {
	ctx := context.Background()
	db := MustOpenTemp(t)
	MustCreateRun(t, db, "r", at)
	if _, err := db.Listing(ctx, "nope"); !errors.Is(err, state.ErrNoRun) {
		t.Errorf("Listing(nope): %v, want ErrNoRun", err)
	}
	if err := db.EachListed(ctx, "nope", nil); !errors.Is(err, state.ErrNoRun) {
		t.Errorf("EachListed(nope): %v, want ErrNoRun", err)
	}
	l, err := db.Listing(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		l.Write(reconcile.Discrepancy{Kind: reconcile.NotFound, Local: reconcile.Local{Row: i}})
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Write(reconcile.Discrepancy{}); !errors.Is(err, state.ErrClosed) {
		t.Errorf("Write after Close: %v, want ErrClosed", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	stop := fmt.Errorf("stop")
	n := 0
	err = db.EachListed(ctx, "r", func(reconcile.Discrepancy) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("EachListed with fn failing = %v after %d calls, want fn's error after 1", err, n)
	}
}

// TestListing_ErrWrite: a write that fails (here the run's rows are gone
// under the listing) is reported by Close.
func TestListing_ErrWrite(t *testing.T) {
	ctx := context.Background()
	db := MustOpenTemp(t)
	MustCreateRun(t, db, "r", at)
	l, err := db.Listing(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Exec(ctx, "DELETE FROM runs"); err != nil { // foreign key: inserts now fail
		t.Fatal(err)
	}
	l.Write(reconcile.Discrepancy{Kind: reconcile.NotFound})
	if err := l.Close(); err == nil {
		t.Error("Close succeeded")
	}
}
