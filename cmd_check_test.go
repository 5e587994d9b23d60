package main

import (
	"testing"

	"github.com/urfave/cli/v2"
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
