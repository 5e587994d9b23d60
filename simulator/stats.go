package simulator

import (
	"strings"
	"sync/atomic"
)

// Stats counts what a Server has answered since New. Every request counts in
// Requests and in at most one of the others but Faults and TokenRequests; a
// request whose client went away while it waited (Latency, "slow") counts in
// Requests only.
type Stats struct {
	Requests     int // every request the handler saw
	OK           int // 200, faulty bodies ("malformed", "truncated", "wrong-id") included
	Gone         int // 410: a status 5 process
	NotFound     int // 404 (50001): a process the data lacks
	BadRequests  int // 400 (20023): a malformed process id
	AuthErrors   int // 400 (20001, 20002) and 403 (10201, 10501, 10502, 30017)
	RateLimited  int // 429
	ServerErrors int // 500 (99999): random errors and the "error" fault
	Unavailable  int // 503 without a body: UnavailableRate and the FailAfter/FailFor window
	Resets       int // connections closed by the "reset" fault, no response sent
	Unrouted     int // 404 for another path, 405 for another method
	// Faults counts the requests that met their process's x-sim-fault, of any
	// kind (an "error" fault also counts in ServerErrors, and so on).
	Faults int
	// TokenRequests counts every request to the token endpoint; each also
	// counts in TokensIssued (200), TokenErrors (401) or Unrouted (405).
	TokenRequests int
	TokensIssued  int
	TokenErrors   int
}

type counters struct {
	requests, ok, gone, notFound, badRequests, authErrors atomic.Int64
	rateLimited, serverErrors, resets, unrouted, faults   atomic.Int64
	unavailable                                           atomic.Int64
	tokenRequests, tokensIssued, tokenErrors              atomic.Int64
}

// Stats returns the counters as they are now; each is read atomically, the
// set is not a snapshot of one instant.
func (s *Server) Stats() Stats {
	return Stats{
		Requests:     int(s.requests.Load()),
		OK:           int(s.ok.Load()),
		Gone:         int(s.gone.Load()),
		NotFound:     int(s.notFound.Load()),
		BadRequests:  int(s.badRequests.Load()),
		AuthErrors:   int(s.authErrors.Load()),
		RateLimited:  int(s.rateLimited.Load()),
		ServerErrors: int(s.serverErrors.Load()),
		Unavailable:  int(s.unavailable.Load()),
		Resets:       int(s.resets.Load()),
		Unrouted:     int(s.unrouted.Load()),
		Faults:       int(s.faults.Load()),

		TokenRequests: int(s.tokenRequests.Load()),
		TokensIssued:  int(s.tokensIssued.Load()),
		TokenErrors:   int(s.tokenErrors.Load()),
	}
}

// RequestsFor returns how many requests named process id (any case) so far,
// whatever they were answered: retries after a 429 or a 500 count too. Ids
// that are not UUIDs are not counted.
func (s *Server) RequestsFor(id string) int {
	if !isUUID(id) {
		return 0
	}
	if p, ok := s.data.lookup(id); ok {
		return int(s.perID[p.index].Load())
	}
	s.unknownMu.Lock()
	defer s.unknownMu.Unlock()
	return s.unknown[strings.ToLower(id)]
}

func (s *Server) countID(id string) {
	if p, ok := s.data.lookup(id); ok {
		s.perID[p.index].Add(1)
		return
	}
	s.unknownMu.Lock()
	s.unknown[strings.ToLower(id)]++
	s.unknownMu.Unlock()
}
