package redact_test

import (
	"testing"

	"github.com/unico-reconcile/unico-reconcile/internal/redact"
)

func TestURL(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"https://api.example/", "https://api.example/"},
		{"https://user:pa55word@api.example/v1", "https://xxxxx@api.example/v1"},
		{"https://t0ken@api.example/", "https://xxxxx@api.example/"},
		{"http://gw:9091", "http://gw:9091"},
		{"", ""},
		{"::not a url", "::not a url"},
	} {
		if got := redact.URL(tt.in); got != tt.want {
			t.Errorf("URL(%q)=%q, want %q", tt.in, got, tt.want)
		}
	}
}
