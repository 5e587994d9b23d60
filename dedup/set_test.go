package dedup

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

// key returns the i-th distinct key of a pseudo-random sequence (as random
// v4 UUIDs would be), the same for the same seed.
func key(seed uint64, i int) [16]byte {
	var k [16]byte
	binary.LittleEndian.PutUint64(k[:8], mix(seed<<40^uint64(i)))
	binary.LittleEndian.PutUint64(k[8:], uint64(i)) // distinct for distinct i
	return k
}

// mix is splitmix64's finalizer: a bijection that scatters its input.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

func mustOpen(t testing.TB, capacity int, fp float64) *Set {
	t.Helper()
	s, err := open(context.Background(), t.TempDir(), capacity, fp)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// TestSet_Exact adds a stream of keys with repeats at every distance (the
// next row, across a flush, far behind) and checks each answer against a
// map: every repeat names its first row, no first sighting is a repeat.
// The tiny filters make nearly every key collide in the filter, so that
// the exact check on disk decides.
func TestSet_Exact(t *testing.T) {
	tests := []struct {
		name     string
		capacity int
		fp       float64
		distinct int
		minHits  int // filter hits at least (false ones included)
		filters  int // filters at least, after growing
	}{
		{name: "Sized", capacity: 50_000, fp: DefaultFalsePositives, distinct: 40_000, filters: 1},
		{name: "Growing", capacity: 1000, fp: DefaultFalsePositives, distinct: 40_000, filters: 6},
		{name: "TinyFilterCollides", capacity: 4, fp: 0.5, distinct: 20_000, minHits: 15_000, filters: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustOpen(t, tt.capacity, tt.fp)
			want := map[[16]byte]int{}
			repeats := 0
			rng := rand.New(rand.NewPCG(7, 7))
			row := 1
			for i := range tt.distinct {
				keys := [][16]byte{key(1, i)}
				if i > 0 && i%10 == 0 { // a repeat of any earlier key
					keys = append(keys, key(1, rng.IntN(i)))
				}
				if i%97 == 0 { // the same key twice in a row
					keys = append(keys, keys[0])
				}
				for _, k := range keys {
					row++
					first, dup, err := s.Add(k, row)
					if err != nil {
						t.Fatal(err)
					}
					wfirst, wdup := want[k]
					if dup != wdup || first != wfirst {
						t.Fatalf("row %d, key %x: Add = (%d, %v), want (%d, %v)", row, k, first, dup, wfirst, wdup)
					}
					if !wdup {
						want[k] = row
					} else {
						repeats++
					}
				}
			}
			hits, reps := s.Stats()
			if reps != repeats {
				t.Errorf("Stats repeats = %d, want %d", reps, repeats)
			}
			if hits < tt.minHits || hits < reps {
				t.Errorf("Stats hits = %d, want at least %d and %d", hits, tt.minHits, reps)
			}
			if len(s.filters) < tt.filters {
				t.Errorf("%d filters, want at least %d", len(s.filters), tt.filters)
			}
		})
	}
}

// TestSet_RepeatMillionsLater adds two million distinct keys, then repeats
// of the first, a middle and the last one: each names its first row, from
// disk, while the filter has had few false hits.
func TestSet_RepeatMillionsLater(t *testing.T) {
	const n = 2_000_000
	s := mustOpen(t, n, DefaultFalsePositives)
	for i := range n {
		if _, dup, err := s.Add(key(2, i), i+2); err != nil || dup {
			t.Fatalf("key %d: dup %v, err %v", i, dup, err)
		}
	}
	for _, i := range []int{0, n / 2, n - 1} {
		first, dup, err := s.Add(key(2, i), n+10+i)
		if err != nil || !dup || first != i+2 {
			t.Errorf("repeat of key %d: Add = (%d, %v, %v), want (%d, true, nil)", i, first, dup, err, i+2)
		}
	}
	hits, repeats := s.Stats()
	if repeats != 3 || hits > n/50 {
		t.Errorf("Stats = %d hits, %d repeats; want 3 repeats and a false-hit rate under 2%%", hits, repeats)
	}
	if b := s.FilterBytes(); b > 3*n/2 {
		t.Errorf("filter of %d bytes for %d keys, want at most 1.5 a key", b, n)
	}
}

// TestOpen_LeavesNoFile: the database file is gone once the set is open.
func TestOpen_LeavesNoFile(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(context.Background(), Config{Dir: dir, Expected: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 3 * flushEvery { // some on disk
		if _, _, err := s.Add(key(3, i), i); err != nil {
			t.Fatal(err)
		}
	}
	if first, dup, err := s.Add(key(3, 5), 1e6); err != nil || !dup || first != 5 {
		t.Errorf("repeat: (%d, %v, %v)", first, dup, err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 0 {
		t.Errorf("files left in %s: %v", dir, ents)
	}
}

func TestOpen_Errors(t *testing.T) {
	ctx := context.Background()
	if _, err := Open(ctx, Config{Dir: t.TempDir(), FalsePositives: 1.5}); err == nil {
		t.Error("false-positive rate 1.5: no error")
	}
	if _, err := Open(ctx, Config{Dir: "/nonexistent/dir"}); err == nil {
		t.Error("missing folder: no error")
	}
}

// BenchmarkSet_Add: one Add of a new key, random or increasing, a million
// keys per run of the loop.
func BenchmarkSet_Add(b *testing.B) {
	for _, order := range []string{"random", "increasing"} {
		b.Run(order, func(b *testing.B) {
			s := mustOpen(b, 1<<22, DefaultFalsePositives)
			for i := 0; b.Loop(); i++ {
				k := key(4, i)
				if order == "increasing" {
					binary.BigEndian.PutUint64(k[:8], uint64(i))
				}
				if _, dup, err := s.Add(k, i); err != nil || dup {
					b.Fatal(dup, err)
				}
			}
		})
	}
}

// TestCompact_MergesWithoutSorting: merging tables reads them in key order
// and merges them (no sort in a temporary B-tree), so that the merged table
// is written as an append.
func TestCompact_MergesWithoutSorting(t *testing.T) {
	s := mustOpen(t, 1000, DefaultFalsePositives)
	ctx := context.Background()
	for range 3 {
		name, err := s.create(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.add(ctx, name, 0, 0); err != nil {
			t.Fatal(err)
		}
	}
	into, err := s.create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := s.conn.QueryContext(ctx, "EXPLAIN QUERY PLAN "+mergeSQL(into, s.runs))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	all := strings.Join(plan, "\n")
	if !strings.Contains(all, "MERGE") || strings.Contains(all, "TEMP B-TREE") {
		t.Errorf("plan of the merge:\n%s\nwant a MERGE and no TEMP B-TREE", all)
	}
}
