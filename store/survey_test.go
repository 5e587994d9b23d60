package store_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/unico-reconcile/unico-reconcile/store"
)

// TestSurvey checks that Rows is what Each yields and SHA256 is the file's.
func TestSurvey(t *testing.T) {
	dir := t.TempDir()
	pid := "0b3c8d5e-9f21-4a7b-8c6d-1e2f3a4b5c6d"
	tests := []struct {
		name, file, content string
	}{
		{"header only", "a.csv", header},
		{"rows, blank line, quoted newline", "b.csv", header + pid + ",3,yes,,,,,\n\n\"" + pid + "\",3,\"y\nes\",,,,,\n" + pid + ",,,,,,,\n"},
		{"BOM CRLF, no final newline", "c.csv", "\xEF\xBB\xBF" + header[:len(header)-1] + "\r\n" + pid + ",3,,,,,,\r\n" + pid + ",3,,,,,,"},
		{"ragged and bare-quote rows are rows", "d.csv", header + pid + ",3\n" + pid + ",3,y\"es,,,,,\n"},
		{"conformance fixture", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := fixture
			if tt.file != "" {
				path = MustWriteFile(t, dir, tt.file, tt.content)
			}
			src, err := store.Open(path, "")
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			checkSurvey(t, src, path)
		})
	}
	t.Run("SQLite", func(t *testing.T) {
		path := MustSQLiteFromCSV(t, fixture)
		src, err := store.Open(path, "")
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		checkSurvey(t, src, path)
	})
	t.Run("SQLite query", func(t *testing.T) {
		path := MustSQLite(t, filepath.Join(dir, "q.db"),
			"CREATE TABLE processes (process_id TEXT, status INTEGER)",
			"INSERT INTO processes VALUES ('"+pid+"', 3), ('"+pid+"', 4), ('x', 5)")
		src, err := store.Open(path, "SELECT process_id, status FROM processes WHERE status > 3")
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		checkSurvey(t, src, path)
	})
}

func checkSurvey(t *testing.T, src *store.Source, path string) {
	t.Helper()
	sv, err := src.Survey(context.Background())
	if err != nil {
		t.Fatalf("Survey: %v", err)
	}
	if got, want := sv.Rows, len(MustCollect(t, src)); got != want {
		t.Errorf("Rows=%d, want %d (what Each yields)", got, want)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	if got, want := sv.SHA256, hex.EncodeToString(sum[:]); got != want {
		t.Errorf("SHA256=%s, want %s", got, want)
	}
}

// TestSurvey_HashesPastAFatalError: a quoting error that ends the count
// early still leaves the whole file in the hash.
func TestSurvey_HashesPastAFatalError(t *testing.T) {
	pid := "0b3c8d5e-9f21-4a7b-8c6d-1e2f3a4b5c6d"
	content := header + pid + ",3,,,,,,\n" + pid + `,"3"x,,,,,,` + "\n" + strings.Repeat(pid+",3,,,,,,\n", 20000)
	path := MustWriteFile(t, t.TempDir(), "torn.csv", content)
	src, err := store.Open(path, "")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	sv, err := src.Survey(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(content))
	if got, want := sv.SHA256, hex.EncodeToString(sum[:]); got != want {
		t.Errorf("SHA256=%s, want the whole file's %s", got, want)
	}
	if sv.Rows >= 20000 {
		t.Errorf("Rows=%d: the count did not stop at the unterminated quote (the test proves nothing)", sv.Rows)
	}
}
