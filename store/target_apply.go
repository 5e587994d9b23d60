package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

// Check finds what Apply would do for each repair of rs, in rs's order, in
// one transaction that writes nothing (READ ONLY on PostgreSQL, on a
// consistent snapshot). It is the dry run.
func (t *Target) Check(ctx context.Context, rs []Repair) ([]Result, error) {
	return t.run(ctx, rs, false)
}

// Apply writes each repair of rs, in rs's order, in one transaction: all of
// them or, on an error (the context's included), none. A row is written
// only when it still holds its repair's Before (a source would read the same
// outcome): the UPDATE then sets the result columns to After, guarded by the
// raw values just read (IS in SQLite, IS NOT DISTINCT FROM in PostgreSQL,
// so that NULLs compare), so a row another program changes in between is
// left alone and is a Conflict. process_id and saved_at are never written.
// Values are written as integers (status, serpro_score, liveness), a number
// (score) and text (the results), NULL for an absent one; text is written
// as it is, whatever it holds.
//
// Callers batch: a transaction holds its rows' locks (a SQLite file's write
// lock) until it ends. A Target opened without write refuses to Apply.
func (t *Target) Apply(ctx context.Context, rs []Repair) ([]Result, error) {
	if !t.write {
		return nil, fmt.Errorf("%s: opened for a dry run: cannot apply", t.name)
	}
	return t.run(ctx, rs, true)
}

func (t *Target) run(ctx context.Context, rs []Repair, write bool) ([]Result, error) {
	opts := &sql.TxOptions{}
	if t.pg && !write {
		opts = &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead}
	}
	tx, err := t.db.BeginTxx(ctx, opts)
	if err != nil {
		return nil, t.fail(ctx, "begin", err)
	}
	defer tx.Rollback()
	out := make([]Result, len(rs))
	for i, r := range rs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		res, raw, err := t.read(ctx, tx, r)
		if err != nil {
			return nil, err
		}
		if write && res.Verdict == Changed {
			if t.beforeUpdate != nil {
				t.beforeUpdate(i)
			}
			if res, err = t.update(ctx, tx, r, res, raw); err != nil {
				return nil, err
			}
		}
		out[i] = res
	}
	if write {
		if err := tx.Commit(); err != nil {
			return nil, t.fail(ctx, "commit", err)
		}
	}
	return out, nil
}

// fail wraps a database error: the context's own error when it ended.
func (t *Target) fail(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("%s: %s: %w", t.name, what, t.dbError(err))
}

// read finds r's row and decides what to do with it. raw holds the row's
// values as the driver returned them: process_id, then the result columns.
func (t *Target) read(ctx context.Context, tx *sqlx.Tx, r Repair) (Result, []any, error) {
	res := Result{Repair: r}
	what := fmt.Sprintf("row %d, process %s: read", r.Row, r.ProcessID)
	rows, err := tx.QueryContext(ctx, t.sel, strings.ToLower(r.ProcessID), strings.ToUpper(r.ProcessID))
	if err != nil {
		return res, nil, t.fail(ctx, what, err)
	}
	defer rows.Close()
	var raw []any
	n := 0
	for rows.Next() {
		n++
		raw = make([]any, len(t.cols))
		dest := make([]any, len(raw))
		for i := range raw {
			dest[i] = &raw[i]
		}
		if err := rows.Scan(dest...); err != nil {
			return res, nil, t.fail(ctx, what, err)
		}
	}
	if err := rows.Err(); err != nil {
		return res, nil, t.fail(ctx, what, err)
	}
	switch n {
	case 0:
		res.Verdict = NotFound
		return res, nil, nil
	case 1:
	default:
		res.Verdict = Ambiguous
		return res, nil, nil
	}
	row := rawRow{ProcessID: r.ProcessID}
	for i, c := range resultColumns {
		*row.field(c) = text(raw[i+1])
	}
	res.Current = lenientOutcome(&row)
	res.Invalid = parseRow(t.name, r.Row, &row).Invalid
	switch {
	case holds(&row, r.After):
		res.Verdict = AlreadyApplied
	case holds(&row, r.Before):
		res.Verdict = Changed
	default:
		res.Verdict = Conflict
	}
	return res, raw, nil
}

// update writes r.After to the row read as raw, guarded by raw. When the
// guard matches no row, the row changed since it was read: it is read again
// and is no longer Changed.
func (t *Target) update(ctx context.Context, tx *sqlx.Tx, r Repair, res Result, raw []any) (Result, error) {
	what := fmt.Sprintf("row %d, process %s: update", r.Row, r.ProcessID)
	args := append(outcomeValues(r.After), raw...)
	done, err := tx.ExecContext(ctx, t.upd, args...)
	if err != nil {
		return res, t.fail(ctx, what, err)
	}
	n, err := done.RowsAffected()
	if err != nil {
		return res, t.fail(ctx, what, err)
	}
	switch {
	case n == 1:
		return res, nil
	case n > 1:
		// Rows with the same id and values appeared since the read: which
		// one to write is a guess, so nothing of the batch is written.
		return res, fmt.Errorf("%s: %s: %d rows hold process %s", t.name, what, n, r.ProcessID)
	}
	again, _, err := t.read(ctx, tx, r)
	if err != nil {
		return res, err
	}
	if again.Verdict == Changed {
		again.Verdict = Conflict
	}
	return again, nil
}

// outcomeValues are o's result columns as the values written: integers, a
// number and text; nil (NULL) for an absent one.
func outcomeValues(o reconcile.Outcome) []any {
	v := make([]any, 0, len(resultColumns))
	if o.Status == 0 {
		v = append(v, nil)
	} else {
		v = append(v, int64(o.Status))
	}
	for _, s := range []string{o.UnicoID, o.IdentityFraudsters} {
		if s == "" {
			v = append(v, nil)
		} else {
			v = append(v, s)
		}
	}
	for _, p := range []*int{o.Serpro, o.Liveness} {
		if p == nil {
			v = append(v, nil)
		} else {
			v = append(v, int64(*p))
		}
	}
	if o.Score == nil {
		v = append(v, nil)
	} else {
		v = append(v, *o.Score)
	}
	return v
}
