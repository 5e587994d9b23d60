package state

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// RunState is how a run stands.
type RunState string

// The states of a run.
const (
	// RunRunning: started and not ended; a run that crashed stays so.
	RunRunning RunState = "running"
	// RunStopped: ended early by a signal or a time limit; resumable.
	RunStopped RunState = "stopped"
	// RunFinished: every process was accounted for.
	RunFinished RunState = "finished"
)

// Run is one run of the job, as recorded.
type Run struct {
	ID          string          // unique, e.g. 20261127T160000Z-a1b2c3
	Source      string          // the source as the run names it (absolute path for files)
	Query       string          // the SQL query, "" for files
	Fingerprint string          // the source's SHA-256 in hex, "" until known
	APIRoot     string          // the API root the run asked
	Params      json.RawMessage // the run's parameters as a JSON object (never secrets); nil if none
	Out         string          // the report folder
	RecheckOf   string          // the run this one re-checks, "" if none
	StartedAt   time.Time       // kept to the nanosecond, read back in UTC
	FinishedAt  time.Time       // zero while running
	State       RunState
	ExitCode    int            // -1 until finished or stopped
	Counts      map[string]int // the summary's counts: total, matched, pending, one per kind; nil reads back empty
	Summary     []byte         // summary.json's exact bytes, nil until written
}

// ErrNoRun is returned, wrapped with the run id, for a run that the
// database does not hold.
var ErrNoRun = errors.New("no such run")

// timeLayout writes times in UTC, fixed width with nanoseconds, so that
// they sort as text in time order.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeLayout)
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}

// runRow is a row of the runs table.
type runRow struct {
	Key         int64          `db:"key"`
	ID          string         `db:"id"`
	Source      string         `db:"source"`
	Query       string         `db:"query"`
	Fingerprint string         `db:"fingerprint"`
	APIRoot     string         `db:"api_root"`
	Params      sql.NullString `db:"params"`
	Out         string         `db:"out"`
	RecheckOf   string         `db:"recheck_of"`
	StartedAt   string         `db:"started_at"`
	FinishedAt  string         `db:"finished_at"`
	State       string         `db:"state"`
	ExitCode    int            `db:"exit_code"`
	Counts      string         `db:"counts"`
	Summary     []byte         `db:"summary"`
}

const runColumns = `key, id, source, query, fingerprint, api_root, params, out, recheck_of,
	started_at, finished_at, state, exit_code, counts, summary`

func toRow(r Run) (runRow, error) {
	if r.ID == "" {
		return runRow{}, errors.New("run has no id")
	}
	switch r.State {
	case RunRunning, RunStopped, RunFinished:
	default:
		return runRow{}, fmt.Errorf("run %s: unknown state %q", r.ID, r.State)
	}
	row := runRow{
		ID: r.ID, Source: r.Source, Query: r.Query, Fingerprint: r.Fingerprint,
		APIRoot: r.APIRoot, Out: r.Out, RecheckOf: r.RecheckOf,
		StartedAt: formatTime(r.StartedAt), FinishedAt: formatTime(r.FinishedAt),
		State: string(r.State), ExitCode: r.ExitCode, Summary: r.Summary,
	}
	if r.Params != nil {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(r.Params, &obj); err != nil || obj == nil {
			return runRow{}, fmt.Errorf("run %s: params are not a JSON object", r.ID)
		}
		row.Params = sql.NullString{String: string(r.Params), Valid: true}
	}
	row.Counts = "{}"
	if r.Counts != nil {
		counts, err := json.Marshal(r.Counts)
		if err != nil {
			return runRow{}, fmt.Errorf("run %s: counts: %w", r.ID, err)
		}
		row.Counts = string(counts)
	}
	return row, nil
}

func fromRow(row runRow) (Run, error) {
	r := Run{
		ID: row.ID, Source: row.Source, Query: row.Query, Fingerprint: row.Fingerprint,
		APIRoot: row.APIRoot, Out: row.Out, RecheckOf: row.RecheckOf,
		State: RunState(row.State), ExitCode: row.ExitCode, Summary: row.Summary,
	}
	if row.Params.Valid {
		r.Params = json.RawMessage(row.Params.String)
	}
	var err error
	if r.StartedAt, err = parseTime(row.StartedAt); err != nil {
		return Run{}, fmt.Errorf("run %s: started_at: %w", row.ID, err)
	}
	if r.FinishedAt, err = parseTime(row.FinishedAt); err != nil {
		return Run{}, fmt.Errorf("run %s: finished_at: %w", row.ID, err)
	}
	if err := json.Unmarshal([]byte(row.Counts), &r.Counts); err != nil {
		return Run{}, fmt.Errorf("run %s: counts: %w", row.ID, err)
	}
	if r.Counts == nil {
		r.Counts = map[string]int{}
	}
	return r, nil
}

// CreateRun records a new run. Its ID must be new.
func (db *DB) CreateRun(ctx context.Context, r Run) error {
	x, err := db.pool()
	if err != nil {
		return err
	}
	row, err := toRow(r)
	if err != nil {
		return fmt.Errorf("create run: %w", err)
	}
	_, err = x.NamedExecContext(ctx, `INSERT INTO runs (id, source, query, fingerprint, api_root,
		params, out, recheck_of, started_at, finished_at, state, exit_code, counts, summary)
		VALUES (:id, :source, :query, :fingerprint, :api_root, :params, :out, :recheck_of,
		:started_at, :finished_at, :state, :exit_code, :counts, :summary)`, row)
	if err != nil {
		return fmt.Errorf("create run %s: %w", r.ID, err)
	}
	return nil
}

// UpdateRun writes every mutable field of the run r.ID: Fingerprint,
// Params, Out, FinishedAt, State, ExitCode, Counts and Summary. A run the
// database does not hold is ErrNoRun.
func (db *DB) UpdateRun(ctx context.Context, r Run) error {
	x, err := db.pool()
	if err != nil {
		return err
	}
	row, err := toRow(r)
	if err != nil {
		return fmt.Errorf("update run: %w", err)
	}
	res, err := x.NamedExecContext(ctx, `UPDATE runs SET fingerprint = :fingerprint,
		params = :params, out = :out, finished_at = :finished_at, state = :state,
		exit_code = :exit_code, counts = :counts, summary = :summary WHERE id = :id`, row)
	if err != nil {
		return fmt.Errorf("update run %s: %w", r.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("update run %s: %w", r.ID, err)
	} else if n == 0 {
		return fmt.Errorf("update run %s: %w", r.ID, ErrNoRun)
	}
	return nil
}

// Run returns the run id; "last" means the newest by StartedAt. A run the
// database does not hold is ErrNoRun.
func (db *DB) Run(ctx context.Context, id string) (Run, error) {
	if id == "last" {
		return db.getRun(ctx, id, "SELECT "+runColumns+" FROM runs ORDER BY started_at DESC, key DESC LIMIT 1")
	}
	return db.getRun(ctx, id, "SELECT "+runColumns+" FROM runs WHERE id = ?", id)
}

func (db *DB) getRun(ctx context.Context, id, q string, args ...any) (Run, error) {
	x, err := db.pool()
	if err != nil {
		return Run{}, err
	}
	var row runRow
	err = x.GetContext(ctx, &row, q, args...)
	if errors.Is(err, sql.ErrNoRows) {
		return Run{}, fmt.Errorf("run %s: %w", id, ErrNoRun)
	}
	if err != nil {
		return Run{}, fmt.Errorf("read run %s: %w", id, err)
	}
	return fromRow(row)
}

// Runs returns every run, oldest first.
func (db *DB) Runs(ctx context.Context) ([]Run, error) {
	return db.listRuns(ctx, "SELECT "+runColumns+" FROM runs ORDER BY started_at, key")
}

// RunsOf returns the runs of source and query, newest first.
func (db *DB) RunsOf(ctx context.Context, source, query string) ([]Run, error) {
	return db.listRuns(ctx, "SELECT "+runColumns+` FROM runs
		WHERE source = ? AND query = ? ORDER BY started_at DESC, key DESC`, source, query)
}

func (db *DB) listRuns(ctx context.Context, query string, args ...any) ([]Run, error) {
	x, err := db.pool()
	if err != nil {
		return nil, err
	}
	var rows []runRow
	if err := x.SelectContext(ctx, &rows, query, args...); err != nil {
		return nil, fmt.Errorf("read runs: %w", err)
	}
	runs := make([]Run, 0, len(rows))
	for _, row := range rows {
		r, err := fromRow(row)
		if err != nil {
			return nil, err
		}
		runs = append(runs, r)
	}
	return runs, nil
}

// runKey returns the runs table's key of the run id.
func runKey(ctx context.Context, q sqlx.QueryerContext, id string) (int64, error) {
	var key int64
	err := sqlx.GetContext(ctx, q, &key, "SELECT key FROM runs WHERE id = ?", id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("run %s: %w", id, ErrNoRun)
	}
	if err != nil {
		return 0, fmt.Errorf("read run %s: %w", id, err)
	}
	return key, nil
}
