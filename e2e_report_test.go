package main

import (
	"bytes"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/unico-reconcile/unico-reconcile/job"
	"github.com/unico-reconcile/unico-reconcile/simulator"
)

// reportFiles are the files of a run's folder.
var reportFiles = []string{"discrepancies.csv", "discrepancies.jsonl", "manifest.json", "report.html", "summary.json"}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

type manifestFile struct {
	RunID    string          `json:"run_id"`
	Params   json.RawMessage `json:"parameters"`
	Previous *string         `json:"previous_manifest_sha256"`
	Files    []struct {
		Name string `json:"name"`
	} `json:"files"`
}

func MustManifest(tb testing.TB, dir string) manifestFile {
	tb.Helper()
	var m manifestFile
	if err := json.Unmarshal(MustRead(tb, filepath.Join(dir, "manifest.json")), &m); err != nil {
		tb.Fatal(err)
	}
	return m
}

// MustChainedRuns runs the job n times over one dataset into base/run0...
// with one run history, base/state.db, and returns the folders.
func MustChainedRuns(tb testing.TB, base string, n int) []string {
	tb.Helper()
	data, saved, _ := MustDataset(tb, tb.TempDir(), 100)
	_, url := MustSwitchable(tb, MustNewSimulator(tb, data, simulator.Config{}))
	var dirs []string
	for i := range n {
		out := filepath.Join(base, fmt.Sprint("run", i))
		if r := MustRun(tb, credentials, runArgs(saved, url, out)...); r.code != 1 {
			tb.Fatalf("run %d: exit %d\n%s", i, r.code, r.stderr)
		}
		dirs = append(dirs, out)
	}
	return dirs
}

// TestRun_ReportAndManifest checks that every run writes report.html and a
// manifest.json chained to the previous run's, that `report --run` writes
// all five files again byte for byte, and that verify passes them.
func TestRun_ReportAndManifest(t *testing.T) {
	base := t.TempDir()
	dirs := MustChainedRuns(t, base, 3)
	statePath := filepath.Join(base, "state.db")
	prev := ""
	for i, dir := range dirs {
		MustNoTempFiles(t, dir)
		m := MustManifest(t, dir)
		s := MustSummary(t, dir)
		if m.RunID != s.RunID || len(m.Files) != 4 || !bytes.Contains(m.Params, []byte(`"workers": 16`)) {
			t.Errorf("run %d: manifest %+v", i, m)
		}
		// The manifest vouches for the input too: the source's SHA-256.
		if want := `"source_sha256": "` + sha256Hex(MustRead(t, s.Source)) + `"`; !bytes.Contains(m.Params, []byte(want)) {
			t.Errorf("run %d: manifest parameters lack %s:\n%s", i, want, m.Params)
		}
		var got string
		if m.Previous != nil {
			got = *m.Previous
		}
		if got != prev {
			t.Errorf("run %d: previous_manifest_sha256 %q, want %q (the previous run's manifest)", i, got, prev)
		}
		prev = sha256Hex(MustRead(t, filepath.Join(dir, "manifest.json")))

		page := string(MustRead(t, filepath.Join(dir, "report.html")))
		login, host := job.Runner()
		for _, want := range []string{s.RunID, login + " on " + host, "custom", s.Source,
			sha256Hex(MustRead(t, s.Source)), `data-kind="total"`} {
			if !strings.Contains(page, want) {
				t.Errorf("run %d: report.html lacks %q", i, want)
			}
		}
		r := MustRun(t, nil, "verify", dir)
		if r.code != 0 || !strings.HasPrefix(r.stdout, "OK: ") || strings.Count(r.stdout, "\n") != 1 {
			t.Errorf("verify %s: exit %d, stdout %q", dir, r.code, r.stdout)
		}
	}
	for i, id := range []string{MustSummary(t, dirs[0]).RunID, "last"} {
		again := filepath.Join(t.TempDir(), "again")
		if r := MustRun(t, nil, "report", "--state", statePath, "--run", id, "--out", again); r.code != 0 {
			t.Fatalf("report --run %s: exit %d\n%s", id, r.code, r.stderr)
		}
		orig := dirs[[]int{0, 2}[i]]
		for _, name := range reportFiles {
			if !bytes.Equal(MustRead(t, filepath.Join(again, name)), MustRead(t, filepath.Join(orig, name))) {
				t.Errorf("report --run %s: %s differs from the one the run wrote", id, name)
			}
		}
		if r := MustRun(t, nil, "verify", "--state", statePath, again); r.code != 0 {
			t.Errorf("verify --state of the rewritten folder: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	}
	r := MustRun(t, nil, "verify", "--state", statePath)
	if r.code != 0 || !strings.Contains(r.stdout, "OK: 3 manifests chained, head "+prev+"; 3 report folders match") {
		t.Errorf("verify --state: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestVerify_Tampering alters a chain of three runs in every way an
// auditor must catch and checks that verify exits 1 naming the file or
// the run, and 2 on a usage error.
func TestVerify_Tampering(t *testing.T) {
	for _, tt := range []struct {
		name   string
		tamper func(t *testing.T, dirs []string, db *sql.DB, ids []string)
		folder int    // the folder `verify DIR` checks, -1 for none
		want   string // in verify --state's output
	}{
		{"ChangedByte", func(t *testing.T, dirs []string, _ *sql.DB, _ []string) {
			path := filepath.Join(dirs[1], "discrepancies.jsonl")
			b := MustRead(t, path)
			b[len(b)/2] ^= 0x20
			MustWriteFile(t, path, b)
		}, 1, "discrepancies.jsonl: changed"},
		{"RemovedFile", func(t *testing.T, dirs []string, _ *sql.DB, _ []string) {
			os.Remove(filepath.Join(dirs[1], "report.html"))
		}, 1, "report.html: missing"},
		{"ExtraFile", func(t *testing.T, dirs []string, _ *sql.DB, _ []string) {
			MustWriteFile(t, filepath.Join(dirs[0], "discrepancies.old.csv"), []byte("x"))
		}, 0, "discrepancies.old.csv: not in the manifest"},
		{"SwappedManifest", func(t *testing.T, dirs []string, _ *sql.DB, _ []string) {
			MustWriteFile(t, filepath.Join(dirs[1], "manifest.json"), MustRead(t, filepath.Join(dirs[2], "manifest.json")))
		}, 1, "is not the manifest the chain holds"},
		{"RunRemoved", func(t *testing.T, _ []string, db *sql.DB, ids []string) {
			MustExec(t, db, "DELETE FROM runs WHERE id = ?", ids[1])
		}, -1, "a run was removed or reordered"},
		{"Reordered", func(t *testing.T, _ []string, db *sql.DB, _ []string) {
			MustExec(t, db, "UPDATE manifests SET seq = -seq WHERE seq IN (1, 2)")
			MustExec(t, db, "UPDATE manifests SET seq = 3 + seq WHERE seq IN (-1, -2)")
		}, -1, "a run was removed or reordered"},
		{"LastLinkRemoved", func(t *testing.T, _ []string, db *sql.DB, ids []string) {
			MustExec(t, db, "DELETE FROM manifests WHERE seq = 3")
		}, -1, "wrote its reports, but its manifest is not in the chain"},
		{"ManifestEdited", func(t *testing.T, _ []string, db *sql.DB, _ []string) {
			MustExec(t, db, `UPDATE manifests SET data = replace(data, '"workers": 16', '"workers": 1') WHERE seq = 2`)
		}, -1, "the stored manifest's sha256 is"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			base := t.TempDir()
			dirs := MustChainedRuns(t, base, 3)
			statePath := filepath.Join(base, "state.db")
			var ids []string
			for _, d := range dirs {
				ids = append(ids, MustSummary(t, d).RunID)
			}
			db, err := sql.Open("sqlite3", "file:"+statePath+"?_foreign_keys=1")
			if err != nil {
				t.Fatal(err)
			}
			tt.tamper(t, dirs, db, ids)
			db.Close()
			r := MustRun(t, nil, "verify", "--state", statePath)
			if r.code != 1 || !strings.Contains(r.stdout, tt.want) || !strings.HasPrefix(r.stdout, "FAIL ") {
				t.Errorf("verify --state: exit %d, stdout %q; want 1 and %q", r.code, r.stdout, tt.want)
			}
			if tt.folder >= 0 {
				r := MustRun(t, nil, "verify", dirs[tt.folder])
				if r.code != 1 || !strings.Contains(r.stdout, tt.want) && tt.name != "SwappedManifest" {
					t.Errorf("verify %s: exit %d, stdout %q; want 1 and %q", dirs[tt.folder], r.code, r.stdout, tt.want)
				}
			}
		})
	}
	t.Run("Usage", func(t *testing.T) {
		for _, args := range [][]string{{"verify"}, {"verify", "--state", filepath.Join(t.TempDir(), "none.db")}} {
			if r := MustRun(t, nil, args...); r.code != 2 || r.stderr == "" {
				t.Errorf("%v: exit %d, stderr %q; want 2 and a message", args, r.code, r.stderr)
			}
		}
	})
}

func MustWriteFile(tb testing.TB, path string, b []byte) {
	tb.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		tb.Fatal(err)
	}
}

func MustExec(tb testing.TB, db *sql.DB, q string, args ...any) {
	tb.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		tb.Fatalf("%s: %v", q, err)
	}
}

// TestReport_Period runs a night through an outage, then a re-check, and
// writes the period report over both: every discrepancy of the re-check is
// open, every process the outage left unverified and the re-check found a
// match is resolved, each process is checked once, and with --source the
// rows saved in the period that no run checked are listed.
func TestReport_Period(t *testing.T) {
	dir := t.TempDir()
	data, saved, fetchable := MustDataset(t, dir, 300)
	sw, url := MustSwitchable(t, MustNewSimulator(t, data, simulator.Config{ErrorRate: 0.35, Seed: 3}))
	base := t.TempDir()
	night := filepath.Join(base, "night")
	if r := MustRun(t, credentials, runArgs(saved, url, night, "--max-retries", "0")...); r.code != 3 {
		t.Fatalf("run during the outage: exit %d\n%s", r.code, r.stderr)
	}
	sw.cur.Store(MustNewSimulator(t, data, simulator.Config{}))
	recheck := filepath.Join(base, "recheck")
	if r := MustRun(t, credentials, "--log-format", "json", "run", "--recheck", "last", "--state", filepath.Join(base, "state.db"),
		"--out", recheck, "--rate", "0", "--retry-base", "5ms"); r.code != 1 {
		t.Fatalf("recheck: exit %d\n%s", r.code, r.stderr)
	}
	open := map[string]bool{}
	for _, rec := range MustCSV(t, filepath.Join(recheck, "discrepancies.csv"))[1:] {
		open[rec[0]+"/"+rec[1]] = true
	}
	resolved := 0
	for _, rec := range MustCSV(t, filepath.Join(night, "discrepancies.csv"))[1:] {
		if rec[1] == "unverified" && !strings.Contains(string(MustRead(t, filepath.Join(recheck, "discrepancies.csv"))), rec[0]) {
			resolved++
		}
	}

	// The source the period looks at: the saved rows, three more saved in
	// the period and never checked, and one saved before it.
	source := filepath.Join(dir, "saved-more.csv")
	more := string(MustRead(t, saved)) +
		"aaaaaaaa-0000-4000-8000-000000000001,3,yes,,,,,2026-02-01T00:00:00Z\n" +
		"aaaaaaaa-0000-4000-8000-000000000002,3,yes,,,,,2026-02-02T00:00:00Z\n" +
		"aaaaaaaa-0000-4000-8000-000000000003,,,,,,,2026-02-03T10:00:00-03:00\n" +
		"aaaaaaaa-0000-4000-8000-000000000004,3,yes,,,,,2019-12-31T23:59:59Z\n"
	MustWriteFile(t, source, []byte(more))
	out := filepath.Join(t.TempDir(), "period")
	r := MustRun(t, nil, "report", "--state", filepath.Join(base, "state.db"), "--from", "2020-01-01", "--to", "2100-01-01",
		"--source", source, "--out", out)
	if r.code != 0 {
		t.Fatalf("report --from --to: exit %d\n%s", r.code, r.stderr)
	}
	var p struct {
		Runs []struct {
			RunID          string `json:"run_id"`
			ManifestSHA256 string `json:"manifest_sha256"`
		} `json:"runs"`
		Checked      map[string]int `json:"checked"`
		Open         map[string]int `json:"open"`
		Resolved     int            `json:"resolved"`
		NeverChecked *int           `json:"never_checked"`
	}
	if err := json.Unmarshal(MustRead(t, filepath.Join(out, "period.json")), &p); err != nil {
		t.Fatal(err)
	}
	if len(p.Runs) != 2 || p.Runs[0].RunID != MustSummary(t, night).RunID ||
		p.Runs[1].ManifestSHA256 != sha256Hex(MustRead(t, filepath.Join(recheck, "manifest.json"))) {
		t.Errorf("runs %+v, want the night and the re-check with their manifests' sha256", p.Runs)
	}
	if got, want := p.Checked["total"], fetchable; got != want {
		t.Errorf("checked %d processes, want %d (each once)", got, want)
	}
	if p.Checked["unverified"] != 0 {
		t.Errorf("checked: %d unverified, want 0: the re-check's answers are the latest", p.Checked["unverified"])
	}
	if got, want := p.Open["total"], len(open); got != want {
		t.Errorf("%d open, want %d (the re-check's discrepancies)", got, want)
	}
	if p.Resolved != resolved || resolved == 0 {
		t.Errorf("%d resolved, want %d (unverified in the night, matched in the re-check)", p.Resolved, resolved)
	}
	if p.NeverChecked == nil || *p.NeverChecked != 3 {
		t.Errorf("never_checked %v, want 3", p.NeverChecked)
	}
	rows := MustCSV(t, filepath.Join(out, "discrepancies.csv"))
	states := map[string]int{}
	for _, rec := range rows[1:] {
		states[rec[1]]++
		if rec[1] == "open" && !open[rec[0]+"/"+rec[2]] {
			t.Errorf("open row %v is not among the re-check's discrepancies", rec)
		}
	}
	if states["open"] != len(open) || states["resolved"] != resolved {
		t.Errorf("discrepancies.csv: %v, want %d open and %d resolved", states, len(open), resolved)
	}
	unchecked := MustCSV(t, filepath.Join(out, "unchecked.csv"))
	if len(unchecked) != 4 || unchecked[3][0] != "aaaaaaaa-0000-4000-8000-000000000003" || unchecked[3][2] != "2026-02-03T13:00:00Z" {
		t.Errorf("unchecked.csv: %q", unchecked)
	}
	if r := MustRun(t, nil, "verify", out); r.code != 0 {
		t.Errorf("verify of the period report: exit %d\n%s", r.code, r.stdout)
	}
	for _, args := range [][]string{
		{"--from", "2026-01-01", "--out", out},
		{"--from", "2026-02-01", "--to", "2026-01-01", "--out", out},
		{"--run", "last", "--from", "2026-01-01", "--to", "2026-02-01", "--out", out},
		{"--run", "last", "--source", source, "--out", out},
	} {
		r := MustRun(t, nil, append([]string{"report", "--state", filepath.Join(base, "state.db")}, args...)...)
		if r.code != 2 {
			t.Errorf("report %v: exit %d, want 2\n%s", args, r.code, r.stderr)
		}
	}
}
