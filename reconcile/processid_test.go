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
	}
}
