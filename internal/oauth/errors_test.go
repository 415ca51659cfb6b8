package oauth

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

func TestWriteJSONError(t *testing.T) {
	tests := []struct {
		err        error
		status     int
		code       string
		challenged bool
	}{
		{ErrInvalidRequest("missing %s", "grant_type"), 400, "invalid_request", false},
		{ErrInvalidClient("bad"), 401, "invalid_client", true},
		{ErrInvalidGrant("used"), 400, "invalid_grant", false},
		{ErrUnauthorizedClient("no"), 400, "unauthorized_client", false},
		{ErrUnsupportedGrantType("password"), 400, "unsupported_grant_type", false},
		{ErrInvalidScope("x"), 400, "invalid_scope", false},
		{errors.New("db down"), 500, "server_error", false},
		{ErrInvalidGrant("x").WithCause(errors.New("secret detail")), 400, "invalid_grant", false},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		WriteJSONError(rec, httptest.NewRequest("POST", "/oauth2/token", nil), nil, tt.err)
		if rec.Code != tt.status {
			t.Errorf("%v: status %d, want %d", tt.err, rec.Code, tt.status)
		}
		var body map[string]string
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body["error"] != tt.code {
			t.Errorf("%v: body %q", tt.err, rec.Body.String())
		}
		if got := rec.Header().Get("WWW-Authenticate"); (got != "") != tt.challenged {
			t.Errorf("%v: WWW-Authenticate %q", tt.err, got)
		}
		if rec.Header().Get("Cache-Control") != "no-store" || rec.Header().Get("Pragma") != "no-cache" {
			t.Errorf("%v: missing no-store", tt.err)
		}
		if tt.code == "server_error" && body["error_description"] != "internal error" {
			t.Errorf("server error leaks %q", body["error_description"])
		}
		if json.Valid(rec.Body.Bytes()) && len(body) > 2 {
			t.Errorf("extra fields %v", body)
		}
	}
}

func TestRedirectError(t *testing.T) {
	rec := httptest.NewRecorder()
	RedirectError(rec, httptest.NewRequest("GET", "/oauth2/authorize", nil), nil,
		"https://app.example/cb?keep=1", ModeQuery, "st\"ate", "https://id.example", ErrAccessDenied("the user said \"no\""))
	if rec.Code != http.StatusFound {
		t.Fatalf("status %d", rec.Code)
	}
	u, _ := url.Parse(rec.Header().Get("Location"))
	q := u.Query()
	if u.Host != "app.example" || q.Get("keep") != "1" || q.Get("error") != "access_denied" || q.Get("state") != "st\"ate" || q.Get("iss") != "https://id.example" {
		t.Errorf("Location %q", u)
	}
	if q.Get("error_description") != "the user said no" {
		t.Errorf("error_description %q not sanitised", q.Get("error_description"))
	}

	rec = httptest.NewRecorder()
	RedirectError(rec, httptest.NewRequest("GET", "/oauth2/authorize", nil), nil,
		"https://app.example/cb", ModeFragment, "", "https://id.example", ErrUnauthorizedClient("no implicit"))
	u, _ = url.Parse(rec.Header().Get("Location"))
	f, _ := url.ParseQuery(u.Fragment)
	if u.RawQuery != "" || f.Get("error") != "unauthorized_client" || f.Has("state") || f.Get("iss") != "https://id.example" {
		t.Errorf("fragment Location %q", rec.Header().Get("Location"))
	}
}
