package state_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

// BenchmarkJournal_Record: 16 goroutines record at once, as the run's 16
// workers do; each Record waits for its group commit.
func BenchmarkJournal_Record(b *testing.B) {
	db := MustOpenTemp(b)
	MustCreateRun(b, db, "r", at)
	j := MustJournal(b, db, "r")
	const workers = 16
	var next, waited atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= b.N {
					return
				}
				r, k := result(i)
				t0 := time.Now()
				if err := j.Record(i, uuid(i), r, k); err != nil {
					b.Error(err)
					return
				}
				waited.Add(int64(time.Since(t0)))
			}
		})
	}
	wg.Wait()
	if err := j.Close(); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "records/s")
	b.ReportMetric(float64(waited.Load())/float64(b.N)/1e3, "µs/record")
	b.ReportMetric(float64(b.N)/float64(max(j.Commits(), 1)), "records/commit")
}

// BenchmarkJournal_Lookup looks up the answers of a 1,000,000-row run as a
// resumed run does: Unchanged (the merge), Shifted (a row inserted at the
// top of the source: every lookup falls back to a point lookup), and
// Unrecorded (past the recorded rows, after every row was a hit).
func BenchmarkJournal_Lookup(b *testing.B) {
	const rows = 1_000_000
	ctx := context.Background()
	db := MustOpenTemp(b)
	MustCreateRun(b, db, "r", at)
	if err := db.BulkAnswers(ctx, "r", rows, func(i int) (string, reconcile.Result, reconcile.Kind) {
		r, k := result(i)
		return uuid(i), r, k
	}); err != nil {
		b.Fatal(err)
	}
	ids := make([]string, rows)
	for i := range ids {
		ids[i] = uuid(i)
	}
	for _, bb := range []struct {
		name  string
		shift int // Lookup(i+shift, ids[i])
		hit   bool
		ask   func(i int) string
	}{
		{"Unchanged", 0, true, func(i int) string { return ids[i] }},
		{"Shifted", 1, true, func(i int) string { return ids[i] }},
		{"Unrecorded", 0, false, func(i int) string { return uuid(rows + i) }},
	} {
		b.Run(bb.name, func(b *testing.B) {
			j := MustJournal(b, db, "r")
			if bb.name == "Unrecorded" { // every recorded row is a hit first
				for i := range rows {
					j.Lookup(i, ids[i])
				}
			}
			b.ResetTimer()
			start := time.Now()
			for n := range b.N {
				i := n % rows
				if n > 0 && i == 0 && bb.hit { // a new pass: a new journal
					b.StopTimer()
					j.Close()
					j = MustJournal(b, db, "r")
					b.StartTimer()
				}
				seq := i + bb.shift
				if bb.name == "Unrecorded" {
					seq = rows + n
				}
				_, ok, err := j.Lookup(seq, bb.ask(i))
				if err != nil || ok != bb.hit {
					b.Fatalf("Lookup(%d) = %v, %v", i, ok, err)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "lookups/s")
		})
	}
}

// BenchmarkListing_Write writes listed discrepancies, Close included.
func BenchmarkListing_Write(b *testing.B) {
	ctx := context.Background()
	db := MustOpenTemp(b)
	MustCreateRun(b, db, "r", at)
	ds := discrepancies()
	b.ResetTimer()
	start := time.Now()
	l, err := db.Listing(ctx, "r")
	if err != nil {
		b.Fatal(err)
	}
	for i := range b.N {
		if err := l.Write(ds[i%len(ds)]); err != nil {
			b.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "writes/s")
}
