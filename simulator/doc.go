// Package simulator serves a local stand-in for Unico's process API
// (GET /processes/v1/{id}) from a data file, with the API's rate limit, status
// codes and error bodies, plus latency, random failures and per-process faults,
// so that unico-reconcile can be run, tested and benchmarked with no
// credentials and no network.
//
// The simulator imports the standard library, golang.org/x/time/rate and
// github.com/golang-jwt/jwt/v5 only. It never shares types with the client
// (package fetch) or the domain (package reconcile): every body it sends is
// either a line of the data file, served byte for byte, or JSON written by
// hand from the API document. A field misspelt in the client is therefore
// caught by tests instead of being mirrored here. For the same reason the
// token endpoint checks assertions with golang-jwt, while the client signs
// them with golang.org/x/oauth2: the two sides share no JWT code.
//
// # Data file
//
// The data file is JSON Lines: one process body per line, exactly as the API
// returns it on 200, for example
//
//	{"id":"80371b2a-3ac7-432e-866d-57fe37896ac6","status":3,"unicoId":{"result":"yes"},"identityFraudsters":{"result":"inconclusive"},"government":{"serpro":87}}
//	{"id":"0b8a4a5e-5d0e-4f0b-9a36-1f3a8c2d7e11","status":5}
//	{"id":"5c6d7e8f-1a2b-4c3d-8e9f-0a1b2c3d4e5f","status":1,"x-sim-fault":"reset"}
//
// Every line must be a JSON object with a string "id" that is a UUID in
// canonical 8-4-4-4-12 form (either case) and an integer "status" from 1 to 5.
// Ids are unique across the file, case-insensitively. Blank lines are skipped.
// All other keys are the API's and are served as they are, unknown ones
// included; nothing else about them is checked, so a file can carry values a
// client must cope with (a "suspicious" identityFraudsters result, a float
// score).
//
// Keys that start with "x-sim-" belong to the simulator and are stripped
// before a body is served (the rest of the body keeps its bytes and key
// order). The only one defined is "x-sim-fault", which makes every request for
// that process fail the same way, deterministically:
//
//	"error"      500 with {"error":{"code":99999,...}}
//	"reset"      the connection is closed (reset) without a response
//	"malformed"  200 whose body is not valid JSON (the body cut in half)
//	"truncated"  200 whose Content-Length promises the whole body, but the
//	             connection is closed after half of it
//	"wrong-id"   200 with the process's body under another id
//	"slow"       the response is held for Config.SlowDelay (longer than a
//	             client's timeout) before the body is served
//
// A status 5 process is answered with 410 and only its id and status, as the
// API does, whatever else its line holds. Load reports a bad line as a
// *LineError naming the file and the line.
//
// # Server
//
// Server is an http.Handler. Requests are checked in this order: route
// (unknown path → 404, other method → 405), credentials (when configured),
// rate limit, latency, random errors, process id, then the process itself.
// See Config for each knob and unico-api.md for the codes.
//
// # Token endpoint
//
// With Config.PublicKey set, POST /oauth2/token on the same server takes the
// OAuth2 JWT-bearer grant (RFC 7523) of Unico's service accounts: a form
// with grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer and an
// assertion, an RS256 JWT signed by the account's private key whose header
// is {"alg":"RS256","typ":"JWT"} and whose claims are exactly iss
// (account@tenant.iam.acesso.io), aud (the token endpoint's origin), scope
// ("*"), iat and exp (at most iat + 3600). It answers
// {"access_token":"...","token_type":"Bearer","expires_in":N} and the process
// API then accepts that token for Config.TokenLifetime (403 10502 after).
// Failures are 401 {"error":"server_error","error_description":"Falha na
// autenticação 1.2.x"} with Unico's codes: 1.2.20 not a JWT-bearer grant or
// not a JWT, 1.2.5 bad signature, algorithm or audience, 1.2.7 an assertion
// used before, 1.2.22 a claim not allowed, 1.0.1 another issuer, 1.1.1 no
// scope, 1.2.14 another scope, 1.2.21 iat or exp missing or out of bounds,
// 1.2.4 expired; after Config.LockAfter failures in a row, 1.2.18 (locked)
// to every request. The token endpoint is not rate limited.
//
// Data is read-only once built and may back any number of Servers. A Server
// is safe for concurrent use; its counters (Stats, RequestsFor) are atomics
// that can be read while it serves.
package simulator
