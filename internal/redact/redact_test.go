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

func TestText(t *testing.T) {
	const u = "http://user:pa55word@gw:9091"
	for _, tt := range []struct{ in, u, want string }{
		{`Post "http://user:pa55word@gw:9091/metrics/job/x": EOF`, u, `Post "http://xxxxx@gw:9091/metrics/job/x": EOF`},
		{"unexpected status 500 from http://user:pa55word@gw:9091/metrics: pa55word echoed", u, "unexpected status 500 from http://xxxxx@gw:9091/metrics: xxxxx echoed"},
		{"http://t0ken@gw/x failed", "http://t0ken@gw", "http://xxxxx@gw/x failed"},
		{"no url here", "http://gw:9091", "no url here"},
	} {
		if got := redact.Text(tt.in, tt.u); got != tt.want {
			t.Errorf("Text(%q, %q)=%q, want %q", tt.in, tt.u, got, tt.want)
		}
	}
}
