package oauth_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"github.com/gatehouse/gatehouse/internal/apikey"
	"github.com/gatehouse/gatehouse/internal/pat"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/api"
	"github.com/gatehouse/gatehouse/internal/authn"
	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/keys"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/scope"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
	"github.com/gatehouse/gatehouse/internal/tokentest"
	"github.com/gatehouse/gatehouse/internal/web"
)

// countingStore counts every write that issues something (grants, codes,
// tokens, consents), so a test can assert that an error path issued nothing.
type countingStore struct {
	*sqlstore.Store
	grants, codes, tokens, consents atomic.Int64
	// afterConsume, when set, runs once after the next successful
	// ConsumeAuthCode, before the redemption goes on: a test interleaves a
	// concurrent request there.
	afterConsume atomic.Pointer[func()]
}

func (c *countingStore) ConsumeAuthCode(ctx context.Context, hash string, at time.Time) (*store.AuthCode, error) {
	ac, err := c.Store.ConsumeAuthCode(ctx, hash, at)
	if err == nil {
		if hook := c.afterConsume.Swap(nil); hook != nil {
			(*hook)()
		}
	}
	return ac, err
}

// InTx counts what the transaction issued once it has committed.
func (c *countingStore) InTx(ctx context.Context, fn func(tx store.Store) error) error {
	var inner *countingStore
	err := c.Store.InTx(ctx, func(tx store.Store) error {
		inner = &countingStore{Store: tx.(*sqlstore.Store)}
		return fn(inner)
	})
	if err == nil {
		c.grants.Add(inner.grants.Load())
		c.codes.Add(inner.codes.Load())
		c.tokens.Add(inner.tokens.Load())
		c.consents.Add(inner.consents.Load())
	}
	return err
}

func (c *countingStore) CreateGrant(ctx context.Context, g *store.Grant) error {
	err := c.Store.CreateGrant(ctx, g)
	if err == nil {
		c.grants.Add(1)
	}
	return err
}

func (c *countingStore) CreateAuthCode(ctx context.Context, ac *store.AuthCode) error {
	err := c.Store.CreateAuthCode(ctx, ac)
	if err == nil {
		c.codes.Add(1)
	}
	return err
}

func (c *countingStore) CreateTokens(ctx context.Context, t ...*store.Token) error {
	err := c.Store.CreateTokens(ctx, t...)
	if err == nil {
		c.tokens.Add(int64(len(t)))
	}
	return err
}

func (c *countingStore) RotateRefreshToken(ctx context.Context, hash string, at time.Time, next ...*store.Token) (*store.Token, error) {
	old, err := c.Store.RotateRefreshToken(ctx, hash, at, next...)
	if err == nil {
		c.tokens.Add(int64(len(next)))
	}
	return old, err
}

func (c *countingStore) UpsertConsent(ctx context.Context, cs *store.Consent) error {
	err := c.Store.UpsertConsent(ctx, cs)
	if err == nil {
		c.consents.Add(1)
	}
	return err
}

// issued is a snapshot of the counters.
type issued struct{ grants, codes, tokens, consents int64 }

func (c *countingStore) snapshot() issued {
	return issued{c.grants.Load(), c.codes.Load(), c.tokens.Load(), c.consents.Load()}
}

// env is one assembled server: real store, identity, web pages, authn, the
// OAuth service and handler, and GET /v0/me.
type env struct {
	t      testing.TB
	ctx    context.Context
	st     *countingStore
	clock  *tokentest.Clock
	hasher *credential.Hasher
	ids    *identity.Service
	auth   *authn.Authenticator
	svc    *oauth.Service
	pats   *pat.Service
	keys   *apikey.Service
	srv    *httptest.Server
	issuer string
	jwt    oauth.JWTSigner // realKeys: the keys manager
}

// The APIs every test server declares. Gatehouse's compiled-in scopes stand
// in for an operator's: the cards API owns profile:read, the ledger API
// tokens:read.
const (
	apiCards  = "https://cards.example/api"
	apiLedger = "https://ledger.example"
)

var testAPIs = []oauth.API{
	{Identifier: apiCards, Name: "Cards API", Scopes: []string{scope.ProfileRead}},
	{Identifier: apiLedger, Name: "Ledger API", Scopes: []string{scope.TokensRead}},
}

// scopeRoute is a test route that needs tokens:read (for 403
// insufficient_scope).
const scopeRoute = "/test/tokens-read"

type envOpts struct {
	accessTTL      time.Duration
	clientCacheTTL time.Duration
	scopes         *scope.Holder
	// realKeys signs ID tokens with the signing keys in the store (every
	// algorithm) instead of the shared test RSA key.
	realKeys bool
	// jwtAccess (with realKeys) issues RFC 9068 JWT access tokens.
	jwtAccess bool
	// jwtKeys (with realKeys) makes JWT access tokens available while the
	// server default stays opaque.
	jwtKeys bool
	// apis replaces testAPIs when set.
	apis []oauth.API
	// onEvent is the service's OnEvent.
	onEvent func(ctx context.Context, tx store.Store, ev oauth.Event) error
}

func newEnv(t testing.TB, open func(testing.TB) *sqlstore.Store, opts ...envOpts) *env {
	t.Helper()
	var o envOpts
	if len(opts) > 0 {
		o = opts[0]
	}
	log := slog.New(slog.DiscardHandler)
	if os.Getenv("OAUTH_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	master := make([]byte, 32)
	rand.Read(master)
	box, err := secret.NewBox(master, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pepper, _ := secret.Derive(master, "credential-pepper-v1")
	pairwiseKey, _ := secret.Derive(master, "pairwise-subject-v1")
	hasher, err := credential.NewHasher(pepper)
	if err != nil {
		t.Fatal(err)
	}
	st := &countingStore{Store: open(t)}
	clock := tokentest.NewClock()

	srv := httptest.NewUnstartedServer(nil)
	issuer := "http://" + srv.Listener.Addr().String()

	idCfg := identity.DefaultConfig()
	idCfg.Argon2 = identity.Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}
	ids, err := identity.New(st, box, hasher, clock.Now, rand.Reader, log, idCfg)
	if err != nil {
		t.Fatal(err)
	}
	auth, err := authn.New(authn.Config{Issuer: issuer}, ids, log)
	if err != nil {
		t.Fatal(err)
	}
	var (
		signer  oauth.Signer = testSigner(t)
		jwks    server.Area  = jwksArea{}
		jwtKeys oauth.JWTSigner
		format  string
	)
	if o.realKeys {
		km, err := keys.New(context.Background(), st, box, clock.Now, rand.Reader, log, keys.Config{})
		if err != nil {
			t.Fatal(err)
		}
		signer, jwks = km, keysArea{km}
		if o.jwtAccess {
			jwtKeys, format = km, oauth.FormatJWT
		}
		if o.jwtKeys {
			jwtKeys = km
		}
	}
	apis := testAPIs
	if o.apis != nil {
		apis = o.apis
	}
	svc, err := oauth.NewService(oauth.Options{
		Issuer: issuer, Store: st, Hasher: hasher, Clock: clock.Now, Random: rand.Reader, Logger: log,
		AccessTokenTTL: o.accessTTL, ClientCacheTTL: o.clientCacheTTL,
		APIs: apis, Credentials: auth, Scopes: o.scopes, Signer: signer, JWT: jwtKeys, AccessTokenFormat: format,
		OnEvent: o.onEvent, PairwiseKey: pairwiseKey,
	})
	if err != nil {
		t.Fatal(err)
	}
	auth.RegisterBearer(credential.AccessToken, svc)
	pats, err := pat.New(st, hasher, clock.Now, rand.Reader, log, pat.Config{})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := apikey.New(st, hasher, clock.Now, rand.Reader, log, apikey.Config{})
	if err != nil {
		t.Fatal(err)
	}
	auth.RegisterBearer(credential.PAT, pats.Validator())
	auth.RegisterBearer(credential.APIKey, keys.Validator())
	pages, err := web.New(web.Config{Issuer: issuer}, ids, hasher, clock.Now, log)
	if err != nil {
		t.Fatal(err)
	}
	h := server.New(server.Options{Log: log, DB: st, Registry: prometheus.NewRegistry(), MaxBodyBytes: 1 << 20, Version: "test"},
		pages, oauth.NewHandler(svc, pages.OAuthUI(), log), api.NewMe(ids, auth, log), scopeArea{auth}, jwks)
	srv.Config.Handler = h
	srv.Start()
	t.Cleanup(srv.Close)
	return &env{t: t, ctx: context.Background(), st: st, clock: clock, hasher: hasher, ids: ids, auth: auth, svc: svc, srv: srv, issuer: issuer, pats: pats, keys: keys, jwt: jwtKeys}
}

type scopeArea struct{ auth *authn.Authenticator }

func (s scopeArea) Routes(mux *http.ServeMux) {
	mux.Handle("GET "+scopeRoute, s.auth.Require(scope.TokensRead)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok"))
	})))
}

const password = "correct horse battery staple 42"

func (e *env) user(email string) *store.User {
	e.t.Helper()
	u, err := e.ids.CreateUser(e.ctx, identity.NewUser{Email: email, Name: "Name of " + email, Password: password})
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

// app is a registered client with its secret and an oauth2.Config for it.
type app struct {
	*store.Client
	secret string
	conf   *oauth2.Config
}

const redirectURI = "https://app.example/cb"

// otherRedirectURI is a redirect URI on another host than redirectURI (a
// second pairwise sector).
const otherRedirectURI = "https://other.example/cb"

func (e *env) client(owner *store.User, nc oauth.NewClient) *app {
	e.t.Helper()
	nc.OwnerID = owner.ID
	if nc.Name == "" {
		nc.Name = "Test App"
	}
	if nc.ResourceServer != "" {
		c, sec, err := e.svc.CreateClient(e.ctx, nc)
		if err != nil {
			e.t.Fatal(err)
		}
		return &app{Client: c, secret: sec, conf: &oauth2.Config{ClientID: c.ID, ClientSecret: sec}}
	}
	if nc.RedirectURIs == nil {
		nc.RedirectURIs = []string{redirectURI}
	}
	if nc.GrantTypes == nil {
		nc.GrantTypes = []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken}
	}
	if nc.Scopes == nil {
		nc.Scopes = []string{scope.ProfileRead, scope.TokensRead}
	}
	c, sec, err := e.svc.CreateClient(e.ctx, nc)
	if err != nil {
		e.t.Fatal(err)
	}
	style := oauth2.AuthStyleInHeader
	if nc.Public {
		style = oauth2.AuthStyleInParams
	}
	return &app{Client: c, secret: sec, conf: &oauth2.Config{
		ClientID: c.ID, ClientSecret: sec, RedirectURL: c.RedirectURIs[0], Scopes: nc.Scopes,
		Endpoint: oauth2.Endpoint{AuthURL: e.issuer + "/oauth2/authorize", TokenURL: e.issuer + "/oauth2/token", AuthStyle: style},
	}}
}

// octx is the context that makes x/oauth2 use the test server's client.
func (e *env) octx() context.Context {
	return context.WithValue(e.ctx, oauth2.HTTPClient, e.srv.Client())
}

// ---------------------------------------------------------------- browser

// browser is a user agent with a cookie jar that follows redirects on the
// server and stops at redirects anywhere else (the client's redirect URI).
type browser struct {
	e *env
	c *http.Client
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	host := strings.TrimPrefix(e.issuer, "http://")
	c := &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if req.URL.Host != host {
			return http.ErrUseLastResponse
		}
		if len(via) > 10 {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	return &browser{e: e, c: c}
}

// page is a finished browser step.
type page struct {
	status   int
	location string // Location of a redirect off the server
	body     string
	url      *url.URL // the URL of the final response
}

func (b *browser) do(req *http.Request) *page {
	b.e.t.Helper()
	res, err := b.c.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return &page{status: res.StatusCode, location: res.Header.Get("Location"), body: string(body), url: res.Request.URL}
}

func (b *browser) get(u string) *page {
	b.e.t.Helper()
	if strings.HasPrefix(u, "/") {
		u = b.e.issuer + u
	}
	req, _ := http.NewRequest("GET", u, nil)
	return b.do(req)
}

func (b *browser) post(path string, form url.Values) *page {
	b.e.t.Helper()
	req, _ := http.NewRequest("POST", b.e.issuer+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var (
	reHidden = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)"`)
	reAction = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
)

// form returns the hidden fields of the form that posts to action.
func (p *page) form(t testing.TB, action string) url.Values {
	t.Helper()
	i := strings.Index(p.body, `action="`+action+`"`)
	if i < 0 {
		t.Fatalf("no form posting to %s on the page (status %d): %.600s", action, p.status, p.body)
	}
	rest := p.body[i:]
	rest = rest[:strings.Index(rest, "</form>")]
	v := url.Values{}
	for _, m := range reHidden.FindAllStringSubmatch(rest, -1) {
		v.Add(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	return v
}

// login signs the browser in through the sign-in form.
func (b *browser) login(email string) {
	b.e.t.Helper()
	p := b.get("/login")
	f := p.form(b.e.t, "/login")
	f.Set("email", email)
	f.Set("password", password)
	res := b.post("/login", f)
	if res.status != http.StatusOK || res.url.Path != "/account" {
		b.e.t.Fatalf("sign-in failed: %d %s", res.status, res.url)
	}
}

// consent submits the consent page's form with decision allow or deny.
func (b *browser) consent(p *page, decision string) *page {
	b.e.t.Helper()
	f := p.form(b.e.t, oauth.PathConsent)
	f.Set("decision", decision)
	return b.post(oauth.PathConsent, f)
}

func isConsentPage(p *page) bool {
	return p.status == http.StatusOK && strings.Contains(p.body, `action="`+oauth.PathConsent+`"`)
}

// redirectParams parses a redirect to the client (query, or fragment).
func redirectParams(t testing.TB, p *page, fragment bool) url.Values {
	t.Helper()
	if p.status != http.StatusFound || p.location == "" {
		t.Fatalf("want a redirect to the client, got %d %s: %.400s", p.status, p.url, p.body)
	}
	u, err := url.Parse(p.location)
	if err != nil {
		t.Fatal(err)
	}
	if got := u.Scheme + "://" + u.Host + u.Path; !strings.HasPrefix(p.location, redirectURI) && !strings.HasPrefix(p.location, otherRedirectURI) && !strings.HasPrefix(got, "http://127.0.0.1") {
		t.Fatalf("redirected to %q", p.location)
	}
	if fragment {
		if u.RawQuery != "" {
			t.Fatalf("implicit response in the query: %q", p.location)
		}
		v, err := url.ParseQuery(u.Fragment)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if u.Fragment != "" {
		t.Fatalf("code response with a fragment: %q", p.location)
	}
	return u.Query()
}

// authorize runs an authorization request in a signed-in browser, allowing
// the consent page if it is shown, and returns the redirect's parameters.
func (b *browser) authorize(authURL string) url.Values {
	b.e.t.Helper()
	p := b.get(authURL)
	if isConsentPage(p) {
		p = b.consent(p, "allow")
	}
	return redirectParams(b.e.t, p, false)
}

// codeFlow gets tokens for a with PKCE through x/oauth2.
func (e *env) codeFlow(b *browser, a *app, scopes ...string) *oauth2.Token {
	e.t.Helper()
	conf := *a.conf
	if len(scopes) > 0 {
		conf.Scopes = scopes
	}
	verifier := oauth2.GenerateVerifier()
	q := b.authorize(conf.AuthCodeURL("st-1", oauth2.S256ChallengeOption(verifier)))
	if q.Get("error") != "" || q.Get("state") != "st-1" || q.Get("iss") != e.issuer {
		e.t.Fatalf("authorization response: %v", q)
	}
	tok, err := conf.Exchange(e.octx(), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		e.t.Fatalf("exchange: %v", err)
	}
	return tok
}

// ---------------------------------------------------------------- raw HTTP

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r *resp) json(t testing.TB) map[string]any {
	t.Helper()
	m := map[string]any{}
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
	return m
}

func (r *resp) errCode(t testing.TB) string {
	t.Helper()
	s, _ := r.json(t)["error"].(string)
	return s
}

// do sends a request; headers are name, value pairs.
func (e *env) do(method, path string, body io.Reader, headers ...string) *resp {
	e.t.Helper()
	req, err := http.NewRequest(method, e.issuer+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return &resp{status: res.StatusCode, header: res.Header, body: b}
}

// postForm posts a form; headers as in do.
func (e *env) postForm(path string, form url.Values, headers ...string) *resp {
	e.t.Helper()
	return e.do("POST", path, strings.NewReader(form.Encode()), append([]string{"Content-Type", "application/x-www-form-urlencoded"}, headers...)...)
}

func basicAuth(id, secret string) []string {
	req, _ := http.NewRequest("GET", "/", nil)
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	return []string{"Authorization", req.Header.Get("Authorization")}
}

func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

// me calls GET /v0/me with a bearer token.
func (e *env) me(tok string) *resp {
	e.t.Helper()
	return e.do("GET", "/v0/me", nil, bearer(tok)...)
}

// introspect asks about tok as client a.
func (e *env) introspect(a *app, tok string) map[string]any {
	e.t.Helper()
	r := e.postForm(oauth.PathIntrospect, url.Values{"token": {tok}}, basicAuth(a.ID, a.secret)...)
	if r.status != http.StatusOK {
		e.t.Fatalf("introspect: %d %s", r.status, r.body)
	}
	return r.json(e.t)
}

// forEachBackend runs fn on SQLite and, with GATEHOUSE_TEST_POSTGRES_URL, on
// PostgreSQL.
func forEachBackend(t *testing.T, fn func(t *testing.T, e *env)) {
	tokentest.ForEachBackend(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		fn(t, newEnv(t, open))
	})
}

// mustError fails unless r has the status and (if code != "") error code.
func mustError(t testing.TB, r *resp, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if code != "" {
		if got := r.errCode(t); got != code {
			t.Fatalf("error %q, want %q: %s", got, code, r.body)
		}
	}
}

func openSQLite(t testing.TB) *sqlstore.Store { return tokentest.OpenSQLite(t) }
