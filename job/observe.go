package job

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/unico-reconcile/unico-reconcile/fetch"
	"github.com/unico-reconcile/unico-reconcile/metrics"
	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

// pushTimeout bounds the push to the Pushgateway at the end of a run.
const pushTimeout = 30 * time.Second

// barEvery is how often the progress bar is redrawn.
const barEvery = 200 * time.Millisecond

// kindOrder is every verdict kind, in the order progress shows them.
var kindOrder = append([]reconcile.Kind{reconcile.Match, reconcile.Pending}, reconcile.Kinds...)

// observer watches one run as it goes: it is the pipeline's
// reconcile.Observer, keeps the Prometheus metrics (--metrics-textfile,
// --pushgateway), draws the progress bar when stderr is a terminal, and
// logs a "progress" line every ProgressEvery otherwise.
type observer struct {
	o       Options
	log     *slog.Logger
	runID   string
	rows    int
	start   time.Time
	metrics *metrics.Run // nil without --metrics-textfile and --pushgateway
	bar     *progressbar.ProgressBar

	read, done atomic.Int64
	kinds      map[reconcile.Kind]*atomic.Int64 // read-only once built

	stop chan struct{}
	wg   sync.WaitGroup
}

var _ reconcile.Observer = (*observer)(nil)

// observe starts watching the run: it writes the metrics textfile once
// (an unwritable one stops the run now, not at its end) and starts the
// periodic work. The caller must call finish.
func (j *job) observe(rows int, client *fetch.Client) (*observer, error) {
	o := j.o
	ob := &observer{o: o, log: j.log, runID: j.run.ID, rows: rows, start: j.started,
		kinds: make(map[reconcile.Kind]*atomic.Int64, len(kindOrder)), stop: make(chan struct{})}
	for _, k := range kindOrder {
		ob.kinds[k] = new(atomic.Int64)
	}
	if o.MetricsTextfile != "" || o.Pushgateway != "" {
		ob.metrics = metrics.New(metrics.Config{Start: j.started, Rows: rows, Shard: o.Shard,
			Responses: client.Responses, Rate: client.Rate, Breaker: client.Probes, Slowdown: client.Slowdown})
	}
	if o.MetricsTextfile != "" {
		if err := ob.metrics.KeepLastSuccess(o.MetricsTextfile); err != nil {
			j.log.Warn("metrics textfile: cannot read the last success from it", "error", err.Error())
		}
		if err := ob.metrics.WriteTextfile(o.MetricsTextfile); err != nil {
			return nil, fmt.Errorf("--metrics-textfile: %w", err)
		}
	}
	if o.Progress != nil && rows > 0 {
		ob.bar = progressbar.NewOptions64(int64(rows),
			progressbar.OptionSetWriter(o.Progress),
			progressbar.OptionSetDescription("reconciling"),
			progressbar.OptionSetWidth(24),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("rows"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionShowDescriptionAtLineEnd(),
			progressbar.OptionThrottle(barEvery/2),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionSetRenderBlankState(true),
		)
	}
	ob.wg.Add(1)
	go ob.loop()
	return ob, nil
}

// Read counts a row read from the source.
func (ob *observer) Read() { ob.read.Add(1) }

// Verdict counts a verdict.
func (ob *observer) Verdict(d reconcile.Discrepancy) {
	ob.done.Add(1)
	if n := ob.kinds[d.Kind]; n != nil {
		n.Add(1)
	}
	if ob.metrics != nil {
		ob.metrics.Verdict(d)
	}
}

// loop redraws the bar, and every ProgressEvery rewrites the textfile and
// (without a bar) logs the progress, until finish.
func (ob *observer) loop() {
	defer ob.wg.Done()
	every := time.NewTicker(ob.o.ProgressEvery)
	defer every.Stop()
	var redraw <-chan time.Time
	if ob.bar != nil {
		t := time.NewTicker(barEvery)
		defer t.Stop()
		redraw = t.C
	}
	last, lastAt := int64(0), ob.start
	for {
		select {
		case <-ob.stop:
			return
		case <-redraw:
			// Up to inProgress rows are read ahead of their verdicts (more
			// at the very start): the bar shows what is behind them.
			_ = ob.bar.Set64(max(ob.done.Load(), ob.read.Load()-int64(inProgress(ob.o.Workers))))
			ob.bar.Describe(ob.kindsText(" "))
		case now := <-every.C:
			if ob.o.MetricsTextfile != "" {
				if err := ob.metrics.WriteTextfile(ob.o.MetricsTextfile); err != nil {
					ob.log.Error("metrics textfile", "error", err.Error())
				}
			}
			if ob.bar == nil {
				read := ob.read.Load()
				ob.logProgress(read, float64(read-last)/now.Sub(lastAt).Seconds())
				last, lastAt = read, now
			}
		}
	}
}

// logProgress logs one "progress" line: rows read of the source's, the
// processes done, the rate over the last period and the ETA at that rate,
// and the kinds found so far.
func (ob *observer) logProgress(read int64, perSecond float64) {
	attrs := []any{"run_id", ob.runID, "read", read, "rows", ob.rows, "processes", ob.done.Load(),
		"rows_per_second", float64(int64(perSecond*10)) / 10}
	if left := int64(ob.rows) - read; perSecond > 0 && left > 0 {
		attrs = append(attrs, "eta", (time.Duration(float64(left)/perSecond) * time.Second).Round(time.Second).String())
	}
	if ob.o.Shard.Sharded() {
		attrs = append(attrs, "shard", ob.o.Shard.String())
	}
	for _, k := range kindOrder {
		if n := ob.kinds[k].Load(); n > 0 {
			attrs = append(attrs, string(k), n)
		}
	}
	ob.log.Info("progress", attrs...)
}

// kindsText lists the kinds found so far, "kind n" joined by sep.
func (ob *observer) kindsText(sep string) string {
	var parts []string
	for _, k := range kindOrder {
		if n := ob.kinds[k].Load(); n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, n))
		}
	}
	return strings.Join(parts, sep)
}

// finish stops the periodic work, clears the bar, and writes and pushes
// the final metrics: the exit code is sum's, or 2 when err is set. A
// metrics failure is logged; it does not change how the run ended.
func (ob *observer) finish(sum reconcile.Summary, err error) {
	close(ob.stop)
	ob.wg.Wait()
	if ob.bar != nil {
		_ = ob.bar.Set64(ob.read.Load())
		_ = ob.bar.Finish()
	}
	if ob.metrics == nil {
		return
	}
	code := sum.ExitCode
	if err != nil {
		code = reconcile.ExitFatal
	}
	if o := sum.Outage; o != nil && err == nil {
		ob.metrics.Outage(o.Since, o.Watched)
	}
	ob.metrics.Finish(code, time.Now())
	if ob.o.MetricsTextfile != "" {
		if err := ob.metrics.WriteTextfile(ob.o.MetricsTextfile); err != nil {
			ob.log.Error("metrics textfile", "error", err.Error())
		}
	}
	if ob.o.Pushgateway != "" {
		ctx, cancel := context.WithTimeout(context.Background(), pushTimeout)
		defer cancel()
		if err := ob.metrics.Push(ctx, ob.o.Pushgateway, "unico_reconcile", ob.o.HTTPClient); err != nil {
			ob.log.Error("pushgateway", "error", err.Error())
		}
	}
}
