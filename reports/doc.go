// Package reports holds the files a run leaves for people, and reads them
// back. Metrics, which are for machines, are package metrics'.
//
// A run's report folder: discrepancies.csv (CSVWriter), discrepancies.jsonl
// (JSONLWriter), report.html (WriteHTML), summary.json (WriteSummary) and
// manifest.json (Manifest); and the human summary printed at the end of a
// run (WriteText). The encoders write to an io.Writer and never open a
// file. Two helpers own the files: WriteAtomic writes one file through a
// temporary name, and Set streams a whole report set into temporary files
// and renames them into place only on Commit (CommitReport adds
// report.html), with summary.json last, so that a crash or a signal never
// leaves a half-written report under its final name and a summary.json
// marks a complete set.
//
// The CSV neutralises text cells that a spreadsheet would run as formulas;
// the JSON Lines file keeps every value as it is, and ReadDiscrepancy and
// ReadSummary decode it and summary.json back, for whatever builds on a
// past run's reports. report.html is one self-contained page built with
// html/template, which escapes every value from the source or the API.
//
// manifest.json (EncodeManifest, WriteManifest) lists the SHA-256 and size
// of every other file of a folder and the previous run's manifest's
// SHA-256, so that a run history's manifests form a hash chain; Verify
// finds a changed, missing or extra file. Merge combines the report
// folders of the shards of one run into the reports one unsharded run
// would have written. A period report (Period) gathers the runs of a
// period and the processes they listed, open or resolved by a later run,
// and the processes no run answered, into its own page (WritePeriodHTML),
// CSV (PeriodCSVWriter; UncheckedCSVWriter for unchecked.csv) and
// period.json (WritePeriodJSON). A repair's folder holds repairs.csv
// (RepairsCSVWriter: the input's own columns with the remote outcome, an
// import file whose values are exact, not neutralised), conflicts.csv
// (ConflictsCSVWriter), repair.json (WriteRepairJSON) and a manifest of
// KindRepair chained like a run's.
//
// Report code never reads the clock: every time comes from the data, and
// the same data gives the same bytes.
// No type in this package is safe for concurrent use.
package reports
