package reconcile_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

func TestParseShard(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want reconcile.Shard
		ok   bool
	}{
		{"0/4", reconcile.Shard{Index: 0, Count: 4}, true},
		{"3/4", reconcile.Shard{Index: 3, Count: 4}, true},
		{"0/1", reconcile.Shard{Index: 0, Count: 1}, true},
		{"4/4", reconcile.Shard{}, false},
		{"-1/4", reconcile.Shard{}, false},
		{"1/0", reconcile.Shard{}, false},
		{"1", reconcile.Shard{}, false},
		{"auto/4", reconcile.Shard{}, false},
		{"", reconcile.Shard{}, false},
	} {
		got, err := reconcile.ParseShard(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseShard(%q)=%v, %v; want %v, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && !errors.Is(err, reconcile.ErrBadShard) {
			t.Errorf("ParseShard(%q) error %v is not ErrBadShard", tt.in, err)
		}
		if tt.ok && tt.want.Count > 1 && got.String() != tt.in {
			t.Errorf("String()=%q, want %q", got.String(), tt.in)
		}
	}
}

// TestShard_ShareOf: a run's share of the tenant's rate is the rate split
// evenly among the shards; an unsharded run (the zero Shard, 0/1) takes it
// all. Parts is the divisor, which rateToFit multiplies back.
func TestShard_ShareOf(t *testing.T) {
	for _, tt := range []struct {
		shard reconcile.Shard
		rate  float64
		parts int
		want  float64
	}{
		{reconcile.Shard{}, 10, 1, 10},
		{reconcile.Shard{Index: 0, Count: 1}, 10, 1, 10},
		{reconcile.Shard{Index: 0, Count: 4}, 10, 4, 2.5},
		{reconcile.Shard{Index: 3, Count: 4}, 10, 4, 2.5},
		{reconcile.Shard{Index: 1, Count: 3}, 1, 3, 1.0 / 3},
		{reconcile.Shard{Index: 1, Count: 2}, 0, 2, 0},
	} {
		if got := tt.shard.Parts(); got != tt.parts {
			t.Errorf("%+v.Parts()=%d, want %d", tt.shard, got, tt.parts)
		}
		if got := tt.shard.ShareOf(tt.rate); got != tt.want {
			t.Errorf("%+v.ShareOf(%g)=%g, want %g", tt.shard, tt.rate, got, tt.want)
		}
	}
}

// TestShardOf pins the hash: FNV-1a 64 of the canonical id, modulo N, as
// README documents (a change would move processes between shards).
func TestShardOf(t *testing.T) {
	for _, tt := range []struct {
		id    string
		count int
		want  int
	}{
		// FNV-1a 64 of "00000000-0000-4000-8000-000000000000" is 0xd90753fc7c28d855.
		{"00000000-0000-4000-8000-000000000000", 1 << 16, 0xd855},
		{"00000000-0000-4000-8000-000000000000", 7, int(uint64(0xd90753fc7c28d855) % 7)},
	} {
		if got := reconcile.ShardOf(tt.id, tt.count); got != tt.want {
			t.Errorf("ShardOf(%s, %d)=%d, want %d", tt.id, tt.count, got, tt.want)
		}
	}
}

// TestRun_Shard: the shards of a source, run apart, report every row
// exactly once between them, duplicates in the shard of their id and rows
// without a valid id in shard 0, with the same verdicts as one run.
func TestRun_Shard(t *testing.T) {
	const n, shards = 400, 4
	var src rows
	f := &fetcher{remote: map[string]reconcile.Result{}}
	for i := range n {
		l := reconcile.Local{Row: i + 2, ProcessID: id(i), Outcome: reconcile.Outcome{Status: 3}}
		f.remote[id(i)] = finished(i)
		switch {
		case i%7 == 0:
			l = reconcile.Local{Row: i + 2, ProcessID: "bad", Invalid: errors.New("bad id")}
		case i%11 == 0:
			l.ProcessID = id(i - 1) // a repeat of the row before
		}
		src = append(src, l)
	}
	var whole sink
	all, err := reconcile.Run(context.Background(), src, f, &whole, reconcile.Options{Workers: 4})
	if err != nil {
		t.Fatal(err)
	}
	byRow := map[int]reconcile.Kind{}
	total := 0
	counts := map[reconcile.Kind]int{}
	for i := range shards {
		var out sink
		sh := reconcile.Shard{Index: i, Count: shards}
		sum, err := reconcile.Run(context.Background(), src, f, &out, reconcile.Options{Workers: 4, Shard: sh})
		if err != nil {
			t.Fatal(err)
		}
		if sum.Shard != sh {
			t.Fatalf("Summary.Shard=%v, want %v", sum.Shard, sh)
		}
		if sum.Total == 0 {
			t.Fatalf("shard %v took no row", sh)
		}
		total += sum.Total
		for k, c := range sum.Counts {
			counts[k] += c
		}
		for _, d := range out.got {
			if _, dup := byRow[d.Local.Row]; dup {
				t.Fatalf("row %d reported by two shards", d.Local.Row)
			}
			byRow[d.Local.Row] = d.Kind
			if d.Kind == reconcile.InvalidInput && i != 0 {
				t.Fatalf("row %d (invalid) reported by shard %d, want 0", d.Local.Row, i)
			}
			if d.Kind == reconcile.DuplicateID && reconcile.ShardOf(d.Local.ProcessID, shards) != i {
				t.Fatalf("duplicate row %d reported by shard %d, not its id's", d.Local.Row, i)
			}
		}
	}
	if got, want := total, all.Total; got != want {
		t.Fatalf("shards' totals add up to %d, want %d", got, want)
	}
	if diff := cmp.Diff(all.Counts, counts); diff != "" {
		t.Fatalf("counts (-whole +shards):\n%s", diff)
	}
	want := map[int]reconcile.Kind{}
	for _, d := range whole.got {
		want[d.Local.Row] = d.Kind
	}
	if diff := cmp.Diff(want, byRow); diff != "" {
		t.Fatalf("listed verdicts by row (-whole +shards):\n%s", diff)
	}
}

// observer counts what Run shows it.
type observer struct {
	read     int
	verdicts []reconcile.Kind
}

func (o *observer) Read()                           { o.read++ }
func (o *observer) Verdict(d reconcile.Discrepancy) { o.verdicts = append(o.verdicts, d.Kind) }

// TestRun_Observer: the observer sees every row read, kept or not, and
// every verdict, listed or not, in source order.
func TestRun_Observer(t *testing.T) {
	src := rows{
		{Row: 2, ProcessID: id(1), Outcome: reconcile.Outcome{Status: 3}},
		{Row: 3, ProcessID: id(2)},
		{Row: 4, ProcessID: "x", Invalid: errors.New("bad")},
		{Row: 5, ProcessID: id(1), Outcome: reconcile.Outcome{Status: 3}},
	}
	f := &fetcher{remote: map[string]reconcile.Result{id(1): finished(1)}}
	var o observer
	var out sink
	// Shard 1 of 2 drops the invalid row (shard 0's) and perhaps more.
	sh := reconcile.Shard{Index: 1, Count: 2}
	sum, err := reconcile.Run(context.Background(), src, f, &out, reconcile.Options{Observer: &o, Shard: sh})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := o.read, len(src); got != want {
		t.Fatalf("Read called %d times, want %d (every row read)", got, want)
	}
	if got, want := len(o.verdicts), sum.Total; got != want {
		t.Fatalf("Verdict called %d times, want %d (every verdict)", got, want)
	}
	var want []reconcile.Kind
	for _, l := range src {
		if !sh.Owns(l) {
			continue
		}
		switch {
		case l.Row == 2:
			want = append(want, reconcile.Match)
		case l.Row == 3:
			want = append(want, reconcile.NotFound)
		case l.Row == 5:
			want = append(want, reconcile.DuplicateID)
		}
	}
	if diff := cmp.Diff(want, o.verdicts); diff != "" {
		t.Fatalf("verdicts (-want +got):\n%s", diff)
	}
}
