package state

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

// ErrNoRepair is returned, wrapped with the repair id, for a repair that
// the database does not hold.
var ErrNoRepair = errors.New("no such repair")

// Repair is one repair of a run, as recorded: the run's selected
// discrepancies written to a report folder and, with a target, to a table.
type Repair struct {
	ID          string // unique, e.g. 20261128T060000Z-d4e5f6 (NewRepairID)
	RunID       string // the run repaired
	StartedAt   time.Time
	FinishedAt  time.Time // zero while repairing
	Login, Host string    // who repaired, as SetRunner records a run's
	Kinds       []reconcile.Kind
	Target      string          // already redacted; "" for none
	Applied     bool            // true with --apply; false for a dry run or no target
	Params      json.RawMessage // other parameters as a JSON object (never secrets); nil if none
	Out         string          // the report folder
	ExitCode    int             // -1 until it ended
	Counts      RepairCounts
}

// RepairCounts are what a repair did, row by row. In a dry run Changed is
// what would have changed.
type RepairCounts struct {
	Selected  int // the discrepancies selected
	Changed   int // rows updated
	Done      int // rows that already held the remote outcome
	Conflicts int // rows changed since the run, left alone
	Missing   int // rows no longer in the target
}

// RepairOutcome is what a repair did with one process.
type RepairOutcome string

// The outcomes of a repaired process.
const (
	RepairChanged  RepairOutcome = "changed"  // updated (or, in a dry run, would be)
	RepairDone     RepairOutcome = "done"     // already held the remote outcome
	RepairConflict RepairOutcome = "conflict" // changed since the run, left alone
	RepairMissing  RepairOutcome = "missing"  // no longer in the target
	RepairWritten  RepairOutcome = "written"  // written to repairs.csv only (no target)
)

// Repaired is one process a repair handled.
type Repaired struct {
	ProcessID string         // as the run listed it
	Kind      reconcile.Kind // the kind the run listed it as
	Outcome   RepairOutcome
}

// NewRepairID returns an id for a repair started at t: the UTC time and a
// random suffix, as a run's, sortable and unique.
func NewRepairID(t time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return t.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// repairRow is a row of the repairs table, with the run's id.
type repairRow struct {
	ID         string         `db:"id"`
	RunID      string         `db:"run_id"`
	StartedAt  string         `db:"started_at"`
	FinishedAt string         `db:"finished_at"`
	Login      string         `db:"os_user"`
	Host       string         `db:"host"`
	Kinds      string         `db:"kinds"`
	Target     string         `db:"target"`
	Applied    bool           `db:"applied"`
	Params     sql.NullString `db:"params"`
	Out        string         `db:"out"`
	ExitCode   int            `db:"exit_code"`
	Selected   int            `db:"selected"`
	Changed    int            `db:"changed"`
	Done       int            `db:"done"`
	Conflicts  int            `db:"conflicts"`
	Missing    int            `db:"missing"`
}

const repairColumns = `p.id AS id, r.id AS run_id, p.started_at, p.finished_at, p.os_user, p.host, p.kinds,
	p.target, p.applied, p.params, p.out, p.exit_code, p.selected, p.changed, p.done, p.conflicts, p.missing`

func toRepairRow(r Repair) (repairRow, error) {
	if r.ID == "" {
		return repairRow{}, errors.New("repair has no id")
	}
	row := repairRow{
		ID: r.ID, RunID: r.RunID, StartedAt: formatTime(r.StartedAt), FinishedAt: formatTime(r.FinishedAt),
		Login: r.Login, Host: r.Host, Target: r.Target, Applied: r.Applied, Out: r.Out, ExitCode: r.ExitCode,
		Selected: r.Counts.Selected, Changed: r.Counts.Changed, Done: r.Counts.Done,
		Conflicts: r.Counts.Conflicts, Missing: r.Counts.Missing,
	}
	kinds := r.Kinds
	if kinds == nil {
		kinds = []reconcile.Kind{}
	}
	b, err := json.Marshal(kinds)
	if err != nil {
		return repairRow{}, fmt.Errorf("repair %s: kinds: %w", r.ID, err)
	}
	row.Kinds = string(b)
	if r.Params != nil {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(r.Params, &obj); err != nil || obj == nil {
			return repairRow{}, fmt.Errorf("repair %s: params are not a JSON object", r.ID)
		}
		row.Params = sql.NullString{String: string(r.Params), Valid: true}
	}
	return row, nil
}

func fromRepairRow(row repairRow) (Repair, error) {
	r := Repair{
		ID: row.ID, RunID: row.RunID, Login: row.Login, Host: row.Host, Target: row.Target,
		Applied: row.Applied, Out: row.Out, ExitCode: row.ExitCode,
		Counts: RepairCounts{Selected: row.Selected, Changed: row.Changed, Done: row.Done,
			Conflicts: row.Conflicts, Missing: row.Missing},
	}
	if row.Params.Valid {
		r.Params = json.RawMessage(row.Params.String)
	}
	var err error
	if r.StartedAt, err = parseTime(row.StartedAt); err != nil {
		return Repair{}, fmt.Errorf("repair %s: started_at: %w", row.ID, err)
	}
	if r.FinishedAt, err = parseTime(row.FinishedAt); err != nil {
		return Repair{}, fmt.Errorf("repair %s: finished_at: %w", row.ID, err)
	}
	if err := json.Unmarshal([]byte(row.Kinds), &r.Kinds); err != nil {
		return Repair{}, fmt.Errorf("repair %s: kinds: %w", row.ID, err)
	}
	return r, nil
}

// CreateRepair records a new repair of the run r.RunID, which must exist
// (else ErrNoRun). r.ID must be new.
func (db *DB) CreateRepair(ctx context.Context, r Repair) error {
	x, err := db.pool()
	if err != nil {
		return err
	}
	row, err := toRepairRow(r)
	if err != nil {
		return fmt.Errorf("create repair: %w", err)
	}
	key, err := runKey(ctx, x, r.RunID)
	if err != nil {
		return fmt.Errorf("create repair %s: %w", r.ID, err)
	}
	_, err = x.ExecContext(ctx, `INSERT INTO repairs (id, run, started_at, finished_at, os_user, host, kinds,
		target, applied, params, out, exit_code, selected, changed, done, conflicts, missing)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		row.ID, key, row.StartedAt, row.FinishedAt, row.Login, row.Host, row.Kinds, row.Target, row.Applied,
		row.Params, row.Out, row.ExitCode, row.Selected, row.Changed, row.Done, row.Conflicts, row.Missing)
	if err != nil {
		return fmt.Errorf("create repair %s: %w", r.ID, err)
	}
	return nil
}

// UpdateRepair writes the mutable fields of the repair r.ID: FinishedAt,
// Params, Out, ExitCode and Counts (a repair ends by an UpdateRepair with
// FinishedAt and ExitCode set). A repair the database does not hold is
// ErrNoRepair.
func (db *DB) UpdateRepair(ctx context.Context, r Repair) error {
	x, err := db.pool()
	if err != nil {
		return err
	}
	row, err := toRepairRow(r)
	if err != nil {
		return fmt.Errorf("update repair: %w", err)
	}
	res, err := x.NamedExecContext(ctx, `UPDATE repairs SET finished_at = :finished_at, params = :params,
		out = :out, exit_code = :exit_code, selected = :selected, changed = :changed, done = :done,
		conflicts = :conflicts, missing = :missing WHERE id = :id`, row)
	if err != nil {
		return fmt.Errorf("update repair %s: %w", r.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("update repair %s: %w", r.ID, err)
	} else if n == 0 {
		return fmt.Errorf("update repair %s: %w", r.ID, ErrNoRepair)
	}
	return nil
}

// Repair returns the repair id; "last" means the newest by StartedAt. A
// repair the database does not hold is ErrNoRepair.
func (db *DB) Repair(ctx context.Context, id string) (Repair, error) {
	q := "SELECT " + repairColumns + " FROM repairs p JOIN runs r ON r.key = p.run "
	var rs []Repair
	var err error
	if id == "last" {
		rs, err = db.listRepairs(ctx, q+"ORDER BY p.started_at DESC, p.key DESC LIMIT 1")
	} else {
		rs, err = db.listRepairs(ctx, q+"WHERE p.id = ?", id)
	}
	if err != nil {
		return Repair{}, err
	}
	if len(rs) == 0 {
		return Repair{}, fmt.Errorf("repair %s: %w", id, ErrNoRepair)
	}
	return rs[0], nil
}

// Repairs returns every repair, oldest first.
func (db *DB) Repairs(ctx context.Context) ([]Repair, error) {
	return db.listRepairs(ctx, "SELECT "+repairColumns+` FROM repairs p JOIN runs r ON r.key = p.run
		ORDER BY p.started_at, p.key`)
}

// RepairsOf returns the repairs of the run runID, oldest first; none for
// a run the database does not hold.
func (db *DB) RepairsOf(ctx context.Context, runID string) ([]Repair, error) {
	return db.listRepairs(ctx, "SELECT "+repairColumns+` FROM repairs p JOIN runs r ON r.key = p.run
		WHERE r.id = ? ORDER BY p.started_at, p.key`, runID)
}

func (db *DB) listRepairs(ctx context.Context, query string, args ...any) ([]Repair, error) {
	x, err := db.pool()
	if err != nil {
		return nil, err
	}
	var rows []repairRow
	if err := x.SelectContext(ctx, &rows, query, args...); err != nil {
		return nil, fmt.Errorf("read repairs: %w", err)
	}
	rs := make([]Repair, 0, len(rows))
	for _, row := range rows {
		r, err := fromRepairRow(row)
		if err != nil {
			return nil, err
		}
		rs = append(rs, r)
	}
	return rs, nil
}

// repairKey returns the repairs table's key of the repair id.
func repairKey(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, id string) (int64, error) {
	var key int64
	err := q.QueryRowContext(ctx, "SELECT key FROM repairs WHERE id = ?", id).Scan(&key)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("repair %s: %w", id, ErrNoRepair)
	}
	if err != nil {
		return 0, fmt.Errorf("read repair %s: %w", id, err)
	}
	return key, nil
}

// RecordRepaired records, in one transaction, what the repair repairID did
// with each of ps (call it once per target transaction, after its
// commit). A process recorded again for the same repair keeps the newest
// outcome. The period report counts the lost responses that applied
// repairs changed or found done from these records (LostResponses).
func (db *DB) RecordRepaired(ctx context.Context, repairID string, ps []Repaired) error {
	x, err := db.pool()
	if err != nil {
		return err
	}
	tx, err := x.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("record repaired processes: %w", err)
	}
	defer tx.Rollback()
	key, err := repairKey(ctx, tx, repairID)
	if err != nil {
		return fmt.Errorf("record repaired processes: %w", err)
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT OR REPLACE INTO repaired (repair, process_id, kind, outcome) VALUES (?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("record repaired processes of repair %s: %w", repairID, err)
	}
	defer stmt.Close()
	for _, p := range ps {
		switch p.Outcome {
		case RepairChanged, RepairDone, RepairConflict, RepairMissing, RepairWritten:
		default:
			return fmt.Errorf("record repaired process %s of repair %s: unknown outcome %q", p.ProcessID, repairID, p.Outcome)
		}
		if _, err := stmt.ExecContext(ctx, key, p.ProcessID, string(p.Kind), string(p.Outcome)); err != nil {
			return fmt.Errorf("record repaired process %s of repair %s: %w", p.ProcessID, repairID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("record repaired processes of repair %s: %w", repairID, err)
	}
	return nil
}

// EachRepaired calls fn with each process the repair repairID recorded, by
// process id; it returns fn's first error.
func (db *DB) EachRepaired(ctx context.Context, repairID string, fn func(Repaired) error) error {
	x, err := db.pool()
	if err != nil {
		return err
	}
	key, err := repairKey(ctx, x, repairID)
	if err != nil {
		return fmt.Errorf("read repaired processes: %w", err)
	}
	rows, err := x.QueryContext(ctx, `SELECT process_id, kind, outcome FROM repaired WHERE repair = ? ORDER BY process_id`, key)
	if err != nil {
		return fmt.Errorf("read repaired processes of repair %s: %w", repairID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var p Repaired
		if err := rows.Scan(&p.ProcessID, &p.Kind, &p.Outcome); err != nil {
			return fmt.Errorf("read repaired processes of repair %s: %w", repairID, err)
		}
		if err := fn(p); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read repaired processes of repair %s: %w", repairID, err)
	}
	return nil
}

// LostCounts are a period's lost responses: found by its runs, and of
// those, repaired.
type LostCounts struct {
	// Found is how many processes the runs started in the period listed as
	// lost_response, each process once however many runs listed it.
	Found int
	// Repaired is how many of those an applied repair (Applied true) of a
	// run of the period, whenever it ran, recorded as lost_response and
	// changed or done (the row already held the remote outcome). Dry runs,
	// repairs without a target, conflicts, missing rows and repairs of runs
	// outside the period do not count.
	Repaired int
}

// LostResponses counts the lost responses that the runs started in
// [from, to) found and that applied repairs of those runs repaired (see
// LostCounts).
func (db *DB) LostResponses(ctx context.Context, from, to time.Time) (LostCounts, error) {
	x, err := db.pool()
	if err != nil {
		return LostCounts{}, err
	}
	var c LostCounts
	err = x.QueryRowContext(ctx, `WITH `+periodRuns+`,
	f AS (SELECT DISTINCT l.process_id AS pid FROM listed l JOIN p ON p.key = l.run WHERE l.kind = ?3)
	SELECT count(*), coalesce(sum(EXISTS (
		SELECT 1 FROM repaired x JOIN repairs rp ON rp.key = x.repair JOIN p ON p.key = rp.run
		WHERE x.process_id = f.pid AND x.kind = ?3 AND x.outcome IN (?4, ?5) AND rp.applied)), 0)
	FROM f`, formatTime(from), formatTime(to), string(reconcile.LostResponse),
		string(RepairChanged), string(RepairDone)).Scan(&c.Found, &c.Repaired)
	if err != nil {
		return LostCounts{}, fmt.Errorf("count the period's lost responses: %w", err)
	}
	return c, nil
}
