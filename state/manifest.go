package state

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
)

// ErrChainMoved is returned by AppendManifest when the chain's head is not
// the one the manifest names as its previous: another manifest was added
// in between.
var ErrChainMoved = errors.New("manifest chain moved")

// Link is one manifest in the run history's hash chain.
type Link struct {
	Seq      int64  // the chain's order
	RunID    string // the run that wrote it
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
	x, err := db.pool()
	if err != nil {
		return "", err
	}
	tx, err := x.BeginTxx(ctx, nil)
	if err != nil {
		return "", fmt.Errorf("chain manifest of run %s: %w", id, err)
	}
	defer tx.Rollback()
	key, err := runKey(ctx, tx, id)
	if err != nil {
		return "", fmt.Errorf("chain manifest: %w", err)
	}
	head, err := chainHead(ctx, tx)
	if err != nil {
		return "", err
	}
	if head != previous {
		return "", fmt.Errorf("chain manifest of run %s after %s: the head is %s: %w", id, orNull(previous), orNull(head), ErrChainMoved)
	}
	sum := sha256.Sum256(data)
	hash := hex.EncodeToString(sum[:])
	prev := sql.NullString{String: previous, Valid: previous != ""}
	if _, err := tx.ExecContext(ctx, `INSERT INTO manifests (run, sha256, previous, data) VALUES (?, ?, ?, ?)`,
		key, hash, prev, data); err != nil {
		return "", fmt.Errorf("chain manifest of run %s: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return "", fmt.Errorf("chain manifest of run %s: %w", id, err)
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
	rows, err := x.QueryContext(ctx, `SELECT m.seq, coalesce(r.id, ''), m.sha256, coalesce(m.previous, ''), m.data
		FROM manifests m LEFT JOIN runs r ON r.key = m.run ORDER BY m.seq`)
	if err != nil {
		return fmt.Errorf("read manifest chain: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var l Link
		if err := rows.Scan(&l.Seq, &l.RunID, &l.SHA256, &l.Previous, &l.Data); err != nil {
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

// LatestManifest returns the newest manifest run id added to the chain;
// false when it has none.
func (db *DB) LatestManifest(ctx context.Context, id string) (Link, bool, error) {
	x, err := db.pool()
	if err != nil {
		return Link{}, false, err
	}
	l := Link{RunID: id}
	err = x.QueryRowxContext(ctx, `SELECT m.seq, m.sha256, coalesce(m.previous, ''), m.data
		FROM manifests m JOIN runs r ON r.key = m.run WHERE r.id = ? ORDER BY m.seq DESC LIMIT 1`, id).
		Scan(&l.Seq, &l.SHA256, &l.Previous, &l.Data)
	if errors.Is(err, sql.ErrNoRows) {
		return Link{}, false, nil
	}
	if err != nil {
		return Link{}, false, fmt.Errorf("read manifest of run %s: %w", id, err)
	}
	return l, true, nil
}
