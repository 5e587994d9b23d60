package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/unico-reconcile/unico-reconcile/simulator"
)

// TestRun_HostileRows runs the binary on sources with NUL bytes, control
// bytes and huge values: a source whose rows can no longer be told apart
// ends the run with exit 2 and one line naming the file (and the row); a row
// that is merely bad is invalid_input, shown capped and printable in every
// report, and the run goes on.
func TestRun_HostileRows(t *testing.T) {
	_, srv := MustSimulator(t, "testdata/demo/processes.jsonl", simulator.Config{APIKey: testAPIKey, Token: testToken})
	match := MustDemoRow(t, idMatch)
	padding := strings.Repeat(match, 4096/len(match)+1) // past the first 4 KiB; duplicates of row 2

	t.Run("NULInFirst4KiB", func(t *testing.T) {
		src := MustWrite(t, "nul.csv", csvHeader+match+idMissing+",3,\x00,,,,,\n")
		r := MustRun(t, credentials, runArgs(src, srv.URL, filepath.Join(t.TempDir(), "out"))...)
		if line := MustLastLine(t, r.stderr); r.code != 2 || !strings.Contains(line, "nul.csv") || !strings.Contains(line, "NUL") {
			t.Fatalf("exit %d, stderr ends %q; want 2 and one line naming the file and the NUL", r.code, line)
		}
	})
	t.Run("RowOver1MiB", func(t *testing.T) {
		src := MustWrite(t, "long.csv", csvHeader+match+strings.Repeat("x", 1<<20)+",3,,,,,,\n"+match)
		r := MustRun(t, credentials, runArgs(src, srv.URL, filepath.Join(t.TempDir(), "out"))...)
		if line := MustLastLine(t, r.stderr); r.code != 2 || !strings.Contains(line, "long.csv") || !strings.Contains(line, "row 3") {
			t.Fatalf("exit %d, stderr ends %q; want 2 and one line naming the file and row 3", r.code, line)
		}
	})
	t.Run("BadRowsGoOn", func(t *testing.T) {
		rows := 1 + strings.Count(padding, "\n")
		src := MustWrite(t, "bad.csv", csvHeader+match+padding+
			idMissing+",3,ye\x00s,,,,,\n"+ // a NUL past 4 KiB: this row only
			strings.Repeat("9", 900<<10)+",3,,,,,,\n"+ // a 900 KiB process_id
			"\x1b[2J\r\xff\xfe,3,,,,,,\n"+ // control bytes, invalid UTF-8
			idMissing+",3,,suspicious,,,87.5,\n"+ // outside the contract
			idMissing+",3,,,,,,\n")
		out := filepath.Join(t.TempDir(), "out")
		r := MustRun(t, credentials, runArgs(src, srv.URL, out)...)
		if r.code != 1 {
			t.Fatalf("exit code %d, want 1\nstderr: %s", r.code, r.stderr)
		}
		s := MustSummary(t, out)
		if got, want := s.Counts["invalid_input"], 4; got != want {
			t.Errorf("invalid_input=%d, want %d (counts %v)", got, want, s.Counts)
		}
		if got, want := s.Counts["not_found"], 1; got != want {
			t.Errorf("not_found=%d, want %d: the run did not go on past the bad rows", got, want)
		}
		csv := string(MustRead(t, filepath.Join(out, "discrepancies.csv")))
		for _, want := range []string{
			`row ` + strconv.Itoa(rows+2) + `, column unico_id_result: ""ye\x00s"" holds a NUL byte`,
			strings.Repeat("9", 128) + "…(921600 bytes),invalid_input",
			`"""\x1b[2J\r\xff\xfe""",invalid_input`,
			`row ` + strconv.Itoa(rows+5) + `, column identity_fraudsters_result: ""suspicious"" is not yes or inconclusive`,
		} {
			if !strings.Contains(csv, want) {
				t.Errorf("discrepancies.csv lacks %q", want)
			}
		}
		for _, name := range []string{"discrepancies.csv", "discrepancies.jsonl", "report.html"} {
			b := MustRead(t, filepath.Join(out, name))
			raw := false
			for _, c := range []byte{0x00, 0x1b, '\r', 0xff} {
				raw = raw || bytes.IndexByte(b, c) >= 0
			}
			if raw || len(b) > 200<<10 {
				t.Errorf("%s (%d bytes) holds raw control bytes or the whole huge value", name, len(b))
			}
		}
		if _, err := os.Stat(filepath.Join(out, "summary.json")); err != nil {
			t.Error(err)
		}
	})
}
