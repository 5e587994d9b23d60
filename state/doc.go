// Package state is the job's memory: a SQLite database (WAL mode) that
// records each run, every answer the API gave during it, and every
// discrepancy it listed, so that a run killed at any moment can be resumed,
// a run left incomplete by an outage can be re-checked, and any run's
// reports can be written again. It also records each repair of a run
// (Repair: what the repair of its lost responses did, process by process)
// and the hash chain of the runs' and repairs' report manifests.
//
// A *DB is safe for concurrent use. A *Journal's Record is safe for
// concurrent use; its Lookup must be called from one goroutine. A *Listing
// is used from one goroutine. The database may be opened by several
// processes at once (for example `runs` while a run is going), but only the
// process that holds the lock (DB.Lock) may run.
package state
