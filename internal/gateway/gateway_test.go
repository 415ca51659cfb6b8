package gateway_test

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/authn"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/gateway"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Tokens the fake validators know. They have the real credential format so
// the Authenticator dispatches them by kind.
var (
	goodAccess = mustGen(credential.AccessToken)
	goodPAT    = mustGen(credential.PAT)
	goodKey    = mustGen(credential.APIKey)
	deadAccess = mustGen(credential.AccessToken)
)

func mustGen(k credential.Kind) string {
	s, err := credential.Generate(rand.Reader, k, "")
	if err != nil {
		panic(err)
	}
	return s
}

// passwords: ada has two-factor; the right code is 123456.
type passwords struct{}

func (passwords) AuthenticateBasic(_ context.Context, email, password, otp, _ string) (*store.User, error) {
	if email != "ada@example.com" || password != "correct horse" {
		return nil, identity.ErrInvalidCredentials
	}
	if otp == "" {
		return nil, identity.ErrOTPRequired
	}
	if otp != "123456" {
		return nil, identity.ErrInvalidCode
	}
	return &store.User{ID: "u-ada", Email: email, TOTPEnabled: true, CreatedAt: time.Unix(0, 0)}, nil
}

func newHandler(t *testing.T, routes []config.RouteSpec) http.Handler {
	t.Helper()
	a, err := authn.New(authn.Config{Issuer: "http://127.0.0.1:8080"}, passwords{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	profile := &store.Profile{ID: "u-ada", Email: "ada@example.com"}
	a.RegisterBearer(credential.AccessToken, authn.BearerFunc(func(_ context.Context, tok string, _ *http.Request) (*authn.Principal, error) {
		if tok != goodAccess {
			return nil, authn.ErrInvalidToken
		}
		return &authn.Principal{UserID: "u-ada", ClientID: "app-1", Scopes: []string{"profile:read"}, Method: authn.MethodAccessToken, User: profile}, nil
	}))
	a.RegisterBearer(credential.PAT, authn.BearerFunc(func(_ context.Context, tok string, _ *http.Request) (*authn.Principal, error) {
		if tok != goodPAT {
			return nil, authn.ErrInvalidToken
		}
		return &authn.Principal{UserID: "u-ada", Scopes: []string{"profile:read", "tokens:read"}, Method: authn.MethodPAT, User: profile}, nil
	}))
	a.RegisterBearer(credential.APIKey, authn.BearerFunc(func(_ context.Context, tok string, _ *http.Request) (*authn.Principal, error) {
		if tok != goodKey {
			return nil, authn.ErrInvalidToken
		}
		return &authn.Principal{ClientID: "app-1", Scopes: []string{"tokens:read"}, Method: authn.MethodAPIKey}, nil
	}))
	rules, err := gateway.Compile(routes, func(string) bool { return true }, nil)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	gateway.New(rules, a, nil).Routes(mux)
	// As in the server: X-API-Key is rewritten around the whole router.
	return a.APIKeyHeader(mux)
}

var testRoutes = []config.RouteSpec{
	{Method: "GET", Path: "/v0/me/cards", Scopes: []string{"profile:read"}},
	{Method: "POST", Path: "/v0/me/cards", Scopes: []string{"profile:read", "tokens:read"}},
	{Method: "GET", Path: "/api/profiles/v1/users/me.json", Scopes: []string{"profile:read"}},
	{Method: "GET", Path: "/v0/ticker/{pair}", Public: true},
	{Path: "/v0/ticker/{pair}", Scopes: []string{"tokens:read"}}, // never reached for GET
	{Path: "/v0/whoami"}, // any authenticated caller
	{Method: "GET", Path: "/static/", Public: true},
}

// nginx describes the original request as the shipped nginx config does.
func nginx(method, uri string) func(*http.Request) {
	return func(r *http.Request) {
		r.Header.Set("X-Original-Method", method)
		r.Header.Set("X-Original-URI", uri)
	}
}

func caddy(method, uri string) func(*http.Request) {
	return func(r *http.Request) {
		r.Header.Set("X-Forwarded-Method", method)
		r.Header.Set("X-Forwarded-Uri", uri)
	}
}

func header(k, v string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Add(k, v) }
}

func TestCheck(t *testing.T) {
	h := newHandler(t, testRoutes)
	bearer := func(tok string) func(*http.Request) { return header("Authorization", "Bearer "+tok) }
	basic := func(user, pass string) func(*http.Request) {
		return func(r *http.Request) { r.SetBasicAuth(user, pass) }
	}
	type want struct {
		status  int
		headers map[string]string // "" value: must be absent
		www     string            // substring of WWW-Authenticate
	}
	identity := func(subject, scopes, client, kind, email string) map[string]string {
		return map[string]string{
			"X-Gatehouse-Subject": subject, "X-Gatehouse-Scopes": scopes, "X-Gatehouse-Client": client,
			"X-Gatehouse-Credential-Kind": kind, "X-Gatehouse-Email": email,
		}
	}
	tests := []struct {
		name   string
		method string // the check request's own method and path
		path   string
		prep   []func(*http.Request)
		want   want
	}{
		{"access token via nginx", "GET", "/gateway/check", []func(*http.Request){nginx("GET", "/v0/me/cards"), bearer(goodAccess)},
			want{200, identity("u-ada", "profile:read", "app-1", "access_token", "ada@example.com"), ""}},
		{"PAT via caddy", "GET", "/gateway/check", []func(*http.Request){caddy("GET", "/v0/me/cards?x=1"), bearer(goodPAT)},
			want{200, identity("u-ada", "profile:read tokens:read", "", "pat", "ada@example.com"), ""}},
		{"API key in X-API-Key, any-authenticated rule", "GET", "/gateway/check", []func(*http.Request){nginx("DELETE", "/v0/whoami"), header("X-API-Key", goodKey)},
			want{200, identity("", "tokens:read", "app-1", "api_key", ""), ""}},
		{"envoy: own method and path", "GET", "/gateway/check/envoy/api/profiles/v1/users/me.json", []func(*http.Request){bearer(goodAccess), header("Accept", "application/json")},
			want{200, identity("u-ada", "profile:read", "app-1", "access_token", "ada@example.com"), ""}},
		{"envoy ignores client-sent X-Original-URI", "GET", "/gateway/check/envoy/v0/secret", []func(*http.Request){nginx("GET", "/v0/ticker/btc")},
			want{403, nil, ""}},
		{"password with OTP", "GET", "/gateway/check", []func(*http.Request){nginx("GET", "/v0/me/cards"), basic("ada@example.com", "correct horse"), header("OTP-Token", "123456")},
			want{200, identity("u-ada", "*", "", "password", "ada@example.com"), ""}},
		{"password without OTP", "GET", "/gateway/check", []func(*http.Request){nginx("GET", "/v0/me/cards"), basic("ada@example.com", "correct horse")},
			want{401, map[string]string{"OTP-Token": "Required", "X-Gatehouse-Subject": ""}, "Basic"}},
		{"no credential", "GET", "/gateway/check", []func(*http.Request){nginx("GET", "/v0/me/cards")},
			want{401, map[string]string{"X-Gatehouse-Subject": ""}, `Bearer realm="gatehouse", Basic realm="gatehouse"`}},
		{"revoked token", "GET", "/gateway/check", []func(*http.Request){nginx("GET", "/v0/me/cards"), bearer(deadAccess)},
			want{401, nil, `error="invalid_token"`}},
		{"missing one of two scopes names both", "GET", "/gateway/check", []func(*http.Request){nginx("POST", "/v0/me/cards"), bearer(goodAccess)},
			want{403, map[string]string{"X-Gatehouse-Subject": ""}, `scope="profile:read tokens:read"`}},
		{"API key lacks scope", "GET", "/gateway/check", []func(*http.Request){nginx("GET", "/v0/me/cards"), bearer(goodKey)},
			want{403, nil, `error="insufficient_scope"`}},
		{"public rule, first match wins", "GET", "/gateway/check", []func(*http.Request){nginx("GET", "/v0/ticker/btc-usd")},
			want{200, map[string]string{"X-Gatehouse-Subject": ""}, ""}},
		{"later rule for other methods", "GET", "/gateway/check", []func(*http.Request){nginx("POST", "/v0/ticker/btc-usd"), bearer(goodAccess)},
			want{403, nil, `scope="tokens:read"`}},
		{"unmatched route is denied", "GET", "/gateway/check", []func(*http.Request){nginx("GET", "/v0/admin"), bearer(goodAccess)},
			want{403, map[string]string{"X-Gatehouse-Subject": ""}, ""}},
		{"method not in rule is denied", "GET", "/gateway/check", []func(*http.Request){nginx("DELETE", "/v0/me/cards"), bearer(goodAccess)},
			want{403, nil, ""}},
		{"dot segments never match a rule", "GET", "/gateway/check", []func(*http.Request){nginx("GET", "/static/../v0/admin")},
			want{403, nil, ""}},
		{"double slash never matches a rule", "GET", "/gateway/check", []func(*http.Request){nginx("GET", "//v0/me/cards"), bearer(goodAccess)},
			want{403, nil, ""}},
		{"missing trailing slash does not match a subtree rule", "GET", "/gateway/check", []func(*http.Request){nginx("GET", "/static")},
			want{403, nil, ""}},
		{"token in the original query is refused", "GET", "/gateway/check", []func(*http.Request){nginx("GET", "/v0/me/cards?access_token="+goodAccess)},
			want{400, nil, `error="invalid_request"`}},
		{"API key in the original query is refused", "GET", "/gateway/check", []func(*http.Request){nginx("GET", "/v0/me/cards?api_key="+goodKey)},
			want{400, nil, ""}},
		{"no description of the original request", "GET", "/gateway/check", []func(*http.Request){bearer(goodAccess)},
			want{400, nil, ""}},
		{"nginx and forged X-Forwarded-Uri disagree", "GET", "/gateway/check", []func(*http.Request){nginx("GET", "/v0/admin"), caddy("GET", "/v0/ticker/btc")},
			want{400, nil, ""}},
		{"repeated X-Original-URI", "GET", "/gateway/check", []func(*http.Request){nginx("GET", "/v0/admin"), header("X-Original-URI", "/v0/ticker/btc")},
			want{400, nil, ""}},
		{"relative original URI", "GET", "/gateway/check", []func(*http.Request){nginx("GET", "v0/ticker/btc")},
			want{400, nil, ""}},
		{"client-sent identity headers are not echoed", "GET", "/gateway/check", []func(*http.Request){nginx("GET", "/v0/ticker/btc"), header("X-Gatehouse-Subject", "u-admin")},
			want{200, map[string]string{"X-Gatehouse-Subject": ""}, ""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.path, nil)
			for _, p := range tc.prep {
				p(r)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.want.status {
				t.Fatalf("status %d, want %d; body %s", w.Code, tc.want.status, w.Body)
			}
			for k, v := range tc.want.headers {
				got := w.Header()[http.CanonicalHeaderKey(k)]
				if k == "OTP-Token" {
					got = w.Header()[k]
				}
				switch {
				case v == "" && strings.Join(got, "") != "":
					t.Errorf("%s = %q, want absent or empty", k, got)
				case v != "" && (len(got) != 1 || got[0] != v):
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if w.Code == http.StatusOK {
				for _, k := range []string{"X-Gatehouse-Subject", "X-Gatehouse-Scopes", "X-Gatehouse-Client", "X-Gatehouse-Credential-Kind", "X-Gatehouse-Email"} {
					if len(w.Header()[k]) != 1 {
						t.Errorf("%s: %d fields on a 200, want exactly one (empty means none)", k, len(w.Header()[k]))
					}
				}
			}
			// One field, even with two challenges (see oneChallengeLine).
			if www := w.Header().Values("WWW-Authenticate"); len(www) > 1 || !strings.Contains(strings.Join(www, ""), tc.want.www) {
				t.Errorf("WWW-Authenticate = %q, want one field containing %q", www, tc.want.www)
			}
			if w.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", w.Header().Get("Cache-Control"))
			}
		})
	}
}

func TestCompileListsEveryProblem(t *testing.T) {
	known := func(s string) bool { return s == "profile:read" }
	_, err := gateway.Compile([]config.RouteSpec{
		{Method: "GET", Path: "/ok", Scopes: []string{"profile:read"}},
		{Method: "GET", Path: "no-slash"},
		{Method: "get", Path: "/lower"},
		{Method: "GE T", Path: "/space"},
		{Method: "GET", Path: "/pub", Public: true, Scopes: []string{"profile:read"}},
		{Method: "GET", Path: "/unknown", Scopes: []string{"cards:read"}},
		{Method: "GET", Path: "/bad/{x"},
		{Method: "GET", Path: "/ok", Public: true},
		{Method: "GET", Path: "/api", API: "https://api.example.com"},
	}, known, nil)
	if err == nil {
		t.Fatal("Compile accepted bad rules")
	}
	for _, want := range []string{
		"gateway_routes[1]", "must start with /",
		"gateway_routes[2]", "upper case",
		"gateway_routes[3]", "not an HTTP method",
		"gateway_routes[4]", "public route cannot require scopes",
		"gateway_routes[5]", `unknown scope "cards:read"`,
		"gateway_routes[6]", "invalid path pattern",
		"gateway_routes[7]", "same method and path as gateway_routes[0]",
		"gateway_routes[8]", "not declared under apis",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "gateway_routes[0]") && !strings.Contains(err.Error(), "as gateway_routes[0]") {
		t.Errorf("the good rule was reported:\n%v", err)
	}
}

func TestCompileAcceptsGoodRules(t *testing.T) {
	rules, err := gateway.Compile(testRoutes, func(string) bool { return true }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rules.Len() != len(testRoutes) {
		t.Fatalf("%d rules, want %d", rules.Len(), len(testRoutes))
	}
}

// An empty rule list denies everything: the default is closed.
func TestNoRulesDenies(t *testing.T) {
	h := newHandler(t, nil)
	r := httptest.NewRequest("GET", "/gateway/check", nil)
	nginx("GET", "/v0/me/cards")(r)
	r.Header.Set("Authorization", "Bearer "+goodAccess)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusForbidden {
		t.Fatalf("status %d, want 403", w.Code)
	}
}
