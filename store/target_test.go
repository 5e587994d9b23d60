package store_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/unico-reconcile/unico-reconcile/internal/pgtest"
	"github.com/unico-reconcile/unico-reconcile/reconcile"
	"github.com/unico-reconcile/unico-reconcile/store"
)

// targetKind is a kind of database that repairs are written to. The suite
// below runs against each.
type targetKind struct {
	name string
	// newDB creates an empty database and returns its Target name and a
	// read-write handle, as another program holds one.
	newDB func(tb testing.TB) (target string, db *sql.DB)
	// processes creates the contract's table with the kind's usual types.
	processes string
	// mark is the n-th (1-based) placeholder.
	mark func(n int) string
}

var targetKinds = []targetKind{
	{
		name: "SQLite",
		newDB: func(tb testing.TB) (string, *sql.DB) {
			path := filepath.Join(tb.TempDir(), "app.db")
			db := mustOpenRW(tb, path).DB
			tb.Cleanup(func() { db.Close() })
			return path, db
		},
		processes: createProcesses,
		mark:      func(int) string { return "?" },
	},
	{
		name: "PostgreSQL",
		newDB: func(tb testing.TB) (string, *sql.DB) {
			dsn := pgtest.MustDatabase(tb)
			return dsn, pgtest.MustOpen(tb, dsn)
		},
		processes: createPGProcesses,
		mark:      func(n int) string { return fmt.Sprintf("$%d", n) },
	},
}

// dbRow is a row of the processes table, read with the column types (NULL
// and "" told apart).
type dbRow struct {
	ProcessID                   string
	Status, Serpro, Liveness    sql.NullInt64
	UnicoID, IdentityFraudsters sql.NullString
	Score                       sql.NullFloat64
	SavedAt                     sql.NullString
}

// seed is a row to insert: nil is NULL.
type seed struct {
	id                                            string
	status, unico, fraud, serpro, liveness, score any
}

func mustInsert(tb testing.TB, k targetKind, db *sql.DB, table string, rows ...seed) {
	tb.Helper()
	marks := make([]string, 8)
	for i := range marks {
		marks[i] = k.mark(i + 1)
	}
	q := "INSERT INTO " + table + " VALUES (" + strings.Join(marks, ", ") + ")"
	for _, r := range rows {
		if _, err := db.Exec(q, r.id, r.status, r.unico, r.fraud, r.serpro, r.liveness, r.score, "2024-05-01T10:00:00Z"); err != nil {
			tb.Fatalf("insert %s: %v", r.id, err)
		}
	}
}

// mustDump reads the whole table, in process_id order.
func mustDump(tb testing.TB, db *sql.DB, table string) []dbRow {
	tb.Helper()
	rows, err := db.Query(`SELECT process_id, status, unico_id_result, identity_fraudsters_result, serpro_score,
		liveness, score, CAST(saved_at AS TEXT) FROM ` + table + ` ORDER BY process_id, status`)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var out []dbRow
	for rows.Next() {
		var r dbRow
		if err := rows.Scan(&r.ProcessID, &r.Status, &r.UnicoID, &r.IdentityFraudsters, &r.Serpro, &r.Liveness, &r.Score, &r.SavedAt); err != nil {
			tb.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

func mustOpenTarget(tb testing.TB, cfg store.TargetConfig, write bool) *store.Target {
	tb.Helper()
	t, err := store.OpenTarget(context.Background(), cfg, write)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { t.Close() })
	return t
}

func verdicts(rs []store.Result) []string {
	var v []string
	for _, r := range rs {
		v = append(v, r.Verdict.String())
	}
	return v
}

// The suite's outcomes: what the API answered for a lost response, and
// answers holding text that must reach the table unchanged.
var (
	remote  = reconcile.Outcome{Status: 3, UnicoID: "yes", IdentityFraudsters: "inconclusive", Serpro: ptr(85), Liveness: ptr(1), Score: ptr(90.0)}
	hostile = reconcile.Outcome{Status: 3, UnicoID: `'); DROP TABLE processes; --`, IdentityFraudsters: "=1+1;\n\"quoted\" ção ✓ 🙂",
		Serpro: ptr(-2), Liveness: ptr(2), Score: ptr(-100.0)}
	processing = reconcile.Outcome{Status: 1}
	// hexID is a process id with letters, which a table may hold in upper
	// case.
	hexID = "0a3e1f4c-9b2d-4e8f-a1c3-5d6e7f8091a2"
)

// waitABit gives a goroutine time to reach a lock and wait there. A test
// that uses it passes whether or not the goroutine got there in time; it
// only proves less when it did not.
func waitABit() <-chan time.Time { return time.After(300 * time.Millisecond) }

// suite is the table every kind is checked with: the rows as the run read
// them, the repairs the run asks for, and what each repair's verdict is.
func suiteSeeds() []seed {
	return []seed{
		{id: id(1), status: 1},            // a lost response: Changed
		{id: id(2), unico: "", fraud: ""}, // empty text, not NULL: Changed
		{id: id(3), status: 2},            // changed since the run (it saw 1): Conflict
		{id: id(4), status: 3, unico: "yes", fraud: "inconclusive", serpro: 85, liveness: 1, score: 90.0}, // AlreadyApplied
		{id: id(6), status: 1}, // twice: Ambiguous
		{id: id(6), status: 1},
		{id: strings.ToUpper(hexID), status: 1}, // the id in upper case: Changed
		{id: id(8), status: 1},                  // hostile text: Changed
		{id: id(9), status: 3, unico: " YES "},  // read as status 3, unico yes: Changed
	}
}

var suiteRepairs = []store.Repair{
	{Row: 2, ProcessID: id(1), Before: processing, After: remote},
	{Row: 3, ProcessID: id(2), After: remote},
	{Row: 4, ProcessID: id(3), Before: processing, After: remote},
	{Row: 5, ProcessID: id(4), Before: processing, After: remote},
	{Row: 6, ProcessID: id(5), Before: processing, After: remote},
	{Row: 7, ProcessID: id(6), Before: processing, After: remote},
	{Row: 9, ProcessID: hexID, Before: processing, After: remote},
	{Row: 10, ProcessID: id(8), Before: processing, After: hostile},
	{Row: 11, ProcessID: id(9), Before: reconcile.Outcome{Status: 3, UnicoID: "yes"}, After: remote},
}

var suiteVerdicts = []string{"changed", "changed", "conflict", "already_applied", "not_found", "ambiguous", "changed", "changed", "changed"}

// wantRow is the table row holding o.
func wantRow(processID string, o reconcile.Outcome) dbRow {
	r := dbRow{ProcessID: processID, SavedAt: sql.NullString{}}
	if o.Status != 0 {
		r.Status = sql.NullInt64{Int64: int64(o.Status), Valid: true}
	}
	if o.UnicoID != "" {
		r.UnicoID = sql.NullString{String: o.UnicoID, Valid: true}
	}
	if o.IdentityFraudsters != "" {
		r.IdentityFraudsters = sql.NullString{String: o.IdentityFraudsters, Valid: true}
	}
	if o.Serpro != nil {
		r.Serpro = sql.NullInt64{Int64: int64(*o.Serpro), Valid: true}
	}
	if o.Liveness != nil {
		r.Liveness = sql.NullInt64{Int64: int64(*o.Liveness), Valid: true}
	}
	if o.Score != nil {
		r.Score = sql.NullFloat64{Float64: *o.Score, Valid: true}
	}
	return r
}

// TestTarget_Apply runs the suite on every kind: the dry run finds the
// verdicts and writes nothing; Apply writes exactly the Changed rows, only
// their result columns, with hostile text intact; a second Apply changes
// nothing and says so.
func TestTarget_Apply(t *testing.T) {
	for _, k := range targetKinds {
		t.Run(k.name, func(t *testing.T) {
			target, db := k.newDB(t)
			if _, err := db.Exec(k.processes); err != nil {
				t.Fatal(err)
			}
			mustInsert(t, k, db, "processes", suiteSeeds()...)
			before := mustDump(t, db, "processes")
			ctx := context.Background()

			dry := mustOpenTarget(t, store.TargetConfig{Target: target}, false)
			got, err := dry.Check(ctx, suiteRepairs)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(suiteVerdicts, verdicts(got)); diff != "" {
				t.Fatalf("Check verdicts (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(before, mustDump(t, db, "processes")); diff != "" {
				t.Fatalf("Check wrote (-before +after):\n%s", diff)
			}
			if _, err := dry.Apply(ctx, suiteRepairs); err == nil {
				t.Fatal("Apply on a target opened for a dry run: no error")
			}

			w := mustOpenTarget(t, store.TargetConfig{Target: target}, true)
			got, err = w.Apply(ctx, suiteRepairs)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(suiteVerdicts, verdicts(got)); diff != "" {
				t.Fatalf("Apply verdicts (-want +got):\n%s", diff)
			}
			if got, want := got[2].Current, (reconcile.Outcome{Status: 2}); !cmp.Equal(got, want) {
				t.Errorf("conflict's Current=%+v, want %+v", got, want)
			}
			if got, want := got[8].Current, (reconcile.Outcome{Status: 3, UnicoID: "yes"}); !cmp.Equal(got, want) {
				t.Errorf("changed row's Current=%+v, want what it held %+v", got, want)
			}

			var want []dbRow
			set := func(pid string, o reconcile.Outcome) {
				for i := range want {
					if want[i].ProcessID == pid {
						r := wantRow(pid, o)
						r.SavedAt = want[i].SavedAt
						want[i] = r
					}
				}
			}
			// want is the table as Apply must leave it, built from before.
			want = append([]dbRow(nil), before...)
			set(id(1), remote)
			set(id(2), remote)
			set(strings.ToUpper(hexID), remote)
			set(id(8), hostile)
			set(id(9), remote)
			after := mustDump(t, db, "processes")
			if diff := cmp.Diff(want, after); diff != "" {
				t.Fatalf("table after Apply (-want +got):\n%s", diff)
			}

			again, err := w.Apply(ctx, suiteRepairs)
			if err != nil {
				t.Fatal(err)
			}
			wantAgain := []string{"already_applied", "already_applied", "conflict", "already_applied", "not_found", "ambiguous", "already_applied", "already_applied", "already_applied"}
			if diff := cmp.Diff(wantAgain, verdicts(again)); diff != "" {
				t.Fatalf("second Apply verdicts (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(after, mustDump(t, db, "processes")); diff != "" {
				t.Fatalf("second Apply wrote (-before +after):\n%s", diff)
			}
			if got := again[7].Current; !cmp.Equal(got, hostile) {
				t.Errorf("hostile row reads back as %+v, want %+v", got, hostile)
			}
			if again[7].Invalid == nil {
				t.Error("hostile row: Invalid is nil, want the RowError a source would report")
			}
		})
	}
}

// TestTarget_ConcurrentWriter: a row another program changes after the run
// read it (before Apply, or between Apply's read and its UPDATE) is a
// Conflict and stays as that program left it; the others are written.
func TestTarget_ConcurrentWriter(t *testing.T) {
	for _, k := range targetKinds {
		t.Run(k.name, func(t *testing.T) {
			target, db := k.newDB(t)
			if _, err := db.Exec(k.processes); err != nil {
				t.Fatal(err)
			}
			mustInsert(t, k, db, "processes", seed{id: id(1), status: 1}, seed{id: id(2), status: 1}, seed{id: id(3), status: 1})
			rs := []store.Repair{
				{Row: 2, ProcessID: id(1), Before: processing, After: remote},
				{Row: 3, ProcessID: id(2), Before: processing, After: remote},
				{Row: 4, ProcessID: id(3), Before: processing, After: remote},
			}
			// After the run, before the repair: the application finishes
			// process 2 itself, with other values.
			if _, err := db.Exec("UPDATE processes SET status = 4, unico_id_result = 'no' WHERE process_id = "+k.mark(1), id(2)); err != nil {
				t.Fatal(err)
			}
			w := mustOpenTarget(t, store.TargetConfig{Target: target}, true)
			got, err := w.Apply(context.Background(), rs)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{"changed", "conflict", "changed"}, verdicts(got)); diff != "" {
				t.Fatalf("verdicts (-want +got):\n%s", diff)
			}
			dump := mustDump(t, db, "processes")
			if got, want := dump[1], (dbRow{ProcessID: id(2), Status: sql.NullInt64{Int64: 4, Valid: true},
				UnicoID: sql.NullString{String: "no", Valid: true}, SavedAt: dump[1].SavedAt}); !cmp.Equal(got, want) {
				t.Fatalf("the writer's row is %+v, want %+v", got, want)
			}
		})
	}
}

// TestTarget_Rollback: an error in the middle of a batch (a constraint the
// table sets, a cancelled context) leaves the whole batch unwritten;
// batches applied before a cancellation stay whole.
func TestTarget_Rollback(t *testing.T) {
	for _, k := range targetKinds {
		t.Run(k.name, func(t *testing.T) {
			target, db := k.newDB(t)
			ddl := strings.Replace(k.processes, "unico_id_result text", "unico_id_result text CHECK (unico_id_result <> 'refused')", 1)
			ddl = strings.Replace(ddl, "unico_id_result TEXT", "unico_id_result TEXT CHECK (unico_id_result <> 'refused')", 1)
			if _, err := db.Exec(ddl); err != nil {
				t.Fatal(err)
			}
			var rs []store.Repair
			for i := 1; i <= 9; i++ {
				mustInsert(t, k, db, "processes", seed{id: id(i), status: 1})
				rs = append(rs, store.Repair{Row: i + 1, ProcessID: id(i), Before: processing, After: remote})
			}
			before := mustDump(t, db, "processes")
			w := mustOpenTarget(t, store.TargetConfig{Target: target}, true)

			t.Run("Constraint", func(t *testing.T) {
				bad := append([]store.Repair(nil), rs[:3]...)
				bad[2].After.UnicoID = "refused"
				_, err := w.Apply(context.Background(), bad)
				if err == nil {
					t.Fatal("Apply: no error")
				}
				if msg := err.Error(); !strings.Contains(msg, "row 4, process "+id(3)) || strings.ContainsAny(msg, "\r\n") {
					t.Errorf("message %q: want one line naming the row and the process", msg)
				}
				if diff := cmp.Diff(before, mustDump(t, db, "processes")); diff != "" {
					t.Fatalf("a failed batch wrote (-before +after):\n%s", diff)
				}
			})

			t.Run("CancelInside", func(t *testing.T) {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				store.SetBeforeUpdate(w, func(i int) {
					if i == 2 {
						cancel()
					}
				})
				defer store.SetBeforeUpdate(w, nil)
				if _, err := w.Apply(ctx, rs[:3]); !errors.Is(err, context.Canceled) {
					t.Fatalf("Apply()=%v, want %v", err, context.Canceled)
				}
				if diff := cmp.Diff(before, mustDump(t, db, "processes")); diff != "" {
					t.Fatalf("a cancelled batch wrote (-before +after):\n%s", diff)
				}
			})

			t.Run("CancelBetween", func(t *testing.T) {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				var err error
				for b := 0; b < 3 && err == nil; b++ {
					_, err = w.Apply(ctx, rs[3*b:3*b+3])
					if b == 0 {
						cancel()
					}
				}
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("Apply()=%v, want %v", err, context.Canceled)
				}
				want := append([]dbRow(nil), before...)
				for i := range 3 {
					want[i] = wantRow(id(i+1), remote)
					want[i].SavedAt = before[i].SavedAt
				}
				if diff := cmp.Diff(want, mustDump(t, db, "processes")); diff != "" {
					t.Fatalf("want the first batch only (-want +got):\n%s", diff)
				}
			})
		})
	}
}

// TestTarget_Names: a table and columns of other names (a column mapping),
// names that need quoting, and a schema-qualified table.
func TestTarget_Names(t *testing.T) {
	for _, k := range targetKinds {
		t.Run(k.name, func(t *testing.T) {
			target, db := k.newDB(t)
			ddl := strings.Replace(k.processes, "processes", `"odd ""table"" name"`, 1)
			for _, c := range []string{"status", "liveness"} {
				ddl = strings.Replace(ddl, "("+c+" ", "(result_"+c+" ", 1)
				ddl = strings.Replace(ddl, " "+c+" ", " result_"+c+" ", 1)
			}
			if _, err := db.Exec(ddl); err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(`INSERT INTO "odd ""table"" name" (process_id, result_status) VALUES (`+k.mark(1)+`, 1)`, id(1)); err != nil {
				t.Fatal(err)
			}
			schema := "main"
			if k.name == "PostgreSQL" {
				schema = "public"
			}
			for _, table := range []string{`odd "table" name`, schema + `.odd "table" name`} {
				t.Run(table, func(t *testing.T) {
					w := mustOpenTarget(t, store.TargetConfig{Target: target, Table: table,
						Columns: map[string]string{"status": "result_status", "liveness": "result_liveness"}}, true)
					got, err := w.Check(context.Background(), []store.Repair{{Row: 2, ProcessID: id(1), Before: processing, After: remote}})
					if err != nil {
						t.Fatal(err)
					}
					if diff := cmp.Diff([]string{"changed"}, verdicts(got)); diff != "" {
						t.Fatalf("verdicts (-want +got):\n%s", diff)
					}
				})
			}
			w := mustOpenTarget(t, store.TargetConfig{Target: target, Table: `odd "table" name`,
				Columns: map[string]string{"status": "result_status", "liveness": "result_liveness"}}, true)
			if _, err := w.Apply(context.Background(), []store.Repair{{Row: 2, ProcessID: id(1), Before: processing, After: remote}}); err != nil {
				t.Fatal(err)
			}
			var status, liveness int
			if err := db.QueryRow(`SELECT result_status, result_liveness FROM "odd ""table"" name"`).Scan(&status, &liveness); err != nil {
				t.Fatal(err)
			}
			if status != 3 || liveness != 1 {
				t.Fatalf("status %d, liveness %d: want 3 and 1", status, liveness)
			}
		})
	}
}

// TestOpenTarget_Error: a target that cannot be used fails at once with
// one line naming the problem; nothing is created or written.
func TestOpenTarget_Error(t *testing.T) {
	for _, k := range targetKinds {
		t.Run(k.name, func(t *testing.T) {
			target, db := k.newDB(t)
			if _, err := db.Exec(k.processes); err != nil {
				t.Fatal(err)
			}
			for _, tt := range []struct {
				name    string
				cfg     store.TargetConfig
				wantErr error
				wantMsg string
			}{
				{name: "ErrNoTable", cfg: store.TargetConfig{Table: "nothing"}, wantErr: store.ErrNoTable, wantMsg: `"nothing"`},
				{name: "ErrNoTable/Injection", cfg: store.TargetConfig{Table: `processes"; DROP TABLE processes; --`}, wantErr: store.ErrNoTable},
				{name: "ErrNoColumn", cfg: store.TargetConfig{Columns: map[string]string{"status": "result_status"}},
					wantErr: store.ErrNoColumn, wantMsg: `"result_status" (for status)`},
				{name: "ErrNoColumn/Injection", cfg: store.TargetConfig{Columns: map[string]string{"score": `score" = 0; --`}},
					wantErr: store.ErrNoColumn},
				{name: "ErrBadMapping/Unknown", cfg: store.TargetConfig{Columns: map[string]string{"result": "status"}}, wantErr: store.ErrBadMapping},
				{name: "ErrBadMapping/Empty", cfg: store.TargetConfig{Columns: map[string]string{"status": ""}}, wantErr: store.ErrBadMapping},
				{name: "ErrBadMapping/Twice", cfg: store.TargetConfig{Columns: map[string]string{"status": "liveness"}}, wantErr: store.ErrBadMapping},
			} {
				t.Run(tt.name, func(t *testing.T) {
					tt.cfg.Target = target
					tg, err := store.OpenTarget(context.Background(), tt.cfg, true)
					if err == nil {
						tg.Close()
					}
					if !errors.Is(err, tt.wantErr) {
						t.Fatalf("OpenTarget()=%v, want %v", err, tt.wantErr)
					}
					if msg := err.Error(); strings.ContainsAny(msg, "\r\n") || !strings.Contains(msg, tt.wantMsg) {
						t.Fatalf("message %q: want one line holding %q", msg, tt.wantMsg)
					}
				})
			}
			if _, err := db.Exec("SELECT count(*) FROM processes"); err != nil {
				t.Fatalf("the table is gone: %v", err)
			}
		})
	}
}

// TestOpenTarget_SQLiteError: what is not a SQLite target.
func TestOpenTarget_SQLiteError(t *testing.T) {
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "saved.csv")
	if err := os.WriteFile(csvPath, []byte(header), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, target string
		wantErr      error
	}{
		{"CSV", csvPath, store.ErrUnsupportedSource},
		{"NoPath", "sqlite:", store.ErrUnsupportedSource},
		{"Other", filepath.Join(dir, "saved.json"), store.ErrUnsupportedSource},
		{"NotExist", filepath.Join(dir, "absent.db"), os.ErrNotExist},
		{"Empty", filepath.Join(dir, "saved.csv.sqlite"), store.ErrEmpty},
		{"Damaged", filepath.Join(dir, "damaged.db"), store.ErrNotDatabase},
	} {
		t.Run(tt.name, func(t *testing.T) {
			switch tt.name {
			case "Empty":
				writeFile("")(t, tt.target)
			case "Damaged":
				writeFile("SQLite format 3\x00"+strings.Repeat("\xff", 4096))(t, tt.target)
			}
			before := mustSnapshot(t, csvPath)
			for _, write := range []bool{false, true} {
				tg, err := store.OpenTarget(context.Background(), store.TargetConfig{Target: tt.target}, write)
				if err == nil {
					tg.Close()
				}
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("OpenTarget(write=%v)=%v, want %v", write, err, tt.wantErr)
				}
			}
			if diff := cmp.Diff(before, mustSnapshot(t, csvPath)); diff != "" {
				t.Fatalf("the folder changed (-before +after):\n%s", diff)
			}
		})
	}
}

// TestTarget_SQLiteDryRun: a dry run leaves the file and its folder
// byte-identical, in every journal mode.
func TestTarget_SQLiteDryRun(t *testing.T) {
	for _, mode := range []string{"DELETE", "WAL", "TRUNCATE"} {
		t.Run(mode, func(t *testing.T) {
			path := MustSQLite(t, filepath.Join(t.TempDir(), "app.db"), "PRAGMA journal_mode="+mode, createProcesses)
			k := targetKinds[0]
			db := mustOpenRW(t, path)
			mustInsert(t, k, db.DB, "processes", suiteSeeds()...)
			db.Close()
			before := mustSnapshot(t, path)
			dry := mustOpenTarget(t, store.TargetConfig{Target: "sqlite:" + path}, false)
			got, err := dry.Check(context.Background(), suiteRepairs)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(suiteVerdicts, verdicts(got)); diff != "" {
				t.Fatalf("verdicts (-want +got):\n%s", diff)
			}
			dry.Close()
			if diff := cmp.Diff(before, mustSnapshot(t, path)); diff != "" {
				t.Fatalf("the folder changed (-before +after):\n%s", diff)
			}
		})
	}
}

// TestTarget_SQLiteTypes: values are written in their natural types, even
// in columns declared without one, and read back by a source as written.
func TestTarget_SQLiteTypes(t *testing.T) {
	path := MustSQLite(t, filepath.Join(t.TempDir(), "app.db"),
		"CREATE TABLE processes (process_id, status, unico_id_result, identity_fraudsters_result, serpro_score, liveness, score, saved_at)",
		"INSERT INTO processes (process_id, status, score) VALUES ('"+id(1)+"', '1', '')")
	w := mustOpenTarget(t, store.TargetConfig{Target: path}, true)
	if _, err := w.Apply(context.Background(), []store.Repair{{Row: 2, ProcessID: id(1), Before: processing, After: remote}}); err != nil {
		t.Fatal(err)
	}
	db := mustOpenRW(t, path)
	defer db.Close()
	var types string
	if err := db.QueryRow(`SELECT typeof(status)||' '||typeof(unico_id_result)||' '||typeof(identity_fraudsters_result)||' '||
		typeof(serpro_score)||' '||typeof(liveness)||' '||typeof(score)||' '||typeof(saved_at) FROM processes`).Scan(&types); err != nil {
		t.Fatal(err)
	}
	if got, want := types, "integer text text integer integer real null"; got != want {
		t.Fatalf("types %q, want %q", got, want)
	}
	src, err := store.Open(path, "")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	want := []reconcile.Local{{Row: 1, ProcessID: id(1), Outcome: remote}}
	if diff := cmp.Diff(want, MustCollect(t, src), ignoreFile); diff != "" {
		t.Fatalf("read back (-want +got):\n%s", diff)
	}
}

// TestTarget_SQLiteBusy: a writer holding the database's write lock when
// Apply begins makes Apply wait, not fail; Apply then sees what it wrote.
func TestTarget_SQLiteBusy(t *testing.T) {
	path := MustSQLite(t, filepath.Join(t.TempDir(), "app.db"), createProcesses)
	other := mustOpenRW(t, path)
	defer other.Close()
	mustInsert(t, targetKinds[0], other.DB, "processes", seed{id: id(1), status: 1}, seed{id: id(2), status: 1})
	w := mustOpenTarget(t, store.TargetConfig{Target: path}, true)

	ctx := context.Background()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "UPDATE processes SET status = 4 WHERE process_id = ?", id(2)); err != nil {
		t.Fatal(err)
	}
	type answer struct {
		rs  []store.Result
		err error
	}
	done := make(chan answer)
	started := make(chan struct{})
	go func() {
		close(started)
		rs, err := w.Apply(ctx, []store.Repair{
			{Row: 2, ProcessID: id(1), Before: processing, After: remote},
			{Row: 3, ProcessID: id(2), Before: processing, After: remote},
		})
		done <- answer{rs, err}
	}()
	<-started
	select {
	case a := <-done:
		t.Fatalf("Apply returned while another program held the write lock: %v", a.err)
	case <-waitABit():
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	a := <-done
	if a.err != nil {
		t.Fatal(a.err)
	}
	if diff := cmp.Diff([]string{"changed", "conflict"}, verdicts(a.rs)); diff != "" {
		t.Fatalf("verdicts (-want +got):\n%s", diff)
	}
}

// TestOutcomeText: the text of an outcome reads back, through a CSV
// source, as the outcome; hostile text survives a CSV file unchanged and
// CheckOutcome says why a source rejects it.
func TestOutcomeText(t *testing.T) {
	for _, tt := range []struct {
		name    string
		o       reconcile.Outcome
		want    []string
		wantErr string // CheckOutcome's message, "" for nil
	}{
		{name: "Empty", o: reconcile.Outcome{}, want: []string{"", "", "", "", "", ""}},
		{name: "Processing", o: processing, want: []string{"1", "", "", "", "", ""}},
		{name: "Full", o: remote, want: []string{"3", "yes", "inconclusive", "85", "1", "90"}},
		{name: "Negative", o: reconcile.Outcome{Status: 5, UnicoID: "no", Serpro: ptr(-1), Liveness: ptr(2), Score: ptr(-100.0)},
			want: []string{"5", "no", "", "-1", "2", "-100"}},
		{name: "Zeros", o: reconcile.Outcome{Status: 3, UnicoID: "inconclusive", IdentityFraudsters: "yes", Serpro: ptr(0), Liveness: ptr(1), Score: ptr(0.0)},
			want: []string{"3", "inconclusive", "yes", "0", "1", "0"}},
		{name: "Hostile", o: hostile, want: []string{"3", hostile.UnicoID, hostile.IdentityFraudsters, "-2", "2", "-100"},
			wantErr: `unico_id_result "'); DROP TABLE processes; --" is not yes, no or inconclusive`},
		{name: "Fraction", o: reconcile.Outcome{Status: 3, Score: ptr(87.5)}, want: []string{"3", "", "", "", "", "87.5"},
			wantErr: `score "87.5" is not an integer score`},
		{name: "Unknown", o: reconcile.Outcome{Status: 3, IdentityFraudsters: "suspicious"}, want: []string{"3", "", "suspicious", "", "", ""},
			wantErr: `identity_fraudsters_result "suspicious" is not yes or inconclusive`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			text := store.OutcomeText(tt.o)
			if diff := cmp.Diff(tt.want, text); diff != "" {
				t.Fatalf("OutcomeText (-want +got):\n%s", diff)
			}
			err := store.CheckOutcome(tt.o)
			if got := fmt.Sprint(err); (err == nil) != (tt.wantErr == "") || (err != nil && got != tt.wantErr) {
				t.Fatalf("CheckOutcome()=%v, want %q", err, tt.wantErr)
			}

			// Round trip through a CSV file and the CSV source.
			var b bytes.Buffer
			cw := csv.NewWriter(&b)
			_ = cw.Write(append(append([]string{"process_id"}, store.ResultColumns()...), "saved_at"))
			_ = cw.Write(append(append([]string{id(1)}, text...), "2024-05-01T10:00:00Z"))
			cw.Flush()
			path := filepath.Join(t.TempDir(), "repairs.csv")
			if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			c, err := store.OpenCSV(path)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			got := MustCollect(t, c)
			if len(got) != 1 {
				t.Fatalf("read %d rows, want 1", len(got))
			}
			if tt.wantErr == "" {
				if diff := cmp.Diff(tt.o, got[0].Outcome); diff != "" || got[0].Invalid != nil {
					t.Fatalf("read back (-want +got):\n%s (invalid: %v)", diff, got[0].Invalid)
				}
				return
			}
			var re *store.RowError
			if !errors.As(got[0].Invalid, &re) {
				t.Fatalf("read back %+v, want an invalid row", got[0])
			}
			if i := indexOf(store.ResultColumns(), re.Column); i < 0 || re.Value != text[i] {
				t.Fatalf("the source read %s as %q, want %q unchanged", re.Column, re.Value, text[max(i, 0)])
			}
		})
	}
}

func indexOf(xs []string, x string) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return -1
}

func TestVerdict_String(t *testing.T) {
	for v, want := range map[store.Verdict]string{
		store.Changed: "changed", store.Conflict: "conflict", store.AlreadyApplied: "already_applied",
		store.NotFound: "not_found", store.Ambiguous: "ambiguous", 0: "Verdict(0)",
	} {
		if got := v.String(); got != want {
			t.Errorf("Verdict(%d).String()=%q, want %q", int(v), got, want)
		}
	}
}

// BenchmarkTarget_Apply writes batches of 1,000 repairs into a table of
// 10,000 rows indexed by process_id, as the repair command batches them;
// each iteration writes every row of its batch (the outcomes alternate).
func BenchmarkTarget_Apply(b *testing.B) {
	const rows, batch = 10_000, 1000
	for _, k := range targetKinds {
		b.Run(k.name, func(b *testing.B) {
			target, db := k.newDB(b)
			if _, err := db.Exec(k.processes); err != nil {
				b.Fatal(err)
			}
			if _, err := db.Exec("CREATE UNIQUE INDEX processes_id ON processes (process_id)"); err != nil {
				b.Fatal(err)
			}
			tx, err := db.Begin()
			if err != nil {
				b.Fatal(err)
			}
			for i := range rows {
				if _, err := tx.Exec("INSERT INTO processes (process_id, status) VALUES ("+k.mark(1)+", 1)", id(i)); err != nil {
					b.Fatal(err)
				}
			}
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
			w := mustOpenTarget(b, store.TargetConfig{Target: target}, true)
			rs := make([]store.Repair, batch)
			b.ResetTimer()
			for n := 0; n < b.N; n++ {
				from, to := processing, remote
				if n%2 == 1 {
					from, to = remote, processing
				}
				for i := range rs {
					rs[i] = store.Repair{Row: i + 2, ProcessID: id(i * (rows / batch)), Before: from, After: to}
				}
				got, err := w.Apply(context.Background(), rs)
				if err != nil {
					b.Fatal(err)
				}
				if got[batch-1].Verdict != store.Changed {
					b.Fatalf("verdict %v, want changed", got[batch-1].Verdict)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*batch), "µs/row")
		})
	}
}
