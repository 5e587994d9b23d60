package state_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
	"github.com/unico-reconcile/unico-reconcile/state"
)

// mustRecord records answers 0..n-1 (process uuid(i) at seq i) from 32
// goroutines at once, then closes the journal.
func mustRecord(tb testing.TB, db *state.DB, run string, n int) {
	tb.Helper()
	j := MustJournal(tb, db, run)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for g := range 32 {
		wg.Go(func() {
			for i := g; i < n; i += 32 {
				r, k := result(i)
				if err := j.Record(i, uuid(i), r, k); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatalf("Record: %v", err)
	}
	if err := j.Close(); err != nil {
		tb.Fatal(err)
	}
}

// TestJournal_Lookup records answers from 32 goroutines, then looks them
// up as a resumed run would, with the source unchanged or changed since.
func TestJournal_Lookup(t *testing.T) {
	const n = 3000 // several of the reader's chunks
	db := MustOpenTemp(t)
	MustCreateRun(t, db, "r", at)
	mustRecord(t, db, "r", n)

	type ask struct {
		seq, i int // Lookup(seq, uuid(i)); i < 0 is a process never recorded
	}
	var unchanged, inserted, removed, shuffled, misses []ask
	for i := range n {
		unchanged = append(unchanged, ask{i, i})
		inserted = append(inserted, ask{i + 1 + i/100, i}) // a new row before each 100
		if i%10 != 0 {
			removed = append(removed, ask{len(removed), i}) // one row in 10 gone
		}
	}
	for s, i := range rand.New(rand.NewPCG(1, 2)).Perm(n) {
		shuffled = append(shuffled, ask{s, i})
	}
	misses = append(misses, ask{0, -1}, ask{1, 1}, ask{2, -2}, ask{n, -3}, ask{n + 1, n - 1})
	for _, tt := range []struct {
		name string
		asks []ask
	}{
		{"Unchanged", unchanged},
		{"Inserted", inserted},
		{"Removed", removed},
		{"Shuffled", shuffled},
		{"Misses", misses},
	} {
		t.Run(tt.name, func(t *testing.T) {
			j := MustJournal(t, db, "r")
			for _, a := range tt.asks {
				pid := uuid(a.i)
				if a.i < 0 {
					pid = uuid(n - a.i)
				}
				got, ok, err := j.Lookup(a.seq, pid)
				if err != nil {
					t.Fatalf("Lookup(%d, %s): %v", a.seq, pid, err)
				}
				if ok != (a.i >= 0) {
					t.Fatalf("Lookup(%d, %s) found=%v, want %v", a.seq, pid, ok, a.i >= 0)
				}
				if !ok {
					continue
				}
				want, _ := result(a.i)
				if diff := cmp.Diff(want, got, exact); diff != "" {
					t.Fatalf("Lookup(%d, %s) (-want +got):\n%s", a.seq, pid, diff)
				}
			}
		})
	}
}

// TestJournal_Record_SurvivesCrash: each Record returns once its answer is
// in the answers log. A journal that dies before importing anything (as a
// killed process does) loses none: the next journal imports the log, and
// removes it.
func TestJournal_Record_SurvivesCrash(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	db := MustOpen(t, path)
	MustCreateRun(t, db, "r", at)
	defer state.SetImportEvery(time.Hour)()
	j := MustJournal(t, db, "r")
	const n = 200
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := g; i < n; i += 8 {
				r, k := result(i)
				if err := j.Record(i, uuid(i), r, k); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	j.Crash()
	if got, err := db.Answered(ctx, "r"); err != nil || got != 0 {
		t.Fatalf("Answered after the crash = %d, %v; want 0 (nothing imported: the test would prove nothing)", got, err)
	}
	if logs := MustGlob(t, path+"-answers.*"); len(logs) == 0 {
		t.Fatal("no answers log left by the crashed journal")
	}

	again := MustJournal(t, db, "r") // the next run's journal
	if got, err := db.Answered(ctx, "r"); err != nil || got != n {
		t.Fatalf("Answered after the next journal opened = %d, %v; want %d", got, err, n)
	}
	for i := range n {
		got, ok, err := again.Lookup(i, uuid(i))
		want, _ := result(i)
		if err != nil || !ok {
			t.Fatalf("Lookup(%d) = %v, %v", i, ok, err)
		}
		if diff := cmp.Diff(want, got, exact); diff != "" {
			t.Fatalf("answer %d (-want +got):\n%s", i, diff)
		}
	}
	if err := again.Close(); err != nil {
		t.Fatal(err)
	}
	if logs := MustGlob(t, path+"-answers.*"); len(logs) != 0 {
		t.Errorf("answers log left after a clean close: %v", logs)
	}
}

// TestJournal_Record_Bounded: when maxQueued records wait for the importer,
// Record waits and wakes it, rather than queueing without end (or waiting
// for its next tick).
func TestJournal_Record_Bounded(t *testing.T) {
	ctx := context.Background()
	db := MustOpenTemp(t)
	MustCreateRun(t, db, "r", at)
	defer state.SetImportEvery(time.Hour)()
	defer state.SetMaxQueued(10)()
	j := MustJournal(t, db, "r")
	const n = 100
	done := make(chan error, 1)
	go func() {
		for i := range n {
			r, k := result(i)
			if err := j.Record(i, uuid(i), r, k); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Record waits for room that the importer is never asked to make")
	}
	// All but the last few (at most 10 queued) reach the database without
	// waiting for the importer's hour-long tick: it was woken as they
	// queued. Its last transaction may still be committing: wait for it.
	got, deadline := 0, time.Now().Add(5*time.Second)
	for got < n-10 && time.Now().Before(deadline) {
		var err error
		if got, err = db.Answered(ctx, "r"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got < n-10 {
		t.Errorf("Answered before Close = %d; want at least %d: the importer ran as records queued", got, n-10)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestJournal_Log_Segments: a long run's log is cut into segments, and
// each is removed once its answers are in the database, so the log stays
// small; every answer arrives.
func TestJournal_Log_Segments(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	db := MustOpen(t, path)
	MustCreateRun(t, db, "r", at)
	defer state.SetSegmentBytes(4096)()
	j := MustJournal(t, db, "r")
	const n, burst = 3000, 500 // each burst fills several segments
	for i := range n {
		r, k := result(i)
		if err := j.Record(i, uuid(i), r, k); err != nil {
			t.Fatal(err)
		}
		if (i+1)%burst != 0 {
			continue
		}
		// Between bursts the importer catches up: the full segments go,
		// and only the one being written stays.
		deadline := time.Now().Add(5 * time.Second)
		for len(MustGlob(t, path+"-answers.*")) > 1 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if logs := MustGlob(t, path+"-answers.*"); len(logs) > 1 {
			t.Fatalf("after %d answers, %d segments stay: imported segments are not removed", i+1, len(logs))
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if got, err := db.Answered(ctx, "r"); err != nil || got != n {
		t.Errorf("Answered = %d, %v; want %d", got, err, n)
	}
	if logs := MustGlob(t, path+"-answers.*"); len(logs) != 0 {
		t.Errorf("answers log left after Close: %v", logs)
	}
}

// TestJournal_Record_Replace: a process fetched again in the same run keeps
// only its last answer.
func TestJournal_Record_Replace(t *testing.T) {
	ctx := context.Background()
	db := MustOpenTemp(t)
	MustCreateRun(t, db, "r", at)
	MustCreateRun(t, db, "copy", at)
	j := MustJournal(t, db, "r")
	first, _ := result(5)
	second, _ := result(0)
	second.Remote.ID = uuid(7)
	for _, rec := range []struct {
		seq int
		r   reconcile.Result
		k   reconcile.Kind
	}{{7, first, reconcile.Unverified}, {7, second, reconcile.Match}} {
		if err := j.Record(rec.seq, uuid(7), rec.r, rec.k); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	n, err := db.CopyAnswers(ctx, "r", "copy")
	if err != nil || n != 1 {
		t.Fatalf("CopyAnswers = %d, %v; want 1 row", n, err)
	}
	if got, err := db.Answered(ctx, "r"); err != nil || got != 1 {
		t.Errorf("Answered = %d, %v; want 1 (the first record replaced)", got, err)
	}
	for _, seq := range []int{5, 7} { // 5: found by process id
		j := MustJournal(t, db, "r")
		got, ok, err := j.Lookup(seq, uuid(7))
		if err != nil || !ok {
			t.Fatalf("Lookup(%d) = %v, %v", seq, ok, err)
		}
		if diff := cmp.Diff(second, got, exact); diff != "" {
			t.Errorf("Lookup(%d) (-want +got):\n%s", seq, diff)
		}
		j.Close()
	}
}

func TestJournal_Errors(t *testing.T) {
	ctx := context.Background()
	db := MustOpenTemp(t)
	MustCreateRun(t, db, "r", at)
	if _, err := db.Journal(ctx, "nope"); !errors.Is(err, state.ErrNoRun) {
		t.Errorf("Journal(nope): %v, want ErrNoRun", err)
	}
	j := MustJournal(t, db, "r")
	r, k := result(0)
	for _, id := range []string{"", "not-a-uuid", "00000000-0000-0000-0000-00000000000g", "00000000x0000-0000-0000-000000000000"} {
		if err := j.Record(0, id, r, k); err == nil {
			t.Errorf("Record(%q) succeeded", id)
		}
		if _, _, err := j.Lookup(0, id); err == nil {
			t.Errorf("Lookup(%q) succeeded", id)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if err := j.Record(0, uuid(0), r, k); !errors.Is(err, state.ErrClosed) {
		t.Errorf("Record after Close: %v, want ErrClosed", err)
	}
	if _, _, err := j.Lookup(0, uuid(0)); !errors.Is(err, state.ErrClosed) {
		t.Errorf("Lookup after Close: %v, want ErrClosed", err)
	}
	if err := j.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestDB_CopyAnswers(t *testing.T) {
	ctx := context.Background()
	const n = 100
	db := MustOpenTemp(t)
	MustCreateRun(t, db, "from", at)
	MustCreateRun(t, db, "to", at)
	mustRecord(t, db, "from", n)

	want := 0
	for i := range n {
		if _, k := result(i); k != reconcile.Unverified {
			want++
		}
	}
	got, err := db.CopyAnswers(ctx, "from", "to")
	if err != nil || got != want {
		t.Fatalf("CopyAnswers = %d, %v; want %d", got, err, want)
	}
	for run, want := range map[string]int{"from": n, "to": want} {
		if got, err := db.Answered(ctx, run); err != nil || got != want {
			t.Errorf("Answered(%s) = %d, %v; want %d", run, got, err, want)
		}
	}
	j := MustJournal(t, db, "to")
	for i := range n {
		wantR, k := result(i)
		r, ok, err := j.Lookup(i, uuid(i))
		if err != nil {
			t.Fatal(err)
		}
		if ok != (k != reconcile.Unverified) {
			t.Fatalf("answer %d (%s) copied=%v", i, k, ok)
		}
		if diff := cmp.Diff(wantR, r, exact); ok && diff != "" {
			t.Errorf("answer %d (-want +got):\n%s", i, diff)
		}
	}
	if _, err := db.CopyAnswers(ctx, "from", "nope"); !errors.Is(err, state.ErrNoRun) {
		t.Errorf("CopyAnswers to nope: %v, want ErrNoRun", err)
	}
}

func TestDB_Recovered(t *testing.T) {
	ctx := context.Background()
	db := MustOpenTemp(t)
	MustCreateRun(t, db, "from", at)
	MustCreateRun(t, db, "to", at)
	// Run from listed four unverified processes (0, 1, 2, 3) and others.
	l, err := db.Listing(ctx, "from")
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range []reconcile.Kind{reconcile.Unverified, reconcile.Unverified, reconcile.NotFound,
		reconcile.Unverified, reconcile.Unverified, reconcile.StatusMismatch} {
		pid := uuid(i)
		if i == 4 {
			pid = uuid(0) // listed twice: counted once
		}
		if err := l.Write(reconcile.Discrepancy{Kind: k, Local: reconcile.Local{Row: i + 2, ProcessID: pid}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// Run to answered 0 (match) and 1 (unverified again), not 3; 2 and 5
	// were not re-checked.
	j := MustJournal(t, db, "to")
	for _, a := range []struct {
		i int
		k reconcile.Kind
	}{{0, reconcile.Match}, {1, reconcile.Unverified}, {2, reconcile.Match}, {5, reconcile.Match}} {
		r, _ := result(a.i)
		if err := j.Record(a.i, uuid(a.i), r, a.k); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	rechecked, recovered, err := db.Recovered(ctx, "from", "to")
	if err != nil || rechecked != 3 || recovered != 1 {
		t.Errorf("Recovered = %d, %d, %v; want 3, 1", rechecked, recovered, err)
	}
}

// TestJournal_Record_ErrImport: when the import into the database fails
// (here the run's row is gone under the journal), Record soon fails too, so
// the run stops; Close reports the error, and the log stays for the next
// run to import.
func TestJournal_Record_ErrImport(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	db := MustOpen(t, path)
	MustCreateRun(t, db, "r", at)
	defer state.SetImportEvery(time.Millisecond)()
	j := MustJournal(t, db, "r")
	if err := db.Exec(ctx, "DELETE FROM runs"); err != nil { // foreign key: inserts now fail
		t.Fatal(err)
	}
	var err error
	deadline := time.Now().Add(5 * time.Second)
	for i := 0; err == nil && time.Now().Before(deadline); i++ {
		r, k := result(i)
		err = j.Record(i, uuid(i), r, k)
	}
	if err == nil {
		t.Fatal("Record kept succeeding after the import failed")
	}
	if cerr := j.Close(); cerr == nil {
		t.Error("Close = nil after the import failed")
	}
	if logs := MustGlob(t, path+"-answers.*"); len(logs) == 0 {
		t.Error("the log was removed although its answers were never imported")
	}
}
