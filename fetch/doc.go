// Package fetch is the client of Unico's process API: it asks
// GET {root}/processes/v1/{id} for one saved process and turns the answer into
// a reconcile.Result.
//
// Three concerns are kept apart, as in rclone's lib/pacer and lib/rest:
//
//   - Rate: one pacer per Client, shared by every caller: a single
//     golang.org/x/time/rate limiter (burst 1, so requests are spread evenly),
//     a "paused until" instant that a 429 sets for everyone, and adaptive
//     pacing that cuts the limiter's rate on a 429 and lets it creep back on
//     success.
//   - Policy: Policy.Decide, a pure function from one attempt's outcome to a
//     Verdict (done, retry after a delay, give up, stop the run, renew the
//     token).
//   - Health: one circuit breaker per Client (breaker.go, health.go), over a
//     retry budget after gRPC's retry throttling: when answers that say "the
//     API is unavailable" dominate, no caller sends but one probe at a time,
//     1 s to 15 s apart; the first answer closes it. Callers it holds are
//     not charged a retry; past Config.OutageTimeout they get an
//     *OutageError (reconcile.ErrOutage) and the run ends.
//   - Concurrency: the caller runs as many Fetch calls at once as it likes
//     (errgroup.SetLimit in the pipeline); Config.InFlight bounds the
//     requests in flight among them, so that callers waiting out a back-off
//     or the breaker hold no slot. A Client is safe for concurrent use, and
//     so are the TokenSource implementations here.
//
// Access tokens come from a TokenSource: a fixed token (StaticToken), a
// file another process refreshes (TokenFile), or Unico's service account
// (ServiceAccount: the OAuth2 JWT-bearer grant through golang.org/x/oauth2,
// tokens cached, renewed before they expire and at once on 10502, one token
// request in flight at a time, never retried after a failure).
//
// Secrets (the API key, access tokens, the private key and the assertions
// signed with it) never appear in logs or errors: bodies the servers send
// back are scrubbed of them before they are kept. Transport security is the
// caller's to check (CheckSecureURL); NewHTTPClient always verifies TLS
// certificates, against the system's roots or those of a CA file.
package fetch
