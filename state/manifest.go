package state

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// ErrChainMoved is returned by AppendManifest when the chain's head is not
// the one the manifest names as its previous: another manifest was added
// in between.
var ErrChainMoved = errors.New("manifest chain moved")

// Link is one manifest in the run history's hash chain: a run's report
// folder's, or a repair's (RepairID set).
type Link struct {
	Seq      int64  // the chain's order
	RunID    string // the run that wrote it, or that the repair repaired
	RepairID string // the repair that wrote it; "" for a run's manifest
	SHA256   string // of Data, hex
	Previous string // the SHA-256 of the link before, "" for the first
	Data     []byte // manifest.json's exact bytes
}

// SetRunner records who ran run id: the operating-system user and the host.
// A resumed run records who resumed it.
func (db *DB) SetRunner(ctx context.Context, id, user, host string) error {
	x, err := db.pool()
	if err != nil {
		return err
	}
	key, err := runKey(ctx, x, id)
	if err != nil {
		return fmt.Errorf("record runner: %w", err)
	}
	if _, err := x.ExecContext(ctx, `INSERT OR REPLACE INTO runners (run, os_user, host) VALUES (?, ?, ?)`, key, user, host); err != nil {
		return fmt.Errorf("record runner of run %s: %w", id, err)
	}
	return nil
}

// Runner returns who ran run id, "" and "" when that was not recorded (a
// run recorded by an older version).
func (db *DB) Runner(ctx context.Context, id string) (user, host string, err error) {
	x, err := db.pool()
	if err != nil {
		return "", "", err
	}
	err = x.QueryRowxContext(ctx, `SELECT os_user, host FROM runners JOIN runs ON runs.key = runners.run
		WHERE runs.id = ?`, id).Scan(&user, &host)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", nil
	}
	if err != nil {
		return "", "", fmt.Errorf("read runner of run %s: %w", id, err)
	}
	return user, host, nil
}

// ChainHead returns the SHA-256 of the newest manifest in the chain, ""
// when the chain is empty.
func (db *DB) ChainHead(ctx context.Context) (string, error) {
	x, err := db.pool()
	if err != nil {
		return "", err
	}
	return chainHead(ctx, x)
}

func chainHead(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (string, error) {
	var head string
	err := q.QueryRowContext(ctx, `SELECT sha256 FROM manifests ORDER BY seq DESC LIMIT 1`).Scan(&head)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read manifest chain: %w", err)
	}
	return head, nil
}

// AppendManifest adds data, run id's manifest.json, to the chain after
// previous, which must be the chain's head ("" for an empty chain; else the
// error wraps ErrChainMoved), and returns data's SHA-256.
func (db *DB) AppendManifest(ctx context.Context, id, previous string, data []byte) (string, error) {
	return db.appendManifest(ctx, "run "+id, previous, data, func(tx *sqlx.Tx) (run int64, repair sql.NullInt64, err error) {
		run, err = runKey(ctx, tx, id)
		return run, repair, err
	})
}

// AppendRepairManifest adds data, the manifest.json of the repair
// repairID's folder, to the chain after previous, as AppendManifest does a
// run's; the link's RunID is the run repaired. LatestManifest never
// returns it.
func (db *DB) AppendRepairManifest(ctx context.Context, repairID, previous string, data []byte) (string, error) {
	return db.appendManifest(ctx, "repair "+repairID, previous, data, func(tx *sqlx.Tx) (run int64, repair sql.NullInt64, err error) {
		err = tx.QueryRowContext(ctx, "SELECT key, run FROM repairs WHERE id = ?", repairID).Scan(&repair.Int64, &run)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, repair, fmt.Errorf("repair %s: %w", repairID, ErrNoRepair)
		}
		repair.Valid = err == nil
		return run, repair, err
	})
}

// appendManifest appends data for who ("run ID", "repair ID"), whose keys
// keys finds, in one transaction.
func (db *DB) appendManifest(ctx context.Context, who, previous string, data []byte,
	keys func(*sqlx.Tx) (int64, sql.NullInt64, error)) (string, error) {
	x, err := db.pool()
	if err != nil {
		return "", err
	}
	tx, err := x.BeginTxx(ctx, nil)
	if err != nil {
		return "", fmt.Errorf("chain manifest of %s: %w", who, err)
	}
	defer tx.Rollback()
	run, repair, err := keys(tx)
	if err != nil {
		return "", fmt.Errorf("chain manifest: %w", err)
	}
	head, err := chainHead(ctx, tx)
	if err != nil {
		return "", err
	}
	if head != previous {
		return "", fmt.Errorf("chain manifest of %s after %s: the head is %s: %w", who, orNull(previous), orNull(head), ErrChainMoved)
	}
	sum := sha256.Sum256(data)
	hash := hex.EncodeToString(sum[:])
	prev := sql.NullString{String: previous, Valid: previous != ""}
	if _, err := tx.ExecContext(ctx, `INSERT INTO manifests (run, repair, sha256, previous, data) VALUES (?, ?, ?, ?, ?)`,
		run, repair, hash, prev, data); err != nil {
		return "", fmt.Errorf("chain manifest of %s: %w", who, err)
	}
	if err := tx.Commit(); err != nil {
		return "", fmt.Errorf("chain manifest of %s: %w", who, err)
	}
	return hash, nil
}

func orNull(s string) string {
	if s == "" {
		return "null"
	}
	return s
}

// Chain calls fn with each manifest of the chain, oldest first, reading
// them as it goes; it returns fn's first error. The stored SHA-256 and
// previous are returned as stored: checking them is the caller's job.
func (db *DB) Chain(ctx context.Context, fn func(Link) error) error {
	x, err := db.pool()
	if err != nil {
		return err
	}
	rows, err := x.QueryContext(ctx, `SELECT m.seq, coalesce(r.id, ''), coalesce(p.id, ''), m.sha256, coalesce(m.previous, ''), m.data
		FROM manifests m LEFT JOIN runs r ON r.key = m.run LEFT JOIN repairs p ON p.key = m.repair ORDER BY m.seq`)
	if err != nil {
		return fmt.Errorf("read manifest chain: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var l Link
		if err := rows.Scan(&l.Seq, &l.RunID, &l.RepairID, &l.SHA256, &l.Previous, &l.Data); err != nil {
			return fmt.Errorf("read manifest chain: %w", err)
		}
		if err := fn(l); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read manifest chain: %w", err)
	}
	return nil
}

// LatestManifest returns the newest manifest run id added to the chain for
// its report folder; false when it has none. Its repairs' manifests do not
// count.
func (db *DB) LatestManifest(ctx context.Context, id string) (Link, bool, error) {
	x, err := db.pool()
	if err != nil {
		return Link{}, false, err
	}
	l := Link{RunID: id}
	err = x.QueryRowxContext(ctx, `SELECT m.seq, m.sha256, coalesce(m.previous, ''), m.data
		FROM manifests m JOIN runs r ON r.key = m.run WHERE r.id = ? AND m.repair IS NULL ORDER BY m.seq DESC LIMIT 1`, id).
		Scan(&l.Seq, &l.SHA256, &l.Previous, &l.Data)
	if errors.Is(err, sql.ErrNoRows) {
		return Link{}, false, nil
	}
	if err != nil {
		return Link{}, false, fmt.Errorf("read manifest of run %s: %w", id, err)
	}
	return l, true, nil
}
