package metrics_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/unico-reconcile/unico-reconcile/metrics"
	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

var metricsStart = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// newMetrics is a run's metrics after three verdicts: a match, a
// not_found after one retry, and an unverified after two 429s.
func newMetrics(shard reconcile.Shard) *metrics.Run {
	m := metrics.New(metrics.Config{
		Start: metricsStart, Rows: 5, Shard: shard,
		Responses: func() map[int]int64 { return map[int]int64{200: 1, 404: 1, 0: 1, 429: 2} },
		Rate:      func() float64 { return 7.5 },
		Now:       func() time.Time { return metricsStart.Add(90 * time.Second) },
	})
	m.Verdict(reconcile.Discrepancy{Kind: reconcile.Match, Attempts: 1})
	m.Verdict(reconcile.Discrepancy{Kind: reconcile.NotFound, Attempts: 2})
	m.Verdict(reconcile.Discrepancy{Kind: reconcile.Unverified, Attempts: 3, RateLimited: 2})
	return m
}

// MustParseMetrics parses Prometheus's text format with its own parser.
func MustParseMetrics(tb testing.TB, r io.Reader) map[string]*dto.MetricFamily {
	tb.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(r)
	if err != nil {
		tb.Fatalf("parse metrics: %v", err)
	}
	return families
}

// value returns the value of the series of name whose labels include want.
func value(tb testing.TB, families map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	tb.Helper()
	mf := families[name]
	if mf == nil {
		return 0, false
	}
series:
	for _, m := range mf.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue series
			}
		}
		switch {
		case m.GetCounter() != nil:
			return m.GetCounter().GetValue(), true
		case m.GetGauge() != nil:
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

func TestMetrics_WriteTextfile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "unico_reconcile.prom")
	m := newMetrics(reconcile.Shard{})
	if err := m.WriteTextfile(path); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	if got, want := fi.Mode().Perm(), os.FileMode(0o644); got != want {
		t.Errorf("mode %v, want %v (node_exporter reads it as another user)", got, want)
	}
	families := MustParseMetrics(t, f)
	for _, tt := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{metrics.MetricLastRunStart, nil, float64(metricsStart.Unix())},
		{metrics.MetricLastRunDuration, nil, 90},
		{metrics.MetricLastRunExitCode, nil, -1},
		{metrics.MetricSourceRows, nil, 5},
		{metrics.MetricProcesses, map[string]string{"kind": "match"}, 1},
		{metrics.MetricProcesses, map[string]string{"kind": "not_found"}, 1},
		{metrics.MetricProcesses, map[string]string{"kind": "unverified"}, 1},
		{metrics.MetricProcesses, map[string]string{"kind": "lost_response"}, 0},
		{metrics.MetricRequests, map[string]string{"code": "200"}, 1},
		{metrics.MetricRequests, map[string]string{"code": "none"}, 1},
		{metrics.MetricRequests, map[string]string{"code": "429"}, 2},
		{metrics.MetricRetries, nil, 3},
		{metrics.MetricRateLimited, nil, 2},
		{metrics.MetricRate, nil, 7.5},
	} {
		got, ok := value(t, families, tt.name, tt.labels)
		if !ok || got != tt.want {
			t.Errorf("%s%v=%v (present %v), want %v", tt.name, tt.labels, got, ok, tt.want)
		}
	}
	if _, ok := families[metrics.MetricLastSuccess]; ok {
		t.Errorf("%s present before any success", metrics.MetricLastSuccess)
	}
	if got := families[metrics.MetricProcesses].GetType(); got != dto.MetricType_COUNTER {
		t.Errorf("%s is a %v, want a counter", metrics.MetricProcesses, got)
	}
	if got := len(families[metrics.MetricProcesses].GetMetric()); got != len(reconcile.Kinds)+2 {
		t.Errorf("%d kinds, want every kind (zeros included): %d", got, len(reconcile.Kinds)+2)
	}
}

// TestMetrics_LastSuccess: a success sets the last success; a failed run
// after it rewrites the textfile but keeps the earlier last success.
func TestMetrics_LastSuccess(t *testing.T) {
	for _, shard := range []reconcile.Shard{{}, {Index: 2, Count: 4}} {
		t.Run("shard="+shard.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "unico_reconcile.prom")
			labels := map[string]string{}
			if shard.Sharded() {
				labels["shard"] = "2"
			}
			ok := newMetrics(shard)
			okAt := metricsStart.Add(time.Minute)
			ok.Finish(reconcile.ExitDiscrepancies, okAt)
			if err := ok.WriteTextfile(path); err != nil {
				t.Fatal(err)
			}
			failed := newMetrics(shard)
			if err := failed.KeepLastSuccess(path); err != nil {
				t.Fatal(err)
			}
			failed.Finish(reconcile.ExitIncomplete, okAt.Add(time.Hour))
			if err := failed.WriteTextfile(path); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			families := MustParseMetrics(t, bytes.NewReader(b))
			if got, _ := value(t, families, metrics.MetricLastSuccess, labels); got != float64(okAt.Unix()) {
				t.Fatalf("last success %v, want the earlier run's %v:\n%s", got, okAt.Unix(), b)
			}
			if got, _ := value(t, families, metrics.MetricLastRunExitCode, labels); got != 3 {
				t.Fatalf("exit code %v, want 3", got)
			}
			if got, _ := value(t, families, metrics.MetricLastRunDuration, labels); got != 3660 {
				t.Fatalf("duration %v, want 3660", got)
			}
		})
	}
}

// TestMetrics_Push: the Pushgateway gets the metrics in the text format by
// POST (same names replaced, others kept) under the job and the shard.
func TestMetrics_Push(t *testing.T) {
	var mu sync.Mutex
	var method, path string
	var families map[string]*dto.MetricFamily
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		method, path = r.Method, r.URL.Path
		families = map[string]*dto.MetricFamily{}
		dec := expfmt.NewDecoder(r.Body, expfmt.ResponseFormat(r.Header))
		for {
			var mf dto.MetricFamily
			if err := dec.Decode(&mf); err != nil {
				if err != io.EOF {
					t.Errorf("decode pushed body: %v", err)
				}
				break
			}
			families[mf.GetName()] = &mf
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	m := newMetrics(reconcile.Shard{Index: 1, Count: 4})
	m.Finish(reconcile.ExitOK, metricsStart.Add(time.Minute))
	if err := m.Push(context.Background(), srv.URL, "unico_reconcile", srv.Client()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if got, want := method, http.MethodPost; got != want {
		t.Errorf("method %s, want %s", got, want)
	}
	if got, want := path, "/metrics/job/unico_reconcile/shard/1"; got != want {
		t.Errorf("path %s, want %s", got, want)
	}
	if got, _ := value(t, families, metrics.MetricLastSuccess, nil); got != float64(metricsStart.Add(time.Minute).Unix()) {
		t.Errorf("pushed last success %v, want %v", got, metricsStart.Add(time.Minute).Unix())
	}
	if got, _ := value(t, families, metrics.MetricProcesses, map[string]string{"kind": "not_found"}); got != 1 {
		t.Errorf("pushed not_found %v, want 1", got)
	}
	for name, mf := range families {
		for _, metric := range mf.GetMetric() {
			for _, l := range metric.GetLabel() {
				if l.GetName() == "shard" {
					t.Errorf("%s carries the grouping label shard", name)
				}
			}
		}
	}

	t.Run("ErrUnreachable", func(t *testing.T) {
		err := m.Push(context.Background(), "http://user:s3cret@127.0.0.1:1", "unico_reconcile", http.DefaultClient)
		if err == nil || bytes.Contains([]byte(err.Error()), []byte("s3cret")) {
			t.Fatalf("Push()=%v, want an error without the password", err)
		}
	})
}

func TestMetrics_Outage(t *testing.T) {
	probes, open := 3, true
	m := metrics.New(metrics.Config{Start: metricsStart, Breaker: func() (int, bool) { return probes, open }})
	var buf bytes.Buffer
	if err := m.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	families := MustParseMetrics(t, &buf)
	for name, want := range map[string]float64{metrics.MetricProbes: 3, metrics.MetricAPIUnavailable: 1} {
		if got, ok := value(t, families, name, nil); !ok || got != want {
			t.Errorf("%s=%v (present %v), want %v", name, got, ok, want)
		}
	}
	if _, ok := families[metrics.MetricOutageStart]; ok {
		t.Errorf("%s before any outage ended the run", metrics.MetricOutageStart)
	}
	m.Outage(metricsStart.Add(time.Minute), 20*time.Second)
	buf.Reset()
	if err := m.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	families = MustParseMetrics(t, &buf)
	for name, want := range map[string]float64{metrics.MetricOutageStart: float64(metricsStart.Add(time.Minute).Unix()), metrics.MetricOutageWatched: 20} {
		if got, ok := value(t, families, name, nil); !ok || got != want {
			t.Errorf("%s=%v (present %v), want %v", name, got, ok, want)
		}
	}
}

func TestMetrics_Slowdown(t *testing.T) {
	m := metrics.New(metrics.Config{Start: metricsStart,
		Slowdown: func() (float64, time.Duration) { return 3.5, 90 * time.Second }})
	var buf bytes.Buffer
	if err := m.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	families := MustParseMetrics(t, &buf)
	for name, want := range map[string]float64{metrics.MetricLowestRate: 3.5, metrics.MetricBelowRate: 90} {
		if got, ok := value(t, families, name, nil); !ok || got != want {
			t.Errorf("%s=%v (present %v), want %v", name, got, ok, want)
		}
	}
}

// TestMetrics_PushErrorHidesPassword: a push that fails names the
// gateway, never the password its URL carries (the library's own message
// repeats the URL whole).
func TestMetrics_PushErrorHidesPassword(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "gateway broken", http.StatusInternalServerError)
	}))
	t.Cleanup(srv.Close)
	u := strings.Replace(srv.URL, "http://", "http://pusher:s3cretPassw0rd@", 1)
	m := newMetrics(reconcile.Shard{})
	err := m.Push(context.Background(), u, "unico_reconcile", srv.Client())
	if err == nil {
		t.Fatal("a push answered 500 succeeded")
	}
	if strings.Contains(err.Error(), "s3cretPassw0rd") || !strings.Contains(err.Error(), "500") {
		t.Fatalf("push error %q: want the status, never the password", err)
	}
}
