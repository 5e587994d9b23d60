package state_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/gofrs/flock"
	"github.com/google/go-cmp/cmp"

	"github.com/unico-reconcile/unico-reconcile/state"
)

var holder = state.Holder{PID: 1234, Host: "h", Since: time.Date(2026, 11, 27, 16, 0, 0, 0, time.UTC),
	RunID: "20261127T160000Z-a1b2c3"}

func TestDB_Lock(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	db1, db2 := MustOpen(t, path), MustOpen(t, path)

	prev, err := db1.Lock(ctx, holder)
	if err != nil || prev != nil {
		t.Fatalf("Lock = %v, %v; want nil, nil", prev, err)
	}
	t.Run("ErrLocked", func(t *testing.T) {
		_, err := db2.Lock(ctx, state.Holder{PID: 99, Host: "other", Since: time.Now()})
		var lerr *state.LockedError
		if !errors.As(err, &lerr) {
			t.Fatalf("second Lock: %v, want a *LockedError", err)
		}
		if diff := cmp.Diff(&holder, lerr.Holder); diff != "" {
			t.Errorf("holder (-want +got):\n%s", diff)
		}
		want := "state " + path + " is in use by pid 1234 on host h since 2026-11-27T16:00:00Z (run 20261127T160000Z-a1b2c3)"
		if got := err.Error(); got != want {
			t.Errorf("error\n%s\nwant\n%s", got, want)
		}
	})
	t.Run("UnlockThenLock", func(t *testing.T) {
		if err := db1.Unlock(); err != nil {
			t.Fatal(err)
		}
		prev, err := db2.Lock(ctx, state.Holder{PID: 2, Host: "h2", Since: at})
		if err != nil || prev != nil {
			t.Fatalf("Lock after Unlock = %v, %v; want nil, nil", prev, err)
		}
		if err := db2.Unlock(); err != nil {
			t.Fatal(err)
		}
		if prev, err := db1.Lock(ctx, holder); err != nil || prev != nil {
			t.Fatalf("Lock again = %v, %v; want nil, nil", prev, err)
		}
		// The DB still works after its connections were reopened.
		MustCreateRun(t, db1, "r1", at)
		if _, err := db2.Run(ctx, "r1"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("CloseUnlocks", func(t *testing.T) {
		if err := db1.Close(); err != nil {
			t.Fatal(err)
		}
		prev, err := db2.Lock(ctx, holder)
		if err != nil || prev != nil {
			t.Fatalf("Lock after Close = %v, %v; want nil, nil", prev, err)
		}
	})
	t.Run("ErrJournalOpen", func(t *testing.T) {
		j := MustJournal(t, db2, "r1")
		if err := db2.Unlock(); err == nil {
			t.Error("Unlock with a journal open succeeded")
		}
		j.Close()
		if err := db2.Unlock(); err != nil {
			t.Error(err)
		}
	})
}

// TestDB_Lock_HolderUnknown: a process that holds the flock but has not
// yet written its name.
func TestDB_Lock_HolderUnknown(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	db := MustOpen(t, path)
	fl := flock.New(path)
	if ok, err := fl.TryLock(); !ok || err != nil {
		t.Fatalf("TryLock = %v, %v", ok, err)
	}
	defer fl.Unlock()
	_, err := db.Lock(context.Background(), holder)
	var lerr *state.LockedError
	if !errors.As(err, &lerr) || lerr.Holder != nil {
		t.Fatalf("Lock: %v, want a *LockedError with no holder", err)
	}
	if want := "state " + path + " is in use by another process (holder unknown)"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}

// TestDB_Lock_TakeOver: a process that locked the database and was killed
// leaves its holder row, but the kernel releases its flock: the next Lock
// takes over and names it.
func TestDB_Lock_TakeOver(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	db := MustOpen(t, path)

	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperLockHolder$")
	cmd.Env = append(os.Environ(), "STATE_TEST_LOCK_HOLDER="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for sc := bufio.NewScanner(out); ; {
		if !sc.Scan() {
			t.Fatalf("the helper ended before it locked: %v", sc.Err())
		}
		if sc.Text() == "locked" {
			break
		}
	}
	child := cmd.Process.Pid

	_, err = db.Lock(ctx, holder)
	var lerr *state.LockedError
	if !errors.As(err, &lerr) || lerr.Holder == nil || lerr.Holder.PID != child {
		t.Fatalf("Lock while the child holds it: %v, want a *LockedError naming pid %d", err, child)
	}

	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no chance to unlock
		t.Fatal(err)
	}
	cmd.Wait()
	prev, err := db.Lock(ctx, holder)
	if err != nil {
		t.Fatalf("Lock after the holder died: %v", err)
	}
	if prev == nil || prev.PID != child || prev.Host != "child" || prev.RunID != "child-run" {
		t.Fatalf("previous holder = %+v, want the child's pid %d", prev, child)
	}
}

// TestHelperLockHolder is the child process of TestDB_Lock_TakeOver: it
// locks the database, says so, and waits to be killed.
func TestHelperLockHolder(t *testing.T) {
	path := os.Getenv("STATE_TEST_LOCK_HOLDER")
	if path == "" {
		t.Skip("the child process of TestDB_Lock_TakeOver")
	}
	db, err := state.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	h := state.Holder{PID: os.Getpid(), Host: "child", Since: time.Now(), RunID: "child-run"}
	if _, err := db.Lock(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	fmt.Println("locked")
	time.Sleep(time.Minute)
	t.Fatal("not killed within a minute")
}
