package authn_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/api"
	"github.com/gatehouse/gatehouse/internal/authn"
	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/identity/identitytest"
)

const (
	email    = "alice@example.com"
	password = "vivid otter anchors the lamp"
)

type fixture struct {
	srv  *httptest.Server
	env  *identitytest.Env
	auth *authn.Authenticator
}

func newFixture(t *testing.T, cfg authn.Config) *fixture {
	t.Helper()
	env := identitytest.New(t)
	if cfg.Issuer == "" {
		cfg.Issuer = "http://127.0.0.1:8080"
	}
	a, err := authn.New(cfg, env.Service, nil)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	api.NewMe(env.Service, a, nil).Routes(mux)
	echo := func(w http.ResponseWriter, r *http.Request) {
		p, _ := authn.FromContext(r.Context())
		json.NewEncoder(w).Encode(p)
	}
	mux.Handle("POST /v0/me/tokens", a.Require("", authn.CredentialManagement())(http.HandlerFunc(echo)))
	mux.Handle("GET /v0/cards", a.Require("cards:read")(http.HandlerFunc(echo)))
	mux.Handle("GET /v0/tokens-only", a.Require("", authn.NoBasic())(http.HandlerFunc(echo)))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &fixture{srv: srv, env: env, auth: a}
}

type response struct {
	status int
	header http.Header
	body   map[string]any
}

func (f *fixture) call(t *testing.T, method, path string, prep func(*http.Request)) response {
	t.Helper()
	req, _ := http.NewRequest(method, f.srv.URL+path, nil)
	if prep != nil {
		prep(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	json.NewDecoder(resp.Body).Decode(&body)
	return response{resp.StatusCode, resp.Header, body}
}

func basic(user, pass string, otp ...string) func(*http.Request) {
	return func(r *http.Request) {
		r.SetBasicAuth(user, pass)
		if len(otp) > 0 {
			r.Header.Set("OTP-Token", otp[0])
		}
	}
}

func bearer(tok string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
}

// TestBasicWithOTPTokenOnMe is seed 004's "Simple request using email and
// password", with and without two-factor.
func TestBasicWithOTPTokenOnMe(t *testing.T) {
	f := newFixture(t, authn.Config{})
	u := f.env.CreateUser(t, email, password)

	// No two-factor: the password alone authenticates.
	r := f.call(t, "GET", "/v0/me", basic(email, password))
	if r.status != 200 || r.body["id"] != u.ID || r.body["email"] != email || r.body["two_factor"] != false || r.body["name"] != "Test User" {
		t.Fatalf("GET /v0/me: %d %v", r.status, r.body)
	}
	if _, err := time.Parse(time.RFC3339, r.body["created_at"].(string)); err != nil {
		t.Fatalf("created_at: %v", r.body["created_at"])
	}

	secret, _ := f.env.EnableTOTP(t, u.ID)
	code := func() string { return f.env.Code(t, secret) }

	// Missing OTP-Token → 401 with OTP-Token: Required and a JSON error.
	r = f.call(t, "GET", "/v0/me", basic(email, password))
	if r.status != 401 || r.header.Get("OTP-Token") != "Required" || r.body["error"] != "otp_required" || r.body["error_description"] == "" {
		t.Fatalf("missing OTP: %d %v %v", r.status, r.header, r.body)
	}
	if !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("error body is %s", r.header.Get("Content-Type"))
	}
	// Wrong OTP-Token → the same.
	r = f.call(t, "GET", "/v0/me", basic(email, password, "000000"))
	if r.status != 401 || r.header.Get("OTP-Token") != "Required" {
		t.Fatalf("wrong OTP: %d %v", r.status, r.header)
	}
	// Valid → 200.
	c := code()
	r = f.call(t, "GET", "/v0/me", basic(email, password, c))
	if r.status != 200 || r.body["two_factor"] != true {
		t.Fatalf("valid OTP: %d %v", r.status, r.body)
	}
	// The same code again → refused (each code once).
	r = f.call(t, "GET", "/v0/me", basic(email, password, c))
	if r.status != 401 || r.header.Get("OTP-Token") != "Required" {
		t.Fatalf("replayed OTP: %d", r.status)
	}
	// Wrong password (even with a good code): Basic challenge, no OTP hint.
	f.env.Clock.Advance(30 * time.Second)
	r = f.call(t, "GET", "/v0/me", basic(email, "wrong", code()))
	if r.status != 401 || r.header.Get("WWW-Authenticate") != `Basic realm="gatehouse", charset="UTF-8"` || r.header.Get("OTP-Token") != "" || r.body["error"] != "invalid_credentials" {
		t.Fatalf("wrong password: %d %v %v", r.status, r.header, r.body)
	}
	r = f.call(t, "GET", "/v0/me", basic("nobody@example.com", password))
	if r.status != 401 || r.body["error"] != "invalid_credentials" {
		t.Fatalf("unknown email: %d %v", r.status, r.body)
	}
}

func TestBasicThrottled(t *testing.T) {
	f := newFixture(t, authn.Config{})
	f.env.CreateUser(t, email, password)
	var r response
	for i := 0; i < 20 && r.status != http.StatusTooManyRequests; i++ {
		r = f.call(t, "GET", "/v0/me", basic(email, "wrong"))
	}
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" || r.body["error"] != "too_many_attempts" {
		t.Fatalf("no lockout: %d %v", r.status, r.header)
	}
}

func TestChallenges(t *testing.T) {
	f := newFixture(t, authn.Config{})
	r := f.call(t, "GET", "/v0/me", nil)
	got := r.header.Values("WWW-Authenticate")
	if r.status != 401 || len(got) != 2 || got[0] != `Bearer realm="gatehouse"` || got[1] != `Basic realm="gatehouse", charset="UTF-8"` {
		t.Fatalf("no credentials: %d %q", r.status, got)
	}
	if r.body["error"] == "" || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("body %v", r.body)
	}
	// Tokens-only route: no Basic challenge.
	r = f.call(t, "GET", "/v0/tokens-only", nil)
	if got := r.header.Values("WWW-Authenticate"); len(got) != 1 || got[0] != `Bearer realm="gatehouse"` {
		t.Fatalf("tokens-only challenge %q", got)
	}
	// Unknown scheme.
	r = f.call(t, "GET", "/v0/me", func(r *http.Request) { r.Header.Set("Authorization", "Digest x") })
	if r.status != 401 {
		t.Fatalf("Digest: %d", r.status)
	}
}

func TestTokenInURLOrFormRefused(t *testing.T) {
	f := newFixture(t, authn.Config{})
	r := f.call(t, "GET", "/v0/me?access_token=abc", nil)
	if r.status != 400 || r.body["error"] != "invalid_request" || !strings.Contains(r.body["error_description"].(string), "Authorization header") ||
		!strings.Contains(r.header.Get("WWW-Authenticate"), `error="invalid_request"`) {
		t.Fatalf("token in query: %d %v", r.status, r.body)
	}
	req, _ := http.NewRequest("POST", f.srv.URL+"/v0/me/tokens", strings.NewReader(url.Values{"access_token": {"abc"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("token in form body: %d", resp.StatusCode)
	}
}

func TestBearerDispatch(t *testing.T) {
	f := newFixture(t, authn.Config{})
	u := f.env.CreateUser(t, email, password)
	pat, _ := credential.Generate(rand.Reader, credential.PAT, "")
	access, _ := credential.Generate(rand.Reader, credential.AccessToken, "")
	broken, _ := credential.Generate(rand.Reader, credential.APIKey, "")

	// Nothing registered: invalid_token.
	r := f.call(t, "GET", "/v0/me", bearer(pat))
	if r.status != 401 || !strings.Contains(r.header.Get("WWW-Authenticate"), `error="invalid_token"`) || r.body["error"] != "invalid_token" {
		t.Fatalf("no validators: %d %v", r.status, r.header)
	}

	f.auth.RegisterBearer(credential.PAT, authn.BearerFunc(func(ctx context.Context, tok string, r *http.Request) (*authn.Principal, error) {
		if tok != pat {
			return nil, authn.InvalidToken("The personal access token is revoked.")
		}
		return &authn.Principal{UserID: u.ID, Scopes: []string{"profile:read"}, Method: authn.MethodPAT, CredentialID: "pat-1"}, nil
	}))
	f.auth.RegisterBearer(credential.AccessToken, authn.BearerFunc(func(ctx context.Context, tok string, r *http.Request) (*authn.Principal, error) {
		return &authn.Principal{UserID: u.ID, ClientID: "app", Scopes: []string{}, Method: authn.MethodAccessToken}, nil
	}))
	f.auth.RegisterBearer(credential.APIKey, authn.BearerFunc(func(ctx context.Context, tok string, r *http.Request) (*authn.Principal, error) {
		return nil, errors.New("database down")
	}))

	if r := f.call(t, "GET", "/v0/me", bearer(pat)); r.status != 200 || r.body["id"] != u.ID {
		t.Fatalf("PAT: %d %v", r.status, r.body)
	}
	other, _ := credential.Generate(rand.Reader, credential.PAT, "")
	r = f.call(t, "GET", "/v0/me", bearer(other))
	if r.status != 401 || !strings.Contains(r.header.Get("WWW-Authenticate"), `error_description="The personal access token is revoked."`) {
		t.Fatalf("revoked PAT: %d %v", r.status, r.header)
	}
	// Missing scope → 403 insufficient_scope naming the scope.
	r = f.call(t, "GET", "/v0/me", bearer(access))
	if r.status != 403 || r.body["error"] != "insufficient_scope" || !strings.Contains(r.header.Get("WWW-Authenticate"), `scope="profile:read"`) {
		t.Fatalf("insufficient scope: %d %v %v", r.status, r.header, r.body)
	}
	// Validator failure → 500, not a token error.
	if r := f.call(t, "GET", "/v0/me", bearer(broken)); r.status != 500 {
		t.Fatalf("validator error: %d", r.status)
	}
	// Not a Gatehouse credential (no fallback registered) → invalid_token.
	if r := f.call(t, "GET", "/v0/me", bearer("eyJhbGciOi.x.y")); r.status != 401 {
		t.Fatalf("foreign token: %d", r.status)
	}
	// Password auth carries every scope.
	if r := f.call(t, "GET", "/v0/cards", basic(email, password)); r.status != 200 || r.body["Method"] != "password" || r.body["Scopes"] != nil {
		t.Fatalf("password on scoped route: %d %v", r.status, r.body)
	}
	// A token-only route refuses Basic.
	if r := f.call(t, "GET", "/v0/tokens-only", basic(email, password)); r.status != 401 {
		t.Fatalf("Basic on token-only route: %d", r.status)
	}
}

func TestBasicRestrictedToCredentialRoutes(t *testing.T) {
	f := newFixture(t, authn.Config{BasicAuth: authn.BasicCredentialsOnly})
	f.env.CreateUser(t, email, password)
	r := f.call(t, "GET", "/v0/me", basic(email, password))
	if r.status != 401 || !strings.Contains(r.body["error_description"].(string), "credential-management") {
		t.Fatalf("Basic on /v0/me with basic_auth=credentials: %d %v", r.status, r.body)
	}
	if got := r.header.Values("WWW-Authenticate"); len(got) != 1 || !strings.HasPrefix(got[0], "Bearer") {
		t.Fatalf("challenge %q", got)
	}
	if r := f.call(t, "POST", "/v0/me/tokens", basic(email, password)); r.status != 200 {
		t.Fatalf("Basic on a credential-management route: %d %v", r.status, r.body)
	}
}

func TestBasicOverPlainHTTPRefused(t *testing.T) {
	for _, c := range []struct {
		issuer string
		ok     bool
	}{
		{"http://127.0.0.1:8080", true},
		{"http://localhost:8080", true},
		{"http://[::1]:8080", true},
		{"https://id.example.com", true},
		{"http://id.example.com", false},
		{"http://10.0.0.5", false},
	} {
		f := newFixture(t, authn.Config{Issuer: c.issuer})
		f.env.CreateUser(t, email, password)
		r := f.call(t, "GET", "/v0/me", basic(email, password))
		if (r.status == 200) != c.ok {
			t.Errorf("issuer %s: status %d %v", c.issuer, r.status, r.body)
		}
	}
}

func TestPrincipal(t *testing.T) {
	all := &authn.Principal{Method: authn.MethodPassword}
	some := &authn.Principal{Scopes: []string{"a", "b"}}
	none := &authn.Principal{Scopes: []string{}}
	var nobody *authn.Principal
	cases := []struct {
		p     *authn.Principal
		scope string
		want  bool
	}{
		{all, "anything", true}, {some, "a", true}, {some, "c", false}, {none, "a", false}, {none, "", true}, {nobody, "", false},
	}
	for _, c := range cases {
		if got := c.p.HasScope(c.scope); got != c.want {
			t.Errorf("%+v.HasScope(%q) = %v", c.p, c.scope, got)
		}
	}
	ctx := authn.WithPrincipal(context.Background(), some)
	if p, ok := authn.FromContext(ctx); !ok || p != some {
		t.Fatal("context round trip")
	}
	if _, ok := authn.FromContext(context.Background()); ok {
		t.Fatal("principal from empty context")
	}
	if _, err := authn.New(authn.Config{Issuer: "ftp://x"}, nil, nil); err == nil {
		t.Fatal("bad issuer accepted")
	}
	_ = identity.ErrOTPRequired
}
