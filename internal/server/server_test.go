package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type fakeDB struct{ err error }

func (f fakeDB) Ping(context.Context) error { return f.err }

type testArea struct{}

func (testArea) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /panic", func(http.ResponseWriter, *http.Request) { panic("boom") })
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			return
		}
		w.Write(b)
	})
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(300 * time.Millisecond)
		w.Write([]byte("done"))
	})
}

func newHandler(db Pinger) http.Handler {
	return New(Options{
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), DB: db,
		Registry: prometheus.NewRegistry(), MaxBodyBytes: 1024, AccessLog: true, Version: "test",
	}, testArea{})
}

func do(h http.Handler, method, path, body string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader(body)))
	return rec
}

func TestRoutesAndErrors(t *testing.T) {
	h := newHandler(fakeDB{})
	cases := []struct {
		name, method, path, body string
		status                   int
		errCode                  string
	}{
		{"healthz", "GET", "/healthz", "", 200, ""},
		{"readyz", "GET", "/readyz", "", 200, ""},
		{"unknown route is JSON 404", "GET", "/nope", "", 404, "not_found"},
		{"wrong method is JSON 405", "DELETE", "/healthz", "", 405, "method_not_allowed"},
		{"panic is JSON 500", "GET", "/panic", "", 500, "server_error"},
		{"body within limit", "POST", "/echo", strings.Repeat("a", 1000), 200, ""},
		{"declared body over limit", "POST", "/echo", strings.Repeat("a", 2000), 413, "invalid_request"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := do(h, c.method, c.path, c.body)
			if rec.Code != c.status {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, c.status, rec.Body)
			}
			if c.errCode != "" {
				var body struct{ Error string }
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error != c.errCode {
					t.Fatalf("body = %s, want error %q", rec.Body, c.errCode)
				}
				if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
					t.Fatalf("Content-Type = %q", ct)
				}
			}
			for _, hdr := range []string{"X-Content-Type-Options", "X-Frame-Options", "Content-Security-Policy", "Referrer-Policy", "X-Request-Id"} {
				if rec.Header().Get(hdr) == "" {
					t.Errorf("missing %s", hdr)
				}
			}
		})
	}
	if got := do(h, "DELETE", "/healthz", "").Header().Get("Allow"); !strings.Contains(got, "GET") {
		t.Errorf("405 Allow = %q", got)
	}
}

func TestReadyzFailsWithoutDatabase(t *testing.T) {
	rec := do(newHandler(fakeDB{err: errors.New("down")}), "GET", "/readyz", "")
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status = %d", rec.Code)
	}
}

func TestRequestIDEchoedAndSanitised(t *testing.T) {
	h := newHandler(fakeDB{})
	req := httptest.NewRequest("GET", "/healthz", nil)
	req.Header.Set("X-Request-Id", "abc-123")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Header().Get("X-Request-Id") != "abc-123" {
		t.Fatalf("incoming id not echoed: %q", rec.Header().Get("X-Request-Id"))
	}
	req.Header.Set("X-Request-Id", "evil\nheader")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if got := rec.Header().Get("X-Request-Id"); got == "" || strings.Contains(got, "evil") {
		t.Fatalf("hostile id kept: %q", got)
	}
}

func TestMetricsCountByRoute(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := New(Options{Log: slog.New(slog.DiscardHandler), DB: fakeDB{}, Registry: reg, MaxBodyBytes: 1024}, testArea{})
	do(h, "GET", "/healthz", "")
	do(h, "GET", "/nope", "")
	body := do(MetricsHandler(reg), "GET", "/metrics", "").Body.String()
	for _, want := range []string{
		`gatehouse_http_requests_total{method="GET",route="GET /healthz",status="200"} 1`,
		`gatehouse_http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`gatehouse_http_request_duration_seconds_bucket{method="GET",route="GET /healthz"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestGracefulShutdownFinishesInFlight(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, ln, newHandler(fakeDB{}), slog.New(slog.NewTextHandler(io.Discard, nil)), 5*time.Second, "", "")
	}()
	type result struct {
		body string
		err  error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/slow")
		if err != nil {
			res <- result{err: err}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		res <- result{body: string(b)}
	}()
	time.Sleep(100 * time.Millisecond) // the request is in flight
	cancel()
	r := <-res
	if r.err != nil || r.body != "done" {
		t.Fatalf("in-flight request lost: %+v", r)
	}
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	if _, err := http.Get("http://" + ln.Addr().String() + "/healthz"); err == nil {
		t.Fatal("server still accepting after shutdown")
	}
}

// TestMetricsOnMainListener: without a metrics token the main handler has no
// /metrics (404, like any unknown route); with one, /metrics needs exactly
// that bearer token.
func TestMetricsOnMainListener(t *testing.T) {
	if r := do(newHandler(fakeDB{}), "GET", "/metrics", ""); r.Code != http.StatusNotFound || strings.Contains(r.Body.String(), "go_goroutines") {
		t.Fatalf("no token configured: %d %s", r.Code, r.Body)
	}
	const token = "0123456789abcdef0123456789abcdef"
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "probe_gauge", Help: "a metric to look for"}))
	h := New(Options{Log: slog.New(slog.DiscardHandler), DB: fakeDB{}, Registry: reg, MaxBodyBytes: 1024, MetricsToken: token}, testArea{})
	scrape := func(auth string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "/metrics", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	for _, auth := range []string{"", "Bearer wrong", "Bearer " + token[:31], "Bearer " + token + "x", "Basic " + token, token} {
		r := scrape(auth)
		if r.Code != http.StatusUnauthorized || !strings.HasPrefix(r.Header().Get("WWW-Authenticate"), "Bearer") || strings.Contains(r.Body.String(), "probe_gauge") {
			t.Fatalf("Authorization %q: %d %v %s", auth, r.Code, r.Header(), r.Body)
		}
	}
	if r := scrape("Bearer " + token); r.Code != http.StatusOK || !strings.Contains(r.Body.String(), "probe_gauge") {
		t.Fatalf("right token: %d %s", r.Code, r.Body)
	}
}
