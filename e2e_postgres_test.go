package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/unico-reconcile/unico-reconcile/internal/pgtest"
	"github.com/unico-reconcile/unico-reconcile/simulator"
)

// TestRun_Postgres runs the job on a PostgreSQL source: the same verdicts
// as from the CSV file it was loaded from, and the DSN's password nowhere
// (output, logs, reports, run history).
func TestRun_Postgres(t *testing.T) {
	role, password := pgtest.MustRole(t)
	dir := t.TempDir()
	data, saved, _ := MustDataset(t, dir, 500)
	admin := pgtest.MustDatabaseFromCSV(t, saved)
	pgtest.MustExec(t, admin, "GRANT SELECT ON processes TO "+role)
	dsn := pgtest.As(admin, role, password)
	_, api := MustSwitchable(t, MustNewSimulator(t, data, simulator.Config{}))
	ref := filepath.Join(dir, "ref", "out")
	if r := MustRun(t, credentials, runArgs(saved, api, ref)...); r.code != 1 {
		t.Fatalf("CSV run: exit %d\n%s", r.code, r.stderr)
	}
	base := t.TempDir()
	out := filepath.Join(base, "out")
	r := MustRun(t, credentials, runArgs(dsn, api, out, "--summary-json")...)
	if r.code != 1 {
		t.Fatalf("PostgreSQL run: exit %d, want 1\n%s", r.code, r.stderr)
	}
	got, want := MustSummary(t, out), MustSummary(t, ref)
	if diff := cmp.Diff(want.Counts, got.Counts); diff != "" || got.Requests != want.Requests {
		t.Fatalf("counts (-CSV +PostgreSQL):\n%s requests %d, want %d", diff, got.Requests, want.Requests)
	}
	if !strings.HasPrefix(got.Source, "postgres://") || !strings.Contains(got.Source, "xxxxx") {
		t.Errorf("summary source %q, want the DSN with its password redacted", got.Source)
	}
	// The SQL rows count from 1, the CSV's from 2 (the header): the same
	// processes in the same order, one row apart.
	if g, w := len(MustVerdicts(t, out)), len(MustVerdicts(t, ref)); g != w {
		t.Errorf("%d listed, want %d", g, w)
	}
	runs := MustRun(t, nil, "runs", "--state", filepath.Join(base, "state.db"), "--json")
	for name, text := range map[string]string{"stdout": r.stdout, "stderr": r.stderr, "runs": runs.stdout + runs.stderr} {
		if strings.Contains(text, password) {
			t.Errorf("the password is in %s:\n%s", name, text)
		}
	}
	for _, root := range []string{out, base} {
		entries, _ := os.ReadDir(root)
		for _, e := range entries {
			if b, err := os.ReadFile(filepath.Join(root, e.Name())); err == nil && bytes.Contains(b, []byte(password)) {
				t.Errorf("the password is in %s", filepath.Join(root, e.Name()))
			}
		}
	}

	for _, tt := range []struct{ name, source, want string }{
		{"ErrBadDSN", "postgres://u:s3cret-pw@localhost:notaport/db", "bad DSN"},
		{"ErrConnect", "postgres://u:s3cret-pw@127.0.0.1:1/db?connect_timeout=5", "cannot connect"},
		{"ErrBadQuery", dsn, "bad query"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := runArgs(tt.source, api, filepath.Join(t.TempDir(), "o"))
			if tt.name == "ErrBadQuery" {
				args = append(args, "--query", "SELECT process_id FROM nowhere")
			}
			r := MustRun(t, credentials, args...)
			if r.code != 2 || !strings.Contains(r.stderr, tt.want) || strings.Contains(r.stderr, "s3cret-pw") || strings.Contains(r.stderr, password) {
				t.Fatalf("exit %d, stderr %q; want 2, %q, no password", r.code, r.stderr, tt.want)
			}
			if line := MustLastLine(t, r.stderr); !strings.HasPrefix(line, "unico-reconcile: ") {
				t.Fatalf("last line %q, want the one-line error", line)
			}
		})
	}
}
