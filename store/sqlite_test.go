package store_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
	"github.com/unico-reconcile/unico-reconcile/store"
)

const createProcesses = `CREATE TABLE processes (process_id TEXT, status INTEGER, unico_id_result TEXT,
	identity_fraudsters_result TEXT, serpro_score INTEGER, liveness INTEGER, score REAL, saved_at TEXT)`

// TestOpenSQLite_Error covers sources that cannot be used: Open fails.
func TestOpenSQLite_Error(t *testing.T) {
	for _, tt := range []struct {
		name    string
		file    func(t *testing.T, path string) // creates the file, nil for none
		query   string
		wantErr error
		wantMsg string
	}{
		{name: "ErrNotExist", wantErr: fs.ErrNotExist},
		{name: "ErrEmpty", file: writeFile(""), wantErr: store.ErrEmpty},
		{name: "ErrNotDatabase/Text", file: writeFile(header + "00000000-0000-4000-8000-000000000001,3,,,,,,\n"), wantErr: store.ErrNotDatabase},
		{name: "ErrNotDatabase/Short", file: writeFile("SQLite"), wantErr: store.ErrNotDatabase},
		{name: "ErrNotDatabase/DamagedHeader", file: writeFile("SQLite format 3\x00" + strings.Repeat("\xff", 4096)), wantErr: store.ErrNotDatabase},
		{name: "ErrBadQuery/NoTable", file: sqliteFile("CREATE TABLE other (x)"),
			wantErr: store.ErrBadQuery, wantMsg: "saved.db: bad query: no such table: processes"},
		{name: "ErrBadQuery/Syntax", file: sqliteFile(createProcesses), query: "SELEC process_id FROM processes", wantErr: store.ErrBadQuery},
		{name: "ErrBadQuery/NoSuchColumn", file: sqliteFile(createProcesses), query: "SELECT id FROM processes", wantErr: store.ErrBadQuery},
		{name: "ErrBadQuery/Write", file: sqliteFile(createProcesses, "INSERT INTO processes (process_id) VALUES ('x')"),
			query: "DELETE FROM processes RETURNING process_id", wantErr: store.ErrBadQuery},
		{name: "ErrNoProcessIDColumn", file: sqliteFile(createProcesses), query: "SELECT status, saved_at AS at FROM processes",
			wantErr: store.ErrNoProcessIDColumn, wantMsg: `saved.db: query result: no process_id column (columns: "status", "at")`},
		{name: "ErrNoProcessIDColumn/NoColumns", file: sqliteFile(createProcesses), query: "-- nothing",
			wantErr: store.ErrNoProcessIDColumn},
		{name: "ErrDuplicateColumn", file: sqliteFile(createProcesses), query: "SELECT *, status FROM processes",
			wantErr: store.ErrDuplicateColumn},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "saved.db")
			if tt.file != nil {
				tt.file(t, path)
			}
			before := mustSnapshot(t, path)
			s, err := store.OpenSQLite(path, tt.query)
			if err == nil {
				s.Close()
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("OpenSQLite()=%v, want %v", err, tt.wantErr)
			}
			msg := err.Error()
			if !strings.Contains(msg, "saved.db") || strings.ContainsAny(msg, "\r\n") {
				t.Fatalf("message %q: want one line naming the file", msg)
			}
			if !strings.Contains(msg, tt.wantMsg) {
				t.Fatalf("message %q does not hold %q", msg, tt.wantMsg)
			}
			if diff := cmp.Diff(before, mustSnapshot(t, path)); diff != "" {
				t.Fatalf("the folder changed (-before +after):\n%s", diff)
			}
		})
	}
}

func writeFile(content string) func(*testing.T, string) {
	return func(t *testing.T, path string) {
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func sqliteFile(stmts ...string) func(*testing.T, string) {
	return func(t *testing.T, path string) { MustSQLite(t, path, stmts...) }
}

// fileState is what reading must leave alone.
type fileState struct {
	Size    int64
	ModTime time.Time
	Mode    fs.FileMode
	Sum     []byte
}

// mustSnapshot records every file in path's folder (a database and any
// -wal, -shm or -journal beside it).
func mustSnapshot(tb testing.TB, path string) map[string]fileState {
	tb.Helper()
	dir := filepath.Dir(path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	snap := make(map[string]fileState)
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			tb.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			tb.Fatal(err)
		}
		snap[e.Name()] = fileState{Size: info.Size(), ModTime: info.ModTime(), Mode: info.Mode(), Sum: b}
	}
	return snap
}

// TestSQLite_ReadOnly reads databases in each journal mode and checks that
// nothing in their folder changed: not the bytes, not the mtime, and no
// -wal, -shm or -journal file was left behind.
func TestSQLite_ReadOnly(t *testing.T) {
	for _, mode := range []string{"DELETE", "WAL", "TRUNCATE"} {
		t.Run(mode, func(t *testing.T) {
			path := MustSQLite(t, filepath.Join(t.TempDir(), "saved.db"),
				"PRAGMA journal_mode="+mode,
				createProcesses,
				"INSERT INTO processes (process_id, status) VALUES ('00000000-0000-4000-8000-000000000001', 3)")
			before := mustSnapshot(t, path)
			// Mtimes have a coarse grain on some file systems: wait so a
			// write would show.
			time.Sleep(20 * time.Millisecond)

			s, err := store.OpenSQLite(path, "")
			if err != nil {
				t.Fatal(err)
			}
			if got := MustCollect(t, s); len(got) != 1 || got[0].Invalid != nil {
				t.Fatalf("got %+v, want one valid row", got)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(before, mustSnapshot(t, path)); diff != "" {
				t.Fatalf("the folder changed (-before +after):\n%s", diff)
			}
		})
	}

	t.Run("WALOpenElsewhere", func(t *testing.T) {
		// An application holds the database open and its last rows are
		// still in the -wal file: they must be read.
		path := MustSQLite(t, filepath.Join(t.TempDir(), "saved.db"), "PRAGMA journal_mode=WAL", createProcesses)
		app := mustOpenRW(t, path)
		defer app.Close()
		app.SetMaxOpenConns(1)
		if _, err := app.Exec("INSERT INTO processes (process_id) VALUES ('00000000-0000-4000-8000-000000000001')"); err != nil {
			t.Fatal(err)
		}
		db := mustSnapshot(t, path)["saved.db"]
		s, err := store.OpenSQLite(path, "")
		if err != nil {
			t.Fatal(err)
		}
		if got := MustCollect(t, s); len(got) != 1 {
			t.Fatalf("got %d rows, want the row in the -wal file", len(got))
		}
		s.Close()
		if diff := cmp.Diff(db, mustSnapshot(t, path)["saved.db"]); diff != "" {
			t.Fatalf("the database changed (-before +after):\n%s", diff)
		}
	})

	t.Run("MissingNotCreated", func(t *testing.T) {
		dir := t.TempDir()
		for _, source := range []string{"missing.db", "missing.sqlite"} {
			path := filepath.Join(dir, source)
			if _, err := store.Open(path, ""); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("Open(%s)=%v, want %v", source, err, fs.ErrNotExist)
			}
			if _, err := store.Open("sqlite:"+path, ""); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("Open(sqlite:%s)=%v, want %v", source, err, fs.ErrNotExist)
			}
		}
		if got := mustSnapshot(t, filepath.Join(dir, "x")); len(got) != 0 {
			t.Fatalf("folder holds %v, want nothing", got)
		}
	})

	t.Run("ReadOnlyFile", func(t *testing.T) {
		dir := t.TempDir()
		path := MustSQLite(t, filepath.Join(dir, "saved.db"), createProcesses,
			"INSERT INTO processes (process_id) VALUES ('00000000-0000-4000-8000-000000000001')")
		if err := os.Chmod(path, 0o444); err != nil {
			t.Fatal(err)
		}
		s, err := store.OpenSQLite(path, "")
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if got := MustCollect(t, s); len(got) != 1 {
			t.Fatalf("got %d rows, want 1", len(got))
		}
	})
}

// TestSQLite_Each covers the value types SQLite and its driver hand over,
// and custom queries.
func TestSQLite_Each(t *testing.T) {
	const a, b = "00000000-0000-4000-8000-00000000000a", "00000000-0000-4000-8000-00000000000b"
	at := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name  string
		stmts []string
		query string
		want  []reconcile.Local
		// wantInvalid lists the Invalid messages, for rows that have one.
		wantInvalid []string
	}{
		{name: "OK/CustomQueryAliases",
			stmts: []string{
				"CREATE TABLE outcomes (id TEXT, st INTEGER, created TEXT, kind TEXT)",
				"INSERT INTO outcomes VALUES ('" + a + "', 3, '2024-05-01T10:00:00Z', 'unico'), ('" + b + "', 2, NULL, 'unico'), ('x', 9, NULL, 'other')",
			},
			query: "SELECT id AS Process_ID, st AS status, created AS saved_at, 'ignored' AS note\nFROM outcomes WHERE kind = 'unico' ORDER BY id -- newest last\n;",
			want: []reconcile.Local{
				{Row: 1, ProcessID: a, Outcome: reconcile.Outcome{Status: 3}, SavedAt: at},
				{Row: 2, ProcessID: b, Outcome: reconcile.Outcome{Status: 2}},
			}},
		{name: "OK/Types",
			stmts: []string{
				"CREATE TABLE processes (process_id BLOB, status REAL, unico_id_result TEXT, identity_fraudsters_result TEXT, serpro_score, liveness NUMERIC, score INTEGER, saved_at DATETIME)",
				// REAL 3.0, untyped 95, NUMERIC '1', INTEGER score, DATETIME text with an offset.
				"INSERT INTO processes VALUES (CAST('" + a + "' AS BLOB), 3.0, '', '', 95, '1', 87, '2024-05-01 12:00:00+02:00')",
				// A DATETIME column holding Unix seconds, and empty strings.
				"INSERT INTO processes VALUES ('" + b + "', 4, 'no', NULL, '', '', 87.0, 1714557600)",
			},
			want: []reconcile.Local{
				{Row: 1, ProcessID: a, Outcome: reconcile.Outcome{Status: 3, Serpro: ptr(95), Liveness: ptr(1), Score: ptr(87.0)}, SavedAt: at},
				{Row: 2, ProcessID: b, Outcome: reconcile.Outcome{Status: 4, UnicoID: "no", Score: ptr(87.0)}, SavedAt: at},
			}},
		{name: "InvalidRow/DatetimeTextNotATime",
			// The driver turns text it cannot parse in a DATETIME column
			// into the zero time; the text is checked instead. Empty text
			// is unknown; the driver's own forms and Unix seconds are times.
			stmts: []string{
				"CREATE TABLE processes (process_id TEXT, status INTEGER, saved_at DATETIME)",
				"INSERT INTO processes VALUES ('" + a + "', 3, 'yesterday'), ('" + b + "', 3, ''), ('" + a + "', 3, '2024-05-01 10:00:00'), ('" + b + "', 3, 1714557600), ('" + a + "', 3, NULL), ('" + b + "', 3, 'x' || char(0))",
			},
			query: "SELECT process_id, saved_at FROM processes ORDER BY rowid -- oldest first\n;",
			want: []reconcile.Local{
				{Row: 1, ProcessID: a, Invalid: &store.RowError{Row: 1, Column: "saved_at", Value: "yesterday", Reason: "is not an RFC 3339 timestamp"}},
				{Row: 2, ProcessID: b},
				{Row: 3, ProcessID: a, SavedAt: at},
				{Row: 4, ProcessID: b, SavedAt: at},
				{Row: 5, ProcessID: a},
				{Row: 6, ProcessID: b, Invalid: &store.RowError{Row: 6, Column: "saved_at", Value: "x\x00", Reason: "holds a NUL byte"}},
			},
			wantInvalid: []string{
				`saved.db: row 1, column saved_at: "yesterday" is not an RFC 3339 timestamp`,
				`saved.db: row 6, column saved_at: "x\x00" holds a NUL byte`,
			}},
		{name: "InvalidRow/TimestampAndDateColumns",
			stmts: []string{
				"CREATE TABLE processes (process_id TEXT, status INTEGER, saved_at TIMESTAMP, saved_day DATE)",
				"INSERT INTO processes VALUES ('" + a + "', 3, 'soon', '2024-05-01'), ('" + b + "', 3, '2024-05-01T10:00:00Z', 'someday')",
			},
			query: "SELECT process_id, saved_at FROM processes; ",
			want: []reconcile.Local{
				{Row: 1, ProcessID: a, Invalid: &store.RowError{Row: 1, Column: "saved_at", Value: "soon", Reason: "is not an RFC 3339 timestamp"}},
				{Row: 2, ProcessID: b, SavedAt: at},
			},
			wantInvalid: []string{`saved.db: row 1, column saved_at: "soon" is not an RFC 3339 timestamp`}},
		{name: "InvalidRow/DateColumnAsSavedAt",
			stmts: []string{
				"CREATE TABLE processes (process_id TEXT, status INTEGER, saved_at TIMESTAMP, saved_day DATE)",
				"INSERT INTO processes VALUES ('" + a + "', 3, 'soon', '2024-05-01'), ('" + b + "', 3, '2024-05-01T10:00:00Z', 'someday')",
			},
			query: "SELECT process_id, saved_day AS \"Saved_At\" FROM processes",
			want: []reconcile.Local{
				{Row: 1, ProcessID: a, SavedAt: time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)},
				{Row: 2, ProcessID: b, Invalid: &store.RowError{Row: 2, Column: "saved_at", Value: "someday", Reason: "is not an RFC 3339 timestamp"}},
			},
			wantInvalid: []string{`saved.db: row 2, column saved_at: "someday" is not an RFC 3339 timestamp`}},
		{name: "InvalidRow/NUL",
			// NUL bytes in text and blobs: the row is invalid, naming the
			// column; in a column the contract does not know they are
			// ignored.
			stmts: []string{
				"CREATE TABLE processes (process_id TEXT, status TEXT, unico_id_result BLOB, note TEXT)",
				"INSERT INTO processes VALUES ('" + a + "', '3', CAST('yes' || char(0) AS BLOB), 'x'), ('" + b + "' || char(0), '3', NULL, 'x'), ('" + a + "', '3', NULL, 'a' || char(0))",
			},
			query: "SELECT * FROM processes",
			want: []reconcile.Local{
				{Row: 1, ProcessID: a, Invalid: &store.RowError{Row: 1, Column: "unico_id_result", Value: "yes\x00", Reason: "holds a NUL byte"}},
				{Row: 2, ProcessID: b + "\x00", Invalid: &store.RowError{Row: 2, Column: "process_id", Value: b + "\x00", Reason: "holds a NUL byte"}},
				{Row: 3, ProcessID: a, Outcome: reconcile.Outcome{Status: 3}},
			},
			wantInvalid: []string{
				`saved.db: row 1, column unico_id_result: "yes\x00" holds a NUL byte`,
				`saved.db: row 2, column process_id: "` + b + `\x00" holds a NUL byte`,
			}},
		{name: "InvalidRow/CastDatetime",
			stmts: []string{
				"CREATE TABLE processes (process_id TEXT, saved_at DATETIME)",
				"INSERT INTO processes VALUES ('" + a + "', 'yesterday'), ('" + b + "', '')",
			},
			query: "SELECT process_id, CAST(saved_at AS TEXT) AS saved_at FROM processes",
			want: []reconcile.Local{
				{Row: 1, ProcessID: a, Invalid: &store.RowError{Row: 1, Column: "saved_at", Value: "yesterday", Reason: "is not an RFC 3339 timestamp"}},
				{Row: 2, ProcessID: b},
			},
			wantInvalid: []string{`saved.db: row 1, column saved_at: "yesterday" is not an RFC 3339 timestamp`}},
		{name: "InvalidRow/Types",
			stmts: []string{
				createProcesses,
				"INSERT INTO processes (process_id, status) VALUES (NULL, 3), (42, 3), ('" + a + "', 2.5), ('" + b + "', X'00ff')",
			},
			want: []reconcile.Local{
				{Row: 1, Invalid: &store.RowError{Row: 1, Column: "process_id", Reason: "is empty (required)"}},
				{Row: 2, ProcessID: "42", Invalid: &store.RowError{Row: 2, Column: "process_id", Value: "42", Reason: "is not a UUID (8-4-4-4-12 hex digits)"}},
				{Row: 3, ProcessID: a, Invalid: &store.RowError{Row: 3, Column: "status", Value: "2.5", Reason: "is not a status 1..5"}},
				{Row: 4, ProcessID: b, Invalid: &store.RowError{Row: 4, Column: "status", Value: "\x00\xff", Reason: "holds a NUL byte"}},
			},
			wantInvalid: []string{
				`saved.db: row 1, column process_id: "" is empty (required)`,
				`saved.db: row 2, column process_id: "42" is not a UUID (8-4-4-4-12 hex digits)`,
				`saved.db: row 3, column status: "2.5" is not a status 1..5`,
				`saved.db: row 4, column status: "\x00\xff" holds a NUL byte`,
			}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := MustSQLite(t, filepath.Join(dir, "saved.db"), tt.stmts...)
			s, err := store.OpenSQLite(path, tt.query)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			got := MustCollect(t, s)
			if diff := cmp.Diff(tt.want, got, ignoreFile); diff != "" {
				t.Fatalf("rows (-want +got):\n%s", diff)
			}
			var msgs []string
			for _, l := range got {
				if l.Invalid != nil {
					msgs = append(msgs, strings.TrimPrefix(l.Invalid.Error(), dir+string(filepath.Separator)))
				}
			}
			if diff := cmp.Diff(tt.wantInvalid, msgs); diff != "" {
				t.Fatalf("messages (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSQLite_Missing(t *testing.T) {
	path := MustSQLite(t, filepath.Join(t.TempDir(), "saved.db"), createProcesses)
	s, err := store.OpenSQLite(path, "SELECT process_id, status, score FROM processes")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want := []string{"unico_id_result", "identity_fraudsters_result", "serpro_score", "liveness", "saved_at"}
	if diff := cmp.Diff(want, s.Missing()); diff != "" {
		t.Fatalf("Missing() (-want +got):\n%s", diff)
	}
}
