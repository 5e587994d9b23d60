package store

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"io"
	"os"
)

// Survey describes a source as a whole, before it is read: what a run plans
// with and what identifies the data it read.
type Survey struct {
	// Rows is how many data rows the source holds (blank lines and the
	// header not counted): the most processes a run over it can fetch.
	Rows int
	// SHA256 is the hex SHA-256 of the source file's bytes (for SQLite, of
	// the main database file).
	SHA256 string
}

// Survey counts the rows of the source and hashes its file, in one pass.
func (s *Source) Survey(ctx context.Context) (Survey, error) { return s.src.Survey(ctx) }

// Survey counts the file's records as Each would find them, and hashes it,
// in one read of the file.
func (c *CSV) Survey(ctx context.Context) (Survey, error) {
	var sv Survey
	h := sha256.New()
	file := io.NewSectionReader(c.f, 0, 1<<62)
	r := csv.NewReader(bufio.NewReaderSize(io.TeeReader(file, h), bufSize))
	r.ReuseRecord = true
	r.FieldsPerRecord = -1
	for {
		if sv.Rows%4096 == 0 && ctx.Err() != nil {
			return sv, ctx.Err()
		}
		_, err := r.Read()
		if err == io.EOF {
			break
		}
		var pe *csv.ParseError
		if err != nil && !errors.As(err, &pe) {
			return sv, readError(c.path, err)
		}
		if err != nil && !errors.Is(err, csv.ErrBareQuote) {
			break // the rest is unreadable, as Each will say
		}
		sv.Rows++
	}
	if sv.Rows > 0 {
		sv.Rows-- // the header
	}
	// What the reader did not pull through the hash, after a fatal error.
	if _, err := io.Copy(h, file); err != nil {
		return sv, readError(c.path, err)
	}
	sv.SHA256 = hex.EncodeToString(h.Sum(nil))
	return sv, nil
}

// Survey counts the query's rows in SQL and hashes the database file.
func (s *SQLite) Survey(ctx context.Context) (Survey, error) {
	var sv Survey
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM ("+s.query+")").Scan(&sv.Rows); err != nil {
		return sv, s.queryError(err)
	}
	f, err := os.Open(s.path)
	if err != nil {
		return sv, readError(s.path, err)
	}
	defer f.Close()
	sv.SHA256, err = hashFile(s.path, f)
	return sv, err
}

func hashFile(path string, r io.Reader) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", readError(path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
