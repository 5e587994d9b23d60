package job

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
	"github.com/unico-reconcile/unico-reconcile/reports"
	"github.com/unico-reconcile/unico-reconcile/state"
	"github.com/unico-reconcile/unico-reconcile/store"
)

// RepairBatch is how many rows one transaction of a repair updates at most.
const RepairBatch = 1000

// RepairKinds are the kinds a repair may write back: those whose remote
// outcome is final and known. Only lost_response is the default: the local
// row holds no final result, so filling it erases nothing.
var RepairKinds = []reconcile.Kind{reconcile.LostResponse, reconcile.ResultMismatch, reconcile.StatusMismatch}

// RepairOptions is what a repair is asked to do.
type RepairOptions struct {
	State string           // the run history
	Run   string           // the run to repair: its id, or "last"
	Out   string           // the folder for repairs.csv, repair.json, conflicts.csv and manifest.json
	Kinds []reconcile.Kind // the kinds to repair; nil: lost_response
	// Target is the table's database, a SQLite file or a postgres:// URL
	// (with its password: it is shown redacted); "" writes the files only.
	Target  string
	Table   string            // "" means store.DefaultTable
	Columns map[string]string // contract column -> the table's column
	Apply   bool              // update the target; without it a dry run
	Preview int               // the dry run's before -> after lines; 0 means 5

	Stdout  io.Writer    // what the repair did, for people; nil: nowhere
	Version string       // repair.json's version; "" means "dev"
	Logger  *slog.Logger // nil: nothing is logged
}

// RepairResult is what a repair did.
type RepairResult struct {
	ID       string
	RunID    string
	Counts   reports.RepairCounts
	ExitCode int // 0: all applied (or a dry run, or no target); 1: some rows were not (conflicts, missing)
}

// repair is one repair under way.
type repair struct {
	o       RepairOptions
	log     *slog.Logger
	db      *state.DB
	target  *store.Target // nil without a target
	rec     state.Repair
	counts  reports.RepairCounts
	preview []string
	batches int   // transactions committed (or, in a dry run, checked)
	failed  error // what stopped the stream, if anything
}

// Repair writes the remote outcomes of run o.Run's selected discrepancies,
// from the run history alone (never the API), to repairs.csv in o.Out, and
// with a target to its table: a dry run, or guarded UPDATEs in
// transactions of at most RepairBatch rows (o.Apply). The repair is
// recorded in the history and its manifest chained there, so that verify
// covers the folder. An error means exit 2: what a committed transaction
// changed stays, and is recorded.
func Repair(ctx context.Context, o RepairOptions) (RepairResult, error) {
	o, err := o.withDefaults()
	if err != nil {
		return RepairResult{}, err
	}
	rp := &repair{o: o, log: o.Logger}
	defer rp.close()
	if err := rp.begin(ctx); err != nil {
		return RepairResult{}, err
	}
	res := RepairResult{ID: rp.rec.ID, RunID: rp.rec.RunID}
	err = rp.write(ctx)
	if err != nil && rp.failed != nil {
		err = rp.stopped(ctx, rp.failed)
	}
	res.Counts, res.ExitCode = rp.counts, rp.exitCode(err)
	if end := rp.end(context.WithoutCancel(ctx), res.ExitCode); err == nil {
		err = end
	}
	if err != nil {
		rp.log.Error("repair stopped", "repair_id", res.ID, "run_id", res.RunID, "error", err.Error(),
			"changed", rp.counts.Changed, "transactions_committed", rp.batches)
		return res, err
	}
	rp.report(res)
	return res, nil
}

// stopped says why the repair stopped mid-way, and what it had done: the
// transactions committed stay, and applying the run again finishes it.
func (rp *repair) stopped(ctx context.Context, err error) error {
	why := "stopped"
	if ctx.Err() != nil {
		why = "interrupted"
	}
	done := "nothing written to the target"
	if rp.o.Apply && rp.batches > 0 {
		done = fmt.Sprintf("%d rows changed in the %s committed before; the rest left as they were: apply it again to finish",
			rp.counts.Changed, plural(rp.batches, "transaction"))
	}
	return fmt.Errorf("repair %s of run %s %s: %w (%s; no files written)", rp.rec.ID, rp.rec.RunID, why, err, done)
}

func (o RepairOptions) withDefaults() (RepairOptions, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Stdout == nil {
		o.Stdout = io.Discard
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	if o.Preview <= 0 {
		o.Preview = 5
	}
	if len(o.Kinds) == 0 {
		o.Kinds = []reconcile.Kind{reconcile.LostResponse}
	}
	for _, k := range o.Kinds {
		if err := checkKind(k); err != nil {
			return o, fmt.Errorf("repair: %w", err)
		}
	}
	if o.Apply && o.Target == "" {
		return o, errors.New("repair: --apply needs --target")
	}
	return o, nil
}

// ParseKinds reads --kinds: kinds of RepairKinds, separated by commas.
func ParseKinds(s string) ([]reconcile.Kind, error) {
	var kinds []reconcile.Kind
	for _, k := range strings.Split(s, ",") {
		k = strings.TrimSpace(k)
		if k == "" {
			continue
		}
		if err := checkKind(reconcile.Kind(k)); err != nil {
			return nil, fmt.Errorf("--kinds %s: %w", s, err)
		}
		kinds = append(kinds, reconcile.Kind(k))
	}
	return kinds, nil
}

// checkKind refuses a kind a repair cannot write back.
func checkKind(k reconcile.Kind) error {
	if !slices.Contains(RepairKinds, k) {
		return fmt.Errorf("kind %q has no remote outcome to write back: want %s", k, kindList(RepairKinds))
	}
	return nil
}

// ParseColumns reads the --column flags, NAME=COLUMN each: the table's
// column for a contract column (store.TargetConfig.Columns).
func ParseColumns(flags []string) (map[string]string, error) {
	var cols map[string]string
	for _, m := range flags {
		name, col, ok := strings.Cut(m, "=")
		if !ok || name == "" || col == "" {
			return nil, fmt.Errorf("--column %q: want NAME=COLUMN, e.g. status=result_status", m)
		}
		if _, dup := cols[name]; dup {
			return nil, fmt.Errorf("--column %s: given twice", name)
		}
		if cols == nil {
			cols = map[string]string{}
		}
		cols[name] = col
	}
	return cols, nil
}

func kindList(kinds []reconcile.Kind) string {
	s := make([]string, len(kinds))
	for i, k := range kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// begin opens the history (which must exist) as its only user, finds the
// run, opens the target and records the repair.
func (rp *repair) begin(ctx context.Context) error {
	o := rp.o
	if err := historyExists(o.State); err != nil {
		return err
	}
	now := time.Now().UTC()
	db, err := openState(ctx, o.State, now, rp.log)
	if err != nil {
		return err
	}
	rp.db = db
	run, err := db.Run(ctx, o.Run)
	if err != nil {
		return err
	}
	if run.Summary == nil {
		return fmt.Errorf("run %s has no reports yet (%s): continue it with run --resume, then repair it", run.ID, run.State)
	}
	if o.Target != "" {
		if rp.target, err = store.OpenTarget(ctx, store.TargetConfig{Target: o.Target, Table: o.Table, Columns: o.Columns}, o.Apply); err != nil {
			return err
		}
	}
	out, err := filepath.Abs(o.Out)
	if err != nil {
		return err
	}
	login, host := Runner()
	rp.rec = state.Repair{ID: state.NewRepairID(now), RunID: run.ID, StartedAt: now, Login: login, Host: host,
		Kinds: o.Kinds, Target: store.Redact(o.Target), Applied: o.Apply, Out: out, ExitCode: -1}
	if rp.rec.Params, err = rp.params(); err != nil {
		return err
	}
	return db.CreateRepair(ctx, rp.rec)
}

func (rp *repair) close() {
	if rp.target != nil {
		rp.target.Close()
	}
	if rp.db != nil {
		rp.db.Close()
	}
}

func (rp *repair) exitCode(err error) int {
	switch {
	case err != nil:
		return reconcile.ExitFatal
	case rp.o.Apply && rp.counts.Conflicts+rp.counts.Missing > 0:
		return 1
	}
	return 0
}
