package reports_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
	"github.com/unico-reconcile/unico-reconcile/reports"
	"github.com/unico-reconcile/unico-reconcile/store"
)

// repairFixture is what a repair of lost responses selects: a full remote
// answer, a 410, negative numbers, and hostile text from the API.
func repairFixture() []reconcile.Discrepancy {
	saved := time.Date(2026, 3, 13, 18, 30, 15, 250_000_000, brt)
	lost := func(id string, local reconcile.Outcome, savedAt time.Time, r reconcile.Remote) reconcile.Discrepancy {
		r.ID = id
		return reconcile.Discrepancy{Kind: reconcile.LostResponse, Local: reconcile.Local{Row: 2, ProcessID: id, Outcome: local, SavedAt: savedAt},
			Remote: &r, HTTPStatus: 200, FetchedAt: t0}
	}
	return []reconcile.Discrepancy{
		lost(idA, reconcile.Outcome{Status: reconcile.StatusProcessing}, saved, reconcile.Remote{Outcome: reconcile.Outcome{
			Status: reconcile.StatusFinished, UnicoID: "yes", IdentityFraudsters: "inconclusive", Serpro: intp(87), Liveness: intp(1), Score: floatp(95)}}),
		lost(idC, reconcile.Outcome{}, time.Time{}, reconcile.Remote{Gone: true}),
		lost(idD, reconcile.Outcome{Status: reconcile.StatusProcessing, UnicoID: "inconclusive"}, time.Date(2026, 3, 14, 1, 2, 3, 4, time.UTC),
			reconcile.Remote{Outcome: reconcile.Outcome{Status: reconcile.StatusCancelled, UnicoID: "no", Serpro: intp(-1), Liveness: intp(2), Score: floatp(-100)}}),
		lost(idE, reconcile.Outcome{}, saved, reconcile.Remote{Outcome: reconcile.Outcome{
			Status: reconcile.StatusFinished, UnicoID: "=1+1", IdentityFraudsters: "a;b \"quoted\",\nnext line"}}),
	}
}

// conflictsFixture is two rows changed since the run: by another writer
// with the right result, and with a hostile value.
func conflictsFixture() []reports.Conflict {
	return []reports.Conflict{
		{ProcessID: idF, Seen: reconcile.Outcome{Status: reconcile.StatusProcessing},
			Now:    reconcile.Outcome{Status: reconcile.StatusFinished, UnicoID: "yes", Serpro: intp(-2)},
			Remote: reconcile.Outcome{Status: reconcile.StatusFinished, UnicoID: "no", Serpro: intp(50), Liveness: intp(1), Score: floatp(-3)}},
		{ProcessID: idG, Seen: reconcile.Outcome{},
			Now:    reconcile.Outcome{Status: reconcile.StatusDivergence, UnicoID: "=HYPERLINK(\"http://x\")", IdentityFraudsters: "+cmd"},
			Remote: reconcile.Outcome{Status: reconcile.StatusError}},
	}
}

// repairSummary is repair.json's fixture: a run repaired with conflicts.
var repairSummary = reports.RepairSummary{
	RepairID: "20260315T060000Z-abcdef", RunID: "20260314T090000Z-a1b2c3", Version: "v1.2.3",
	StartedAt: time.Date(2026, 3, 15, 3, 0, 0, 0, brt), FinishedAt: time.Date(2026, 3, 15, 6, 0, 1, 500_000_000, time.UTC),
	Kinds:  []reconcile.Kind{reconcile.LostResponse},
	Target: "postgres://app:s3cret@db.internal/app", Table: "processes", Applied: true, ExitCode: 1,
	Counts: reports.RepairCounts{Selected: 6, Changed: 3, Done: 1, Conflicts: 2, Missing: 0},
}

// MustRepairFolder writes a repair's folder, as the repair command does:
// each file atomically, manifest.json last; conflicts.csv only when there
// are conflicts.
func MustRepairFolder(tb testing.TB, ds []reconcile.Discrepancy, cs []reports.Conflict, s reports.RepairSummary) string {
	tb.Helper()
	dir := tb.TempDir()
	write := func(name string, fn func(io.Writer) error) {
		tb.Helper()
		if err := reports.WriteAtomic(filepath.Join(dir, name), fn); err != nil {
			tb.Fatal(err)
		}
	}
	write(reports.RepairsName, func(w io.Writer) error {
		cw, err := reports.NewRepairsCSVWriter(w)
		if err != nil {
			return err
		}
		for _, d := range ds {
			if err := cw.Write(d); err != nil {
				return err
			}
		}
		return cw.Close()
	})
	files := reports.RepairFiles
	if len(cs) > 0 {
		write(reports.ConflictsName, func(w io.Writer) error {
			cw, err := reports.NewConflictsCSVWriter(w)
			if err != nil {
				return err
			}
			for _, c := range cs {
				if err := cw.Write(c); err != nil {
					return err
				}
			}
			return cw.Close()
		})
		files = append(files, reports.ConflictsName)
	}
	write(reports.RepairName, func(w io.Writer) error { return reports.WriteRepairJSON(w, s) })
	hashed, err := reports.HashFiles(dir, files)
	if err != nil {
		tb.Fatal(err)
	}
	prev := strings.Repeat("1f", 32)
	b, err := reports.EncodeManifest(reports.Manifest{Kind: reports.KindRepair, RunID: s.RunID, RepairID: s.RepairID,
		Parameters: []byte(`{"kinds":["lost_response"],"table":"processes"}`), Files: hashed, Previous: &prev})
	if err != nil {
		tb.Fatal(err)
	}
	if err := reports.WriteManifest(dir, b); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// TestRepair_Golden writes a repair's folder and compares its files with
// testdata/reports/repair/; Verify accepts the folder.
func TestRepair_Golden(t *testing.T) {
	dir := MustRepairFolder(t, repairFixture(), conflictsFixture(), repairSummary)
	golden := filepath.Join("..", "testdata", "reports", "repair")
	for _, name := range []string{reports.RepairsName, reports.ConflictsName, reports.RepairName, reports.ManifestName} {
		MustGolden(t, filepath.Join(golden, name), []byte(MustReadFile(t, filepath.Join(dir, name))))
	}
	if strings.Contains(MustReadFile(t, filepath.Join(dir, reports.RepairName)), "s3cret") {
		t.Error("repair.json holds the target's password")
	}
	m, _, err := reports.Verify(dir)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if m.Kind != reports.KindRepair || m.RepairID != repairSummary.RepairID || m.RunID != repairSummary.RunID {
		t.Errorf("manifest kind %q, repair %q, run %q", m.Kind, m.RepairID, m.RunID)
	}
}

// readSource reads a CSV file through the project's own CSV source, as a
// run over repairs.csv would.
func readSource(t *testing.T, path string) []reconcile.Local {
	t.Helper()
	src, err := store.OpenCSV(path)
	if err != nil {
		t.Fatalf("OpenCSV(%s): %v", path, err)
	}
	defer src.Close()
	if m := src.Missing(); len(m) > 0 {
		t.Errorf("the CSV source misses columns %v", m)
	}
	var ls []reconcile.Local
	if err := src.Each(context.Background(), func(l reconcile.Local) error { ls = append(ls, l); return nil }); err != nil {
		t.Fatalf("Each: %v", err)
	}
	return ls
}

// TestRepairsCSV_RoundTrip writes remote outcomes to repairs.csv and reads
// them back through the CSV source: valid values come back as the API gave
// them, saved_at as the same instant; values the contract does not allow
// (hostile text, a fraction) come back byte for byte in the row's error,
// and never shift a row boundary.
func TestRepairsCSV_RoundTrip(t *testing.T) {
	sp := time.FixedZone("", -3*3600)
	type column struct{ name, value string }
	for _, tt := range []struct {
		name    string
		remote  reconcile.Remote
		savedAt time.Time
		want    reconcile.Outcome // when the row is valid
		invalid *column           // else the column and its exact value
	}{
		{name: "Full", remote: reconcile.Remote{Outcome: reconcile.Outcome{Status: 3, UnicoID: "yes", IdentityFraudsters: "yes",
			Serpro: intp(100), Liveness: intp(1), Score: floatp(100)}},
			savedAt: time.Date(2026, 3, 13, 18, 30, 15, 123456789, sp),
			want:    reconcile.Outcome{Status: 3, UnicoID: "yes", IdentityFraudsters: "yes", Serpro: intp(100), Liveness: intp(1), Score: floatp(100)}},
		{name: "Negative", remote: reconcile.Remote{Outcome: reconcile.Outcome{Status: 4, UnicoID: "no", Serpro: intp(-2), Liveness: intp(2), Score: floatp(-100)}},
			want: reconcile.Outcome{Status: 4, UnicoID: "no", Serpro: intp(-2), Liveness: intp(2), Score: floatp(-100)}},
		{name: "Zeros", remote: reconcile.Remote{Outcome: reconcile.Outcome{Status: 3, UnicoID: "inconclusive", Serpro: intp(0), Score: floatp(0)}},
			savedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
			want:    reconcile.Outcome{Status: 3, UnicoID: "inconclusive", Serpro: intp(0), Score: floatp(0)}},
		{name: "Gone", remote: reconcile.Remote{Outcome: reconcile.Outcome{Status: 1}, Gone: true}, want: reconcile.Outcome{Status: 5}},
		{name: "HugeScore", remote: reconcile.Remote{Outcome: reconcile.Outcome{Status: 3, Score: floatp(1e21)}},
			want: reconcile.Outcome{Status: 3, Score: floatp(1e21)}},
		{name: "Formula", remote: reconcile.Remote{Outcome: reconcile.Outcome{Status: 3, UnicoID: "=1+1"}},
			invalid: &column{"unico_id_result", "=1+1"}},
		{name: "QuotesAndSemicolons", remote: reconcile.Remote{Outcome: reconcile.Outcome{Status: 3, UnicoID: `a;"b";c,d`}},
			invalid: &column{"unico_id_result", `a;"b";c,d`}},
		{name: "Newlines", remote: reconcile.Remote{Outcome: reconcile.Outcome{Status: 3, IdentityFraudsters: "line\nnext\rlast\r"}},
			invalid: &column{"identity_fraudsters_result", "line\nnext\rlast\r"}},
		// The one loss: Go's CSV reader drops the CR of a CR LF inside a
		// quoted value (encoding/csv documents it). Such a value holds
		// control bytes: it is never a valid input either way.
		{name: "CRLF", remote: reconcile.Remote{Outcome: reconcile.Outcome{Status: 3, UnicoID: "a\r\nb"}},
			invalid: &column{"unico_id_result", "a\nb"}},
		{name: "Spaces", remote: reconcile.Remote{Outcome: reconcile.Outcome{Status: 3, IdentityFraudsters: " @SUM(A1) "}},
			invalid: &column{"identity_fraudsters_result", " @SUM(A1) "}},
		{name: "Fraction", remote: reconcile.Remote{Outcome: reconcile.Outcome{Status: 3, Score: floatp(87.5)}},
			invalid: &column{"score", "87.5"}},
		{name: "Tiny", remote: reconcile.Remote{Outcome: reconcile.Outcome{Status: 3, Score: floatp(1e-7)}},
			invalid: &column{"score", "0.0000001"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// The row under test between two plain ones: its boundaries hold.
			plain := reconcile.Remote{Outcome: reconcile.Outcome{Status: 3, UnicoID: "yes"}}
			ds := []reconcile.Discrepancy{
				{Kind: reconcile.LostResponse, Local: reconcile.Local{ProcessID: idA}, Remote: &plain},
				{Kind: reconcile.LostResponse, Local: reconcile.Local{ProcessID: idB, SavedAt: tt.savedAt}, Remote: &tt.remote},
				{Kind: reconcile.LostResponse, Local: reconcile.Local{ProcessID: idC}, Remote: &plain},
			}
			path := filepath.Join(t.TempDir(), reports.RepairsName)
			if err := reports.WriteAtomic(path, func(w io.Writer) error {
				cw, err := reports.NewRepairsCSVWriter(w)
				if err != nil {
					return err
				}
				for _, d := range ds {
					if err := cw.Write(d); err != nil {
						return err
					}
				}
				return cw.Close()
			}); err != nil {
				t.Fatal(err)
			}
			ls := readSource(t, path)
			if len(ls) != 3 {
				t.Fatalf("read %d rows back, want 3", len(ls))
			}
			for i, id := range []string{idA, idC} {
				l := ls[2*i]
				if l.Invalid != nil || l.ProcessID != id || l.Status != 3 || l.UnicoID != "yes" {
					t.Errorf("plain row %d read back as %+v", 2*i+2, l)
				}
			}
			l := ls[1]
			if l.ProcessID != idB || l.Row != 3 {
				t.Errorf("row read back as row %d, id %q; want 3, %s", l.Row, l.ProcessID, idB)
			}
			if tt.invalid == nil {
				if l.Invalid != nil {
					t.Fatalf("row read back invalid: %v", l.Invalid)
				}
				if diff := cmp.Diff(tt.want, l.Outcome); diff != "" {
					t.Errorf("outcome read back (-want +got):\n%s", diff)
				}
				if !l.SavedAt.Equal(tt.savedAt) {
					t.Errorf("saved_at read back %v, want %v", l.SavedAt, tt.savedAt)
				}
				return
			}
			var re *store.RowError
			if !errors.As(l.Invalid, &re) {
				t.Fatalf("row read back with %v, want a *store.RowError", l.Invalid)
			}
			if re.Column != tt.invalid.name || re.Value != tt.invalid.value {
				t.Errorf("row error names column %s value %q, want %s %q", re.Column, re.Value, tt.invalid.name, tt.invalid.value)
			}
		})
	}
}

func TestRepairsCSV_Errors(t *testing.T) {
	for _, tt := range []struct {
		name string
		d    reconcile.Discrepancy
		want string
	}{
		{"NoRemote", reconcile.Discrepancy{Kind: reconcile.Unverified, Local: reconcile.Local{ProcessID: idA}}, "process " + idA + " has no remote outcome"},
		{"NaN", reconcile.Discrepancy{Local: reconcile.Local{ProcessID: idB},
			Remote: &reconcile.Remote{Outcome: reconcile.Outcome{Status: 3, Score: floatp(math.NaN())}}}, "process " + idB + ": score NaN"},
		{"Inf", reconcile.Discrepancy{Local: reconcile.Local{ProcessID: idC},
			Remote: &reconcile.Remote{Outcome: reconcile.Outcome{Status: 3, Score: floatp(math.Inf(-1))}}}, "process " + idC + ": score -Inf"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			cw, err := reports.NewRepairsCSVWriter(&b)
			if err != nil {
				t.Fatal(err)
			}
			err = cw.Write(tt.d)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Write: %v, want an error with %q", err, tt.want)
			}
			if err := cw.Close(); err != nil {
				t.Fatal(err)
			}
			if got, want := b.String(), "process_id,status,unico_id_result,identity_fraudsters_result,serpro_score,liveness,score,saved_at\n"; got != want {
				t.Errorf("file after a failed Write = %q, want the header only", got)
			}
		})
	}
	var b bytes.Buffer
	cw, err := reports.NewConflictsCSVWriter(&b)
	if err != nil {
		t.Fatal(err)
	}
	if err := cw.Write(reports.Conflict{ProcessID: idD, Now: reconcile.Outcome{Score: floatp(math.NaN())}}); err == nil ||
		!strings.Contains(err.Error(), "conflicts.csv: process "+idD) {
		t.Errorf("conflicts Write of NaN: %v", err)
	}
}

func TestWriteRepairJSON(t *testing.T) {
	for _, tt := range []struct {
		name string
		s    reports.RepairSummary
		want []string // lines the file holds
	}{
		{"Applied", repairSummary, []string{`"target": "postgres://xxxxx@db.internal/app",`, `"table": "processes",`,
			`"applied": true,`, `"dry_run": false,`, `"started_at": "2026-03-15T06:00:00Z",`}},
		{"DryRun", reports.RepairSummary{RepairID: "r", RunID: "x", Target: "sqlite:/data/outcomes.db", Table: "processes"},
			[]string{`"target": "sqlite:/data/outcomes.db",`, `"applied": false,`, `"dry_run": true,`, `"started_at": null,`, `"kinds": [],`}},
		{"CSVOnly", reports.RepairSummary{RepairID: "r", RunID: "x", Table: "ignored without a target",
			Kinds: []reconcile.Kind{reconcile.LostResponse, reconcile.ResultMismatch}},
			[]string{`"target": null,`, `"table": null,`, `"applied": false,`, `"dry_run": false,`, `"result_mismatch"`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := reports.WriteRepairJSON(&b, tt.s); err != nil {
				t.Fatal(err)
			}
			for _, line := range tt.want {
				if !strings.Contains(b.String(), line) {
					t.Errorf("repair.json lacks %s:\n%s", line, b.String())
				}
			}
			got, err := reports.ReadRepairJSON(bytes.NewReader(b.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			want := tt.s
			if want.Target == "" {
				want.Table = ""
			}
			if want.Kinds == nil {
				want.Kinds = []reconcile.Kind{}
			}
			want.Target = strings.Replace(want.Target, "app:s3cret@", "xxxxx@", 1)
			if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
				t.Errorf("ReadRepairJSON(WriteRepairJSON(s)) (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := reports.ReadRepairJSON(strings.NewReader(`{"repair_id":"r","password":"x"}`)); err == nil {
		t.Error("ReadRepairJSON with an unknown key: no error")
	}
}

// TestVerify_Repair changes a repair's folder in the ways an auditor must
// catch.
func TestVerify_Repair(t *testing.T) {
	for _, tt := range []struct {
		name      string
		conflicts []reports.Conflict
		change    func(t *testing.T, dir string)
		want      []string
	}{
		{"OK", conflictsFixture(), func(*testing.T, string) {}, nil},
		{"NoConflicts", nil, func(*testing.T, string) {}, nil},
		{"ChangedRepairs", nil, func(t *testing.T, dir string) {
			flipByte(t, filepath.Join(dir, reports.RepairsName), 120)
		}, []string{"repairs.csv: changed: sha256"}},
		{"ConflictsRemoved", conflictsFixture(), func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, reports.ConflictsName))
		}, []string{"conflicts.csv: missing"}},
		{"ConflictsAdded", nil, func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, reports.ConflictsName), []byte("process_id\n"), 0o600)
		}, []string{"conflicts.csv: not in the manifest"}},
		{"RepairJSONLeftOut", nil, func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, reports.RepairName))
			rewriteManifest(t, dir, func(m *reports.Manifest) {
				m.Files = []reports.File{m.Files[1]} // repair.json sorts first
			})
		}, []string{"manifest.json: does not list repair.json"}},
		{"NoRepairID", nil, func(t *testing.T, dir string) {
			rewriteManifest(t, dir, func(m *reports.Manifest) { m.RepairID = "" })
		}, []string{"manifest.json: a repair's manifest must name its repair_id"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := MustRepairFolder(t, repairFixture(), tt.conflicts, repairSummary)
			tt.change(t, dir)
			_, _, err := reports.Verify(dir)
			var got []string
			var ve *reports.VerifyError
			if errors.As(err, &ve) {
				for _, p := range ve.Problems {
					got = append(got, p.String())
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("Verify found %q, want %q", got, tt.want)
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tt.want[i]) {
					t.Errorf("problem %d = %q, want %q...", i, got[i], tt.want[i])
				}
			}
		})
	}
}
