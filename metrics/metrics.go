package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/push"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/unico-reconcile/unico-reconcile/internal/atomicfile"
	"github.com/unico-reconcile/unico-reconcile/internal/redact"
	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

// The metrics' names, as Prometheus's naming conventions have them: one
// prefix, base units (seconds), _total for counters, labels kind and code.
const (
	MetricLastRunStart    = "unico_reconcile_last_run_start_timestamp_seconds"
	MetricLastSuccess     = "unico_reconcile_last_success_timestamp_seconds"
	MetricLastRunDuration = "unico_reconcile_last_run_duration_seconds"
	MetricLastRunExitCode = "unico_reconcile_last_run_exit_code"
	MetricSourceRows      = "unico_reconcile_source_rows"
	MetricProcesses       = "unico_reconcile_processes_total"
	MetricRequests        = "unico_reconcile_requests_total"
	MetricRetries         = "unico_reconcile_retries_total"
	MetricRateLimited     = "unico_reconcile_rate_limited_total"
	MetricRate            = "unico_reconcile_rate_limit_requests_per_second"
	MetricAPIUnavailable  = "unico_reconcile_api_unavailable"
	MetricProbes          = "unico_reconcile_api_probes_total"
	MetricOutageStart     = "unico_reconcile_last_run_outage_start_timestamp_seconds"
	MetricOutageWatched   = "unico_reconcile_last_run_outage_watched_seconds"
	MetricLowestRate      = "unico_reconcile_lowest_rate_requests_per_second"
	MetricBelowRate       = "unico_reconcile_below_rate_seconds"
)

// Config is what a run's metrics read from the rest of the run.
type Config struct {
	// Start is when the run started.
	Start time.Time
	// Rows is how many rows the source holds (store.Survey).
	Rows int
	// Shard, when sharded, labels every metric shard="I" (and groups the
	// push by it), so that the shards of one job do not overwrite one
	// another.
	Shard reconcile.Shard
	// Responses returns the requests sent by HTTP status, 0 for none
	// (fetch.Client.Responses); nil means no requests_total metric.
	Responses func() map[int]int64
	// Rate returns the current request rate, 0 when unlimited
	// (fetch.Client.Rate); nil means no rate metric.
	Rate func() float64
	// Breaker returns the probes the circuit breaker has sent and whether
	// it is open now (fetch.Client.Probes); nil means no breaker metrics.
	Breaker func() (probes int, open bool)
	// Slowdown returns the lowest rate 429s cut the run to (0: none did)
	// and how long it ran below its rate (fetch.Client.Slowdown); nil
	// means no slowdown metrics.
	Slowdown func() (lowest float64, below time.Duration)
	// Now is the clock of the duration while the run goes on; nil means
	// time.Now.
	Now func() time.Time
}

// Run is one run's Prometheus metrics, for the node_exporter textfile
// collector (WriteTextfile) and the Pushgateway (Push). Counters count this
// run only: each run starts them at zero. It is safe for concurrent use.
type Run struct {
	reg   *prometheus.Registry
	cfg   Config
	label prometheus.Labels

	duration, exitCode prometheus.Gauge
	processes          map[reconcile.Kind]prometheus.Counter
	retries, limited   prometheus.Counter

	mu       sync.Mutex
	finished bool
	success  prometheus.Gauge // registered once it has a value
	outage   bool
}

// New returns the metrics of a run that starts at cfg.Start.
func New(cfg Config) *Run {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m := &Run{reg: prometheus.NewRegistry(), cfg: cfg, processes: map[reconcile.Kind]prometheus.Counter{}}
	if cfg.Shard.Sharded() {
		m.label = prometheus.Labels{"shard": strconv.Itoa(cfg.Shard.Index)}
	}
	gauge := func(name, help string) prometheus.Gauge {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: m.label})
		m.reg.MustRegister(g)
		return g
	}
	counter := func(name, help string, labels prometheus.Labels) prometheus.Counter {
		c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: merge(m.label, labels)})
		m.reg.MustRegister(c)
		return c
	}
	gauge(MetricLastRunStart, "When the last run started, in seconds since the epoch.").Set(unix(cfg.Start))
	gauge(MetricSourceRows, "Rows in the last run's source.").Set(float64(cfg.Rows))
	m.duration = gauge(MetricLastRunDuration, "How long the last run took, or has taken so far, in seconds.")
	m.exitCode = gauge(MetricLastRunExitCode, "The last run's exit code; -1 while it runs.")
	m.exitCode.Set(-1)
	for _, k := range append([]reconcile.Kind{reconcile.Match, reconcile.Pending}, reconcile.Kinds...) {
		m.processes[k] = counter(MetricProcesses, "Processes of the last run, by verdict kind (match, pending, or a discrepancy kind).",
			prometheus.Labels{"kind": string(k)})
	}
	m.retries = counter(MetricRetries, "Requests the last run sent beyond the first per process.", nil)
	m.limited = counter(MetricRateLimited, "429 answers the last run got.", nil)
	m.success = prometheus.NewGauge(prometheus.GaugeOpts{Name: MetricLastSuccess,
		Help: "When a run last ended with exit code 0 or 1, in seconds since the epoch.", ConstLabels: m.label})
	if cfg.Responses != nil {
		m.reg.MustRegister(&requests{
			desc:      prometheus.NewDesc(MetricRequests, "Requests the last run sent, by the HTTP status of their answer (code=\"none\": no answer).", []string{"code"}, m.label),
			responses: cfg.Responses,
		})
	}
	if cfg.Rate != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: MetricRate,
			Help: "The request rate the last run paces itself to now, lowered after 429s; 0 means unlimited.", ConstLabels: m.label}, cfg.Rate))
	}
	if cfg.Slowdown != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: MetricLowestRate,
			Help: "The lowest rate 429s slowed the last run to (the tenant's limit was busy); 0 means they never did.", ConstLabels: m.label},
			func() float64 { l, _ := cfg.Slowdown(); return l }))
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: MetricBelowRate,
			Help: "How long 429s kept the last run below its rate, in seconds.", ConstLabels: m.label},
			func() float64 { _, b := cfg.Slowdown(); return b.Seconds() }))
	}
	if cfg.Breaker != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: MetricAPIUnavailable,
			Help: "1 while the API is unavailable (the circuit breaker is open), 0 otherwise.", ConstLabels: m.label},
			func() float64 {
				if _, open := cfg.Breaker(); open {
					return 1
				}
				return 0
			}))
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: MetricProbes,
			Help: "Probes the last run sent to an unavailable API.", ConstLabels: m.label},
			func() float64 { p, _ := cfg.Breaker(); return float64(p) }))
	}
	return m
}

// Outage records the outage that ended the run: when it began and how
// long it was watched.
func (m *Run) Outage(since time.Time, watched time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.outage {
		return
	}
	m.outage = true
	for _, g := range []struct {
		name, help string
		v          float64
	}{
		{MetricOutageStart, "When the API outage that ended the last run began, in seconds since the epoch.", unix(since)},
		{MetricOutageWatched, "How long the last run watched the API outage that ended it, in seconds.", watched.Seconds()},
	} {
		gauge := prometheus.NewGauge(prometheus.GaugeOpts{Name: g.name, Help: g.help, ConstLabels: m.label})
		gauge.Set(g.v)
		m.reg.MustRegister(gauge)
	}
}

func merge(a, b prometheus.Labels) prometheus.Labels {
	out := prometheus.Labels{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// requests collects requests_total from a function, at each gathering.
type requests struct {
	desc      *prometheus.Desc
	responses func() map[int]int64
}

func (r *requests) Describe(ch chan<- *prometheus.Desc) { ch <- r.desc }

func (r *requests) Collect(ch chan<- prometheus.Metric) {
	for status, n := range r.responses() {
		code := "none"
		if status != 0 {
			code = strconv.Itoa(status)
		}
		ch <- prometheus.MustNewConstMetric(r.desc, prometheus.CounterValue, float64(n), code)
	}
}

// Verdict counts one verdict; it is a reconcile.Observer's Verdict.
func (m *Run) Verdict(d reconcile.Discrepancy) {
	if c := m.processes[d.Kind]; c != nil {
		c.Inc()
	}
	if d.Attempts > 1 {
		m.retries.Add(float64(d.Attempts - 1))
	}
	if d.RateLimited > 0 {
		m.limited.Add(float64(d.RateLimited))
	}
}

// Finish records how the run ended, at: its duration, its exit code and,
// for exit code 0 or 1, the last success.
func (m *Run) Finish(exitCode int, at time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.finished = true
	m.duration.Set(at.Sub(m.cfg.Start).Seconds())
	m.exitCode.Set(float64(exitCode))
	if exitCode == reconcile.ExitOK || exitCode == reconcile.ExitDiscrepancies {
		m.setSuccess(at)
	}
}

// KeepLastSuccess carries the last success over from the textfile an
// earlier run wrote at path (this run's shard's), unless this run has
// already set its own: the textfile is rewritten whole, and a failed run
// must not make the last success disappear. A missing file is no error.
func (m *Run) KeepLastSuccess(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(f)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	mf := families[MetricLastSuccess]
	if mf == nil {
		return nil
	}
	for _, metric := range mf.GetMetric() {
		shard := ""
		for _, l := range metric.GetLabel() {
			if l.GetName() == "shard" {
				shard = l.GetValue()
			}
		}
		if shard != m.label["shard"] || metric.GetGauge() == nil {
			continue
		}
		m.mu.Lock()
		if !m.finished {
			m.setSuccess(time.Unix(0, int64(metric.GetGauge().GetValue()*1e9)))
		}
		m.mu.Unlock()
	}
	return nil
}

func (m *Run) setSuccess(at time.Time) {
	if m.success != nil {
		_ = m.reg.Register(m.success) // once; AlreadyRegistered after
		m.success.Set(unix(at))
	}
}

// update brings the duration up to now while the run goes on.
func (m *Run) update() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.finished {
		m.duration.Set(m.cfg.Now().Sub(m.cfg.Start).Seconds())
	}
}

// WriteText writes the metrics in Prometheus's text format.
func (m *Run) WriteText(w io.Writer) error {
	m.update()
	families, err := m.reg.Gather()
	if err != nil {
		return err
	}
	enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range families {
		if err := enc.Encode(mf); err != nil {
			return err
		}
	}
	return nil
}

// WriteTextfile writes the metrics to path for node_exporter's textfile
// collector: atomically (a temporary file in the same folder, renamed), so
// that the collector never reads half a file, and readable by all (mode
// 0644: the collector runs as another user; metrics hold no personal data).
func (m *Run) WriteTextfile(path string) error {
	return atomicfile.Write(path, 0o644, m.WriteText)
}

// Push sends the metrics to the Pushgateway at url under job (grouped by
// shard when sharded), replacing the metrics of the same names only (POST):
// a failed run leaves the last success pushed before in place.
func (m *Run) Push(ctx context.Context, url, job string, hc *http.Client) error {
	m.update()
	p := push.New(url, job).Client(hc)
	if s, ok := m.label["shard"]; ok {
		// The gateway adds the grouping labels itself and refuses metrics
		// that carry them.
		p = p.Grouping("shard", s).Gatherer(prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
			families, err := m.reg.Gather()
			for _, mf := range families {
				for _, metric := range mf.GetMetric() {
					metric.Label = slices.DeleteFunc(metric.Label, func(l *dto.LabelPair) bool { return l.GetName() == "shard" })
				}
			}
			return families, err
		}))
	} else {
		p = p.Gatherer(m.reg)
	}
	if err := p.AddContext(ctx); err != nil {
		// The library's error repeats the URL, password and all.
		return fmt.Errorf("push metrics to %s: %s", redact.URL(url), redact.Text(err.Error(), url))
	}
	return nil
}
