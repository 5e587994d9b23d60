// Package store reads saved outcomes, the input of a reconciliation, from a
// CSV file (CSV), a SQLite database (SQLite) or a PostgreSQL database
// (Postgres, through a server-side cursor), and streams them row by row as
// reconcile.Local values: memory does not grow with the source. Open picks
// the kind of source from its name (Source); IsPostgres and Redact tell a
// PostgreSQL URL and show it without its password.
//
// Before a run reads a source, Survey describes it as a whole: its rows
// (what a run plans with) and the SHA-256 of its file (what identifies the
// data a run read; none for a PostgreSQL database). Missing lists the contract's columns (Columns) a
// source lacks.
//
// Every column is checked as the contract's "Local outcomes" table says. A row
// that cannot be used is data, not an error: it is passed on with Local.Invalid
// set to a *RowError naming the file, the row and the column. A source that
// cannot be read at all (missing, empty, not a CSV, not a database, a bad
// query, no process_id column) is an error, from the Open function or from
// Each; the sentinel errors below classify it for errors.Is.
//
// A Target is the one thing in the package that writes: it puts the remote
// outcomes of a run's repairs back into a SQLite or PostgreSQL table, each
// UPDATE guarded by the values the run saw (Check is its dry run, which
// writes nothing). OutcomeText gives the same values as a CSV source's text.
//
// CSV, SQLite, Postgres, Target and Source are safe for concurrent use: Each may run in several
// goroutines at once, each call reading the source from its start. Close must
// not be called while an Each is running.
package store
