package simulator

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Defaults of the token endpoint.
const (
	// DefaultTokenLifetime is how long an issued access token is accepted
	// when Config.TokenLifetime is zero: an hour, as Unico's usually are.
	DefaultTokenLifetime = time.Hour
	// DefaultLockAfter is how many failed token requests in a row lock the
	// account when Config.LockAfter is zero.
	DefaultLockAfter = 5
	// maxAssertionLife is the longest exp - iat Unico accepts, in seconds.
	maxAssertionLife = 3600
	// iatLeeway is how far in the future iat may be, for clock skew.
	iatLeeway = 60 * time.Second
	// jwtBearer is the grant type of RFC 7523.
	jwtBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"
)

// Unico's authentication error codes, as its documentation lists them
// ("Authentication Errors").
const (
	authWrongTenant   = "1.0.1"  // iss names another tenant or account
	authNoScope       = "1.1.1"  // no scope claim
	authExpired       = "1.2.4"  // exp has passed
	authNotValidated  = "1.2.5"  // bad signature, algorithm or audience
	authReused        = "1.2.7"  // the assertion was used before
	authNoPermission  = "1.2.14" // a scope other than "*"
	authLocked        = "1.2.18" // too many failed attempts
	authUndecodable   = "1.2.20" // not a JWT, no assertion, wrong grant
	authBadClaimValue = "1.2.21" // iat/exp missing, mistyped or out of bounds
	authExtraClaims   = "1.2.22" // a claim other than iss, aud, scope, iat, exp
)

// tokenAuth is the token endpoint's state.
type tokenAuth struct {
	mu       sync.Mutex
	issued   map[string]time.Time   // access token -> when it expires
	used     map[[32]byte]time.Time // assertion hash -> when it expires
	failures int                    // failed requests in a row
	locked   bool
}

// allowedClaims are the only claims an assertion may carry.
var allowedClaims = map[string]bool{"iss": true, "aud": true, "scope": true, "iat": true, "exp": true}

// serveToken answers POST /oauth2/token: the JWT-bearer grant.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	s.tokenRequests.Add(1)
	if r.Method != http.MethodPost {
		s.unrouted.Add(1)
		w.Header().Set("Allow", "POST")
		writeJSON(w, http.StatusMethodNotAllowed, bodyNoMethod)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	token, code := s.grant(r)
	if code != "" {
		s.tokenErrors.Add(1)
		writeJSON(w, http.StatusUnauthorized, authErrorBody(code))
		return
	}
	s.tokensIssued.Add(1)
	secs := max(1, int(math.Ceil(s.tokenLifetime().Seconds())))
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, []byte(`{"access_token":"`+token+`","token_type":"Bearer","expires_in":`+strconv.Itoa(secs)+`}`))
}

// authErrorBody is Unico's answer to a failed token request.
func authErrorBody(code string) []byte {
	return []byte(`{"error":"server_error","error_description":"Falha na autenticação ` + code + `"}`)
}

func (s *Server) tokenLifetime() time.Duration {
	if s.cfg.TokenLifetime > 0 {
		return s.cfg.TokenLifetime
	}
	return DefaultTokenLifetime
}

// grant checks one token request and issues a token, or returns the
// authentication error code. Failures in a row lock the account.
func (s *Server) grant(r *http.Request) (token, code string) {
	a := &s.auth
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.locked {
		return "", authLocked
	}
	now := s.now()
	if code := s.verify(r, now); code != "" {
		a.failures++
		if limit := s.lockAfter(); limit > 0 && a.failures >= limit {
			a.locked = true
		}
		return "", code
	}
	a.failures = 0
	token = newAccessToken()
	a.issued[token] = now.Add(s.tokenLifetime())
	return token, ""
}

func (s *Server) lockAfter() int {
	if s.cfg.LockAfter == 0 {
		return DefaultLockAfter
	}
	return s.cfg.LockAfter
}

// verify checks the grant and its assertion as unico-api.md says Unico
// does; called with auth.mu held.
func (s *Server) verify(r *http.Request, now time.Time) string {
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != jwtBearer {
		return authUndecodable
	}
	assertion := r.PostForm.Get("assertion")
	claims := jwt.MapClaims{}
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithJSONNumber(), jwt.WithoutClaimsValidation())
	tok, err := parser.ParseWithClaims(assertion, claims, func(*jwt.Token) (any, error) { return s.cfg.PublicKey, nil })
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return authUndecodable
	case err != nil:
		return authNotValidated
	}
	for k, v := range tok.Header {
		if (k != "alg" && k != "typ" && k != "kid") || (k == "typ" && v != "JWT") {
			return authUndecodable
		}
	}
	// Single use: remembered while it could still be valid.
	sum := sha256.Sum256([]byte(assertion))
	for h, exp := range s.auth.used {
		if !now.Before(exp) {
			delete(s.auth.used, h)
		}
	}
	if _, ok := s.auth.used[sum]; ok {
		return authReused
	}
	iat, iatOK := unixClaim(claims["iat"])
	exp, expOK := unixClaim(claims["exp"])
	if expOK {
		s.auth.used[sum] = time.Unix(exp, 0)
	} else {
		s.auth.used[sum] = now.Add(maxAssertionLife * time.Second)
	}
	for k := range claims {
		if !allowedClaims[k] {
			return authExtraClaims
		}
	}
	if iss, _ := claims["iss"].(string); iss != s.cfg.Account+"@"+s.cfg.Tenant+".iam.acesso.io" {
		return authWrongTenant
	}
	switch scope, ok := claims["scope"]; {
	case !ok:
		return authNoScope
	case scope != "*":
		return authNoPermission
	}
	if aud, _ := claims["aud"].(string); aud != s.audience(r) {
		return authNotValidated
	}
	switch {
	case !iatOK || !expOK || exp <= iat || exp-iat > maxAssertionLife || time.Unix(iat, 0).After(now.Add(iatLeeway)):
		return authBadClaimValue
	case !now.Before(time.Unix(exp, 0)):
		return authExpired
	}
	return ""
}

// audience is the aud assertions must name: Config.Audience, or the
// origin the request was sent to.
func (s *Server) audience(r *http.Request) string {
	if s.cfg.Audience != "" {
		return s.cfg.Audience
	}
	if r.TLS != nil {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}

// unixClaim reads a NumericDate claim that must be a whole number.
func unixClaim(v any) (int64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := n.Int64()
	return i, err == nil
}

func newAccessToken() string {
	var b [24]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return "sim-" + base64.RawURLEncoding.EncodeToString(b[:])
}

// tokenState says whether token was issued here and whether it is still
// accepted.
func (s *Server) tokenState(token string) (issued, live bool) {
	s.auth.mu.Lock()
	defer s.auth.mu.Unlock()
	exp, ok := s.auth.issued[token]
	return ok, ok && s.now().Before(exp)
}

// ParsePublicKey reads an RSA public key from PEM: a PKIX "PUBLIC KEY" or
// a PKCS #1 "RSA PUBLIC KEY" block.
func ParsePublicKey(b []byte) (*rsa.PublicKey, error) {
	for rest := b; ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			return nil, errors.New("public key: no PEM public key block in it")
		}
		switch block.Type {
		case "PUBLIC KEY":
			k, err := x509.ParsePKIXPublicKey(block.Bytes)
			if err != nil {
				return nil, errors.New("public key: not a PKIX public key")
			}
			if rk, ok := k.(*rsa.PublicKey); ok {
				return rk, nil
			}
			return nil, errors.New("public key: not RSA (RS256 needs RSA)")
		case "RSA PUBLIC KEY":
			k, err := x509.ParsePKCS1PublicKey(block.Bytes)
			if err != nil {
				return nil, errors.New("public key: not a PKCS #1 public key")
			}
			return k, nil
		}
	}
}
