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
//   - Concurrency: not here. The caller runs as many Fetch calls at once as it
//     likes (errgroup.SetLimit in the pipeline); a Client is safe for
//     concurrent use, and so are the TokenSource implementations here.
//
// Secrets (the API key and access tokens) never appear in logs or errors:
// bodies the server sends back are scrubbed of them before they are kept.
package fetch
