package store_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
	"github.com/unico-reconcile/unico-reconcile/store"
)

// FuzzCSV reads any file as a CSV source, row by row, and checks what every
// row and every error must be: no panic; a file that cannot be used is one
// error of one line naming the file; otherwise rows come with increasing
// numbers, each either valid (a canonical process id, contract values) or
// invalid with a one-line RowError naming the file and its row; an error
// that stops Each is one line naming the file (and the row); and when Each
// reads to the end, Survey counts the same rows.
func FuzzCSV(f *testing.F) {
	f.Add([]byte(header + "00000000-0000-4000-8000-00000000000a,3,yes,inconclusive,87,1,40,2024-05-01T10:00:00Z\n"))
	f.Add([]byte("note,process_id\n\"a\nb\",00000000-0000-4000-8000-00000000000a,x\n"))
	// One file per process, written again for each input: a folder per
	// input (t.TempDir) makes fuzzing crawl.
	path := filepath.Join(f.TempDir(), "fuzz.csv")
	f.Fuzz(func(t *testing.T, content []byte) {
		if err := os.WriteFile(path, content, 0o644); err != nil {
			t.Fatal(err)
		}
		oneLine := func(what string, err error) {
			t.Helper()
			msg := err.Error()
			if strings.ContainsAny(msg, "\r\n") || !strings.Contains(msg, path) || len(msg) > len(path)+2000 {
				t.Fatalf("%s: %q: want one line naming the file", what, msg)
			}
		}
		src, err := store.OpenCSV(path)
		if err != nil {
			oneLine("OpenCSV", err)
			return
		}
		defer src.Close()
		last := 1
		n := 0
		err = src.Each(context.Background(), func(l reconcile.Local) error {
			n++
			if l.Row <= last {
				t.Fatalf("row %d after row %d", l.Row, last)
			}
			last = l.Row
			if l.Invalid != nil {
				var re *store.RowError
				if !errors.As(l.Invalid, &re) || re.Row != l.Row || re.File != path {
					t.Fatalf("row %d: Invalid %#v is not a RowError for this row", l.Row, l.Invalid)
				}
				oneLine("row "+strconv.Itoa(l.Row), l.Invalid)
				// The reports show the verdict's id: capped and printable.
				if id := reconcile.Invalid(l).Local.ProcessID; !printable(id) {
					t.Fatalf("row %d: the reports would show process_id %q", l.Row, id)
				}
				if !strings.Contains(l.Invalid.Error(), "row "+strconv.Itoa(l.Row)) {
					t.Fatalf("row %d: %q does not name the row", l.Row, l.Invalid)
				}
				return nil
			}
			checkValid(t, l)
			return nil
		})
		if err != nil {
			oneLine("Each", err)
			if !errors.Is(err, store.ErrNotCSV) {
				t.Fatalf("Each: %v, want ErrNotCSV", err)
			}
			return
		}
		sv, err := src.Survey(context.Background())
		if err != nil {
			t.Fatalf("Survey: %v", err)
		}
		if sv.Rows != n {
			t.Fatalf("Survey().Rows=%d, Each gave %d rows", sv.Rows, n)
		}
	})
}

// checkValid checks a row given as valid against the contract's columns.
func checkValid(t *testing.T, l reconcile.Local) {
	t.Helper()
	if id, ok := reconcile.ParseProcessID(l.ProcessID); !ok || id != l.ProcessID {
		t.Fatalf("row %d: valid with process_id %q", l.Row, l.ProcessID)
	}
	o := l.Outcome
	bad := o.Status != reconcile.StatusNone && !o.Status.Valid() ||
		!oneOf(o.UnicoID, "", "yes", "no", "inconclusive") ||
		!oneOf(o.IdentityFraudsters, "", "yes", "inconclusive") ||
		o.Serpro != nil && (*o.Serpro < -2 || *o.Serpro > 100) ||
		o.Liveness != nil && *o.Liveness != 1 && *o.Liveness != 2 ||
		o.Score != nil && *o.Score != float64(int64(*o.Score))
	if bad {
		t.Fatalf("row %d: valid with values outside the contract: %+v", l.Row, o)
	}
	if !l.SavedAt.IsZero() && l.SavedAt.Location().String() != "UTC" {
		t.Fatalf("row %d: saved_at %v not in UTC", l.Row, l.SavedAt)
	}
}

func oneOf(s string, set ...string) bool {
	for _, v := range set {
		if s == v {
			return true
		}
	}
	return false
}

// printable reports whether s is valid UTF-8 of printable characters, short
// enough for a report cell (reconcile.Printable's promise).
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
