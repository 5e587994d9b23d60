package state_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/unico-reconcile/unico-reconcile/state"
)

func TestDB_CreateRun(t *testing.T) {
	ctx := context.Background()
	db := MustOpenTemp(t)
	sp := time.FixedZone("", -3*3600)
	r := state.Run{
		ID: "20261127T160000Z-a1b2c3", Source: "/data/outcomes.db", Query: "SELECT * FROM processes",
		Fingerprint: "", APIRoot: "https://api.id.unico.app",
		Params: json.RawMessage(`{"rate":10,"workers":16}`), Out: "out/20261127T160000Z",
		StartedAt: time.Date(2026, 11, 27, 13, 0, 0, 5, sp), State: state.RunRunning, ExitCode: -1,
	}
	if err := db.CreateRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	got, err := db.Run(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := r
	want.StartedAt = r.StartedAt.UTC() // the instant, read back in UTC
	want.Counts = map[string]int{}
	if diff := cmp.Diff(want, got, exact); diff != "" {
		t.Errorf("Run (-want +got):\n%s", diff)
	}

	t.Run("UpdateRun", func(t *testing.T) {
		r := got
		r.Fingerprint = strings.Repeat("ab", 32)
		r.Params = json.RawMessage(`{"rate":0}`)
		r.Out = "out/elsewhere"
		r.FinishedAt = at
		r.State = state.RunFinished
		r.ExitCode = 1
		r.Counts = map[string]int{"total": 10, "matched": 8, "status_mismatch": 2}
		r.Summary = []byte("{\"run_id\": \"x\"}\n")
		if err := db.UpdateRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		got, err := db.Run(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(r, got, exact); diff != "" {
			t.Errorf("Run after UpdateRun (-want +got):\n%s", diff)
		}
	})
	for _, tt := range []struct {
		name string
		run  state.Run
	}{
		{"ErrDuplicateID", r},
		{"ErrNoID", state.Run{State: state.RunRunning}},
		{"ErrState", state.Run{ID: "x", State: "paused"}},
		{"ErrParamsNotObject", state.Run{ID: "y", State: state.RunRunning, Params: json.RawMessage(`[1]`)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := db.CreateRun(ctx, tt.run); err == nil {
				t.Error("CreateRun succeeded")
			}
		})
	}
	t.Run("ErrNoRun", func(t *testing.T) {
		if _, err := db.Run(ctx, "nope"); !errors.Is(err, state.ErrNoRun) || !strings.Contains(err.Error(), "nope") {
			t.Errorf("Run(nope): %v, want ErrNoRun naming nope", err)
		}
		err := db.UpdateRun(ctx, state.Run{ID: "nope", State: state.RunFinished})
		if !errors.Is(err, state.ErrNoRun) {
			t.Errorf("UpdateRun(nope): %v, want ErrNoRun", err)
		}
	})
}

func TestDB_Runs(t *testing.T) {
	ctx := context.Background()
	db := MustOpenTemp(t)
	if _, err := db.Run(ctx, "last"); !errors.Is(err, state.ErrNoRun) {
		t.Errorf("Run(last) on no runs: %v, want ErrNoRun", err)
	}
	// Created out of time order; Runs and "last" go by StartedAt.
	for _, c := range []struct {
		id    string
		start time.Duration
		state state.RunState
		query string
	}{
		{"b", 2 * time.Hour, state.RunStopped, ""},
		{"a", time.Hour, state.RunRunning, ""},
		{"d", 4 * time.Hour, state.RunFinished, ""},
		{"c", 3 * time.Hour, state.RunRunning, "SELECT 1"},
		{"e", 3*time.Hour + time.Nanosecond, state.RunFinished, ""},
	} {
		r := state.Run{ID: c.id, Source: "/s.db", Query: c.query, StartedAt: at.Add(c.start), State: c.state, ExitCode: -1}
		if err := db.CreateRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	runs, err := db.Runs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range runs {
		ids = append(ids, r.ID)
	}
	if diff := cmp.Diff([]string{"a", "b", "c", "e", "d"}, ids); diff != "" {
		t.Errorf("Runs order (-want +got):\n%s", diff)
	}
	if r, err := db.Run(ctx, "last"); err != nil || r.ID != "d" {
		t.Errorf("Run(last) = %q, %v; want d", r.ID, err)
	}
	for _, tt := range []struct {
		name, source, query string
		want                []string
	}{
		{"NewestFirst", "/s.db", "", []string{"d", "e", "b", "a"}},
		{"ByQuery", "/s.db", "SELECT 1", []string{"c"}},
		{"None", "/other.db", "", nil},
	} {
		t.Run("RunsOf"+tt.name, func(t *testing.T) {
			runs, err := db.RunsOf(ctx, tt.source, tt.query)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, r := range runs {
				ids = append(ids, r.ID)
			}
			if diff := cmp.Diff(tt.want, ids); diff != "" {
				t.Errorf("RunsOf (-want +got):\n%s", diff)
			}
		})
	}
}
