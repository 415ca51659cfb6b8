package main

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestCallbackChecksStateAndIssuer(t *testing.T) {
	const state, issuer = "s-123", "http://127.0.0.1:8080"
	cases := []struct {
		name      string
		query     url.Values
		status    int
		delivered bool
		code      string
		errWant   string
	}{
		{"a response for another sign-in is ignored", url.Values{"state": {"other"}, "code": {"c"}, "iss": {issuer}}, http.StatusBadRequest, false, "", ""},
		{"no state is ignored", url.Values{"code": {"c"}, "iss": {issuer}}, http.StatusBadRequest, false, "", ""},
		{"another issuer (mix-up) is refused", url.Values{"state": {state}, "code": {"c"}, "iss": {"https://evil.example"}}, http.StatusOK, true, "", "issuer"},
		{"a missing iss is refused", url.Values{"state": {state}, "code": {"c"}}, http.StatusOK, true, "", "issuer"},
		{"an error response is reported", url.Values{"state": {state}, "iss": {issuer}, "error": {"access_denied"}}, http.StatusOK, true, "", "access_denied"},
		{"the code is handed over", url.Values{"state": {state}, "code": {"gthc_x"}, "iss": {issuer}}, http.StatusOK, true, "gthc_x", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := make(chan callback, 1)
			rec := httptest.NewRecorder()
			callbackHandler(state, issuer, got).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/callback?"+c.query.Encode(), nil))
			if rec.Code != c.status {
				t.Fatalf("status %d, want %d", rec.Code, c.status)
			}
			select {
			case cb := <-got:
				if !c.delivered {
					t.Fatalf("delivered %+v, want nothing", cb)
				}
				if cb.code != c.code {
					t.Errorf("code %q, want %q", cb.code, c.code)
				}
				if c.errWant == "" && cb.err != nil || c.errWant != "" && (cb.err == nil || !strings.Contains(cb.err.Error(), c.errWant)) {
					t.Errorf("err %v, want one mentioning %q", cb.err, c.errWant)
				}
			default:
				if c.delivered {
					t.Fatal("nothing delivered")
				}
			}
		})
	}
}

func TestOptionsNeedAClientID(t *testing.T) {
	env := map[string]string{"GATEHOUSE_URL": "http://127.0.0.1:9/"}
	if _, err := parseOptions(nil, func(k string) string { return env[k] }, &strings.Builder{}); err == nil {
		t.Fatal("no client id accepted")
	}
	env["CLIENT_ID"] = "abc"
	o, err := parseOptions(nil, func(k string) string { return env[k] }, &strings.Builder{})
	if err != nil {
		t.Fatal(err)
	}
	if o.issuer != "http://127.0.0.1:9" || o.clientID != "abc" || o.port != 0 {
		t.Fatalf("options %+v", o)
	}
}
