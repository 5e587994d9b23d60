package store_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"
	_ "github.com/mattn/go-sqlite3"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
	"github.com/unico-reconcile/unico-reconcile/store"
)

const header = "process_id,status,unico_id_result,identity_fraudsters_result,serpro_score,liveness,score,saved_at\n"

// MustWriteFile writes content to name in dir and returns the path.
func MustWriteFile(tb testing.TB, dir, name, content string) string {
	tb.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

// MustSQLite creates the SQLite database path (read-write, as an
// application would) and runs stmts in it.
func MustSQLite(tb testing.TB, path string, stmts ...string) string {
	tb.Helper()
	db, err := sqlx.Open("sqlite3", path)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			tb.Fatalf("%s: %v", s, err)
		}
	}
	return path
}

// MustCollect reads every row of src.
func MustCollect(tb testing.TB, src reconcile.Source) []reconcile.Local {
	tb.Helper()
	got, err := collect(src)
	if err != nil {
		tb.Fatalf("Each: %v", err)
	}
	return got
}

func collect(src reconcile.Source) ([]reconcile.Local, error) {
	var got []reconcile.Local
	err := src.Each(context.Background(), func(l reconcile.Local) error {
		got = append(got, l)
		return nil
	})
	return got, err
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	csvPath := MustWriteFile(t, dir, "saved.CSV", header+"00000000-0000-4000-8000-000000000001,3,,,,,,\n")
	dbPath := MustSQLite(t, filepath.Join(dir, "saved.sqlite3"),
		"CREATE TABLE processes (process_id TEXT, status INTEGER, unico_id_result TEXT, identity_fraudsters_result TEXT, serpro_score INTEGER, liveness INTEGER, score REAL, saved_at TEXT)",
		"INSERT INTO processes (process_id, status) VALUES ('00000000-0000-4000-8000-000000000001', 3)")
	noExt := filepath.Join(dir, "saved")
	if err := os.Link(dbPath, noExt); err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		name    string
		source  string
		query   string
		wantErr error // nil: one row with status 3
	}{
		{name: "OK/CSVAnyCase", source: csvPath},
		{name: "OK/CSVDefaultQuery", source: csvPath, query: store.DefaultQuery},
		{name: "OK/SQLiteByExtension", source: dbPath},
		{name: "OK/SQLitePrefix", source: "sqlite:" + noExt},
		{name: "OK/SQLiteQuery", source: dbPath, query: "SELECT process_id, status FROM processes"},
		{name: "ErrUnsupportedSource/Extension", source: filepath.Join(dir, "saved.txt"), wantErr: store.ErrUnsupportedSource},
		{name: "ErrUnsupportedSource/Empty", source: "", wantErr: store.ErrUnsupportedSource},
		{name: "ErrUnsupportedSource/PrefixOnly", source: "sqlite:", wantErr: store.ErrUnsupportedSource},
		{name: "ErrNotExist", source: filepath.Join(dir, "missing.db"), wantErr: os.ErrNotExist},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src, err := store.Open(tt.source, tt.query)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Open(%q)=%v, want %v", tt.source, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			got := MustCollect(t, src)
			if len(got) != 1 || got[0].Invalid != nil || got[0].Status != reconcile.StatusFinished {
				t.Fatalf("got %+v, want one valid row with status 3", got)
			}
		})
	}

	t.Run("Directory", func(t *testing.T) {
		for _, name := range []string{"folder.csv", "folder.db"} {
			path := filepath.Join(dir, name)
			if err := os.Mkdir(path, 0o755); err != nil {
				t.Fatal(err)
			}
			_, err := store.Open(path, "")
			if err == nil || !strings.Contains(err.Error(), name) || strings.Count(err.Error(), name) > 1 {
				t.Fatalf("Open(%s)=%v, want an error naming it once", name, err)
			}
		}
	})

	t.Run("QueryForCSV", func(t *testing.T) {
		_, err := store.Open(csvPath, "SELECT 1")
		if err == nil || !strings.Contains(err.Error(), "SQL sources only") {
			t.Fatalf("Open(csv, query)=%v, want an error", err)
		}
	})
}

func mustOpenRW(tb testing.TB, path string) *sqlx.DB {
	tb.Helper()
	db, err := sqlx.Open("sqlite3", path)
	if err != nil {
		tb.Fatal(err)
	}
	return db
}
