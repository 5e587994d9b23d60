package fetch

import (
	"testing"
	"time"
)

// TestPacer_Slowdown: recurring 429s record the lowest rate they cut to and
// the time spent below the configured rate, until the rate is back; an
// isolated 429, or the restart at half the rate after an outage, is no
// slowdown.
func TestPacer_Slowdown(t *testing.T) {
	p := newPacer(100)
	if lowest, below := p.slowdown(); lowest != 0 || below != 0 {
		t.Fatalf("new pacer: slowdown %v for %v, want none", lowest, below)
	}
	p.attack(p.now()) // isolated
	p.resume()        // an outage's restart
	if lowest, below := p.slowdown(); lowest != 0 || below != 0 {
		t.Fatalf("after an isolated 429 and an outage: slowdown %v for %v, want none", lowest, below)
	}
	for range 2000 {
		p.succeed()
	}
	for range recurEvents * 2 {
		p.attack(p.now())
		p.sent.Add(10)
	}
	lowest, below := p.slowdown()
	if lowest == 0 || lowest >= 100 || lowest != p.rate() {
		t.Fatalf("after recurring 429s: lowest %v (rate %v), want the rate they cut to", lowest, p.rate())
	}
	time.Sleep(20 * time.Millisecond)
	if _, later := p.slowdown(); later < below+20*time.Millisecond {
		t.Fatalf("below the rate for %v, then %v 20ms later: the time below must grow while slowed", below, later)
	}
	p.mu.Lock()
	p.soft = 0 // forgetAfter without a 429: the soft ceiling is gone
	p.mu.Unlock()
	for range 5000 {
		p.succeed()
	}
	if p.rate() != 100 {
		t.Fatalf("rate %v after 5000 successes, want back at 100", p.rate())
	}
	_, back := p.slowdown()
	time.Sleep(20 * time.Millisecond)
	if l, again := p.slowdown(); again != back || l != lowest {
		t.Fatalf("back at the rate: slowdown %v for %v, then %v for %v: want it fixed", lowest, back, l, again)
	}
}
