package store_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
	"github.com/unico-reconcile/unico-reconcile/store"
)

// MustGenerateCSV writes a CSV file of n valid rows, about 130 bytes each.
func MustGenerateCSV(tb testing.TB, n int) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "large.csv")
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString(header)
	for i := range n {
		fmt.Fprintf(w, "00000000-0000-4000-8000-%012d,%d,yes,inconclusive,%d,%d,%d,2024-05-01T10:%02d:%02d.123Z\n",
			i, i%5+1, i%101, i%2+1, i%100, i/60%60, i%60)
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	return path
}

// MustGenerateSQLite writes a SQLite database of n valid rows.
func MustGenerateSQLite(tb testing.TB, n int) string {
	tb.Helper()
	return MustSQLite(tb, filepath.Join(tb.TempDir(), "large.db"), createProcesses, fmt.Sprintf(`
		WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i+1 FROM n WHERE i+1 < %d)
		INSERT INTO processes SELECT printf('00000000-0000-4000-8000-%%012d', i), i%%5+1, 'yes', 'inconclusive',
			i%%101, i%%2+1, i%%100, printf('2024-05-01T10:%%02d:%%02d.123Z', i/60%%60, i%%60) FROM n`, n))
}

// largeSources opens each kind of source over n generated rows.
var largeSources = []struct {
	name string
	open func(tb testing.TB, n int) reconcile.Source
}{
	{"CSV", func(tb testing.TB, n int) reconcile.Source {
		c, err := store.OpenCSV(MustGenerateCSV(tb, n))
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { c.Close() })
		return c
	}},
	{"SQLite", func(tb testing.TB, n int) reconcile.Source {
		s, err := store.OpenSQLite(MustGenerateSQLite(tb, n), "")
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { s.Close() })
		return s
	}},
	{"PostgreSQL", func(tb testing.TB, n int) reconcile.Source {
		p, err := store.OpenPostgres(MustGeneratePostgres(tb, n), "")
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { p.Close() })
		return p
	}},
}

// raceEnabled is true when the race detector is on (race_test.go).
var raceEnabled bool

// TestEach_FlatMemory reads a million rows and checks that the Go heap in
// use stays small: rows are streamed, not gathered.
func TestEach_FlatMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("generates a million rows")
	}
	rows := 1_000_000
	if raceEnabled {
		rows = 200_000
	}
	// UNICO_TEST_FLAT_ROWS measures a bigger source by hand, e.g.
	// UNICO_TEST_FLAT_ROWS=10000000 go test -run TestEach_FlatMemory/PostgreSQL -v ./store
	if n, err := strconv.Atoi(os.Getenv("UNICO_TEST_FLAT_ROWS")); err == nil && n > 0 {
		rows = n
	}
	// Far below what gathered rows would hold (some 200 bytes a row).
	const budget = 16 << 20
	for _, k := range largeSources {
		t.Run(k.name, func(t *testing.T) {
			src := k.open(t, rows)
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			base, peak := ms.HeapInuse, ms.HeapInuse
			n := 0
			err := src.Each(context.Background(), func(l reconcile.Local) error {
				if l.Invalid != nil {
					return l.Invalid
				}
				if n++; n%50_000 == 0 {
					runtime.ReadMemStats(&ms)
					peak = max(peak, ms.HeapInuse)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := n, rows; got != want {
				t.Fatalf("read %d rows, want %d", got, want)
			}
			grew := int64(peak) - int64(base)
			t.Logf("%s: heap in use %.1f MiB before, %.1f MiB at most while reading %d rows", k.name, mib(base), mib(peak), rows)
			if grew > budget {
				t.Fatalf("heap in use grew by %.1f MiB, want at most %.1f MiB", mib(uint64(grew)), mib(budget))
			}
		})
	}
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

func BenchmarkCSV_Each(b *testing.B)      { benchmarkEach(b, 0) }
func BenchmarkSQLite_Each(b *testing.B)   { benchmarkEach(b, 1) }
func BenchmarkPostgres_Each(b *testing.B) { benchmarkEach(b, 2) }

// benchmarkEach reads 100,000 generated rows per iteration and reports
// rows/s and allocations per row.
func benchmarkEach(b *testing.B, kind int) {
	const rows = 100_000
	src := largeSources[kind].open(b, rows)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		err := src.Each(context.Background(), func(reconcile.Local) error { n++; return nil })
		if err != nil {
			b.Fatal(err)
		}
		if n != rows {
			b.Fatalf("read %d rows, want %d", n, rows)
		}
	}
	runtime.ReadMemStats(&after)
	total := float64(b.N) * rows
	b.ReportMetric(total/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/total, "allocs/row")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/total, "B/row")
}
