// Package reconcile is the domain of unico-reconcile: the vocabulary (Local,
// Remote, Kind, Discrepancy, Summary), the pure comparison rules (Compare) and
// the pipeline (Run) that drives a Source, a Fetcher and a Sink.
//
// It imports the standard library only; the adapters (store, fetch, reports)
// import it, never one another.
//
// Values are plain data; Run is the only function that starts goroutines and it
// returns only when they have all ended.
package reconcile
