package reconcile

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxShown is how many bytes of a value from outside (a process_id that is
// not one, a result the API made up) the reports show; the rest is left out
// and counted.
const MaxShown = 128

// Printable returns s as the reports show a value that came from outside and
// may be anything. A value of printable UTF-8 text without a double quote is
// kept as it is; any other (NUL or control bytes, invalid UTF-8, a quote) is
// Go-quoted as by strconv.Quote, so that it stays on one line and every byte
// can be read back. A value longer than MaxShown bytes is cut at a character
// boundary and marked with "…(N bytes)", N being its full length.
//
// Verdicts apply it where they are built (Invalid, the Fields of Compare),
// so that the CSV, JSON Lines and HTML reports all show the same text.
func Printable(s string) string {
	cut := s
	if len(s) > MaxShown {
		n := MaxShown
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		cut = s[:n]
	}
	if needsQuote(s) {
		cut = strconv.Quote(cut)
	}
	if len(s) > MaxShown {
		return cut + "…(" + strconv.Itoa(len(s)) + " bytes)"
	}
	return cut
}

// needsQuote reports whether s holds anything that is not printable text, or
// a double quote (which would make it look quoted).
func needsQuote(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || r == '"' || !strconv.IsPrint(r) {
			return true
		}
	}
	return false
}

// fieldValue writes a FieldDiff value for the fields column, where ";" ends
// a field and "->" parts local from remote: a value holding either (or a
// quote) is Go-quoted so that the column splits one way only. v is already
// Printable: a value that starts with a quote is quoted already.
func fieldValue(v string) string {
	if strings.HasPrefix(v, `"`) || !strings.Contains(v, ";") && !strings.Contains(v, "->") {
		return v
	}
	return strconv.Quote(v)
}
