package server

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestSharedSecurityHeaderValuesStayIntact: securityHeaders hands every
// response the same value slices; a handler adding to or replacing one must
// change its own response only.
func TestSharedSecurityHeaderValuesStayIntact(t *testing.T) {
	h := securityHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/add":
			w.Header().Add("Content-Security-Policy", "sandbox")
			w.Header().Add("X-Frame-Options", "SAMEORIGIN")
		case "/set":
			w.Header().Set("Referrer-Policy", "origin")
		}
	}), true, "")
	for _, path := range []string{"/add", "/set", "/plain", "/add"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		got := rec.Header()
		wantCSP, wantXFO, wantRP := 1, 1, "no-referrer"
		if path == "/add" {
			wantCSP, wantXFO = 2, 2
		}
		if path == "/set" {
			wantRP = "origin"
		}
		if n := len(got.Values("Content-Security-Policy")); n != wantCSP {
			t.Errorf("%s: %d CSP values %q, want %d", path, n, got.Values("Content-Security-Policy"), wantCSP)
		}
		if n := len(got.Values("X-Frame-Options")); n != wantXFO || got.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: X-Frame-Options %q", path, got.Values("X-Frame-Options"))
		}
		if got.Get("Referrer-Policy") != wantRP || got.Get("Strict-Transport-Security") == "" {
			t.Errorf("%s: Referrer-Policy %q, HSTS %q", path, got.Get("Referrer-Policy"), got.Get("Strict-Transport-Security"))
		}
	}
}
