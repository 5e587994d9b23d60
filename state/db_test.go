package state_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jmoiron/sqlx"
	_ "github.com/mattn/go-sqlite3"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
	"github.com/unico-reconcile/unico-reconcile/state"
)

func TestOpen_Settings(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "out", "nested")
	path := filepath.Join(dir, "state.db")
	db := MustOpen(t, path)

	for _, tt := range []struct{ pragma, want string }{
		{"journal_mode", "wal"},
		{"synchronous", "1"}, // NORMAL
		{"busy_timeout", "5000"},
		{"foreign_keys", "1"},
		{"user_version", strconv.Itoa(state.SchemaVersion)},
	} {
		if got, err := db.Pragma(ctx, tt.pragma); err != nil || got != tt.want {
			t.Errorf("PRAGMA %s = %q, %v; want %q", tt.pragma, got, err, tt.want)
		}
	}
	for _, tt := range []struct {
		path string
		want os.FileMode
	}{{dir, 0o700 | os.ModeDir}, {path, 0o600}, {path + "-wal", 0o600}, {path + "-shm", 0o600}} {
		fi, err := os.Stat(tt.path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode(); got != tt.want {
			t.Errorf("mode of %s = %v, want %v", tt.path, got, tt.want)
		}
	}
	if got, want := db.Path(), path; got != want {
		t.Errorf("Path()=%q, want %q", got, want)
	}
}

// TestOpen_Upgrade opens databases that older versions of the program left
// (each older schema version, with data where the schema holds some) and
// checks that the schema is brought up to date with the data kept.
func TestOpen_Upgrade(t *testing.T) {
	ctx := context.Background()
	for v := 0; v < state.SchemaVersion; v++ {
		t.Run("FromVersion"+strconv.Itoa(v), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.db")
			old, err := state.OpenVersion(ctx, path, v)
			if err != nil {
				t.Fatalf("OpenVersion(%d): %v", v, err)
			}
			if got, _ := old.Pragma(ctx, "user_version"); got != strconv.Itoa(v) {
				t.Fatalf("user_version of the old database = %s, want %d", got, v)
			}
			var want state.Run
			if v >= 1 { // runs and answers exist
				want = MustCreateRun(t, old, "old-run", at)
				j := MustJournal(t, old, "old-run")
				r, k := result(0)
				if err := j.Record(0, uuid(0), r, k); err != nil {
					t.Fatal(err)
				}
				if err := j.Close(); err != nil {
					t.Fatal(err)
				}
			}
			var link state.Link
			if v >= 3 { // the chain of manifests exists, as version 3 wrote it
				data := []byte(`{"run":"old-run"}`)
				link = state.Link{Seq: 1, RunID: "old-run", SHA256: sha(data), Data: data}
				if err := old.Exec(ctx, `INSERT INTO manifests (run, sha256, previous, data)
					VALUES ((SELECT key FROM runs WHERE id = 'old-run'), ?, NULL, ?)`, link.SHA256, data); err != nil {
					t.Fatal(err)
				}
			}
			if err := old.Close(); err != nil {
				t.Fatal(err)
			}

			db := MustOpen(t, path)
			if got, _ := db.Pragma(ctx, "user_version"); got != strconv.Itoa(state.SchemaVersion) {
				t.Fatalf("user_version = %s, want %d", got, state.SchemaVersion)
			}
			if v >= 1 {
				got, err := db.Run(ctx, "old-run")
				if err != nil {
					t.Fatal(err)
				}
				want.Counts = map[string]int{}
				if diff := cmp.Diff(want, got, exact); diff != "" {
					t.Errorf("run after upgrade (-want +got):\n%s", diff)
				}
				r, _ := result(0)
				j := MustJournal(t, db, "old-run")
				got2, ok, err := j.Lookup(0, uuid(0))
				j.Close()
				if err != nil || !ok {
					t.Fatalf("Lookup = %v, %v", ok, err)
				}
				if diff := cmp.Diff(r, got2, exact); diff != "" {
					t.Errorf("answer after upgrade (-want +got):\n%s", diff)
				}
			}
			if v >= 3 { // an old run's manifest is a run's, not a repair's
				var chain []state.Link
				if err := db.Chain(ctx, func(l state.Link) error { chain = append(chain, l); return nil }); err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff([]state.Link{link}, chain); diff != "" {
					t.Errorf("chain after upgrade (-want +got):\n%s", diff)
				}
				if l, ok, err := db.LatestManifest(ctx, "old-run"); err != nil || !ok || l.SHA256 != link.SHA256 {
					t.Errorf("LatestManifest after upgrade = %v, %v, %v; want the old run's", l, ok, err)
				}
			}
			// Every table of the newest schema works.
			MustCreateRun(t, db, "new-run", at.Add(time.Hour))
			l, err := db.Listing(ctx, "new-run")
			if err != nil {
				t.Fatal(err)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := db.Lock(ctx, state.Holder{PID: 1, Host: "h", Since: at}); err != nil {
				t.Fatal(err)
			}
			MustCreateRepair(t, db, "new-repair", "new-run", at.Add(2*time.Hour), true)
			if err := db.RecordRepaired(ctx, "new-repair", []state.Repaired{{ProcessID: uuid(0), Kind: reconcile.LostResponse, Outcome: state.RepairChanged}}); err != nil {
				t.Fatal(err)
			}
			head, err := db.ChainHead(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.AppendRepairManifest(ctx, "new-repair", head, []byte(`{"repair":1}`)); err != nil {
				t.Fatal(err)
			}
			if rs, err := db.RepairsOf(ctx, "new-run"); err != nil || len(rs) != 1 {
				t.Errorf("RepairsOf after upgrade = %v, %v", rs, err)
			}
		})
	}
}

func TestOpen_ErrNewerVersion(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	db := MustOpen(t, path)
	if err := db.Exec(ctx, "PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	db.Close()

	_, err := state.Open(ctx, path)
	var verr *state.VersionError
	if !errors.As(err, &verr) {
		t.Fatalf("Open: %v, want a *VersionError", err)
	}
	if verr.Path != path || verr.Version != 99 || verr.Known != state.SchemaVersion {
		t.Errorf("VersionError = %+v", verr)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name %s", err, path)
	}
}

func TestOpen_ErrNotDatabase(t *testing.T) {
	for _, tt := range []struct{ name, content string }{
		{"Text", "process_id,status\n123,3\n"},
		{"Short", "SQLite"},
		{"AlmostMagic", "SQLite format 2\x00" + strings.Repeat("x", 100)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.db")
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			db, err := state.Open(context.Background(), path)
			if err == nil {
				db.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "not a SQLite database") {
				t.Errorf("error %q does not say that %s is not a database", err, path)
			}
			if got, _ := os.ReadFile(path); !bytes.Equal(got, []byte(tt.content)) {
				t.Errorf("file changed to %q", got)
			}
			if _, err := os.Stat(path + "-wal"); !os.IsNotExist(err) {
				t.Errorf("a -wal file was created: %v", err)
			}
		})
	}
}

// TestOpen_Concurrent opens one new database from many DBs at once: the
// migrations run once, each in a BEGIN IMMEDIATE transaction.
func TestOpen_Concurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			db, err := state.Open(context.Background(), path)
			if err == nil {
				err = db.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d: %v", i, err)
		}
	}
	x := sqlx.MustOpen("sqlite3", path)
	defer x.Close()
	var n int
	if err := x.Get(&n, "SELECT count(*) FROM sqlite_schema WHERE name = 'answers'"); err != nil || n != 1 {
		t.Errorf("answers tables = %d, %v", n, err)
	}
}

func TestDB_Closed(t *testing.T) {
	db := MustOpenTemp(t)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := db.Runs(ctx); !errors.Is(err, state.ErrClosed) {
		t.Errorf("Runs after Close: %v, want ErrClosed", err)
	}
	if _, err := db.Journal(ctx, "x"); !errors.Is(err, state.ErrClosed) {
		t.Errorf("Journal after Close: %v, want ErrClosed", err)
	}
	if err := db.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
