package reports

import (
	"encoding/csv"

	"github.com/gocarina/gocsv"
)

// BreakCSV makes every later write to s's CSV file fail with err, as a full
// disk would.
func BreakCSV(s *Set, err error) {
	s.csvW = &CSVWriter{w: gocsv.NewSafeCSVWriter(csv.NewWriter(failWriter{err}))}
}

type failWriter struct{ err error }

func (w failWriter) Write([]byte) (int, error) { return 0, w.err }
