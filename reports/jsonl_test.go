package reports_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
	"github.com/unico-reconcile/unico-reconcile/reports"
)

func TestJSONLWriter_Write(t *testing.T) {
	t.Run("OneObjectPerLine", func(t *testing.T) {
		ds := allKinds()
		lines := MustWriteJSONL(t, ds...)
		if got, want := len(lines), len(ds); got != want {
			t.Fatalf("%d lines, want %d", got, want)
		}
		keys := []string{
			"attempts", "detail", "error_code", "fetched_at", "field_diffs", "fields", "http_status", "kind",
			"local", "local_status", "process_id", "rate_limited", "remote", "remote_status", "row",
		}
		for i, l := range lines {
			var got []string
			for k := range l {
				got = append(got, k)
			}
			if diff := cmp.Diff(keys, got, cmpSorted); diff != "" {
				t.Fatalf("line %d keys (-want +got):\n%s", i+1, diff)
			}
		}
	})

	t.Run("NoResponse", func(t *testing.T) {
		l := MustWriteJSONL(t, reconcile.Discrepancy{
			Kind:     reconcile.Unverified,
			Local:    reconcile.Local{Row: 7, ProcessID: idA},
			Detail:   "timeout",
			Attempts: 6,
		})[0]
		want := map[string]any{
			"row": 7.0, "process_id": idA, "kind": "unverified",
			"local_status": nil, "remote_status": nil, "fields": nil, "http_status": nil, "error_code": nil,
			"detail": "timeout", "field_diffs": []any{}, "local": map[string]any{"process_id": idA},
			"remote": nil, "attempts": 6.0, "rate_limited": 0.0, "fetched_at": nil,
		}
		if diff := cmp.Diff(want, l); diff != "" {
			t.Fatalf("(-want +got):\n%s", diff)
		}
	})

	t.Run("NoHTMLEscaping", func(t *testing.T) {
		var buf bytes.Buffer
		jw := reports.NewJSONLWriter(&buf)
		if err := jw.Write(reconcile.Discrepancy{Kind: reconcile.InvalidInput, Detail: `<a href="x">&</a>`}); err != nil {
			t.Fatal(err)
		}
		if got, want := buf.String(), `"detail":"<a href=\"x\">&</a>"`; !strings.Contains(got, want) {
			t.Fatalf("line %s lacks %s", got, want)
		}
	})

	t.Run("NonFiniteScore", func(t *testing.T) {
		l := MustWriteJSONL(t, reconcile.Discrepancy{
			Kind:  reconcile.InvalidInput,
			Local: reconcile.Local{ProcessID: idA, Outcome: reconcile.Outcome{Score: floatp(math.NaN())}},
		})[0]
		if got, want := l["local"], any(map[string]any{"process_id": idA}); !cmp.Equal(got, want) {
			t.Fatalf("local=%v, want %v", got, want)
		}
	})

	t.Run("ErrWrite", func(t *testing.T) {
		jw := reports.NewJSONLWriter(&errWriter{})
		if err := jw.Write(allKinds()[0]); !errors.Is(err, errDiskFull) {
			t.Fatalf("Write: err=%v, want %v", err, errDiskFull)
		}
	})
}

var cmpSorted = cmpopts.SortSlices(func(a, b string) bool { return a < b })

// MustWriteJSONL encodes ds and decodes each line back.
func MustWriteJSONL(tb testing.TB, ds ...reconcile.Discrepancy) []map[string]any {
	tb.Helper()
	var buf bytes.Buffer
	jw := reports.NewJSONLWriter(&buf)
	for _, d := range ds {
		if err := jw.Write(d); err != nil {
			tb.Fatal(err)
		}
	}
	if err := jw.Close(); err != nil {
		tb.Fatal(err)
	}
	var out []map[string]any
	for _, line := range strings.SplitAfter(buf.String(), "\n") {
		if line == "" {
			continue
		}
		if !strings.HasSuffix(line, "\n") {
			tb.Fatalf("last line %q lacks a newline", line)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			tb.Fatalf("line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}
