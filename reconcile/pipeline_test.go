package reconcile_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

// rows is a Source over a slice.
type rows []reconcile.Local

func (r rows) Each(ctx context.Context, fn func(reconcile.Local) error) error {
	for _, l := range r {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(l); err != nil {
			return err
		}
	}
	return nil
}

// fetcher answers from a map after a random short delay, so that answers
// complete out of order; it counts calls per id.
type fetcher struct {
	remote map[string]reconcile.Result
	fatal  map[string]error
	block  chan struct{} // when set, every Fetch waits for it or ctx
	mu     sync.Mutex
	calls  map[string]int
	n      atomic.Int64
}

func (f *fetcher) Fetch(ctx context.Context, id string) (reconcile.Result, error) {
	f.mu.Lock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[id]++
	f.mu.Unlock()
	f.n.Add(1)
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return reconcile.Result{}, ctx.Err()
		}
	}
	time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond)
	if err := f.fatal[id]; err != nil {
		return reconcile.Result{}, err
	}
	if r, ok := f.remote[id]; ok {
		r.Attempts = 1
		return r, nil
	}
	return reconcile.Result{NotFound: true, HTTPStatus: 404, Attempts: 1}, nil
}

// sink records what it is given.
type sink struct {
	got []reconcile.Discrepancy
	err error
}

func (s *sink) Write(d reconcile.Discrepancy) error {
	s.got = append(s.got, d)
	return s.err
}

func id(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }

func finished(n int) reconcile.Result {
	return reconcile.Result{Remote: &reconcile.Remote{ID: id(n), Outcome: reconcile.Outcome{Status: 3}}, HTTPStatus: 200}
}

func TestRun_SourceOrderAndCounts(t *testing.T) {
	const n = 2000
	var src rows
	f := &fetcher{remote: map[string]reconcile.Result{}}
	for i := range n {
		l := reconcile.Local{Row: i + 2, ProcessID: id(i)}
		switch i % 5 {
		case 0: // lost response
			f.remote[id(i)] = finished(i)
		case 1, 2: // match
			l.Status = 3
			f.remote[id(i)] = finished(i)
		case 3: // not found
		case 4: // invalid
			l.ProcessID = "not-a-uuid"
			l.Invalid = errors.New("bad id")
		}
		src = append(src, l)
	}
	src = append(src, reconcile.Local{Row: n + 2, ProcessID: id(0)}) // a repeat
	var out sink
	sum, err := reconcile.Run(context.Background(), src, f, &out, reconcile.Options{Workers: 8, Window: 16})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(out.got); i++ {
		if out.got[i].Local.Row <= out.got[i-1].Local.Row {
			t.Fatalf("report out of source order at %d: row %d after row %d", i, out.got[i].Local.Row, out.got[i-1].Local.Row)
		}
	}
	want := map[reconcile.Kind]int{
		reconcile.LostResponse: n / 5, reconcile.Match: 2 * n / 5, reconcile.NotFound: n / 5,
		reconcile.InvalidInput: n / 5, reconcile.DuplicateID: 1,
	}
	for k, w := range want {
		if got := sum.Counts[k]; got != w {
			t.Errorf("Counts[%s]=%d, want %d", k, got, w)
		}
	}
	if got, want := sum.Total, n+1; got != want {
		t.Errorf("Total=%d, want %d", got, want)
	}
	if got, want := len(out.got), sum.Discrepancies(); got != want {
		t.Errorf("sink got %d, want %d listed", got, want)
	}
	if got, want := f.calls[id(0)], 1; got != want {
		t.Errorf("repeated id fetched %d times, want %d", got, want)
	}
	if got, want := sum.Requests, int(f.n.Load()); got != want {
		t.Errorf("Requests=%d, want %d", got, want)
	}
	if got, want := sum.Code(), reconcile.ExitDiscrepancies; got != want {
		t.Errorf("Code()=%d, want %d", got, want)
	}
}

func TestRun_SinceUntil(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2026, 1, d, 0, 0, 0, 0, time.UTC) }
	src := rows{
		{Row: 2, ProcessID: id(1), SavedAt: day(1)},
		{Row: 3, ProcessID: id(2), SavedAt: day(2)},
		{Row: 4, ProcessID: id(3), SavedAt: day(3)},
		{Row: 5, ProcessID: id(4)}, // unknown saved_at: out
		{Row: 6, ProcessID: "x", Invalid: errors.New("bad")},
	}
	f := &fetcher{}
	sum, err := reconcile.Run(context.Background(), src, f, &sink{}, reconcile.Options{Since: day(2), Until: day(3)})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := f.calls[id(2)], 1; got != want || len(f.calls) != 1 {
		t.Errorf("fetched %v, want only %s", f.calls, id(2))
	}
	if got, want := sum.Counts[reconcile.InvalidInput], 1; got != want {
		t.Errorf("invalid rows reported %d, want %d (never dropped by the filter)", got, want)
	}
}

func TestRun_FatalStops(t *testing.T) {
	var src rows
	for i := range 10000 {
		src = append(src, reconcile.Local{Row: i + 2, ProcessID: id(i)})
	}
	errKey := errors.New("APIKEY rejected")
	f := &fetcher{fatal: map[string]error{id(5): errKey}}
	_, err := reconcile.Run(context.Background(), src, f, &sink{}, reconcile.Options{Workers: 4, Window: 8})
	if !errors.Is(err, errKey) {
		t.Fatalf("Run: %v, want %v", err, errKey)
	}
	if got := f.n.Load(); got > 100 {
		t.Errorf("%d fetches after a fatal error: the run did not stop at once", got)
	}
}

func TestRun_SinkErrorStops(t *testing.T) {
	src := rows{{Row: 2, ProcessID: id(1)}, {Row: 3, ProcessID: id(2)}}
	errDisk := errors.New("disk full")
	_, err := reconcile.Run(context.Background(), src, &fetcher{}, &sink{err: errDisk}, reconcile.Options{})
	if !errors.Is(err, errDisk) {
		t.Fatalf("Run: %v, want %v", err, errDisk)
	}
}

func TestRun_InterruptedAccountsForEveryRow(t *testing.T) {
	var src rows
	for i := range 500 {
		src = append(src, reconcile.Local{Row: i + 2, ProcessID: id(i)})
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &fetcher{block: make(chan struct{})}
	go func() {
		for f.n.Load() < 4 {
			time.Sleep(time.Millisecond)
		}
		cancel() // a signal while 4 fetches are in flight
	}()
	var out sink
	sum, err := reconcile.Run(ctx, src, f, &out, reconcile.Options{Workers: 4})
	if err != nil {
		t.Fatalf("Run: %v, want nil (an interruption is not an error)", err)
	}
	if !sum.Interrupted {
		t.Error("Interrupted=false, want true")
	}
	if got, want := sum.Counts[reconcile.Unverified], 500; got != want {
		t.Errorf("unverified=%d, want %d", got, want)
	}
	if got, want := len(out.got), 500; got != want {
		t.Errorf("listed %d, want %d", got, want)
	}
	if got, want := sum.Code(), reconcile.ExitIncomplete; got != want {
		t.Errorf("Code()=%d, want %d", got, want)
	}
}

// journal is a Journal over a map, keyed by process id; it remembers which
// seq each process was recorded at.
type journal struct {
	mu       sync.Mutex
	answers  map[string]reconcile.Result
	recorded map[string]int
	kinds    map[string]reconcile.Kind
	lookups  []int
	err      error
}

func (j *journal) Lookup(seq int, pid string) (reconcile.Result, bool, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.lookups = append(j.lookups, seq)
	r, ok := j.answers[pid]
	return r, ok, nil
}

func (j *journal) Record(seq int, pid string, r reconcile.Result, k reconcile.Kind) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err != nil {
		return j.err
	}
	if j.recorded == nil {
		j.recorded, j.kinds = map[string]int{}, map[string]reconcile.Kind{}
	}
	j.recorded[pid], j.kinds[pid] = seq, k
	return nil
}

func TestRun_JournalAnswersAndRecords(t *testing.T) {
	src := rows{
		{Row: 2, ProcessID: id(1), Outcome: reconcile.Outcome{Status: 3}},
		{Row: 3, ProcessID: "bad", Invalid: errors.New("bad id")},
		{Row: 4, ProcessID: id(2)},
		{Row: 5, ProcessID: id(1)}, // a repeat: never looked up
		{Row: 6, ProcessID: id(3), Outcome: reconcile.Outcome{Status: 3}},
	}
	// id(1) was answered before the crash (finished: a match); id(2) and
	// id(3) were not.
	j := &journal{answers: map[string]reconcile.Result{id(1): {
		Remote: &reconcile.Remote{ID: id(1), Outcome: reconcile.Outcome{Status: 3}}, HTTPStatus: 200, Attempts: 2}}}
	f := &fetcher{remote: map[string]reconcile.Result{id(2): finished(2), id(3): finished(3)}}
	sum, err := reconcile.Run(context.Background(), src, f, &sink{}, reconcile.Options{Workers: 2, Journal: j})
	if err != nil {
		t.Fatal(err)
	}
	if f.calls[id(1)] != 0 {
		t.Errorf("a recorded process was fetched again: calls %v", f.calls)
	}
	if got, want := j.lookups, []int{0, 2, 4}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("lookups at seq %v, want %v (valid first-seen rows, in order)", got, want)
	}
	if got, want := j.recorded, map[string]int{id(2): 2, id(3): 4}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("recorded %v, want %v (new answers only, at their seq)", got, want)
	}
	if got, want := j.kinds[id(2)], reconcile.LostResponse; got != want {
		t.Errorf("recorded kind %s, want %s", got, want)
	}
	if sum.Counts[reconcile.Match] != 2 || sum.Counts[reconcile.LostResponse] != 1 {
		t.Errorf("counts %v: the recorded answer must be compared like a fetched one", sum.Counts)
	}
	if got, want := sum.Reused, 1; got != want {
		t.Errorf("Reused=%d, want %d", got, want)
	}
	if got, want := sum.Requests, 2+2; got != want {
		t.Errorf("Requests=%d, want %d (the recorded attempts count: the reports cover the whole run)", got, want)
	}
}

func TestRun_JournalErrorStops(t *testing.T) {
	var src rows
	for i := range 1000 {
		src = append(src, reconcile.Local{Row: i + 2, ProcessID: id(i)})
	}
	errDisk := errors.New("disk full")
	f := &fetcher{}
	_, err := reconcile.Run(context.Background(), src, f, &sink{}, reconcile.Options{Workers: 4, Journal: &journal{err: errDisk}})
	if !errors.Is(err, errDisk) {
		t.Fatalf("Run: %v, want %v", err, errDisk)
	}
	if got := f.n.Load(); got > 100 {
		t.Errorf("%d fetches after the journal failed: the run did not stop", got)
	}
}

func TestRun_StopFinishesInFlight(t *testing.T) {
	var src rows
	for i := range 500 {
		src = append(src, reconcile.Local{Row: i + 2, ProcessID: id(i)})
	}
	f := &fetcher{block: make(chan struct{})}
	stop := make(chan struct{})
	go func() {
		for f.n.Load() < 4 {
			time.Sleep(time.Millisecond)
		}
		close(stop)    // the time limit, while 4 fetches are in flight
		close(f.block) // which then complete
	}()
	j := &journal{}
	sum, err := reconcile.Run(context.Background(), src, f, &sink{}, reconcile.Options{Workers: 4, Stop: stop, Journal: j})
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Interrupted {
		t.Error("Interrupted=false, want true")
	}
	if got, want := int(f.n.Load()), 4; got != want {
		t.Errorf("%d fetches, want %d: none may start after Stop", got, want)
	}
	if got, want := len(j.recorded), 4; got != want {
		t.Errorf("%d answers recorded, want the %d in flight (finished, not dropped)", got, want)
	}
	if got, want := sum.Counts[reconcile.NotFound], 4; got != want {
		t.Errorf("not_found=%d, want %d (in-flight fetches finish)", got, want)
	}
	if got, want := sum.Counts[reconcile.Unverified], 496; got != want {
		t.Errorf("unverified=%d, want %d", got, want)
	}
}

// outageErr is what a Fetcher returns when the API stayed unavailable.
type outageErr struct{}

func (outageErr) Error() string        { return "API unavailable since 02:14:07Z: connection refused" }
func (outageErr) Is(target error) bool { return target == reconcile.ErrOutage }

// TestRun_OutageEndsFetching: an outage is not fatal: fetching stops, the
// process and every one after it are unverified with the outage as detail,
// the reports are in source order and the run is interrupted.
func TestRun_OutageEndsFetching(t *testing.T) {
	const n = 5000
	var src rows
	f := &fetcher{remote: map[string]reconcile.Result{}, fatal: map[string]error{id(100): outageErr{}}}
	for i := range n {
		src = append(src, reconcile.Local{Row: i + 2, ProcessID: id(i), Outcome: reconcile.Outcome{Status: 3}})
		f.remote[id(i)] = finished(i)
	}
	s := &sink{}
	sum, err := reconcile.Run(context.Background(), src, outageAttempts{f}, s, reconcile.Options{Workers: 4, Window: 16})
	if err != nil {
		t.Fatalf("Run: %v, want the outage absorbed", err)
	}
	if sum.Requests < sum.Counts[reconcile.Match]+3 {
		t.Errorf("%d requests for %d matches: the outage's 3 attempts are not counted", sum.Requests, sum.Counts[reconcile.Match])
	}
	if !sum.Interrupted || sum.Total != n || sum.Code() != reconcile.ExitIncomplete {
		t.Fatalf("summary %+v: want every row, interrupted, exit 3", sum)
	}
	if got := f.n.Load(); got > 200 {
		t.Errorf("%d fetches: fetching went on after the outage", got)
	}
	unv := sum.Counts[reconcile.Unverified]
	if unv < n-100-16 || unv != len(s.got) {
		t.Fatalf("%d unverified, %d listed; want about every process from the outage on", unv, len(s.got))
	}
	for i, d := range s.got {
		if d.Detail != (outageErr{}).Error() {
			t.Fatalf("listed %d: detail %q, want the outage's", i, d.Detail)
		}
		if i > 0 && d.Local.Row <= s.got[i-1].Local.Row {
			t.Fatalf("listed out of source order at %d", i)
		}
	}
}

// outageAttempts reports that the fetch that met the outage cost 3
// requests.
type outageAttempts struct{ f *fetcher }

func (o outageAttempts) Fetch(ctx context.Context, id string) (reconcile.Result, error) {
	r, err := o.f.Fetch(ctx, id)
	if errors.Is(err, reconcile.ErrOutage) {
		r.Attempts = 3
	}
	return r, err
}

// waiter is a Fetcher that holds its first fetch (a process in back-off)
// until the others are done, as fetch.Client does with InFlight.
type waiter struct {
	release chan struct{}
	others  atomic.Int64
	first   atomic.Bool
}

func (w *waiter) Fetch(ctx context.Context, pid string) (reconcile.Result, error) {
	if !w.first.Swap(true) {
		<-w.release
	} else if w.others.Add(1) == 20 {
		close(w.release)
	}
	return reconcile.Result{Remote: &reconcile.Remote{ID: pid, Outcome: reconcile.Outcome{Status: 3}}, HTTPStatus: 200, Attempts: 1}, nil
}

// TestRun_InProgressBeyondWorkers: with InProgress, a process held by its
// Fetcher does not keep the others from being fetched; the reports stay in
// source order.
func TestRun_InProgressBeyondWorkers(t *testing.T) {
	var src rows
	for i := range 40 {
		src = append(src, reconcile.Local{Row: i + 2, ProcessID: id(i), Outcome: reconcile.Outcome{Status: 3}})
	}
	w := &waiter{release: make(chan struct{})}
	done := make(chan reconcile.Summary, 1)
	go func() {
		sum, err := reconcile.Run(context.Background(), src, w, &sink{}, reconcile.Options{Workers: 1, InProgress: 32})
		if err != nil {
			t.Error(err)
		}
		done <- sum
	}()
	select {
	case sum := <-done:
		if sum.Counts[reconcile.Match] != 40 {
			t.Fatalf("summary %+v, want 40 matches", sum)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the held process kept every other from being fetched (InProgress ignored)")
	}
}
