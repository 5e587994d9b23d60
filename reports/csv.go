package reports

import (
	"encoding/csv"
	"io"
	"strconv"

	"github.com/gocarina/gocsv"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

// csvHeader is the header of discrepancies.csv, fixed by the contract.
var csvHeader = []string{
	"process_id", "kind", "local_status", "remote_status",
	"fields", "http_status", "error_code", "detail",
}

// csvRow is one line of discrepancies.csv: gocsv writes its fields in order,
// which is csvHeader's (the tags repeat it). Every cell is text so that an
// absent value is an empty cell.
type csvRow struct {
	ProcessID    string `csv:"process_id"`
	Kind         string `csv:"kind"`
	LocalStatus  string `csv:"local_status"`
	RemoteStatus string `csv:"remote_status"`
	Fields       string `csv:"fields"`
	HTTPStatus   string `csv:"http_status"`
	ErrorCode    string `csv:"error_code"`
	Detail       string `csv:"detail"`
}

// CSVWriter encodes discrepancies as the rows of discrepancies.csv, one row
// per Write. Cells a spreadsheet would run as formulas are neutralised (see
// Write). It is not safe for concurrent use.
type CSVWriter struct {
	w   *gocsv.SafeCSVWriter
	row [1]csvRow // reused: gocsv encodes slices
}

// NewCSVWriter writes the header to w and returns a writer for the rows. It
// returns an error when the header cannot be written.
func NewCSVWriter(w io.Writer) (*CSVWriter, error) {
	cw := &CSVWriter{w: gocsv.NewSafeCSVWriter(csv.NewWriter(w))}
	// The header is the contract's, whatever gocsv's global settings (tag
	// name, normaliser) other packages may have changed.
	if err := cw.w.Write(csvHeader); err != nil {
		return nil, err
	}
	cw.w.Flush()
	if err := cw.w.Error(); err != nil {
		return nil, err
	}
	return cw, nil
}

// Write encodes d as one row and passes it on to the underlying writer. Empty
// statuses and codes are empty cells; fields is d.FieldsString(). A text cell
// that starts with =, +, -, @, a tab or a carriage return, also after leading
// spaces, is prefixed with a single quote so that a spreadsheet shows it as
// text; a cell that is a plain number (-1, 404) is written as is. Write
// returns the underlying writer's error.
func (cw *CSVWriter) Write(d reconcile.Discrepancy) error {
	r := &cw.row[0]
	*r = csvRow{
		ProcessID:    neutralise(d.Local.ProcessID),
		Kind:         neutralise(string(d.Kind)),
		LocalStatus:  neutralise(d.Local.Status.String()),
		RemoteStatus: neutralise(remoteStatus(d.Remote)),
		Fields:       neutralise(d.FieldsString()),
		HTTPStatus:   neutralise(itoaOrEmpty(d.HTTPStatus)),
		ErrorCode:    neutralise(d.ErrorCode),
		Detail:       neutralise(d.Detail),
	}
	return gocsv.MarshalCSVWithoutHeaders(cw.row[:], cw.w)
}

// Close flushes what is buffered to the underlying writer and returns the
// first error met. It does not close the underlying writer.
func (cw *CSVWriter) Close() error {
	cw.w.Flush()
	return cw.w.Error()
}

func remoteStatus(r *reconcile.Remote) string {
	if r == nil {
		return ""
	}
	return r.Status.String()
}

func itoaOrEmpty(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// neutralise returns s with a single quote in front when a spreadsheet would
// run it as a formula (OWASP's "CSV injection" advice): when it starts with a
// tab or a carriage return, or its first character after leading spaces is
// =, +, - or @. A plain number such as -1 or +3.5 is left alone: it is a
// number, not a formula.
func neutralise(s string) string {
	if s == "" || plainNumber(s) {
		return s
	}
	i := 0
	for i < len(s) && s[i] == ' ' {
		i++
	}
	if i == len(s) {
		return s
	}
	switch s[i] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}

// plainNumber reports whether s is an optional sign, digits, and an optional
// fraction: [+-]?[0-9]+(\.[0-9]+)?.
func plainNumber(s string) bool {
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	digits := func() int {
		n := 0
		for n < len(s) && '0' <= s[n] && s[n] <= '9' {
			n++
		}
		s = s[n:]
		return n
	}
	if digits() == 0 {
		return false
	}
	if s == "" {
		return true
	}
	if s[0] != '.' {
		return false
	}
	s = s[1:]
	return digits() > 0 && s == ""
}
