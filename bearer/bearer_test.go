package bearer_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/bearer"
)

const (
	clientID     = "cards api"    // a space: RFC 6749 §2.3.1 form-encodes it in Basic
	clientSecret = "s3:cr+t%/=ok" // ':' '+' '%' must survive the encoding
	apiKey       = "gthk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	accessToken  = "gtha_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"
)

// clock is a settable clock, safe for concurrent use.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// authServer is an RFC 7662 introspection endpoint. It checks that each
// call is a form POST authenticated with client_secret_basic and carries the
// token in the body, and answers from tokens ({"active":false} otherwise).
type authServer struct {
	t      *testing.T
	srv    *httptest.Server
	calls  atomic.Int32
	mu     sync.Mutex
	tokens map[string]map[string]any
	status int                        // non-zero: answer this status with an error body
	raw    string                     // non-empty: answer this body as is
	hold   func(r *http.Request) bool // called before answering; false: answer nothing
	hints  []string
}

func newAuthServer(t *testing.T) *authServer {
	a := &authServer{t: t, tokens: map[string]map[string]any{}}
	a.srv = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *authServer) set(token string, resp map[string]any) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.tokens[token] = resp
}

func (a *authServer) serve(w http.ResponseWriter, r *http.Request) {
	a.calls.Add(1)
	user, pass, ok := r.BasicAuth()
	id, _ := url.QueryUnescape(user)
	secret, _ := url.QueryUnescape(pass)
	if r.Method != http.MethodPost || r.URL.RawQuery != "" ||
		r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		a.t.Errorf("introspection request: %s %s, Content-Type %q", r.Method, r.URL, r.Header.Get("Content-Type"))
	}
	if !ok || id != clientID || secret != clientSecret {
		a.t.Errorf("introspection without client_secret_basic: %q", r.Header.Get("Authorization"))
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if err := r.ParseForm(); err != nil || len(r.PostForm["token"]) != 1 || r.PostForm.Has("client_secret") {
		a.t.Errorf("introspection form: %v %v", r.PostForm, err)
	}
	a.mu.Lock()
	a.hints = append(a.hints, r.PostForm.Get("token_type_hint"))
	resp, found := a.tokens[r.PostForm.Get("token")]
	status, raw, hold := a.status, a.raw, a.hold
	a.mu.Unlock()
	if hold != nil && !hold(r) {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	switch {
	case status != 0:
		w.WriteHeader(status)
		w.Write([]byte(`{"error":"server_error"}`))
	case raw != "":
		w.Write([]byte(raw))
	case found:
		json.NewEncoder(w).Encode(resp)
	default:
		w.Write([]byte(`{"active":false}`))
	}
}

type env struct {
	as    *authServer
	clock *clock
	in    *bearer.Introspector
	mw    *bearer.Middleware
	// got is the principal the last successful request saw.
	mu  sync.Mutex
	got *bearer.Principal
}

func newEnv(t *testing.T, io bearer.IntrospectorOptions, o bearer.Options) *env {
	t.Helper()
	e := &env{as: newAuthServer(t), clock: &clock{t: time.Unix(1_800_000_000, 0)}}
	io.Endpoint, io.ClientID, io.ClientSecret, io.Now = e.as.srv.URL+"/oauth2/introspect", clientID, clientSecret, e.clock.Now
	in, err := bearer.NewIntrospector(io)
	if err != nil {
		t.Fatal(err)
	}
	if o.Realm == "" {
		o.Realm = "cards"
	}
	o.Now = e.clock.Now
	mw, err := bearer.New(in, o)
	if err != nil {
		t.Fatal(err)
	}
	e.in, e.mw = in, mw
	return e
}

// active is an introspection answer for a live credential.
func (e *env) active(scope string, extra ...any) map[string]any {
	m := map[string]any{
		"active": true, "scope": scope, "client_id": "app1", "sub": "user-1", "token_type": "Bearer",
		"exp": e.clock.Now().Add(time.Hour).Unix(), "iat": e.clock.Now().Add(-time.Minute).Unix(),
		"iss": "https://auth.example.com",
	}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i].(string)] = extra[i+1]
	}
	return m
}

// handler is a route requiring scopes that records its principal.
func (e *env) handler(scopes ...string) http.Handler {
	return e.mw.Require(scopes...)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := bearer.FromContext(r.Context())
		if !ok {
			http.Error(w, "no principal", 500)
			return
		}
		e.mu.Lock()
		e.got = p
		e.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
}

type answer struct {
	status int
	header http.Header
	body   map[string]string
}

func do(t *testing.T, h http.Handler, req *http.Request) answer {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	a := answer{status: rec.Code, header: rec.Header()}
	if rec.Code != http.StatusOK {
		if err := json.Unmarshal(rec.Body.Bytes(), &a.body); err != nil {
			t.Fatalf("status %d: body %q is not a JSON error: %v", rec.Code, rec.Body, err)
		}
		if a.body["error"] == "" || a.body["error_description"] == "" {
			t.Fatalf("status %d: error body %q lacks error or error_description", rec.Code, rec.Body)
		}
		if rec.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("status %d: Cache-Control %q", rec.Code, rec.Header().Get("Cache-Control"))
		}
	}
	return a
}

func get(token string) *http.Request {
	r := httptest.NewRequest("GET", "/v0/me/cards", nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	return r
}

func withHeaders(r *http.Request, kv ...string) *http.Request {
	for i := 0; i+1 < len(kv); i += 2 {
		r.Header.Add(kv[i], kv[i+1])
	}
	return r
}

const (
	bare         = `Bearer realm="cards"`
	invalidTok   = `Bearer realm="cards", error="invalid_token", error_description="The credential is invalid, expired or revoked."`
	malformedHdr = `Bearer realm="cards", error="invalid_request", error_description="The Authorization header is malformed: expected Bearer <token>."`
)

func TestAnswers(t *testing.T) {
	e := newEnv(t, bearer.IntrospectorOptions{CacheTTL: -1, InactiveCacheTTL: -1}, bearer.Options{})
	now := e.clock.Now()
	e.as.set(accessToken, e.active("cards:read profile:read", "credential_kind", "access_token"))
	e.as.set(apiKey, e.active("cards:read", "credential_kind", "api_key"))
	e.as.set("gtha_expired", e.active("cards:read", "exp", now.Add(-time.Second).Unix()))
	e.as.set("gtha_expires_now", e.active("cards:read", "exp", now.Unix()))
	e.as.set("gtha_not_yet", e.active("cards:read", "nbf", now.Add(time.Minute).Unix()))
	e.as.set("gthr_refresh", e.active("cards:read", "token_use", "refresh_token"))
	e.as.set("gtha_no_scope", e.active("profile:read"))
	e.as.set("gtha_no_exp", map[string]any{"active": true, "scope": "cards:read"})
	e.as.set("gthk_pat_kind", e.active("cards:read", "credential_kind", "pat"))
	e.as.set("gtha_string_active", map[string]any{"active": "true", "scope": "cards:read"})
	e.as.set("gtha_bad_exp", e.active("cards:read", "exp", "tomorrow"))

	form := func(target, body string) *http.Request {
		r := httptest.NewRequest("POST", target, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return r
	}
	tests := []struct {
		name      string
		req       *http.Request
		status    int
		challenge string // exact WWW-Authenticate; "-" for none
		calls     int32
	}{
		{"active token with scope", get(accessToken), 200, "", 1},
		{"scheme is case-insensitive", withHeaders(httptest.NewRequest("GET", "/", nil), "Authorization", "bEaReR  "+accessToken), 200, "", 1},
		{"token without exp", get("gtha_no_exp"), 200, "", 1},
		{"API key in X-API-Key", withHeaders(httptest.NewRequest("GET", "/", nil), "X-API-Key", apiKey), 200, "", 1},
		{"API key as Bearer", get(apiKey), 200, "", 1},
		{"form body without token passes", withHeaders(form("/", "a=1"), "Authorization", "Bearer "+accessToken), 200, "", 1},

		{"no credential", get(""), 401, bare, 0},
		{"empty Authorization", withHeaders(httptest.NewRequest("GET", "/", nil), "Authorization", " "), 401, bare, 0},
		{"Basic scheme", withHeaders(httptest.NewRequest("GET", "/", nil), "Authorization", "Basic dTpw"), 401, bare, 0},

		{"inactive", get("gtha_unknown"), 401, invalidTok, 1},
		{"active but exp in the past", get("gtha_expired"), 401, invalidTok, 1},
		{"active but exp is now", get("gtha_expires_now"), 401, invalidTok, 1},
		{"active but nbf in the future", get("gtha_not_yet"), 401, invalidTok, 1},
		{"refresh token", get("gthr_refresh"), 401, invalidTok, 1},
		{"too long", get(strings.Repeat("a", 4097)), 401, invalidTok, 0},
		{"PAT in X-API-Key", withHeaders(httptest.NewRequest("GET", "/", nil), "X-API-Key", "gthp_x"), 401,
			`Bearer realm="cards", error="invalid_token", error_description="The X-API-Key header carries API keys only."`, 0},
		{"X-API-Key the server says is no API key", withHeaders(httptest.NewRequest("GET", "/", nil), "X-API-Key", "gthk_pat_kind"), 401,
			`Bearer realm="cards", error="invalid_token", error_description="The X-API-Key header carries API keys only."`, 1},

		{"missing scope", get("gtha_no_scope"), 403,
			`Bearer realm="cards", error="insufficient_scope", error_description="The credential does not carry the scope this request needs: cards:read.", scope="cards:read"`, 1},

		{"Bearer without token", withHeaders(httptest.NewRequest("GET", "/", nil), "Authorization", "Bearer"), 400, malformedHdr, 0},
		{"Bearer with two tokens", withHeaders(httptest.NewRequest("GET", "/", nil), "Authorization", "Bearer a b"), 400, malformedHdr, 0},
		{"Bearer with a quote", withHeaders(httptest.NewRequest("GET", "/", nil), "Authorization", `Bearer a"b`), 400, malformedHdr, 0},
		{"two Authorization headers", withHeaders(get(accessToken), "Authorization", "Bearer "+accessToken), 400,
			`Bearer realm="cards", error="invalid_request", error_description="Send exactly one Authorization header."`, 0},
		{"X-API-Key and Authorization", withHeaders(get(accessToken), "X-API-Key", apiKey), 400,
			`Bearer realm="cards", error="invalid_request", error_description="Send either X-API-Key or Authorization, not both."`, 0},
		{"two X-API-Key headers", withHeaders(httptest.NewRequest("GET", "/", nil), "X-API-Key", apiKey, "X-API-Key", apiKey), 400,
			`Bearer realm="cards", error="invalid_request", error_description="Send exactly one X-API-Key header."`, 0},
		{"token in query", httptest.NewRequest("GET", "/v0/me/cards?access_token="+accessToken, nil), 400,
			`Bearer realm="cards", error="invalid_request", error_description="Send the credential in the Authorization header (Authorization: Bearer <token>), not in the URL: URLs leak into logs, history and Referer headers."`, 0},
		{"token in query and header", withHeaders(httptest.NewRequest("GET", "/?access_token=x", nil), "Authorization", "Bearer "+accessToken), 400, "", 0},
		{"API key in query", httptest.NewRequest("GET", "/?api_key="+apiKey, nil), 400, "", 0},
		{"token in form body", form("/", "access_token="+accessToken), 400,
			`Bearer realm="cards", error="invalid_request", error_description="Send the credential in the Authorization header (Authorization: Bearer <token>), not in the request body."`, 0},

		{"introspection answers a non-boolean active", get("gtha_string_active"), 503, "-", 1},
		{"introspection answers a malformed exp", get("gtha_bad_exp"), 503, "-", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := e.as.calls.Load()
			a := do(t, e.handler("cards:read"), tc.req)
			if a.status != tc.status {
				t.Fatalf("status %d, want %d (%v)", a.status, tc.status, a.body)
			}
			switch got := a.header.Get("WWW-Authenticate"); {
			case tc.challenge == "-" && got != "":
				t.Errorf("WWW-Authenticate %q on %d", got, a.status)
			case tc.challenge != "" && tc.challenge != "-" && got != tc.challenge:
				t.Errorf("WWW-Authenticate\n got %s\nwant %s", got, tc.challenge)
			case tc.status >= 400 && tc.status < 500 && !strings.HasPrefix(got, bare):
				t.Errorf("WWW-Authenticate %q lacks the Bearer challenge", got)
			}
			if tc.status == 503 && a.body["error"] != "temporarily_unavailable" {
				t.Errorf("503 body %v", a.body)
			}
			if n := e.as.calls.Load() - before; n != tc.calls {
				t.Errorf("%d introspection calls, want %d", n, tc.calls)
			}
		})
	}
}

func TestPrincipalInContext(t *testing.T) {
	e := newEnv(t, bearer.IntrospectorOptions{}, bearer.Options{})
	now := e.clock.Now()
	e.as.set(accessToken, map[string]any{
		"active": true, "scope": "cards:read  profile:read", "client_id": "app1", "sub": "user-1",
		"token_type": "Bearer", "credential_kind": "access_token", "aud": "https://api.example.com",
		"iss": "https://auth.example.com", "exp": now.Add(time.Hour).Unix(), "iat": now.Add(-time.Minute).Unix(),
		"jti": "tok-9", "token_use": "access_token",
	})
	if a := do(t, e.handler("cards:read", "profile:read"), get(accessToken)); a.status != 200 {
		t.Fatalf("status %d %v", a.status, a.body)
	}
	p := e.got
	if p.Subject != "user-1" || p.ClientID != "app1" || p.Kind != bearer.KindAccessToken || p.TokenType != "Bearer" ||
		p.Issuer != "https://auth.example.com" || !slices.Equal(p.Scopes, []string{"cards:read", "profile:read"}) ||
		!slices.Equal(p.Audience, []string{"https://api.example.com"}) ||
		!p.ExpiresAt.Equal(now.Add(time.Hour)) || !p.IssuedAt.Equal(now.Add(-time.Minute)) {
		t.Fatalf("principal %+v", p)
	}
	if string(p.Extra["jti"]) != `"tok-9"` || string(p.Extra["token_use"]) != `"access_token"` || p.Extra["sub"] != nil {
		t.Fatalf("extra %v", p.Extra)
	}
	if _, ok := bearer.FromContext(context.Background()); ok {
		t.Fatal("principal outside a protected route")
	}

	// A handler that changes its principal does not change the next one's.
	p.Scopes[0] = "admin"
	p.Extra["jti"][1] = 'X'
	if a := do(t, e.handler("cards:read"), get(accessToken)); a.status != 200 {
		t.Fatalf("second request: %d %v (a handler's change leaked into the cache)", a.status, a.body)
	}
	if string(e.got.Extra["jti"]) != `"tok-9"` || e.as.calls.Load() != 1 {
		t.Fatalf("second principal %+v after %d calls", e.got, e.as.calls.Load())
	}
}

func TestAudienceAndKinds(t *testing.T) {
	e := newEnv(t, bearer.IntrospectorOptions{}, bearer.Options{Audience: "cards", Kinds: []string{bearer.KindAPIKey, bearer.KindPAT}})
	e.as.set("gthk_cards", e.active("cards:read", "aud", []string{"ledger", "cards"}, "credential_kind", "api_key"))
	e.as.set("gthk_ledger", e.active("cards:read", "aud", "ledger", "credential_kind", "api_key"))
	e.as.set("gthp_cards", e.active("cards:read", "aud", "cards", "credential_kind", "pat"))
	e.as.set("gtha_cards", e.active("cards:read", "aud", "cards", "credential_kind", "access_token"))
	e.as.set("gtha_nokind", e.active("cards:read", "aud", "cards"))
	e.as.set("gtha_noaud", e.active("cards:read", "credential_kind", "api_key"))
	for tok, want := range map[string]int{
		"gthk_cards": 200, "gthp_cards": 200,
		"gthk_ledger": 401, "gtha_cards": 401, "gtha_nokind": 401, "gtha_noaud": 401,
	} {
		if a := do(t, e.handler(), get(tok)); a.status != want {
			t.Errorf("%s: status %d, want %d (%v)", tok, a.status, want, a.body)
		}
	}
}

func TestAPIKeyHeaderDisabled(t *testing.T) {
	e := newEnv(t, bearer.IntrospectorOptions{}, bearer.Options{DisableAPIKeyHeader: true})
	e.as.set(apiKey, e.active("cards:read"))
	a := do(t, e.handler(), withHeaders(httptest.NewRequest("GET", "/", nil), "X-API-Key", apiKey))
	if a.status != 401 || a.header.Get("WWW-Authenticate") != bare || e.as.calls.Load() != 0 {
		t.Fatalf("X-API-Key with the header disabled: %d %q, %d calls", a.status, a.header.Get("WWW-Authenticate"), e.as.calls.Load())
	}
}

func TestTokenTypeHint(t *testing.T) {
	e := newEnv(t, bearer.IntrospectorOptions{TokenTypeHint: "access_token"}, bearer.Options{})
	do(t, e.handler(), get(accessToken))
	e2 := newEnv(t, bearer.IntrospectorOptions{}, bearer.Options{})
	do(t, e2.handler(), get(accessToken))
	if !slices.Equal(e.as.hints, []string{"access_token"}) || !slices.Equal(e2.as.hints, []string{""}) {
		t.Fatalf("hints %q and %q", e.as.hints, e2.as.hints)
	}
}

func TestCacheHit(t *testing.T) {
	e := newEnv(t, bearer.IntrospectorOptions{}, bearer.Options{})
	e.as.set(accessToken, e.active("cards:read"))
	for i := range 3 {
		if a := do(t, e.handler("cards:read"), get(accessToken)); a.status != 200 {
			t.Fatalf("request %d: %d", i, a.status)
		}
	}
	// The scope check runs on the cached principal too.
	if a := do(t, e.handler("cards:write"), get(accessToken)); a.status != 403 {
		t.Fatalf("cached principal without the scope: %d", a.status)
	}
	if n := e.as.calls.Load(); n != 1 {
		t.Fatalf("%d introspection calls for 4 requests, want 1", n)
	}
}

func TestCacheTTLAndExp(t *testing.T) {
	e := newEnv(t, bearer.IntrospectorOptions{CacheTTL: 30 * time.Second, InactiveCacheTTL: 5 * time.Second}, bearer.Options{})
	h := e.handler()
	step := func(name, tok string, advance time.Duration, status int, calls int32) {
		t.Helper()
		e.clock.Advance(advance)
		if a := do(t, h, get(tok)); a.status != status {
			t.Fatalf("%s: status %d, want %d", name, a.status, status)
		}
		if n := e.as.calls.Load(); n != calls {
			t.Fatalf("%s: %d introspection calls, want %d", name, n, calls)
		}
	}

	// TTL: a token revoked on the server stays accepted until CacheTTL
	// passes — the documented staleness — and not a moment longer.
	e.as.set("gtha_long", e.active("cards:read"))
	step("first", "gtha_long", 0, 200, 1)
	e.as.set("gtha_long", map[string]any{"active": false}) // revoked
	step("cached, revoked on the server", "gtha_long", 29*time.Second, 200, 1)
	step("TTL passed", "gtha_long", time.Second, 401, 2)

	// exp before TTL: the entry ends at exp, and the middleware refuses
	// the token at exp even though the server still calls it active.
	e.as.set("gtha_short", e.active("cards:read", "exp", e.clock.Now().Add(10*time.Second).Unix()))
	step("short first", "gtha_short", 0, 200, 3)
	step("short cached", "gtha_short", 9*time.Second, 200, 3)
	step("short past exp", "gtha_short", time.Second, 401, 4)

	// Inactive answers are cached for InactiveCacheTTL.
	step("unknown", "gtha_unknown", 0, 401, 5)
	step("unknown cached", "gtha_unknown", 4*time.Second, 401, 5)
	e.as.set("gtha_unknown", e.active("cards:read")) // became valid (e.g. clock skew on issue)
	step("inactive TTL passed", "gtha_unknown", time.Second, 200, 6)
}

func TestMiddlewareChecksExpOfValidatorAnswer(t *testing.T) {
	// Any Validator, even one that ignores exp, is held to it.
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	v := bearer.ValidatorFunc(func(context.Context, string) (*bearer.Principal, error) {
		return &bearer.Principal{Subject: "u", Scopes: []string{"a"}, ExpiresAt: c.Now().Add(-time.Second)}, nil
	})
	mw, err := bearer.New(v, bearer.Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	mw.Require("a")(http.NotFoundHandler()).ServeHTTP(rec, get("tok"))
	if rec.Code != 401 || !strings.Contains(rec.Header().Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("expired principal: %d %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
}

func TestConcurrentRequestsShareOneCall(t *testing.T) {
	e := newEnv(t, bearer.IntrospectorOptions{}, bearer.Options{})
	e.as.set(accessToken, e.active("cards:read"))
	release := make(chan struct{})
	e.as.hold = func(*http.Request) bool { <-release; return true }
	h := e.handler("cards:read")
	const n = 64
	var wg, started sync.WaitGroup
	codes := make([]int, n)
	started.Add(n)
	for i := range n {
		wg.Go(func() {
			started.Done()
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, get(accessToken))
			codes[i] = rec.Code
		})
	}
	started.Wait()
	close(release)
	wg.Wait()
	for i, c := range codes {
		if c != 200 {
			t.Errorf("request %d: %d", i, c)
		}
	}
	if got := e.as.calls.Load(); got != 1 {
		t.Fatalf("%d introspection calls for %d concurrent requests with one token, want 1", got, n)
	}
}

func TestCallerGivingUpDoesNotFailOthers(t *testing.T) {
	e := newEnv(t, bearer.IntrospectorOptions{}, bearer.Options{})
	e.as.set(accessToken, e.active("cards:read"))
	entered, release := make(chan struct{}), make(chan struct{})
	e.as.hold = func(*http.Request) bool { close(entered); <-release; return true }

	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() {
		_, err := e.in.Validate(ctx, accessToken)
		first <- err
	}()
	<-entered // the first caller's call is at the server
	second := make(chan error, 1)
	go func() {
		p, err := e.in.Validate(context.Background(), accessToken)
		if err == nil && p.Subject != "user-1" {
			err = errors.New("wrong principal " + p.Subject)
		}
		second <- err
	}()
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Fatalf("first caller: %v", err)
	}
	close(release)
	if err := <-second; err != nil {
		t.Fatalf("second caller, after the first gave up: %v", err)
	}
	if n := e.as.calls.Load(); n != 1 {
		t.Fatalf("%d calls", n)
	}
}

func TestIntrospectionFailureIs503(t *testing.T) {
	t.Run("500", func(t *testing.T) {
		e := newEnv(t, bearer.IntrospectorOptions{}, bearer.Options{})
		e.as.set(accessToken, e.active("cards:read"))
		e.as.status = 500
		check503(t, e)
		// Failures are not cached: the next request asks again and passes.
		e.as.status = 0
		if a := do(t, e.handler(), get(accessToken)); a.status != 200 || e.as.calls.Load() != 2 {
			t.Fatalf("after recovery: %d, %d calls", a.status, e.as.calls.Load())
		}
	})
	t.Run("401 for our own client credentials", func(t *testing.T) {
		e := newEnv(t, bearer.IntrospectorOptions{}, bearer.Options{})
		e.as.status = 401
		check503(t, e)
	})
	t.Run("not JSON", func(t *testing.T) {
		e := newEnv(t, bearer.IntrospectorOptions{}, bearer.Options{})
		e.as.raw = "<html>maintenance</html>"
		check503(t, e)
	})
	t.Run("no active member", func(t *testing.T) {
		e := newEnv(t, bearer.IntrospectorOptions{}, bearer.Options{})
		e.as.raw = `{"scope":"cards:read"}`
		check503(t, e)
	})
	t.Run("timeout", func(t *testing.T) {
		// The server never answers; the Timeout ends the call. The assertion
		// does not depend on how long that takes.
		e := newEnv(t, bearer.IntrospectorOptions{Timeout: 50 * time.Millisecond}, bearer.Options{})
		done := make(chan struct{})
		t.Cleanup(func() { close(done) })
		e.as.hold = func(r *http.Request) bool {
			select {
			case <-r.Context().Done():
			case <-done:
			}
			return false
		}
		check503(t, e)
	})
	t.Run("unreachable", func(t *testing.T) {
		e := newEnv(t, bearer.IntrospectorOptions{}, bearer.Options{})
		e.as.srv.Close()
		a := do(t, e.handler(), get(accessToken))
		if a.status != 503 {
			t.Fatalf("status %d", a.status)
		}
	})
}

func check503(t *testing.T, e *env) {
	t.Helper()
	a := do(t, e.handler(), get(accessToken))
	if a.status != 503 || a.body["error"] != "temporarily_unavailable" || a.header.Get("WWW-Authenticate") != "" {
		t.Fatalf("status %d, body %v, challenge %q", a.status, a.body, a.header.Get("WWW-Authenticate"))
	}
}

func TestConfigurationErrors(t *testing.T) {
	ok := bearer.IntrospectorOptions{Endpoint: "https://auth.example.com/oauth2/introspect", ClientID: "a", ClientSecret: "b"}
	if _, err := bearer.NewIntrospector(ok); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(o *bearer.IntrospectorOptions){
		"plain http":  func(o *bearer.IntrospectorOptions) { o.Endpoint = "http://auth.example.com/oauth2/introspect" },
		"relative":    func(o *bearer.IntrospectorOptions) { o.Endpoint = "/oauth2/introspect" },
		"no secret":   func(o *bearer.IntrospectorOptions) { o.ClientSecret = "" },
		"no clientid": func(o *bearer.IntrospectorOptions) { o.ClientID = "" },
	} {
		o := ok
		mod(&o)
		if _, err := bearer.NewIntrospector(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	for _, o := range []bearer.IntrospectorOptions{
		{Endpoint: "http://127.0.0.1:8080/oauth2/introspect", ClientID: "a", ClientSecret: "b"},
		{Endpoint: "http://localhost:8080/oauth2/introspect", ClientID: "a", ClientSecret: "b"},
		{Endpoint: "http://gatehouse:8080/oauth2/introspect", ClientID: "a", ClientSecret: "b", AllowInsecureHTTP: true},
	} {
		if _, err := bearer.NewIntrospector(o); err != nil {
			t.Errorf("%s: %v", o.Endpoint, err)
		}
	}
	in, _ := bearer.NewIntrospector(ok)
	if _, err := bearer.New(nil, bearer.Options{}); err == nil {
		t.Error("nil validator accepted")
	}
	if _, err := bearer.New(in, bearer.Options{Realm: `a"b`}); err == nil {
		t.Error("realm with a quote accepted")
	}
	mw, _ := bearer.New(in, bearer.Options{})
	for _, s := range []string{"", "a b", `a"b`, "é"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Require(%q) did not panic", s)
				}
			}()
			mw.Require(s)
		}()
	}
}

// BenchmarkCachedRequest measures the middleware's own cost on a cache hit
// (header parsing, SHA-256 of the token, LRU lookup, principal copy, scope
// check), without the network.
//
//	go test -run '^$' -bench CachedRequest ./bearer/
func BenchmarkCachedRequest(b *testing.B) {
	as := &authServer{tokens: map[string]map[string]any{}}
	as.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"active":true,"scope":"cards:read profile:read","sub":"u","client_id":"c","exp":4102444800}`))
	}))
	defer as.srv.Close()
	in, err := bearer.NewIntrospector(bearer.IntrospectorOptions{Endpoint: as.srv.URL, ClientID: "c", ClientSecret: "s"})
	if err != nil {
		b.Fatal(err)
	}
	mw, _ := bearer.New(in, bearer.Options{})
	h := mw.Require("cards:read")(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req := get(accessToken)
		for pb.Next() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != 200 {
				b.Fatal(rec.Code)
			}
		}
	})
}
