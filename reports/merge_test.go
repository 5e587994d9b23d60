package reports_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
	"github.com/unico-reconcile/unico-reconcile/reports"
)

// MustShardSets writes the reports of ds as n shards would have: each
// discrepancy in the shard that owns its row. It returns the shards'
// folders, in shard order.
func MustShardSets(tb testing.TB, ds []reconcile.Discrepancy, n int) []string {
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
		sum := summaryOf(mine)
		sum.RunID, sum.Shard, sum.Rate, sum.Workers = fmt.Sprint("run-", i), sh, 2.5, 4
		if err := set.Commit(sum); err != nil {
			tb.Fatal(err)
		}
		dirs = append(dirs, dir)
	}
	return dirs
}

// TestMerge: four shards merged, given in any order, are byte for byte
// the reports of one run, and the summary adds them up.
func TestMerge(t *testing.T) {
	ds := allKinds()
	whole := t.TempDir()
	set := MustCreate(t, whole, ds...)
	if err := set.Commit(summaryOf(ds)); err != nil {
		t.Fatal(err)
	}
	dirs := MustShardSets(t, ds, 4)
	out := filepath.Join(t.TempDir(), "merged")
	sum, err := reports.Merge(out, []string{dirs[2], dirs[0], dirs[3], dirs[1]}, "merged-run")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{reports.CSVName, reports.JSONLName} {
		if diff := cmp.Diff(string(MustReadFile(t, filepath.Join(whole, name))), string(MustReadFile(t, filepath.Join(out, name)))); diff != "" {
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
	written := string(MustReadFile(t, filepath.Join(out, reports.SummaryName)))
	if !strings.Contains(written, `"merged_from": [`) || strings.Contains(written, `"shard"`) {
		t.Errorf("summary.json lacks merged_from or has a shard:\n%s", written)
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
			_, err := reports.Merge(out, tt.dirs, "merged-run")
			if !errors.Is(err, reports.ErrShards) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Merge()=%v, want ErrShards saying %q", err, tt.want)
			}
			if _, err := os.Stat(filepath.Join(out, reports.SummaryName)); err == nil {
				t.Fatal("summary.json written for a refused merge")
			}
		})
	}
}
