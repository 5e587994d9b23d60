package job

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
	"github.com/unico-reconcile/unico-reconcile/reports"
	"github.com/unico-reconcile/unico-reconcile/state"
	"github.com/unico-reconcile/unico-reconcile/store"
)

// A run's place in the run history: which run this is (new, resumed or a
// re-check), what it records before it starts and when it ends.

// openState opens the run history and makes this process its only user.
func openState(ctx context.Context, path string, started time.Time, log *slog.Logger) (*state.DB, error) {
	db, err := state.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	prev, err := db.Lock(ctx, state.Holder{PID: os.Getpid(), Host: host, Since: started})
	if err != nil {
		db.Close()
		return nil, err
	}
	if prev != nil {
		log.Warn("took over the run history's lock from a process that is gone",
			"state", path, "pid", prev.PID, "host", prev.Host, "since", prev.Since.UTC().Format(time.RFC3339), "run_id", prev.RunID)
	}
	return db, nil
}

// pick decides which run this is: a new one, the unfinished one to resume,
// or a re-check of an earlier one.
func (j *job) pick(ctx context.Context) error {
	o := &j.o
	j.run = state.Run{ID: NewRunID(j.started), StartedAt: j.started, State: state.RunRunning, ExitCode: -1}
	switch {
	case j.db == nil:
		return nil
	case o.Resume:
		r, ok, err := j.resumable(ctx)
		if err != nil || !ok {
			return err
		}
		if err := j.adopt(r); err != nil {
			return err
		}
		j.run, j.resumed = r, true
		j.run.State = state.RunRunning
		return nil
	case o.Recheck != "":
		r, err := j.db.Run(ctx, o.Recheck)
		if err != nil {
			return err
		}
		if r.State != state.RunFinished && !endedByOutage(r) {
			return fmt.Errorf("--recheck %s: run %s did not finish (%s); continue it with --resume", o.Recheck, r.ID, r.State)
		}
		if err := j.adopt(r); err != nil {
			return err
		}
		j.run.RecheckOf = r.ID
		return nil
	}
	return nil
}

// endedByOutage reports whether run r was ended by an API outage: it is
// resumable, but it also accounted for every row (those not fetched are
// listed unverified), so a re-check may take it up as well.
func endedByOutage(r state.Run) bool {
	if len(r.Summary) == 0 {
		return false
	}
	s, err := reports.ReadSummary(r.Summary)
	return err == nil && s.Outage != nil
}

// specOf reads the spec run r recorded.
func specOf(r state.Run) (Spec, error) {
	var s Spec
	if r.Params == nil {
		return s, nil
	}
	if err := json.Unmarshal(r.Params, &s); err != nil {
		return s, fmt.Errorf("run %s: parameters: %w", r.ID, err)
	}
	return s, nil
}

// resumable finds the run Resume continues: the newest run of the same
// job (source, query, window and API root), when it did not finish. A job
// whose newest run finished starts afresh: an older run it superseded is
// not taken up again.
func (j *job) resumable(ctx context.Context) (state.Run, bool, error) {
	o := j.o
	key, err := sourceKey(o.Source)
	if err != nil {
		return state.Run{}, false, err
	}
	runs, err := j.db.RunsOf(ctx, key, o.Query)
	if err != nil {
		return state.Run{}, false, err
	}
	for _, r := range runs {
		p, err := specOf(r)
		if err != nil {
			return state.Run{}, false, err
		}
		if p.APIRoot != o.APIRoot || !p.Since.Equal(o.Since) || !p.Until.Equal(o.Until) ||
			(o.Given.Has(GivenShard) && p.Shard.String() != o.Shard.String()) {
			continue // another job on the same source (without --shard, any shard's)
		}
		if r.State == state.RunFinished {
			break
		}
		return r, true, nil
	}
	j.log.Info("nothing to resume for this source and window: starting a new run", "source", o.Source)
	return state.Run{}, false, nil
}

// adopt takes the spec of an earlier run r (adopt in spec.go), and its
// report folder when the run continues it and no --out was given.
func (j *job) adopt(r state.Run) error {
	prev, err := specOf(r)
	if err != nil {
		return err
	}
	if j.o.Spec, err = adopt(j.o.Spec, j.o.Given, r.ID, r.Source, prev); err != nil {
		return err
	}
	if !j.o.Given.Has(GivenOut) && j.o.Recheck == "" {
		j.o.Out = r.Out
	}
	return nil
}

// record writes the run into the history before anything is fetched.
func (j *job) record(ctx context.Context, sv store.Survey) error {
	j.o.SourceSHA256 = sv.SHA256
	params, err := json.Marshal(j.o.Spec)
	if err != nil {
		return err
	}
	j.run.Params = params // the manifest's parameters, with or without a history
	if j.db == nil {
		return nil
	}
	key, err := sourceKey(j.o.Source)
	if err != nil {
		return err
	}
	if j.resumed && j.run.Fingerprint != "" && j.run.Fingerprint != sv.SHA256 {
		j.log.Warn("the source changed since the run started: recorded answers are matched by process id",
			"run_id", j.run.ID, "was_sha256", j.run.Fingerprint, "now_sha256", sv.SHA256)
	}
	j.run.Source, j.run.Query, j.run.Fingerprint, j.run.APIRoot = key, j.o.Query, sv.SHA256, j.o.APIRoot
	if j.run.Out, err = filepath.Abs(j.o.Out); err != nil {
		return err
	}
	login, host := Runner()
	if j.resumed {
		if err := j.db.UpdateRun(ctx, j.run); err != nil {
			return err
		}
		return j.db.SetRunner(ctx, j.run.ID, login, host)
	}
	if err := j.db.CreateRun(ctx, j.run); err != nil {
		return err
	}
	if err := j.db.SetRunner(ctx, j.run.ID, login, host); err != nil {
		return err
	}
	if j.run.RecheckOf == "" {
		return nil
	}
	n, err := j.db.CopyAnswers(ctx, j.run.RecheckOf, j.run.ID)
	if err != nil {
		return err
	}
	j.log.Info("recheck: verified answers carried over", "run_id", j.run.ID, "recheck_of", j.run.RecheckOf, "answers", n)
	return nil
}

// plan logs how much is left to fetch and how long that should take at the
// rate, and warns when that exceeds MaxDuration.
func (j *job) plan(ctx context.Context, rows int) {
	answered := 0
	if j.db != nil {
		n, err := j.db.Answered(ctx, j.run.ID)
		if err != nil {
			j.log.Warn("plan: cannot count recorded answers", "error", err.Error())
		}
		answered = n
	}
	toFetch, rate := max(rows-answered, 0), j.o.ShardRate()
	attrs := []any{"run_id", j.run.ID, "rows", rows, "recorded", answered, "to_fetch", toFetch, "rate", rate}
	if rate <= 0 {
		j.log.Info("plan", attrs...)
		return
	}
	expected := time.Duration(float64(toFetch) / rate * float64(time.Second)).Round(time.Second)
	attrs = append(attrs, "expected", expected.String())
	if j.o.MaxDuration > 0 {
		attrs = append(attrs, "max_duration", j.o.MaxDuration.String())
		if expected > j.o.MaxDuration {
			fit := rateToFit(toFetch, j.o.MaxDuration, j.o.Shard)
			attrs = append(attrs, "rate_to_fit", fit)
			j.log.Warn(fmt.Sprintf("plan exceeds --max-duration: the run will stop early (--resume continues it); --rate %g would fit, if the tenant's limit leaves room for it", fit), attrs...)
			return
		}
	}
	j.log.Info("plan", attrs...)
}

// end records how the run ended: finished, or stopped (resumable) when it
// was interrupted or failed.
func (j *job) end(sum reconcile.Summary, summary []byte, code int) error {
	if j.db == nil {
		return nil
	}
	j.run.FinishedAt, j.run.ExitCode, j.run.Summary = time.Now().UTC(), code, summary
	j.run.State = state.RunFinished
	if sum.Interrupted || code == reconcile.ExitFatal {
		j.run.State = state.RunStopped
	}
	j.run.Counts = countsOf(sum)
	// The run's end is recorded even when a signal cancelled its context.
	return j.db.UpdateRun(context.Background(), j.run)
}

func (j *job) statePath() string {
	if j.db == nil {
		return ""
	}
	return j.db.Path()
}

// rateToFit is the --rate, rounded up to a tenth, at which toFetch
// processes take at most d; a sharded run's --rate is split among its
// shards (Shard.ShareOf), so the flag must be the shard's need times their
// number.
func rateToFit(toFetch int, d time.Duration, sh reconcile.Shard) float64 {
	need := float64(toFetch) / d.Seconds() * float64(sh.Parts())
	return math.Ceil(need*10) / 10
}
