package oauth_test

import (
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/apikey"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/pat"
	"github.com/gatehouse/gatehouse/internal/scope"
	"github.com/gatehouse/gatehouse/internal/store"
)

// ccToken obtains a client_credentials token for a with the given extra
// parameters (scope, resource…).
func (e *env) ccToken(a *app, params ...string) string {
	e.t.Helper()
	f := url.Values{"grant_type": {"client_credentials"}}
	for i := 0; i+1 < len(params); i += 2 {
		f.Add(params[i], params[i+1])
	}
	r := e.postForm(oauth.PathToken, f, basicAuth(a.ID, a.secret)...)
	if r.status != 200 {
		e.t.Fatalf("client_credentials %v: %d %s", params, r.status, r.body)
	}
	return r.json(e.t)["access_token"].(string)
}

// TestIntrospectionWhoMayLearn: every credential kind × every kind of
// introspecting client. A resource server learns about a credential only
// when it is meant for its API (audience, or scopes when there is no
// audience); any other client only about its own credentials.
func TestIntrospectionWhoMayLearn(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		owner := e.user("owner@example.com")
		app1 := e.client(owner, oauth.NewClient{Name: "Budget app",
			GrantTypes: []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken, oauth.GrantClientCredentials}})
		third := e.client(owner, oauth.NewClient{Name: "Third party", GrantTypes: []string{oauth.GrantClientCredentials}})
		cards := e.client(owner, oauth.NewClient{Name: "Cards API", ResourceServer: apiCards})
		ledger := e.client(owner, oauth.NewClient{Name: "Ledger API", ResourceServer: apiLedger})

		pt, err := e.pats.Create(e.ctx, pat.CreateRequest{UserID: owner.ID, Description: "script", Scopes: []string{scope.ProfileRead}})
		if err != nil {
			t.Fatal(err)
		}
		key, err := e.keys.Create(e.ctx, apikey.Actor{UserID: owner.ID}, apikey.CreateRequest{ClientID: app1.ID, Name: "ci", Scopes: []string{scope.ProfileRead}})
		if err != nil {
			t.Fatal(err)
		}
		b := e.browser()
		b.login(owner.Email)
		flow := e.codeFlow(b, app1)

		type want struct{ cards, ledger, own, third bool }
		cases := []struct {
			name, token, kind string
			aud               []string
			want              want
		}{
			{"PAT (profile:read)", pt.Token, "pat", nil, want{cards: true}},
			{"API key (profile:read)", key.Secret, "api_key", nil, want{cards: true, own: true}},
			{"access token, no audience, profile:read", e.ccToken(app1, "scope", "profile:read"), "access_token", nil, want{cards: true, own: true}},
			{"access token, no audience, both scopes", e.ccToken(app1), "access_token", nil, want{cards: true, ledger: true, own: true}},
			{"access token for cards", e.ccToken(app1, "resource", apiCards, "scope", "profile:read"), "access_token", []string{apiCards}, want{cards: true, own: true}},
			{"access token for ledger", e.ccToken(app1, "resource", apiLedger), "access_token", []string{apiLedger}, want{ledger: true, own: true}},
			{"code-flow access token", flow.AccessToken, "access_token", nil, want{cards: true, ledger: true, own: true}},
			{"refresh token", flow.RefreshToken, "refresh_token", nil, want{own: true}},
		}
		for _, c := range cases {
			for _, who := range []struct {
				name   string
				client *app
				active bool
			}{{"cards RS", cards, c.want.cards}, {"ledger RS", ledger, c.want.ledger}, {"own app", app1, c.want.own}, {"third-party app", third, c.want.third}} {
				m := e.introspect(who.client, c.token)
				if !who.active {
					if len(m) != 1 || m["active"] != false {
						t.Errorf("%s introspected by %s: %v, want only active=false", c.name, who.name, m)
					}
					continue
				}
				if m["active"] != true || m["credential_kind"] != c.kind || m["sub"] != owner.ID || m["iss"] != e.issuer ||
					m["username"] != owner.Email || m["iat"] == nil {
					t.Errorf("%s introspected by %s: %v", c.name, who.name, m)
				}
				var aud []string
				if raw, ok := m["aud"].([]any); ok {
					for _, a := range raw {
						aud = append(aud, a.(string))
					}
				}
				if !slices.Equal(aud, c.aud) {
					t.Errorf("%s: aud %v, want %v", c.name, aud, c.aud)
				}
			}
		}
		// Kind-specific members.
		if m := e.introspect(cards, key.Secret); m["client_id"] != app1.ID || m["scope"] != "profile:read" || m["exp"] != nil {
			t.Errorf("API key: %v", m)
		}
		if m := e.introspect(cards, pt.Token); m["client_id"] != nil || m["token_use"] != nil || m["jti"] == nil {
			t.Errorf("PAT: %v", m)
		}
	})
}

// TestIntrospectionEveryKindDiesTheSameWay: a disabled owner, a changed
// password, a disabled or deleted app, and a revoked credential make
// introspection inactive for every credential kind, exactly as the API
// refuses them. A PAT belongs to no app, so the app causes leave it alive.
func TestIntrospectionEveryKindDiesTheSameWay(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		admin := e.user("admin@example.com")
		rs := e.client(admin, oauth.NewClient{Name: "Cards API", ResourceServer: apiCards})
		type creds struct {
			owner   string
			app     *app
			byKind  map[string]string
			revoker map[string]func()
		}
		n := 0
		setup := func(t *testing.T) creds {
			n++
			email := "user" + string(rune('a'+n)) + "@example.com"
			u := e.user(email)
			a := e.client(u, oauth.NewClient{Name: "App of " + email,
				GrantTypes: []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken, oauth.GrantClientCredentials}})
			b := e.browser()
			b.login(email)
			flow := e.codeFlow(b, a)
			cc := e.ccToken(a)
			pt, err := e.pats.Create(e.ctx, pat.CreateRequest{UserID: u.ID, Description: "script", Scopes: []string{scope.ProfileRead}})
			if err != nil {
				t.Fatal(err)
			}
			key, err := e.keys.Create(e.ctx, apikey.Actor{UserID: u.ID}, apikey.CreateRequest{ClientID: a.ID, Name: "ci", Scopes: []string{scope.ProfileRead}})
			if err != nil {
				t.Fatal(err)
			}
			revokeToken := func(tok string) func() {
				return func() {
					if _, err := e.st.RevokeToken(e.ctx, e.hasher.Hash(tok), e.clock.Now()); err != nil {
						t.Fatal(err)
					}
				}
			}
			c := creds{owner: u.ID, app: a,
				byKind: map[string]string{"code-flow access token": flow.AccessToken, "client_credentials token": cc, "PAT": pt.Token, "API key": key.Secret},
				revoker: map[string]func(){
					"code-flow access token": revokeToken(flow.AccessToken), "client_credentials token": revokeToken(cc),
					"PAT": func() {
						if err := e.st.RevokePATByHash(e.ctx, e.hasher.Hash(pt.Token), e.clock.Now()); err != nil {
							t.Fatal(err)
						}
					},
					"API key": func() {
						if err := e.st.RevokeAPIKeyByHash(e.ctx, e.hasher.Hash(key.Secret), e.clock.Now()); err != nil {
							t.Fatal(err)
						}
					},
				}}
			for kind, tok := range c.byKind {
				if m := e.introspect(rs, tok); m["active"] != true {
					t.Fatalf("fresh %s inactive: %v", kind, m)
				}
			}
			e.clock.Advance(time.Millisecond)
			return c
		}
		causes := []struct {
			name     string
			apply    func(t *testing.T, c creds, kind string)
			patLives bool
		}{
			{"owner disabled", func(t *testing.T, c creds, _ string) {
				if err := e.st.SetDisabled(e.ctx, c.owner, true, e.clock.Now()); err != nil {
					t.Fatal(err)
				}
			}, false},
			{"password changed", func(t *testing.T, c creds, _ string) {
				if err := e.st.UpdatePassword(e.ctx, c.owner, "new-hash", true, e.clock.Now()); err != nil {
					t.Fatal(err)
				}
			}, false},
			{"app disabled", func(t *testing.T, c creds, _ string) {
				if err := e.st.SetClientStatus(e.ctx, c.app.ID, store.ClientDisabled, e.clock.Now()); err != nil {
					t.Fatal(err)
				}
			}, true},
			{"app deleted", func(t *testing.T, c creds, _ string) {
				if err := e.st.DeleteClient(e.ctx, c.app.ID); err != nil {
					t.Fatal(err)
				}
			}, true},
			{"credential revoked", func(t *testing.T, c creds, kind string) { c.revoker[kind]() }, false},
		}
		for _, cause := range causes {
			t.Run(cause.name, func(t *testing.T) {
				c := setup(t)
				for _, kind := range []string{"code-flow access token", "client_credentials token", "PAT", "API key"} {
					if cause.name == "credential revoked" || kind == "code-flow access token" {
						// Per-credential causes apply to each kind in turn;
						// account and app causes once (on the first kind).
						cause.apply(t, c, kind)
					}
				}
				for kind, tok := range c.byKind {
					m := e.introspect(rs, tok)
					want := kind == "PAT" && cause.patLives
					if got := m["active"] == true; got != want {
						t.Errorf("%s after %s: active=%v, want %v (%v)", kind, cause.name, got, want, m)
					}
					// The API agrees with introspection.
					if r := e.me(tok); (r.status == 200) != want {
						t.Errorf("%s after %s: GET /v0/me %d", kind, cause.name, r.status)
					}
				}
			})
		}
	})
}

// TestResourceParameter: RFC 8707 resource at the token and authorization
// endpoints.
func TestResourceParameter(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		owner := e.user("owner@example.com")
		a := e.client(owner, oauth.NewClient{Name: "Budget app",
			GrantTypes: []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken, oauth.GrantClientCredentials}})
		cards := e.client(owner, oauth.NewClient{Name: "Cards API", ResourceServer: apiCards})
		ledger := e.client(owner, oauth.NewClient{Name: "Ledger API", ResourceServer: apiLedger})

		t.Run("invalid_target", func(t *testing.T) {
			for _, res := range []string{"cards", "/api", "https://cards.example/api#frag", "https://unknown.example/api",
				"http://[::1", apiCards + "/", ""} {
				f := url.Values{"grant_type": {"client_credentials"}, "resource": {res}}
				mustError(t, e.postForm(oauth.PathToken, f, basicAuth(a.ID, a.secret)...), 400, "invalid_target")
			}
			// One bad resource among good ones spoils the request.
			f := url.Values{"grant_type": {"client_credentials"}, "resource": {apiCards, "https://unknown.example"}}
			mustError(t, e.postForm(oauth.PathToken, f, basicAuth(a.ID, a.secret)...), 400, "invalid_target")
		})
		t.Run("scope must belong to the resource", func(t *testing.T) {
			f := url.Values{"grant_type": {"client_credentials"}, "resource": {apiLedger}, "scope": {"profile:read"}}
			mustError(t, e.postForm(oauth.PathToken, f, basicAuth(a.ID, a.secret)...), 400, "invalid_scope")
			// Without scope, the token gets the app's scopes of that API only.
			if m := e.introspect(ledger, e.ccToken(a, "resource", apiLedger)); m["scope"] != "tokens:read" {
				t.Fatalf("default scopes for ledger: %v", m)
			}
		})
		t.Run("resource server cannot obtain tokens", func(t *testing.T) {
			mustError(t, e.postForm(oauth.PathToken, url.Values{"grant_type": {"client_credentials"}}, basicAuth(cards.ID, cards.secret)...), 400, "unauthorized_client")
		})
		t.Run("authorization code", func(t *testing.T) {
			b := e.browser()
			b.login(owner.Email)
			conf := *a.conf
			conf.Scopes = []string{"profile:read"}
			verifier := oauth2.GenerateVerifier()
			q := b.authorize(conf.AuthCodeURL("st-1", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("resource", apiCards)))
			if q.Get("code") == "" {
				t.Fatalf("authorization response: %v", q)
			}
			// The token endpoint may not widen the audience.
			_, err := conf.Exchange(e.octx(), q.Get("code"), oauth2.VerifierOption(verifier), oauth2.SetAuthURLParam("resource", apiLedger))
			if err == nil || !strings.Contains(err.Error(), "invalid_target") {
				t.Fatalf("exchange for another resource: %v", err)
			}
			q = b.authorize(conf.AuthCodeURL("st-1", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("resource", apiCards)))
			tok, err := conf.Exchange(e.octx(), q.Get("code"), oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatal(err)
			}
			if m := e.introspect(cards, tok.AccessToken); m["active"] != true {
				t.Fatalf("token for cards at cards: %v", m)
			}
			if m := e.introspect(ledger, tok.AccessToken); m["active"] != false {
				t.Fatalf("token for cards at ledger: %v", m)
			}
			// Refreshing keeps the audience; a resource outside it is refused.
			r := e.postForm(oauth.PathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "resource": {apiLedger}}, basicAuth(a.ID, a.secret)...)
			mustError(t, r, 400, "invalid_target")
			r = e.postForm(oauth.PathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, basicAuth(a.ID, a.secret)...)
			at := r.json(t)["access_token"].(string)
			if m := e.introspect(cards, at); m["active"] != true || m["aud"] == nil {
				t.Fatalf("refreshed token at cards: %v", m)
			}
			// Unknown resource at the authorization endpoint: redirected
			// invalid_target.
			q = b.authorize(conf.AuthCodeURL("st-1", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("resource", "https://unknown.example")))
			if q.Get("error") != "invalid_target" || q.Get("state") != "st-1" {
				t.Fatalf("unknown resource at authorize: %v", q)
			}
			q = b.authorize(conf.AuthCodeURL("st-1", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("resource", apiLedger)))
			if q.Get("error") != "invalid_scope" {
				t.Fatalf("profile:read for ledger at authorize: %v", q)
			}
		})
	})
}
