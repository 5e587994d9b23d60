// Package job owns a run of the reconciliation and the operations on the
// run history, with an API that a program (or a test) calls without the
// command line:
//
//   - Run runs one reconciliation (run.go): a new run, the unfinished one
//     to continue (Options.Resume) or a re-check of an earlier one
//     (Options.Recheck), which history.go picks and records. A run's Spec
//     (spec.go) is what the history keeps of it; a continued run takes the
//     earlier run's spec field by field (adopt), and a setting given now
//     that contradicts it (Options.Given) is an error.
//   - seal.go writes a run's manifest.json into the history's hash chain;
//     observe.go keeps the run's metrics, progress bar and progress lines.
//   - Rewrite writes a past run's reports again from the history, Period a
//     period's report, Verify checks report folders and the chain, Merge
//     combines the shards of one run, Check checks a run's set-up.
//
// The command line (package main) turns flags into Options and an exit
// code; nothing here reads a flag or the environment.
package job
