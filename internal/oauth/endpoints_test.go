package oauth_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/store"
)

func TestIntrospection(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		owner := e.user("owner@example.com")
		alice := e.user("alice@example.com")
		a := e.client(owner, oauth.NewClient{})
		rs := e.client(owner, oauth.NewClient{Name: "Resource server", ResourceServer: apiCards})
		pub := e.client(owner, oauth.NewClient{Name: "Pub", Public: true})
		b := e.browser()
		b.login(alice.Email)
		tok := e.codeFlow(b, a)

		m := e.introspect(rs, tok.AccessToken)
		if m["active"] != true || m["scope"] != "profile:read tokens:read" || m["client_id"] != a.ID || m["sub"] != alice.ID ||
			m["token_type"] != "Bearer" || m["token_use"] != "access_token" || m["iss"] != e.issuer || m["jti"] == nil {
			t.Fatalf("%v", m)
		}
		if exp := int64(m["exp"].(float64)); exp != e.clock.Now().Add(time.Hour).Unix() {
			t.Errorf("exp %d", exp)
		}
		// A refresh token introspects only for the client it was issued to.
		if m := e.introspect(a, tok.RefreshToken); m["active"] != true || m["token_use"] != "refresh_token" || m["token_type"] != nil ||
			m["credential_kind"] != "refresh_token" {
			t.Fatalf("refresh: %v", m)
		}
		// The hint is only a hint.
		r := e.postForm(oauth.PathIntrospect, url.Values{"token": {tok.AccessToken}, "token_type_hint": {"refresh_token"}}, basicAuth(rs.ID, rs.secret)...)
		if r.json(t)["active"] != true {
			t.Fatalf("%s", r.body)
		}

		inactive := func(name, token string) {
			t.Helper()
			r := e.postForm(oauth.PathIntrospect, url.Values{"token": {token}}, basicAuth(rs.ID, rs.secret)...)
			if r.status != 200 || strings.TrimSpace(string(r.body)) != `{"active":false}` {
				t.Fatalf("%s: %d %s", name, r.status, r.body)
			}
			if r.header.Get("Cache-Control") != "no-store" {
				t.Fatalf("%s: no no-store", name)
			}
		}
		inactive("unknown", "gtha_"+strings.Repeat("A", 49))
		inactive("malformed", "hello")
		inactive("a client secret", rs.secret)

		t.Run("authentication", func(t *testing.T) {
			form := url.Values{"token": {tok.AccessToken}}
			mustError(t, e.postForm(oauth.PathIntrospect, form), 401, "invalid_client")
			mustError(t, e.postForm(oauth.PathIntrospect, form, basicAuth(rs.ID, "wrong")...), 401, "invalid_client")
			f := url.Values{"token": {tok.AccessToken}, "client_id": {pub.ID}}
			mustError(t, e.postForm(oauth.PathIntrospect, f), 401, "invalid_client")
			mustError(t, e.postForm(oauth.PathIntrospect, url.Values{}, basicAuth(rs.ID, rs.secret)...), 400, "invalid_request")
		})

		t.Run("expired", func(t *testing.T) {
			b2 := e.browser()
			b2.login(alice.Email)
			t2 := e.codeFlow(b2, a)
			e.clock.Advance(time.Hour)
			inactive("expired access token", t2.AccessToken)
			if m := e.introspect(a, t2.RefreshToken); m["active"] != true {
				t.Fatalf("refresh token outlives the access token: %v", m)
			}
		})

		t.Run("used refresh token", func(t *testing.T) {
			b2 := e.browser()
			b2.login(alice.Email)
			t2 := e.codeFlow(b2, a)
			if r := e.postForm(oauth.PathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {t2.RefreshToken}}, basicAuth(a.ID, a.secret)...); r.status != 200 {
				t.Fatal(r.status)
			}
			inactive("rotated refresh token", t2.RefreshToken)
			if m := e.introspect(rs, t2.AccessToken); m["active"] != true {
				t.Fatalf("rotation killed the access token: %v", m)
			}
		})

		t.Run("disabled user", func(t *testing.T) {
			bob := e.user("bob@example.com")
			b2 := e.browser()
			b2.login(bob.Email)
			t2 := e.codeFlow(b2, a)
			e.clock.Advance(time.Millisecond)
			if err := e.st.SetDisabled(e.ctx, bob.ID, true, e.clock.Now()); err != nil {
				t.Fatal(err)
			}
			inactive("disabled user's token", t2.AccessToken)
		})

		t.Run("disabled client", func(t *testing.T) {
			c := e.client(owner, oauth.NewClient{Name: "Soon off", GrantTypes: []string{oauth.GrantClientCredentials}})
			r := e.postForm(oauth.PathToken, url.Values{"grant_type": {"client_credentials"}}, basicAuth(c.ID, c.secret)...)
			at := r.json(t)["access_token"].(string)
			if e.introspect(rs, at)["active"] != true {
				t.Fatal("cc token inactive")
			}
			if err := e.st.SetClientStatus(e.ctx, c.ID, store.ClientDisabled, e.clock.Now()); err != nil {
				t.Fatal(err)
			}
			inactive("disabled client's token", at)
		})
	})
}

func TestRevocation(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		owner := e.user("owner@example.com")
		alice := e.user("alice@example.com")
		a := e.client(owner, oauth.NewClient{})
		other := e.client(owner, oauth.NewClient{Name: "Other"})
		rs := e.client(owner, oauth.NewClient{Name: "RS", ResourceServer: apiCards})
		b := e.browser()
		b.login(alice.Email)
		revoke := func(c *app, token, hint string) *resp {
			f := url.Values{"token": {token}}
			if hint != "" {
				f.Set("token_type_hint", hint)
			}
			return e.postForm(oauth.PathRevoke, f, basicAuth(c.ID, c.secret)...)
		}

		t.Run("access token", func(t *testing.T) {
			tok := e.codeFlow(b, a)
			if r := revoke(a, tok.AccessToken, "access_token"); r.status != 200 {
				t.Fatalf("%d %s", r.status, r.body)
			}
			if r := e.me(tok.AccessToken); r.status != 401 {
				t.Fatalf("%d", r.status)
			}
			if e.introspect(rs, tok.AccessToken)["active"] != false {
				t.Fatal("still active")
			}
			// The refresh token is unaffected.
			if e.introspect(a, tok.RefreshToken)["active"] != true {
				t.Fatal("refresh token died with its access token")
			}
		})

		t.Run("refresh token kills its access tokens", func(t *testing.T) {
			tok := e.codeFlow(b, a)
			if r := revoke(a, tok.RefreshToken, "access_token" /* a wrong hint */); r.status != 200 {
				t.Fatalf("%d %s", r.status, r.body)
			}
			if r := e.me(tok.AccessToken); r.status != 401 {
				t.Fatalf("access token after its refresh token was revoked: %d", r.status)
			}
			mustError(t, e.postForm(oauth.PathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, basicAuth(a.ID, a.secret)...), 400, "invalid_grant")
		})

		t.Run("unknown and malformed tokens answer 200", func(t *testing.T) {
			for _, tk := range []string{"gtha_" + strings.Repeat("A", 49), "garbage", a.secret} {
				if r := revoke(a, tk, ""); r.status != 200 {
					t.Fatalf("%q: %d %s", tk, r.status, r.body)
				}
			}
			if r := revoke(a, "garbage", "unheard_of_type"); r.status != 200 {
				t.Fatalf("unknown hint: %d %s", r.status, r.body)
			}
			tok := e.codeFlow(b, a)
			revoke(a, tok.AccessToken, "")
			if r := revoke(a, tok.AccessToken, ""); r.status != 200 {
				t.Fatalf("twice: %d", r.status)
			}
		})

		t.Run("another client's token", func(t *testing.T) {
			tok := e.codeFlow(b, a)
			mustError(t, revoke(other, tok.AccessToken, ""), 400, "unauthorized_client")
			if r := e.me(tok.AccessToken); r.status != 200 {
				t.Fatalf("another client revoked the token: %d", r.status)
			}
		})

		t.Run("authentication", func(t *testing.T) {
			tok := e.codeFlow(b, a)
			mustError(t, e.postForm(oauth.PathRevoke, url.Values{"token": {tok.AccessToken}}), 401, "invalid_client")
			mustError(t, e.postForm(oauth.PathRevoke, url.Values{"token": {tok.AccessToken}}, basicAuth(a.ID, "bad")...), 401, "invalid_client")
			mustError(t, e.postForm(oauth.PathRevoke, url.Values{}, basicAuth(a.ID, a.secret)...), 400, "invalid_request")
			if r := e.me(tok.AccessToken); r.status != 200 {
				t.Fatalf("%d", r.status)
			}
		})

		t.Run("public client revokes its own token", func(t *testing.T) {
			pub := e.client(owner, oauth.NewClient{Name: "Pub", Public: true})
			b2 := e.browser()
			b2.login(alice.Email)
			code, verifier := e.codeFor(b2, pub, redirectURI, true)
			r := e.postForm(oauth.PathToken, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {redirectURI}, "client_id": {pub.ID}})
			at := r.json(t)["access_token"].(string)
			if r := e.postForm(oauth.PathRevoke, url.Values{"token": {at}, "client_id": {pub.ID}}); r.status != 200 {
				t.Fatalf("%d %s", r.status, r.body)
			}
			if r := e.me(at); r.status != 401 {
				t.Fatalf("%d", r.status)
			}
		})
	})
}

func TestBearer(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		owner := e.user("owner@example.com")
		alice := e.user("alice@example.com")
		a := e.client(owner, oauth.NewClient{})
		b := e.browser()
		b.login(alice.Email)
		tok := e.codeFlow(b, a, "profile:read")

		t.Run("token in the query string is refused", func(t *testing.T) {
			r := e.do("GET", "/v0/me?access_token="+url.QueryEscape(tok.AccessToken), nil)
			mustError(t, r, 400, "invalid_request")
			r = e.do("GET", "/v0/me?access_token="+url.QueryEscape(tok.AccessToken), nil, bearer(tok.AccessToken)...)
			mustError(t, r, 400, "invalid_request")
		})
		t.Run("insufficient scope", func(t *testing.T) {
			r := e.do("GET", scopeRoute, nil, bearer(tok.AccessToken)...)
			mustError(t, r, 403, "insufficient_scope")
			if ch := r.header.Get("WWW-Authenticate"); !strings.Contains(ch, `error="insufficient_scope"`) || !strings.Contains(ch, `scope="tokens:read"`) {
				t.Fatalf("challenge %q", ch)
			}
		})
		t.Run("invalid tokens", func(t *testing.T) {
			for name, tk := range map[string]string{
				"unknown":      "gtha_" + strings.Repeat("A", 49),
				"refresh":      tok.RefreshToken,
				"garbage":      "abc",
				"secret-shape": a.secret,
			} {
				r := e.me(tk)
				mustError(t, r, 401, "invalid_token")
				if !strings.Contains(r.header.Get("WWW-Authenticate"), `Bearer realm="gatehouse", error="invalid_token"`) {
					t.Fatalf("%s: challenge %q", name, r.header.Get("WWW-Authenticate"))
				}
			}
		})
		t.Run("expired", func(t *testing.T) {
			e.clock.Advance(time.Hour - time.Second)
			if r := e.me(tok.AccessToken); r.status != 200 {
				t.Fatalf("%d", r.status)
			}
			e.clock.Advance(time.Second)
			mustError(t, e.me(tok.AccessToken), 401, "invalid_token")
		})
	})
}

func TestMetadata(t *testing.T) {
	e := newEnv(t, openSQLite)
	r := e.do("GET", "/.well-known/oauth-authorization-server", nil)
	if r.status != 200 {
		t.Fatalf("%d", r.status)
	}
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"issuer":                 e.issuer,
		"authorization_endpoint": e.issuer + "/oauth2/authorize",
		"token_endpoint":         e.issuer + "/oauth2/token",
		"revocation_endpoint":    e.issuer + "/oauth2/revoke",
		"introspection_endpoint": e.issuer + "/oauth2/introspect",
		"authorization_response_iss_parameter_supported": true,
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	has := func(k, v string) {
		for _, x := range m[k].([]any) {
			if x == v {
				return
			}
		}
		t.Errorf("%s lacks %q: %v", k, v, m[k])
	}
	has("code_challenge_methods_supported", "S256")
	has("token_endpoint_auth_methods_supported", "client_secret_basic")
	has("token_endpoint_auth_methods_supported", "client_secret_post")
	has("grant_types_supported", "client_credentials")
	has("scopes_supported", "profile:read")
	for _, x := range m["scopes_supported"].([]any) {
		if x == "admin" {
			t.Error("scopes_supported advertises the administrator-only admin scope")
		}
	}
	has("response_types_supported", "code")
	for _, x := range m["code_challenge_methods_supported"].([]any) {
		if x == "plain" {
			t.Error("plain advertised")
		}
	}
}

func TestAuthorizedApps(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		owner := e.user("owner@example.com")
		alice := e.user("alice@example.com")
		a := e.client(owner, oauth.NewClient{Name: "Budget Buddy"})
		b := e.browser()
		b.login(alice.Email)
		p := b.get(oauth.PathApps)
		if p.status != 200 || !strings.Contains(p.body, `id="apps-empty"`) {
			t.Fatalf("%d %.300s", p.status, p.body)
		}
		tok := e.codeFlow(b, a)
		p = b.get(oauth.PathApps)
		for _, want := range []string{"Budget Buddy", owner.Email, "See your name, email address", "/account/apps/" + a.ID + "/revoke"} {
			if !strings.Contains(p.body, want) {
				t.Errorf("apps page lacks %q", want)
			}
		}
		form := p.form(t, "/account/apps/"+a.ID+"/revoke")

		// Without the CSRF token: refused, nothing changes.
		res := b.post("/account/apps/"+a.ID+"/revoke", url.Values{})
		if res.status != http.StatusForbidden {
			t.Fatalf("%d", res.status)
		}
		if r := e.me(tok.AccessToken); r.status != 200 {
			t.Fatalf("%d", r.status)
		}

		res = b.post("/account/apps/"+a.ID+"/revoke", form)
		if res.status != 200 || res.url.Path != oauth.PathApps || !strings.Contains(res.body, "Access was revoked") || strings.Contains(res.body, "Budget Buddy") {
			t.Fatalf("%d %s %.300s", res.status, res.url, res.body)
		}
		if r := e.me(tok.AccessToken); r.status != 401 {
			t.Fatalf("access token after revoking the app: %d", r.status)
		}
		mustError(t, e.postForm(oauth.PathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, basicAuth(a.ID, a.secret)...), 400, "invalid_grant")
		// The consent is forgotten: the next request asks again.
		if p := b.get(authzURL("response_type", "code", "client_id", a.ID, "scope", "profile:read", "state", "s")); !isConsentPage(p) {
			t.Fatal("no consent page after revoking")
		}
		// Signed out: sent to sign in.
		if p := e.browser().get(oauth.PathApps); p.url.Path != "/login" {
			t.Fatalf("%s", p.url)
		}
	})
}
