package reports

import (
	"encoding/csv"

	"github.com/gocarina/gocsv"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

// BreakCSV makes every later write to s's CSV file fail with err, as a full
// disk would.
func BreakCSV(s *Set, err error) {
	s.csvW = &CSVWriter{w: gocsv.NewSafeCSVWriter(csv.NewWriter(failWriter{err}))}
}

type failWriter struct{ err error }

func (w failWriter) Write([]byte) (int, error) { return 0, w.err }

// MergeSummaries adds sums up as merge adds its shards' summaries.
func MergeSummaries(sums []reconcile.Summary) reconcile.Summary {
	shards := make([]*shardSet, len(sums))
	for i, s := range sums {
		shards[i] = &shardSet{sum: s}
	}
	return mergedSummary(shards, "merged")
}
