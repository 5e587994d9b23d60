package reconcile_test

import (
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

// The field bits of FuzzCompare's present mask, per side.
const (
	hasSerpro = 1 << iota
	hasLiveness
	hasScore
)

// fuzzOutcome builds an outcome from fuzzed values; bits say which pointer
// fields are set.
func fuzzOutcome(status int, unico, fraud string, serpro, liveness int, score float64, bits uint8) reconcile.Outcome {
	o := reconcile.Outcome{Status: reconcile.Status(status), UnicoID: unico, IdentityFraudsters: fraud}
	if bits&hasSerpro != 0 {
		o.Serpro = &serpro
	}
	if bits&hasLiveness != 0 {
		o.Liveness = &liveness
	}
	if bits&hasScore != 0 {
		o.Score = &score
	}
	return o
}

// FuzzCompare checks Compare's properties on any pair of outcomes: it never
// panics; every verdict names one of the kinds, and a listed one says why;
// result_mismatch comes with the differing fields and only with them; the
// fields column splits back into those fields; and a remote equal to the
// local (same status, same fields) is never a discrepancy.
func FuzzCompare(f *testing.F) {
	f.Add(3, 3, "yes", "no", "yes", "inconclusive", 87, -1, 1, 2, 40.0, -12.5, uint8(0x3f), false, false, false, int64(3600))
	f.Add(1, 3, "", "yes", "", "", 0, 0, 0, 0, 0.0, 0.0, uint8(0), false, false, false, int64(90000))
	f.Add(5, 5, "", "", "", "", 0, 0, 0, 0, 0.0, 0.0, uint8(0), true, false, false, int64(0))
	f.Add(2, 2, "x;y", "a->b", `"q"`, "\x00\xff", 1, 2, 3, 4, math.NaN(), math.Inf(1), uint8(0x3f), false, false, false, int64(-5))
	f.Add(0, 9, "", "", "", "", 0, 0, 0, 0, 0.0, 0.0, uint8(0), false, true, true, int64(1))
	f.Fuzz(func(t *testing.T, lStatus, rStatus int, lUnico, rUnico, lFraud, rFraud string,
		lSerpro, rSerpro, lLive, rLive int, lScore, rScore float64, present uint8,
		is410, notFound, failed bool, age int64) {
		l := reconcile.Local{Row: 2, ProcessID: pid, SavedAt: now.Add(-time.Duration(age) * time.Second),
			Outcome: fuzzOutcome(lStatus, lUnico, lFraud, lSerpro, lLive, lScore, present&7)}
		r := reconcile.Result{NotFound: notFound, HTTPStatus: 200, Attempts: 1, FetchedAt: fetchedAt}
		if failed {
			r.Err = errors.New("no answer after 6 attempts: 503")
		}
		if !notFound && !failed {
			r.Remote = &reconcile.Remote{ID: pid, Gone: is410,
				Outcome: fuzzOutcome(rStatus, rUnico, rFraud, rSerpro, rLive, rScore, present>>3&7)}
		}
		checkVerdict(t, reconcile.Compare(l, r, now, staleAfter))

		// The same process, answered with the local outcome itself: as a
		// 200, and for a local status 5 as a 410 too. Saved just now, so
		// that nothing is stale.
		if !l.Status.Valid() {
			return
		}
		l.SavedAt = now
		same := ok(l.Outcome)
		d := reconcile.Compare(l, same, now, staleAfter)
		checkVerdict(t, d)
		if d.Kind != reconcile.Match && d.Kind != reconcile.Pending {
			t.Fatalf("remote equal to local: %s (%s; fields %q)", d.Kind, d.Detail, d.FieldsString())
		}
		if l.Status == reconcile.StatusError {
			if d := reconcile.Compare(l, gone(), now, staleAfter); d.Kind != reconcile.Match {
				t.Fatalf("local 5, remote 410: %s (%s)", d.Kind, d.Detail)
			}
		}
	})
}

// checkVerdict checks what every verdict must be.
func checkVerdict(t *testing.T, d reconcile.Discrepancy) {
	t.Helper()
	if !slices.Contains(reconcile.Kinds, d.Kind) && d.Kind != reconcile.Match && d.Kind != reconcile.Pending {
		t.Fatalf("kind %q is none of the contract's", d.Kind)
	}
	if d.Kind.Listed() && (d.Detail == "" || strings.ContainsAny(d.Detail, "\r\n")) {
		t.Fatalf("%s: detail %q, want one line saying why", d.Kind, d.Detail)
	}
	if (d.Kind == reconcile.ResultMismatch) != (len(d.Fields) > 0) {
		t.Fatalf("%s with %d fields", d.Kind, len(d.Fields))
	}
	names := []string{reconcile.FieldUnicoID, reconcile.FieldIdentityFraudsters, reconcile.FieldSerpro, reconcile.FieldLiveness, reconcile.FieldScore}
	for _, fd := range d.Fields {
		if !slices.Contains(names, fd.Name) || fd.Local == "" {
			t.Fatalf("field %+v: unknown name or no local value", fd)
		}
		for _, v := range []string{fd.Local, fd.Remote} {
			if !printable(v) {
				t.Fatalf("field %s value %q is not printable", fd.Name, v)
			}
		}
	}
	got, err := splitFields(d.FieldsString())
	if err != nil || !slices.Equal(got, fieldNames(d.Fields)) {
		t.Fatalf("fields %q split into %q (%v), want the names %q", d.FieldsString(), got, err, fieldNames(d.Fields))
	}
}

func fieldNames(fs []reconcile.FieldDiff) []string {
	var names []string
	for _, f := range fs {
		names = append(names, f.Name)
	}
	return names
}

// printable reports whether s is valid UTF-8 of printable characters, and
// short: what reconcile.Printable makes of anything.
func printable(s string) bool {
	if !utf8.ValidString(s) || len(s) > 4*reconcile.MaxShown+40 {
		return false
	}
	for _, r := range s {
		if !strconv.IsPrint(r) {
			return false
		}
	}
	return true
}

// splitFields reads the fields column as a consumer would: name=local->remote
// joined by ";", a value either Go-quoted or free of ";", "->" and quotes.
// It returns the names.
func splitFields(s string) ([]string, error) {
	var names []string
	value := func(end string) error {
		if strings.HasPrefix(s, `"`) {
			q, err := strconv.QuotedPrefix(s)
			if err != nil {
				return err
			}
			s = s[len(q):]
			if !strings.HasPrefix(s, end) && !strings.HasPrefix(s, "…(") && s != "" {
				return errors.New("text after a quoted value: " + s)
			}
			if i := strings.Index(s, end); strings.HasPrefix(s, "…(") && i >= 0 {
				s = s[i:]
			} else if strings.HasPrefix(s, "…(") {
				s = ""
			}
			return nil
		}
		i := strings.Index(s, end)
		if i < 0 {
			i = len(s)
		}
		if strings.Contains(s[:i], `"`) {
			return errors.New("a quote in an unquoted value")
		}
		s = s[i:]
		return nil
	}
	for s != "" {
		i := strings.IndexByte(s, '=')
		if i < 0 {
			return names, errors.New("no = in " + s)
		}
		names, s = append(names, s[:i]), s[i+1:]
		if err := value("->"); err != nil {
			return names, err
		}
		if !strings.HasPrefix(s, "->") {
			return names, errors.New("no -> before " + s)
		}
		s = s[2:]
		if err := value(";"); err != nil {
			return names, err
		}
		s = strings.TrimPrefix(s, ";")
	}
	return names, nil
}
