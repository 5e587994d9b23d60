package reconcile_test

import (
	"testing"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

func TestParseProcessID(t *testing.T) {
	for _, tt := range []struct {
		in, want string
		ok       bool
	}{
		{"80371b2a-3ac7-432e-866d-57fe37896ac6", "80371b2a-3ac7-432e-866d-57fe37896ac6", true},
		{"80371B2A-3AC7-432E-866D-57FE37896AC6", "80371b2a-3ac7-432e-866d-57fe37896ac6", true},
		{"", "", false},
		{"80371b2a3ac7432e866d57fe37896ac6", "", false},
		{"{80371b2a-3ac7-432e-866d-57fe37896ac6}", "", false},
		{"80371b2a-3ac7-432e-866d-57fe37896ac", "", false},
		{"80371b2a-3ac7-432e-866d-57fe37896acg", "", false},
		{"80371b2a_3ac7-432e-866d-57fe37896ac6", "", false},
		{"../../../../etc/passwd/aaaaaaaaaaaaaaaa", "", false},
		{"80371b2a-3ac7-432e-866d-57fe37896a?6", "", false},
	} {
		got, ok := reconcile.ParseProcessID(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseProcessID(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
		// ProcessKey takes what ParseProcessID takes, and either case of
		// an id packs to the same 16 bytes.
		key, ok := reconcile.ProcessKey(tt.in)
		if ok != tt.ok || (ok && key != [16]byte{0x80, 0x37, 0x1b, 0x2a, 0x3a, 0xc7, 0x43, 0x2e, 0x86, 0x6d, 0x57, 0xfe, 0x37, 0x89, 0x6a, 0xc6}) {
			t.Errorf("ProcessKey(%q) = %x, %v; want ok=%v", tt.in, key, ok, tt.ok)
		}
	}
}
