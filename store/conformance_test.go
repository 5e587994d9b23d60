package store_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/unico-reconcile/unico-reconcile/internal/csvtest"
	"github.com/unico-reconcile/unico-reconcile/internal/pgtest"
	"github.com/unico-reconcile/unico-reconcile/reconcile"
	"github.com/unico-reconcile/unico-reconcile/store"
)

// fixture is the conformance suite's rows: every column type, empty values,
// and an invalid value of each kind.
const fixture = "../testdata/store/conformance.csv"

// sourceKind opens the fixture as one kind of source. rowOffset is what the
// kind's row numbers add to the result row: the CSV header is row 1.
type sourceKind struct {
	name      string
	open      func(tb testing.TB) reconcile.Source
	rowOffset int
}

var sourceKinds = []sourceKind{
	{name: "CSV", rowOffset: 1, open: func(tb testing.TB) reconcile.Source {
		c, err := store.OpenCSV(fixture)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { c.Close() })
		return c
	}},
	{name: "SQLite", open: func(tb testing.TB) reconcile.Source {
		s, err := store.OpenSQLite(MustSQLiteFromCSV(tb, fixture), "")
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { s.Close() })
		return s
	}},
	{name: "PostgreSQL", open: func(tb testing.TB) reconcile.Source {
		p, err := store.OpenPostgres(MustPostgresFromCSV(tb, fixture), "")
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { p.Close() })
		return p
	}},
}

// MustPostgresFromCSV creates a database of its own on the test server
// holding the CSV file's rows (pgtest.MustDatabaseFromCSV: text columns,
// since the fixture's invalid values would not fit typed ones;
// TestPostgres_Types covers those) and returns its DSN.
func MustPostgresFromCSV(tb testing.TB, csvPath string) string {
	tb.Helper()
	return pgtest.MustDatabaseFromCSV(tb, csvPath)
}

// MustSQLiteFromCSV builds a SQLite database holding the CSV file's rows in
// a table processes with the types an application would declare
// (csvtest.MustLoad: an empty CSV value becomes NULL, and the CSV source
// under test does not build its own expectations).
func MustSQLiteFromCSV(tb testing.TB, csvPath string) string {
	tb.Helper()
	types := map[string]string{"status": "INTEGER", "serpro_score": "INTEGER", "liveness": "INTEGER", "score": "REAL"}
	path := filepath.Join(tb.TempDir(), "conformance.db")
	db := mustOpenRW(tb, path)
	defer db.Close()
	csvtest.MustLoad(tb, db, csvPath, csvtest.Dialect{
		ID: "id INTEGER PRIMARY KEY",
		Type: func(name string) string {
			if t := types[name]; t != "" {
				return t
			}
			return "TEXT"
		},
		Mark: func(int) string { return "?" },
	})
	return path
}

func id(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }

func ptr[T any](v T) *T { return &v }

// invalid is an expected invalid row of the fixture (CSV row numbers).
func invalid(row int, processID, column, value, reason string) reconcile.Local {
	return reconcile.Local{Row: row, ProcessID: processID, Invalid: &store.RowError{
		Row: row, Column: column, Value: value, Reason: reason,
	}}
}

// conformanceWant is what every source must make of the fixture, with the
// CSV's row numbers.
func conformanceWant() []reconcile.Local {
	at := func(s string) time.Time {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			panic(err)
		}
		return t
	}
	return []reconcile.Local{
		{Row: 2, ProcessID: id(2), SavedAt: at("2024-05-01T10:00:00Z"), Outcome: reconcile.Outcome{
			Status: 3, UnicoID: "yes", IdentityFraudsters: "yes", Serpro: ptr(95), Liveness: ptr(1), Score: ptr(87.0)}},
		{Row: 3, ProcessID: "0a3e1f4c-9b2d-4e8f-a1c3-5d6e7f8091a2", SavedAt: at("2024-05-01T10:00:00.123456789Z"), Outcome: reconcile.Outcome{
			Status: 3, UnicoID: "yes", IdentityFraudsters: "inconclusive", Serpro: ptr(-1), Liveness: ptr(2), Score: ptr(87.0)}},
		{Row: 4, ProcessID: id(4)},
		{Row: 5, ProcessID: id(5), SavedAt: at("2024-05-01T10:00:00Z"), Outcome: reconcile.Outcome{
			Status: 1, UnicoID: "no", IdentityFraudsters: "inconclusive", Serpro: ptr(-2), Liveness: ptr(2), Score: ptr(-100.0)}},
		{Row: 6, ProcessID: id(6), SavedAt: at("2024-05-01T10:00:00.5Z"), Outcome: reconcile.Outcome{
			Status: 4, UnicoID: "no", IdentityFraudsters: "yes", Serpro: ptr(0), Liveness: ptr(1), Score: ptr(0.0)}},
		{Row: 7, ProcessID: id(7), SavedAt: at("2024-05-01T10:00:00Z"), Outcome: reconcile.Outcome{
			Status: 5, UnicoID: "inconclusive", Serpro: ptr(100), Score: ptr(100.0)}},
		invalid(8, "", "process_id", "", "is empty (required)"),
		invalid(9, "not-a-uuid", "process_id", "not-a-uuid", "is not a UUID (8-4-4-4-12 hex digits)"),
		invalid(10, "{"+id(10)+"}", "process_id", "{"+id(10)+"}", "is not a UUID (8-4-4-4-12 hex digits)"),
		invalid(11, id(11), "status", "7", "is not a status 1..5"),
		invalid(12, id(12), "status", "x", "is not a status 1..5"),
		invalid(13, id(13), "status", "3.5", "is not a status 1..5"),
		invalid(14, id(14), "unico_id_result", "maybe", "is not yes, no or inconclusive"),
		invalid(15, id(15), "identity_fraudsters_result", "no", "is not yes or inconclusive"),
		invalid(16, id(16), "serpro_score", "101", "is not a serpro score 0..100, -1 or -2"),
		invalid(17, id(17), "serpro_score", "-3", "is not a serpro score 0..100, -1 or -2"),
		invalid(18, id(18), "liveness", "3", "is not a liveness 1 or 2"),
		invalid(19, id(19), "score", "abc", "is not a number"),
		invalid(20, id(20), "score", "NaN", "is not a number"),
		invalid(21, id(21), "saved_at", "yesterday", "is not an RFC 3339 timestamp"),
		invalid(22, id(22), "saved_at", "2024-05-01", "is not an RFC 3339 timestamp"),
		invalid(23, id(23), "saved_at", "2024-05-01T10:00:00", "is not an RFC 3339 timestamp"),
		invalid(24, id(24), "status", "9", "is not a status 1..5"),
		invalid(25, "bad-id", "process_id", "bad-id", "is not a UUID (8-4-4-4-12 hex digits)"),
		invalid(26, id(26), "unico_id_result", strings.Repeat("A", 100), "is not yes, no or inconclusive"),
		invalid(27, id(27), "unico_id_result", "ye\ns", "is not yes, no or inconclusive"),
		{Row: 28, ProcessID: id(28), Outcome: reconcile.Outcome{Status: 2}},
		invalid(29, id(29), "identity_fraudsters_result", "suspicious", "is not yes or inconclusive"),
		invalid(30, id(30), "score", "87.5", "is not an integer score"),
		invalid(31, id(31), "score", "-0.01", "is not an integer score"),
	}
}

// shiftRows renumbers want for a source whose row numbers are the result
// row plus offset (the fixture's numbers are the CSV's, offset 1).
func shiftRows(want []reconcile.Local, offset int) []reconcile.Local {
	out := make([]reconcile.Local, len(want))
	for i, l := range want {
		l.Row += offset - 1
		if e, ok := l.Invalid.(*store.RowError); ok {
			e2 := *e
			e2.Row = l.Row
			l.Invalid = &e2
		}
		out[i] = l
	}
	return out
}

// ignoreFile compares RowErrors by everything but the file name, which
// differs from one source kind to another.
var ignoreFile = cmpopts.IgnoreFields(store.RowError{}, "File")

// TestSource_Conformance runs the same checks against every kind of source
// built from the same fixture.
func TestSource_Conformance(t *testing.T) {
	for _, k := range sourceKinds {
		t.Run(k.name, func(t *testing.T) {
			t.Run("Rows", func(t *testing.T) {
				src := k.open(t)
				got := MustCollect(t, src)
				want := shiftRows(conformanceWant(), k.rowOffset)
				if diff := cmp.Diff(want, got, ignoreFile); diff != "" {
					t.Fatalf("rows (-want +got):\n%s", diff)
				}
				for _, l := range got {
					if l.Invalid == nil {
						continue
					}
					var re *store.RowError
					if !errors.As(l.Invalid, &re) {
						t.Fatalf("row %d: Invalid is %T, want *store.RowError", l.Row, l.Invalid)
					}
					msg := l.Invalid.Error()
					if strings.ContainsAny(msg, "\r\n") || len(msg) > 250 {
						t.Errorf("row %d: message is not one short line: %q", l.Row, msg)
					}
					if prefix := fmt.Sprintf("%s: row %d", re.File, l.Row); !strings.HasPrefix(msg, prefix) {
						t.Errorf("message %q does not start with %q", msg, prefix)
					}
				}
			})

			t.Run("Again", func(t *testing.T) {
				src := k.open(t)
				first, second := MustCollect(t, src), MustCollect(t, src)
				if diff := cmp.Diff(first, second); diff != "" {
					t.Fatalf("second Each differs (-first +second):\n%s", diff)
				}
			})

			t.Run("Concurrent", func(t *testing.T) {
				src := k.open(t)
				want := MustCollect(t, src)
				var wg sync.WaitGroup
				got := make([][]reconcile.Local, 4)
				errs := make([]error, len(got))
				for i := range got {
					wg.Go(func() { got[i], errs[i] = collect(src) })
				}
				wg.Wait()
				for i := range got {
					if errs[i] != nil {
						t.Fatal(errs[i])
					}
					if diff := cmp.Diff(want, got[i]); diff != "" {
						t.Fatalf("goroutine %d (-want +got):\n%s", i, diff)
					}
				}
			})

			t.Run("FnError", func(t *testing.T) {
				src := k.open(t)
				errStop := errors.New("stop")
				calls := 0
				err := src.Each(context.Background(), func(reconcile.Local) error {
					calls++
					if calls == 3 {
						return errStop
					}
					return nil
				})
				if !errors.Is(err, errStop) {
					t.Fatalf("Each()=%v, want %v", err, errStop)
				}
				if got, want := calls, 3; got != want {
					t.Fatalf("fn called %d times, want %d", got, want)
				}
			})

			t.Run("Canceled", func(t *testing.T) {
				src := k.open(t)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				calls := 0
				err := src.Each(ctx, func(reconcile.Local) error {
					calls++
					if calls == 2 {
						cancel()
					}
					return nil
				})
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("Each()=%v, want %v", err, context.Canceled)
				}
				if got, want := calls, 2; got != want {
					t.Fatalf("fn called %d times, want %d", got, want)
				}
			})

			t.Run("Missing", func(t *testing.T) {
				src := k.open(t).(interface{ Missing() []string })
				if got := src.Missing(); len(got) != 0 {
					t.Fatalf("Missing()=%q, want none", got)
				}
			})
		})
	}
}
