package reports_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
	"github.com/unico-reconcile/unico-reconcile/reports"
)

// MustShardSets writes the reports of ds as n shards would have: each
// discrepancy in the shard that owns its row, each folder committed with
// its page (testMeta) and sealed with a run's manifest. It returns the
// shards' folders, in shard order.
func MustShardSets(tb testing.TB, ds []reconcile.Discrepancy, n int) []string {
	tb.Helper()
	return MustShardSetsWith(tb, ds, n, nil)
}

// MustShardSetsWith is MustShardSets with edit called on each shard's
// summary and page description before they are written.
func MustShardSetsWith(tb testing.TB, ds []reconcile.Discrepancy, n int, edit func(i int, sum *reconcile.Summary, m *reports.Meta)) []string {
	tb.Helper()
	var dirs []string
	for i := range n {
		sh := reconcile.Shard{Index: i, Count: n}
		var mine []reconcile.Discrepancy
		for _, d := range ds {
			if sh.Owns(d.Local) {
				mine = append(mine, d)
			}
		}
		dir := filepath.Join(tb.TempDir(), fmt.Sprint("shard", i))
		set := MustCreate(tb, dir, mine...)
		sum, meta := summaryOf(mine), testMeta
		sum.RunID, sum.Shard, sum.Rate, sum.Workers = fmt.Sprint("run-", i), sh, 2.5, 4
		if edit != nil {
			edit(i, &sum, &meta)
		}
		var summary bytes.Buffer
		if err := reports.WriteSummary(&summary, sum); err != nil {
			tb.Fatal(err)
		}
		if err := set.CommitReport(summary.Bytes(), meta); err != nil {
			tb.Fatal(err)
		}
		params, err := json.Marshal(map[string]string{"since": meta.Since, "until": meta.Until, "shard": sh.String(),
			"source_sha256": meta.SourceSHA256})
		if err != nil {
			tb.Fatal(err)
		}
		files, err := reports.HashFiles(dir, reports.RunFiles)
		if err != nil {
			tb.Fatal(err)
		}
		b, err := reports.EncodeManifest(reports.Manifest{Kind: reports.KindRun, RunID: sum.RunID, Parameters: params, Files: files})
		if err != nil {
			tb.Fatal(err)
		}
		if err := reports.WriteManifest(dir, b); err != nil {
			tb.Fatal(err)
		}
		dirs = append(dirs, dir)
	}
	return dirs
}

// mergeOpts are the merges' options: who merges, and an environment that
// shows which API root it was asked about.
var mergeOpts = reports.MergeOptions{
	RunID: "merged-run", User: "merger", Host: "batch2",
	Environment: func(root string) string { return "env of " + root },
}

// mergedMeta is what the merged page should say beyond summary.json: the
// merger, and the shards' window and source SHA-256 (testMeta's).
var mergedMeta = reports.Meta{
	User: "merger", Host: "batch2", SourceSHA256: testMeta.SourceSHA256,
	Environment: "env of http://127.0.0.1:8080", Since: testMeta.Since, Until: testMeta.Until,
}

// MustMerge merges dirs into a new folder and returns it.
func MustMerge(tb testing.TB, dirs []string, o reports.MergeOptions) (string, reconcile.Summary) {
	tb.Helper()
	out := filepath.Join(tb.TempDir(), "merged")
	sum, err := reports.Merge(out, dirs, o)
	if err != nil {
		tb.Fatal(err)
	}
	return out, sum
}

// MustWholePage writes ds through one unsharded Set committed with
// summary.json's bytes and m, and returns its report.html.
func MustWholePage(tb testing.TB, ds []reconcile.Discrepancy, summary []byte, m reports.Meta) string {
	tb.Helper()
	whole := tb.TempDir()
	set := MustCreate(tb, whole, ds...)
	if err := set.CommitReport(summary, m); err != nil {
		tb.Fatal(err)
	}
	return MustReadFile(tb, filepath.Join(whole, reports.HTMLName))
}

// TestMerge: four shards merged, given in any order, are byte for byte
// the reports of one run (report.html included: the page one run's Set
// writes for the same discrepancies and summary.json), the summary adds
// them up, and the folder verifies as a merge outside any chain.
func TestMerge(t *testing.T) {
	ds := allKinds()
	whole := t.TempDir()
	set := MustCreate(t, whole, ds...)
	if err := set.Commit(summaryOf(ds)); err != nil {
		t.Fatal(err)
	}
	dirs := MustShardSets(t, ds, 4)
	out, sum := MustMerge(t, []string{dirs[2], dirs[0], dirs[3], dirs[1]}, mergeOpts)
	for _, name := range []string{reports.CSVName, reports.JSONLName} {
		if diff := cmp.Diff(MustReadFile(t, filepath.Join(whole, name)), MustReadFile(t, filepath.Join(out, name))); diff != "" {
			t.Errorf("%s (-one run +merged):\n%s", name, diff)
		}
	}
	want := summaryOf(ds)
	if got, w := sum.Total, want.Total; got != w {
		t.Errorf("Total=%d, want %d", got, w)
	}
	if diff := cmp.Diff(want.Counts, sum.Counts, cmpNonZero); diff != "" {
		t.Errorf("counts (-one run +merged):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"run-0", "run-1", "run-2", "run-3"}, sum.MergedFrom); diff != "" {
		t.Errorf("MergedFrom (-want +got):\n%s", diff)
	}
	if got, w := sum.Rate, 10.0; got != w {
		t.Errorf("Rate=%v, want the shards' rates added up: %v", got, w)
	}
	if got, w := sum.ExitCode, want.Code(); got != w {
		t.Errorf("ExitCode=%d, want %d", got, w)
	}
	written := MustReadFile(t, filepath.Join(out, reports.SummaryName))
	if !strings.Contains(written, `"merged_from": [`) || strings.Contains(written, `"shard"`) {
		t.Errorf("summary.json lacks merged_from or has a shard:\n%s", written)
	}

	t.Run("Page", func(t *testing.T) {
		wantPage := MustWholePage(t, ds, []byte(written), mergedMeta)
		if diff := cmp.Diff(wantPage, MustReadFile(t, filepath.Join(out, reports.HTMLName))); diff != "" {
			t.Errorf("report.html (-one run's Set +merged):\n%s", diff)
		}
	})
	t.Run("Manifest", func(t *testing.T) {
		m, _, err := reports.Verify(out)
		if err != nil {
			t.Fatalf("Verify(merged)=%v", err)
		}
		if got, w := m.Kind, reports.KindMerge; got != w {
			t.Errorf("Kind=%q, want %q", got, w)
		}
		if m.RunID != "merged-run" || m.Previous != nil {
			t.Errorf("RunID=%q Previous=%v, want merged-run and null: outside the chain", m.RunID, m.Previous)
		}
		var names []string
		for _, f := range m.Files {
			names = append(names, f.Name)
		}
		if diff := cmp.Diff([]string{reports.CSVName, reports.JSONLName, reports.HTMLName, reports.SummaryName}, names); diff != "" {
			t.Errorf("files (-want +got):\n%s", diff)
		}
		var p struct {
			Shards []struct {
				Shard string `json:"shard"`
				RunID string `json:"run_id"`
				Dir   string `json:"dir"`
			} `json:"shards"`
		}
		if err := json.Unmarshal(m.Parameters, &p); err != nil {
			t.Fatal(err)
		}
		for i, s := range p.Shards {
			if s.Shard != fmt.Sprintf("%d/4", i) || s.RunID != fmt.Sprint("run-", i) || s.Dir != dirs[i] {
				t.Errorf("parameters' shard %d = %+v, want %d/4, run-%d, %s", i, s, i, i, dirs[i])
			}
		}
		if got, w := len(p.Shards), 4; got != w {
			t.Errorf("parameters name %d shards, want %d: %s", got, w, m.Parameters)
		}
	})
	t.Run("NoTemporaryFiles", func(t *testing.T) {
		if diff := cmp.Diff([]string{reports.CSVName, reports.JSONLName, reports.ManifestName, reports.HTMLName, reports.SummaryName}, MustReadDir(t, out)); diff != "" {
			t.Errorf("merged folder (-want +got):\n%s", diff)
		}
	})
}

// manyRows is a run with more discrepancies and more unverified processes
// than report.html lists, of every shape the page shows.
func manyRows() []reconcile.Discrepancy {
	var ds []reconcile.Discrepancy
	for i := range 2600 {
		id := fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i)
		d := reconcile.Discrepancy{Local: reconcile.Local{Row: i + 2, ProcessID: id, Outcome: reconcile.Outcome{Status: reconcile.StatusFinished}}, Attempts: 1 + i%3}
		switch i % 5 {
		case 0, 3:
			d.Kind, d.HTTPStatus, d.ErrorCode, d.Detail = reconcile.Unverified, 503, "99999", "gave up after 3 attempts"
		case 1:
			d.Kind, d.HTTPStatus = reconcile.ResultMismatch, 200
			d.Remote = &reconcile.Remote{ID: id, Outcome: reconcile.Outcome{Status: reconcile.StatusFinished, Serpro: intp(12)}}
			d.Fields = []reconcile.FieldDiff{{Name: reconcile.FieldSerpro, Local: "87", Remote: "12"}, {Name: "unicoId.result", Local: "inconclusive"}}
		case 2:
			d.Kind, d.HTTPStatus = reconcile.StatusMismatch, 410
			d.Remote = &reconcile.Remote{ID: id, Outcome: reconcile.Outcome{Status: reconcile.StatusError}, Gone: true}
		case 4:
			d.Kind, d.HTTPStatus, d.ErrorCode = reconcile.NotFound, 404, "50001"
		}
		ds = append(ds, d)
	}
	return append(ds, invalid(2602, "<script>not-a-uuid</script>"))
}

// TestMerge_PageRows: with more rows than the page lists, the merged page
// shows the same first HTMLRows discrepancies and unverified processes as
// one run's: byte for byte the page its Set writes.
func TestMerge_PageRows(t *testing.T) {
	ds := manyRows()
	out, _ := MustMerge(t, MustShardSets(t, ds, 3), mergeOpts)
	summary := MustReadFile(t, filepath.Join(out, reports.SummaryName))
	got := MustReadFile(t, filepath.Join(out, reports.HTMLName))
	if diff := cmp.Diff(MustWholePage(t, ds, []byte(summary), mergedMeta), got); diff != "" {
		t.Errorf("report.html (-one run's Set +merged):\n%s", diff)
	}
	for _, note := range []string{"The first 1,000 of 1,561 discrepancies", "The first 1,000 of 1,040 unverified"} {
		if !strings.Contains(got, note) {
			t.Errorf("report.html lacks %q", note)
		}
	}
}

// TestMerge_Meta: the page names the source's SHA-256 only when every
// shard's manifest names the same one, and shards of different windows are
// not one run.
func TestMerge_Meta(t *testing.T) {
	t.Run("SourceChanged", func(t *testing.T) {
		dirs := MustShardSetsWith(t, allKinds(), 3, func(i int, _ *reconcile.Summary, m *reports.Meta) {
			if i == 1 {
				m.SourceSHA256 = strings.Repeat("0", 64)
			}
		})
		out, _ := MustMerge(t, dirs, mergeOpts)
		page := MustReadFile(t, filepath.Join(out, reports.HTMLName))
		if strings.Contains(page, testMeta.SourceSHA256) || strings.Contains(page, strings.Repeat("0", 64)) {
			t.Errorf("report.html names a source SHA-256 the shards disagree on")
		}
	})
	t.Run("ErrOtherWindow", func(t *testing.T) {
		dirs := MustShardSetsWith(t, allKinds(), 3, func(i int, _ *reconcile.Summary, m *reports.Meta) {
			if i == 2 {
				m.Since = "2026-03-12T00:00:00Z"
			}
		})
		out := filepath.Join(t.TempDir(), "merged")
		_, err := reports.Merge(out, dirs, mergeOpts)
		if !errors.Is(err, reports.ErrShards) || !strings.Contains(err.Error(), dirs[2]) || !strings.Contains(err.Error(), "2026-03-12T00:00:00Z") {
			t.Fatalf("Merge()=%v, want ErrShards naming %s and its window", err, dirs[2])
		}
		if _, err := os.Stat(out); err == nil {
			t.Fatal("merged folder created for a refused merge")
		}
	})
}

// TestMerge_Verify: a changed byte in any merged file, or an extra file,
// fails Verify, naming the file; merging again over a folder with an
// older merge's files leaves one that verifies.
func TestMerge_Verify(t *testing.T) {
	dirs := MustShardSets(t, allKinds(), 2)
	for _, name := range append([]string{reports.ManifestName}, reports.RunFiles...) {
		t.Run("ErrChanged_"+name, func(t *testing.T) {
			out, _ := MustMerge(t, dirs, mergeOpts)
			flipByte(t, filepath.Join(out, name), 10)
			var ve *reports.VerifyError
			if _, _, err := reports.Verify(out); !errors.As(err, &ve) || !strings.Contains(err.Error(), name) {
				t.Fatalf("Verify after a byte of %s changed: %v, want a VerifyError naming it", name, err)
			}
		})
	}
	t.Run("Again", func(t *testing.T) {
		out, _ := MustMerge(t, dirs, mergeOpts)
		flipByte(t, filepath.Join(out, reports.HTMLName), 10)
		if _, err := reports.Merge(out, dirs, reports.MergeOptions{RunID: "merged-again"}); err != nil {
			t.Fatal(err)
		}
		m, _, err := reports.Verify(out)
		if err != nil || m.RunID != "merged-again" {
			t.Fatalf("Verify after merging again: run %q, %v; want merged-again, nil", m.RunID, err)
		}
	})
}

// TestMerge_Spread: shards must have started within MaxSpread of each
// other (12 h by default); the refusal names the oldest and the newest.
func TestMerge_Spread(t *testing.T) {
	startedBefore := func(late int, d time.Duration) func(int, *reconcile.Summary, *reports.Meta) {
		return func(i int, s *reconcile.Summary, _ *reports.Meta) {
			if i == late {
				s.StartedAt, s.FinishedAt = s.StartedAt.Add(-d), s.FinishedAt.Add(-d)
			}
		}
	}
	for _, tt := range []struct {
		name      string
		apart     time.Duration
		maxSpread time.Duration
		ok        bool
	}{
		{"OneHour", time.Hour, 0, true},
		{"TwelveHours", 12 * time.Hour, 0, true},
		{"ErrThirteenHours", 13 * time.Hour, 0, false},
		{"ThirteenHoursUnder14h", 13 * time.Hour, 14 * time.Hour, true},
		{"ErrOneHourOver30m", time.Hour, 30 * time.Minute, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dirs := MustShardSetsWith(t, allKinds(), 4, startedBefore(2, tt.apart))
			o := mergeOpts
			o.MaxSpread = tt.maxSpread
			out := filepath.Join(t.TempDir(), "merged")
			_, err := reports.Merge(out, dirs, o)
			if tt.ok {
				if err != nil {
					t.Fatalf("Merge() of shards %s apart, max %s: %v", tt.apart, tt.maxSpread, err)
				}
				return
			}
			oldest := t0.Add(-tt.apart).Format(time.RFC3339)
			for _, w := range []string{dirs[2], oldest, dirs[0], t0.Format(time.RFC3339), tt.apart.String()} {
				if !errors.Is(err, reports.ErrShards) || !strings.Contains(err.Error(), w) {
					t.Fatalf("Merge()=%v, want ErrShards saying %q", err, w)
				}
			}
			if _, err := os.Stat(out); err == nil {
				t.Fatal("merged folder created for a refused merge")
			}
		})
	}
}

var cmpNonZero = cmp.FilterValues(func(a, b int) bool { return a == 0 || b == 0 }, cmp.Ignore())

func TestMerge_Error(t *testing.T) {
	ds := allKinds()
	dirs := MustShardSets(t, ds, 4)
	other := MustShardSets(t, ds, 3)
	unsharded := t.TempDir()
	set := MustCreate(t, unsharded, ds...)
	if err := set.Commit(summaryOf(ds)); err != nil {
		t.Fatal(err)
	}
	incomplete := MustShardSets(t, ds, 4)[1]
	if err := os.Remove(filepath.Join(incomplete, reports.SummaryName)); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		dirs []string
		want string
	}{
		{"Missing", []string{dirs[0], dirs[1], dirs[3]}, "shard 2/4 missing"},
		{"Doubled", []string{dirs[0], dirs[1], dirs[2], dirs[3], dirs[1]}, "shard 1/4 given twice"},
		{"OtherCount", []string{dirs[0], dirs[1], dirs[2], other[2]}, "is shard 2/3"},
		{"Unsharded", []string{dirs[0], unsharded}, "not a shard's reports"},
		{"Incomplete", []string{dirs[0], incomplete, dirs[2], dirs[3]}, "no summary.json"},
		{"None", nil, "no shard folder"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "merged")
			_, err := reports.Merge(out, tt.dirs, mergeOpts)
			if !errors.Is(err, reports.ErrShards) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Merge()=%v, want ErrShards saying %q", err, tt.want)
			}
			if _, err := os.Stat(filepath.Join(out, reports.SummaryName)); err == nil {
				t.Fatal("summary.json written for a refused merge")
			}
		})
	}
}

// TestReadDiscrepancy: every line JSONLWriter writes reads back as the
// discrepancy it was written from (times in UTC, Invalid as its message).
func TestReadDiscrepancy(t *testing.T) {
	for _, d := range append(allKinds(), manyRows()[:10]...) {
		if !d.Kind.Listed() {
			continue
		}
		var line bytes.Buffer
		if err := reports.NewJSONLWriter(&line).Write(d); err != nil {
			t.Fatal(err)
		}
		got, err := reports.ReadDiscrepancy(line.Bytes())
		if err != nil {
			t.Fatalf("row %d: %v", d.Local.Row, err)
		}
		want := d
		want.Local.SavedAt, want.FetchedAt = utc(d.Local.SavedAt), utc(d.FetchedAt)
		if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b error) bool { return fmt.Sprint(a) == fmt.Sprint(b) })); diff != "" {
			t.Errorf("row %d (-written +read):\n%s", d.Local.Row, diff)
		}
	}
	if _, err := reports.ReadDiscrepancy([]byte(`{"row":2,"field_diffs":[{"name":"x","local":true}]}`)); err == nil {
		t.Error("ReadDiscrepancy of a boolean field value: err=nil, want an error")
	}
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}
