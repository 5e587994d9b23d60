package store

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

// The contract's column names, in the contract's order; a row's columns are
// checked in this order and the first problem is the one reported.
const (
	colProcessID          = "process_id"
	colStatus             = "status"
	colUnicoID            = "unico_id_result"
	colIdentityFraudsters = "identity_fraudsters_result"
	colSerpro             = "serpro_score"
	colLiveness           = "liveness"
	colScore              = "score"
	colSavedAt            = "saved_at"
)

var columns = []string{
	colProcessID, colStatus, colUnicoID, colIdentityFraudsters,
	colSerpro, colLiveness, colScore, colSavedAt,
}

// rawRow is one row as text, before any check. The csv tags map the CSV
// header onto it (gocsv).
type rawRow struct {
	ProcessID          string `csv:"process_id"`
	Status             string `csv:"status"`
	UnicoID            string `csv:"unico_id_result"`
	IdentityFraudsters string `csv:"identity_fraudsters_result"`
	Serpro             string `csv:"serpro_score"`
	Liveness           string `csv:"liveness"`
	Score              string `csv:"score"`
	SavedAt            string `csv:"saved_at"`
}

// field returns a pointer to the field that holds column name, nil for a
// column the contract does not know.
func (r *rawRow) field(name string) *string {
	switch name {
	case colProcessID:
		return &r.ProcessID
	case colStatus:
		return &r.Status
	case colUnicoID:
		return &r.UnicoID
	case colIdentityFraudsters:
		return &r.IdentityFraudsters
	case colSerpro:
		return &r.Serpro
	case colLiveness:
		return &r.Liveness
	case colScore:
		return &r.Score
	case colSavedAt:
		return &r.SavedAt
	}
	return nil
}

// RowError says why a row cannot be used. It is the Invalid of a
// reconcile.Local, never an error returned by Each.
type RowError struct {
	File string // the source's path, as given to Open
	Row  int    // as in reconcile.Local.Row
	// Column is the column at fault; "" when the row as a whole is (a CSV
	// row with the wrong number of fields).
	Column string
	Value  string // the value as the source holds it, in full
	Reason string // why Value cannot be used, e.g. "is not a status 1..5"
}

// maxQuoted caps the bytes of a value quoted in an error message, so that
// hostile data cannot flood a log line.
const maxQuoted = 64

// Error returns one line naming the file, the row and the column, e.g.
//
//	saved.csv: row 5, column status: "7" is not a status 1..5
func (e *RowError) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("%s: row %d: %s", e.File, e.Row, e.Reason)
	}
	return fmt.Sprintf("%s: row %d, column %s: %s %s", e.File, e.Row, e.Column, quote(e.Value), e.Reason)
}

// quote quotes s with Go escapes (one line, whatever s holds), cut to
// maxQuoted bytes at a rune boundary and marked with "..." when cut.
func quote(s string) string {
	if len(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	n := maxQuoted
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return strconv.Quote(s[:n]) + "..."
}

// parseRow checks a row and converts it. On the first problem it returns a
// Local that carries only Row, the raw ProcessID and Invalid: no half-checked
// value can be used by mistake.
func parseRow(file string, row int, r *rawRow) reconcile.Local {
	l := reconcile.Local{Row: row}
	invalid := func(column, value, reason string) reconcile.Local {
		return reconcile.Local{Row: row, ProcessID: r.ProcessID, Invalid: &RowError{
			File: file, Row: row, Column: column, Value: value, Reason: reason,
		}}
	}

	// A NUL byte is no part of any value: binary data, or text in
	// another encoding. It is named before any other problem.
	for _, c := range columns {
		if v := *r.field(c); strings.IndexByte(v, 0) >= 0 {
			return invalid(c, v, "holds a NUL byte")
		}
	}

	v := strings.TrimSpace(r.ProcessID)
	if v == "" {
		return invalid(colProcessID, r.ProcessID, "is empty (required)")
	}
	id, ok := reconcile.ParseProcessID(v)
	if !ok {
		return invalid(colProcessID, r.ProcessID, "is not a UUID (8-4-4-4-12 hex digits)")
	}
	l.ProcessID = id

	if v := strings.TrimSpace(r.Status); v != "" {
		n, ok := parseInt(v)
		if !ok || !reconcile.Status(n).Valid() {
			return invalid(colStatus, r.Status, "is not a status 1..5")
		}
		l.Status = reconcile.Status(n)
	}

	if v := strings.ToLower(strings.TrimSpace(r.UnicoID)); v != "" {
		switch v {
		case "yes", "no", "inconclusive":
			l.UnicoID = v
		default:
			return invalid(colUnicoID, r.UnicoID, "is not yes, no or inconclusive")
		}
	}

	if v := strings.ToLower(strings.TrimSpace(r.IdentityFraudsters)); v != "" {
		switch v {
		case "yes", "inconclusive":
			l.IdentityFraudsters = v
		default:
			return invalid(colIdentityFraudsters, r.IdentityFraudsters, "is not yes or inconclusive")
		}
	}

	if v := strings.TrimSpace(r.Serpro); v != "" {
		n, ok := parseInt(v)
		if !ok || n < -2 || n > 100 {
			return invalid(colSerpro, r.Serpro, "is not a serpro score 0..100, -1 or -2")
		}
		l.Serpro = &n
	}

	if v := strings.TrimSpace(r.Liveness); v != "" {
		n, ok := parseInt(v)
		if !ok || (n != 1 && n != 2) {
			return invalid(colLiveness, r.Liveness, "is not a liveness 1 or 2")
		}
		l.Liveness = &n
	}

	if v := strings.TrimSpace(r.Score); v != "" {
		f, ok := parseNumber(v)
		switch {
		case !ok:
			return invalid(colScore, r.Score, "is not a number")
		case f != math.Trunc(f):
			return invalid(colScore, r.Score, "is not an integer score")
		}
		l.Score = &f
	}

	if v := strings.TrimSpace(r.SavedAt); v != "" {
		t, ok := parseTime(v)
		if !ok {
			return invalid(colSavedAt, r.SavedAt, "is not an RFC 3339 timestamp")
		}
		l.SavedAt = t
	}
	return l
}

// parseInt accepts an optional minus sign and decimal digits, nothing else
// (no "+", no spaces, no "3.0").
func parseInt(s string) (int, bool) {
	digits := strings.TrimPrefix(s, "-")
	if digits == "" || len(digits) > 9 {
		return 0, false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// parseNumber accepts a finite decimal number, with an optional fraction and
// exponent ("87", "87.0", "-1.5e1"); not NaN, Inf, hex or digit separators.
func parseNumber(s string) (float64, bool) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case '0' <= c && c <= '9', c == '.', c == '-', c == '+', c == 'e', c == 'E':
		default:
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

// timeLayouts are the saved_at forms accepted, tried in order. RFC 3339 with
// or without fractional seconds, with "T" or, as RFC 3339 allows, a space;
// and SQLite's own "YYYY-MM-DD HH:MM:SS[.fff]", which SQLite's date functions
// write in UTC.
var timeLayouts = []struct {
	layout string
	zone   bool // the layout carries an offset; without one the time is UTC
}{
	{time.RFC3339Nano, true},
	{"2006-01-02 15:04:05.999999999Z07:00", true},
	{"2006-01-02 15:04:05.999999999", false},
}

// parseTime returns the instant s names, in UTC.
func parseTime(s string) (time.Time, bool) {
	for _, l := range timeLayouts {
		var t time.Time
		var err error
		if l.zone {
			t, err = time.Parse(l.layout, s)
		} else {
			t, err = time.ParseInLocation(l.layout, s, time.UTC)
		}
		if err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// matchColumns finds the contract's columns among names (trimmed, lower
// case). It returns the index of process_id and the optional columns that are
// missing. found holds the names as the source spells them, for the message.
func matchColumns(names, found []string) (pid int, missing []string, err error) {
	at := make(map[string]int, len(columns))
	for i, n := range names {
		if !slices.Contains(columns, n) {
			continue
		}
		if _, dup := at[n]; dup {
			return 0, nil, fmt.Errorf("%w %s", ErrDuplicateColumn, n)
		}
		at[n] = i
	}
	pid, ok := at[colProcessID]
	if !ok {
		return 0, nil, fmt.Errorf("%w (columns: %s)", ErrNoProcessIDColumn, listNames(found))
	}
	for _, c := range columns {
		if _, ok := at[c]; !ok {
			missing = append(missing, c)
		}
	}
	return pid, missing, nil
}

// listNames quotes up to 20 names for a message; "none" when there are none.
func listNames(names []string) string {
	const most = 20
	if len(names) == 0 {
		return "none"
	}
	var b strings.Builder
	for i, n := range names {
		if i == most {
			fmt.Fprintf(&b, " and %d more", len(names)-most)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quote(n))
	}
	return b.String()
}
