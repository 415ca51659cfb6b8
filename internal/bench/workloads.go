package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/gatehouse/gatehouse/bearer"
)

// Admin sets up what the workloads need, out of band (the real one runs the
// gatehouse admin CLI against the server's database).
type Admin interface {
	CreateUser(ctx context.Context, email, password string) error
	CreateClient(ctx context.Context, spec ClientSpec) (ClientCreds, error)
}

// ClientSpec is an OAuth client to register.
type ClientSpec struct {
	Name         string
	OwnerEmail   string
	RedirectURIs []string
	GrantTypes   []string
	Scopes       []string
	// ResourceServer, when set, registers an introspection-only client for
	// the API with this identifier (declared in the config file's apis
	// section) instead of an app: no redirect URIs, grant types or scopes.
	ResourceServer string
}

// ClientCreds are what registration returns.
type ClientCreds struct {
	ID, Secret string
}

// benchScope is the platform-API scope the bench's credentials carry: what
// GET /v0/me requires.
const benchScope = "profile:read"

// benchRedirectURI is registered for the code-flow client. Nothing listens
// there: the bench reads the code from the Location header and never
// follows it (RFC 8252 §7.3 loopback redirect).
const benchRedirectURI = "http://127.0.0.1/bench/callback"

// fixtures are the users, clients and credentials the workloads share, each
// made once, on first need.
type fixtures struct {
	c     *httpClient
	admin Admin

	mu   sync.Mutex
	done map[string]error

	email, password string
	cc, web         ClientCreds
	accessToken     string
	jar             cookieJar
	pat, apiKey     string
	workerPATs      []string    // distinct PATs, worker i presents workerPATs[i%len]
	rs              ClientCreds // the bench API's resource-server client

	closers []func() // what the run stops at its end (in-process APIs)

	spawn    spawnFunc             // nil against --target
	jwt      map[string]*jwtServer // JWT server children by algorithm
	children map[string]*ccChild   // other server children by name (auditcost.go)
	measured *serverProc           // set by a workload measuring another child
}

// once runs make the first time key is needed and remembers its error.
func (f *fixtures) once(key string, make func() error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.done == nil {
		f.done = map[string]error{}
	}
	if err, ok := f.done[key]; ok {
		return err
	}
	err := make()
	f.done[key] = err
	return err
}

func randomWord(n int) string {
	const alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// The fixtures below call each other only through f.needX, outside f.mu.

func (f *fixtures) needUser(ctx context.Context) error {
	return f.once("user", func() error {
		f.email = "bench-" + strings.ToLower(randomWord(10)) + "@example.com"
		f.password = "Bench-" + randomWord(24)
		if err := f.admin.CreateUser(ctx, f.email, f.password); err != nil {
			return fmt.Errorf("creating the bench user: %w", err)
		}
		return nil
	})
}

func (f *fixtures) needCCClient(ctx context.Context) error {
	if err := f.needUser(ctx); err != nil {
		return err
	}
	return f.once("cc", func() error {
		var err error
		f.cc, err = f.admin.CreateClient(ctx, ClientSpec{
			Name: "bench-cc-" + randomWord(6), OwnerEmail: f.email,
			RedirectURIs: []string{benchRedirectURI},
			GrantTypes:   []string{"client_credentials"},
			Scopes:       []string{benchScope},
		})
		if err != nil {
			return fmt.Errorf("creating the client_credentials client: %w", err)
		}
		return nil
	})
}

func (f *fixtures) needWebClient(ctx context.Context) error {
	if err := f.needUser(ctx); err != nil {
		return err
	}
	return f.once("web", func() error {
		var err error
		f.web, err = f.admin.CreateClient(ctx, ClientSpec{
			Name: "bench-web-" + randomWord(6), OwnerEmail: f.email,
			RedirectURIs: []string{benchRedirectURI},
			GrantTypes:   []string{"authorization_code", "refresh_token"},
			Scopes:       []string{benchScope},
		})
		if err != nil {
			return fmt.Errorf("creating the authorization-code client: %w", err)
		}
		return nil
	})
}

// needAccessToken gets one opaque access token by client_credentials.
func (f *fixtures) needAccessToken(ctx context.Context) error {
	if err := f.needCCClient(ctx); err != nil {
		return err
	}
	return f.once("access", func() error {
		r := ccTokenRequest(f.cc)
		var buf bytes.Buffer
		resp, err := f.c.do(ctx, r, &buf)
		if err != nil {
			return err
		}
		if missing(resp.StatusCode) {
			return notAvailable("token endpoint", r, resp)
		}
		tok, err := tokenResponse(r, resp, buf.Bytes())
		if err != nil {
			return err
		}
		f.accessToken = tok.AccessToken
		return nil
	})
}

// needSession signs the user in through the web form and consents once, so
// later authorization requests go straight to the redirect.
func (f *fixtures) needSession(ctx context.Context) error {
	if err := f.needWebClient(ctx); err != nil {
		return err
	}
	return f.once("session", func() error {
		_, challenge := pkce()
		state := randomState()
		u := authorizeURL(f.web.ID, benchRedirectURI, benchScope, state, challenge)
		_, err := browserAuthorize(ctx, f.c, &f.jar, f.email, f.password, u, benchRedirectURI, state)
		return err
	})
}

func (f *fixtures) needPAT(ctx context.Context) error {
	if err := f.needUser(ctx); err != nil {
		return err
	}
	return f.once("pat", func() error {
		var err error
		f.pat, err = f.createPAT(ctx)
		return err
	})
}

// maxWorkerPATs bounds the PATs made for per-worker credentials, well under
// the server's per-user limit (100 by default).
const maxWorkerPATs = 50

// needWorkerPATs makes up to n personal access tokens, so that workers can
// present different credentials (f.pat is the first).
func (f *fixtures) needWorkerPATs(ctx context.Context, n int) error {
	if err := f.needPAT(ctx); err != nil {
		return err
	}
	return f.once("workerpats", func() error {
		f.workerPATs = []string{f.pat}
		for len(f.workerPATs) < min(n, maxWorkerPATs) {
			t, err := f.createPAT(ctx)
			if err != nil {
				return err
			}
			f.workerPATs = append(f.workerPATs, t)
		}
		return nil
	})
}

// createPAT makes a personal access token for the bench user through
// POST /v0/me/tokens, authenticated with HTTP Basic email:password.
func (f *fixtures) createPAT(ctx context.Context) (string, error) {
	r := &request{
		Method: "POST", URL: "/v0/me/tokens",
		Body:  []byte(`{"description":"gatehouse bench"}`),
		CType: "application/json",
		Auth:  basicAuth(f.email, f.password, false),
	}
	var buf bytes.Buffer
	resp, err := f.c.do(ctx, r, &buf)
	if err != nil {
		return "", err
	}
	if missing(resp.StatusCode) {
		return "", notAvailable("personal access tokens", r, resp)
	}
	if resp.StatusCode/100 != 2 {
		return "", statusErr(r, resp, buf.Bytes())
	}
	var out struct {
		AccessToken string `json:"accessToken"`
	}
	if err := json.Unmarshal(buf.Bytes(), &out); err != nil || out.AccessToken == "" {
		return "", fmt.Errorf("%s: no accessToken in %s", r.step(), buf.String())
	}
	return out.AccessToken, nil
}

// needAPIKey creates an API key for the client_credentials client through
// POST /v0/apps/{client_id}/keys, authenticated as its owner (HTTP Basic
// email:password, accepted on credential-management routes).
func (f *fixtures) needAPIKey(ctx context.Context) error {
	if err := f.needCCClient(ctx); err != nil {
		return err
	}
	return f.once("apikey", func() error {
		body, _ := json.Marshal(map[string]any{"name": "gatehouse bench", "scopes": []string{benchScope}})
		r := &request{
			Method: "POST", URL: "/v0/apps/" + url.PathEscape(f.cc.ID) + "/keys",
			Body: body, CType: "application/json",
			Auth: basicAuth(f.email, f.password, false),
		}
		var buf bytes.Buffer
		resp, err := f.c.do(ctx, r, &buf)
		if err != nil {
			return err
		}
		if missing(resp.StatusCode) {
			return &NotAvailableError{What: fmt.Sprintf("API keys (POST /v0/apps/{client_id}/keys → %d)", resp.StatusCode)}
		}
		if resp.StatusCode/100 != 2 {
			return statusErr(r, resp, buf.Bytes())
		}
		var out struct {
			Key string `json:"key"`
		}
		if err := json.Unmarshal(buf.Bytes(), &out); err != nil || out.Key == "" {
			return fmt.Errorf("%s: no key in %s", r.step(), buf.String())
		}
		f.apiKey = out.Key
		return nil
	})
}

// ---------------------------------------------------------------- requests

func ccTokenRequest(c ClientCreds) *request {
	return &request{
		Method: "POST", URL: "/oauth2/token",
		Body:  []byte(url.Values{"grant_type": {"client_credentials"}, "scope": {benchScope}}.Encode()),
		CType: formType,
		Auth:  basicAuth(c.ID, c.Secret, true),
	}
}

type tokenJSON struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
}

// tokenResponse checks a token endpoint answer: 200 with an access token.
func tokenResponse(r *request, resp *http.Response, body []byte) (*tokenJSON, error) {
	if resp.StatusCode != http.StatusOK {
		return nil, statusErr(r, resp, body)
	}
	var t tokenJSON
	if err := json.Unmarshal(body, &t); err != nil || t.AccessToken == "" {
		return nil, &StatusError{Step: r.step(), Status: resp.StatusCode, Body: "no access_token in " + string(body)}
	}
	return &t, nil
}

// expect2xx is the check of the simple workloads.
func expect2xx(ctx context.Context, c *httpClient, r *request, buf *bytes.Buffer) error {
	resp, err := c.do(ctx, r, buf)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		if buf == nil {
			return &StatusError{Step: r.step(), Status: resp.StatusCode, Body: "(not read)"}
		}
		return statusErr(r, resp, buf.Bytes())
	}
	return nil
}

// ---------------------------------------------------------------- workloads

// workload is one row of the report: how to prepare per-worker operations
// and what one operation costs in HTTP requests.
type workload struct {
	Name      string
	Title     string // what one operation is
	ReqsPerOp int
	prepare   func(ctx context.Context, f *fixtures, workers int) ([]Op, error)
	// static, when set, is the workload's one fixed request (built after
	// prepare has made the fixtures): an external generator such as wrk can
	// send it.
	static func(f *fixtures) *request
	// measure, when set, runs the workload its own way instead of a fixed
	// window of operations (deliveries.go).
	measure func(ctx context.Context, o *Options, f *fixtures, srv *serverProc) Result
}

// sameOp returns n copies of a stateless operation builder, each with its
// own buffer.
func sameOp(n int, mk func(buf *bytes.Buffer) Op) []Op {
	ops := make([]Op, n)
	for i := range ops {
		ops[i] = mk(new(bytes.Buffer))
	}
	return ops
}

// probe runs an operation once before the timed loop: a missing route makes
// the workload "n/a"; other failures are left for the loop to count.
func probe(ctx context.Context, what string, op Op) error {
	err := op(ctx)
	var se *StatusError
	if errors.As(err, &se) && missing(se.Status) {
		return &NotAvailableError{What: fmt.Sprintf("%s (%s → %d)", what, se.Step, se.Status)}
	}
	var na *NotAvailableError
	if errors.As(err, &na) {
		return err
	}
	return nil
}

func bearerMe(what string, token func(f *fixtures) string, need func(*fixtures, context.Context) error) func(context.Context, *fixtures, int) ([]Op, error) {
	return func(ctx context.Context, f *fixtures, n int) ([]Op, error) {
		if err := need(f, ctx); err != nil {
			return nil, err
		}
		r := &request{Method: "GET", URL: "/v0/me", Auth: "Bearer " + token(f)}
		ops := sameOp(n, func(buf *bytes.Buffer) Op {
			return func(ctx context.Context) error { return expect2xx(ctx, f.c, r, buf) }
		})
		return ops, probe(ctx, what, ops[0])
	}
}

// benchGatewayPath is the protected route the gateway-check workloads ask
// about, as nginx auth_request does.
const benchGatewayPath = "/v0/me/cards"

// gatewayCheck asks /gateway/check about GET benchGatewayPath with a bearer
// credential, describing the original request as the shipped nginx
// configuration does.
func gatewayCheck(what string, token func(f *fixtures) string, need func(*fixtures, context.Context) error) func(context.Context, *fixtures, int) ([]Op, error) {
	return func(ctx context.Context, f *fixtures, n int) ([]Op, error) {
		if err := need(f, ctx); err != nil {
			return nil, err
		}
		r := &request{Method: "GET", URL: "/gateway/check", Auth: "Bearer " + token(f),
			Headers: []string{"X-Original-Method", "GET", "X-Original-URI", benchGatewayPath}}
		ops := sameOp(n, func(buf *bytes.Buffer) Op {
			return func(ctx context.Context) error { return expect2xx(ctx, f.c, r, buf) }
		})
		return ops, probe(ctx, what, ops[0])
	}
}

func introspectRequest(f *fixtures) *request {
	return &request{
		Method: "POST", URL: "/oauth2/introspect",
		Body:  []byte(url.Values{"token": {f.accessToken}, "token_type_hint": {"access_token"}}.Encode()),
		CType: formType,
		Auth:  basicAuth(f.cc.ID, f.cc.Secret, true),
	}
}

// workloads is the catalogue, in the order they run. The ceiling runs first.
var workloads = []workload{
	{
		Name: "ceiling", Title: "GET /healthz (no-op JSON, full middleware)", ReqsPerOp: 1,
		prepare: func(ctx context.Context, f *fixtures, n int) ([]Op, error) {
			r := &request{Method: "GET", URL: "/healthz"}
			ops := sameOp(n, func(buf *bytes.Buffer) Op {
				return func(ctx context.Context) error { return expect2xx(ctx, f.c, r, buf) }
			})
			return ops, probe(ctx, "/healthz", ops[0])
		},
		static: func(*fixtures) *request { return &request{Method: "GET", URL: "/healthz"} },
	},
	{
		Name: "client_credentials", Title: "POST /oauth2/token client_credentials (client_secret_basic)", ReqsPerOp: 1,
		prepare: func(ctx context.Context, f *fixtures, n int) ([]Op, error) {
			if err := f.needCCClient(ctx); err != nil {
				return nil, err
			}
			return tokenOps(ctx, f.c, ccTokenRequest(f.cc), n)
		},
		static: func(f *fixtures) *request { return ccTokenRequest(f.cc) },
	},
	{
		Name: "introspect", Title: "POST /oauth2/introspect of a valid opaque token", ReqsPerOp: 1,
		prepare: func(ctx context.Context, f *fixtures, n int) ([]Op, error) {
			if err := f.needAccessToken(ctx); err != nil {
				return nil, err
			}
			r := introspectRequest(f)
			ops := sameOp(n, func(buf *bytes.Buffer) Op {
				var out struct {
					Active bool `json:"active"`
				}
				return func(ctx context.Context) error {
					resp, err := f.c.do(ctx, r, buf)
					if err != nil {
						return err
					}
					out.Active = false
					if resp.StatusCode != http.StatusOK || json.Unmarshal(buf.Bytes(), &out) != nil || !out.Active {
						return statusErr(r, resp, buf.Bytes())
					}
					return nil
				}
			})
			return ops, probe(ctx, "introspection endpoint", ops[0])
		},
		static: introspectRequest,
	},
	{
		Name: "me_access_token", Title: "GET /v0/me, Bearer opaque access token", ReqsPerOp: 1,
		prepare: bearerMe("GET /v0/me", func(f *fixtures) string { return f.accessToken }, (*fixtures).needAccessToken),
	},
	{
		Name: "me_pat", Title: "GET /v0/me, Bearer personal access token", ReqsPerOp: 1,
		prepare: bearerMe("GET /v0/me", func(f *fixtures) string { return f.pat }, (*fixtures).needPAT),
	},
	{
		Name: "me_api_key", Title: "GET /v0/me, Bearer API key", ReqsPerOp: 1,
		prepare: bearerMe("GET /v0/me", func(f *fixtures) string { return f.apiKey }, (*fixtures).needAPIKey),
	},
	{
		Name: "gateway_access_token", Title: "GET /gateway/check (nginx auth_request), Bearer opaque access token", ReqsPerOp: 1,
		prepare: gatewayCheck("gateway check", func(f *fixtures) string { return f.accessToken }, (*fixtures).needAccessToken),
	},
	{
		Name: "gateway_pat", Title: "GET /gateway/check (nginx auth_request), Bearer personal access token", ReqsPerOp: 1,
		prepare: gatewayCheck("gateway check", func(f *fixtures) string { return f.pat }, (*fixtures).needPAT),
	},
	{
		Name: "gateway_api_key", Title: "GET /gateway/check (nginx auth_request), Bearer API key", ReqsPerOp: 1,
		prepare: gatewayCheck("gateway check", func(f *fixtures) string { return f.apiKey }, (*fixtures).needAPIKey),
	},
	{
		Name: "middleware_access_token", Title: "GET on an API in the bench process guarded by the bearer middleware, default 30 s cache (hits: no Gatehouse call), Bearer opaque access token", ReqsPerOp: 1,
		prepare: middlewareCall(bearer.KindAccessToken, false, sameCredential(func(f *fixtures) string { return f.accessToken }, (*fixtures).needAccessToken)),
	},
	{
		Name: "middleware_pat", Title: "GET on an API in the bench process guarded by the bearer middleware, default 30 s cache (hits: no Gatehouse call), Bearer personal access token", ReqsPerOp: 1,
		prepare: middlewareCall(bearer.KindPAT, false, sameCredential(func(f *fixtures) string { return f.pat }, (*fixtures).needPAT)),
	},
	{
		Name: "middleware_api_key", Title: "GET on an API in the bench process guarded by the bearer middleware, default 30 s cache (hits: no Gatehouse call), Bearer API key", ReqsPerOp: 1,
		prepare: middlewareCall(bearer.KindAPIKey, false, sameCredential(func(f *fixtures) string { return f.apiKey }, (*fixtures).needAPIKey)),
	},
	{
		Name: "middleware_pat_nocache", Title: "GET on an API in the bench process guarded by the bearer middleware, cache off: each request → POST /oauth2/introspect as a resource server, Bearer personal access token (one per worker, up to 50)", ReqsPerOp: 2,
		prepare: middlewareCall(bearer.KindPAT, true, workerPATs),
	},
	{
		Name: "jwt_client_credentials_rs256", Title: "POST /oauth2/token client_credentials, RFC 9068 JWT access token signed RS256 (separate server child)", ReqsPerOp: 1,
		prepare: jwtClientCredentials("RS256"),
		static:  jwtTokenRequest("RS256"),
	},
	{
		Name: "jwt_client_credentials_es256", Title: "POST /oauth2/token client_credentials, RFC 9068 JWT access token signed ES256 (separate server child)", ReqsPerOp: 1,
		prepare: jwtClientCredentials("ES256"),
		static:  jwtTokenRequest("ES256"),
	},
	{
		Name: "jwt_client_credentials_eddsa", Title: "POST /oauth2/token client_credentials, RFC 9068 JWT access token signed EdDSA (separate server child)", ReqsPerOp: 1,
		prepare: jwtClientCredentials("EdDSA"),
		static:  jwtTokenRequest("EdDSA"),
	},
	{
		Name: "client_credentials_audit_off", Title: "POST /oauth2/token client_credentials on a server child with audit_token_entries off: client_credentials minus its audit entry (separate server child)", ReqsPerOp: 1,
		prepare: clientCredentialsAuditOff,
		static:  clientCredentialsAuditOffRequest,
	},
	{
		Name: "middleware_jwt", Title: "GET on an API in the bench process guarded by the bearer middleware validating an EdDSA JWT access token locally (JWKS and verified tokens cached: no Gatehouse call)", ReqsPerOp: 1,
		prepare: middlewareJWT(false),
	},
	{
		Name: "middleware_jwt_nocache", Title: "GET on an API in the bench process guarded by the bearer middleware validating an EdDSA JWT access token locally, verified-token cache off (a signature check per request)", ReqsPerOp: 1,
		prepare: middlewareJWT(true),
	},
	{
		Name: "auth_code", Title: "authorize (session, remembered consent) → code → POST /oauth2/token, PKCE S256", ReqsPerOp: 2,
		prepare: func(ctx context.Context, f *fixtures, n int) ([]Op, error) {
			if err := f.needSession(ctx); err != nil {
				return nil, err
			}
			cookie := f.jar.header()
			ops := sameOp(n, func(buf *bytes.Buffer) Op {
				return func(ctx context.Context) error {
					_, err := codeRoundTrip(ctx, f, cookie, buf)
					return err
				}
			})
			return ops, probe(ctx, "authorization code flow", ops[0])
		},
	},
	{
		Name: "refresh", Title: "POST /oauth2/token refresh_token (rotation; one chain per worker)", ReqsPerOp: 1,
		prepare: func(ctx context.Context, f *fixtures, n int) ([]Op, error) {
			if err := f.needSession(ctx); err != nil {
				return nil, err
			}
			cookie := f.jar.header()
			auth := basicAuth(f.web.ID, f.web.Secret, true)
			ops := make([]Op, n)
			for i := range ops {
				buf := new(bytes.Buffer)
				// Each worker starts its own chain with one code round trip.
				tok, err := codeRoundTrip(ctx, f, cookie, buf)
				if err != nil {
					return nil, fmt.Errorf("starting a refresh chain: %w", err)
				}
				if tok.RefreshToken == "" {
					return nil, &NotAvailableError{What: "refresh tokens (the code exchange issued none)"}
				}
				rt := tok.RefreshToken
				ops[i] = func(ctx context.Context) error {
					if rt == "" { // the chain broke: start a new one, counted as this op
						t, err := codeRoundTrip(ctx, f, cookie, buf)
						if err != nil {
							return err
						}
						rt = t.RefreshToken
					}
					r := &request{
						Method: "POST", URL: "/oauth2/token",
						Body:  []byte(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}.Encode()),
						CType: formType, Auth: auth,
					}
					resp, err := f.c.do(ctx, r, buf)
					if err != nil {
						if ctx.Err() == nil {
							rt = "" // unknown whether it rotated: start over
						}
						return err
					}
					t, err := tokenResponse(r, resp, buf.Bytes())
					if err != nil || t.RefreshToken == "" {
						rt = ""
						if err == nil {
							err = &StatusError{Step: r.step(), Status: resp.StatusCode, Body: "no refresh_token in the rotation answer"}
						}
						return err
					}
					rt = t.RefreshToken
					return nil
				}
			}
			return ops, nil
		},
	},
	// Last: events it queued may still be delivered after it ends.
	deliveriesWorkload,
}

// codeRoundTrip is one authorization-code round trip with an existing
// session and remembered consent: GET /oauth2/authorize → 302 with a code →
// POST /oauth2/token with the PKCE verifier.
func codeRoundTrip(ctx context.Context, f *fixtures, cookie string, buf *bytes.Buffer) (*tokenJSON, error) {
	verifier, challenge := pkce()
	state := randomState()
	ar := &request{Method: "GET", URL: authorizeURL(f.web.ID, benchRedirectURI, benchScope, state, challenge), Cookie: cookie, HTML: true}
	resp, err := f.c.do(ctx, ar, buf)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
		return nil, statusErr(ar, resp, buf.Bytes())
	}
	code, err := codeFromRedirect(resp.Header.Get("Location"), benchRedirectURI, state)
	if err != nil {
		return nil, &StatusError{Step: ar.step(), Status: resp.StatusCode, Body: err.Error()}
	}
	tr := &request{
		Method: "POST", URL: "/oauth2/token",
		Body: []byte(url.Values{
			"grant_type":    {"authorization_code"},
			"code":          {code},
			"redirect_uri":  {benchRedirectURI},
			"code_verifier": {verifier},
		}.Encode()),
		CType: formType,
		Auth:  basicAuth(f.web.ID, f.web.Secret, true),
	}
	resp, err = f.c.do(ctx, tr, buf)
	if err != nil {
		return nil, err
	}
	return tokenResponse(tr, resp, buf.Bytes())
}

// workloadNames lists the catalogue.
func workloadNames() []string {
	out := make([]string, len(workloads))
	for i, w := range workloads {
		out[i] = w.Name
	}
	return out
}
