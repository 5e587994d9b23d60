package simulator_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/unico-reconcile/unico-reconcile/simulator"
)

// BenchmarkServer_ServeHTTP measures the handler alone, with no network.
func BenchmarkServer_ServeHTTP(b *testing.B) {
	sim := simulator.New(MustLoad(b), simulator.Config{APIKey: "k", Token: "t"})
	req := httptest.NewRequest(http.MethodGet, "/processes/v1/"+idYes, nil)
	req.Header.Set("APIKEY", "k")
	req.Header.Set("Authorization", "Bearer t")
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		sim.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status=%d", w.Code)
		}
	}
}

// BenchmarkServer_Loopback measures requests over loopback from parallel
// clients, as the job sends them.
func BenchmarkServer_Loopback(b *testing.B) {
	sim := simulator.New(MustLoad(b), simulator.Config{})
	srv := httptest.NewServer(sim)
	b.Cleanup(srv.Close)
	client := srv.Client()
	client.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
	url := srv.URL + "/processes/v1/" + idYes
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Get(url)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
	b.ReportMetric(float64(sim.Stats().OK)/b.Elapsed().Seconds(), "req/s")
}
