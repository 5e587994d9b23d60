package reconcile

// Seen remembers the valid process ids a run has kept, for duplicate_id.
// Run calls it from its reading goroutine only, once per valid row kept,
// with the row's ProcessKey.
type Seen interface {
	// Add remembers that the process key is first met at row, and returns
	// dup false; when key was added before, it changes nothing and returns
	// the row key was first added at, and dup true. It must be exact:
	// never a false repeat, never a repeat missed. An error stops the run.
	Add(key [16]byte, row int) (first int, dup bool, err error)
}

// MemorySeen is a Seen held in a map: about 40 bytes a process, the
// default of Options.Seen. A run over millions of rows gives Run a Seen
// whose memory does not grow with the source (package dedup).
type MemorySeen map[[16]byte]int32

// Add implements Seen.
func (m MemorySeen) Add(key [16]byte, row int) (int, bool, error) {
	if first, ok := m[key]; ok {
		return int(first), true, nil
	}
	m[key] = int32(row)
	return 0, false, nil
}
