package store_test

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/unico-reconcile/unico-reconcile/store"
)

// TestOpenCSV_Error covers sources that cannot be used: Open fails.
func TestOpenCSV_Error(t *testing.T) {
	for _, tt := range []struct {
		name    string
		content string
		wantErr error
		wantMsg string // a part of the message, if not ""
	}{
		{name: "ErrEmpty", content: "", wantErr: store.ErrEmpty},
		{name: "ErrEmpty/BOMOnly", content: "\uFEFF", wantErr: store.ErrEmpty},
		{name: "ErrEmpty/BlankLines", content: "\r\n\n", wantErr: store.ErrEmpty},
		{name: "ErrNoProcessIDColumn", content: "id,status,saved_at\n1,3,\n",
			wantErr: store.ErrNoProcessIDColumn, wantMsg: `saved.csv: no process_id column (columns: "id", "status", "saved_at")`},
		{name: "ErrNoProcessIDColumn/Misspelt", content: "process id,status\n",
			wantErr: store.ErrNoProcessIDColumn, wantMsg: `"process id"`},
		{name: "ErrDuplicateColumn", content: "process_id,status,STATUS\n", wantErr: store.ErrDuplicateColumn},
		{name: "ErrNotCSV/BinaryJunk", content: "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xed\xbd\x07`", wantErr: store.ErrNotCSV},
		{name: "ErrNotCSV/UTF16", content: "\xff\xfep\x00r\x00o\x00", wantErr: store.ErrNotCSV},
		{name: "ErrNotCSV/NotUTF8Header", content: "process_id,stat\xe9\n", wantErr: store.ErrNotCSV},
		{name: "ErrNotCSV/ControlInHeader", content: "process_id,\x1b[31mstatus\n", wantErr: store.ErrNotCSV},
		{name: "ErrNotCSV/QuoteInHeader", content: "\"process_id\"x,status\n", wantErr: store.ErrNotCSV},
		{name: "ErrNotCSV/NULInFirst4KiB", content: header + "00000000-0000-4000-8000-00000000000a,3,,,,,,\n" + strings.Repeat("x", 3900) + "\x00\n", wantErr: store.ErrNotCSV, wantMsg: "NUL"},
		{name: "ErrNotCSV/HeaderJustOver1MiB", content: "process_id," + strings.Repeat("x", 1<<20) + "\n", wantErr: store.ErrNotCSV},
		{name: "ErrNotCSV/HugeHeader", content: "process_id," + strings.Repeat("x", 2<<20) + "\n", wantErr: store.ErrNotCSV},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := MustWriteFile(t, t.TempDir(), "saved.csv", tt.content)
			c, err := store.OpenCSV(path)
			if err == nil {
				c.Close()
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("OpenCSV()=%v, want %v", err, tt.wantErr)
			}
			msg := err.Error()
			if !strings.Contains(msg, "saved.csv") || strings.ContainsAny(msg, "\r\n") || len(msg) > 300 {
				t.Fatalf("message %q: want one short line naming the file", msg)
			}
			if !strings.Contains(msg, tt.wantMsg) {
				t.Fatalf("message %q does not hold %q", msg, tt.wantMsg)
			}
		})
	}

	t.Run("ErrNotExist", func(t *testing.T) {
		_, err := store.OpenCSV(filepath.Join(t.TempDir(), "missing.csv"))
		if !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("OpenCSV()=%v, want %v", err, fs.ErrNotExist)
		}
	})
}

// TestCSV_Each covers the shapes a CSV file may take; each file has the rows
// want, as (row, process_id, reason) with "" for a valid row.
func TestCSV_Each(t *testing.T) {
	const a, b, c = "00000000-0000-4000-8000-00000000000a", "00000000-0000-4000-8000-00000000000b", "00000000-0000-4000-8000-00000000000c"
	type row struct {
		Row       int
		ProcessID string
		Invalid   string // the message, "" for a valid row
	}
	// rows are valid rows from..to, all of process id.
	rows := func(from, to int, id string) []row {
		var rs []row
		for n := from; n <= to; n++ {
			rs = append(rs, row{n, id, ""})
		}
		return rs
	}
	for _, tt := range []struct {
		name    string
		content string
		want    []row
	}{
		{name: "OK/HeaderOnly", content: header},
		{name: "OK/HeaderOnlyNoNewline", content: strings.TrimSuffix(header, "\n")},
		{name: "OK/BOMAndCRLF",
			content: "\uFEFF" + strings.ReplaceAll(header, "\n", "\r\n") + a + ",3,yes,,,,,\r\n" + b + ",3,\"ye\r\ns\",,,,,\r\n" + c + ",3,,,,,,\r\n",
			want:    []row{{2, a, ""}, {3, b, `saved.csv: row 3, column unico_id_result: "ye\ns" is not yes, no or inconclusive`}, {4, c, ""}}},
		{name: "OK/QuotedNewline",
			content: "note,process_id\n\"one\ntwo\nthree\"," + a + "\n\"x\"," + b + "\n",
			want:    []row{{2, a, ""}, {3, b, ""}}},
		{name: "OK/AnyOrderExtraColumnsAnyCase",
			content: "Extra, Status ,PROCESS_ID,other\nx,3," + strings.ToUpper(a) + ",y\n",
			want:    []row{{2, a, ""}}},
		{name: "OK/BlankLinesSkipped",
			content: header + "\n" + a + ",3,,,,,,\n\n\n" + b + ",3,,,,,,\n",
			want:    []row{{2, a, ""}, {3, b, ""}}},
		{name: "OK/NoFinalNewline",
			content: header + a + ",3,,,,,,",
			want:    []row{{2, a, ""}}},
		{name: "InvalidRow/Ragged",
			content: header + a + ",3\n" + b + ",3,,,,,,,extra\n" + c + ",3,,,,,,\n",
			want: []row{
				{2, a, "saved.csv: row 2: has 2 fields, the header has 8"},
				{3, b, "saved.csv: row 3: has 9 fields, the header has 8"},
				{4, c, ""},
			}},
		{name: "InvalidRow/RaggedAfterQuotedNewline",
			content: "note,process_id\n\"a\nb\"," + a + ",x\n\"c\nd\"," + b + "\n",
			want:    []row{{2, a, "saved.csv: row 2: has 3 fields, the header has 2"}, {3, b, ""}}},
		{name: "InvalidRow/RaggedBeforeProcessID",
			content: "note,other,process_id\nx\n" + a + ",y," + b + "\n",
			want:    []row{{2, "", "saved.csv: row 2: has 1 field, the header has 3"}, {3, b, ""}}},
		// Past the first 4 KiB a NUL byte makes only its row invalid,
		// in a contract column or any other; rows between two NULs of
		// the same read are checked against the file.
		{name: "InvalidRow/NULPast4KiB",
			content: "process_id,status,note\n" + strings.Repeat(a+",3,padding\n", 100) +
				b + ",3\x00,\n" + c + ",3,ok\n" + a + ",3,x\x00y\n" + b + ",3,\x00",
			want: append(append(rows(2, 101, a), row{102, b, `saved.csv: row 102, column status: "3\x00" holds a NUL byte`}, row{103, c, ""}),
				row{104, a, `saved.csv: row 104, column note: "x\x00y" holds a NUL byte`}, row{105, b, `saved.csv: row 105, column note: "\x00" holds a NUL byte`})},
		{name: "InvalidRow/NULPast4KiBQuotedNewline",
			content: "process_id,note\n" + strings.Repeat(a+",padding\n", 200) + c + ",\"\x00\n\x00\"\n" + b + ",ok\n",
			want:    append(rows(2, 201, a), row{202, c, `saved.csv: row 202, column note: "\x00\n\x00" holds a NUL byte`}, row{203, b, ""})},
		{name: "InvalidRow/BareQuote",
			content: header + a + ",3,ye\"s,,,,,\n" + b + ",3,,,,,,\n",
			want:    []row{{2, a, `saved.csv: row 2: has a bare " in an unquoted field (line 2, column 42)`}, {3, b, ""}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			src, err := store.OpenCSV(MustWriteFile(t, dir, "saved.csv", tt.content))
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			var got []row
			for _, l := range MustCollect(t, src) {
				r := row{Row: l.Row, ProcessID: l.ProcessID}
				if l.Invalid != nil {
					r.Invalid = strings.TrimPrefix(l.Invalid.Error(), dir+string(filepath.Separator))
				}
				got = append(got, r)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("rows (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCSV_Each_Error covers files whose header is fine but whose body
// cannot be read to the end: Each fails after the rows before the fault.
func TestCSV_Each_Error(t *testing.T) {
	const a = "00000000-0000-4000-8000-00000000000a"
	for _, tt := range []struct {
		name     string
		content  string
		wantRows int
		wantMsg  string // a part of the message, if not ""
	}{
		{name: "ErrNotCSV/UnterminatedQuote", content: header + a + ",3,,,,,,\n" + a + ",\"3,,,,,,\n" + a + ",3,,,,,,\n", wantRows: 1},
		{name: "ErrNotCSV/ExtraneousQuote", content: header + a + ",\"3\"x,,,,,,\n", wantRows: 0},
		{name: "ErrNotCSV/HugeQuotedField", content: header + a + ",\"" + strings.Repeat("3,,,,,,\n", 1<<18), wantRows: 0},
		{name: "ErrNotCSV/RowJustOver1MiB", content: header + a + ",3,,,,,,\n" + strings.Repeat("x", 1<<20) + "\n", wantRows: 1, wantMsg: "row 3"},
		{name: "ErrNotCSV/HugeRow", content: header + a + ",3,,,,,,\n" + strings.Repeat("x", 1<<20+1) + ",3,,,,,,\n" + a + ",3,,,,,,\n", wantRows: 1, wantMsg: "row 3"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src, err := store.OpenCSV(MustWriteFile(t, t.TempDir(), "saved.csv", tt.content))
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			got, err := collect(src)
			if !errors.Is(err, store.ErrNotCSV) {
				t.Fatalf("Each()=%v, want %v", err, store.ErrNotCSV)
			}
			if msg := err.Error(); !strings.Contains(msg, "saved.csv") || strings.ContainsAny(msg, "\r\n") {
				t.Fatalf("message %q: want one line naming the file", msg)
			}
			if len(got) != tt.wantRows {
				t.Fatalf("Each gave %d rows before the error, want %d", len(got), tt.wantRows)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("message %q does not hold %q", err, tt.wantMsg)
			}
		})
	}
}

func TestCSV_Missing(t *testing.T) {
	src, err := store.OpenCSV(MustWriteFile(t, t.TempDir(), "saved.csv", "process_id,status,score\n"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	want := []string{"unico_id_result", "identity_fraudsters_result", "serpro_score", "liveness", "saved_at"}
	if diff := cmp.Diff(want, src.Missing()); diff != "" {
		t.Fatalf("Missing() (-want +got):\n%s", diff)
	}
	// A missing column reads as not stored.
	if got := MustCollect(t, src); len(got) != 0 {
		t.Fatalf("got %d rows, want 0", len(got))
	}
}

func TestRowError_Error(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  store.RowError
		want string
	}{
		{name: "Column", err: store.RowError{File: "saved.csv", Row: 5, Column: "status", Value: "7", Reason: "is not a status 1..5"},
			want: `saved.csv: row 5, column status: "7" is not a status 1..5`},
		{name: "Row", err: store.RowError{File: "saved.csv", Row: 5, Reason: "has 2 fields, the header has 8"},
			want: `saved.csv: row 5: has 2 fields, the header has 8`},
		{name: "Hostile", err: store.RowError{File: "saved.csv", Row: 5, Column: "process_id", Value: "\r\n\x1b[2J" + strings.Repeat("é", 100), Reason: "is not a UUID"},
			want: `saved.csv: row 5, column process_id: "\r\n\x1b[2J` + strings.Repeat("é", 29) + `"... is not a UUID`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Fatalf("Error()=%s, want %s", got, tt.want)
			}
		})
	}
}
