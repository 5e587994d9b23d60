package simulator_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/unico-reconcile/unico-reconcile/simulator"
)

func TestLoadFile(t *testing.T) {
	d := MustLoad(t)
	if got, want := d.Len(), 12; got != want {
		t.Errorf("Len()=%d, want %d", got, want)
	}
	if got, want := d.IDs()[1], idSpaced; got != want {
		t.Errorf("IDs()[1]=%s, want %s", got, want)
	}
}

func TestLoadFile_ErrLineNamesFileAndLine(t *testing.T) {
	const path = "../testdata/simulator/bad-status.jsonl"
	_, err := simulator.LoadFile(path)
	le, ok := errors.AsType[*simulator.LineError](err)
	if !ok {
		t.Fatalf("err=%v, want a *LineError", err)
	}
	if le.File != path || le.Line != 2 {
		t.Errorf("LineError{File: %q, Line: %d}, want %q line 2", le.File, le.Line, path)
	}
	if got, want := err.Error(), path+":2: "; !strings.HasPrefix(got, want) {
		t.Errorf("err=%q, want prefix %q", got, want)
	}
}

func TestLoadFile_ErrMissing(t *testing.T) {
	_, err := simulator.LoadFile("../testdata/simulator/no-such-file.jsonl")
	if err == nil || !strings.Contains(err.Error(), "no-such-file.jsonl") {
		t.Errorf("err=%v, want one naming the file", err)
	}
}

func TestLoad(t *testing.T) {
	const ok = `{"id":"80371b2a-3ac7-432e-866d-57fe37896ac6","status":3}`
	for _, tt := range []struct {
		name  string
		in    string
		n     int
		line  int    // of the error; 0: no error
		cause string // in the error
	}{
		{"OK", ok + "\n", 1, 0, ""},
		{"OKEmpty", "", 0, 0, ""},
		{"OKBlankLinesCRLFAndBOM", "\xef\xbb\xbf" + ok + "\r\n\r\n  \n" + `{"id":"80371B2A-3AC7-432E-866D-57FE37896AC7","status":5}`, 2, 0, ""},
		{"OKNoFinalNewline", ok, 1, 0, ""},
		{"OKEveryFault", `{"id":"00000000-0000-4000-8000-000000000001","status":3,"x-sim-fault":"error"}
{"id":"00000000-0000-4000-8000-000000000002","status":3,"x-sim-fault":"reset"}
{"id":"00000000-0000-4000-8000-000000000003","status":3,"x-sim-fault":"malformed"}
{"id":"00000000-0000-4000-8000-000000000004","status":3,"x-sim-fault":"truncated"}
{"id":"00000000-0000-4000-8000-000000000005","status":3,"x-sim-fault":"wrong-id"}
{"id":"00000000-0000-4000-8000-000000000006","status":3,"x-sim-fault":"slow"}
{"id":"00000000-0000-4000-8000-000000000007","status":3,"x-sim-fault":""}`, 7, 0, ""},
		{"ErrNotJSON", ok + "\nnot json\n", 0, 2, "not JSON"},
		{"ErrTruncated", ok + "\n" + ok[:20], 0, 2, "not JSON"},
		{"ErrTwoObjects", ok + ok, 0, 1, "data after the object"},
		{"ErrArray", `[` + ok + `]`, 0, 1, "not a JSON object"},
		{"ErrNoID", `{"status":3}`, 0, 1, `no "id"`},
		{"ErrNoStatus", `{"id":"80371b2a-3ac7-432e-866d-57fe37896ac6"}`, 0, 1, `no "status"`},
		{"ErrIDNotString", `{"id":1,"status":3}`, 0, 1, `"id"`},
		{"ErrIDNotUUID", `{"id":"80371b2a3ac7432e866d57fe37896ac6","status":3}`, 0, 1, "not a UUID"},
		{"ErrStatusZero", `{"id":"80371b2a-3ac7-432e-866d-57fe37896ac6","status":0}`, 0, 1, `"status" 0`},
		{"ErrStatusSeven", `{"id":"80371b2a-3ac7-432e-866d-57fe37896ac6","status":7}`, 0, 1, `"status" 7`},
		{"ErrStatusString", `{"id":"80371b2a-3ac7-432e-866d-57fe37896ac6","status":"3"}`, 0, 1, `"status"`},
		{"ErrStatusFloat", `{"id":"80371b2a-3ac7-432e-866d-57fe37896ac6","status":3.5}`, 0, 1, `"status"`},
		{"ErrDuplicateID", ok + "\n\n" + strings.Replace(ok, "80371b2a", "80371B2A", 1), 0, 3, "duplicate id"},
		{"ErrUnknownFault", `{"id":"80371b2a-3ac7-432e-866d-57fe37896ac6","status":3,"x-sim-fault":"explode"}`, 0, 1, `unknown "x-sim-fault"`},
		{"ErrFaultNotString", `{"id":"80371b2a-3ac7-432e-866d-57fe37896ac6","status":3,"x-sim-fault":1}`, 0, 1, `unknown "x-sim-fault"`},
		{"ErrUnknownSimKey", `{"id":"80371b2a-3ac7-432e-866d-57fe37896ac6","status":3,"x-sim-faults":"error"}`, 0, 1, `unknown simulator key "x-sim-faults"`},
		{"ErrLineTooLong", ok + "\n" + `{"id":"` + strings.Repeat("a", simulator.MaxLineBytes) + `"}`, 0, 2, "longer than"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d, err := simulator.Load(strings.NewReader(tt.in))
			if tt.line == 0 {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if got := d.Len(); got != tt.n {
					t.Errorf("Len()=%d, want %d", got, tt.n)
				}
				return
			}
			le, ok := errors.AsType[*simulator.LineError](err)
			if !ok {
				t.Fatalf("err=%v, want a *LineError", err)
			}
			if le.Line != tt.line || !strings.Contains(le.Error(), tt.cause) {
				t.Errorf("err=%q (line %d), want line %d and %q", err, le.Line, tt.line, tt.cause)
			}
			if !strings.HasPrefix(err.Error(), "line ") {
				t.Errorf("err=%q, want it to start with the line", err)
			}
		})
	}
}
