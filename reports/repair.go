package reports

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"

	"github.com/unico-reconcile/unico-reconcile/internal/redact"
	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

// A repair's folder: repairs.csv, repair.json, conflicts.csv when rows had
// changed since the run, and manifest.json (KindRepair).
const (
	RepairsName   = "repairs.csv"
	RepairName    = "repair.json"
	ConflictsName = "conflicts.csv"
)

// repairsHeader is repairs.csv's header: the contract's input columns, in
// the contract's order, so that the file imports as a source.
var repairsHeader = []string{
	"process_id", "status", "unico_id_result", "identity_fraudsters_result",
	"serpro_score", "liveness", "score", "saved_at",
}

// RemoteOutcome is the outcome a repair writes for a process the API
// answered with r: its status and results as the API gave them, and for a
// 410 (Gone) status 5 with no result, as the comparison reads a 410.
func RemoteOutcome(r *reconcile.Remote) reconcile.Outcome {
	if r.Gone {
		return reconcile.Outcome{Status: reconcile.StatusError}
	}
	return r.Outcome
}

// outcomeCells formats o's six value columns (status to score) as a CSV
// source parses them back: empty for an absent value, integers in
// decimal, a score as the shortest decimal that reads back the same (no
// exponent). A score that is not finite has no such form: an error.
func outcomeCells(o reconcile.Outcome) ([]string, error) {
	cells := []string{o.Status.String(), o.UnicoID, o.IdentityFraudsters, "", "", ""}
	if o.Serpro != nil {
		cells[3] = strconv.Itoa(*o.Serpro)
	}
	if o.Liveness != nil {
		cells[4] = strconv.Itoa(*o.Liveness)
	}
	if o.Score != nil {
		f := *o.Score
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("score %v is not a finite number", f)
		}
		cells[5] = strconv.FormatFloat(f, 'f', -1, 64)
	}
	return cells, nil
}

// RepairsCSVWriter writes repairs.csv: the input's own columns (the
// contract's "Local outcomes") with, for each repaired process, the remote
// outcome, ready to import. It is an import file, not a page: every value is
// written exactly as the API gave it, CSV-quoted where needed but never
// prefixed against spreadsheet formulas, so that the project's CSV source
// reads each value back unchanged; the one exception is a CR LF inside a
// value, which Go's CSV reader reads as LF (a value with control bytes is
// not a valid input anyway).
type RepairsCSVWriter struct{ w *csv.Writer }

// NewRepairsCSVWriter writes the header to w.
func NewRepairsCSVWriter(w io.Writer) (*RepairsCSVWriter, error) {
	cw := &RepairsCSVWriter{w: csv.NewWriter(w)}
	if err := cw.w.Write(repairsHeader); err != nil {
		return nil, err
	}
	return cw, nil
}

// Write writes d's row: d.Local's process id, RemoteOutcome(d.Remote), and
// d.Local's saved_at in RFC 3339 with its offset and fraction (empty when
// unknown). A discrepancy without a remote answer, or whose score is not
// finite, is an error naming the process, and nothing is written.
func (cw *RepairsCSVWriter) Write(d reconcile.Discrepancy) error {
	if d.Remote == nil {
		return fmt.Errorf("%s: process %s has no remote outcome to write", RepairsName, d.Local.ProcessID)
	}
	cells, err := outcomeCells(RemoteOutcome(d.Remote))
	if err != nil {
		return fmt.Errorf("%s: process %s: %w", RepairsName, d.Local.ProcessID, err)
	}
	saved := ""
	if !d.Local.SavedAt.IsZero() {
		saved = d.Local.SavedAt.Format(time.RFC3339Nano)
	}
	rec := make([]string, 0, len(repairsHeader))
	rec = append(rec, d.Local.ProcessID)
	rec = append(rec, cells...)
	rec = append(rec, saved)
	return cw.w.Write(rec)
}

// Close flushes and returns the first error met.
func (cw *RepairsCSVWriter) Close() error {
	cw.w.Flush()
	return cw.w.Error()
}

// Conflict is a row that changed between the run and its repair: the
// repair left it alone.
type Conflict struct {
	ProcessID string
	Seen      reconcile.Outcome // the values the run saw in the row
	Now       reconcile.Outcome // the values the row holds now
	Remote    reconcile.Outcome // what the repair would have written (RemoteOutcome)
}

// valueColumns are the input's value columns, status to score, that
// conflicts.csv shows three times.
var valueColumns = repairsHeader[1:7]

// ConflictsCSVWriter writes conflicts.csv: one row per conflict, with the
// process id, then the six value columns as the run saw them (run_*), as
// the row holds them now (now_*) and as the API gave them (remote_*). It is
// a file for people: cells are neutralised as in discrepancies.csv.
type ConflictsCSVWriter struct{ w *csv.Writer }

// NewConflictsCSVWriter writes the header to w.
func NewConflictsCSVWriter(w io.Writer) (*ConflictsCSVWriter, error) {
	header := []string{"process_id"}
	for _, side := range []string{"run_", "now_", "remote_"} {
		for _, c := range valueColumns {
			header = append(header, side+c)
		}
	}
	cw := &ConflictsCSVWriter{w: csv.NewWriter(w)}
	if err := cw.w.Write(header); err != nil {
		return nil, err
	}
	return cw, nil
}

// Write writes c's row. A score that is not finite is an error naming the
// process, and nothing is written.
func (cw *ConflictsCSVWriter) Write(c Conflict) error {
	rec := []string{c.ProcessID}
	for _, o := range []reconcile.Outcome{c.Seen, c.Now, c.Remote} {
		cells, err := outcomeCells(o)
		if err != nil {
			return fmt.Errorf("%s: process %s: %w", ConflictsName, c.ProcessID, err)
		}
		rec = append(rec, cells...)
	}
	for i := range rec {
		rec[i] = neutralise(rec[i])
	}
	return cw.w.Write(rec)
}

// Close flushes and returns the first error met.
func (cw *ConflictsCSVWriter) Close() error {
	cw.w.Flush()
	return cw.w.Error()
}

// RepairCounts are what a repair did, row by row; in a dry run Changed is
// what would have changed.
type RepairCounts struct {
	Selected  int `json:"selected"`  // the discrepancies selected
	Changed   int `json:"changed"`   // rows updated
	Done      int `json:"done"`      // rows that already held the remote outcome
	Conflicts int `json:"conflicts"` // rows changed since the run, left alone
	Missing   int `json:"missing"`   // rows no longer in the target
}

// RepairSummary is repair.json: what a repair was asked to do and what it
// did.
type RepairSummary struct {
	RepairID   string
	RunID      string // the run repaired
	Version    string
	StartedAt  time.Time
	FinishedAt time.Time
	Kinds      []reconcile.Kind
	Target     string // "" for none; redacted again on writing
	Table      string // the target's table; "" for none
	Applied    bool   // --apply; with a target and not applied, a dry run
	ExitCode   int
	Counts     RepairCounts
}

// repairView is repair.json's layout, in its order.
type repairView struct {
	RepairID   string           `json:"repair_id"`
	RunID      string           `json:"run_id"`
	Version    string           `json:"version"`
	StartedAt  *time.Time       `json:"started_at"`
	FinishedAt *time.Time       `json:"finished_at"`
	Kinds      []reconcile.Kind `json:"kinds"`
	Target     *string          `json:"target"`
	Table      *string          `json:"table"`
	Applied    bool             `json:"applied"`
	DryRun     bool             `json:"dry_run"`
	ExitCode   int              `json:"exit_code"`
	Counts     RepairCounts     `json:"counts"`
}

// WriteRepairJSON writes s to w as repair.json: one indented object ending
// in a newline, keys in a fixed order (repair_id, run_id, version,
// started_at, finished_at, kinds, target, table, applied, dry_run,
// exit_code, counts: selected, changed, done, conflicts, missing). Times
// are UTC, null when zero; target and table are null without a target;
// dry_run is true with a target and without --apply. User information in
// the target (a password in a PostgreSQL URL) is redacted.
func WriteRepairJSON(w io.Writer, s RepairSummary) error {
	v := repairView{
		RepairID: s.RepairID, RunID: s.RunID, Version: s.Version,
		StartedAt: timeOrNull(s.StartedAt), FinishedAt: timeOrNull(s.FinishedAt),
		Kinds: s.Kinds, Applied: s.Applied, DryRun: s.Target != "" && !s.Applied,
		ExitCode: s.ExitCode, Counts: s.Counts,
	}
	if v.Kinds == nil {
		v.Kinds = []reconcile.Kind{}
	}
	if s.Target != "" {
		t := redact.URL(s.Target)
		v.Target = &t
		if s.Table != "" {
			v.Table = &s.Table
		}
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// ReadRepairJSON decodes repair.json as WriteRepairJSON wrote it; unknown
// keys are an error.
func ReadRepairJSON(r io.Reader) (RepairSummary, error) {
	var v repairView
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return RepairSummary{}, fmt.Errorf("read %s: %w", RepairName, err)
	}
	s := RepairSummary{RepairID: v.RepairID, RunID: v.RunID, Version: v.Version, Kinds: v.Kinds,
		Applied: v.Applied, ExitCode: v.ExitCode, Counts: v.Counts}
	if v.StartedAt != nil {
		s.StartedAt = *v.StartedAt
	}
	if v.FinishedAt != nil {
		s.FinishedAt = *v.FinishedAt
	}
	if v.Target != nil {
		s.Target = *v.Target
	}
	if v.Table != nil {
		s.Table = *v.Table
	}
	return s, nil
}
