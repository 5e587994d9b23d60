package job

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

// TestSpec_JSON: a spec is stored in the shape every history so far holds
// (the manifests' parameters stay byte for byte), and reads back as it was.
func TestSpec_JSON(t *testing.T) {
	since := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	until := time.Date(2026, 11, 2, 3, 4, 5, 6, time.FixedZone("", -3*3600))
	for _, tt := range []struct {
		name string
		spec Spec
		want string
	}{
		{"whole source", Spec{Source: "/data/saved.csv", APIRoot: "https://api.id.unico.app", StaleAfter: 24 * time.Hour,
			Rate: 5, Workers: 16, Timeout: 30 * time.Second, MaxRetries: 5, SourceSHA256: "ab"},
			`{"source":"/data/saved.csv","api_root":"https://api.id.unico.app","stale_after":"24h0m0s","rate":5,"workers":16,"timeout":"30s","max_retries":5,"source_sha256":"ab"}`},
		{"window, query, time limit", Spec{Source: "sqlite:/d.db", Query: "SELECT 1", APIRoot: "http://127.0.0.1:1", Since: since, Until: until,
			Rate: 0, Workers: 1, Timeout: time.Second, MaxDuration: time.Hour},
			`{"source":"sqlite:/d.db","query":"SELECT 1","api_root":"http://127.0.0.1:1","since":"2026-11-01T00:00:00Z","until":"2026-11-02T03:04:05.000000006-03:00","stale_after":"0s","rate":0,"workers":1,"timeout":"1s","max_retries":0,"max_duration":"1h0m0s"}`},
		{"shard: its share of the rate, and the tenant's", Spec{Source: "s.csv", APIRoot: "r", Rate: 6, Workers: 16, Timeout: time.Second,
			Shard: reconcile.Shard{Index: 1, Count: 4}},
			`{"source":"s.csv","api_root":"r","stale_after":"0s","rate":1.5,"workers":16,"timeout":"1s","max_retries":0,"shard":"1/4","tenant_rate":6}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Errorf("stored as\n%s\nwant\n%s", b, tt.want)
			}
			var back Spec
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.spec, back, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
				t.Errorf("read back (-stored +read):\n%s", diff)
			}
		})
	}
}

// TestSpec_OldShardedRun: a sharded run recorded before tenant_rate was
// kept reads its tenant's rate back from its share.
func TestSpec_OldShardedRun(t *testing.T) {
	var s Spec
	if err := json.Unmarshal([]byte(`{"source":"s.csv","api_root":"r","stale_after":"24h0m0s","rate":2.5,"workers":16,"timeout":"30s","max_retries":5,"shard":"0/2"}`), &s); err != nil {
		t.Fatal(err)
	}
	if s.Rate != 5 || s.ShardRate() != 2.5 || s.Shard != (reconcile.Shard{Index: 0, Count: 2}) {
		t.Errorf("read %+v: want rate 5, its share 2.5, shard 0/2", s)
	}
}

func TestSpec_BadJSON(t *testing.T) {
	for _, in := range []string{
		`{"stale_after":"soon"}`, `{"since":"yesterday"}`, `{"shard":"3/2"}`, `{"timeout":5}`, `[]`,
	} {
		var s Spec
		if err := json.Unmarshal([]byte(in), &s); err == nil {
			t.Errorf("%s: read %+v, want an error", in, s)
		}
	}
}

// TestAdopt: a continued run takes the run's source, window, staleness,
// API root and shard, field by field; a setting given now that differs is
// an error naming its flag, and the settings that may change are kept.
func TestAdopt(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "saved.csv")
	prev := Spec{Source: "saved.csv", Query: "", APIRoot: "https://api.id.unico.app", Since: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
		StaleAfter: time.Hour, Rate: 4, Workers: 8, Timeout: time.Second, Shard: reconcile.Shard{Index: 1, Count: 2}}
	now := Spec{Source: "", APIRoot: "https://api.id.unico.app", StaleAfter: 24 * time.Hour, Rate: 6, Workers: 2, Timeout: 9 * time.Second}
	for _, tt := range []struct {
		name    string
		s       Spec
		given   Fields
		want    Spec
		wantErr []string
	}{
		{"nothing given: the run's, with today's rate and workers", now, 0,
			Spec{Source: key, APIRoot: prev.APIRoot, Since: prev.Since, StaleAfter: time.Hour, Rate: 6, Workers: 2, Timeout: 9 * time.Second, Shard: prev.Shard}, nil},
		{"the same source, given by another path", func() Spec { s := now; s.Source = key; return s }(), GivenSource,
			Spec{Source: key, APIRoot: prev.APIRoot, Since: prev.Since, StaleAfter: time.Hour, Rate: 6, Workers: 2, Timeout: 9 * time.Second, Shard: prev.Shard}, nil},
		{"another source", func() Spec { s := now; s.Source = filepath.Join(dir, "other.csv"); return s }(), GivenSource, Spec{},
			[]string{"--source differs from run R's (saved.csv)"}},
		{"a default not given is not a conflict", now, GivenShard | GivenSince, Spec{},
			[]string{"--since differs from run R's (2026-11-01T00:00:00Z)", "--shard differs from run R's (1/2)"}},
		{"every conflict named", Spec{Query: "SELECT 1", APIRoot: "http://x", StaleAfter: time.Minute},
			GivenQuery | GivenStaleAfter | GivenBaseURL | GivenEnv, Spec{},
			[]string{"--query differs", "--stale-after differs from run R's (1h0m0s)", "--base-url differs", "--env differs"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := adopt(tt.s, tt.given, "R", key, prev)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("adopted %+v, want errors %q", got, tt.wantErr)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if got.ShardRate() != 3 {
				t.Errorf("share of the rate %g, want today's --rate 6 over the run's 2 shards", got.ShardRate())
			}
		})
	}
}
