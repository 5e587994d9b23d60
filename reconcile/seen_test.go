package reconcile_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

// seenFake answers from a script: each key added is recorded, and a key
// listed in dups is a repeat of the row given there.
type seenFake struct {
	added []int // rows, in order
	dups  map[[16]byte]int
	err   error
}

func (s *seenFake) Add(key [16]byte, row int) (int, bool, error) {
	s.added = append(s.added, row)
	if s.err != nil {
		return 0, false, s.err
	}
	first, ok := s.dups[key]
	return first, ok, nil
}

// TestRun_SeenDecidesDuplicates: Run asks Options.Seen, once per valid
// row in source order, and a repeat it reports is duplicate_id naming the
// row it says, not fetched.
func TestRun_SeenDecidesDuplicates(t *testing.T) {
	k, _ := reconcile.ProcessKey(id(2))
	seen := &seenFake{dups: map[[16]byte]int{k: 77}}
	src := rows{
		{Row: 2, ProcessID: id(1)},
		{Row: 3, ProcessID: "x", Invalid: errors.New("bad")},
		{Row: 4, ProcessID: id(2)},
		{Row: 5, ProcessID: id(3)},
	}
	f := &fetcher{remote: map[string]reconcile.Result{id(1): finished(1), id(3): finished(3)}}
	var out sink
	sum, err := reconcile.Run(context.Background(), src, f, &out, reconcile.Options{Workers: 2, Seen: seen})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{2, 4, 5}; !slices.Equal(seen.added, want) {
		t.Errorf("Seen.Add rows %v, want %v", seen.added, want)
	}
	if sum.Counts[reconcile.DuplicateID] != 1 || f.calls[id(2)] != 0 {
		t.Fatalf("counts %v, fetches %v: want one duplicate, not fetched", sum.Counts, f.calls)
	}
	for _, d := range out.got {
		if d.Kind == reconcile.DuplicateID && (d.Local.Row != 4 || d.Detail != "repeats row 77; fetched once") {
			t.Errorf("duplicate verdict %+v, want row 4 repeating row 77", d)
		}
	}
}

func TestRun_SeenErrorStops(t *testing.T) {
	errDisk := errors.New("disk full")
	src := rows{{Row: 2, ProcessID: id(1)}, {Row: 3, ProcessID: id(2)}}
	f := &fetcher{}
	_, err := reconcile.Run(context.Background(), src, f, &sink{}, reconcile.Options{Seen: &seenFake{err: errDisk}})
	if !errors.Is(err, errDisk) {
		t.Fatalf("Run: %v, want %v", err, errDisk)
	}
	if f.n.Load() != 0 {
		t.Errorf("%d fetches after Seen failed", f.n.Load())
	}
}

func TestMemorySeen(t *testing.T) {
	m := reconcile.MemorySeen{}
	a, _ := reconcile.ProcessKey(id(1))
	b, _ := reconcile.ProcessKey(id(2))
	steps := []struct {
		key   [16]byte
		row   int
		first int
		dup   bool
	}{{a, 2, 0, false}, {b, 3, 0, false}, {a, 4, 2, true}, {b, 9, 3, true}, {a, 10, 2, true}}
	for _, s := range steps {
		first, dup, err := m.Add(s.key, s.row)
		if err != nil || first != s.first || dup != s.dup {
			t.Errorf("Add(%x, %d) = (%d, %v, %v), want (%d, %v, nil)", s.key, s.row, first, dup, err, s.first, s.dup)
		}
	}
}
