package reports_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
	"github.com/unico-reconcile/unico-reconcile/reports"
)

// testMeta is the fixtures' run description beyond summary.json.
var testMeta = reports.Meta{
	User: "auditor", Host: "batch1", SourceSHA256: "408aecba0e2e636c124f3e76c24d8b4750b54e1254656680e04ab726f476e73b",
	Environment: "custom", Since: "2026-03-13T00:00:00Z",
}

// TestGolden streams each case through a Set, commits it with its page and
// compares the four report files and the text summary with testdata/reports/<case>/.
// Run go test -update to rewrite them, then review the diff.
func TestGolden(t *testing.T) {
	for _, tt := range []struct {
		name        string
		ds          []reconcile.Discrepancy
		interrupted bool
		recheck     bool
	}{
		{"all_kinds", allKinds(), false, false},
		{"no_discrepancies", []reconcile.Discrepancy{
			{Kind: reconcile.Match, Local: reconcile.Local{Row: 2, ProcessID: idB}, HTTPStatus: 200, Attempts: 1},
			{Kind: reconcile.Pending, Local: reconcile.Local{Row: 3, ProcessID: idG}, HTTPStatus: 200, Attempts: 2},
		}, false, false},
		{"empty_source", nil, false, false},
		// Stopped by a signal after two rows: the rest counted as unverified.
		{"interrupted", []reconcile.Discrepancy{
			allKinds()[0],
			{Kind: reconcile.Match, Local: reconcile.Local{Row: 3, ProcessID: idB}, HTTPStatus: 200, Attempts: 1},
			{Kind: reconcile.Unverified, Local: reconcile.Local{Row: 4, ProcessID: idC}, Detail: "run interrupted before this process was fetched"},
		}, true, false},
		// Hostile values from the outside, through the verdicts' own
		// constructors: every report shows them capped and printable.
		{"hostile_values", hostileValues(), false, false},
		// A re-check that carried two answers over and recovered one of two.
		{"recheck", []reconcile.Discrepancy{
			allKinds()[0],
			{Kind: reconcile.Match, Local: reconcile.Local{Row: 3, ProcessID: idB}, HTTPStatus: 200, Attempts: 1},
		}, false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			set, err := reports.Create(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer set.Abort()
			for _, d := range tt.ds {
				if err := set.Write(d); err != nil {
					t.Fatal(err)
				}
			}
			sum := summaryOf(tt.ds)
			if tt.interrupted {
				sum.Interrupted = true
				sum.ExitCode = sum.Code()
			}
			if tt.recheck {
				sum.Reused, sum.RecheckOf, sum.Rechecked, sum.Recovered = 2, "20260102T030405Z-abcdef", 2, 1
			}
			var summary bytes.Buffer
			if err := reports.WriteSummary(&summary, sum); err != nil {
				t.Fatal(err)
			}
			if err := set.CommitReport(summary.Bytes(), testMeta); err != nil {
				t.Fatal(err)
			}

			golden := filepath.Join("..", "testdata", "reports", tt.name)
			for _, name := range []string{reports.CSVName, reports.JSONLName, reports.SummaryName, reports.HTMLName} {
				got, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				MustGolden(t, filepath.Join(golden, name), got)
			}
			var text bytes.Buffer
			if err := reports.WriteText(&text, sum, "out/demo"); err != nil {
				t.Fatal(err)
			}
			MustGolden(t, filepath.Join(golden, "summary.txt"), text.Bytes())

			if got, want := MustReadDir(t, dir), []string{reports.CSVName, reports.JSONLName, reports.HTMLName, reports.SummaryName}; !cmp.Equal(got, want) {
				t.Fatalf("files %q, want %q", got, want)
			}
		})
	}
}

// hostileValues is a run whose invalid rows hold what a hostile or broken source
// may: a 1 MiB process_id, NUL and control bytes, invalid UTF-8, HTML; and
// whose API answer holds values that would split the fields column. The
// verdicts are made as the pipeline makes them (reconcile.Invalid, Compare).
func hostileValues() []reconcile.Discrepancy {
	bad := func(row int, id string) reconcile.Discrepancy {
		return reconcile.Invalid(reconcile.Local{Row: row, ProcessID: id,
			Invalid: errors.New("saved.csv: row " + strconv.Itoa(row) + ", column process_id: is not a UUID")})
	}
	l := reconcile.Local{Row: 7, ProcessID: idA, Outcome: reconcile.Outcome{
		Status: reconcile.StatusFinished, UnicoID: "yes", IdentityFraudsters: "yes"}}
	r := reconcile.Result{Remote: &reconcile.Remote{ID: idA, Outcome: reconcile.Outcome{
		Status: reconcile.StatusFinished, UnicoID: "no;liveness=1->2", IdentityFraudsters: "\"x\"\x00</td>"}},
		HTTPStatus: 200, FetchedAt: t0, Attempts: 1}
	return []reconcile.Discrepancy{
		bad(2, strings.Repeat("9", 1<<20)),
		bad(3, "ab\x00cd"),
		bad(4, "\x1b[2J\r\n=cmd|' /C calc'!A0"),
		bad(5, "caf\xe9\xff"),
		bad(6, "<script>alert(1)</script>"),
		reconcile.Compare(l, r, t0, time.Hour),
	}
}
