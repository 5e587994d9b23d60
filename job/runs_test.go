package job

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
	"github.com/unico-reconcile/unico-reconcile/state"
)

var historyFixture = []state.Run{
	{
		ID: "20261127T020000Z-a1b2c3", Source: "/data/saved.csv", Fingerprint: "ab12", APIRoot: "https://api.id.unico.app",
		StartedAt: time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC), FinishedAt: time.Date(2026, 11, 27, 3, 1, 30, 0, time.UTC),
		State: state.RunFinished, ExitCode: 3, Out: "out/20261127T020000Z",
		Counts: map[string]int{"total": 10, "matched": 7, "unverified": 2, "lost_response": 1},
	},
	{
		ID: "20261127T090000Z-d4e5f6", Source: "/data/saved.csv", RecheckOf: "20261127T020000Z-a1b2c3", APIRoot: "https://api.id.unico.app",
		StartedAt: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC), State: state.RunRunning, ExitCode: -1, Out: "out/20261127T090000Z",
	},
}

var repairFixture = []state.Repair{
	{ID: "20261127T040000Z-000001", RunID: "20261127T020000Z-a1b2c3", StartedAt: time.Date(2026, 11, 27, 4, 0, 0, 0, time.UTC),
		FinishedAt: time.Date(2026, 11, 27, 4, 0, 2, 0, time.UTC), Login: "ops", Host: "batch1",
		Kinds: []reconcile.Kind{reconcile.LostResponse}, Target: "sqlite:/data/app.db", ExitCode: 0,
		Counts: state.RepairCounts{Selected: 1, Changed: 1}},
	{ID: "20261127T050000Z-000002", RunID: "20261127T020000Z-a1b2c3", StartedAt: time.Date(2026, 11, 27, 5, 0, 0, 0, time.UTC),
		FinishedAt: time.Date(2026, 11, 27, 5, 0, 1, 0, time.UTC), Login: "ops", Host: "batch1",
		Kinds: []reconcile.Kind{reconcile.LostResponse}, Target: "sqlite:/data/app.db", Applied: true, ExitCode: 1,
		Counts: state.RepairCounts{Selected: 1, Conflicts: 1}},
}

func TestWriteRunsTable(t *testing.T) {
	var b bytes.Buffer
	if err := WriteRunsTable(&b, historyFixture, repairFixture); err != nil {
		t.Fatal(err)
	}
	want := `RUN                               STARTED (UTC)        DURATION  STATE     EXIT  SOURCE               COUNTS
20261127T020000Z-a1b2c3           2026-11-27 02:00:00  1h1m30s   finished  3     /data/saved.csv      total=10 matched=7 lost_response=1 unverified=2
  repair 20261127T040000Z-000001  2026-11-27 04:00:00  2s        dry run   0     sqlite:/data/app.db  selected=1 changed=1 done=0 conflicts=0 missing=0
  repair 20261127T050000Z-000002  2026-11-27 05:00:00  1s        applied   1     sqlite:/data/app.db  selected=1 changed=0 done=0 conflicts=1 missing=0
20261127T090000Z-d4e5f6           2026-11-27 09:00:00  -         running   -     /data/saved.csv      -
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestWriteRunsJSON(t *testing.T) {
	var b bytes.Buffer
	if err := WriteRunsJSON(&b, historyFixture, repairFixture[:1]); err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b.String())
	}
	want := []map[string]any{
		{
			"run_id": "20261127T020000Z-a1b2c3", "state": "finished", "started_at": "2026-11-27T02:00:00Z",
			"finished_at": "2026-11-27T03:01:30Z", "duration_seconds": 3690.0, "source": "/data/saved.csv",
			"source_sha256": "ab12", "api_root": "https://api.id.unico.app", "out": "out/20261127T020000Z", "exit_code": 3.0,
			"counts": map[string]any{"total": 10.0, "matched": 7.0, "unverified": 2.0, "lost_response": 1.0},
			"repairs": []any{map[string]any{
				"repair_id": "20261127T040000Z-000001", "started_at": "2026-11-27T04:00:00Z", "finished_at": "2026-11-27T04:00:02Z",
				"user": "ops", "host": "batch1", "kinds": []any{"lost_response"}, "target": "sqlite:/data/app.db",
				"applied": false, "out": "", "exit_code": 0.0,
				"counts": map[string]any{"selected": 1.0, "changed": 1.0, "done": 0.0, "conflicts": 0.0, "missing": 0.0},
			}},
		},
		{
			"run_id": "20261127T090000Z-d4e5f6", "state": "running", "started_at": "2026-11-27T09:00:00Z",
			"finished_at": nil, "duration_seconds": nil, "source": "/data/saved.csv", "recheck_of": "20261127T020000Z-a1b2c3",
			"api_root": "https://api.id.unico.app", "out": "out/20261127T090000Z", "exit_code": nil, "counts": nil,
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
