package store_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/unico-reconcile/unico-reconcile/internal/pgtest"
	"github.com/unico-reconcile/unico-reconcile/reconcile"
	"github.com/unico-reconcile/unico-reconcile/store"
)

// TestTarget_PostgresGuard: a row another session changes between Apply's
// read and its UPDATE is left as that session left it. The UPDATE's guard
// (IS NOT DISTINCT FROM the values read) is what keeps it: the read takes
// no lock.
func TestTarget_PostgresGuard(t *testing.T) {
	dsn := pgtest.MustDatabase(t)
	pgtest.MustExec(t, dsn, createPGProcesses, `INSERT INTO processes (process_id, status) VALUES
		('`+id(1)+`', 1), ('`+id(2)+`', 1), ('`+id(3)+`', 1)`)
	other := pgtest.MustOpen(t, dsn)
	w := mustOpenTarget(t, store.TargetConfig{Target: dsn}, true)
	store.SetBeforeUpdate(w, func(i int) {
		if i != 1 {
			return
		}
		if _, err := other.Exec("UPDATE processes SET status = 4, liveness = 2 WHERE process_id = $1", id(2)); err != nil {
			t.Error(err)
		}
	})
	var rs []store.Repair
	for i := 1; i <= 3; i++ {
		rs = append(rs, store.Repair{Row: i + 1, ProcessID: id(i), Before: processing, After: remote})
	}
	got, err := w.Apply(context.Background(), rs)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"changed", "conflict", "changed"}, verdicts(got)); diff != "" {
		t.Fatalf("verdicts (-want +got):\n%s", diff)
	}
	if got, want := got[1].Current, (reconcile.Outcome{Status: 4, Liveness: ptr(2)}); !cmp.Equal(got, want) {
		t.Errorf("conflict's Current=%+v, want the other session's %+v", got, want)
	}
	var status, liveness int
	if err := other.QueryRow("SELECT status, liveness FROM processes WHERE process_id = $1", id(2)).Scan(&status, &liveness); err != nil {
		t.Fatal(err)
	}
	if status != 4 || liveness != 2 {
		t.Fatalf("status %d, liveness %d: want the other session's 4 and 2", status, liveness)
	}
}

// TestTarget_PostgresTypes: typed columns (uuid, smallint, varchar,
// bigint, numeric, real) and all-text columns are read, guarded and
// written; the values land in the columns' own types.
func TestTarget_PostgresTypes(t *testing.T) {
	for _, tt := range []struct {
		name, ddl, insert string
		score             string // the score column's text after Apply
	}{
		{name: "Typed", ddl: `CREATE TABLE processes (process_id uuid PRIMARY KEY, status smallint, unico_id_result varchar(80),
			identity_fraudsters_result text, serpro_score bigint, liveness integer, score numeric(6,2), saved_at timestamptz)`,
			insert: `INSERT INTO processes VALUES ('` + strings.ToUpper(hexID) + `', 3, 'YES', NULL, 80, NULL, 70.00, now()),
				('` + id(2) + `', 1, NULL, NULL, NULL, NULL, NULL, NULL)`,
			score: "90.00"},
		{name: "Real", ddl: `CREATE TABLE processes (process_id text, status integer, unico_id_result text,
			identity_fraudsters_result text, serpro_score integer, liveness integer, score real, saved_at text)`,
			insert: `INSERT INTO processes VALUES ('` + hexID + `', 3, 'yes', NULL, 80, NULL, 70, ''),
				('` + id(2) + `', 1, NULL, NULL, NULL, NULL, NULL, NULL)`,
			score: "90"},
		{name: "Text", ddl: `CREATE TABLE processes (process_id text, status text, unico_id_result text,
			identity_fraudsters_result text, serpro_score text, liveness text, score text, saved_at text)`,
			insert: `INSERT INTO processes VALUES ('` + hexID + `', ' 3', 'yes ', '', '80', '', '70.0', ''),
				('` + id(2) + `', '1', '', '', '', '', '', '')`,
			score: "90"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dsn := pgtest.MustDatabase(t)
			pgtest.MustExec(t, dsn, tt.ddl, tt.insert)
			w := mustOpenTarget(t, store.TargetConfig{Target: dsn, Table: "public.processes"}, true)
			seen := reconcile.Outcome{Status: 3, UnicoID: "yes", Serpro: ptr(80), Score: ptr(70.0)}
			rs := []store.Repair{
				{Row: 2, ProcessID: hexID, Before: seen, After: remote},
				{Row: 3, ProcessID: id(2), Before: processing, After: hostile},
			}
			got, err := w.Apply(context.Background(), rs)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{"changed", "changed"}, verdicts(got)); diff != "" {
				t.Fatalf("verdicts (-want +got):\n%s", diff)
			}
			if got := got[0].Current; !cmp.Equal(got, seen) {
				t.Errorf("Current=%+v, want %+v", got, seen)
			}
			db := pgtest.MustOpen(t, dsn)
			var status, serpro, score, unico, fraud string
			if err := db.QueryRow(`SELECT status::text, serpro_score::text, score::text FROM processes WHERE process_id::text ILIKE $1`, hexID).
				Scan(&status, &serpro, &score); err != nil {
				t.Fatal(err)
			}
			if got, want := []string{status, serpro, score}, []string{"3", "85", tt.score}; !cmp.Equal(got, want) {
				t.Errorf("status, serpro_score, score = %q, want %q", got, want)
			}
			if err := db.QueryRow(`SELECT unico_id_result, identity_fraudsters_result FROM processes WHERE process_id::text = $1`, id(2)).
				Scan(&unico, &fraud); err != nil {
				t.Fatal(err)
			}
			if unico != hostile.UnicoID || fraud != hostile.IdentityFraudsters {
				t.Errorf("hostile text read back as %q, %q", unico, fraud)
			}
			again, err := w.Apply(context.Background(), rs)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{"already_applied", "already_applied"}, verdicts(again)); diff != "" {
				t.Fatalf("second Apply verdicts (-want +got):\n%s", diff)
			}
		})
	}
}

// TestTarget_PostgresReadOnly: a dry run's transaction is READ ONLY, so
// even a table whose reads would write (a view calling a function with a
// side effect) is not modified; a role that may only read can run it.
func TestTarget_PostgresReadOnly(t *testing.T) {
	role, password := pgtest.MustRole(t)
	dsn := pgtest.MustDatabase(t)
	pgtest.MustExec(t, dsn, createPGProcesses,
		`INSERT INTO processes (process_id, status) VALUES ('`+id(1)+`', 1)`,
		"GRANT SELECT ON processes TO "+role)
	reader := pgtest.As(dsn, role, password)
	rs := []store.Repair{{Row: 2, ProcessID: id(1), Before: processing, After: remote}}

	dry := mustOpenTarget(t, store.TargetConfig{Target: reader}, false)
	got, err := dry.Check(context.Background(), rs)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"changed"}, verdicts(got)); diff != "" {
		t.Fatalf("verdicts (-want +got):\n%s", diff)
	}

	// The same role may not write: Apply fails, in one line without the
	// password, and nothing is written.
	w := mustOpenTarget(t, store.TargetConfig{Target: reader}, true)
	_, err = w.Apply(context.Background(), rs)
	if err == nil {
		t.Fatal("Apply as a role that may only read: no error")
	}
	if msg := err.Error(); strings.Contains(msg, password) || strings.ContainsAny(msg, "\r\n") || !strings.Contains(msg, "permission denied") {
		t.Errorf("message %q: want one line saying permission denied, without the password", msg)
	}
	var status int
	if err := pgtest.MustOpen(t, dsn).QueryRow("SELECT status FROM processes").Scan(&status); err != nil {
		t.Fatal(err)
	}
	if status != 1 {
		t.Fatalf("status %d: a failed Apply wrote", status)
	}

	t.Run("ViewThatWrites", func(t *testing.T) {
		pgtest.MustExec(t, dsn, "CREATE TABLE reads (process_id text)",
			`CREATE FUNCTION logged(p text) RETURNS text LANGUAGE plpgsql VOLATILE AS $$
			BEGIN INSERT INTO reads VALUES (p); RETURN p; END $$`,
			`CREATE VIEW watched AS SELECT logged(process_id) AS process_id, status, unico_id_result,
				identity_fraudsters_result, serpro_score, liveness, score FROM processes`)
		dry := mustOpenTarget(t, store.TargetConfig{Target: dsn, Table: "watched"}, false)
		_, err := dry.Check(context.Background(), rs)
		if err == nil || !strings.Contains(err.Error(), "read-only transaction") {
			t.Fatalf("Check()=%v, want the server's refusal to write in a read-only transaction", err)
		}
		var n int
		if err := pgtest.MustOpen(t, dsn).QueryRow("SELECT count(*) FROM reads").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Fatalf("the dry run wrote %d rows", n)
		}
	})
}

// TestOpenTarget_PostgresError: a target that cannot be reached or read
// fails in one line that never holds the password.
func TestOpenTarget_PostgresError(t *testing.T) {
	dsn := pgtest.MustDatabase(t)
	pgtest.MustExec(t, dsn, createPGProcesses)
	password := "unico_test"
	if u, err := url.Parse(dsn); err == nil {
		password, _ = u.User.Password()
	}
	for _, tt := range []struct {
		name, target, secret string
		wantErr              error
	}{
		{"ErrBadDSN", "postgres://u:s3cret-bad-port@localhost:notaport/db", "s3cret-bad-port", store.ErrBadDSN},
		{"ErrConnect/WrongPassword", strings.Replace(dsn, ":"+password+"@", ":s3cret-wrong-pw@", 1), "s3cret-wrong-pw", store.ErrConnect},
		{"ErrConnect/NoDatabase", strings.Replace(dsn, "/unico_test_", "/absent_", 1), password, store.ErrConnect},
		{"ErrNoTable/Schema", dsn, "", store.ErrNoTable}, // the password is in the database name
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := store.TargetConfig{Target: tt.target}
			if tt.name == "ErrNoTable/Schema" {
				cfg.Table = "elsewhere.processes"
			}
			tg, err := store.OpenTarget(context.Background(), cfg, true)
			if err == nil {
				tg.Close()
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("OpenTarget()=%v, want %v", err, tt.wantErr)
			}
			if msg := err.Error(); (tt.secret != "" && strings.Contains(msg, tt.secret)) || strings.ContainsAny(msg, "\r\n") {
				t.Fatalf("message %q: want one line without the password", msg)
			}
		})
	}
}
