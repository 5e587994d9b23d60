package job

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/unico-reconcile/unico-reconcile/fetch"
	"github.com/unico-reconcile/unico-reconcile/state"
	"github.com/unico-reconcile/unico-reconcile/store"
)

// Where the credentials may come from besides their flags (--api-key-file,
// --token-file), as check's fixes name them.
const (
	EnvAPIKey = "UNICO_API_KEY"
	EnvToken  = "UNICO_ACCESS_TOKEN"
)

// How far the machine's clock may be from the API's: past skewWarn a
// warning, past skewFail a failure (the token endpoint refuses assertions
// whose iat is off).
const (
	skewWarn = 30 * time.Second
	skewFail = 5 * time.Minute
)

// checkVerdict is what one check came to.
type checkVerdict int

const (
	checkPass checkVerdict = iota
	checkWarn
	checkFail
)

// checkLine is one check's outcome, printed on a line of its own.
type checkLine struct {
	v      checkVerdict
	name   string
	detail string
	fix    string // what to do, for warn and fail
}

func (l checkLine) String() string {
	mark := [...]string{checkPass: "✓", checkWarn: "!", checkFail: "✗"}[l.v]
	s := mark + " " + l.name + ": " + l.detail
	if l.fix != "" && l.v != checkPass {
		s += " (fix: " + l.fix + ")"
	}
	return s
}

// Check checks what a run with o needs, printing a line per check on
// w as it goes, and reports whether every check passed.
func Check(ctx context.Context, o Options, w io.Writer) bool {
	o = o.withDefaults()
	ok := true
	emit := func(l checkLine) {
		ok = ok && l.v != checkFail
		fmt.Fprintln(w, l)
	}
	emit(checkSource(ctx, o))
	emit(checkFolder("out", filepath.Dir(filepath.Clean(o.Out)), "the folder that holds --out"))
	if !o.NoState {
		emit(checkState(ctx, o))
	}
	if o.MetricsTextfile != "" {
		emit(checkMetricsFolder(o.MetricsTextfile))
	}
	token, cred := checkCredentials(ctx, o)
	for _, l := range cred {
		emit(l)
	}
	for _, l := range checkAPI(ctx, o, token) {
		emit(l)
	}
	return ok
}

// checkSource opens the source as a run would, says which contract
// columns it has and counts its rows.
func checkSource(ctx context.Context, o Options) checkLine {
	l := checkLine{name: "source"}
	src, err := store.Open(o.source(), o.Query)
	if err != nil {
		return checkLine{checkFail, "source", err.Error(), "give --source a CSV file with a process_id column, a SQLite file or a postgres:// URL"}
	}
	defer src.Close()
	survey, err := src.Survey(ctx)
	if err != nil {
		return checkLine{checkFail, "source", err.Error(), "fix the source at the place named"}
	}
	missing := src.Missing()
	has := slices.DeleteFunc(store.Columns(), func(c string) bool { return slices.Contains(missing, c) })
	l.detail = fmt.Sprintf("%s: %d rows; has %s", o.Source, survey.Rows, strings.Join(has, ","))
	switch {
	case len(missing) == 0:
		l.detail += " (every contract column)"
	case len(has) == 1:
		l.detail += "; only process_id: nothing stored to compare, so every finished process is reported lost_response with its remote outcome in the reports"
	default:
		l.detail += "; lacks " + strings.Join(missing, ",") + " (read as not stored: not compared)"
	}
	return l
}

// checkFolder checks that dir, or the nearest folder above it that
// exists, takes new files.
func checkFolder(name, dir, what string) checkLine {
	existing, err := state.CheckWritable(dir)
	switch {
	case err != nil:
		return checkLine{checkFail, name, err.Error(), "make " + what + " writable by this user, or choose another"}
	case existing != dir:
		return checkLine{checkPass, name, dir + " will be created in " + existing + ", which is writable", ""}
	default:
		return checkLine{checkPass, name, dir + " is writable", ""}
	}
}

// checkMetricsFolder checks that the --metrics-textfile folder exists (it is
// node_exporter's, which a run never creates) and takes new files.
func checkMetricsFolder(path string) checkLine {
	dir := filepath.Dir(path)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return checkLine{checkFail, "metrics", dir + " is not a folder", "give --metrics-textfile a file in node_exporter's --collector.textfile.directory"}
	}
	return checkFolder("metrics", dir, "the --metrics-textfile folder")
}

// checkState checks the run history: writable, and its lock free.
func checkState(ctx context.Context, o Options) checkLine {
	path := o.State
	if path == "" {
		path = filepath.Join(filepath.Dir(o.Out), "state.db")
	}
	in, err := state.Inspect(ctx, path)
	switch {
	case err != nil:
		return checkLine{checkFail, "state", err.Error(), "give --state a writable SQLite file, or --no-state"}
	case in.Held && in.Holder != nil:
		return checkLine{checkFail, "state", path + " is locked by " + in.Holder.String(), "wait for that run to end; runs on one history never overlap"}
	case in.Held:
		return checkLine{checkFail, "state", path + " is locked by another process", "wait for that run to end; runs on one history never overlap"}
	case !in.Exists:
		return checkLine{checkPass, "state", path + " does not exist yet; the first run creates it", ""}
	case in.Stale != nil:
		return checkLine{checkPass, "state", path + " is writable; the lock of " + in.Stale.String() + ", which is gone, will be taken over", ""}
	default:
		return checkLine{checkPass, "state", path + " is writable and nobody holds its lock", ""}
	}
}

// checkCredentials checks that an API key and an access token are there;
// a service account signs in (one token request). It returns the token.
func checkCredentials(ctx context.Context, o Options) (string, []checkLine) {
	var lines []checkLine
	if o.APIKey == "" {
		lines = append(lines, checkLine{checkFail, "api key", "none given", "set $" + EnvAPIKey + " or --api-key-file"})
	} else {
		lines = append(lines, checkLine{checkPass, "api key", "given", ""})
	}
	if o.Tokens == nil {
		return "", append(lines, checkLine{checkFail, "token", "none given", "set $" + EnvToken + ", --token-file, or --service-account with --tenant and --private-key-file"})
	}
	token, err := o.Tokens.Token(ctx)
	if err != nil {
		return "", append(lines, checkLine{checkFail, "token", err.Error(), "check the credentials named"})
	}
	what := "given"
	if sa, ok := o.Tokens.(*fetch.ServiceAccount); ok {
		what = sa.String() + " signed in"
	}
	return token, append(lines, checkLine{checkPass, "token", what, ""})
}

// checkAPI sends one GET of a random id and reads from its answer the
// connection, the API's clock and what it says of the credentials.
func checkAPI(ctx context.Context, o Options, token string) []checkLine {
	hc := o.HTTPClient
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	sent := time.Now()
	p, err := fetch.ProbeAPI(ctx, hc, o.APIRoot, o.APIKey, token)
	if err != nil {
		return []checkLine{{checkFail, "api", fetch.Redact(o.APIRoot) + " did not answer: " + err.Error(), apiFix(err)}}
	}
	lines := []checkLine{tlsLine(o.APIRoot, p.TLS), clockLine(p.Date, sent.Add(p.Elapsed/2))}
	if p.ProofOfAccess() {
		return append(lines, checkLine{checkPass, "access", "GET of a random id: 404 50001 (not found): the API key, the token and the tenant work", ""})
	}
	cause, fix := p.Problem()
	detail := fmt.Sprintf("GET of a random id: %d", p.Status)
	if p.Code != "" {
		detail += " code " + p.Code
	}
	detail += ": " + cause
	if p.Message != "" {
		detail += "; the API says: " + p.Message
	}
	return append(lines, checkLine{checkFail, "access", detail, fix})
}

func apiFix(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return "check the network path to the API (proxy, firewall) and --timeout"
	}
	if strings.Contains(err.Error(), "certificate") {
		return "give --ca-file the CA that signs the certificate (a corporate proxy's)"
	}
	return "check --base-url or --env, the network and the proxy settings (HTTPS_PROXY)"
}

// tlsLine describes the connection the answer came over.
func tlsLine(root string, cs *tls.ConnectionState) checkLine {
	if cs == nil {
		return checkLine{checkPass, "tls", "plain http to " + fetch.Redact(root) + " (a loopback test API)", ""}
	}
	d := tls.VersionName(cs.Version) + ", certificate verified"
	if len(cs.PeerCertificates) > 0 {
		c := cs.PeerCertificates[0]
		d += fmt.Sprintf(" (%s, issued by %s, expires %s)", c.Subject.CommonName, c.Issuer.CommonName, c.NotAfter.UTC().Format(time.DateOnly))
	}
	return checkLine{checkPass, "tls", d, ""}
}

// clockLine compares the API's Date header with this machine's clock at
// the middle of the request.
func clockLine(date, local time.Time) checkLine {
	if date.IsZero() {
		return checkLine{checkWarn, "clock", "the API sent no Date header: skew unknown", "keep the clock synchronised (NTP)"}
	}
	// Date names the second the answer was made in: compare with its middle.
	skew := local.Sub(date.Add(time.Second / 2)).Round(time.Second)
	abs := max(skew, -skew)
	d := fmt.Sprintf("%s from the API's", skew)
	switch {
	case abs >= skewFail:
		return checkLine{checkFail, "clock", d, "synchronise the clock (NTP): the token endpoint refuses assertions this far off"}
	case abs >= skewWarn:
		return checkLine{checkWarn, "clock", d, "synchronise the clock (NTP) before it reaches 5m"}
	default:
		return checkLine{checkPass, "clock", d, ""}
	}
}
