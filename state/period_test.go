package state_test

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
	"github.com/unico-reconcile/unico-reconcile/state"
)

// periodFixture is three runs: two in the period [day, day+1d) and one
// after it. Process 0 stays a status mismatch; process 1 is unverified
// first and a match in the second run (resolved); process 2 is a result
// mismatch first, then pending (resolved); process 3 matches in both;
// process 4 is answered only in the first run (lost response, open); an
// unusable row is listed by both. The run after the period resolves
// process 0, which the period must not see.
func periodFixture(t *testing.T) (*state.DB, time.Time) {
	t.Helper()
	ctx := context.Background()
	db := MustOpenTemp(t)
	day := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	type answer struct {
		p    int
		kind reconcile.Kind
	}
	runs := []struct {
		id      string
		start   time.Time
		answers []answer
	}{
		{"r1", day.Add(time.Hour), []answer{{0, reconcile.StatusMismatch}, {1, reconcile.Unverified}, {2, reconcile.ResultMismatch}, {3, reconcile.Match}, {4, reconcile.LostResponse}}},
		{"r2", day.Add(20 * time.Hour), []answer{{0, reconcile.StatusMismatch}, {1, reconcile.Match}, {2, reconcile.Pending}, {3, reconcile.Match}}},
		{"r3", day.Add(30 * time.Hour), []answer{{0, reconcile.Match}}},
	}
	for _, r := range runs {
		MustCreateRun(t, db, r.id, r.start)
		if err := db.BulkAnswers(ctx, r.id, len(r.answers), func(i int) (string, reconcile.Result, reconcile.Kind) {
			a := r.answers[i]
			return uuid(a.p), reconcile.Result{HTTPStatus: 200, Attempts: 1}, a.kind
		}); err != nil {
			t.Fatal(err)
		}
		l, err := db.Listing(ctx, r.id)
		if err != nil {
			t.Fatal(err)
		}
		for i, a := range r.answers {
			if a.kind.Listed() {
				d := reconcile.Discrepancy{Kind: a.kind, Local: reconcile.Local{Row: i + 2, ProcessID: uuid(a.p)}, Detail: r.id}
				if err := l.Write(d); err != nil {
					t.Fatal(err)
				}
			}
		}
		if r.id != "r3" {
			bad := reconcile.Discrepancy{Kind: reconcile.InvalidInput, Local: reconcile.Local{Row: 40, ProcessID: ""}, Detail: "empty id"}
			if err := l.Write(bad); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return db, day
}

func TestDB_RunsBetween(t *testing.T) {
	db, day := periodFixture(t)
	runs, err := db.RunsBetween(context.Background(), day, day.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range runs {
		ids = append(ids, r.ID)
	}
	if diff := cmp.Diff([]string{"r1", "r2"}, ids); diff != "" {
		t.Errorf("runs (-want +got):\n%s", diff)
	}
}

func TestDB_CheckedKinds(t *testing.T) {
	db, day := periodFixture(t)
	got, err := db.CheckedKinds(context.Background(), day, day.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	// Each process once, by its latest answer in the period.
	want := map[reconcile.Kind]int{reconcile.StatusMismatch: 1, reconcile.Match: 2, reconcile.Pending: 1, reconcile.LostResponse: 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("checked (-want +got):\n%s", diff)
	}
}

// row is a PeriodDiscrepancy's gist.
type row struct {
	ID, Kind, First, Last, ResolvedBy, ResolvedKind, Detail string
}

func TestDB_EachPeriodDiscrepancy(t *testing.T) {
	db, day := periodFixture(t)
	collect := func(to time.Time) []row {
		var got []row
		err := db.EachPeriodDiscrepancy(context.Background(), day, to, func(pd state.PeriodDiscrepancy) error {
			d := pd.Discrepancy
			got = append(got, row{d.Local.ProcessID, string(d.Kind), pd.FirstRun, pd.LastRun, pd.ResolvedBy, string(pd.ResolvedKind), d.Detail})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	t.Run("OK", func(t *testing.T) {
		want := []row{
			{"", "invalid_input", "r1", "r2", "", "", "empty id"},
			{uuid(0), "status_mismatch", "r1", "r2", "", "", "r2"},
			{uuid(1), "unverified", "r1", "r1", "r2", "match", "r1"},
			{uuid(2), "result_mismatch", "r1", "r1", "r2", "pending", "r1"},
			{uuid(4), "lost_response", "r1", "r1", "", "", "r1"},
		}
		sort.Slice(want, func(i, j int) bool { return want[i].ID < want[j].ID }) // by process id, as the report
		if diff := cmp.Diff(want, collect(day.Add(24*time.Hour))); diff != "" {
			t.Errorf("period discrepancies (-want +got):\n%s", diff)
		}
	})
	t.Run("LaterRunResolves", func(t *testing.T) {
		for _, r := range collect(day.Add(48 * time.Hour)) {
			if r.ID == uuid(0) && (r.ResolvedBy != "r3" || r.ResolvedKind != "match") {
				t.Errorf("process 0 over two days: resolved by %q (%s), want r3 (match)", r.ResolvedBy, r.ResolvedKind)
			}
		}
	})
}

func TestDB_EachUnchecked(t *testing.T) {
	db, _ := periodFixture(t)
	saved := []state.Saved{
		{Row: 2, ProcessID: uuid(0), SavedAt: at},
		{Row: 3, ProcessID: uuid(9), SavedAt: at.Add(time.Minute)}, // never answered
		{Row: 4, ProcessID: uuid(4), SavedAt: at},
		{Row: 5, ProcessID: uuid(8), SavedAt: at.Add(time.Hour)}, // never answered
		{Row: 6, ProcessID: uuid(9), SavedAt: at},                // a repeat keeps row 3
	}
	var got []state.Saved
	err := db.EachUnchecked(context.Background(), func(add func(state.Saved) error) error {
		for _, s := range saved {
			if err := add(s); err != nil {
				return err
			}
		}
		return nil
	}, func(s state.Saved) error { got = append(got, s); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]state.Saved{saved[1], saved[3]}, got); diff != "" {
		t.Errorf("unchecked (-want +got):\n%s", diff)
	}
}
