package bench

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeGatehouse is a stand-in server with the routes and pages the workloads
// use, just enough of them to exercise the bench end to end in-process.
type fakeGatehouse struct {
	mu        sync.Mutex
	users     map[string]string // email → password
	clients   map[string]fakeClient
	sessions  map[string]string // cookie → email
	csrf      map[string]bool
	consents  map[string]bool // email|client
	codes     map[string]fakeCode
	access    map[string]string // token → email
	refresh   map[string]fakeRefresh
	pats      map[string]string
	n         int
	keys      map[string]string
	noPATs    bool // PAT route missing (404)
	noAPIKeys bool // API-key route missing (404)
	logins    int
	consented int
	// introspections counts the calls to /oauth2/introspect.
	introspections int
}

type fakeClient struct {
	secret, owner string
	spec          ClientSpec
}

type fakeCode struct{ client, email, challenge, redirect string }

type fakeRefresh struct {
	client, email string
	used          bool
}

func newFakeGatehouse() *fakeGatehouse {
	return &fakeGatehouse{
		users: map[string]string{}, clients: map[string]fakeClient{}, sessions: map[string]string{},
		csrf: map[string]bool{}, consents: map[string]bool{}, codes: map[string]fakeCode{},
		access: map[string]string{}, refresh: map[string]fakeRefresh{}, pats: map[string]string{}, keys: map[string]string{},
	}
}

func (g *fakeGatehouse) token(prefix string) string {
	g.n++
	return fmt.Sprintf("%s_%06d", prefix, g.n)
}

// Admin side.

func (g *fakeGatehouse) CreateUser(ctx context.Context, email, password string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.users[email] = password
	return nil
}

func (g *fakeGatehouse) CreateClient(ctx context.Context, spec ClientSpec) (ClientCreds, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	c := ClientCreds{ID: g.token("client"), Secret: g.token("gths")}
	g.clients[c.ID] = fakeClient{secret: c.Secret, owner: spec.OwnerEmail, spec: spec}
	return c, nil
}

// HTTP side.

var fakeLogin = template.Must(template.New("").Parse(`<!doctype html><title>Sign in</title>
<form method="post" action="/login?return_to={{.}}"><input type="hidden" name="csrf_token" value="tok&amp;1">
<input type="email" name="email"><input type="password" name="password">
<input type="checkbox" name="remember"><button type="submit">Sign in</button></form>`))

var fakeConsent = template.Must(template.New("").Parse(`<!doctype html><title>Authorize</title>
<form method="post" action="/logout"><button>Sign out</button></form>
<form method="post" action="/oauth2/consent"><input type="hidden" name="request" value="{{.}}">
<input type="hidden" name="csrf_token" value="tok&amp;1">
<button name="decision" value="deny">Deny</button> <button name="decision" value="allow">Allow</button></form>`))

func (g *fakeGatehouse) handler() http.Handler {
	mux := http.NewServeMux()
	jsonOK := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(v)
	}
	clientAuth := func(r *http.Request) (string, bool) {
		id, secret, ok := r.BasicAuth()
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
		c, found := g.clients[id]
		return id, ok && found && c.secret == secret
	}
	session := func(r *http.Request) string {
		ck, err := r.Cookie("__Host-session")
		if err != nil {
			return ""
		}
		return g.sessions[ck.Value]
	}

	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		jsonOK(w, map[string]string{"status": "ok", "version": "fake-1"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) { jsonOK(w, map[string]string{"status": "ready"}) })
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "csrf", Value: "tok&1", Path: "/", Secure: true})
		fakeLogin.Execute(w, r.URL.Query().Get("return_to"))
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		defer g.mu.Unlock()
		ck, err := r.Cookie("csrf")
		if err != nil || r.PostFormValue("csrf_token") != "tok&1" || ck.Value != "tok&1" {
			http.Error(w, "csrf", 403)
			return
		}
		email := r.PostFormValue("email")
		if pw, ok := g.users[email]; !ok || pw != r.PostFormValue("password") || r.PostFormValue("remember") != "" {
			fakeLogin.Execute(w, r.URL.Query().Get("return_to"))
			return
		}
		g.logins++
		sid := g.token("sess")
		g.sessions[sid] = email
		http.SetCookie(w, &http.Cookie{Name: "__Host-session", Value: sid, Path: "/", Secure: true, HttpOnly: true})
		http.Redirect(w, r, r.URL.Query().Get("return_to"), http.StatusSeeOther)
	})
	mux.HandleFunc("GET /oauth2/authorize", func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		defer g.mu.Unlock()
		q := r.URL.Query()
		c, ok := g.clients[q.Get("client_id")]
		if !ok || q.Get("redirect_uri") != c.spec.RedirectURIs[0] || q.Get("code_challenge_method") != "S256" {
			http.Error(w, "bad request", 400)
			return
		}
		email := session(r)
		if email == "" {
			http.Redirect(w, r, "/login?return_to="+url.QueryEscape(r.URL.RequestURI()), http.StatusFound)
			return
		}
		if !g.consents[email+"|"+q.Get("client_id")] {
			fakeConsent.Execute(w, r.URL.RawQuery)
			return
		}
		code := g.token("gthc")
		g.codes[code] = fakeCode{client: q.Get("client_id"), email: email, challenge: q.Get("code_challenge"), redirect: q.Get("redirect_uri")}
		http.Redirect(w, r, q.Get("redirect_uri")+"?code="+code+"&state="+url.QueryEscape(q.Get("state")), http.StatusFound)
	})
	mux.HandleFunc("POST /oauth2/consent", func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		defer g.mu.Unlock()
		email := session(r)
		req, _ := url.ParseQuery(r.PostFormValue("request"))
		if email == "" || r.PostFormValue("decision") != "allow" || r.PostFormValue("csrf_token") != "tok&1" {
			http.Error(w, "no", 403)
			return
		}
		g.consented++
		g.consents[email+"|"+req.Get("client_id")] = true
		http.Redirect(w, r, "/oauth2/authorize?"+r.PostFormValue("request"), http.StatusSeeOther)
	})
	mux.HandleFunc("POST /oauth2/token", func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		defer g.mu.Unlock()
		id, ok := clientAuth(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Basic realm="gatehouse"`)
			w.WriteHeader(401)
			jsonOK(w, map[string]string{"error": "invalid_client"})
			return
		}
		c := g.clients[id]
		var email string
		switch r.PostFormValue("grant_type") {
		case "client_credentials":
			email = c.owner
			at := g.token("gtha")
			g.access[at] = email
			jsonOK(w, map[string]any{"access_token": at, "token_type": "Bearer", "expires_in": 3600})
			return
		case "authorization_code":
			code, ok := g.codes[r.PostFormValue("code")]
			delete(g.codes, r.PostFormValue("code"))
			sum := sha256.Sum256([]byte(r.PostFormValue("code_verifier")))
			if !ok || code.client != id || code.redirect != r.PostFormValue("redirect_uri") ||
				base64.RawURLEncoding.EncodeToString(sum[:]) != code.challenge {
				w.WriteHeader(400)
				jsonOK(w, map[string]string{"error": "invalid_grant"})
				return
			}
			email = code.email
		case "refresh_token":
			rt, ok := g.refresh[r.PostFormValue("refresh_token")]
			if !ok || rt.used || rt.client != id {
				w.WriteHeader(400)
				jsonOK(w, map[string]string{"error": "invalid_grant"})
				return
			}
			rt.used = true
			g.refresh[r.PostFormValue("refresh_token")] = rt
			email = rt.email
		default:
			w.WriteHeader(400)
			jsonOK(w, map[string]string{"error": "unsupported_grant_type"})
			return
		}
		at, rt := g.token("gtha"), g.token("gthr")
		g.access[at] = email
		g.refresh[rt] = fakeRefresh{client: id, email: email}
		jsonOK(w, map[string]any{"access_token": at, "refresh_token": rt, "token_type": "Bearer", "expires_in": 3600})
	})
	mux.HandleFunc("POST /oauth2/introspect", func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		defer g.mu.Unlock()
		id, ok := clientAuth(r)
		if !ok {
			w.WriteHeader(401)
			return
		}
		g.introspections++
		// As Gatehouse: a resource server hears about every credential
		// carrying its API's scope (all the bench's do); any other client
		// only about the access tokens issued to it (the bench's own, here).
		tok := r.PostFormValue("token")
		kind, email := "access_token", ""
		var active bool
		if email, active = g.access[tok]; !active && g.clients[id].spec.ResourceServer == benchAPI {
			if email, active = g.pats[tok]; active {
				kind = "pat"
			} else if email, active = g.keys[tok]; active {
				kind = "api_key"
			}
		}
		if !active {
			jsonOK(w, map[string]any{"active": false})
			return
		}
		jsonOK(w, map[string]any{"active": true, "scope": benchScope, "sub": email, "credential_kind": kind,
			"token_type": "Bearer", "exp": time.Now().Add(time.Hour).Unix()})
	})
	me := func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		defer g.mu.Unlock()
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		email, ok := g.access[tok]
		if !ok {
			email, ok = g.pats[tok]
		}
		if !ok {
			email, ok = g.keys[tok]
		}
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			w.WriteHeader(401)
			return
		}
		jsonOK(w, map[string]string{"email": email})
	}
	mux.HandleFunc("GET /v0/me", me)
	// The gateway check answers like GET /v0/me when the proxy described
	// the bench's protected route.
	mux.HandleFunc("GET /gateway/check", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Original-Method") != "GET" || r.Header.Get("X-Original-URI") != benchGatewayPath {
			w.WriteHeader(400)
			return
		}
		me(w, r)
	})
	mux.HandleFunc("POST /v0/me/tokens", func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.noPATs {
			http.NotFound(w, r)
			return
		}
		email, pw, ok := r.BasicAuth()
		var body struct{ Description string }
		if !ok || g.users[email] != pw || json.NewDecoder(r.Body).Decode(&body) != nil || body.Description == "" {
			w.WriteHeader(401)
			return
		}
		t := g.token("gthp")
		g.pats[t] = email
		jsonOK(w, map[string]string{"accessToken": t, "description": body.Description, "id": t})
	})
	mux.HandleFunc("POST /v0/apps/{client_id}/keys", func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.noAPIKeys {
			http.NotFound(w, r)
			return
		}
		email, pw, ok := r.BasicAuth()
		c, found := g.clients[r.PathValue("client_id")]
		var body struct {
			Name   string
			Scopes []string
		}
		if !ok || g.users[email] != pw || !found || c.owner != email ||
			json.NewDecoder(r.Body).Decode(&body) != nil || body.Name == "" || len(body.Scopes) == 0 {
			w.WriteHeader(403)
			return
		}
		k := g.token("gthk")
		g.keys[k] = email
		w.WriteHeader(201)
		jsonOK(w, map[string]any{"key": k, "id": k, "name": body.Name})
	})
	return mux
}

func startFake(t *testing.T, g *fakeGatehouse) string {
	t.Helper()
	srv := httptest.NewServer(g.handler())
	t.Cleanup(srv.Close)
	return srv.URL
}
