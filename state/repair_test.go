package state_test

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
	"github.com/unico-reconcile/unico-reconcile/state"
)

// MustCreateRepair records a repair of run, started at start, still going.
func MustCreateRepair(tb testing.TB, db *state.DB, id, run string, start time.Time, applied bool) state.Repair {
	tb.Helper()
	r := state.Repair{ID: id, RunID: run, StartedAt: start, Login: "alice", Host: "batch1",
		Kinds: []reconcile.Kind{reconcile.LostResponse}, Applied: applied, Out: "out/" + id, ExitCode: -1}
	if applied {
		r.Target = "sqlite:/data/outcomes.db"
	}
	if err := db.CreateRepair(context.Background(), r); err != nil {
		tb.Fatalf("CreateRepair(%s): %v", id, err)
	}
	return r
}

func TestNewRepairID(t *testing.T) {
	start := time.Date(2026, 11, 28, 3, 4, 5, 0, time.FixedZone("", -3*3600))
	a, b := state.NewRepairID(start), state.NewRepairID(start)
	if !regexp.MustCompile(`^20261128T060405Z-[0-9a-f]{6}$`).MatchString(a) {
		t.Errorf("NewRepairID = %q, want the UTC time and 6 hex digits", a)
	}
	if a == b {
		t.Errorf("two ids alike: %s", a)
	}
}

func TestDB_CreateRepair(t *testing.T) {
	ctx := context.Background()
	db := MustOpenTemp(t)
	MustCreateRun(t, db, "r1", at)
	MustCreateRun(t, db, "r2", at.Add(time.Hour))
	sp := time.FixedZone("", -3*3600)
	r := state.Repair{
		ID: "20261128T060000Z-d4e5f6", RunID: "r1", StartedAt: time.Date(2026, 11, 28, 3, 0, 0, 7, sp),
		Login: "alice", Host: "batch1", Kinds: []reconcile.Kind{reconcile.LostResponse, reconcile.ResultMismatch},
		Target: "postgres://xxxxx@db/app", Applied: true, Params: json.RawMessage(`{"table":"processes"}`),
		Out: "out/repair", ExitCode: -1, Counts: state.RepairCounts{Selected: 3},
	}
	if err := db.CreateRepair(ctx, r); err != nil {
		t.Fatal(err)
	}
	want := r
	want.StartedAt = r.StartedAt.UTC()
	got, err := db.Repair(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, exact); diff != "" {
		t.Errorf("Repair (-want +got):\n%s", diff)
	}

	t.Run("UpdateRepair", func(t *testing.T) {
		up := want
		up.FinishedAt = up.StartedAt.Add(time.Minute)
		up.ExitCode = 1
		up.Counts = state.RepairCounts{Selected: 3, Changed: 1, Done: 1, Conflicts: 1, Missing: 0}
		up.Params = json.RawMessage(`{"table":"processes","columns":{"status":"result_status"}}`)
		up.Out = "out/repair2"
		// The fields fixed at the start are not changed.
		changed := up
		changed.Login, changed.Host, changed.Target, changed.Applied = "mallory", "elsewhere", "", false
		changed.Kinds = nil
		if err := db.UpdateRepair(ctx, changed); err != nil {
			t.Fatal(err)
		}
		got, err := db.Repair(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(up, got, exact); diff != "" {
			t.Errorf("Repair after UpdateRepair (-want +got):\n%s", diff)
		}
		want = up
	})

	t.Run("List", func(t *testing.T) {
		// Another repair of r1, one of r2; a dry run without params and kinds.
		later := MustCreateRepair(t, db, "rp2", "r2", at.Add(3*time.Hour), false)
		earlier := MustCreateRepair(t, db, "rp3", "r1", at.Add(2*time.Hour), false)
		none := state.Repair{ID: "rp4", RunID: "r1", StartedAt: at.Add(time.Minute), ExitCode: -1}
		if err := db.CreateRepair(ctx, none); err != nil {
			t.Fatal(err)
		}
		none.Kinds = []reconcile.Kind{}
		ids := func(rs []state.Repair, err error) []string {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, r := range rs {
				out = append(out, r.ID)
			}
			return out
		}
		for _, tt := range []struct {
			name string
			got  []string
			want []string
		}{
			{"Repairs", ids(db.Repairs(ctx)), []string{"rp4", "rp3", "rp2", r.ID}}, // r started on the 28th
			{"RepairsOf r1", ids(db.RepairsOf(ctx, "r1")), []string{"rp4", "rp3", r.ID}},
			{"RepairsOf r2", ids(db.RepairsOf(ctx, "r2")), []string{"rp2"}},
			{"RepairsOf unknown", ids(db.RepairsOf(ctx, "nope")), nil},
		} {
			if diff := cmp.Diff(tt.want, tt.got); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tt.name, diff)
			}
		}
		last, err := db.Repair(ctx, "last")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, last, exact); diff != "" {
			t.Errorf("Repair(last) (-want +got):\n%s", diff)
		}
		for _, w := range []state.Repair{later, earlier, none} {
			w.StartedAt = w.StartedAt.UTC()
			got, err := db.Repair(ctx, w.ID)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(w, got, exact); diff != "" {
				t.Errorf("Repair(%s) (-want +got):\n%s", w.ID, diff)
			}
		}
	})

	t.Run("Errors", func(t *testing.T) {
		for _, tt := range []struct {
			name string
			err  error
			is   error
		}{
			{"unknown run", db.CreateRepair(ctx, state.Repair{ID: "x", RunID: "nope", StartedAt: at}), state.ErrNoRun},
			{"same id", db.CreateRepair(ctx, state.Repair{ID: r.ID, RunID: "r1", StartedAt: at}), nil},
			{"no id", db.CreateRepair(ctx, state.Repair{RunID: "r1", StartedAt: at}), nil},
			{"params not an object", db.CreateRepair(ctx, state.Repair{ID: "y", RunID: "r1", Params: json.RawMessage(`[1]`)}), nil},
			{"update unknown", db.UpdateRepair(ctx, state.Repair{ID: "nope"}), state.ErrNoRepair},
		} {
			if tt.err == nil {
				t.Errorf("%s: no error", tt.name)
			} else if tt.is != nil && !errors.Is(tt.err, tt.is) {
				t.Errorf("%s: %v, want %v", tt.name, tt.err, tt.is)
			}
		}
		if _, err := db.Repair(ctx, "nope"); !errors.Is(err, state.ErrNoRepair) {
			t.Errorf("Repair(nope): %v, want ErrNoRepair", err)
		}
		empty := MustOpenTemp(t)
		if _, err := empty.Repair(ctx, "last"); !errors.Is(err, state.ErrNoRepair) {
			t.Errorf("Repair(last) of a history without repairs: %v, want ErrNoRepair", err)
		}
	})
}

func TestDB_RecordRepaired(t *testing.T) {
	ctx := context.Background()
	db := MustOpenTemp(t)
	MustCreateRun(t, db, "r1", at)
	MustCreateRepair(t, db, "rp1", "r1", at.Add(time.Hour), true)
	MustCreateRepair(t, db, "rp2", "r1", at.Add(2*time.Hour), true)
	lost := reconcile.LostResponse
	batches := [][]state.Repaired{
		{{uuid(2), lost, state.RepairConflict}, {uuid(1), lost, state.RepairChanged}},
		{{uuid(3), reconcile.ResultMismatch, state.RepairMissing}, {uuid(4), lost, state.RepairWritten}},
		{{uuid(2), lost, state.RepairDone}}, // recorded again: the newest outcome stays
		nil,
	}
	for _, b := range batches {
		if err := db.RecordRepaired(ctx, "rp1", b); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.RecordRepaired(ctx, "rp2", []state.Repaired{{uuid(9), lost, state.RepairChanged}}); err != nil {
		t.Fatal(err)
	}
	want := []state.Repaired{
		{uuid(1), lost, state.RepairChanged}, {uuid(2), lost, state.RepairDone},
		{uuid(3), reconcile.ResultMismatch, state.RepairMissing}, {uuid(4), lost, state.RepairWritten},
	}
	// By process id.
	for i := 1; i < len(want); i++ {
		if want[i-1].ProcessID > want[i].ProcessID {
			want[i-1], want[i] = want[i], want[i-1]
			i = 0
		}
	}
	var got []state.Repaired
	if err := db.EachRepaired(ctx, "rp1", func(p state.Repaired) error { got = append(got, p); return nil }); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("EachRepaired (-want +got):\n%s", diff)
	}

	t.Run("Errors", func(t *testing.T) {
		if err := db.RecordRepaired(ctx, "nope", nil); !errors.Is(err, state.ErrNoRepair) {
			t.Errorf("RecordRepaired(nope): %v, want ErrNoRepair", err)
		}
		if err := db.EachRepaired(ctx, "nope", nil); !errors.Is(err, state.ErrNoRepair) {
			t.Errorf("EachRepaired(nope): %v, want ErrNoRepair", err)
		}
		// An unknown outcome fails the whole batch: nothing of it is kept.
		bad := []state.Repaired{{uuid(7), lost, state.RepairChanged}, {uuid(8), lost, "fixed"}}
		if err := db.RecordRepaired(ctx, "rp2", bad); err == nil {
			t.Error("RecordRepaired with an unknown outcome: no error")
		}
		n := 0
		if err := db.EachRepaired(ctx, "rp2", func(state.Repaired) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("rp2 has %d processes after a failed batch, want 1", n)
		}
		stop := errors.New("stop")
		if err := db.EachRepaired(ctx, "rp1", func(state.Repaired) error { return stop }); !errors.Is(err, stop) {
			t.Errorf("EachRepaired returned %v, want fn's error", err)
		}
	})
}

// TestDB_AppendRepairManifest chains run r1's manifest, a repair of r1's,
// then r2's, and checks that each link says what it belongs to and that a
// run's latest manifest is its folder's, never a repair's.
func TestDB_AppendRepairManifest(t *testing.T) {
	ctx := context.Background()
	db := MustOpenTemp(t)
	MustCreateRun(t, db, "r1", at)
	MustCreateRun(t, db, "r2", at.Add(2*time.Hour))
	MustCreateRepair(t, db, "rp1", "r1", at.Add(time.Hour), true)
	MustCreateRepair(t, db, "rp2", "r1", at.Add(3*time.Hour), false)
	var want []state.Link
	prev := ""
	for i, step := range []struct{ run, repair string }{{"r1", ""}, {"r1", "rp1"}, {"r2", ""}, {"r1", "rp2"}} {
		data := []byte(`{"run":"` + step.run + `","repair":"` + step.repair + `","n":` + string(rune('0'+i)) + `}`)
		var got string
		var err error
		if step.repair == "" {
			got, err = db.AppendManifest(ctx, step.run, prev, data)
		} else {
			got, err = db.AppendRepairManifest(ctx, step.repair, prev, data)
		}
		if err != nil {
			t.Fatal(err)
		}
		if got != sha(data) {
			t.Fatalf("append = %s, want the data's sha256 %s", got, sha(data))
		}
		want = append(want, state.Link{Seq: int64(i + 1), RunID: step.run, RepairID: step.repair, SHA256: got, Previous: prev, Data: data})
		prev = got
	}
	var got []state.Link
	if err := db.Chain(ctx, func(l state.Link) error { got = append(got, l); return nil }); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("chain (-want +got):\n%s", diff)
	}
	if head, _ := db.ChainHead(ctx); head != prev {
		t.Errorf("ChainHead = %s, want the repair's %s", head, prev)
	}
	for _, tt := range []struct {
		run  string
		want state.Link
	}{{"r1", want[0]}, {"r2", want[2]}} {
		l, ok, err := db.LatestManifest(ctx, tt.run)
		if err != nil || !ok {
			t.Fatalf("LatestManifest(%s) = %v, %v", tt.run, ok, err)
		}
		if diff := cmp.Diff(tt.want, l); diff != "" {
			t.Errorf("LatestManifest(%s) (-want +got):\n%s", tt.run, diff)
		}
	}
	t.Run("Errors", func(t *testing.T) {
		if _, err := db.AppendRepairManifest(ctx, "rp1", want[2].SHA256, []byte("{}")); !errors.Is(err, state.ErrChainMoved) {
			t.Errorf("AppendRepairManifest after a stale head: %v, want ErrChainMoved", err)
		}
		if _, err := db.AppendRepairManifest(ctx, "nope", prev, []byte("{}")); !errors.Is(err, state.ErrNoRepair) {
			t.Errorf("AppendRepairManifest(nope): %v, want ErrNoRepair", err)
		}
		if head, _ := db.ChainHead(ctx); head != prev {
			t.Errorf("a failed append moved the head to %s", head)
		}
	})
}

func TestDB_EachListedOf(t *testing.T) {
	ctx := context.Background()
	db := MustOpenTemp(t)
	MustCreateRun(t, db, "r", at)
	MustCreateRun(t, db, "other", at)
	order := []reconcile.Kind{reconcile.Unverified, reconcile.LostResponse, reconcile.ResultMismatch,
		reconcile.LostResponse, reconcile.StatusMismatch, reconcile.InvalidInput}
	for _, run := range []string{"r", "other"} {
		l, err := db.Listing(ctx, run)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3000 { // several batches
			// In "r", ids run backwards, so that report order is not id order.
			p := 3000 - i
			if run == "other" {
				p = i
			}
			d := reconcile.Discrepancy{Kind: order[i%len(order)], Local: reconcile.Local{Row: i + 2, ProcessID: uuid(p)}, Detail: run}
			if err := l.Write(d); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		name  string
		kinds []reconcile.Kind
		want  func(reconcile.Kind) bool
	}{
		{"lost_response", []reconcile.Kind{reconcile.LostResponse}, func(k reconcile.Kind) bool { return k == reconcile.LostResponse }},
		{"two kinds", []reconcile.Kind{reconcile.ResultMismatch, reconcile.StatusMismatch},
			func(k reconcile.Kind) bool { return k == reconcile.ResultMismatch || k == reconcile.StatusMismatch }},
		{"none listed", []reconcile.Kind{reconcile.NotFound}, func(reconcile.Kind) bool { return false }},
		{"all", nil, func(reconcile.Kind) bool { return true }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var want, got []int
			for i := range 3000 {
				if tt.want(order[i%len(order)]) {
					want = append(want, i+2)
				}
			}
			err := db.EachListedOf(ctx, "r", tt.kinds, func(d reconcile.Discrepancy) error {
				if d.Detail != "r" || !tt.want(d.Kind) || d.Local.ProcessID != uuid(3000-(d.Local.Row-2)) {
					t.Fatalf("listed %+v", d)
				}
				got = append(got, d.Local.Row)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("rows, in report order (-want +got):\n%s", diff)
			}
		})
	}
	if err := db.EachListedOf(ctx, "nope", []reconcile.Kind{reconcile.LostResponse}, nil); !errors.Is(err, state.ErrNoRun) {
		t.Errorf("EachListedOf(nope): %v, want ErrNoRun", err)
	}
}

// TestDB_LostResponses builds runs in and out of a period, their lost
// responses and repairs of every sort, and counts what the period found
// and repaired.
func TestDB_LostResponses(t *testing.T) {
	ctx := context.Background()
	db := MustOpenTemp(t)
	day := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	lost, mismatch := reconcile.LostResponse, reconcile.ResultMismatch
	list := func(run string, start time.Time, ds map[int]reconcile.Kind) {
		MustCreateRun(t, db, run, start)
		l, err := db.Listing(ctx, run)
		if err != nil {
			t.Fatal(err)
		}
		for p := range 20 {
			if k, ok := ds[p]; ok {
				if err := l.Write(reconcile.Discrepancy{Kind: k, Local: reconcile.Local{Row: p + 2, ProcessID: uuid(p)}}); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	repair := func(id, run string, applied bool, ps ...state.Repaired) {
		MustCreateRepair(t, db, id, run, day.Add(36*time.Hour), applied) // after the period: still counts
		if err := db.RecordRepaired(ctx, id, ps); err != nil {
			t.Fatal(err)
		}
	}
	rp := func(p int, k reconcile.Kind, o state.RepairOutcome) state.Repaired {
		return state.Repaired{uuid(p), k, o}
	}
	list("before", day.Add(-time.Hour), map[int]reconcile.Kind{10: lost})
	list("r1", day.Add(time.Hour), map[int]reconcile.Kind{0: lost, 1: lost, 2: lost, 3: lost, 4: lost, 5: mismatch, 6: lost})
	list("r2", day.Add(20*time.Hour), map[int]reconcile.Kind{0: lost, 7: lost, 8: lost, 9: lost})
	list("after", day.Add(30*time.Hour), map[int]reconcile.Kind{11: lost, 9: lost})
	repair("a1", "r1", true, rp(0, lost, state.RepairChanged), rp(1, lost, state.RepairDone),
		rp(2, lost, state.RepairConflict), rp(3, lost, state.RepairMissing), rp(5, mismatch, state.RepairChanged))
	repair("dry", "r1", false, rp(4, lost, state.RepairChanged)) // a dry run changes nothing
	repair("csv", "r2", false, rp(7, lost, state.RepairWritten)) // nor does repairs.csv alone
	repair("a2", "r2", true, rp(0, lost, state.RepairDone), rp(8, lost, state.RepairChanged))
	repair("a3", "after", true, rp(9, lost, state.RepairChanged), rp(11, lost, state.RepairChanged)) // a run outside the period
	repair("a4", "before", true, rp(10, lost, state.RepairChanged))

	for _, tt := range []struct {
		name     string
		from, to time.Time
		want     state.LostCounts
	}{
		// Found: 0..4, 6, 7, 8, 9 (0 twice, once counted; 5 is a mismatch).
		// Repaired: 0 (changed by a1, done by a2), 1 (done), 8 (changed);
		// not 2 (conflict), 3 (missing), 4 (dry run), 6 (never repaired),
		// 7 (csv only), 9 (by a repair of a run after the period).
		{"Day", day, day.Add(24 * time.Hour), state.LostCounts{Found: 9, Repaired: 3}},
		{"FirstRunOnly", day, day.Add(2 * time.Hour), state.LostCounts{Found: 6, Repaired: 2}},
		{"TwoDays", day, day.Add(48 * time.Hour), state.LostCounts{Found: 10, Repaired: 5}},
		{"WithBefore", day.Add(-24 * time.Hour), day.Add(2 * time.Hour), state.LostCounts{Found: 7, Repaired: 3}},
		{"Empty", day.Add(100 * time.Hour), day.Add(200 * time.Hour), state.LostCounts{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := db.LostResponses(ctx, tt.from, tt.to)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("LostResponses = %+v, want %+v", got, tt.want)
			}
		})
	}
}
