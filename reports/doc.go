// Package reports writes the run's reports: discrepancies.csv,
// discrepancies.jsonl and summary.json, and the human summary printed at the
// end of a run.
//
// The encoders (CSVWriter, JSONLWriter, WriteSummary, WriteText) write to an
// io.Writer and never open a file. Two helpers own the files: WriteAtomic
// writes one file through a temporary name, and Set streams a whole report set
// into temporary files and renames them into place only on Commit, with
// summary.json last, so that a crash or a signal never leaves a half-written
// report under its final name and a summary.json marks a complete set.
//
// The CSV neutralises text cells that a spreadsheet would run as formulas;
// the JSON Lines file keeps every value as it is.
//
// report.html (WriteHTML, Set.CommitReport) is one self-contained page built
// with html/template, which escapes every value from the source or the API;
// manifest.json (EncodeManifest, Verify) lists the SHA-256 and size of every
// other file of a folder, so that a changed, missing or extra file is found.
// A period report (Period) has its own page, CSV and period.json.
//
// Report code never reads the clock: every time comes from the data, and
// the same data gives the same bytes.
// No type in this package is safe for concurrent use.
package reports
