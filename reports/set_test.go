package reports_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
	"github.com/unico-reconcile/unico-reconcile/reports"
)

var finalNames = []string{reports.CSVName, reports.JSONLName, reports.SummaryName}

// MustCreate starts a set in dir and writes ds to it.
func MustCreate(tb testing.TB, dir string, ds ...reconcile.Discrepancy) *reports.Set {
	tb.Helper()
	set, err := reports.Create(dir)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { set.Abort() })
	for _, d := range ds {
		if err := set.Write(d); err != nil {
			tb.Fatal(err)
		}
	}
	return set
}

func TestCreate(t *testing.T) {
	t.Run("MakesFolder", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "out", "20260314T090000Z")
		set := MustCreate(t, dir)
		if got, want := set.Dir(), dir; got != want {
			t.Fatalf("Dir()=%q, want %q", got, want)
		}
		names := MustReadDir(t, dir)
		if got, want := len(names), 2; got != want {
			t.Fatalf("files %q, want 2 temporary files", names)
		}
		for _, n := range names {
			if !strings.HasPrefix(n, ".discrepancies.") || !strings.Contains(n, ".tmp-") {
				t.Fatalf("file %q is not plainly temporary", n)
			}
		}
	})
	t.Run("ErrFolderIsFile", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "out")
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := reports.Create(path); err == nil {
			t.Fatal("Create on a file: err=nil, want an error")
		}
	})
}

func TestSet_Commit(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		dir := t.TempDir()
		ds := allKinds()
		set := MustCreate(t, dir, ds...)
		if err := set.Commit(summaryOf(ds)); err != nil {
			t.Fatal(err)
		}
		if got := MustReadDir(t, dir); !cmp.Equal(got, finalNames) {
			t.Fatalf("files %q, want exactly %q", got, finalNames)
		}
		// Match and Pending are counted, not listed.
		if got, want := strings.Count(MustReadFile(t, filepath.Join(dir, reports.JSONLName)), "\n"), len(ds)-2; got != want {
			t.Fatalf("%d lines, want %d", got, want)
		}
	})

	t.Run("RemovesACrashedRunsTemporaryFiles", func(t *testing.T) {
		dir := t.TempDir()
		// What a run killed with SIGKILL leaves: two parts and a summary
		// being written, plus a file of the user's that must stay.
		for _, name := range []string{".discrepancies.csv.tmp-123", ".discrepancies.jsonl.tmp-456", ".summary.json.tmp-789", "notes.txt"} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte("half"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		set := MustCreate(t, dir)
		if err := set.Commit(summaryOf(nil)); err != nil {
			t.Fatal(err)
		}
		if got, want := MustReadDir(t, dir), append(slices.Clone(finalNames), "notes.txt"); !cmp.Equal(got, want, cmpopts.SortSlices(func(a, b string) bool { return a < b })) {
			t.Fatalf("files %q, want %q", got, want)
		}
	})

	t.Run("ReplacesEarlierSet", func(t *testing.T) {
		dir := t.TempDir()
		old := MustCreate(t, dir, allKinds()...)
		if err := old.Commit(summaryOf(allKinds())); err != nil {
			t.Fatal(err)
		}
		set := MustCreate(t, dir)
		if err := set.Commit(summaryOf(nil)); err != nil {
			t.Fatal(err)
		}
		if got, want := MustReadFile(t, filepath.Join(dir, reports.CSVName)), header; got != want {
			t.Fatalf("csv %q, want %q", got, want)
		}
		if got := MustReadDir(t, dir); !cmp.Equal(got, finalNames) {
			t.Fatalf("files %q, want exactly %q", got, finalNames)
		}
	})

	t.Run("ErrRename", func(t *testing.T) {
		dir := t.TempDir()
		// A folder that is not empty cannot be replaced by a file.
		if err := os.MkdirAll(filepath.Join(dir, reports.JSONLName, "x"), 0o755); err != nil {
			t.Fatal(err)
		}
		set := MustCreate(t, dir, allKinds()...)
		if err := set.Commit(summaryOf(allKinds())); err == nil {
			t.Fatal("Commit: err=nil, want an error")
		}
		// No temporary file is left and, without summary.json, the set is
		// marked incomplete.
		if got, want := MustReadDir(t, dir), []string{reports.CSVName, reports.JSONLName}; !cmp.Equal(got, want) {
			t.Fatalf("files %q, want %q", got, want)
		}
		if err := set.Abort(); err != nil {
			t.Fatalf("Abort after a failed Commit: %v", err)
		}
	})

	t.Run("ErrClosed", func(t *testing.T) {
		set := MustCreate(t, t.TempDir())
		if err := set.Commit(summaryOf(nil)); err != nil {
			t.Fatal(err)
		}
		if err := set.Commit(summaryOf(nil)); !errors.Is(err, reports.ErrClosed) {
			t.Fatalf("second Commit: err=%v, want %v", err, reports.ErrClosed)
		}
		if err := set.Write(allKinds()[0]); !errors.Is(err, reports.ErrClosed) {
			t.Fatalf("Write after Commit: err=%v, want %v", err, reports.ErrClosed)
		}
	})
}

func TestSet_Abort(t *testing.T) {
	t.Run("LeavesNoFile", func(t *testing.T) {
		dir := t.TempDir()
		set := MustCreate(t, dir, allKinds()...)
		if err := set.Abort(); err != nil {
			t.Fatal(err)
		}
		if got := MustReadDir(t, dir); len(got) != 0 {
			t.Fatalf("files %q, want none", got)
		}
		if err := set.Abort(); err != nil {
			t.Fatalf("second Abort: %v", err)
		}
		if err := set.Commit(summaryOf(nil)); !errors.Is(err, reports.ErrClosed) {
			t.Fatalf("Commit after Abort: err=%v, want %v", err, reports.ErrClosed)
		}
	})

	t.Run("AfterCommitIsNoOp", func(t *testing.T) {
		dir := t.TempDir()
		set := MustCreate(t, dir, allKinds()...)
		if err := set.Commit(summaryOf(allKinds())); err != nil {
			t.Fatal(err)
		}
		if err := set.Abort(); err != nil {
			t.Fatal(err)
		}
		if got := MustReadDir(t, dir); !cmp.Equal(got, finalNames) {
			t.Fatalf("files %q, want exactly %q", got, finalNames)
		}
	})
}

// TestSet_Interrupted stands for a crash or a kill: the set is written to
// but never committed nor aborted. No report exists under a final name.
func TestSet_Interrupted(t *testing.T) {
	dir := t.TempDir()
	MustCreate(t, dir, allKinds()...)
	for _, n := range MustReadDir(t, dir) {
		for _, f := range finalNames {
			if n == f {
				t.Fatalf("%s exists before Commit", n)
			}
		}
	}
}

func TestSet_Write(t *testing.T) {
	t.Run("IgnoresUnlisted", func(t *testing.T) {
		dir := t.TempDir()
		set := MustCreate(t, dir,
			reconcile.Discrepancy{Kind: reconcile.Match, Local: reconcile.Local{Row: 2, ProcessID: idA}},
			reconcile.Discrepancy{Kind: reconcile.Pending, Local: reconcile.Local{Row: 3, ProcessID: idB}},
		)
		if err := set.Commit(summaryOf(nil)); err != nil {
			t.Fatal(err)
		}
		if got, want := MustReadFile(t, filepath.Join(dir, reports.CSVName)), header; got != want {
			t.Fatalf("csv %q, want %q", got, want)
		}
		if got, want := MustReadFile(t, filepath.Join(dir, reports.JSONLName)), ""; got != want {
			t.Fatalf("jsonl %q, want %q", got, want)
		}
	})

	t.Run("ErrWrite", func(t *testing.T) {
		dir := t.TempDir()
		set := MustCreate(t, dir, allKinds()[0])
		reports.BreakCSV(set, errDiskFull)
		if err := set.Write(allKinds()[2]); !errors.Is(err, errDiskFull) {
			t.Fatalf("Write: err=%v, want %v", err, errDiskFull)
		}
		// The error sticks: a set with a missing row must not look complete.
		if err := set.Write(allKinds()[3]); !errors.Is(err, errDiskFull) {
			t.Fatalf("second Write: err=%v, want %v", err, errDiskFull)
		}
		if err := set.Commit(summaryOf(allKinds())); !errors.Is(err, errDiskFull) {
			t.Fatalf("Commit: err=%v, want %v", err, errDiskFull)
		}
		if got := MustReadDir(t, dir); len(got) != 0 {
			t.Fatalf("files %q, want none", got)
		}
	})
}
