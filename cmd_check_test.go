package main

import (
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

// TestRunFlags_RateDefault: the job takes half of the tenant's default
// limit, leaving the other half to production.
func TestRunFlags_RateDefault(t *testing.T) {
	for _, f := range runFlags() {
		if ff, ok := f.(*cli.Float64Flag); ok && ff.Name == "rate" {
			if ff.Value != 5 {
				t.Errorf("--rate defaults to %g, want 5", ff.Value)
			}
			return
		}
	}
	t.Fatal("no --rate flag")
}

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
