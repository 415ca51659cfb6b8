package server

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// discardWriter is a ResponseWriter that keeps nothing, so the benchmark
// measures the middleware and handler rather than a recorder's buffers.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

// BenchmarkHealthzThroughMiddleware is GET /healthz through the whole chain
// (request id, metrics, security headers, recover, body limit, fallback):
// what every request pays before its handler.
//
//	go test -run '^$' -bench Healthz -benchmem ./internal/server/
func BenchmarkHealthzThroughMiddleware(b *testing.B) {
	h := New(Options{Log: slog.New(slog.DiscardHandler), DB: fakeDB{}, Registry: prometheus.NewRegistry(), MaxBodyBytes: 1024}, testArea{})
	r := httptest.NewRequest("GET", "/healthz", nil)
	b.ReportAllocs()
	for b.Loop() {
		w := &discardWriter{h: http.Header{}}
		h.ServeHTTP(w, r)
	}
}
