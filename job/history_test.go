package job

import (
	"testing"
	"time"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

func TestRateToFit(t *testing.T) {
	for _, tt := range []struct {
		toFetch int
		d       time.Duration
		shard   reconcile.Shard
		want    float64
	}{
		{3600, time.Hour, reconcile.Shard{}, 1},
		{36001, time.Hour, reconcile.Shard{}, 10.1}, // rounded up: 10.0003 would not fit
		{18000, time.Hour, reconcile.Shard{Index: 1, Count: 4}, 20},
		{10, time.Minute, reconcile.Shard{}, 0.2},
	} {
		if got := rateToFit(tt.toFetch, tt.d, tt.shard); got != tt.want {
			t.Errorf("rateToFit(%d, %s, %s) = %g, want %g", tt.toFetch, tt.d, tt.shard, got, tt.want)
		}
	}
}
