package job_test

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/mattn/go-sqlite3"

	"github.com/unico-reconcile/unico-reconcile/internal/csvtest"
	"github.com/unico-reconcile/unico-reconcile/job"
	"github.com/unico-reconcile/unico-reconcile/reconcile"
	"github.com/unico-reconcile/unico-reconcile/simulator"
)

var sqliteDialect = csvtest.Dialect{
	ID:   "id INTEGER PRIMARY KEY",
	Type: func(string) string { return "" },
	Mark: func(int) string { return "?" },
}

// TestRepair_Missing: a lost response whose row left the table since the
// run is counted missing and not applied: exit 1. The others apply.
func TestRepair_Missing(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	csvPath, dbPath := filepath.Join(dir, "saved.csv"), filepath.Join(dir, "app.db")
	lost2 := "44444444-4444-4444-8444-444444444444"
	if err := os.WriteFile(csvPath, []byte(saved+lost2+",1,,,,,,2026-11-01T13:00:00Z\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite3", dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	csvtest.MustLoad(t, db, csvPath, sqliteDialect)

	data, err := simulator.Load(strings.NewReader(apiData + `{"id":"` + lost2 + `","status":4}` + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	root, _ := MustAPI(t, simulator.New(data, simulator.Config{}))
	o := options(dir, root, "run")
	o.Source = "sqlite:" + dbPath
	sum, err := job.Run(ctx, o)
	if err != nil || sum.Counts[reconcile.LostResponse] != 2 {
		t.Fatalf("run: %v, %v: want 2 lost responses", err, sum.Counts)
	}
	if _, err := db.Exec("DELETE FROM processes WHERE process_id = ?", idLost); err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	res, err := job.Repair(ctx, job.RepairOptions{State: o.State, Run: "last", Out: filepath.Join(dir, "repair"),
		Target: "sqlite:" + dbPath, Apply: true, Stdout: &stdout})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 1 || res.Counts.Missing != 1 || res.Counts.Changed != 1 || res.Counts.Selected != 2 {
		t.Errorf("repair: %+v; want exit 1, 1 missing, 1 changed", res)
	}
	if !strings.Contains(stdout.String(), "1 missing") {
		t.Errorf("stdout does not say a row was missing:\n%s", stdout.String())
	}
	var status int
	if err := db.QueryRow("SELECT status FROM processes WHERE process_id = ?", lost2).Scan(&status); err != nil || status != 4 {
		t.Errorf("the other lost response: status %d, %v; want 4", status, err)
	}
}
