package reconcile

import (
	"strconv"
	"time"
)

// Summary describes one run: its parameters, what it sent and what it found.
type Summary struct {
	RunID      string
	Version    string
	StartedAt  time.Time
	FinishedAt time.Time
	Source     string
	APIRoot    string
	Rate       float64 // requests per second; 0 means unlimited
	Workers    int

	Requests    int // requests sent
	Retries     int // requests sent beyond the first per process
	RateLimited int // 429 answers seen
	// Reused counts the answers taken from the run history instead of
	// fetched: a resumed run's earlier answers, or the verified answers a
	// re-check carries over. Requests and Retries include theirs.
	Reused int

	// RecheckOf is the run this one re-checks ("" when none); Rechecked
	// counts the processes that run left unverified, Recovered those of
	// them this run verified.
	RecheckOf string
	Rechecked int
	Recovered int

	// Shard is the part of the source this run took; the zero Shard is the
	// whole source. A sharded run's Rate is its own share of the tenant's.
	Shard Shard
	// MergedFrom lists, in shard order, the runs whose reports were merged
	// into these (merge); empty for a run.
	MergedFrom []string

	// Total counts the rows read (after the --since/--until filter); Counts
	// holds one entry per verdict, Match and Pending included.
	Total  int
	Counts map[Kind]int

	// Interrupted is true when the run was stopped before it fetched every
	// process (signal, deadline or API outage); the rest are counted as
	// Unverified.
	Interrupted bool
	// Outage, when set, is the API outage that ended the run.
	Outage *Outage
	// Slowdown, when set, says that recurring 429s slowed the run below
	// its rate: the tenant's limit was busy (production shares it).
	Slowdown *Slowdown
	ExitCode int
}

// Slowdown is how far and how long 429s slowed a run below its rate.
type Slowdown struct {
	Lowest float64       // the lowest rate it slowed to, requests per second
	Below  time.Duration // how long it ran below its rate
}

// String says it as an operator reads it: "slowed to 3.1/s for 14m0s".
func (s Slowdown) String() string {
	return "slowed to " + strconv.FormatFloat(s.Lowest, 'f', 1, 64) + "/s for " + s.Below.Round(time.Second).String()
}

// Outage describes an API outage that lasted past --outage-timeout and so
// ended the run.
type Outage struct {
	// Since is when it began: the first of the failures that opened the
	// circuit breaker.
	Since time.Time
	// Watched is how long the run watched it before it gave up.
	Watched time.Duration
	// Probes counts the probe requests sent meanwhile.
	Probes int
	// LastError is the last failure seen.
	LastError string
}

// Add counts one verdict.
func (s *Summary) Add(d Discrepancy) {
	if s.Counts == nil {
		s.Counts = make(map[Kind]int, len(Kinds)+2)
	}
	s.Total++
	s.Counts[d.Kind]++
	s.Requests += d.Attempts
	if d.Attempts > 1 {
		s.Retries += d.Attempts - 1
	}
	s.RateLimited += d.RateLimited
}

// Discrepancies counts the listed verdicts.
func (s Summary) Discrepancies() int {
	n := 0
	for _, k := range Kinds {
		n += s.Counts[k]
	}
	return n
}

// The exit codes of a run, as the contract defines them.
const (
	ExitOK            = 0 // every process verified, no discrepancy
	ExitDiscrepancies = 1 // every process verified, discrepancies found
	ExitFatal         = 2 // usage, configuration or fatal error
	ExitIncomplete    = 3 // some processes could not be verified
)

// Code is the exit code the summary calls for: ExitIncomplete when anything
// is unverified, ExitDiscrepancies when anything else is listed, ExitOK
// otherwise.
func (s Summary) Code() int {
	switch {
	case s.Counts[Unverified] > 0 || s.Interrupted:
		return ExitIncomplete
	case s.Discrepancies() > 0:
		return ExitDiscrepancies
	default:
		return ExitOK
	}
}
