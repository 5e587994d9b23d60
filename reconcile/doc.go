// Package reconcile is the domain of unico-reconcile: the vocabulary (Local,
// Remote, Kind, Discrepancy, Summary), the pure comparison rules (Compare) and
// the pipeline (Run) that drives a Source, a Fetcher and a Sink.
//
// It imports the standard library and golang.org/x/sync/errgroup (the
// worker pool) only; the adapters (store, fetch, reports) import it, never
// one another. make lint checks this graph.
//
// Values are plain data; Run is the only function that starts goroutines and it
// returns only when they have all ended.
package reconcile
