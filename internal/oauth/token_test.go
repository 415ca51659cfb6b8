package oauth_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/store"
)

// codeFor runs the browser part and returns a fresh code and its verifier.
func (e *env) codeFor(b *browser, a *app, redirect string, pkce bool) (code, verifier string) {
	e.t.Helper()
	kv := []string{"response_type", "code", "client_id", a.ID, "scope", "profile:read", "state", "s"}
	if redirect != "" {
		kv = append(kv, "redirect_uri", redirect)
	}
	if pkce {
		verifier = oauth2.GenerateVerifier()
		kv = append(kv, "code_challenge", oauth2.S256ChallengeFromVerifier(verifier), "code_challenge_method", "S256")
	}
	q := b.authorize(authzURL(kv...))
	if q.Get("code") == "" {
		e.t.Fatalf("no code: %v", q)
	}
	return q.Get("code"), verifier
}

func TestCodeRedemptionErrors(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		owner := e.user("owner@example.com")
		alice := e.user("alice@example.com")
		a := e.client(owner, oauth.NewClient{RedirectURIs: []string{redirectURI, "https://app.example/two"}})
		other := e.client(owner, oauth.NewClient{Name: "Other"})
		b := e.browser()
		b.login(alice.Email)

		type tc struct {
			name  string
			setup func() url.Values // returns the token request (client a authenticates with Basic)
			auth  []string
			code  string
		}
		base := func(code, verifier string) url.Values {
			v := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}}
			if verifier != "" {
				v.Set("code_verifier", verifier)
			}
			return v
		}
		cases := []tc{
			{"wrong code_verifier", func() url.Values {
				c, _ := e.codeFor(b, a, redirectURI, true)
				return base(c, oauth2.GenerateVerifier())
			}, nil, "invalid_grant"},
			{"missing code_verifier", func() url.Values {
				c, _ := e.codeFor(b, a, redirectURI, true)
				return base(c, "")
			}, nil, "invalid_grant"},
			{"malformed code_verifier", func() url.Values {
				c, _ := e.codeFor(b, a, redirectURI, true)
				return base(c, "short")
			}, nil, "invalid_grant"},
			{"code_verifier without a challenge (downgrade)", func() url.Values {
				c, _ := e.codeFor(b, a, redirectURI, false)
				return base(c, oauth2.GenerateVerifier())
			}, nil, "invalid_grant"},
			{"different redirect_uri", func() url.Values {
				c, v := e.codeFor(b, a, redirectURI, true)
				r := base(c, v)
				r.Set("redirect_uri", "https://app.example/two")
				return r
			}, nil, "invalid_grant"},
			{"missing redirect_uri that the request had", func() url.Values {
				c, v := e.codeFor(b, a, redirectURI, true)
				r := base(c, v)
				r.Del("redirect_uri")
				return r
			}, nil, "invalid_grant"},
			{"code of another client", func() url.Values {
				c, v := e.codeFor(b, other, redirectURI, true)
				return base(c, v)
			}, nil, "invalid_grant"},
			{"expired code", func() url.Values {
				c, v := e.codeFor(b, a, redirectURI, true)
				e.clock.Advance(5*time.Minute + time.Millisecond)
				return base(c, v)
			}, nil, "invalid_grant"},
			{"unknown code", func() url.Values {
				c, v := e.codeFor(b, a, redirectURI, true)
				// Same shape, other random part: a real-looking code we never issued.
				return base(c[:10]+strings.Repeat("A", len(c)-10), v)
			}, nil, "invalid_grant"},
			{"malformed code", func() url.Values { return base("not-a-code", "") }, nil, "invalid_grant"},
			{"missing code", func() url.Values { return url.Values{"grant_type": {"authorization_code"}} }, nil, "invalid_request"},
			{"a refresh token as code", func() url.Values {
				tok := e.codeFlow(b, a)
				return base(tok.RefreshToken, "")
			}, nil, "invalid_grant"},
			{"code sent by a client without the grant", func() url.Values {
				c, v := e.codeFor(b, a, redirectURI, true)
				return base(c, v)
			}, []string{"cc"}, "unauthorized_client"},
		}
		cc := e.client(owner, oauth.NewClient{Name: "CC", GrantTypes: []string{oauth.GrantClientCredentials}})
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				form := c.setup()
				auth := basicAuth(a.ID, a.secret)
				if c.auth != nil {
					auth = basicAuth(cc.ID, cc.secret)
				}
				before := e.st.snapshot()
				r := e.postForm(oauth.PathToken, form, auth...)
				mustError(t, r, http.StatusBadRequest, c.code)
				if strings.Contains(string(r.body), "access_token") {
					t.Fatalf("token in an error: %s", r.body)
				}
				if after := e.st.snapshot(); after.tokens != before.tokens {
					t.Fatalf("issued tokens: %+v → %+v", before, after)
				}
				if r.header.Get("Cache-Control") != "no-store" {
					t.Fatal("error without no-store")
				}
			})
		}

		t.Run("code bound to PKCE works with the right verifier, only once", func(t *testing.T) {
			c, v := e.codeFor(b, a, redirectURI, true)
			if r := e.postForm(oauth.PathToken, base(c, v), basicAuth(a.ID, a.secret)...); r.status != 200 {
				t.Fatalf("%d %s", r.status, r.body)
			}
			mustError(t, e.postForm(oauth.PathToken, base(c, v), basicAuth(a.ID, a.secret)...), 400, "invalid_grant")
		})

		t.Run("code just before expiry", func(t *testing.T) {
			c, v := e.codeFor(b, a, redirectURI, true)
			e.clock.Advance(5*time.Minute - time.Second)
			if r := e.postForm(oauth.PathToken, base(c, v), basicAuth(a.ID, a.secret)...); r.status != 200 {
				t.Fatalf("%d %s", r.status, r.body)
			}
		})

		t.Run("app revoked between authorization and redemption", func(t *testing.T) {
			c, v := e.codeFor(b, a, redirectURI, true)
			if err := e.svc.RevokeApp(e.ctx, alice.ID, a.ID); err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(time.Millisecond)
			mustError(t, e.postForm(oauth.PathToken, base(c, v), basicAuth(a.ID, a.secret)...), 400, "invalid_grant")
		})
	})
}

// RFC 6749 §4.1.2: a second use fails AND revokes the tokens of the first.
func TestCodeReplayRevokesTokens(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		owner := e.user("owner@example.com")
		alice := e.user("alice@example.com")
		a := e.client(owner, oauth.NewClient{})
		b := e.browser()
		b.login(alice.Email)
		conf := *a.conf
		verifier := oauth2.GenerateVerifier()
		q := b.authorize(conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))
		tok, err := conf.Exchange(e.octx(), q.Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		if r := e.me(tok.AccessToken); r.status != 200 {
			t.Fatalf("first token: %d", r.status)
		}
		before := e.st.snapshot()
		_, err = conf.Exchange(e.octx(), q.Get("code"), oauth2.VerifierOption(verifier))
		assertRetrieveError(t, err, 400, "invalid_grant")
		if after := e.st.snapshot(); after.tokens != before.tokens {
			t.Fatal("the replay issued tokens")
		}
		r := e.me(tok.AccessToken)
		if r.status != http.StatusUnauthorized || !strings.Contains(r.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Fatalf("access token of a replayed code: %d %v", r.status, r.header)
		}
		_, err = conf.TokenSource(e.octx(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		assertRetrieveError(t, err, 400, "invalid_grant")
		if m := e.introspect(e.client(owner, oauth.NewClient{Name: "RS"}), tok.AccessToken); len(m) != 1 || m["active"] != false {
			t.Fatalf("introspection of a revoked token: %v", m)
		}
	})
}

// TestClientAuthentication is the client authentication matrix of the token
// endpoint: every failure is 401 invalid_client with a Basic challenge, and
// issues nothing.
func TestClientAuthentication(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		owner := e.user("owner@example.com")
		cc := e.client(owner, oauth.NewClient{Name: "CC", GrantTypes: []string{oauth.GrantClientCredentials}})
		pub := e.client(owner, oauth.NewClient{Name: "Pub", Public: true})
		off := e.client(owner, oauth.NewClient{Name: "Off", GrantTypes: []string{oauth.GrantClientCredentials}})
		if err := e.st.SetClientStatus(e.ctx, off.ID, store.ClientDisabled, e.clock.Now()); err != nil {
			t.Fatal(err)
		}
		pending := e.client(owner, oauth.NewClient{Name: "Pending", GrantTypes: []string{oauth.GrantClientCredentials}, Status: store.ClientPending})
		// A second, rotated-in secret works; an expired one does not.
		_, second, err := e.svc.AddClientSecret(e.ctx, cc.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		past := e.clock.Now().Add(-time.Minute)
		_, expired, err := e.svc.AddClientSecret(e.ctx, cc.ID, &past)
		if err != nil {
			t.Fatal(err)
		}
		grant := url.Values{"grant_type": {"client_credentials"}}
		with := func(kv ...string) url.Values {
			v := url.Values{"grant_type": {"client_credentials"}}
			for i := 0; i < len(kv); i += 2 {
				v.Add(kv[i], kv[i+1])
			}
			return v
		}
		ok := []struct {
			name string
			form url.Values
			auth []string
		}{
			{"client_secret_basic", grant, basicAuth(cc.ID, cc.secret)},
			{"client_secret_basic with matching client_id in body", with("client_id", cc.ID), basicAuth(cc.ID, cc.secret)},
			{"client_secret_post", with("client_id", cc.ID, "client_secret", cc.secret), nil},
			{"rotated second secret", grant, basicAuth(cc.ID, second)},
		}
		for _, c := range ok {
			t.Run("ok/"+c.name, func(t *testing.T) {
				r := e.postForm(oauth.PathToken, c.form, c.auth...)
				if r.status != 200 {
					t.Fatalf("%d %s", r.status, r.body)
				}
			})
		}
		bad := []struct {
			name string
			form url.Values
			auth []string
		}{
			{"no authentication", grant, nil},
			{"basic and post at once", with("client_id", cc.ID, "client_secret", cc.secret), basicAuth(cc.ID, cc.secret)},
			{"basic with another client_id in body", with("client_id", pub.ID), basicAuth(cc.ID, cc.secret)},
			{"wrong secret (basic)", grant, basicAuth(cc.ID, cc.secret+"x")},
			{"wrong secret (post)", with("client_id", cc.ID, "client_secret", "nope"), nil},
			{"empty secret (post)", with("client_id", cc.ID, "client_secret", ""), nil},
			{"another client's secret", grant, basicAuth(cc.ID, off.secret)},
			{"expired secret", grant, basicAuth(cc.ID, expired)},
			{"unknown client", grant, basicAuth("nobody", cc.secret)},
			{"confidential client without secret", with("client_id", cc.ID), nil},
			{"public client with a secret", with("client_id", pub.ID, "client_secret", "x"), nil},
			{"disabled client", grant, basicAuth(off.ID, off.secret)},
			{"bearer scheme", grant, []string{"Authorization", "Bearer " + cc.secret}},
			{"malformed basic", grant, []string{"Authorization", "Basic !!!"}},
			{"secret without client_id", with("client_secret", cc.secret), nil},
		}
		// An app that awaits review (or was rejected) authenticates, and is
		// told why it gets nothing: unauthorized_client, not invalid_client.
		rejected := e.client(owner, oauth.NewClient{Name: "Rejected", GrantTypes: []string{oauth.GrantClientCredentials}, Status: store.ClientRejected})
		for _, c := range []struct {
			name, id, secret, desc string
		}{
			{"pending", pending.ID, pending.secret, "awaits review"},
			{"rejected", rejected.ID, rejected.secret, "rejected at review"},
		} {
			t.Run("review/"+c.name, func(t *testing.T) {
				before := e.st.snapshot()
				r := e.postForm(oauth.PathToken, grant, basicAuth(c.id, c.secret)...)
				mustError(t, r, http.StatusBadRequest, "unauthorized_client")
				if !strings.Contains(string(r.body), c.desc) {
					t.Fatalf("description does not say %q: %s", c.desc, r.body)
				}
				if after := e.st.snapshot(); after != before {
					t.Fatalf("issued: %+v → %+v", before, after)
				}
			})
		}
		for _, c := range bad {
			t.Run("bad/"+c.name, func(t *testing.T) {
				before := e.st.snapshot()
				r := e.postForm(oauth.PathToken, c.form, c.auth...)
				mustError(t, r, http.StatusUnauthorized, "invalid_client")
				if ch := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(ch, `Basic realm="gatehouse"`) {
					t.Fatalf("WWW-Authenticate %q", ch)
				}
				if after := e.st.snapshot(); after != before {
					t.Fatalf("issued: %+v → %+v", before, after)
				}
			})
		}

		reqs := []struct {
			name   string
			do     func() *resp
			status int
			code   string
		}{
			{"unsupported grant_type", func() *resp {
				return e.postForm(oauth.PathToken, url.Values{"grant_type": {"password"}, "username": {"a"}, "password": {"b"}}, basicAuth(cc.ID, cc.secret)...)
			}, 400, "unsupported_grant_type"},
			{"implicit is no grant_type", func() *resp {
				return e.postForm(oauth.PathToken, url.Values{"grant_type": {"implicit"}}, basicAuth(cc.ID, cc.secret)...)
			}, 400, "unsupported_grant_type"},
			{"missing grant_type", func() *resp { return e.postForm(oauth.PathToken, url.Values{}, basicAuth(cc.ID, cc.secret)...) }, 400, "invalid_request"},
			{"grant not allowed for the client", func() *resp {
				return e.postForm(oauth.PathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}}, basicAuth(cc.ID, cc.secret)...)
			}, 400, "unauthorized_client"},
			{"duplicate parameter", func() *resp {
				return e.do("POST", oauth.PathToken, strings.NewReader("grant_type=client_credentials&grant_type=client_credentials"),
					append([]string{"Content-Type", "application/x-www-form-urlencoded"}, basicAuth(cc.ID, cc.secret)...)...)
			}, 400, "invalid_request"},
			{"JSON body", func() *resp {
				return e.do("POST", oauth.PathToken, strings.NewReader(`{"grant_type":"client_credentials"}`),
					append([]string{"Content-Type", "application/json"}, basicAuth(cc.ID, cc.secret)...)...)
			}, 400, "invalid_request"},
			{"parameters in the query string", func() *resp {
				return e.do("POST", oauth.PathToken+"?client_secret="+cc.secret, strings.NewReader("grant_type=client_credentials"),
					"Content-Type", "application/x-www-form-urlencoded", "Authorization", basicAuth(cc.ID, cc.secret)[1])
			}, 400, "invalid_request"},
			{"GET", func() *resp { return e.do("GET", oauth.PathToken+"?grant_type=client_credentials", nil) }, 405, ""},
		}
		for _, c := range reqs {
			t.Run("request/"+c.name, func(t *testing.T) {
				before := e.st.snapshot()
				mustError(t, c.do(), c.status, c.code)
				if after := e.st.snapshot(); after != before {
					t.Fatalf("issued: %+v → %+v", before, after)
				}
			})
		}
	})
}

func TestClientCredentials(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		owner := e.user("owner@example.com")
		a := e.client(owner, oauth.NewClient{GrantTypes: []string{oauth.GrantClientCredentials}})
		conf := clientcredentials.Config{ClientID: a.ID, ClientSecret: a.secret, TokenURL: e.issuer + oauth.PathToken}
		tok, err := conf.Token(e.octx())
		if err != nil {
			t.Fatal(err)
		}
		if tok.RefreshToken != "" || tok.TokenType != "Bearer" || tok.Extra("scope") != "profile:read tokens:read" {
			t.Fatalf("%+v scope=%v", tok, tok.Extra("scope"))
		}
		// The token acts as the client's owner.
		if st, email := profileOf(t, e, conf.TokenSource(e.octx())); st != 200 || email != owner.Email {
			t.Fatalf("%d %q", st, email)
		}
		// Narrowed scope.
		narrow := conf
		narrow.Scopes = []string{"profile:read"}
		nt, err := narrow.Token(e.octx())
		if err != nil || nt.Extra("scope") != "profile:read" {
			t.Fatalf("%v %v", err, nt)
		}
		if r := e.do("GET", scopeRoute, nil, bearer(nt.AccessToken)...); r.status != http.StatusForbidden {
			t.Fatalf("narrowed token on a tokens:read route: %d", r.status)
		}
		for _, sc := range [][]string{{"tokens:revoke"}, {"tokens:write"}, {"admin"}, {"profile:read", "nope"}} {
			wide := conf
			wide.Scopes = sc
			before := e.st.snapshot()
			_, err := wide.Token(e.octx())
			assertRetrieveError(t, err, 400, "invalid_scope")
			if e.st.snapshot() != before {
				t.Fatal("issued on invalid_scope")
			}
		}
		// A code-flow client may not use client_credentials.
		web := e.client(owner, oauth.NewClient{Name: "Web"})
		_, err = (&clientcredentials.Config{ClientID: web.ID, ClientSecret: web.secret, TokenURL: e.issuer + oauth.PathToken}).Token(e.octx())
		assertRetrieveError(t, err, 400, "unauthorized_client")
		// Disabling the client kills its tokens at once.
		if err := e.st.SetClientStatus(e.ctx, a.ID, store.ClientDisabled, e.clock.Now()); err != nil {
			t.Fatal(err)
		}
		if r := e.me(tok.AccessToken); r.status != http.StatusUnauthorized {
			t.Fatalf("token of a disabled client: %d", r.status)
		}
	})
}

func TestRefresh(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		owner := e.user("owner@example.com")
		alice := e.user("alice@example.com")
		a := e.client(owner, oauth.NewClient{})
		other := e.client(owner, oauth.NewClient{Name: "Other"})
		b := e.browser()
		b.login(alice.Email)
		refresh := func(c *app, rt string, kv ...string) *resp {
			v := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
			for i := 0; i < len(kv); i += 2 {
				v.Set(kv[i], kv[i+1])
			}
			return e.postForm(oauth.PathToken, v, basicAuth(c.ID, c.secret)...)
		}

		t.Run("narrowing, never widening", func(t *testing.T) {
			tok := e.codeFlow(b, a)
			r := refresh(a, tok.RefreshToken, "scope", "profile:read")
			if r.status != 200 {
				t.Fatalf("%d %s", r.status, r.body)
			}
			m := r.json(t)
			if m["scope"] != "profile:read" {
				t.Fatalf("narrowed scope %v", m["scope"])
			}
			if got := e.do("GET", scopeRoute, nil, bearer(m["access_token"].(string))...); got.status != http.StatusForbidden {
				t.Fatalf("narrowed access token on tokens:read: %d", got.status)
			}
			// The new refresh token keeps the original scope (RFC 6749 §6).
			r = refresh(a, m["refresh_token"].(string))
			if r.status != 200 || r.json(t)["scope"] != "profile:read tokens:read" {
				t.Fatalf("%d %s", r.status, r.body)
			}
			rt := r.json(t)["refresh_token"].(string)
			before := e.st.snapshot()
			mustError(t, refresh(a, rt, "scope", "profile:read tokens:revoke"), 400, "invalid_scope")
			mustError(t, refresh(a, rt, "scope", ""), 400, "invalid_scope")
			if e.st.snapshot() != before {
				t.Fatal("issued on invalid_scope")
			}
			// invalid_scope did not consume the token.
			if r := refresh(a, rt); r.status != 200 {
				t.Fatalf("%d %s", r.status, r.body)
			}
		})

		t.Run("errors", func(t *testing.T) {
			tok := e.codeFlow(b, a)
			before := e.st.snapshot()
			mustError(t, refresh(other, tok.RefreshToken), 400, "invalid_grant") // another client's
			mustError(t, refresh(a, tok.AccessToken), 400, "invalid_grant")      // an access token
			mustError(t, refresh(a, "gthr_nonsense"), 400, "invalid_grant")      // malformed
			mustError(t, refresh(a, ""), 400, "invalid_request")                 // missing
			if e.st.snapshot() != before {
				t.Fatal("issued on error")
			}
			// The refresh token survived the other client's attempt.
			if r := refresh(a, tok.RefreshToken); r.status != 200 {
				t.Fatalf("%d %s", r.status, r.body)
			}
		})

		t.Run("expired refresh token", func(t *testing.T) {
			tok := e.codeFlow(b, a)
			e.clock.Advance(oauth.DefaultRefreshTokenTTL + time.Second)
			mustError(t, refresh(a, tok.RefreshToken), 400, "invalid_grant")
		})

		t.Run("sliding expiry", func(t *testing.T) {
			b2 := e.browser()
			b2.login(alice.Email)
			rt := e.codeFlow(b2, a).RefreshToken
			for range 3 {
				e.clock.Advance(oauth.DefaultRefreshTokenTTL - time.Hour)
				r := refresh(a, rt)
				if r.status != 200 {
					t.Fatalf("%d %s", r.status, r.body)
				}
				rt = r.json(t)["refresh_token"].(string)
			}
		})

		t.Run("no refresh token without the grant", func(t *testing.T) {
			nr := e.client(owner, oauth.NewClient{Name: "NoRefresh", GrantTypes: []string{oauth.GrantAuthorizationCode}})
			b3 := e.browser()
			b3.login(alice.Email)
			if tok := e.codeFlow(b3, nr); tok.RefreshToken != "" {
				t.Fatal("refresh token issued to a client without the refresh_token grant")
			}
		})

		t.Run("password change ends refresh", func(t *testing.T) {
			b4 := e.browser()
			b4.login(alice.Email)
			tok := e.codeFlow(b4, a)
			e.clock.Advance(time.Second)
			if err := e.st.UpdatePassword(e.ctx, alice.ID, alice.PasswordHash, true, e.clock.Now()); err != nil {
				t.Fatal(err)
			}
			mustError(t, refresh(a, tok.RefreshToken), 400, "invalid_grant")
			if r := e.me(tok.AccessToken); r.status != http.StatusUnauthorized {
				t.Fatalf("%d", r.status)
			}
		})
	})
}
