package state_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/unico-reconcile/unico-reconcile/state"
)

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestDB_Runner(t *testing.T) {
	ctx := context.Background()
	db := MustOpenTemp(t)
	MustCreateRun(t, db, "r1", at)
	t.Run("NotRecorded", func(t *testing.T) {
		if u, h, err := db.Runner(ctx, "r1"); err != nil || u != "" || h != "" {
			t.Fatalf("Runner = %q, %q, %v; want empty", u, h, err)
		}
	})
	t.Run("OK", func(t *testing.T) {
		if err := db.SetRunner(ctx, "r1", "alice", "batch1"); err != nil {
			t.Fatal(err)
		}
		if err := db.SetRunner(ctx, "r1", "bob", "batch2"); err != nil { // a resume: who resumed it
			t.Fatal(err)
		}
		if u, h, err := db.Runner(ctx, "r1"); err != nil || u != "bob" || h != "batch2" {
			t.Fatalf("Runner = %q, %q, %v; want bob, batch2", u, h, err)
		}
	})
	t.Run("ErrNoRun", func(t *testing.T) {
		if err := db.SetRunner(ctx, "nope", "a", "b"); !errors.Is(err, state.ErrNoRun) {
			t.Fatalf("SetRunner of an unknown run: %v, want ErrNoRun", err)
		}
	})
}

// TestDB_AppendManifest builds a chain of three runs, one of them
// resumed (two manifests), and reads it back.
func TestDB_AppendManifest(t *testing.T) {
	ctx := context.Background()
	db := MustOpenTemp(t)
	for i, id := range []string{"r1", "r2", "r3"} {
		MustCreateRun(t, db, id, at.Add(time.Duration(i)*time.Hour))
	}
	if head, err := db.ChainHead(ctx); err != nil || head != "" {
		t.Fatalf("ChainHead of an empty chain = %q, %v", head, err)
	}
	var want []state.Link
	prev := ""
	for i, id := range []string{"r1", "r2", "r2", "r3"} {
		data := []byte(`{"run":"` + id + `","n":` + string(rune('0'+i)) + `}`)
		got, err := db.AppendManifest(ctx, id, prev, data)
		if err != nil {
			t.Fatal(err)
		}
		if got != sha(data) {
			t.Fatalf("AppendManifest = %s, want the data's sha256 %s", got, sha(data))
		}
		want = append(want, state.Link{Seq: int64(i + 1), RunID: id, SHA256: got, Previous: prev, Data: data})
		prev = got
	}
	t.Run("Chain", func(t *testing.T) {
		var got []state.Link
		if err := db.Chain(ctx, func(l state.Link) error { got = append(got, l); return nil }); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("chain (-want +got):\n%s", diff)
		}
		if head, _ := db.ChainHead(ctx); head != prev {
			t.Errorf("ChainHead = %s, want %s", head, prev)
		}
	})
	t.Run("LatestManifest", func(t *testing.T) {
		l, ok, err := db.LatestManifest(ctx, "r2")
		if err != nil || !ok {
			t.Fatalf("LatestManifest(r2) = %v, %v", ok, err)
		}
		if diff := cmp.Diff(want[2], l); diff != "" {
			t.Errorf("LatestManifest(r2) (-want +got):\n%s", diff)
		}
		MustCreateRun(t, db, "r4", at.Add(4*time.Hour))
		if _, ok, err := db.LatestManifest(ctx, "r4"); ok || err != nil {
			t.Errorf("LatestManifest of a run without one = %v, %v; want false", ok, err)
		}
	})
	t.Run("ErrChainMoved", func(t *testing.T) {
		for _, stale := range []string{"", want[1].SHA256} {
			if _, err := db.AppendManifest(ctx, "r3", stale, []byte("{}")); !errors.Is(err, state.ErrChainMoved) {
				t.Errorf("AppendManifest after %q: %v, want ErrChainMoved", stale, err)
			}
		}
	})
}
