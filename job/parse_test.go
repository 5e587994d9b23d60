package job

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

func TestParseShard(t *testing.T) {
	for _, tt := range []struct {
		s, index string
		want     reconcile.Shard
		err      string
	}{
		{"1/4", "", reconcile.Shard{Index: 1, Count: 4}, ""},
		{"auto/4", "3", reconcile.Shard{Index: 3, Count: 4}, ""},
		{"auto/4", "", reconcile.Shard{}, "JOB_COMPLETION_INDEX is not set"},
		{"auto/4", "4", reconcile.Shard{}, `JOB_COMPLETION_INDEX="4" is not an index 0..3`},
		{"auto/0", "0", reconcile.Shard{}, "want auto/N with N at least 1"},
		{"4/4", "", reconcile.Shard{}, "--shard 4/4: want I/N with 0 <= I < N, or auto/N"},
	} {
		got, err := ParseShard(tt.s, tt.index)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseShard(%q, %q): %v, want %q", tt.s, tt.index, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseShard(%q, %q) = %v, %v; want %v", tt.s, tt.index, got, err, tt.want)
		}
	}
}

func TestParseKinds(t *testing.T) {
	got, err := ParseKinds(" lost_response, result_mismatch,,status_mismatch")
	want := []reconcile.Kind{reconcile.LostResponse, reconcile.ResultMismatch, reconcile.StatusMismatch}
	if err != nil || !cmp.Equal(got, want) {
		t.Errorf("got %v, %v; want %v", got, err, want)
	}
	for _, bad := range []string{"not_found", "unverified", "lost"} {
		if _, err := ParseKinds(bad); err == nil || !strings.Contains(err.Error(), "no remote outcome") {
			t.Errorf("%q: %v, want an error", bad, err)
		}
	}
}

func TestParseColumns(t *testing.T) {
	got, err := ParseColumns([]string{"status=result_status", "score=risk_score"})
	if want := map[string]string{"status": "result_status", "score": "risk_score"}; err != nil || !cmp.Equal(got, want) {
		t.Errorf("got %v, %v; want %v", got, err, want)
	}
	for _, bad := range [][]string{{"status"}, {"=x"}, {"status="}, {"status=a", "status=b"}} {
		if _, err := ParseColumns(bad); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
	if got, err := ParseColumns(nil); got != nil || err != nil {
		t.Errorf("no flag: %v, %v", got, err)
	}
}
