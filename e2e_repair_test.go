package main

import (
	"bytes"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/unico-reconcile/unico-reconcile/internal/csvtest"
	"github.com/unico-reconcile/unico-reconcile/internal/pgtest"
	"github.com/unico-reconcile/unico-reconcile/job"
	"github.com/unico-reconcile/unico-reconcile/simulator"
)

// The end-to-end tests of `repair` (issue 14): each runs the job over a
// SQLite file or a PostgreSQL table, then repairs the run from its history
// and looks at the table, the repair's files, `runs`, `verify` and the
// period report.

// repairTargets are the kinds of target every table-driven repair test
// runs against: a SQLite file in its default (rollback journal) mode, one in
// WAL mode, and PostgreSQL.
var repairTargets = []string{"sqlite", "sqlite-wal", "postgres"}

// resultCols are the columns a repair writes, in the contract's order.
var resultCols = []string{"status", "unico_id_result", "identity_fraudsters_result", "serpro_score", "liveness", "score"}

// nullCell is how a dump shows NULL, to tell it from an empty string.
const nullCell = "<NULL>"

// MustRepairDataset is MustDataset's n rows with richer answers: every
// process the API knows has an identity fraudsters result, a serpro score, a
// liveness and a score in varied combinations (the local rows of the
// non-lost kinds store none of them, so their verdicts do not change); the
// lost responses' unico results vary, and every other lost response is
// saved locally in progress (status 2) instead of without status.
func MustRepairDataset(tb testing.TB, dir string, n int) (data, saved string) {
	tb.Helper()
	data, saved, _ = MustDataset(tb, dir, n)
	index := func(id string) (int, bool) {
		if len(id) < 8 {
			return 0, false
		}
		i, err := strconv.ParseInt(id[:8], 16, 64)
		return int(i), err == nil
	}
	var api bytes.Buffer
	for _, line := range bytes.Split(bytes.TrimSpace(MustRead(tb, data)), []byte("\n")) {
		var b map[string]any
		if err := json.Unmarshal(line, &b); err != nil {
			tb.Fatal(err)
		}
		i, _ := index(b["id"].(string))
		if i%10 == 4 {
			b["unicoId"] = map[string]any{"result": []string{"no", "inconclusive", "yes"}[(i/10)%3]}
		}
		if i%4 != 1 {
			b["identityFraudsters"] = map[string]any{"result": []string{"yes", "inconclusive"}[(i/2)%2]}
		}
		if i%5 != 2 {
			b["government"] = map[string]any{"serpro": (i*13)%103 - 2}
		}
		if i%3 != 1 {
			b["liveness"] = 1 + (i/3)%2
		}
		if i%2 == 0 {
			b["score"] = (i*17)%201 - 100
		}
		enc, err := json.Marshal(b)
		if err != nil {
			tb.Fatal(err)
		}
		api.Write(append(enc, '\n'))
	}
	recs := MustCSV(tb, saved)
	for _, rec := range recs[1:] {
		if i, ok := index(rec[0]); ok && i%20 == 14 {
			rec[1] = "2"
		}
	}
	var local bytes.Buffer
	w := csv.NewWriter(&local)
	if err := w.WriteAll(recs); err != nil {
		tb.Fatal(err)
	}
	for path, b := range map[string][]byte{data: api.Bytes(), saved: local.Bytes()} {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	return data, saved
}

// repairTarget is a table that a run reads and a repair writes: a SQLite
// file or a PostgreSQL database, loaded from a CSV file.
type repairTarget struct {
	kind   string // sqlite or postgres
	target string // the run's --source, the repair's --target
	path   string // the SQLite file
	admin  string // the PostgreSQL database, as its owner
	role   string // the PostgreSQL role that runs and repairs
	secret string // the role's password: never shown
}

// MustRepairTarget loads the CSV file at csvPath into a table processes of a
// new SQLite file (typed columns, as an application would have them) or of
// a new PostgreSQL database (text columns; the tests skip without a server,
// as pgtest decides), which a role of its own with a password may read and
// update.
func MustRepairTarget(tb testing.TB, kind, csvPath string) *repairTarget {
	tb.Helper()
	tg := &repairTarget{kind: kind}
	switch kind {
	case "sqlite", "sqlite-wal":
		tg.path = filepath.Join(tb.TempDir(), "app.db")
		tg.target = "sqlite:" + tg.path
		db, err := sql.Open("sqlite3", tg.path)
		if err != nil {
			tb.Fatal(err)
		}
		defer db.Close()
		csvtest.MustLoad(tb, db, csvPath, csvtest.Dialect{
			ID: "id INTEGER PRIMARY KEY",
			Type: func(name string) string {
				switch name {
				case "status", "serpro_score", "liveness":
					return "INTEGER"
				case "score":
					return "REAL"
				}
				return "TEXT"
			},
			Mark: func(int) string { return "?" },
		})
		if kind == "sqlite-wal" {
			// The mode stays in the file; -wal and -shm go with the last
			// connection.
			var mode string
			if err := db.QueryRow("PRAGMA journal_mode=WAL").Scan(&mode); err != nil || mode != "wal" {
				tb.Fatalf("journal mode %q: %v", mode, err)
			}
		}
	case "postgres":
		tg.role, tg.secret = pgtest.MustRole(tb)
		tg.admin = pgtest.MustDatabaseFromCSV(tb, csvPath)
		pgtest.MustExec(tb, tg.admin, "GRANT SELECT, UPDATE ON processes TO "+tg.role)
		tg.target = pgtest.As(tg.admin, tg.role, tg.secret)
	default:
		tb.Fatalf("no target kind %q", kind)
	}
	return tg
}

// open opens the database as its owner; the caller closes it.
func (tg *repairTarget) open(tb testing.TB) *sql.DB {
	tb.Helper()
	driver, dsn := "sqlite3", tg.path
	if tg.kind == "postgres" {
		driver, dsn = "pgx", tg.admin
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		tb.Fatal(err)
	}
	return db
}

// exec runs stmts as the database's owner.
func (tg *repairTarget) exec(tb testing.TB, stmts ...string) {
	tb.Helper()
	db := tg.open(tb)
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			tb.Fatalf("%s: %v", s, err)
		}
	}
}

// dumpRow is one row of a dump: the id, then the columns asked for, then on
// PostgreSQL the row version (xmin), which any UPDATE changes, even one that
// writes the values the row already holds.
type dumpRow []string

// dump reads every row of table (a quoted name) in id order: id, process_id,
// the result columns (or cols, in their place) and saved_at; NULL is
// nullCell.
func (tg *repairTarget) dump(tb testing.TB, table string, cols ...string) []dumpRow {
	tb.Helper()
	if cols == nil {
		cols = resultCols
	}
	names := append(append([]string{"id", "process_id"}, cols...), "saved_at")
	if tg.kind == "postgres" {
		names = append(names, "xmin::text")
	}
	db := tg.open(tb)
	defer db.Close()
	rows, err := db.Query("SELECT " + strings.Join(names, ", ") + " FROM " + table + " ORDER BY id")
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var out []dumpRow
	for rows.Next() {
		vals := make([]sql.NullString, len(names))
		dest := make([]any, len(names))
		for i := range vals {
			dest[i] = &vals[i]
		}
		if err := rows.Scan(dest...); err != nil {
			tb.Fatal(err)
		}
		row := make(dumpRow, len(names))
		for i, v := range vals {
			row[i] = nullCell
			if v.Valid {
				row[i] = v.String
			}
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

func (r dumpRow) pid() string { return r[1] }

// results are the row's six result columns, NULL as "".
func (r dumpRow) results() []string {
	out := slices.Clone(r[2:8])
	for i, v := range out {
		if v == nullCell {
			out[i] = ""
		}
	}
	return out
}

// files reads every file beside a SQLite target (the database, and any
// journal, -wal or -shm); nil on PostgreSQL.
func (tg *repairTarget) files(tb testing.TB) map[string][]byte {
	tb.Helper()
	if tg.path == "" {
		return nil
	}
	m := map[string][]byte{}
	for _, name := range MustReadDirNames(tb, filepath.Dir(tg.path)) {
		m[name] = MustRead(tb, filepath.Join(filepath.Dir(tg.path), name))
	}
	return m
}

// watch remembers what the binary printed and wrote, to look for the
// target's password in all of it at the end of the test.
func (tg *repairTarget) watch(tb testing.TB) *secretWatch {
	tb.Helper()
	w := &secretWatch{texts: map[string]string{}}
	tb.Cleanup(func() {
		if tg.secret == "" {
			return
		}
		for name, text := range w.texts {
			if strings.Contains(text, tg.secret) {
				tb.Errorf("the PostgreSQL password is in %s:\n%s", name, text)
			}
		}
	})
	return w
}

type secretWatch struct {
	mu    sync.Mutex
	texts map[string]string
}

// add remembers r's output under name, and the files in dirs as they are
// now.
func (w *secretWatch) add(name string, r result, dirs ...string) result {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.texts[name+" stdout"] = r.stdout
	w.texts[name+" stderr"] = r.stderr
	for _, dir := range dirs {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if b, err := os.ReadFile(filepath.Join(dir, e.Name())); err == nil {
				w.texts[name+" "+e.Name()] = string(b)
			}
		}
	}
	return r
}

// remote is the API's answer as discrepancies.jsonl shows it.
type remote struct {
	Status  int `json:"status"`
	UnicoID *struct {
		Result string `json:"result"`
	} `json:"unicoId"`
	IdentityFraudsters *struct {
		Result string `json:"result"`
	} `json:"identityFraudsters"`
	Government *struct {
		Serpro int `json:"serpro"`
	} `json:"government"`
	Liveness *int     `json:"liveness"`
	Score    *float64 `json:"score"`
}

// cells are the remote outcome's six result columns as text, "" when
// absent.
func (r remote) cells() []string {
	c := make([]string, 6)
	if r.Status != 0 {
		c[0] = strconv.Itoa(r.Status)
	}
	if r.UnicoID != nil {
		c[1] = r.UnicoID.Result
	}
	if r.IdentityFraudsters != nil {
		c[2] = r.IdentityFraudsters.Result
	}
	if r.Government != nil {
		c[3] = strconv.Itoa(r.Government.Serpro)
	}
	if r.Liveness != nil {
		c[4] = strconv.Itoa(*r.Liveness)
	}
	if r.Score != nil {
		c[5] = strconv.FormatFloat(*r.Score, 'f', -1, 64)
	}
	return c
}

// listed is one line of discrepancies.jsonl, as far as the tests need it.
type listed struct {
	Row       int     `json:"row"`
	ProcessID *string `json:"process_id"`
	Kind      string  `json:"kind"`
	Remote    *remote `json:"remote"`
}

func (l listed) pid() string {
	if l.ProcessID == nil {
		return ""
	}
	return *l.ProcessID
}

// MustListed reads the run's discrepancies.jsonl.
func MustListed(tb testing.TB, dir string) []listed {
	tb.Helper()
	var out []listed
	for _, line := range bytes.Split(bytes.TrimSpace(MustRead(tb, filepath.Join(dir, "discrepancies.jsonl"))), []byte("\n")) {
		var l listed
		if err := json.Unmarshal(line, &l); err != nil {
			tb.Fatalf("%s: %v", line, err)
		}
		out = append(out, l)
	}
	return out
}

// MustLost returns the run's lost responses: the process ids in report
// order, and the remote outcome of each, as text cells.
func MustLost(tb testing.TB, dir string) (ids []string, want map[string][]string) {
	tb.Helper()
	want = map[string][]string{}
	for _, l := range MustListed(tb, dir) {
		if l.Kind != "lost_response" {
			continue
		}
		if l.Remote == nil {
			tb.Fatalf("lost response %s without a remote outcome", l.pid())
		}
		ids = append(ids, l.pid())
		want[l.pid()] = l.Remote.cells()
	}
	if len(ids) == 0 {
		tb.Fatal("the run found no lost response")
	}
	return ids, want
}

// repairJSON is repair.json, as far as the tests need it.
type repairJSON struct {
	RepairID string         `json:"repair_id"`
	RunID    string         `json:"run_id"`
	Target   *string        `json:"target"`
	Applied  bool           `json:"applied"`
	DryRun   bool           `json:"dry_run"`
	ExitCode int            `json:"exit_code"`
	Counts   map[string]int `json:"counts"`
}

func MustRepairJSON(tb testing.TB, dir string) repairJSON {
	tb.Helper()
	var r repairJSON
	if err := json.Unmarshal(MustRead(tb, filepath.Join(dir, "repair.json")), &r); err != nil {
		tb.Fatal(err)
	}
	return r
}

// MustRepairRun runs `repair` of run (an id or last) of the history
// statePath into out, with extra flags.
func MustRepairRun(tb testing.TB, statePath, run, out string, extra ...string) result {
	tb.Helper()
	return MustRun(tb, nil, append([]string{"--log-format", "json", "repair", "--state", statePath, "--run", run, "--out", out}, extra...)...)
}

// MustLostCounts writes the period report of every run in the history and
// returns its lost_responses: found, repaired.
func MustLostCounts(tb testing.TB, statePath string) (found, repaired int) {
	tb.Helper()
	out := filepath.Join(tb.TempDir(), "period")
	r := MustRun(tb, nil, "report", "--state", statePath, "--from", "2000-01-01", "--to", "2100-01-01", "--out", out)
	if r.code != 0 {
		tb.Fatalf("report --from --to: exit %d\n%s", r.code, r.stderr)
	}
	var p struct {
		Lost struct {
			Found    int `json:"found"`
			Repaired int `json:"repaired"`
		} `json:"lost_responses"`
	}
	if err := json.Unmarshal(MustRead(tb, filepath.Join(out, "period.json")), &p); err != nil {
		tb.Fatal(err)
	}
	return p.Lost.Found, p.Lost.Repaired
}

// MustRepairsOf returns the repairs `runs --json` shows under run id.
func MustRepairsOf(tb testing.TB, statePath, id string) []job.RepairView {
	tb.Helper()
	r := MustRun(tb, nil, "runs", "--state", statePath, "--json")
	if r.code != 0 {
		tb.Fatalf("runs --json: exit %d\n%s", r.code, r.stderr)
	}
	var runs []job.RunView
	if err := json.Unmarshal([]byte(r.stdout), &runs); err != nil {
		tb.Fatalf("runs --json: %v\n%s", err, r.stdout)
	}
	for _, r := range runs {
		if r.RunID == id {
			return r.Repairs
		}
	}
	tb.Fatalf("runs does not show run %s", id)
	return nil
}

// byPID indexes a dump by process id (the first row of each).
func byPID(rows []dumpRow) map[string]dumpRow {
	m := map[string]dumpRow{}
	for _, r := range rows {
		if _, ok := m[r.pid()]; !ok {
			m[r.pid()] = r
		}
	}
	return m
}

// MustRepaired fails unless every row of after whose process id is in want
// holds want's outcome, keeps its id and saved_at, and every other row is
// exactly as in before (on PostgreSQL, not even rewritten). except names
// rows that hold neither.
func MustRepaired(tb testing.TB, before, after []dumpRow, want map[string][]string, except ...string) {
	tb.Helper()
	if len(before) != len(after) {
		tb.Fatalf("the table had %d rows, now %d", len(before), len(after))
	}
	for i, b := range before {
		a := after[i]
		out, ok := want[b.pid()]
		switch {
		case slices.Contains(except, b.pid()):
		case !ok:
			if !slices.Equal(a, b) {
				tb.Errorf("row %s (%s) is not a lost response but changed:\n was %q\n now %q", b[0], b.pid(), b, a)
			}
		default:
			if !slices.Equal(a.results(), out) {
				tb.Errorf("row %s (%s) holds %q, want the remote outcome %q", b[0], b.pid(), a.results(), out)
			}
			if a[0] != b[0] || a.pid() != b.pid() || a[8] != b[8] {
				tb.Errorf("row %s: id, process_id or saved_at changed: was %q, now %q", b[0], b, a)
			}
		}
	}
}

// TestRepair_Target follows the life of a repair on a SQLite file
// and a PostgreSQL table: a run finds lost responses; a dry run shows them
// and leaves the target untouched; --apply fills every lost response and
// nothing else; a second --apply changes nothing; a new run over the
// repaired table finds no lost response and every other discrepancy as
// before. On the way, the period report's lost responses, `runs`, and the
// PostgreSQL password nowhere.
func TestRepair_Target(t *testing.T) {
	for _, kind := range repairTargets {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			data, saved := MustRepairDataset(t, dir, 60)
			tg := MustRepairTarget(t, kind, saved)
			w := tg.watch(t)
			_, url := MustSwitchable(t, MustNewSimulator(t, data, simulator.Config{}))
			base := t.TempDir()
			statePath := filepath.Join(base, "state.db")
			first := filepath.Join(base, "run1")
			if r := w.add("run", MustRun(t, credentials, runArgs(tg.target, url, first)...), first); r.code != 1 {
				t.Fatalf("run: exit %d, want 1\n%s", r.code, r.stderr)
			}
			runID := MustSummary(t, first).RunID
			ids, want := MustLost(t, first)
			if len(ids) != 6 {
				t.Fatalf("%d lost responses, want 6 (one in ten rows)", len(ids))
			}
			if found, repaired := MustLostCounts(t, statePath); found != len(ids) || repaired != 0 {
				t.Errorf("period report before any repair: %d lost responses found, %d repaired; want %d, 0", found, repaired, len(ids))
			}
			orig, origFiles := tg.dump(t, "processes"), tg.files(t)

			// 1. The dry run.
			dry := filepath.Join(base, "dry")
			r := w.add("dry run", MustRepairRun(t, statePath, "last", dry, "--target", tg.target), dry)
			if r.code != 0 {
				t.Fatalf("dry run: exit %d, want 0\n%s", r.code, r.stderr)
			}
			if want := fmt.Sprintf("%d rows would change", len(ids)); !strings.Contains(r.stdout, want) || !strings.Contains(r.stdout, "0 changed since the run") {
				t.Errorf("the dry run does not say %q and 0 conflicts:\n%s", want, r.stdout)
			}
			origBy := byPID(orig)
			var previews int
			for _, line := range strings.Split(r.stdout, "\n") {
				if !strings.Contains(line, "->") {
					continue
				}
				previews++
				pid, change, _ := strings.Cut(strings.TrimSpace(line), ": ")
				out, ok := want[pid]
				if !ok {
					t.Errorf("the dry run shows %q, not a lost response", line)
					continue
				}
				if s := fmt.Sprintf("status %q -> %q", origBy[pid].results()[0], out[0]); !strings.Contains(change, s) {
					t.Errorf("the dry run shows %q, want it to say %s", line, s)
				}
			}
			if previews != 5 {
				t.Errorf("the dry run shows %d before -> after lines, want the first 5:\n%s", previews, r.stdout)
			}
			if diff := cmp.Diff(orig, tg.dump(t, "processes")); diff != "" {
				t.Errorf("the dry run changed the table (-before +after):\n%s", diff)
			}
			if diff := cmp.Diff(origFiles, tg.files(t)); diff != "" {
				t.Errorf("the dry run changed the SQLite file or left a journal beside it:\n%s", diff)
			}
			if j := MustRepairJSON(t, dry); !j.DryRun || j.Applied || j.RunID != runID || j.Counts["changed"] != len(ids) || j.Counts["selected"] != len(ids) {
				t.Errorf("repair.json of the dry run: %+v; want a dry run of %s, %d selected and would-be changed", j, runID, len(ids))
			}
			if _, repaired := MustLostCounts(t, statePath); repaired != 0 {
				t.Errorf("period report after a dry run: %d repaired, want 0", repaired)
			}

			// 2. --apply.
			applied := filepath.Join(base, "apply")
			r = w.add("apply", MustRepairRun(t, statePath, "last", applied, "--target", tg.target, "--apply", "--log-level", "debug"), applied)
			if r.code != 0 {
				t.Fatalf("apply: exit %d, want 0\n%s", r.code, r.stderr)
			}
			if want := fmt.Sprintf("%d rows changed", len(ids)); !strings.Contains(r.stdout, want) {
				t.Errorf("apply does not say %q:\n%s", want, r.stdout)
			}
			repairedDump := tg.dump(t, "processes")
			MustRepaired(t, orig, repairedDump, want)
			j := MustRepairJSON(t, applied)
			if j.DryRun || !j.Applied || j.ExitCode != 0 || j.Counts["changed"] != len(ids) || j.Counts["conflicts"] != 0 {
				t.Errorf("repair.json of the apply: %+v; want applied, exit 0, %d changed", j, len(ids))
			}
			if found, repaired := MustLostCounts(t, statePath); found != len(ids) || repaired != j.Counts["changed"] {
				t.Errorf("period report after the apply: %d found, %d repaired; want %d, %d (changed)", found, repaired, len(ids), j.Counts["changed"])
			}
			reps := MustRepairsOf(t, statePath, runID)
			if len(reps) != 2 || reps[0].Applied || !reps[1].Applied || reps[1].Counts.Changed != len(ids) ||
				reps[1].ExitCode == nil || *reps[1].ExitCode != 0 {
				t.Errorf("runs shows the repairs of %s as %+v; want the dry run, then the apply with %d changed, exit 0", runID, reps, len(ids))
			}

			// 4. A second --apply of the same run.
			again := filepath.Join(base, "again")
			r = w.add("second apply", MustRepairRun(t, statePath, runID, again, "--target", tg.target, "--apply"), again)
			if r.code != 0 || !strings.Contains(r.stdout, "nothing to change") {
				t.Errorf("second apply: exit %d, stdout %q; want 0 and nothing to change\n%s", r.code, r.stdout, r.stderr)
			}
			if diff := cmp.Diff(repairedDump, tg.dump(t, "processes")); diff != "" {
				t.Errorf("the second apply wrote to the table (-before +after):\n%s", diff)
			}
			if j := MustRepairJSON(t, again); j.Counts["changed"] != 0 || j.Counts["done"] != len(ids) {
				t.Errorf("repair.json of the second apply: counts %v; want 0 changed, %d done", j.Counts, len(ids))
			}

			// 5. A new run over the repaired table.
			second := filepath.Join(base, "run2")
			if r := w.add("second run", MustRun(t, credentials, runArgs(tg.target, url, second)...), second); r.code != 1 {
				t.Fatalf("second run: exit %d, want 1\n%s", r.code, r.stderr)
			}
			if n := MustSummary(t, second).Counts["lost_response"]; n != 0 {
				t.Errorf("the run over the repaired table finds %d lost responses, want 0", n)
			}
			// Without ORDER BY, PostgreSQL returns updated rows last: the
			// rows are compared by process id and kind, not by number.
			others := func(dir string) []string {
				var out []string
				for _, l := range MustListed(t, dir) {
					if l.Kind != "lost_response" {
						out = append(out, l.pid()+" "+l.Kind)
					}
				}
				slices.Sort(out)
				return out
			}
			if diff := cmp.Diff(others(first), others(second)); diff != "" || len(others(first)) == 0 {
				t.Errorf("the other discrepancies changed with the repair (-before +after):\n%s", diff)
			}

			w.add("history", result{}, base) // state.db and its -wal
			runs := w.add("runs", MustRun(t, nil, "runs", "--state", statePath))
			w.add("runs --json", MustRun(t, nil, "runs", "--state", statePath, "--json"))
			if kind == "postgres" && !strings.Contains(runs.stdout, "xxxxx") {
				t.Errorf("runs does not show the target, redacted:\n%s", runs.stdout)
			}
		})
	}
}

// TestRepair_ConcurrentWriter: a lost response's row that another program
// changes between the run and the repair is a conflict: the dry run counts
// it, --apply leaves it as that program left it, lists it in conflicts.csv,
// applies the others and exits 1; a second --apply changes nothing and
// exits 1 again.
func TestRepair_ConcurrentWriter(t *testing.T) {
	for _, kind := range repairTargets {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			data, saved := MustRepairDataset(t, dir, 60)
			tg := MustRepairTarget(t, kind, saved)
			w := tg.watch(t)
			_, url := MustSwitchable(t, MustNewSimulator(t, data, simulator.Config{}))
			base := t.TempDir()
			statePath := filepath.Join(base, "state.db")
			first := filepath.Join(base, "run")
			if r := w.add("run", MustRun(t, credentials, runArgs(tg.target, url, first)...), first); r.code != 1 {
				t.Fatalf("run: exit %d, want 1\n%s", r.code, r.stderr)
			}
			ids, want := MustLost(t, first)
			victim := ids[1]
			tg.exec(t, "UPDATE processes SET status = '1', unico_id_result = 'no' WHERE process_id = '"+victim+"'")
			orig := tg.dump(t, "processes")
			left := byPID(orig)[victim]
			if got := left.results(); got[0] != "1" || got[1] != "no" {
				t.Fatalf("the writer's row holds %q", got)
			}

			dry := filepath.Join(base, "dry")
			r := w.add("dry run", MustRepairRun(t, statePath, "last", dry, "--target", tg.target), dry)
			if want := fmt.Sprintf("%d rows would change", len(ids)-1); r.code != 0 || !strings.Contains(r.stdout, want) || !strings.Contains(r.stdout, "1 changed since the run") {
				t.Errorf("dry run: exit %d, stdout %q; want 0, %q and 1 changed since the run", r.code, r.stdout, want)
			}

			for i, name := range []string{"apply", "again"} {
				out := filepath.Join(base, name)
				before := tg.dump(t, "processes")
				r := w.add(name, MustRepairRun(t, statePath, "last", out, "--target", tg.target, "--apply"), out)
				if r.code != 1 {
					t.Fatalf("%s: exit %d, want 1\n%s", name, r.code, r.stderr)
				}
				after := tg.dump(t, "processes")
				MustRepaired(t, orig, after, want, victim)
				if got := byPID(after)[victim]; !slices.Equal(got, left) {
					t.Errorf("%s: the writer's row is %q, want it as the writer left it: %q", name, got, left)
				}
				if i == 1 {
					if diff := cmp.Diff(before, after); diff != "" {
						t.Errorf("the second apply changed the table (-before +after):\n%s", diff)
					}
				}
				conflicts := MustCSV(t, filepath.Join(out, "conflicts.csv"))
				if len(conflicts) != 2 || conflicts[1][0] != victim {
					t.Errorf("%s: conflicts.csv %q, want the header and %s", name, conflicts, victim)
				} else {
					row := map[string]string{}
					for c, h := range conflicts[0] {
						row[h] = conflicts[1][c]
					}
					if row["now_status"] != "1" || row["now_unico_id_result"] != "no" || row["remote_status"] != want[victim][0] {
						t.Errorf("%s: conflicts.csv row %v; want now 1/no and the remote status %s", name, row, want[victim][0])
					}
				}
				wantCounts := map[string]int{"selected": len(ids), "changed": len(ids) - 1, "done": 0, "conflicts": 1, "missing": 0}
				if i == 1 {
					wantCounts["changed"], wantCounts["done"] = 0, len(ids)-1
				}
				if diff := cmp.Diff(wantCounts, MustRepairJSON(t, out).Counts); diff != "" {
					t.Errorf("%s: repair.json counts (-want +got):\n%s", name, diff)
				}
				if !strings.Contains(r.stdout, fmt.Sprintf("%d rows changed", wantCounts["changed"])) || !strings.Contains(r.stdout, "conflicts.csv") {
					t.Errorf("%s: stdout does not say %d rows changed and name conflicts.csv:\n%s", name, wantCounts["changed"], r.stdout)
				}
			}
		})
	}
}

// TestRepair_IDOnlySource: a CSV source that holds only process_id; the
// repair without a target writes every finished process's complete remote
// outcome to repairs.csv, and its folder is chained into the history.
func TestRepair_IDOnlySource(t *testing.T) {
	dir := t.TempDir()
	var api, src bytes.Buffer
	src.WriteString("process_id\n")
	var want [][]string
	for i := range 24 {
		id := fmt.Sprintf("%08x-1111-4000-8000-%012x", i, i)
		fmt.Fprintf(&src, "%s\n", id)
		status := []int{3, 3, 4, 5, 1, 2}[i%6]
		if i == 23 {
			continue // unknown to the API
		}
		b := map[string]any{"id": id, "status": status}
		switch {
		case status == 5:
			// The API answers 410 with only the id and the status.
			want = append(want, []string{id, "5", "", "", "", "", "", ""})
		case status >= 3:
			unico := []string{"yes", "no", "inconclusive"}[i%3]
			fraud := []string{"yes", "inconclusive"}[(i/3)%2]
			serpro, liveness, score := (i*29)%103-2, 1+i%2, (i*37)%201-100
			b["unicoId"] = map[string]any{"result": unico}
			b["identityFraudsters"] = map[string]any{"result": fraud}
			b["government"] = map[string]any{"serpro": serpro}
			b["liveness"], b["score"] = liveness, score
			want = append(want, []string{id, strconv.Itoa(status), unico, fraud, strconv.Itoa(serpro), strconv.Itoa(liveness), strconv.Itoa(score), ""})
		}
		line, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		api.Write(append(line, '\n'))
	}
	data, saved := filepath.Join(dir, "processes.jsonl"), filepath.Join(dir, "ids.csv")
	for path, b := range map[string][]byte{data: api.Bytes(), saved: src.Bytes()} {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	_, url := MustSwitchable(t, MustNewSimulator(t, data, simulator.Config{}))
	base := t.TempDir()
	statePath := filepath.Join(base, "state.db")
	run := filepath.Join(base, "run")
	if r := MustRun(t, credentials, runArgs(saved, url, run)...); r.code != 1 {
		t.Fatalf("run: exit %d, want 1\n%s", r.code, r.stderr)
	}
	runID := MustSummary(t, run).RunID
	if n := MustSummary(t, run).Counts["lost_response"]; n != len(want) {
		t.Fatalf("%d lost responses, want %d (every finished process)", n, len(want))
	}

	out := filepath.Join(base, "repair")
	r := MustRepairRun(t, statePath, "last", out)
	if r.code != 0 {
		t.Fatalf("repair: exit %d, want 0\n%s", r.code, r.stderr)
	}
	got := MustCSV(t, filepath.Join(out, "repairs.csv"))
	header := []string{"process_id", "status", "unico_id_result", "identity_fraudsters_result", "serpro_score", "liveness", "score", "saved_at"}
	if diff := cmp.Diff(append([][]string{header}, want...), got); diff != "" {
		t.Errorf("repairs.csv (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"manifest.json", "repair.json", "repairs.csv"}, MustReadDirNames(t, out)); diff != "" {
		t.Errorf("the repair folder (-want +got):\n%s", diff)
	}
	if j := MustRepairJSON(t, out); j.Target != nil || j.Applied || j.DryRun || j.RunID != runID || j.Counts["selected"] != len(want) {
		t.Errorf("repair.json: %+v; want no target, run %s, %d selected", j, runID, len(want))
	}
	for _, args := range [][]string{{"verify", "--state", statePath}, {"verify", out}, {"verify", "--state", statePath, out}} {
		if r := MustRun(t, nil, args...); r.code != 0 {
			t.Errorf("%v: exit %d, want 0\n%s%s", args, r.code, r.stdout, r.stderr)
		}
	}
	// A file changed after the repair is caught: verify looks at repairs.csv.
	tampered := filepath.Join(t.TempDir(), "tampered")
	if err := os.CopyFS(tampered, os.DirFS(out)); err != nil {
		t.Fatal(err)
	}
	b := MustRead(t, filepath.Join(tampered, "repairs.csv"))
	if err := os.WriteFile(filepath.Join(tampered, "repairs.csv"), bytes.Replace(b, []byte(",yes,"), []byte(",no,"), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := MustRun(t, nil, "verify", tampered); r.code != 1 || !strings.Contains(r.stdout, "repairs.csv") {
		t.Errorf("verify of a tampered repairs.csv: exit %d, want 1 naming it\n%s", r.code, r.stdout)
	}

	reps := MustRepairsOf(t, statePath, runID)
	if len(reps) != 1 || reps[0].Applied || reps[0].Target != "" || reps[0].Counts.Selected != len(want) ||
		reps[0].ExitCode == nil || *reps[0].ExitCode != 0 || reps[0].Out != out {
		t.Errorf("runs shows the repairs of %s as %+v; want one, no target, %d selected, exit 0, out %s", runID, reps, len(want), out)
	}
	if found, repaired := MustLostCounts(t, statePath); found != len(want) || repaired != 0 {
		t.Errorf("period report: %d lost responses found, %d repaired; want %d, 0", found, repaired, len(want))
	}
	// A CSV source is never a target.
	if r := MustRepairRun(t, statePath, "last", filepath.Join(base, "csv"), "--target", saved, "--apply"); r.code != 2 || !strings.Contains(MustLastLine(t, r.stderr), "repairs.csv") {
		t.Errorf("repair --target a CSV file: exit %d, stderr %q; want 2 pointing to repairs.csv", r.code, r.stderr)
	}
	if !bytes.Equal(MustRead(t, saved), src.Bytes()) {
		t.Error("the CSV source changed")
	}
}

// hostileValues are results an API might send that a careless writer would
// break on: quotes, separators, spreadsheet formulas, SQL, unicode.
var hostileValues = []string{
	`He said "yes"`,
	`it's`,
	`a;b;c`,
	`=1+1`,
	`+SUM(A1)`,
	`-2+3`,
	`@cmd`,
	`'); DROP TABLE processes; --`,
	`"; DELETE FROM processes WHERE "1"="1`,
	`a,b`,
	`two` + "\n" + `lines`,
	`ação ✓ 日本語 🙂`,
	`\N`,
	`NULL`,
}

// TestRepair_HostileValues: remote results that hold quotes, separators,
// formula prefixes, SQL and unicode reach the table's cells and repairs.csv
// exactly as the API sent them.
func TestRepair_HostileValues(t *testing.T) {
	dir := t.TempDir()
	var api, src bytes.Buffer
	src.WriteString(csvHeader)
	want := map[string][2]string{}
	for i, v := range hostileValues {
		id := fmt.Sprintf("%08x-2222-4000-8000-%012x", i, i)
		fraud := hostileValues[(i+1)%len(hostileValues)]
		fmt.Fprintf(&src, "%s,,,,,,,2026-01-01T00:00:00Z\n", id)
		line, err := json.Marshal(map[string]any{"id": id, "status": 3,
			"unicoId": map[string]any{"result": v}, "identityFraudsters": map[string]any{"result": fraud}})
		if err != nil {
			t.Fatal(err)
		}
		api.Write(append(line, '\n'))
		want[id] = [2]string{v, fraud}
	}
	data, saved := filepath.Join(dir, "processes.jsonl"), filepath.Join(dir, "saved.csv")
	for path, b := range map[string][]byte{data: api.Bytes(), saved: src.Bytes()} {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	_, url := MustSwitchable(t, MustNewSimulator(t, data, simulator.Config{}))
	for _, kind := range repairTargets {
		t.Run(kind, func(t *testing.T) {
			tg := MustRepairTarget(t, kind, saved)
			w := tg.watch(t)
			base := t.TempDir()
			run := filepath.Join(base, "run")
			if r := w.add("run", MustRun(t, credentials, runArgs(tg.target, url, run)...), run); r.code != 1 {
				t.Fatalf("run: exit %d, want 1\n%s", r.code, r.stderr)
			}
			if n := MustSummary(t, run).Counts["lost_response"]; n != len(hostileValues) {
				t.Fatalf("%d lost responses, want %d", n, len(hostileValues))
			}
			out := filepath.Join(base, "repair")
			r := w.add("apply", MustRepairRun(t, filepath.Join(base, "state.db"), "last", out, "--target", tg.target, "--apply"), out)
			if r.code != 0 {
				t.Fatalf("apply: exit %d, want 0\n%s", r.code, r.stderr)
			}
			rows := tg.dump(t, "processes")
			if len(rows) != len(hostileValues) {
				t.Fatalf("the table holds %d rows, want %d: %q", len(rows), len(hostileValues), rows)
			}
			for _, row := range rows {
				res := row.results()
				if w := want[row.pid()]; res[0] != "3" || res[1] != w[0] || res[2] != w[1] {
					t.Errorf("row %s holds %q, %q, %q; want 3, %q, %q", row.pid(), res[0], res[1], res[2], w[0], w[1])
				}
			}
			f, err := os.Open(filepath.Join(out, "repairs.csv"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			recs, err := csv.NewReader(f).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != len(hostileValues)+1 {
				t.Fatalf("repairs.csv has %d records, want a header and %d rows", len(recs), len(hostileValues))
			}
			for _, rec := range recs[1:] {
				if w := want[rec[0]]; rec[1] != "3" || rec[2] != w[0] || rec[3] != w[1] || rec[7] != "2026-01-01T00:00:00Z" {
					t.Errorf("repairs.csv row %q; want %s, 3, %q, %q and the saved_at", rec, rec[0], w[0], w[1])
				}
			}
		})
	}
}

// TestRepair_InterruptedApply: the target refuses the UPDATE of one row of
// the second transaction (a trigger in SQLite, a CHECK constraint in
// PostgreSQL). The repair exits 2; the first transaction's 1,000 rows are
// written, none of the second's; the history records the repair with exit
// code 2 and its changed rows; repairs.csv is not left half-written. Once
// the obstacle is gone, the repair finishes the rest.
func TestRepair_InterruptedApply(t *testing.T) {
	const n, blocked = 1500, 1200 // blocked: a row of the second transaction, from 0
	dir := t.TempDir()
	var api, src bytes.Buffer
	src.WriteString(csvHeader)
	ids := make([]string, n)
	for i := range n {
		ids[i] = fmt.Sprintf("%08x-3333-4000-8000-%012x", i, i)
		fmt.Fprintf(&src, "%s,,,,,,,2026-01-01T00:00:00Z\n", ids[i])
		fmt.Fprintf(&api, `{"id":%q,"status":3,"unicoId":{"result":"yes"},"government":{"serpro":%d},"liveness":%d}`+"\n", ids[i], i%101, 1+i%2)
	}
	data, saved := filepath.Join(dir, "processes.jsonl"), filepath.Join(dir, "saved.csv")
	for path, b := range map[string][]byte{data: api.Bytes(), saved: src.Bytes()} {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	_, url := MustSwitchable(t, MustNewSimulator(t, data, simulator.Config{}))
	for _, kind := range repairTargets {
		t.Run(kind, func(t *testing.T) {
			tg := MustRepairTarget(t, kind, saved)
			w := tg.watch(t)
			base := t.TempDir()
			statePath := filepath.Join(base, "state.db")
			run := filepath.Join(base, "run")
			if r := w.add("run", MustRun(t, credentials, runArgs(tg.target, url, run, "--workers", "32")...), run); r.code != 1 {
				t.Fatalf("run: exit %d, want 1\n%s", r.code, r.stderr)
			}
			runID := MustSummary(t, run).RunID
			lost, want := MustLost(t, run)
			if !slices.Equal(lost, ids) {
				t.Fatalf("the run lists %d lost responses, want all %d in source order", len(lost), n)
			}
			if kind != "postgres" {
				tg.exec(t, `CREATE TRIGGER refuse BEFORE UPDATE ON processes WHEN OLD.process_id = '`+ids[blocked]+`'
					BEGIN SELECT RAISE(ABORT, 'row refused by trigger'); END`)
			} else {
				tg.exec(t, `ALTER TABLE processes ADD CONSTRAINT refuse CHECK (process_id <> '`+ids[blocked]+`' OR status IS NULL)`)
			}
			orig := tg.dump(t, "processes")

			out := filepath.Join(base, "repair")
			r := w.add("apply", MustRepairRun(t, statePath, "last", out, "--target", tg.target, "--apply"), out)
			if r.code != 2 {
				t.Fatalf("apply: exit %d, want 2\n%s", r.code, r.stderr)
			}
			if line := MustLastLine(t, r.stderr); !strings.Contains(line, ids[blocked]) && !strings.Contains(line, "refuse") {
				t.Errorf("the error %q names neither the process nor the refusal", line)
			} else if want := "stopped: "; !strings.Contains(line, want) || strings.Contains(line, "write ") ||
				!strings.Contains(line, "1000 rows changed in the 1 transaction committed before") {
				t.Errorf("the error %q does not say the repair stopped and what its committed transaction changed", line)
			}
			after := tg.dump(t, "processes")
			firstBatch := map[string][]string{}
			for _, id := range ids[:1000] {
				firstBatch[id] = want[id]
			}
			MustRepaired(t, orig, after, firstBatch) // and the second batch's rows as they were
			if names := MustReadDirNames(t, out); slices.Contains(names, "repairs.csv") || slices.Contains(names, "manifest.json") ||
				slices.ContainsFunc(names, func(s string) bool { return strings.Contains(s, ".tmp") }) {
				t.Errorf("the interrupted repair left %q in its folder; want no repairs.csv, no manifest, no temporary file", names)
			}
			reps := MustRepairsOf(t, statePath, runID)
			if len(reps) != 1 || reps[0].ExitCode == nil || *reps[0].ExitCode != 2 || reps[0].Counts.Changed != 1000 ||
				reps[0].Counts.Selected != 1000 || !reps[0].Applied {
				t.Errorf("runs shows the repairs as %+v; want one applied, exit 2, 1000 selected and changed (the batch rolled back is not counted)", reps)
			}
			if _, repaired := MustLostCounts(t, statePath); repaired != 1000 {
				t.Errorf("period report: %d lost responses repaired, want the 1000 committed", repaired)
			}
			if r := MustRun(t, nil, "verify", "--state", statePath); r.code != 0 {
				t.Errorf("verify --state after the interrupted repair: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}

			// Without the obstacle, the same repair finishes the rest.
			if kind != "postgres" {
				tg.exec(t, "DROP TRIGGER refuse")
			} else {
				tg.exec(t, "ALTER TABLE processes DROP CONSTRAINT refuse")
			}
			r = w.add("apply again", MustRepairRun(t, statePath, "last", out, "--target", tg.target, "--apply"), out)
			if r.code != 0 {
				t.Fatalf("apply after the obstacle is gone: exit %d, want 0\n%s", r.code, r.stderr)
			}
			MustRepaired(t, orig, tg.dump(t, "processes"), want)
			if c := MustRepairJSON(t, out).Counts; c["changed"] != n-1000 || c["done"] != 1000 {
				t.Errorf("counts of the second apply %v; want %d changed, 1000 done", c, n-1000)
			}
			if _, repaired := MustLostCounts(t, statePath); repaired != n {
				t.Errorf("period report: %d lost responses repaired, want %d", repaired, n)
			}
		})
	}
}

// TestRepair_ColumnMapping: a table of another name, with a space and a
// quote in it, whose status column is result_status and whose unico result
// column's name has a space and a quote too, read by a run with --query. The
// repair needs --table and --column status=result_status (and the other);
// without the mapping it stops with one line naming the missing column.
func TestRepair_ColumnMapping(t *testing.T) {
	const table, column = `odd "name" table`, `unico "id" result`
	quoted, quotedColumn := `"odd ""name"" table"`, `"unico ""id"" result"`
	query := `SELECT process_id, result_status AS status, ` + quotedColumn + ` AS unico_id_result, identity_fraudsters_result,
		serpro_score, liveness, score, saved_at FROM ` + quoted + ` ORDER BY id`
	dir := t.TempDir()
	data, saved := MustRepairDataset(t, dir, 30)
	_, url := MustSwitchable(t, MustNewSimulator(t, data, simulator.Config{}))
	mapped := []string{"result_status", quotedColumn, "identity_fraudsters_result", "serpro_score", "liveness", "score"}
	mapping := []string{"--column", "status=result_status", "--column", "unico_id_result=" + column}
	for _, kind := range repairTargets {
		t.Run(kind, func(t *testing.T) {
			tg := MustRepairTarget(t, kind, saved)
			w := tg.watch(t)
			tg.exec(t, "ALTER TABLE processes RENAME COLUMN status TO result_status",
				"ALTER TABLE processes RENAME COLUMN unico_id_result TO "+quotedColumn, "ALTER TABLE processes RENAME TO "+quoted)
			base := t.TempDir()
			statePath := filepath.Join(base, "state.db")
			run := filepath.Join(base, "run")
			if r := w.add("run", MustRun(t, credentials, runArgs(tg.target, url, run, "--query", query)...), run); r.code != 1 {
				t.Fatalf("run: exit %d, want 1\n%s", r.code, r.stderr)
			}
			_, want := MustLost(t, run)
			orig := tg.dump(t, quoted, mapped...)

			for _, tt := range []struct {
				name  string
				extra []string
				want  string // a part of the one-line error
			}{
				{"NoMapping", []string{"--table", table}, `"status"`},
				{"HalfMapping", []string{"--table", table, "--column", "status=result_status"}, `"unico_id_result"`},
				{"DefaultTable", append([]string{}, mapping...), "processes"},
				{"InjectedTable", append([]string{"--table", "processes; DROP TABLE processes"}, mapping...), "DROP TABLE"},
				{"UnknownColumn", []string{"--table", table, "--column", "status=nosuch"}, "nosuch"},
			} {
				t.Run(tt.name, func(t *testing.T) {
					out := filepath.Join(t.TempDir(), "repair")
					r := w.add(tt.name, MustRepairRun(t, statePath, "last", out, append([]string{"--target", tg.target, "--apply"}, tt.extra...)...), out)
					line := MustLastLine(t, r.stderr)
					if r.code != 2 || !strings.Contains(line, tt.want) || !strings.HasPrefix(line, "unico-reconcile: ") {
						t.Errorf("exit %d, stderr ends %q; want 2 and one line naming %s\n%s", r.code, line, tt.want, r.stderr)
					}
					if diff := cmp.Diff(orig, tg.dump(t, quoted, mapped...)); diff != "" {
						t.Errorf("the refused repair changed the table:\n%s", diff)
					}
				})
			}

			out := filepath.Join(base, "repair")
			r := w.add("apply", MustRepairRun(t, statePath, "last", out, append([]string{"--target", tg.target, "--apply", "--table", table}, mapping...)...), out)
			if r.code != 0 {
				t.Fatalf("apply with the mapping: exit %d, want 0\n%s", r.code, r.stderr)
			}
			MustRepaired(t, orig, tg.dump(t, quoted, mapped...), want)
			if c := MustRepairJSON(t, out).Counts; c["changed"] != len(want) {
				t.Errorf("repair.json counts %v, want %d changed", c, len(want))
			}
			// The new run with the same query finds no lost response.
			again := filepath.Join(base, "run2")
			if r := w.add("run2", MustRun(t, credentials, runArgs(tg.target, url, again, "--query", query)...), again); r.code != 1 {
				t.Fatalf("second run: exit %d, want 1\n%s", r.code, r.stderr)
			}
			if n := MustSummary(t, again).Counts["lost_response"]; n != 0 {
				t.Errorf("%d lost responses after the repair, want 0", n)
			}
		})
	}
}

// TestRepair_PostgresErrorsNoSecret: a PostgreSQL target that cannot be
// reached or whose table is missing stops the repair with one line that
// never shows the password.
func TestRepair_PostgresErrorsNoSecret(t *testing.T) {
	dir := t.TempDir()
	data, saved := MustRepairDataset(t, dir, 20)
	tg := MustRepairTarget(t, "postgres", saved)
	w := tg.watch(t)
	_, url := MustSwitchable(t, MustNewSimulator(t, data, simulator.Config{}))
	base := t.TempDir()
	statePath := filepath.Join(base, "state.db")
	run := filepath.Join(base, "run")
	if r := w.add("run", MustRun(t, credentials, runArgs(tg.target, url, run)...), run); r.code != 1 {
		t.Fatalf("run: exit %d, want 1\n%s", r.code, r.stderr)
	}
	unreachable := "postgres://" + tg.role + ":" + tg.secret + "@127.0.0.1:1/db?connect_timeout=5&sslmode=disable"
	for _, tt := range []struct {
		name  string
		extra []string
		want  string
	}{
		{"Unreachable", []string{"--target", unreachable}, "connect"},
		{"NoTable", []string{"--target", tg.target, "--table", "nosuch"}, "nosuch"},
		{"WrongPassword", []string{"--target", pgtest.As(tg.target, tg.role, tg.secret+"x")}, tg.role},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "repair")
			r := w.add(tt.name, MustRepairRun(t, statePath, "last", out, append(tt.extra, "--apply")...), out)
			if line := MustLastLine(t, r.stderr); r.code != 2 || !strings.Contains(line, tt.want) {
				t.Errorf("exit %d, stderr ends %q; want 2 and a line naming %q", r.code, line, tt.want)
			}
		})
	}
}

// TestRepair_Kinds: result_mismatch and status_mismatch are written back
// only when named; then a new run finds neither, and still finds the lost
// responses, which were not selected.
func TestRepair_Kinds(t *testing.T) {
	dir := t.TempDir()
	data, saved := MustRepairDataset(t, dir, 40)
	_, url := MustSwitchable(t, MustNewSimulator(t, data, simulator.Config{}))
	for _, kind := range repairTargets {
		t.Run(kind, func(t *testing.T) {
			tg := MustRepairTarget(t, kind, saved)
			w := tg.watch(t)
			base := t.TempDir()
			statePath := filepath.Join(base, "state.db")
			run := filepath.Join(base, "run")
			if r := w.add("run", MustRun(t, credentials, runArgs(tg.target, url, run)...), run); r.code != 1 {
				t.Fatalf("run: exit %d, want 1\n%s", r.code, r.stderr)
			}
			want := map[string][]string{}
			for _, l := range MustListed(t, run) {
				if l.Kind == "result_mismatch" || l.Kind == "status_mismatch" {
					want[l.pid()] = l.Remote.cells()
				}
			}
			if len(want) != 8 {
				t.Fatalf("%d mismatches, want 8 (two in ten rows)", len(want))
			}
			orig := tg.dump(t, "processes")
			out := filepath.Join(base, "repair")
			r := w.add("apply", MustRepairRun(t, statePath, "last", out, "--target", tg.target, "--apply",
				"--kinds", "result_mismatch,status_mismatch"), out)
			if r.code != 0 {
				t.Fatalf("apply: exit %d, want 0\n%s", r.code, r.stderr)
			}
			MustRepaired(t, orig, tg.dump(t, "processes"), want)
			if got := len(MustCSV(t, filepath.Join(out, "repairs.csv"))) - 1; got != len(want) {
				t.Errorf("repairs.csv has %d rows, want %d", got, len(want))
			}
			again := filepath.Join(base, "run2")
			if r := w.add("run2", MustRun(t, credentials, runArgs(tg.target, url, again)...), again); r.code != 1 {
				t.Fatalf("second run: exit %d, want 1\n%s", r.code, r.stderr)
			}
			c := MustSummary(t, again).Counts
			if c["result_mismatch"] != 0 || c["status_mismatch"] != 0 || c["lost_response"] != 4 {
				t.Errorf("second run counts %v; want no mismatch, the 4 lost responses", c)
			}
		})
	}
	r := MustRun(t, nil, "repair", "--state", filepath.Join(t.TempDir(), "state.db"), "--run", "last", "--out", t.TempDir(), "--kinds", "not_found")
	if line := MustLastLine(t, r.stderr); r.code != 2 || !strings.Contains(line, "not_found") {
		t.Errorf("--kinds not_found: exit %d, stderr %q; want 2 naming the kind", r.code, r.stderr)
	}
}

// TestRepair_SignalDuringApply stops an apply with SIGTERM while its second
// transaction waits for a row that another PostgreSQL session holds locked:
// the first transaction's 1,000 rows stay written, the second's are rolled
// back whole, the repair exits 2 and the history records it with its
// changed rows. (The lock makes the moment certain; a SQLite file has no
// row locks to hold, its whole transactions are proved by
// TestRepair_InterruptedApply's trigger.)
func TestRepair_SignalDuringApply(t *testing.T) {
	const n, locked = 1500, 1200
	dir := t.TempDir()
	var api, src bytes.Buffer
	src.WriteString(csvHeader)
	ids := make([]string, n)
	for i := range n {
		ids[i] = fmt.Sprintf("%08x-4444-4000-8000-%012x", i, i)
		fmt.Fprintf(&src, "%s,,,,,,,2026-01-01T00:00:00Z\n", ids[i])
		fmt.Fprintf(&api, `{"id":%q,"status":3,"unicoId":{"result":"no"},"liveness":%d}`+"\n", ids[i], 1+i%2)
	}
	data, saved := filepath.Join(dir, "processes.jsonl"), filepath.Join(dir, "saved.csv")
	for path, b := range map[string][]byte{data: api.Bytes(), saved: src.Bytes()} {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tg := MustRepairTarget(t, "postgres", saved)
	w := tg.watch(t)
	_, url := MustSwitchable(t, MustNewSimulator(t, data, simulator.Config{}))
	base := t.TempDir()
	statePath := filepath.Join(base, "state.db")
	run := filepath.Join(base, "run")
	if r := w.add("run", MustRun(t, credentials, runArgs(tg.target, url, run, "--workers", "32")...), run); r.code != 1 {
		t.Fatalf("run: exit %d, want 1\n%s", r.code, r.stderr)
	}
	runID := MustSummary(t, run).RunID
	_, want := MustLost(t, run)
	orig := tg.dump(t, "processes")

	holder := tg.open(t)
	defer holder.Close()
	tx, err := holder.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec("SELECT 1 FROM processes WHERE process_id = $1 FOR UPDATE", ids[locked]); err != nil {
		t.Fatal(err)
	}

	out := filepath.Join(base, "repair")
	cmd := command(t, nil, "--log-format", "json", "repair", "--state", statePath, "--run", "last", "--out", out,
		"--target", tg.target, "--apply")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	// Wait for the repair to wait for the lock: in its second transaction,
	// once the first is committed.
	watcher := tg.open(t)
	defer watcher.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var waiting int
		// pg_locks and these columns of pg_stat_activity are visible to
		// any role.
		if err := watcher.QueryRow(`SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
			WHERE NOT l.granted AND a.datname = current_database()`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s, the repair does not wait for the locked row\n%s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	w.add("apply", result{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}, out)
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if code := cmd.ProcessState.ExitCode(); code != 2 {
		t.Errorf("apply stopped by SIGTERM: exit %d, want 2\n%s", code, stderr.String())
	}
	if line := MustLastLine(t, stderr.String()); !strings.Contains(line, "interrupted: ") ||
		!strings.Contains(line, "1000 rows changed in the 1 transaction committed before") {
		t.Errorf("the error %q does not say the repair was interrupted and what its committed transaction changed", line)
	}
	firstBatch := map[string][]string{}
	for _, id := range ids[:1000] {
		firstBatch[id] = want[id]
	}
	MustRepaired(t, orig, tg.dump(t, "processes"), firstBatch)
	if names := MustReadDirNames(t, out); slices.Contains(names, "repairs.csv") || slices.Contains(names, "manifest.json") {
		t.Errorf("the stopped repair left %q in its folder; want no repairs.csv, no manifest", names)
	}
	reps := MustRepairsOf(t, statePath, runID)
	if len(reps) != 1 || reps[0].ExitCode == nil || *reps[0].ExitCode != 2 || reps[0].Counts.Changed != 1000 {
		t.Errorf("runs shows the repairs as %+v; want one, exit 2, 1000 changed", reps)
	}
}
