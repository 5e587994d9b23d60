package store_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/unico-reconcile/unico-reconcile/internal/pgtest"
	"github.com/unico-reconcile/unico-reconcile/reconcile"
	"github.com/unico-reconcile/unico-reconcile/store"
)

const createPGProcesses = `CREATE TABLE processes (process_id text, status integer, unico_id_result text,
	identity_fraudsters_result text, serpro_score integer, liveness integer, score double precision, saved_at timestamptz)`

// TestOpenPostgres_Error covers PostgreSQL sources that cannot be used:
// Open fails with one line that names the problem and never the password.
func TestOpenPostgres_Error(t *testing.T) {
	dsn := pgtest.MustDatabase(t)
	pgtest.MustExec(t, dsn, createPGProcesses,
		"INSERT INTO processes (process_id, status) VALUES ('00000000-0000-4000-8000-000000000001', 3)")
	password := "unico_test"
	if u, err := url.Parse(dsn); err == nil {
		password, _ = u.User.Password()
	}
	wrongPassword := strings.Replace(dsn, ":"+password+"@", ":s3cret-wrong-pw@", 1)
	unreachable := "postgres://someone:s3cret-unreachable@127.0.0.1:1/db?sslmode=disable&connect_timeout=5"
	noDB := strings.Replace(dsn, "/unico_test_", "/absent_", 1)
	for _, tt := range []struct {
		name    string
		dsn     string
		query   string
		wantErr error
		secret  string // must not appear in the message
	}{
		{name: "ErrBadDSN/Port", dsn: "postgres://u:s3cret-bad-port@localhost:notaport/db", wantErr: store.ErrBadDSN, secret: "s3cret-bad-port"},
		{name: "ErrBadDSN/Param", dsn: "postgres://u:s3cret-bad-param@localhost/db?sslmode=sideways", wantErr: store.ErrBadDSN, secret: "s3cret-bad-param"},
		{name: "ErrConnect/Unreachable", dsn: unreachable, wantErr: store.ErrConnect, secret: "s3cret-unreachable"},
		{name: "ErrConnect/WrongPassword", dsn: wrongPassword, wantErr: store.ErrConnect, secret: "s3cret-wrong-pw"},
		{name: "ErrConnect/NoDatabase", dsn: noDB, wantErr: store.ErrConnect, secret: password},
		{name: "ErrBadQuery/NoTable", dsn: dsn, query: "SELECT process_id FROM nothing", wantErr: store.ErrBadQuery},
		{name: "ErrBadQuery/Syntax", dsn: dsn, query: "SELEC process_id FROM processes", wantErr: store.ErrBadQuery},
		{name: "ErrBadQuery/Write", dsn: dsn, query: "DELETE FROM processes RETURNING process_id", wantErr: store.ErrBadQuery},
		{name: "ErrBadQuery/TwoStatements", dsn: dsn, query: "SELECT process_id FROM processes; DELETE FROM processes", wantErr: store.ErrBadQuery},
		{name: "ErrBadQuery/CommitThenWrite", dsn: dsn, query: "SELECT process_id FROM processes; COMMIT; DELETE FROM processes", wantErr: store.ErrBadQuery},
		{name: "ErrNoProcessIDColumn", dsn: dsn, query: "SELECT status FROM processes", wantErr: store.ErrNoProcessIDColumn},
		{name: "ErrDuplicateColumn", dsn: dsn, query: "SELECT *, status FROM processes", wantErr: store.ErrDuplicateColumn},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := store.OpenPostgres(tt.dsn, tt.query)
			if err == nil {
				p.Close()
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("OpenPostgres()=%v, want %v", err, tt.wantErr)
			}
			msg := err.Error()
			if strings.ContainsAny(msg, "\r\n") {
				t.Errorf("message is not one line: %q", msg)
			}
			if tt.secret != "" && strings.Contains(msg, tt.secret) {
				t.Errorf("message %q holds the password", msg)
			}
		})
	}

	t.Run("NothingWritten", func(t *testing.T) {
		db := pgtest.MustOpen(t, dsn)
		var n int
		if err := db.QueryRow("SELECT count(*) FROM processes").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if got, want := n, 1; got != want {
			t.Fatalf("%d rows left, want %d: a query wrote", got, want)
		}
	})
}

// TestPostgres_Types reads typed columns: integers, numeric, real and double
// precision by value, timestamps as instants, uuid, NULL as not stored.
func TestPostgres_Types(t *testing.T) {
	dsn := pgtest.MustDatabase(t)
	pgtest.MustExec(t, dsn, `CREATE TABLE processes (process_id uuid, status smallint, unico_id_result text,
		identity_fraudsters_result varchar(20), serpro_score bigint, liveness integer, score numeric(5,2),
		saved_at timestamptz, score_real real, saved_local timestamp, saved_day date, extra jsonb)`,
		`SET TIME ZONE 'America/Sao_Paulo'`,
		`INSERT INTO processes VALUES
		('0A3E1F4C-9B2D-4E8F-A1C3-5D6E7F8091A2', 3, 'YES', 'inconclusive', -1, 2, 87.00,
		 '2024-05-01 07:00:00.123456-03', 87.5, '2024-05-01 10:00:00.5', '2024-05-01', '{"a":1}'),
		('00000000-0000-4000-8000-000000000002', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
		('00000000-0000-4000-8000-000000000003', 7, NULL, NULL, NULL, NULL, NULL, 'infinity', NULL, NULL, NULL, NULL)`)
	at := func(s string) time.Time { tm, _ := time.Parse(time.RFC3339Nano, s); return tm }
	bad := &store.RowError{Row: 3, Column: "status", Value: "7", Reason: "is not a status 1..5"}
	for _, tt := range []struct {
		name, query string
		want        []reconcile.Local
	}{
		{"Typed", "", []reconcile.Local{
			{Row: 1, ProcessID: "0a3e1f4c-9b2d-4e8f-a1c3-5d6e7f8091a2", SavedAt: at("2024-05-01T10:00:00.123456Z"), Outcome: reconcile.Outcome{
				Status: 3, UnicoID: "yes", IdentityFraudsters: "inconclusive", Serpro: ptr(-1), Liveness: ptr(2), Score: ptr(87.0)}},
			{Row: 2, ProcessID: id(2)},
			{Row: 3, ProcessID: id(3), Invalid: bad},
		}},
		{"RealAndTimestamp", "SELECT process_id, score_real AS score, saved_local AS saved_at FROM processes WHERE status = 3", []reconcile.Local{
			// A real with a fraction is not an integer score.
			{Row: 1, ProcessID: "0a3e1f4c-9b2d-4e8f-a1c3-5d6e7f8091a2", Invalid: &store.RowError{Row: 1, Column: "score", Value: "87.5", Reason: "is not an integer score"}},
		}},
		{"Date", "SELECT process_id, saved_day AS saved_at FROM processes WHERE status = 3;", []reconcile.Local{
			{Row: 1, ProcessID: "0a3e1f4c-9b2d-4e8f-a1c3-5d6e7f8091a2", SavedAt: at("2024-05-01T00:00:00Z")},
		}},
		{"Infinity", "SELECT process_id, saved_at FROM processes WHERE status = 7", []reconcile.Local{
			{Row: 1, ProcessID: id(3), Invalid: &store.RowError{Row: 1, Column: "saved_at", Value: "infinity", Reason: "is not an RFC 3339 timestamp"}},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := store.OpenPostgres(dsn, tt.query)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			if diff := cmp.Diff(tt.want, MustCollect(t, p), ignoreFile); diff != "" {
				t.Fatalf("rows (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPostgres_NUL: text cannot hold a NUL byte in PostgreSQL, but bytea
// can. Such a value makes its row invalid, naming the column; in a column
// the contract does not know it is ignored.
func TestPostgres_NUL(t *testing.T) {
	dsn := pgtest.MustDatabase(t)
	pgtest.MustExec(t, dsn, `CREATE TABLE processes (n int, process_id text, status int, unico_id_result bytea, note bytea)`,
		`INSERT INTO processes VALUES
		(1, '`+id(1)+`', 3, decode('79657300', 'hex'), NULL),
		(2, '`+id(2)+`', 3, decode('796573', 'hex'), decode('00', 'hex'))`)
	p, err := store.OpenPostgres(dsn, "SELECT * FROM processes ORDER BY n")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	want := []reconcile.Local{
		{Row: 1, ProcessID: id(1), Invalid: &store.RowError{Row: 1, Column: "unico_id_result", Value: "yes\x00", Reason: "holds a NUL byte"}},
		{Row: 2, ProcessID: id(2), Outcome: reconcile.Outcome{Status: 3, UnicoID: "yes"}},
	}
	if diff := cmp.Diff(want, MustCollect(t, p), ignoreFile); diff != "" {
		t.Fatalf("rows (-want +got):\n%s", diff)
	}
}

// TestPostgres_ManyBatches reads more rows than one FETCH brings, in
// order, and Survey counts them on the server.
func TestPostgres_ManyBatches(t *testing.T) {
	dsn := MustGeneratePostgres(t, 2*store.PostgresFetchSize+7)
	src, err := store.Open(dsn, "SELECT * FROM processes ORDER BY process_id")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	got := MustCollect(t, src)
	if g, w := len(got), 2*store.PostgresFetchSize+7; g != w {
		t.Fatalf("read %d rows, want %d", g, w)
	}
	for i, l := range got {
		if l.Row != i+1 || l.ProcessID != fmt.Sprintf("00000000-0000-4000-8000-%012d", i) || l.Invalid != nil {
			t.Fatalf("row %d: %+v", i+1, l)
		}
	}
	sv, err := src.Survey(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if g, w := sv.Rows, len(got); g != w {
		t.Fatalf("Survey().Rows=%d, want %d", g, w)
	}
	if sv.SHA256 != "" {
		t.Fatalf("Survey().SHA256=%q, want none for a database", sv.SHA256)
	}
}

// MustGeneratePostgres creates a database holding n valid rows, generated
// on the server.
func MustGeneratePostgres(tb testing.TB, n int) string {
	tb.Helper()
	dsn := pgtest.MustDatabase(tb)
	pgtest.MustExec(tb, dsn, createPGProcesses, fmt.Sprintf(`INSERT INTO processes
		SELECT format('00000000-0000-4000-8000-%%s', lpad(i::text, 12, '0')), i%%5+1, 'yes', 'inconclusive',
			i%%101, i%%2+1, i%%100, timestamptz '2024-05-01T10:00:00.123Z' + i * interval '1 second'
		FROM generate_series(0, %d) AS i`, n-1))
	return dsn
}

func TestRedact(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"postgres://u:s3cret@db:5432/app?sslmode=require", "postgres://u:xxxxx@db:5432/app?sslmode=require"},
		{"postgresql://u@db/app?password=s3cret&sslmode=disable", "postgresql://u@db/app?password=xxxxx&sslmode=disable"},
		{"POSTGRES://u:s3cret@db/app", "postgres://u:xxxxx@db/app"},
		{"postgres://u:s3cret@db:notaport/app", "postgres://(unparsable DSN, redacted)"},
		{"postgres://db/app", "postgres://db/app"},
		{"testdata/saved.csv", "testdata/saved.csv"},
	} {
		if got := store.Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q)=%q, want %q", tt.in, got, tt.want)
		}
	}
}
