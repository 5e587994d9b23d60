package state

// migrations are the schema's versions: the database's PRAGMA user_version
// is the number of migrations applied. Never edit one that has shipped;
// append a new one.
var migrations = []string{
	// 1: runs and the answers each run had.
	`
CREATE TABLE runs (
	key         INTEGER PRIMARY KEY,   -- compact key that answers and listed use
	id          TEXT NOT NULL UNIQUE,  -- 20261127T160000Z-a1b2c3
	source      TEXT NOT NULL,
	query       TEXT NOT NULL,
	fingerprint TEXT NOT NULL,         -- SHA-256 hex of the source, '' until known
	api_root    TEXT NOT NULL,
	params      TEXT,                  -- JSON object, NULL when none
	out         TEXT NOT NULL,
	recheck_of  TEXT NOT NULL,         -- run id, '' when none
	started_at  TEXT NOT NULL,         -- UTC, fixed width with nanoseconds: sorts as time
	finished_at TEXT NOT NULL,         -- same form, '' while running
	state       TEXT NOT NULL,         -- running, stopped, finished
	exit_code   INTEGER NOT NULL,      -- -1 until finished or stopped
	counts      TEXT NOT NULL,         -- JSON object of summary counts
	summary     BLOB                   -- summary.json's exact bytes, NULL until written
);
CREATE INDEX runs_by_source ON runs (source, query, started_at);
CREATE INDEX runs_by_start ON runs (started_at);

CREATE TABLE answers (
	run        INTEGER NOT NULL REFERENCES runs (key) ON DELETE CASCADE,
	seq        INTEGER NOT NULL,       -- position among the rows the run kept, from 0
	process_id BLOB NOT NULL,          -- the UUID's 16 bytes
	kind       TEXT NOT NULL,          -- the verdict the answer led to
	result     BLOB NOT NULL,          -- the reconcile.Result, encoded by codec.go
	PRIMARY KEY (run, seq, process_id)
) WITHOUT ROWID;
-- No index by process id: Journal.Lookup builds one for a run when it
-- needs one (lookup.go), so that recording stays cheap.
`,
	// 2: what each run listed in its reports, and the run lock's holder.
	`
CREATE TABLE listed (
	run        INTEGER NOT NULL REFERENCES runs (key) ON DELETE CASCADE,
	pos        INTEGER NOT NULL,       -- position in the reports, from 0
	row        INTEGER NOT NULL,       -- the row number in the source
	process_id TEXT NOT NULL,          -- as the source holds it (may be invalid)
	kind       TEXT NOT NULL,
	data       TEXT NOT NULL,          -- the whole discrepancy, JSON (listing.go)
	PRIMARY KEY (run, pos)
) WITHOUT ROWID;
CREATE INDEX listed_by_kind ON listed (run, kind, process_id);

CREATE TABLE lock (
	id     INTEGER PRIMARY KEY CHECK (id = 1),
	pid    INTEGER NOT NULL,
	host   TEXT NOT NULL,
	since  TEXT NOT NULL,              -- UTC, as runs.started_at
	run_id TEXT NOT NULL
);
`,
	// 3: who ran each run, and the hash chain of the runs' report manifests.
	`
CREATE TABLE runners (
	run     INTEGER PRIMARY KEY REFERENCES runs (key) ON DELETE CASCADE,
	os_user TEXT NOT NULL,             -- the operating-system user, '' when unknown
	host    TEXT NOT NULL
);

CREATE TABLE manifests (
	seq      INTEGER PRIMARY KEY,      -- the chain's order
	run      INTEGER NOT NULL REFERENCES runs (key) ON DELETE CASCADE,
	sha256   TEXT NOT NULL,            -- of data, hex
	previous TEXT,                     -- sha256 of the link before, NULL for the first
	data     BLOB NOT NULL             -- manifest.json's exact bytes
);
CREATE INDEX manifests_by_run ON manifests (run, seq);
`,
	// 4: the repairs of runs (repair.go), what each did per process, and
	// repairs' manifests in the chain. A manifest with no repair is a run's.
	`
CREATE TABLE repairs (
	key         INTEGER PRIMARY KEY,
	id          TEXT NOT NULL UNIQUE,  -- 20261127T160000Z-a1b2c3
	run         INTEGER NOT NULL REFERENCES runs (key) ON DELETE CASCADE,
	started_at  TEXT NOT NULL,         -- UTC, as runs.started_at
	finished_at TEXT NOT NULL,         -- same form, '' while repairing
	os_user     TEXT NOT NULL,         -- as runners.os_user
	host        TEXT NOT NULL,
	kinds       TEXT NOT NULL,         -- JSON array of the kinds selected
	target      TEXT NOT NULL,         -- redacted; '' for none
	applied     INTEGER NOT NULL,      -- 1 with --apply, 0 for a dry run or no target
	params      TEXT,                  -- JSON object, NULL when none
	out         TEXT NOT NULL,
	exit_code   INTEGER NOT NULL,      -- -1 until it ended
	selected    INTEGER NOT NULL,
	changed     INTEGER NOT NULL,
	done        INTEGER NOT NULL,      -- already held the remote values
	conflicts   INTEGER NOT NULL,
	missing     INTEGER NOT NULL
);
CREATE INDEX repairs_by_run ON repairs (run, started_at);

CREATE TABLE repaired (
	repair     INTEGER NOT NULL REFERENCES repairs (key) ON DELETE CASCADE,
	process_id TEXT NOT NULL,          -- as listed.process_id
	kind       TEXT NOT NULL,          -- the kind the run listed it as
	outcome    TEXT NOT NULL,          -- changed, done, conflict, missing, written
	PRIMARY KEY (repair, process_id)
) WITHOUT ROWID;
CREATE INDEX repaired_by_process ON repaired (process_id, kind, outcome);

ALTER TABLE manifests ADD COLUMN repair INTEGER REFERENCES repairs (key) ON DELETE CASCADE;
`,
}
