package reconcile_test

import (
	"strings"
	"testing"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

func TestPrintable(t *testing.T) {
	long := strings.Repeat("a", 1<<20)
	for _, tt := range []struct {
		name, in, want string
	}{
		{name: "Empty", in: "", want: ""},
		{name: "Plain", in: "not-a-uuid", want: "not-a-uuid"},
		{name: "PlainUnicode", in: "ação {x} ;->", want: "ação {x} ;->"},
		{name: "AtCap", in: strings.Repeat("b", 128), want: strings.Repeat("b", 128)},
		{name: "OverCap", in: strings.Repeat("b", 129), want: strings.Repeat("b", 128) + "…(129 bytes)"},
		{name: "OneMiB", in: long, want: strings.Repeat("a", 128) + "…(1048576 bytes)"},
		{name: "NUL", in: "ab\x00cd", want: `"ab\x00cd"`},
		{name: "Control", in: "\x1b[2J\r\nx\t", want: `"\x1b[2J\r\nx\t"`},
		{name: "InvalidUTF8", in: "a\xff\xfeb", want: `"a\xff\xfeb"`},
		{name: "Quote", in: `say "hi"`, want: `"say \"hi\""`},
		{name: "Backslash", in: `a\b`, want: `a\b`},
		{name: "UnicodeSpace", in: "a\u00a0b\u2028", want: `"a\u00a0b\u2028"`},
		// The cut falls inside "é" (2 bytes): it moves back to its start.
		{name: "CutAtRune", in: "x" + strings.Repeat("é", 100), want: "x" + strings.Repeat("é", 63) + "…(201 bytes)"},
		{name: "CutAndQuoted", in: "\x00" + strings.Repeat("z", 200), want: `"\x00` + strings.Repeat("z", 127) + `"…(201 bytes)`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := reconcile.Printable(tt.in); got != tt.want {
				t.Fatalf("Printable(%.40q)=%.200q, want %.200q", tt.in, got, tt.want)
			}
		})
	}
}

func TestFieldDiff_String(t *testing.T) {
	for _, tt := range []struct {
		name string
		f    reconcile.FieldDiff
		want string
	}{
		{name: "Plain", f: reconcile.FieldDiff{Name: "unicoId.result", Local: "yes", Remote: "no"}, want: "unicoId.result=yes->no"},
		{name: "AbsentRemote", f: reconcile.FieldDiff{Name: "score", Local: "87"}, want: "score=87->"},
		{name: "Semicolon", f: reconcile.FieldDiff{Name: "unicoId.result", Local: "yes", Remote: "no;liveness=1->2"},
			want: `unicoId.result=yes->"no;liveness=1->2"`},
		{name: "Arrow", f: reconcile.FieldDiff{Name: "identityFraudsters.result", Local: "yes", Remote: "a->b"},
			want: `identityFraudsters.result=yes->"a->b"`},
		{name: "AlreadyQuoted", f: reconcile.FieldDiff{Name: "unicoId.result", Local: "yes", Remote: reconcile.Printable(`x";y`)},
			want: `unicoId.result=yes->"x\";y"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.f.String(); got != tt.want {
				t.Fatalf("String()=%s, want %s", got, tt.want)
			}
		})
	}
}
