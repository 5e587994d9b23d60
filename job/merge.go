package job

import (
	"time"

	"github.com/unico-reconcile/unico-reconcile/fetch"
	"github.com/unico-reconcile/unico-reconcile/reconcile"
	"github.com/unico-reconcile/unico-reconcile/reports"
)

// Merge combines the report folders of the shards of one run into out, as
// one unsharded run would have written them (reports.Merge), under a new
// run id, naming who merged them.
func Merge(out string, dirs []string, maxSpread time.Duration) (reconcile.Summary, error) {
	login, host := Runner()
	return reports.Merge(out, dirs, reports.MergeOptions{
		RunID: NewRunID(time.Now()), MaxSpread: maxSpread,
		User: login, Host: host, Environment: fetch.EnvironmentOf,
	})
}
