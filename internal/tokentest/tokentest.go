// Package tokentest is the test harness of the credential areas (personal
// access tokens, API keys, leaked-credential revocation, and OAuth access
// tokens as bearer credentials): a real store —
// SQLite in a temporary directory, or PostgreSQL in a schema of its own when
// GATEHOUSE_TEST_POSTGRES_URL is set — a fake clock, the real identity and
// authn services, and an httptest server running the real middleware.
//
// It is imported by tests only.
package tokentest

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/internal/apikey"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/authn"
	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/leak"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/pat"
	"github.com/gatehouse/gatehouse/internal/scope"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/backend"
	"github.com/gatehouse/gatehouse/internal/store/postgres"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
)

// PostgresEnv names the variable that enables the PostgreSQL runs.
const PostgresEnv = pgtest.Env

// Backend is one database the suites run on.
type Backend struct {
	Name string
	Open func(t testing.TB) *sqlstore.Store
}

// Backends returns SQLite and PostgreSQL; opening the PostgreSQL one skips
// the test when PostgresEnv is not set.
func Backends() []Backend {
	return []Backend{
		{Name: "sqlite", Open: OpenSQLite},
		{Name: "postgres", Open: func(t testing.TB) *sqlstore.Store { return OpenPostgres(t, pgtest.URL(t)) }},
	}
}

// ForEachBackend runs fn as a subtest per backend.
func ForEachBackend(t *testing.T, fn func(t *testing.T, open func(t testing.TB) *sqlstore.Store)) {
	for _, b := range Backends() {
		t.Run(b.Name, func(t *testing.T) {
			if b.Name == "postgres" {
				pgtest.URL(t) // skip before fn does any work
			}
			fn(t, b.Open)
		})
	}
}

// ForEachBackendReplicas runs fn as a subtest per backend with n stores on
// one database, as n replicas (or, on SQLite, n processes) would have.
func ForEachBackendReplicas(t *testing.T, n int, fn func(t *testing.T, stores []*sqlstore.Store)) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "gatehouse.db")
		fn(t, openReplicas(t, path, n))
	})
	t.Run("postgres", func(t *testing.T) {
		dsn, drop, err := postgres.NewSchema(context.Background(), pgtest.URL(t), "tokentest")
		if err != nil {
			t.Fatalf("postgres: %v", err)
		}
		t.Cleanup(func() { drop() })
		fn(t, openReplicas(t, dsn, n))
	})
}

func openReplicas(t testing.TB, dsn string, n int) []*sqlstore.Store {
	t.Helper()
	ctx := context.Background()
	stores := make([]*sqlstore.Store, n)
	for i := range stores {
		st, err := backend.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		if i == 0 {
			if err := st.MigrateUp(ctx); err != nil {
				t.Fatal(err)
			}
		}
		stores[i] = st
	}
	return stores
}

// OpenSQLite opens a migrated SQLite store in a temporary directory.
func OpenSQLite(t testing.TB) *sqlstore.Store {
	t.Helper()
	ctx := context.Background()
	st, err := backend.Open(ctx, filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.MigrateUp(ctx); err != nil {
		t.Fatal(err)
	}
	return st
}

// OpenPostgres opens a migrated store in a fresh schema of the database at
// base, dropped when the test ends.
func OpenPostgres(t testing.TB, base string) *sqlstore.Store {
	t.Helper()
	ctx := context.Background()
	dsn, drop, err := postgres.NewSchema(ctx, base, "tokentest")
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	t.Cleanup(func() { drop() })
	st, err := backend.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.MigrateUp(ctx); err != nil {
		t.Fatal(err)
	}
	return st
}

// Clock is a settable clock, safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock starts at the current time (TOTP codes are computed from it).
func NewClock() *Clock { return &Clock{t: time.Now().UTC().Truncate(time.Millisecond)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Env is one assembled test server.
type Env struct {
	T        testing.TB
	Ctx      context.Context
	Store    *sqlstore.Store
	Clock    *Clock
	Hasher   *credential.Hasher
	Identity *identity.Service
	Auth     *authn.Authenticator
	PATs     *pat.Service
	APIKeys  *apikey.Service
	// OAuth issues and validates access tokens (registered with Auth); its
	// HTTP endpoints are not mounted: CodeFlowToken and AppToken call it.
	OAuth  *oauth.Service
	Leak   *leak.Service
	Server *httptest.Server
	URL    string
	// Scopes is the catalog holder the services read.
	Scopes *scope.Holder
	// Audit is the audit log (nil without Options.Audit).
	Audit *audit.Log
}

// Options tune New.
type Options struct {
	LeakLimit  leak.LimitConfig
	PATConfig  pat.Config
	KeyConfig  apikey.Config
	ExtraAreas []server.Area
	// Audit: the services record to an audit log on the store (Env.Audit),
	// as the app wires them; without it nothing is recorded.
	Audit bool
	// Scopes holds the scope catalog every service reads (nil: the
	// built-in scopes); a test swaps it to reload.
	Scopes *scope.Holder
}

// WhoAmI is a test-only route protected by profile:read that answers the
// principal as JSON.
const WhoAmI = "/test/whoami"

// Principal is WhoAmI's answer.
type Principal struct {
	UserID       string   `json:"user_id"`
	ClientID     string   `json:"client_id"`
	Scopes       []string `json:"scopes"`
	Method       string   `json:"method"`
	CredentialID string   `json:"credential_id"`
}

type whoami struct{ auth *authn.Authenticator }

func (w whoami) Routes(mux *http.ServeMux) {
	mux.Handle("GET "+WhoAmI, w.auth.Require("profile:read")(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		p, _ := authn.FromContext(r.Context())
		rw.Header().Set("Content-Type", "application/json")
		json.NewEncoder(rw).Encode(Principal{p.UserID, p.ClientID, p.Scopes, p.Method, p.CredentialID})
	})))
}

// New assembles the services on st and starts a server.
func New(t testing.TB, st *sqlstore.Store, o Options) *Env {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() && os.Getenv("TOKENTEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	master := make([]byte, 32)
	rand.Read(master)
	box, err := secret.NewBox(master, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pepper, _ := secret.Derive(master, "credential-pepper-v1")
	hasher, err := credential.NewHasher(pepper)
	if err != nil {
		t.Fatal(err)
	}
	pairwiseKey, _ := secret.Derive(master, "pairwise-subject-v1")
	clock := NewClock()
	idCfg := identity.DefaultConfig()
	idCfg.Argon2 = identity.Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}
	ids, err := identity.New(st, box, hasher, clock.Now, rand.Reader, log, idCfg)
	if err != nil {
		t.Fatal(err)
	}
	var alog *audit.Log
	if o.Audit {
		key := make([]byte, 32)
		rand.Read(key)
		if alog, err = audit.New(audit.Config{Store: st, Now: clock.Now, Log: log, CheckpointKey: key}); err != nil {
			t.Fatal(err)
		}
		o.PATConfig.Audit, o.KeyConfig.Audit = alog, alog
	}
	auth, err := authn.New(authn.Config{Issuer: "http://127.0.0.1", Audit: alog, Now: clock.Now}, ids, log)
	if err != nil {
		t.Fatal(err)
	}
	if o.Scopes == nil {
		o.Scopes = scope.NewHolder(nil)
	}
	o.PATConfig.Scopes, o.KeyConfig.Scopes = o.Scopes, o.Scopes
	pats, err := pat.New(st, hasher, clock.Now, rand.Reader, log, o.PATConfig)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := apikey.New(st, hasher, clock.Now, rand.Reader, log, o.KeyConfig)
	if err != nil {
		t.Fatal(err)
	}
	lk, err := leak.New(st, hasher, clock.Now, log)
	if err != nil {
		t.Fatal(err)
	}
	osvc, err := oauth.NewService(oauth.Options{
		Issuer: "http://127.0.0.1", Store: st, Hasher: hasher, Clock: clock.Now, Random: rand.Reader, Logger: log,
		Scopes: o.Scopes,
		// Introspection validates every credential kind with the API's own
		// validators, as the app wires it.
		Credentials: auth,
		PairwiseKey: pairwiseKey,
	})
	if err != nil {
		t.Fatal(err)
	}
	auth.RegisterBearer(credential.AccessToken, osvc)
	auth.RegisterBearer(credential.PAT, pats.Validator())
	auth.RegisterBearer(credential.APIKey, keys.Validator())

	areas := []server.Area{
		pat.NewHandler(pats, auth, log),
		apikey.NewHandler(keys, auth, log),
		leak.NewHandler(lk, o.LeakLimit, log),
		whoami{auth},
	}
	areas = append(areas, o.ExtraAreas...)
	h := server.New(server.Options{
		Log: log, DB: st, Registry: prometheus.NewRegistry(), MaxBodyBytes: 1 << 20, Version: "test",
	}, areas...)
	srv := httptest.NewServer(auth.APIKeyHeader(h))
	t.Cleanup(srv.Close)
	return &Env{
		T: t, Ctx: context.Background(), Store: st, Clock: clock, Hasher: hasher, Identity: ids, Auth: auth,
		PATs: pats, APIKeys: keys, OAuth: osvc, Leak: lk, Server: srv, URL: srv.URL, Scopes: o.Scopes,
		Audit: alog,
	}
}

// Password is the password of every test user.
const Password = "correct horse battery staple 42"

// User is a test account.
type User struct {
	*store.User
	Email      string
	TOTPSecret string // "" when two-factor is off
}

// CreateUser creates an account; with totp, two-factor is enabled.
func (e *Env) CreateUser(email string, totp bool) *User {
	e.T.Helper()
	return e.createUser(identity.NewUser{Email: email, Name: "Test User", Password: Password}, totp)
}

// CreateAdmin creates an administrator account (no two-factor).
func (e *Env) CreateAdmin(email string) *User {
	e.T.Helper()
	return e.createUser(identity.NewUser{Email: email, Name: "Test Admin", Password: Password, Admin: true}, false)
}

func (e *Env) createUser(nu identity.NewUser, totp bool) *User {
	e.T.Helper()
	email := nu.Email
	u, err := e.Identity.CreateUser(e.Ctx, nu)
	if err != nil {
		e.T.Fatal(err)
	}
	out := &User{User: u, Email: email}
	if totp {
		key, err := e.Identity.BeginTOTP(e.Ctx, u.ID)
		if err != nil {
			e.T.Fatal(err)
		}
		code, err := identity.TOTPCode(key.Secret, e.Clock.Now())
		if err != nil {
			e.T.Fatal(err)
		}
		if _, err := e.Identity.ConfirmTOTP(e.Ctx, u.ID, code, "127.0.0.1"); err != nil {
			e.T.Fatal(err)
		}
		out.TOTPSecret = key.Secret
		// Each code is accepted once: move to the next time step.
		e.Clock.Advance(30 * time.Second)
	}
	return out
}

// OTP returns the current code of a two-factor user and moves the clock to
// the next step, so the next call returns a fresh code.
func (e *Env) OTP(u *User) string {
	e.T.Helper()
	code, err := identity.TOTPCode(u.TOTPSecret, e.Clock.Now())
	if err != nil {
		e.T.Fatal(err)
	}
	e.Clock.Advance(30 * time.Second)
	return code
}

// CreateClient registers an active confidential client owned by ownerID.
func (e *Env) CreateClient(id, ownerID string, scopes ...string) *store.Client {
	e.T.Helper()
	now := e.Clock.Now()
	c := &store.Client{
		ID: id, Name: "App " + id, OwnerID: ownerID, Type: store.ClientConfidential,
		RedirectURIs: []string{"https://app.example/cb"}, GrantTypes: []string{"client_credentials"},
		Scopes: scopes, Status: store.ClientActive, CreatedAt: now, UpdatedAt: now,
	}
	if err := e.Store.CreateClient(e.Ctx, c, nil); err != nil {
		e.T.Fatal(err)
	}
	return c
}

// Response is a finished HTTP exchange.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v.
func (r *Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decoding %q: %v", r.Body, err)
	}
}

// Error returns the "error" member of a JSON error body.
func (r *Response) Error() string {
	var b struct {
		Error string `json:"error"`
	}
	json.Unmarshal(r.Body, &b)
	return b.Error
}

// Do sends a request. headers are name, value pairs.
func (e *Env) Do(method, path, body string, headers ...string) *Response {
	e.T.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.URL+path, rd)
	if err != nil {
		e.T.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	res, err := e.Server.Client().Do(req)
	if err != nil {
		e.T.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return &Response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// Bearer returns the header pair for a bearer credential.
func Bearer(token string) []string { return []string{"Authorization", "Bearer " + token} }

// Basic returns the header pair for HTTP Basic with the test password.
func Basic(email string) []string {
	req, _ := http.NewRequest("GET", "/", nil)
	req.SetBasicAuth(email, Password)
	return []string{"Authorization", req.Header.Get("Authorization")}
}

// JSONType is the Content-Type header pair for JSON.
var JSONType = []string{"Content-Type", "application/json"}

// H concatenates header pairs.
func H(pairs ...[]string) []string {
	var out []string
	for _, p := range pairs {
		out = append(out, p...)
	}
	return out
}

// App is a client registered through the OAuth service, with its secret.
type App struct {
	*store.Client
	Secret string
}

// RedirectURI is registered on every App that uses the code flow.
const RedirectURI = "https://app.example/cb"

// RegisterApp registers an active confidential client owned by ownerID with
// the given grant types and scopes, as `gatehouse client create` does.
func (e *Env) RegisterApp(name, ownerID string, grants []string, scopes ...string) *App {
	e.T.Helper()
	c, secret, err := e.OAuth.CreateClient(e.Ctx, oauth.NewClient{
		Name: name, OwnerID: ownerID, RedirectURIs: []string{RedirectURI}, GrantTypes: grants, Scopes: scopes,
		ByAdmin: true,
	})
	if err != nil {
		e.T.Fatal(err)
	}
	return &App{Client: c, Secret: secret}
}

// CodeFlowToken runs the authorization-code flow through the OAuth service
// as the browser, the consent page and the app would: userID allows app the
// scope, and the app redeems the code. It returns the token response or the
// error of the first step that refused.
func (e *Env) CodeFlowToken(app *App, userID, scope string) (*oauth.TokenResponse, error) {
	e.T.Helper()
	a, err := e.OAuth.ValidateAuthorize(e.Ctx, oauth.AuthorizeRequest{
		ClientID: app.ID, RedirectURI: RedirectURI, ResponseType: "code", Scope: scope, ScopeSent: true, State: "s",
	})
	if err != nil {
		return nil, err
	}
	loc, err := e.OAuth.Approve(e.Ctx, a, userID, e.Clock.Now(), true)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(loc)
	if err != nil {
		e.T.Fatal(err)
	}
	return e.OAuth.Token(e.Ctx, oauth.TokenRequest{
		GrantType: oauth.GrantAuthorizationCode, Code: u.Query().Get("code"), RedirectURI: RedirectURI,
		Client: oauth.ClientCredentials{ID: app.ID, Secret: app.Secret, Method: oauth.AuthMethodBasic},
	})
}

// Refresh redeems a refresh token of app.
func (e *Env) Refresh(app *App, refreshToken string) (*oauth.TokenResponse, error) {
	return e.OAuth.Token(e.Ctx, oauth.TokenRequest{
		GrantType: oauth.GrantRefreshToken, RefreshToken: refreshToken,
		Client: oauth.ClientCredentials{ID: app.ID, Secret: app.Secret, Method: oauth.AuthMethodBasic},
	})
}

// AppToken is a client_credentials token of app (scope "" for the app's
// default scopes); it acts as the app's owner.
func (e *Env) AppToken(app *App, scope string) (*oauth.TokenResponse, error) {
	return e.OAuth.Token(e.Ctx, oauth.TokenRequest{
		GrantType: oauth.GrantClientCredentials, Scope: scope, ScopeSent: scope != "",
		Client: oauth.ClientCredentials{ID: app.ID, Secret: app.Secret, Method: oauth.AuthMethodBasic},
	})
}
