//go:build race

package store_test

// The race detector slows reading about tenfold: the memory test then reads
// fewer rows.
func init() { raceEnabled = true }
