package job

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
	"github.com/unico-reconcile/unico-reconcile/reports"
	"github.com/unico-reconcile/unico-reconcile/state"
	"github.com/unico-reconcile/unico-reconcile/store"
)

// repairParams is a repair's parameters in its manifest and the history.
type repairParams struct {
	Run     string            `json:"run_id"`
	Kinds   []reconcile.Kind  `json:"kinds"`
	Target  string            `json:"target,omitempty"` // redacted
	Table   string            `json:"table,omitempty"`
	Columns map[string]string `json:"columns,omitempty"`
	Apply   bool              `json:"apply"`
}

// item is one selected discrepancy on its way to the target.
type item struct {
	repair store.Repair
	kind   reconcile.Kind
}

// files are the repair folder's files, manifest.json aside.
func (rp *repair) files() []string {
	f := []string{reports.RepairsName, reports.RepairName}
	if rp.target != nil {
		f = append(f, reports.ConflictsName)
	}
	return f
}

func (rp *repair) path(name string) string { return filepath.Join(rp.o.Out, name) }

// write streams the run's selected discrepancies to repairs.csv and, in
// batches, to the target, and the rows changed since the run to
// conflicts.csv; then it writes repair.json and seals the folder. Each
// file appears whole or not at all.
func (rp *repair) write(ctx context.Context) error {
	if err := rp.clear(); err != nil {
		return err
	}
	if rp.target == nil {
		if err := reports.WriteAtomic(rp.path(reports.RepairsName), func(w io.Writer) error {
			return rp.stream(ctx, w, nil)
		}); err != nil {
			return err
		}
		return rp.seal(ctx)
	}
	if err := reports.WriteAtomic(rp.path(reports.ConflictsName), func(cw io.Writer) error {
		conflicts, err := reports.NewConflictsCSVWriter(cw)
		if err != nil {
			return err
		}
		if err := reports.WriteAtomic(rp.path(reports.RepairsName), func(w io.Writer) error {
			return rp.stream(ctx, w, conflicts)
		}); err != nil {
			return err
		}
		return conflicts.Close()
	}); err != nil {
		return err
	}
	return rp.seal(ctx)
}

// clear makes the folder, and removes what an earlier repair there left:
// its manifest must not vouch for the new files.
func (rp *repair) clear() error {
	if err := os.MkdirAll(rp.o.Out, 0o755); err != nil {
		return fmt.Errorf("create repair folder: %w", err)
	}
	for _, name := range []string{reports.ManifestName, reports.RepairName, reports.ConflictsName, reports.RepairsName} {
		if err := os.Remove(rp.path(name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove old %s: %w", name, err)
		}
	}
	return nil
}

// stream writes repairs.csv and sends the rows to the target in batches.
// A failure of the history or the target is kept in rp.failed as well:
// it, not the file that could not be finished, is what the user is told.
func (rp *repair) stream(ctx context.Context, w io.Writer, conflicts *reports.ConflictsCSVWriter) (err error) {
	defer func() {
		if err != nil && rp.failed == nil {
			rp.failed = err
		}
	}()
	rw, err := reports.NewRepairsCSVWriter(w)
	if err != nil {
		return err
	}
	batch := make([]item, 0, RepairBatch)
	err = rp.db.EachListedOf(ctx, rp.rec.RunID, rp.o.Kinds, func(d reconcile.Discrepancy) error {
		if d.Remote == nil {
			return fmt.Errorf("run %s: %s %s has no remote outcome in the history", rp.rec.RunID, d.Kind, d.Local.ProcessID)
		}
		if err := rw.Write(d); err != nil {
			return fmt.Errorf("%s: process %s: %w", reports.RepairsName, d.Local.ProcessID, err)
		}
		after := reports.RemoteOutcome(d.Remote)
		if err := store.CheckOutcome(after); err != nil {
			rp.log.Warn("the API's outcome is one a source does not read: written as it is, the next run reports the row invalid_input",
				"process_id", d.Local.ProcessID, "problem", err.Error())
		}
		batch = append(batch, item{store.Repair{Row: d.Local.Row, ProcessID: d.Local.ProcessID, Before: d.Local.Outcome, After: after}, d.Kind})
		if len(batch) < RepairBatch {
			return nil
		}
		err := rp.flush(ctx, batch, conflicts)
		batch = batch[:0]
		return err
	})
	if err == nil {
		err = rp.flush(ctx, batch, conflicts)
	}
	if err != nil {
		return err
	}
	if err := rw.Close(); err != nil {
		return fmt.Errorf("write %s: %w", reports.RepairsName, err)
	}
	return nil
}

// flush sends one batch to the target, in one transaction, and records
// what became of each row in the history once that transaction is
// committed.
func (rp *repair) flush(ctx context.Context, batch []item, conflicts *reports.ConflictsCSVWriter) error {
	if len(batch) == 0 {
		return nil
	}
	recs := make([]state.Repaired, len(batch))
	for i, it := range batch {
		recs[i] = state.Repaired{ProcessID: it.repair.ProcessID, Kind: it.kind, Outcome: state.RepairWritten}
	}
	if rp.target != nil {
		rs := make([]store.Repair, len(batch))
		for i, it := range batch {
			rs[i] = it.repair
		}
		send := rp.target.Check
		if rp.o.Apply {
			send = rp.target.Apply
		}
		results, err := send(ctx, rs)
		if err != nil {
			return err
		}
		rp.batches++
		for i, res := range results {
			if recs[i].Outcome, err = rp.tally(res, conflicts); err != nil {
				return err
			}
		}
	}
	if err := rp.db.RecordRepaired(context.WithoutCancel(ctx), rp.rec.ID, recs); err != nil {
		return err
	}
	rp.counts.Selected += len(batch)
	return nil
}

// tally counts what became of one row, and lists it in conflicts.csv when
// it changed since the run.
func (rp *repair) tally(res store.Result, conflicts *reports.ConflictsCSVWriter) (state.RepairOutcome, error) {
	r := res.Repair
	switch res.Verdict {
	case store.Changed:
		rp.counts.Changed++
		if !rp.o.Apply && len(rp.preview) < rp.o.Preview {
			rp.preview = append(rp.preview, r.ProcessID+": "+beforeAfter(res.Current, r.After))
		}
		return state.RepairChanged, nil
	case store.AlreadyApplied:
		rp.counts.Done++
		return state.RepairDone, nil
	case store.NotFound:
		rp.counts.Missing++
		rp.log.Warn("repair: the target has no row with this process id: left alone", "process_id", r.ProcessID)
		return state.RepairMissing, nil
	case store.Ambiguous:
		rp.log.Warn("repair: the target has more than one row with this process id: left alone", "process_id", r.ProcessID)
	}
	rp.counts.Conflicts++
	return state.RepairConflict, conflicts.Write(reports.Conflict{ProcessID: r.ProcessID, Seen: r.Before, Now: res.Current, Remote: r.After})
}

// beforeAfter is "column before -> after" for each result column that
// differs, joined by ", ".
func beforeAfter(before, after reconcile.Outcome) string {
	b, a := store.OutcomeText(before), store.OutcomeText(after)
	var parts []string
	for i, col := range store.ResultColumns() {
		if b[i] != a[i] {
			parts = append(parts, col+" "+strconv.Quote(b[i])+" -> "+strconv.Quote(a[i]))
		}
	}
	return strings.Join(parts, ", ")
}

// seal writes repair.json, then manifest.json, last, after adding it to
// the history's hash chain.
func (rp *repair) seal(ctx context.Context) error {
	o, hctx := rp.o, context.WithoutCancel(ctx)
	rp.rec.FinishedAt = time.Now().UTC()
	sum := reports.RepairSummary{RepairID: rp.rec.ID, RunID: rp.rec.RunID, Version: o.Version,
		StartedAt: rp.rec.StartedAt, FinishedAt: rp.rec.FinishedAt, Kinds: o.Kinds, Target: rp.rec.Target,
		Applied: o.Apply, ExitCode: rp.exitCode(nil), Counts: rp.counts}
	if rp.target != nil {
		sum.Table = cmp.Or(o.Table, store.DefaultTable)
	}
	if err := reports.WriteAtomic(rp.path(reports.RepairName), func(w io.Writer) error {
		return reports.WriteRepairJSON(w, sum)
	}); err != nil {
		return err
	}
	m := reports.Manifest{Kind: reports.KindRepair, RunID: rp.rec.RunID, RepairID: rp.rec.ID, Parameters: rp.rec.Params}
	return sealManifest(hctx, rp.db, o.Out, rp.files(), m, func(ctx context.Context, previous string, b []byte) (string, error) {
		return rp.db.AppendRepairManifest(ctx, rp.rec.ID, previous, b)
	})
}

// params is what the history and the manifest keep of the repair's options.
func (rp *repair) params() (json.RawMessage, error) {
	o := rp.o
	p := repairParams{Run: rp.rec.RunID, Kinds: o.Kinds, Target: rp.rec.Target, Columns: o.Columns, Apply: o.Apply}
	if o.Target != "" {
		p.Table = cmp.Or(o.Table, store.DefaultTable)
	}
	return json.Marshal(p)
}

// end records how the repair ended.
func (rp *repair) end(ctx context.Context, code int) error {
	if rp.rec.FinishedAt.IsZero() {
		rp.rec.FinishedAt = time.Now().UTC()
	}
	rp.rec.ExitCode = code
	rp.rec.Counts = state.RepairCounts(rp.counts)
	return rp.db.UpdateRepair(ctx, rp.rec)
}

// report prints what the repair did.
func (rp *repair) report(res RepairResult) {
	o, c, w := rp.o, res.Counts, rp.o.Stdout
	fmt.Fprintf(w, "repair %s of run %s: %d selected (%s)\n", res.ID, res.RunID, c.Selected, kindList(o.Kinds))
	fmt.Fprintf(w, "%s: the remote outcomes in the input's columns, ready to import\n", rp.path(reports.RepairsName))
	if rp.target == nil {
		return
	}
	where := rp.rec.Target + " (table " + cmp.Or(o.Table, store.DefaultTable) + ")"
	if !o.Apply {
		fmt.Fprintf(w, "dry run on %s: %d rows would change, %d already hold the remote outcome, %d changed since the run, %d missing\n",
			where, c.Changed, c.Done, c.Conflicts, c.Missing)
		for _, p := range rp.preview {
			fmt.Fprintf(w, "  %s\n", p)
		}
		fmt.Fprintln(w, "nothing was written: add --apply to update these rows")
		return
	}
	if c.Changed == 0 && c.Done == c.Selected {
		fmt.Fprintf(w, "nothing to change on %s: all %d rows already hold the remote outcome (applied before)\n", where, c.Done)
		return
	}
	fmt.Fprintf(w, "applied to %s: %d rows changed in %s, %d already held the remote outcome, %d changed since the run (left alone), %d missing\n",
		where, c.Changed, plural(rp.batches, "transaction"), c.Done, c.Conflicts, c.Missing)
	if c.Conflicts > 0 {
		fmt.Fprintf(w, "%s: the rows changed since the run, as the run saw them, as they are now, and the remote outcome\n", rp.path(reports.ConflictsName))
	}
}

// plural is "1 thing" or "n things".
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return strconv.Itoa(n) + " " + thing + "s"
}
