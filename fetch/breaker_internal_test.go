package fetch

import (
	"testing"
	"time"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time      { return c.t }
func (c *fakeClock) add(d time.Duration) { c.t = c.t.Add(d) }
func newFakeClock() *fakeClock           { return &fakeClock{t: time.Date(2026, 12, 7, 2, 14, 7, 0, time.UTC)} }
func newTestBreaker() *breaker           { return &breaker{ProbeMin: time.Second, ProbeMax: 15 * time.Second} }
func (b *breaker) fails(now time.Time, n int) {
	for range n {
		b.report(now, pass, true)
	}
}

func TestRetryBudget(t *testing.T) {
	var b retryBudget
	if b.spent() || b.level() != budgetTokens {
		t.Fatalf("zero budget: level %v, spent %v; want full", b.level(), b.spent())
	}
	// Failures in a row: spent at half.
	for i := 1; i <= budgetTokens/2; i++ {
		spent := b.fail()
		if want := i == budgetTokens/2; spent != want {
			t.Fatalf("after %d failures: spent=%v, want %v", i, spent, want)
		}
	}
	b.succeed()
	if b.spent() {
		t.Fatal("a success did not give a token back")
	}
	// 30% failures, interleaved, never spend it: a success gives back what
	// a failure takes.
	b.refill()
	for i := range 10_000 {
		if i%10 < 3 {
			b.fail()
		} else {
			b.succeed()
		}
		if b.spent() {
			t.Fatalf("budget spent after %d requests at 30%% failures", i+1)
		}
	}
	// 60% failures spend it.
	b.refill()
	spentAt := -1
	for i := range 1000 {
		if i%5 < 3 {
			if b.fail() && spentAt < 0 {
				spentAt = i
			}
		} else {
			b.succeed()
		}
	}
	if spentAt < 0 {
		t.Fatal("60% failures never spent the budget")
	}
	// Never below zero, never above full.
	for range 3 * budgetTokens {
		b.fail()
	}
	if b.level() != 0 {
		t.Fatalf("level %v after many failures, want 0", b.level())
	}
	for range 3 * budgetTokens {
		b.succeed()
	}
	if b.level() != budgetTokens {
		t.Fatalf("level %v after many successes, want %v", b.level(), budgetTokens)
	}
}

func TestBreaker_OpensProbesCloses(t *testing.T) {
	clk := newFakeClock()
	b := newTestBreaker()
	start := clk.now()
	if tk, _ := b.admit(clk.now()); tk != pass {
		t.Fatalf("closed breaker: admit=%v, want pass", tk)
	}
	for i := 1; i < budgetTokens/2; i++ {
		if b.report(clk.now(), pass, true) {
			t.Fatalf("open after %d failures, want closed until %d", i, budgetTokens/2)
		}
		clk.add(10 * time.Millisecond)
	}
	if !b.report(clk.now(), pass, true) {
		t.Fatal("still closed after half the budget's failures in a row")
	}
	if !b.since.Equal(start) {
		t.Fatalf("outage since %v, want the first failure %v", b.since, start)
	}
	// Open: nobody sends until the first probe, a second later.
	tk, d := b.admit(clk.now())
	if tk != wait || d != time.Second {
		t.Fatalf("just opened: admit=%v, %v; want wait 1s", tk, d)
	}
	// Probes are spaced 1, 2, 4, 8, 15, 15 s, one at a time.
	for i, spacing := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 15 * time.Second, 15 * time.Second} {
		clk.add(spacing - time.Millisecond)
		if tk, _ := b.admit(clk.now()); tk != wait {
			t.Fatalf("probe %d: admitted %v before its spacing %v", i+1, tk, spacing)
		}
		clk.add(time.Millisecond)
		if tk, _ := b.admit(clk.now()); tk != probe {
			t.Fatalf("probe %d: admit=%v after %v, want probe", i+1, tk, spacing)
		}
		if tk, d := b.admit(clk.now()); tk != wait || d != 0 {
			t.Fatalf("probe %d in flight: a second caller got %v, %v; want wait for it", i+1, tk, d)
		}
		// A late failure of a request sent before it opened changes nothing.
		b.report(clk.now(), pass, true)
		if tk, _ := b.admit(clk.now()); tk != wait {
			t.Fatalf("probe %d in flight: admit=%v after a late failure, want wait", i+1, tk)
		}
		if !b.report(clk.now(), probe, true) {
			t.Fatalf("probe %d failed: breaker closed", i+1)
		}
	}
	if b.probes != 6 {
		t.Fatalf("probes=%d, want 6", b.probes)
	}
	// Outage timeout: counted from the first failure.
	watched := clk.now().Sub(start)
	if !b.down(clk.now(), watched) || b.down(clk.now(), watched+time.Millisecond) {
		t.Fatalf("down: want true at exactly %v since the first failure, false past it", watched)
	}
	// The first answer closes it; everyone passes, and the budget is full.
	clk.add(15 * time.Second)
	if tk, _ := b.admit(clk.now()); tk != probe {
		t.Fatal("no probe after 15s")
	}
	if b.report(clk.now(), probe, false) {
		t.Fatal("a probe's answer did not close the breaker")
	}
	if tk, _ := b.admit(clk.now()); tk != pass {
		t.Fatalf("closed again: admit=%v, want pass", tk)
	}
	if b.budget.level() != budgetTokens || b.down(clk.now(), 0) {
		t.Fatalf("closed again: budget %v, down %v; want full and up", b.budget.level(), b.down(clk.now(), 0))
	}
	// A new spell starts its spacing at 1 s again.
	b.fails(clk.now(), budgetTokens/2)
	if tk, d := b.admit(clk.now()); tk != wait || d != time.Second {
		t.Fatalf("opened again: admit=%v, %v; want wait 1s", tk, d)
	}
}

func TestBreaker_FlakyAPIStaysClosed(t *testing.T) {
	clk := newFakeClock()
	b := newTestBreaker()
	// 30% failures, spread: never open. Three in a row are fine too.
	for i := range 10_000 {
		if b.report(clk.now(), pass, i%10 < 3) {
			t.Fatalf("opened after %d requests at 30%% failures", i+1)
		}
		clk.add(5 * time.Millisecond)
	}
}

func TestBreaker_LateSuccessCloses(t *testing.T) {
	clk := newFakeClock()
	b := newTestBreaker()
	b.fails(clk.now(), budgetTokens/2)
	if !b.open {
		t.Fatal("not open")
	}
	// A request sent before it opened is answered: the API is there.
	if b.report(clk.now(), pass, false) {
		t.Fatal("an answer did not close the breaker")
	}
}

func TestBreaker_AbandonedProbe(t *testing.T) {
	clk := newFakeClock()
	b := newTestBreaker()
	b.fails(clk.now(), budgetTokens/2)
	clk.add(time.Second)
	if tk, _ := b.admit(clk.now()); tk != probe {
		t.Fatal("no probe")
	}
	b.abandon(probe)
	if tk, _ := b.admit(clk.now()); tk != probe {
		t.Fatal("the probe's caller went away: the next caller must probe")
	}
}

func TestPacer_CutsOnlyRecurring429s(t *testing.T) {
	p := newPacer(100)
	event := func() bool { return p.attack(p.now()) }
	// recurEvents 429s within recoveryRequests, from the start: overdrive,
	// cut.
	for range recurEvents - 1 {
		if event() {
			t.Fatal("cut before recurEvents 429s")
		}
		p.sent.Add(10)
	}
	if !event() {
		t.Fatalf("%d 429s within %d requests did not cut the rate", recurEvents, recoveryRequests)
	}
	if p.rate() != 75 {
		t.Fatalf("rate %v after the cut, want 75 (a quarter less)", p.rate())
	}
	// An echo (sent before the last event) cuts nothing.
	if p.attack(p.lastAttack - 1) {
		t.Fatal("an echo cut the rate")
	}

	p = newPacer(100)
	// Isolated 429s, more than recoveryRequests apart: pauses only.
	for i := range 5 {
		if event() {
			t.Fatalf("isolated 429 %d cut the rate to %v", i+1, p.rate())
		}
		p.sent.Add(recoveryRequests + 1)
	}
	if p.rate() != 100 {
		t.Fatalf("rate %v after isolated 429s, want 100", p.rate())
	}
}

// TestPacer_ProvenRate: once a rate carried more than recoveryRequests
// requests without a 429, 429s recurring at that rate by chance (one-off
// 429s at a high rate) cut nothing, proofStrikes of them in a row; one more
// cuts and weakens the proof by an eighth. Above the proven rate, recurring
// 429s cut at once.
func TestPacer_ProvenRate(t *testing.T) {
	p := newPacer(100)
	event := func() bool { return p.attack(p.now()) }
	strikes := func(what string) {
		t.Helper()
		for i := range proofStrikes {
			p.sent.Add(10)
			if event() {
				t.Fatalf("recurring 429 %d %s cut the rate to %v", i+1, what, p.rate())
			}
		}
	}
	p.sent.Add(recoveryRequests + 1) // a quiet span at 100: proven
	if event() || p.proven != 100 {
		t.Fatalf("the first 429, after a quiet span: rate %v, proven %v; want 100, 100", p.rate(), p.proven)
	}
	// The 429 that recurs at once, which would cut an unproven rate, is
	// forgiven at the proven one.
	p.sent.Add(10)
	if event() {
		t.Fatalf("a 429 recurring at the proven rate cut it to %v", p.rate())
	}
	for i := 1; i < proofStrikes; i++ {
		p.sent.Add(10)
		if event() {
			t.Fatalf("recurring 429 %d at the proven rate cut it to %v", i+1, p.rate())
		}
	}
	// A quiet span renews the proof and forgives again.
	p.sent.Add(recoveryRequests + 1)
	if event() {
		t.Fatal("an isolated 429 cut the rate")
	}
	strikes("after a new proof")
	p.sent.Add(10)
	if !event() {
		t.Fatalf("%d recurring 429s in a row at the proven rate did not cut it", proofStrikes+1)
	}
	if p.rate() != 75 || p.soft != 97 || p.proven != 87.5 {
		t.Fatalf("after a strike: rate %v, soft ceiling %v, proven %v; want 75, 97, 87.5", p.rate(), p.soft, p.proven)
	}
	// Still at or under the weakened proof: strikes again.
	strikes("under the weakened proof")
	// Above it: recurring 429s cut at once.
	for p.rate() <= 87.5 {
		p.succeed()
	}
	p.sent.Add(10)
	if !event() {
		t.Fatalf("a recurring 429 at %v, above the proven 87.5, did not cut", p.rate())
	}
}

func TestPacer_Resume(t *testing.T) {
	p := newPacer(100)
	p.resume()
	if p.rate() != 50 {
		t.Fatalf("rate %v after an outage, want half the configured 100", p.rate())
	}
	for range 2000 {
		p.succeed()
	}
	if p.rate() != 100 {
		t.Fatalf("rate %v after 2000 successes, want back at 100", p.rate())
	}
	u := newPacer(limitOf(0))
	u.resume()
	if u.rate() != 0 {
		t.Fatalf("unlimited: rate %v after resume, want unlimited", u.rate())
	}
}
