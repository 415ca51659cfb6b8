package server

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

const firefoxAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

func TestPrefersHTML(t *testing.T) {
	for accept, want := range map[string]bool{
		firefoxAccept:                       true,
		"text/html":                         true,
		"application/xhtml+xml":             true,
		"":                                  false, // Go's http.Client, many scripts
		"*/*":                               false, // curl
		"application/json":                  false,
		"application/json, text/html;q=0.5": false,
		"text/html;q=0, */*":                false,
		"TEXT/HTML ; Q=0.9, application/json;q=0.8": true,
	} {
		if got := PrefersHTML(accept); got != want {
			t.Errorf("PrefersHTML(%q) = %v, want %v", accept, got, want)
		}
	}
}

// A browser asking for a path no route serves gets the browser fallback's
// page; API clients keep the JSON 404, and wrong methods the JSON 405.
func TestBrowserFallbackOnlyForBrowsers(t *testing.T) {
	h := New(Options{
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), DB: fakeDB{}, Registry: prometheus.NewRegistry(),
		MaxBodyBytes: 1024,
		BrowserFallback: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, "<h1>Page not found</h1>")
		}),
	}, testArea{})
	req := func(method, path, accept string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, path, nil)
		if accept != "" {
			r.Header.Set("Accept", accept)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec
	}
	if rec := req("GET", "/nope", firefoxAccept); rec.Code != 404 || !strings.Contains(rec.Body.String(), "<h1>Page not found") {
		t.Fatalf("browser: %d %s", rec.Code, rec.Body)
	}
	for _, accept := range []string{"", "*/*", "application/json"} {
		rec := req("GET", "/nope", accept)
		if rec.Code != 404 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
			t.Fatalf("Accept %q: %d %s %s", accept, rec.Code, rec.Header().Get("Content-Type"), rec.Body)
		}
	}
	if rec := req("DELETE", "/healthz", firefoxAccept); rec.Code != 405 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		t.Fatalf("405 for a browser: %d %s", rec.Code, rec.Body)
	}
	if rec := req("POST", "/nope", firefoxAccept); rec.Code != 404 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		t.Fatalf("POST to an unknown path: %d %s", rec.Code, rec.Body)
	}
}
