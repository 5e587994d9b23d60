package store

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gocarina/gocsv"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

const (
	// maxRowBytes caps one CSV record (the header included). A longer one
	// is almost always an unterminated quote swallowing the rest of the
	// file; reading it whole would hold the file in memory.
	maxRowBytes = 1 << 20
	// bufSize is the read buffer; sniffSize the prefix checked for NULs.
	bufSize   = 64 << 10
	sniffSize = 4 << 10
)

var (
	utf8BOM          = []byte{0xEF, 0xBB, 0xBF}
	errRecordTooLong = errors.New("a row is longer than 1 MiB (an unterminated quote?)")
)

// CSV is a CSV file of saved outcomes: a header row naming the contract's
// columns in any order (matched without regard to case or surrounding
// spaces; other columns are ignored), then one row per process. UTF-8 with
// or without a byte order mark, LF or CRLF line ends, quoted fields that span
// lines. Blank lines are skipped and not counted.
//
// Row numbers count records with the header as row 1, so the first data row
// is row 2. A row with the wrong number of fields, or a stray quote in an
// unquoted field, is an invalid row; any other quoting error is fatal
// (ErrNotCSV), since where the next row starts is then a guess.
type CSV struct {
	path    string
	f       *os.File
	missing []string
}

var _ reconcile.Source = (*CSV)(nil)

// OpenCSV opens the CSV file at path and checks its header.
func OpenCSV(path string) (*CSV, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	c := &CSV{path: path, f: f}
	h, err := c.start()
	if err != nil {
		f.Close()
		return nil, err
	}
	c.missing = h.missing
	return c, nil
}

// Missing lists the contract's columns the header lacks.
func (c *CSV) Missing() []string { return slices.Clone(c.missing) }

// Close closes the file.
func (c *CSV) Close() error { return c.f.Close() }

// csvReader is one pass over the file, positioned after the header.
type csvReader struct {
	um      *gocsv.Unmarshaller
	r       *csv.Reader
	limit   *limitReader
	base    int64    // bytes before the csv.Reader's offset 0 (a BOM)
	fields  int      // fields in the header
	names   []string // the header's names, trimmed, in lower case
	pid     int      // index of process_id in the header
	missing []string
}

// start reads the file from its beginning up to and including the header.
func (c *CSV) start() (*csvReader, error) {
	limit := &limitReader{r: io.NewSectionReader(c.f, 0, math.MaxInt64), max: maxRowBytes + bufSize}
	br := bufio.NewReaderSize(limit, bufSize)
	head, err := br.Peek(sniffSize)
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return nil, readError(c.path, err)
	}
	switch {
	case len(head) == 0:
		return nil, fmt.Errorf("%s: %w: no header row", c.path, ErrEmpty)
	case bytes.IndexByte(head, 0) >= 0:
		return nil, fmt.Errorf("%s: %w: it holds NUL bytes (binary, or UTF-16 text?)", c.path, ErrNotCSV)
	}
	h := &csvReader{limit: limit}
	if bytes.HasPrefix(head, utf8BOM) {
		br.Discard(len(utf8BOM))
		h.base = int64(len(utf8BOM))
	}

	h.r = csv.NewReader(br)
	h.r.ReuseRecord = true // gocsv copies the fields out
	h.um, err = gocsv.NewUnmarshaller(h.r, &rawRow{})
	switch {
	case err == io.EOF:
		return nil, fmt.Errorf("%s: %w: no header row", c.path, ErrEmpty)
	case errors.Is(err, errRecordTooLong):
		return nil, fmt.Errorf("%s: %w: the header is longer than 1 MiB", c.path, ErrNotCSV)
	case isParseError(err):
		return nil, fmt.Errorf("%s: %w: header: %v", c.path, ErrNotCSV, err)
	case err != nil:
		return nil, readError(c.path, err)
	}

	names := make([]string, len(h.um.Headers))
	for i, name := range h.um.Headers {
		if !utf8.ValidString(name) || strings.ContainsFunc(name, unicode.IsControl) {
			return nil, fmt.Errorf("%s: %w: the header is not UTF-8 text", c.path, ErrNotCSV)
		}
		names[i] = strings.ToLower(strings.TrimSpace(name))
	}
	h.pid, h.missing, err = matchColumns(names, h.um.Headers)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.path, err)
	}
	if err := h.um.RenormalizeHeaders(func([]string) []string { return names }); err != nil {
		return nil, fmt.Errorf("%s: header: %w", c.path, err)
	}
	if h.r.InputOffset() > maxRowBytes {
		return nil, fmt.Errorf("%s: %w: the header is longer than 1 MiB", c.path, ErrNotCSV)
	}
	h.fields, h.names = len(names), names
	h.limit.max = h.base + h.r.InputOffset() + maxRowBytes + bufSize
	return h, nil
}

// Each reads the file from its start and calls fn once per data row.
func (c *CSV) Each(ctx context.Context, fn func(reconcile.Local) error) error {
	h, err := c.start()
	if err != nil {
		return err
	}
	row := 1 // the header
	prev := h.r.InputOffset()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		v, err := h.um.Read()
		if err == io.EOF {
			return nil
		}
		row++
		next := h.r.InputOffset()
		var l reconcile.Local
		switch {
		case next-prev > maxRowBytes:
			// The limit reader stops a longer one only once the read-ahead
			// is used up too.
			return fmt.Errorf("%s: %w: row %d: %v", c.path, ErrNotCSV, row, errRecordTooLong)
		case err != nil:
			if l, err = c.badRecord(h, row, prev, next, err); err != nil {
				return err
			}
		case h.limit.nulIn(h.base+prev, h.base+next) && hasNUL(c.f, h.base+prev, h.base+next):
			l = c.nulRecord(h, row, prev, next, v.(*rawRow))
		default:
			l = parseRow(c.path, row, v.(*rawRow))
		}
		prev = next
		h.limit.max = h.base + next + maxRowBytes + bufSize
		if err := fn(l); err != nil {
			return err
		}
	}
}

// badRecord turns an error reading row into an invalid row, when the rows
// after it can still be told apart, or into Each's error.
func (c *CSV) badRecord(h *csvReader, row int, prev, next int64, err error) (reconcile.Local, error) {
	var pe *csv.ParseError
	switch {
	case errors.Is(err, errRecordTooLong):
		return reconcile.Local{}, fmt.Errorf("%s: %w: row %d: %v", c.path, ErrNotCSV, row, err)
	case errors.As(err, &pe) && pe.Err == csv.ErrFieldCount:
		rec := h.reread(c.f, prev, next)
		return c.invalidRecord(h, row, rec, fmt.Sprintf("has %s, the header has %d", plural(len(rec), "field"), h.fields)), nil
	case errors.As(err, &pe) && pe.Err == csv.ErrBareQuote:
		rec := h.reread(c.f, prev, next)
		return c.invalidRecord(h, row, rec, fmt.Sprintf("has a bare \" in an unquoted field (line %d, column %d)", pe.Line, pe.Column)), nil
	case isParseError(err):
		return reconcile.Local{}, fmt.Errorf("%s: %w: row %d: %v", c.path, ErrNotCSV, row, err)
	}
	return reconcile.Local{}, fmt.Errorf("row %d: %w", row, readError(c.path, err))
}

// invalidRecord is a row the CSV reader could not split into the header's
// fields; rec is the row read again leniently, for its process_id.
func (c *CSV) invalidRecord(h *csvReader, row int, rec []string, reason string) reconcile.Local {
	var id string
	if h.pid < len(rec) {
		id = rec[h.pid]
	}
	return reconcile.Local{Row: row, ProcessID: id, Invalid: &RowError{File: c.path, Row: row, Reason: reason}}
}

// nulRecord is a row that holds a NUL byte (past the first sniffSize bytes,
// which are checked whole): invalid, naming the first field that holds one.
func (c *CSV) nulRecord(h *csvReader, row int, prev, next int64, raw *rawRow) reconcile.Local {
	e := &RowError{File: c.path, Row: row, Reason: "holds a NUL byte"}
	for i, v := range h.reread(c.f, prev, next) {
		if i < len(h.names) && strings.IndexByte(v, 0) >= 0 {
			e.Column, e.Value = h.names[i], v
			break
		}
	}
	if e.Column == "" {
		e.Reason = "holds a NUL byte past its first 64 KiB"
	}
	return reconcile.Local{Row: row, ProcessID: raw.ProcessID, Invalid: e}
}

// reread parses the record between the csv.Reader offsets from and to again,
// leniently, and returns its fields. It reads at most bufSize bytes: a
// longer record may come back cut short.
func (h *csvReader) reread(f io.ReaderAt, from, to int64) []string {
	n := min(to-from, bufSize)
	if n <= 0 {
		return nil
	}
	b := make([]byte, n)
	n2, _ := f.ReadAt(b, h.base+from)
	r := csv.NewReader(bytes.NewReader(b[:n2]))
	r.LazyQuotes = true
	r.FieldsPerRecord = -1
	rec, _ := r.Read()
	return rec
}

func isParseError(err error) bool {
	var pe *csv.ParseError
	return errors.As(err, &pe)
}

// limitReader fails with errRecordTooLong once max bytes have been read;
// Each moves max forward after every record. It also notes where the NUL
// bytes it passes on are, so that Each can tell which records hold one.
type limitReader struct {
	r      io.Reader
	n, max int64
	// nuls holds, per Read that met NUL bytes, the offsets of its first and
	// last one, in order; nulIn drops the spans it has passed.
	nuls []span
}

// span is [from, to] in file offsets.
type span struct{ from, to int64 }

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n >= l.max {
		return 0, errRecordTooLong
	}
	if rest := l.max - l.n; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := l.r.Read(p)
	if i := bytes.IndexByte(p[:n], 0); i >= 0 {
		j := bytes.LastIndexByte(p[:n], 0)
		l.nuls = append(l.nuls, span{l.n + int64(i), l.n + int64(j)})
	}
	l.n += int64(n)
	return n, err
}

// nulIn reports whether the file's bytes [from, to) may hold a NUL byte:
// false is sure, true is for hasNUL to confirm (a span says only where the
// NULs of one read start and end). Calls must come with from increasing:
// spans before from are forgotten.
func (l *limitReader) nulIn(from, to int64) bool {
	for len(l.nuls) > 0 && l.nuls[0].to < from {
		l.nuls = l.nuls[1:]
	}
	for _, s := range l.nuls {
		switch {
		case s.from >= to:
			return false
		case s.from >= from || s.to < to:
			return true // a NUL at s.from or s.to is inside
		default:
			return true // the span covers the record: perhaps
		}
	}
	return false
}

// hasNUL reports whether the file's bytes [from, to) hold a NUL byte,
// reading them again.
func hasNUL(f io.ReaderAt, from, to int64) bool {
	b := make([]byte, min(to-from, bufSize))
	for from < to {
		n, err := f.ReadAt(b[:min(to-from, int64(len(b)))], from)
		if bytes.IndexByte(b[:n], 0) >= 0 {
			return true
		}
		if err != nil || n == 0 {
			return false
		}
		from += int64(n)
	}
	return false
}

// plural counts n things: "1 field", "3 fields".
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return strconv.Itoa(n) + " " + thing + "s"
}

// readError names the file in a read error, unless the error already does.
func readError(path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return err
	}
	return fmt.Errorf("read %s: %w", path, err)
}
