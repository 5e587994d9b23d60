package reports_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/unico-reconcile/unico-reconcile/reports"
)

func TestWriteAtomic(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "summary.json")
		if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := reports.WriteAtomic(path, func(w io.Writer) error {
			_, err := io.WriteString(w, "new\n")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if got, want := MustReadFile(t, path), "new\n"; got != want {
			t.Fatalf("content %q, want %q", got, want)
		}
		if got, want := MustReadDir(t, dir), []string{"summary.json"}; !cmp.Equal(got, want) {
			t.Fatalf("files %q, want %q", got, want)
		}
	})

	t.Run("ErrFn", func(t *testing.T) {
		dir := t.TempDir()
		errFn := errors.New("encode failed")
		err := reports.WriteAtomic(filepath.Join(dir, "summary.json"), func(w io.Writer) error {
			io.WriteString(w, "half")
			return errFn
		})
		if !errors.Is(err, errFn) {
			t.Fatalf("err=%v, want %v", err, errFn)
		}
		if got := MustReadDir(t, dir); len(got) != 0 {
			t.Fatalf("files %q, want none", got)
		}
	})

	t.Run("ErrFnKeepsOld", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "summary.json")
		if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
		reports.WriteAtomic(path, func(io.Writer) error { return errors.New("no") })
		if got, want := MustReadFile(t, path), "old"; got != want {
			t.Fatalf("content %q, want %q", got, want)
		}
	})

	t.Run("Panic", func(t *testing.T) {
		dir := t.TempDir()
		func() {
			defer func() { recover() }()
			reports.WriteAtomic(filepath.Join(dir, "summary.json"), func(io.Writer) error { panic("boom") })
		}()
		if got := MustReadDir(t, dir); len(got) != 0 {
			t.Fatalf("files %q, want none", got)
		}
	})

	t.Run("ErrNoFolder", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "missing", "summary.json")
		if err := reports.WriteAtomic(path, func(io.Writer) error { return nil }); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("err=%v, want %v", err, os.ErrNotExist)
		}
	})
}

// MustReadFile returns the content of path.
func MustReadFile(tb testing.TB, path string) string {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}
