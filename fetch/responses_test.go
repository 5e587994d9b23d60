package fetch_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/unico-reconcile/unico-reconcile/fetch"
)

// TestClient_Responses counts every request by the status it got, 0 for
// none, and the counts add up to the attempts the results report.
func TestClient_Responses(t *testing.T) {
	ok := MustReadFixture(t, "ok.json")
	limited := MustReadFixture(t, "rate_limited.json")
	var n atomic.Int64
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) {
		case 1:
			reply{429, limited, nil}.write(w, askID)
		case 2:
			hijack(t, w, func(interface{ Write([]byte) (int, error) }) {}) // no response
		case 3:
			reply{503, []byte(`{"error":{"code":99999,"message":"down"}}`), nil}.write(w, askID)
		default:
			reply{200, ok, nil}.write(w, askID)
		}
	})
	c := MustNew(t, srv, fetch.Config{})
	if got := c.Responses(); len(got) != 0 {
		t.Fatalf("Responses()=%v before any request, want none", got)
	}
	attempts := 0
	for range 2 {
		res, err := c.Fetch(context.Background(), askID)
		if err != nil {
			t.Fatal(err)
		}
		attempts += res.Attempts
	}
	want := map[int]int64{http.StatusTooManyRequests: 1, 0: 1, http.StatusServiceUnavailable: 1, http.StatusOK: 2}
	got := c.Responses()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("Responses() (-want +got):\n%s", diff)
	}
	var sum int64
	for _, v := range got {
		sum += v
	}
	if sum != int64(attempts) {
		t.Fatalf("responses add up to %d, want the %d attempts reported", sum, attempts)
	}
}
